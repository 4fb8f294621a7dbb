//! Which parts of a search hit to highlight, and the excerpt a result row shows. Pure, so it is
//! host-tested; the UI renders each part as text (a `<mark>` for matches), never as HTML.

/// The pieces of a query to look for, the way the server matches them (docs/API.md,
/// `GET /api/search`): runs of letters and digits, or, when the query has CJK characters,
/// whitespace-separated pieces. Lower-cased.
pub fn needles(q: &str) -> Vec<Vec<char>> {
    let lower: String = q.chars().flat_map(char::to_lowercase).collect();
    let pieces: Vec<&str> = if lower.chars().any(is_cjk) {
        lower.split_whitespace().collect()
    } else {
        lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect()
    };
    pieces.into_iter().map(|p| p.chars().collect()).collect()
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x2E80..=0x9FFF | 0xA960..=0xA97F | 0xAC00..=0xD7FF
        | 0xF900..=0xFAFF | 0xFF66..=0xFF9F | 0x20000..=0x3FFFF)
}

/// `text` cut into runs, `true` for the runs that match a piece of `q` (ignoring case).
pub fn marked(text: &str, q: &str) -> Vec<(String, bool)> {
    let chars: Vec<char> = text.chars().collect();
    // One lower-case char per char of the text, so positions line up.
    let lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let mut hit = vec![false; chars.len()];
    for n in needles(q) {
        if n.is_empty() || n.len() > lower.len() {
            continue;
        }
        for start in 0..=lower.len() - n.len() {
            if lower[start..start + n.len()] == n[..] {
                hit[start..start + n.len()]
                    .iter_mut()
                    .for_each(|h| *h = true);
            }
        }
    }
    let mut out: Vec<(String, bool)> = Vec::new();
    for (c, h) in chars.into_iter().zip(hit) {
        match out.last_mut() {
            Some((s, last)) if *last == h => s.push(c),
            _ => out.push((c.to_string(), h)),
        }
    }
    out
}

/// At most about `max` characters of `text` around its first match, with "…" where it was cut.
pub fn excerpt(text: &str, q: &str, max: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= max {
        return text.to_string();
    }
    let first = marked(text, q)
        .iter()
        .take_while(|(_, h)| !h)
        .map(|(s, _)| s.chars().count())
        .sum::<usize>();
    let first = if first >= chars.len() { 0 } else { first };
    // A little context before the match, the rest after it.
    let start = first.saturating_sub(max / 4).min(chars.len() - max);
    let end = start + max;
    let mut s = String::new();
    if start > 0 {
        s.push('…');
    }
    s.extend(&chars[start..end]);
    if end < chars.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(text: &str, q: &str) -> Vec<String> {
        marked(text, q)
            .into_iter()
            .filter(|(_, h)| *h)
            .map(|(s, _)| s)
            .collect()
    }

    #[test]
    fn words_match_ignoring_case_and_rejoin_to_the_text() {
        let text = "The Quick brown fox, quickly";
        assert_eq!(marks(text, "quick FO"), ["Quick", "fo", "quick"]);
        let joined: String = marked(text, "quick").into_iter().map(|(s, _)| s).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn query_syntax_is_text_and_punctuation_alone_marks_nothing() {
        assert_eq!(marks("50% off \"now\"", "\"now\" *"), ["now"]);
        assert!(marks("a % b", "%").is_empty());
        assert!(marks("", "x").is_empty());
    }

    #[test]
    fn cjk_queries_match_pieces_anywhere() {
        assert_eq!(marks("这是秘密计划的一部分", "秘密 部分"), ["秘密", "部分"]);
        assert_eq!(marks("完成50%了", "50%了"), ["50%了"]);
    }

    #[test]
    fn excerpts_keep_the_first_match_in_view() {
        let long = format!("{} needle {}", "a ".repeat(200), "b ".repeat(200));
        let e = excerpt(&long, "needle", 60);
        assert!(e.contains("needle"), "{e}");
        assert!(e.starts_with('…') && e.ends_with('…'));
        assert_eq!(excerpt("short", "x", 60), "short");
        // No match at all (the hit matched a word the text splits differently): the start.
        let e = excerpt(&long, "zzz", 60);
        assert!(e.starts_with("a a") && e.ends_with('…'));
    }
}
