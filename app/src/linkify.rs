//! Links in message text: the text split into plain runs and web addresses, so the view can
//! render addresses as anchors and everything else as text. Never HTML: the view puts each run
//! in a text node or an `href`, so nothing in a message can become markup. Pure, host-tested.

/// A run of a message's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    Text(String),
    /// An `http://` or `https://` address, as written (it is also the link's target).
    Link(String),
}

/// Characters that end an address when they are its last: sentence punctuation after a link
/// ("see https://example.com/a.") belongs to the sentence.
const TRAILING: &[char] = &[
    '.', ',', ';', ':', '!', '?', '\'', '"', '。', '，', '；', '：', '！', '？', '、',
];

fn link_len(s: &str) -> usize {
    // Up to whitespace, a quote or an angle bracket — or any non-ASCII character (a Chinese
    // sentence often follows an address with no space; non-ASCII in an address is rare and
    // percent-encoded when copied from a browser).
    let mut end = s
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || !c.is_ascii() || matches!(c, '<' | '>' | '"' | '`'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    loop {
        let body = &s[..end];
        let Some(last) = body.chars().last() else {
            break;
        };
        // A closing parenthesis belongs to the address only if it opened one.
        let unbalanced_paren = last == ')' && body.matches('(').count() < body.matches(')').count();
        if TRAILING.contains(&last) || unbalanced_paren {
            end -= last.len_utf8();
        } else {
            break;
        }
    }
    end
}

/// Splits `text` into runs; adjacent text stays one run.
pub fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let lower = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
        let scheme = if lower.starts_with("https://") {
            8
        } else if lower.starts_with("http://") {
            7
        } else {
            0
        };
        // An address starts a word: "xhttp://" is not one. (Chinese runs straight into an
        // address with no space, so only ASCII letters and digits count.)
        let at_word_start = plain
            .chars()
            .last()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        if scheme > 0 && at_word_start {
            let len = link_len(rest);
            if len > scheme {
                if !plain.is_empty() {
                    out.push(Run::Text(std::mem::take(&mut plain)));
                }
                out.push(Run::Link(rest[..len].to_string()));
                rest = &rest[len..];
                continue;
            }
        }
        let c = rest.chars().next().expect("not empty");
        plain.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !plain.is_empty() {
        out.push(Run::Text(plain));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Run {
        Run::Text(s.into())
    }
    fn l(s: &str) -> Run {
        Run::Link(s.into())
    }

    #[test]
    fn addresses_become_links_and_the_rest_stays_text() {
        assert_eq!(runs("no links here"), vec![t("no links here")]);
        assert_eq!(
            runs("see https://example.com/a?b=1#c, ok"),
            vec![t("see "), l("https://example.com/a?b=1#c"), t(", ok")]
        );
        assert_eq!(runs("http://x.io"), vec![l("http://x.io")]);
        assert_eq!(runs("HTTPS://X.IO/Path"), vec![l("HTTPS://X.IO/Path")]);
    }

    #[test]
    fn sentence_punctuation_and_chinese_text_are_not_part_of_the_address() {
        assert_eq!(
            runs("看这个https://example.com/x。很好"),
            vec![t("看这个"), l("https://example.com/x"), t("。很好")]
        );
        assert_eq!(
            runs("(https://a.io/b)"),
            vec![t("("), l("https://a.io/b"), t(")")]
        );
        assert_eq!(
            runs("https://en.wikipedia.org/wiki/Rust_(language)!"),
            vec![l("https://en.wikipedia.org/wiki/Rust_(language)"), t("!")]
        );
    }

    #[test]
    fn markup_and_other_schemes_stay_text() {
        assert_eq!(
            runs("<a href=\"javascript:alert(1)\">x</a>"),
            vec![t("<a href=\"javascript:alert(1)\">x</a>")]
        );
        assert_eq!(runs("javascript:alert(1)"), vec![t("javascript:alert(1)")]);
        assert_eq!(runs("https://"), vec![t("https://")]);
        assert_eq!(runs("xhttps://a.io"), vec![t("xhttps://a.io")]);
        // An address ends at a quote or bracket: no attribute can be smuggled in.
        assert_eq!(
            runs("https://a.io/\"onmouseover=x"),
            vec![l("https://a.io/"), t("\"onmouseover=x")]
        );
    }
}
