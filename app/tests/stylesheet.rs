//! style/main.css is one flat list of rules (and `@media` blocks of rules). A rule left open
//! swallows every rule after it: browsers read them as nested rules that match nothing, and the
//! page silently loses its styles (the notification banner, the mute button and the form errors
//! once went unstyled that way). This checks the sheet's block structure.

/// What is wrong with the sheet's blocks, one line each.
fn structure_errors(css: &str) -> Vec<String> {
    let mut errors = Vec::new();
    // (line where the block opens, whether it is an at-rule, whether a rule inside it was reported)
    let mut stack: Vec<(usize, bool, bool)> = Vec::new();
    let mut prelude = String::new();
    let mut line = 1;
    let mut chars = css.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                prelude.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                    }
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' | '\'' => {
                for s in chars.by_ref() {
                    if s == c {
                        break;
                    }
                }
            }
            '{' => {
                let at_rule = prelude.trim_start().starts_with('@');
                if let Some((opened, false, reported @ false)) = stack.last_mut() {
                    errors.push(format!(
                        "line {line}: a rule inside the style rule opened on line {opened} (is a `}}` missing there?)"
                    ));
                    *reported = true;
                }
                stack.push((line, at_rule, false));
                prelude.clear();
            }
            '}' => {
                if stack.pop().is_none() {
                    errors.push(format!("line {line}: `}}` closes nothing"));
                }
                prelude.clear();
            }
            ';' => prelude.clear(),
            c => prelude.push(c),
        }
    }
    for (opened, _, _) in stack {
        errors.push(format!("line {opened}: this block is never closed"));
    }
    errors
}

#[test]
fn every_rule_of_the_stylesheet_is_closed_before_the_next_begins() {
    let css = include_str!("../../style/main.css");
    let errors = structure_errors(css);
    assert!(errors.is_empty(), "style/main.css:\n{}", errors.join("\n"));
}

#[test]
fn the_check_finds_an_unclosed_rule() {
    let broken = ".a {\n  color: red;\n.b {\n  color: blue;\n}\n";
    let errors = structure_errors(broken);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("line 3"), "{errors:?}");
    assert!(errors[1].contains("line 1"), "{errors:?}");
    let media = "@media (max-width: 720px) {\n  .a { color: red; }\n}\n";
    assert!(structure_errors(media).is_empty());
}
