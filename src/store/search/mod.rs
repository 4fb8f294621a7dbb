//! What a message search means, decided once for every backend (`MessageStore::search`).
//!
//! The text `q` is split into **words**: runs of characters that are Unicode alphanumerics and
//! token characters of SQLite's FTS5 `unicode61` tokenizer (see [`separators`]). A message
//! matches when it contains every word as a whole token, except the last word, which may be a
//! token's prefix. Tokens are found the same way on both backends: SQLite's full-text index uses
//! `unicode61` itself, and PostgreSQL's search document first turns every `unicode61` separator
//! into a space (migrations/postgres/0003_message_search.sql). Both fold letter case.
//!
//! Neither tokenizer finds words in Chinese, Japanese or Korean text, so when `q` holds a CJK
//! character the query is instead a list of **substrings** (`q` split at whitespace), each of
//! which must occur in the text (LIKE, with `%`, `_` and `\` escaped). Substrings of three or
//! more characters are first looked up in a trigram index (SQLite: an FTS5 `trigram` table;
//! PostgreSQL: a GIN index on the text's trigrams, migrations/*/0006), which yields the messages
//! holding all their trigrams; LIKE then decides on those candidates only. Shorter substrings
//! have no trigram: a query made only of them tests the viewer's messages newest first, bounded
//! by the search deadline (http/search_limits).
//!
//! User input reaches the engines only as quoted tokens or escaped LIKE patterns, never as
//! query syntax.

mod separators;

/// The most characters a query may have (after trimming); the client uses the same constant.
pub use app::model::MAX_SEARCH_QUERY_CHARS as MAX_QUERY_CHARS;
/// The most words or substrings a query may have (the client uses the same constant).
pub use app::model::MAX_SEARCH_QUERY_PIECES as MAX_QUERY_PIECES;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchQuery {
    /// Every word must match a token; the last one may match a token's prefix.
    Words(Vec<String>),
    /// Every substring must occur in the text.
    Substrings(Vec<String>),
}

/// The page of a search that fetched `limit + 1` hits, newest first: the extra hit only says
/// that more exist, and the last kept hit is the next page's `before` cursor.
pub(crate) fn page_of(mut hits: Vec<app::model::Message>, limit: i64) -> app::model::SearchPage {
    let next_before = if hits.len() as i64 > limit {
        hits.truncate(limit as usize);
        hits.last().map(|m| m.id)
    } else {
        None
    };
    app::model::SearchPage { hits, next_before }
}

impl SearchQuery {
    /// Parses an already trimmed query.
    pub fn parse(q: &str) -> SearchQuery {
        if q.chars().any(is_cjk) {
            return SearchQuery::Substrings(q.split_whitespace().map(str::to_string).collect());
        }
        SearchQuery::Words(
            q.split(|c: char| !is_word_char(c))
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    /// True when nothing can match (no word at all, e.g. `q` is only punctuation).
    pub fn is_empty(&self) -> bool {
        match self {
            SearchQuery::Words(w) | SearchQuery::Substrings(w) => w.is_empty(),
        }
    }

    /// The FTS5 MATCH expression: every word as a quoted string (`"` doubled), the last with
    /// `*`; FTS5 joins them with AND. `None` for substring queries.
    pub(crate) fn fts5_match(&self) -> Option<String> {
        let SearchQuery::Words(words) = self else {
            return None;
        };
        let mut out = String::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push('"');
            out.push_str(&w.replace('"', "\"\""));
            out.push('"');
        }
        out.push('*');
        Some(out)
    }

    /// The PostgreSQL `to_tsquery` text: every word as a quoted lexeme (`'` doubled, `\`
    /// escaped), joined with `&`, the last with the prefix marker `:*`. `None` for substring
    /// queries.
    pub(crate) fn tsquery(&self) -> Option<String> {
        let SearchQuery::Words(words) = self else {
            return None;
        };
        let quoted: Vec<String> = words
            .iter()
            .map(|w| format!("'{}'", w.replace('\\', "\\\\").replace('\'', "''")))
            .collect();
        Some(format!("{}:*", quoted.join(" & ")))
    }

    /// How many words or substrings the query has (at most [`MAX_QUERY_PIECES`] are served).
    pub fn pieces(&self) -> usize {
        match self {
            SearchQuery::Words(w) | SearchQuery::Substrings(w) => w.len(),
        }
    }

    /// The substrings a trigram index can look up: those of three or more characters.
    pub(crate) fn trigram_pieces(&self) -> Vec<&str> {
        let SearchQuery::Substrings(parts) = self else {
            return Vec::new();
        };
        parts
            .iter()
            .filter(|p| p.chars().count() >= 3)
            .map(String::as_str)
            .collect()
    }

    /// The MATCH expression for SQLite's FTS5 `trigram` table: every substring of three or more
    /// characters as a quoted string (`"` doubled), i.e. a phrase of its trigrams, joined with
    /// AND. `None` when there is none (word queries, or only short substrings).
    pub(crate) fn trigram_match(&self) -> Option<String> {
        let pieces = self.trigram_pieces();
        if pieces.is_empty() {
            return None;
        }
        let quoted: Vec<String> = pieces
            .iter()
            .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
            .collect();
        Some(quoted.join(" "))
    }

    /// LIKE patterns (escape character `\`) for substring queries; empty for word queries.
    pub(crate) fn like_patterns(&self) -> Vec<String> {
        let SearchQuery::Substrings(parts) = self else {
            return Vec::new();
        };
        parts
            .iter()
            .map(|p| {
                let escaped = p
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{escaped}%")
            })
            .collect()
    }
}

/// A character a word may hold: a Unicode alphanumeric that `unicode61` does not separate.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_separator(c)
}

/// True when SQLite's `unicode61` tokenizer treats `c` as a separator.
fn is_separator(c: char) -> bool {
    let c = c as u32;
    separators::SEPARATORS
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Han ideographs, kana, Hangul and Bopomofo: scripts written without spaces between words (or,
/// for Korean, with particles attached to them), which neither tokenizer splits into words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF // Hangul Jamo
        | 0x2E80..=0x2FDF // CJK and Kangxi radicals
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3100..=0x312F // Bopomofo
        | 0x3130..=0x318F // Hangul compatibility Jamo
        | 0x31A0..=0x31BF // Bopomofo extended
        | 0x31F0..=0x31FF // Katakana phonetic extensions
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xA960..=0xA97F // Hangul Jamo extended A
        | 0xAC00..=0xD7FF // Hangul syllables, Jamo extended B
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xFF66..=0xFFDC // halfwidth Katakana and Hangul
        | 0x1B000..=0x1B16F // Kana supplement and extensions
        | 0x20000..=0x3134F // CJK extensions B to G
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(q: &str) -> Vec<String> {
        match SearchQuery::parse(q) {
            SearchQuery::Words(w) => w,
            other => panic!("{q:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn words_are_alphanumeric_runs() {
        assert_eq!(words("Hello, world"), ["Hello", "world"]);
        assert_eq!(words("alice@example.com"), ["alice", "example", "com"]);
        assert_eq!(
            words("3.14 don’t “quoted”"),
            ["3", "14", "don", "t", "quoted"]
        );
        assert_eq!(words("Привет-мир café"), ["Привет", "мир", "café"]);
        assert_eq!(words("foo_bar 🥰x"), ["foo", "bar", "x"]);
        assert!(words("\" * % _ ' ( ) :").is_empty());
        assert!(SearchQuery::parse("%%").is_empty());
    }

    #[test]
    fn query_syntax_never_reaches_the_engines() {
        let q = SearchQuery::parse(r#"NEAR(a "b" c*) x' OR 1=1 --"#);
        assert_eq!(
            q.fts5_match().unwrap(),
            r#""NEAR" "a" "b" "c" "x" "OR" "1" "1"*"#
        );
        assert_eq!(
            q.tsquery().unwrap(),
            "'NEAR' & 'a' & 'b' & 'c' & 'x' & 'OR' & '1' & '1':*"
        );
        assert!(q.like_patterns().is_empty());
    }

    #[test]
    fn cjk_queries_are_escaped_substrings() {
        let q = SearchQuery::parse(r"完成 50%_\了");
        assert_eq!(
            q,
            SearchQuery::Substrings(vec!["完成".into(), r"50%_\了".into()])
        );
        assert_eq!(q.like_patterns(), ["%完成%", r"%50\%\_\\了%"]);
        assert_eq!(q.fts5_match(), None);
        assert_eq!(q.tsquery(), None);
        assert!(matches!(
            SearchQuery::parse("안녕하세요"),
            SearchQuery::Substrings(_)
        ));
        assert!(matches!(
            SearchQuery::parse("カタカナ abc"),
            SearchQuery::Substrings(_)
        ));
    }

    #[test]
    fn only_substrings_of_three_or_more_characters_reach_the_trigram_index() {
        // The first is a phrase of two trigrams, the third's quote is doubled; 的 and 乙x are
        // too short to have a trigram and are left to LIKE.
        let q = SearchQuery::parse(r#"的的乙x 的 乙x 引"号"#);
        assert_eq!(q.pieces(), 4);
        assert_eq!(q.trigram_pieces(), ["的的乙x", r#"引"号"#]);
        assert_eq!(q.trigram_match().unwrap(), r#""的的乙x" "引""号""#);
        assert_eq!(SearchQuery::parse("的 乙").trigram_match(), None);
        assert_eq!(SearchQuery::parse("three words here").trigram_match(), None);
        assert_eq!(SearchQuery::parse("three words here").pieces(), 3);
    }

    #[test]
    fn separator_table_is_sorted_and_disjoint() {
        for pair in separators::SEPARATORS.windows(2) {
            assert!(
                pair[0].0 <= pair[0].1 && pair[0].1 + 1 < pair[1].0,
                "{pair:?}"
            );
        }
    }

    /// Every code point, tokenized by the bundled SQLite's `unicode61`: a separator gives no
    /// token. The table must say the same.
    #[test]
    fn separator_table_matches_the_bundled_sqlite() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 0');
             CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');
             BEGIN;",
        )
        .unwrap();
        {
            let mut insert = db.prepare("INSERT INTO t(rowid, x) VALUES (?, ?)").unwrap();
            for c in (1..=0x10FFFF).filter_map(char::from_u32) {
                insert
                    .execute(rusqlite::params![c as u32, c.to_string()])
                    .unwrap();
            }
        }
        db.execute_batch("COMMIT").unwrap();
        let mut token = vec![false; 0x110000];
        let mut docs = db.prepare("SELECT doc FROM v").unwrap();
        let mut rows = docs.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            token[row.get::<_, i64>(0).unwrap() as usize] = true;
        }
        let wrong: Vec<String> = (1..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| is_separator(c) == token[c as usize])
            .take(20)
            .map(|c| format!("U+{:04X}", c as u32))
            .collect();
        assert!(
            wrong.is_empty(),
            "the table disagrees with SQLite on {wrong:?}"
        );
    }

    /// PostgreSQL's search document replaces exactly the table's separators.
    #[test]
    fn postgres_class_matches_the_table() {
        let sql = include_str!("../../../migrations/postgres/0003_message_search.sql");
        let start = sql.find("'[\\u0001").expect("the separator class") + 2;
        let end = start + sql[start..].find("]+'").unwrap();
        let mut points = Vec::new();
        let mut rest = &sql[start..end];
        while !rest.is_empty() {
            let (len, radix_len) = match &rest[..2] {
                "\\u" => (6, 4),
                "\\U" => (10, 8),
                "-\\" => {
                    points.push(u32::MAX); // a range marker
                    rest = &rest[1..];
                    continue;
                }
                other => panic!("unexpected {other:?} in the class"),
            };
            points.push(u32::from_str_radix(&rest[2..2 + radix_len], 16).unwrap());
            rest = &rest[len..];
        }
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < points.len() {
            if points.get(i + 1) == Some(&u32::MAX) {
                ranges.push((points[i], points[i + 2]));
                i += 3;
            } else {
                ranges.push((points[i], points[i]));
                i += 1;
            }
        }
        assert_eq!(ranges, separators::SEPARATORS);
    }
}
