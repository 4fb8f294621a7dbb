//! The input rules the server enforces and the client checks before sending, in one place, so
//! the two cannot disagree. Pure (no browser, no server tables): the server adds what needs its
//! own data (the common-password list, Unicode format characters) and reports those with the
//! same [`Rule`] names, which the client maps to its own text.
//!
//! A broken rule is answered as `422 invalid_input` with `field` and `rule` (docs/API.md §2).

use crate::model::{
    DISPLAY_NAME_MAX, GROUP_TITLE_MAX, MAX_CONTENT_CHARS, PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX,
    USERNAME_MIN,
};

/// Which rule a value breaks: the `rule` of a validation error (docs/API.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Empty (or only spaces).
    Required,
    /// Too short or too long (in characters).
    Length,
    /// A character outside the allowed set (usernames: letters, digits, `_`, `-`, `.`).
    Charset,
    /// A password that is among the most common ones, or equal to the username.
    Common,
    /// Contains control characters.
    ControlChars,
    /// Contains invisible formatting characters (bidi overrides, zero-width characters).
    FormatChars,
    /// A number outside its range (`limit`, `before`, `seq`).
    Range,
    /// Too many or too few items in a list (`member_ids`, `message_ids`).
    Count,
    /// The request names the caller where another user is needed (a conversation with yourself).
    NotSelf,
    /// An id that names nothing (an unknown user in `member_ids`).
    Unknown,
    /// Anything else about the value's form (`client_msg_id` with spaces).
    Format,
}

impl Rule {
    pub const ALL: [Rule; 11] = [
        Rule::Required,
        Rule::Length,
        Rule::Charset,
        Rule::Common,
        Rule::ControlChars,
        Rule::FormatChars,
        Rule::Range,
        Rule::Count,
        Rule::NotSelf,
        Rule::Unknown,
        Rule::Format,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::Length => "length",
            Rule::Charset => "charset",
            Rule::Common => "common",
            Rule::ControlChars => "control_chars",
            Rule::FormatChars => "format_chars",
            Rule::Range => "range",
            Rule::Count => "count",
            Rule::NotSelf => "not_self",
            Rule::Unknown => "unknown",
            Rule::Format => "format",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A username for registration (already trimmed): 3–32 of `A–Z a–z 0–9 _ - .`.
pub fn username(u: &str) -> Result<(), Rule> {
    if u.is_empty() {
        return Err(Rule::Required);
    }
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&chars(u)) {
        return Err(Rule::Length);
    }
    if !u
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return Err(Rule::Charset);
    }
    Ok(())
}

/// A new password: 8–128 characters, not the username (ignoring case). The server also refuses
/// the most common passwords (the same [`Rule::Common`]).
pub fn new_password(password: &str, username: &str) -> Result<(), Rule> {
    if password.is_empty() {
        return Err(Rule::Required);
    }
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&chars(password)) {
        return Err(Rule::Length);
    }
    let u = username.trim();
    if !u.is_empty() && password.to_lowercase() == u.to_lowercase() {
        return Err(Rule::Common);
    }
    Ok(())
}

/// An optional display name (already trimmed; empty means "the username"): at most 64
/// characters, no control characters. The server also refuses format characters.
pub fn display_name(d: &str) -> Result<(), Rule> {
    if chars(d) > DISPLAY_NAME_MAX {
        return Err(Rule::Length);
    }
    if d.chars().any(char::is_control) {
        return Err(Rule::ControlChars);
    }
    Ok(())
}

/// What the login form needs: something in each field (the server checks the rest).
pub fn login_field(value: &str) -> Result<(), Rule> {
    if value.trim().is_empty() {
        Err(Rule::Required)
    } else {
        Ok(())
    }
}

/// A group title (already trimmed): 1–100 characters, no control characters.
pub fn group_title(t: &str) -> Result<(), Rule> {
    if t.is_empty() {
        return Err(Rule::Required);
    }
    if chars(t) > GROUP_TITLE_MAX {
        return Err(Rule::Length);
    }
    if t.chars().any(char::is_control) {
        return Err(Rule::ControlChars);
    }
    Ok(())
}

/// A message's text (as sent, untrimmed): not blank, at most 4000 characters.
pub fn message_content(c: &str) -> Result<(), Rule> {
    if c.trim().is_empty() {
        return Err(Rule::Required);
    }
    if chars(c) > MAX_CONTENT_CHARS {
        return Err(Rule::Length);
    }
    Ok(())
}

/// A return path (`/login?next=…`) if it stays on this site: it starts with exactly one `/`,
/// has no backslash (browsers read `/\\host` as `//host`), no control characters or spaces, and
/// is not absurdly long. Anything else (`//evil.example`, `https://…`, `javascript:`) is `None`.
pub fn local_path(p: &str) -> Option<&str> {
    // The path part (before `?`/`#`) may not have an empty, `.` or `..` segment: the browser
    // resolves `/..//evil.example` or `/.//evil.example` to `//evil.example`, another site.
    let path = p.split(['?', '#']).next().unwrap_or(p);
    let segments_ok = path
        .split('/')
        .skip(1)
        .enumerate()
        .all(|(i, seg)| !matches!(seg, "." | "..") && (!seg.is_empty() || i == 0));
    let ok = p.starts_with('/')
        && segments_ok
        && !p.contains("//")
        && p.len() <= 2048
        && !p
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    ok.then_some(p)
}

/// What the client says about an error, chosen from the server's `code`, `field` and `rule`
/// (or the client's own check). The client's i18n tables have a text for every variant, so
/// this is where "every error code is localized" is decided, and host-tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKey {
    /// A field broke a rule: the text names the field and the rule in the user's words.
    Field(FieldKey, Rule),
    /// A validation error whose field or rule the client has no words for.
    InvalidInput,
    BadRequest,
    UnsupportedMediaType,
    CrossOrigin,
    DuplicateSessionCookie,
    Unauthorized,
    InvalidCredentials,
    UsernameTaken,
    ClientMsgIdReused,
    RecallWindowPassed,
    RecallNotAllowed,
    OpIdReused,
    OriginNotAllowed,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    RequestTimeout,
    RateLimited,
    TooManyAttempts,
    TooManyRegistrations,
    DirectConversation,
    Unavailable,
    /// A search ran past its deadline: narrow it.
    SearchTimeout,
    Internal,
    BadFrame,
    /// The request got no answer (offline, server down).
    Network,
    /// A code this client does not know (a newer server): a generic text, never the English.
    Other,
}

/// The request fields the client has words for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKey {
    Username,
    Password,
    NewPassword,
    DisplayName,
    Title,
    Members,
    Content,
    Query,
    Other,
}

impl FieldKey {
    pub fn parse(field: &str) -> FieldKey {
        match field {
            "username" => FieldKey::Username,
            "password" | "current_password" => FieldKey::Password,
            "new_password" => FieldKey::NewPassword,
            "display_name" => FieldKey::DisplayName,
            "title" => FieldKey::Title,
            "member_ids" | "user_id" => FieldKey::Members,
            "content" => FieldKey::Content,
            "q" => FieldKey::Query,
            _ => FieldKey::Other,
        }
    }
}

/// Every error code of docs/API.md §2.
pub const ERROR_CODES: [&str; 26] = [
    "bad_request",
    "unsupported_media_type",
    "cross_origin",
    "duplicate_session_cookie",
    "invalid_input",
    "unauthorized",
    "invalid_credentials",
    "username_taken",
    "client_msg_id_reused",
    "recall_window_passed",
    "recall_not_allowed",
    "client_op_id_reused",
    "origin_not_allowed",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "request_timeout",
    "rate_limited",
    "too_many_attempts",
    "too_many_registrations",
    "direct_conversation",
    "unavailable",
    "search_timeout",
    "internal",
    "error",
    "bad_frame",
];

/// The key for a server error.
pub fn error_key(code: &str, field: Option<&str>, rule: Option<&str>) -> ErrorKey {
    match code {
        "invalid_input" => match (field.map(FieldKey::parse), rule.and_then(Rule::parse)) {
            (Some(f), Some(r)) if f != FieldKey::Other => ErrorKey::Field(f, r),
            _ => ErrorKey::InvalidInput,
        },
        "bad_request" => ErrorKey::BadRequest,
        "unsupported_media_type" => ErrorKey::UnsupportedMediaType,
        "cross_origin" => ErrorKey::CrossOrigin,
        "duplicate_session_cookie" => ErrorKey::DuplicateSessionCookie,
        "unauthorized" => ErrorKey::Unauthorized,
        "invalid_credentials" => ErrorKey::InvalidCredentials,
        "username_taken" => ErrorKey::UsernameTaken,
        "client_msg_id_reused" => ErrorKey::ClientMsgIdReused,
        "recall_window_passed" => ErrorKey::RecallWindowPassed,
        "recall_not_allowed" => ErrorKey::RecallNotAllowed,
        "client_op_id_reused" => ErrorKey::OpIdReused,
        "origin_not_allowed" => ErrorKey::OriginNotAllowed,
        "not_found" => ErrorKey::NotFound,
        "method_not_allowed" => ErrorKey::MethodNotAllowed,
        "payload_too_large" => ErrorKey::PayloadTooLarge,
        "request_timeout" => ErrorKey::RequestTimeout,
        "rate_limited" => ErrorKey::RateLimited,
        "too_many_attempts" => ErrorKey::TooManyAttempts,
        "too_many_registrations" => ErrorKey::TooManyRegistrations,
        "direct_conversation" => ErrorKey::DirectConversation,
        "unavailable" => ErrorKey::Unavailable,
        "search_timeout" => ErrorKey::SearchTimeout,
        "internal" => ErrorKey::Internal,
        "bad_frame" => ErrorKey::BadFrame,
        _ => ErrorKey::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("alice"), Ok(()));
        assert_eq!(username("a.b-c_d9"), Ok(()));
        assert_eq!(username(""), Err(Rule::Required));
        assert_eq!(username("ab"), Err(Rule::Length));
        assert_eq!(username(&"a".repeat(33)), Err(Rule::Length));
        assert_eq!(username(&"a".repeat(32)), Ok(()));
        assert_eq!(username("al ice"), Err(Rule::Charset));
        assert_eq!(username("李小龙"), Err(Rule::Charset));
    }

    #[test]
    fn passwords() {
        assert_eq!(new_password("tulip lantern", "alice"), Ok(()));
        assert_eq!(new_password("", "alice"), Err(Rule::Required));
        assert_eq!(new_password("short", "alice"), Err(Rule::Length));
        assert_eq!(new_password(&"x".repeat(129), "alice"), Err(Rule::Length));
        assert_eq!(new_password("AliceSmith", "alicesmith"), Err(Rule::Common));
        // Length counts characters, not bytes.
        assert_eq!(new_password("密码密码密码密码", "alice"), Ok(()));
    }

    #[test]
    fn names_titles_and_messages() {
        assert_eq!(display_name(""), Ok(()));
        assert_eq!(display_name("Zoë 🐱 李"), Ok(()));
        assert_eq!(display_name(&"x".repeat(65)), Err(Rule::Length));
        assert_eq!(display_name("a\u{7}b"), Err(Rule::ControlChars));
        assert_eq!(group_title(""), Err(Rule::Required));
        assert_eq!(group_title(&"群".repeat(100)), Ok(()));
        assert_eq!(group_title(&"群".repeat(101)), Err(Rule::Length));
        assert_eq!(group_title("a\nb"), Err(Rule::ControlChars));
        assert_eq!(message_content("  "), Err(Rule::Required));
        assert_eq!(message_content(&"x".repeat(4000)), Ok(()));
        assert_eq!(message_content(&"x".repeat(4001)), Err(Rule::Length));
        assert_eq!(login_field(" "), Err(Rule::Required));
    }

    #[test]
    fn return_paths_stay_on_this_site() {
        for ok in ["/", "/c/12", "/c/12?x=1#y", "/message-test"] {
            assert_eq!(local_path(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "//evil.example/x",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "c/12",
            "/c/1\n2",
            "/\t/evil.example",
            " /c/1",
            "/..//evil.example",
            "/.//evil.example",
            "/c/../..//evil.example",
            "/c//x",
            "/./c/1",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rules_round_trip() {
        for r in Rule::ALL {
            assert_eq!(Rule::parse(r.as_str()), Some(r));
        }
        assert_eq!(Rule::parse("nonsense"), None);
    }

    #[test]
    fn every_documented_code_has_its_own_key() {
        let doc = include_str!("../../docs/API.md");
        let section = doc
            .split("### Error codes")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("API.md has an Error codes section");
        let documented: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert!(documented.len() >= 20, "{documented:?}");
        for code in &documented {
            assert!(
                ERROR_CODES.contains(code),
                "{code} is missing from ERROR_CODES"
            );
        }
        for code in ERROR_CODES {
            assert!(documented.contains(&code), "{code} is not in API.md §2");
            let key = error_key(code, None, None);
            // `error` is the framework's catch-all: it has no words of its own.
            if code != "error" {
                assert_ne!(key, ErrorKey::Other, "{code}");
            }
        }
        assert_eq!(
            error_key("invalid_input", Some("username"), Some("length")),
            ErrorKey::Field(FieldKey::Username, Rule::Length)
        );
        assert_eq!(
            error_key("invalid_input", Some("limit"), Some("range")),
            ErrorKey::InvalidInput
        );
        assert_eq!(
            error_key("invalid_input", None, None),
            ErrorKey::InvalidInput
        );
        assert_eq!(error_key("brand_new_code", None, None), ErrorKey::Other);
    }
}
