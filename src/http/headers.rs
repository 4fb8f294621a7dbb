//! Security headers on every response: a Content-Security-Policy that allows exactly our WASM
//! client (its own scripts, `'wasm-unsafe-eval'` to compile the module, and the hashes of the
//! inline bootstrap scripts Trunk writes into `index.html`), no framing (clickjacking of recall
//! or logout), no MIME sniffing, and no full URLs in the Referer.

use std::path::Path;

use axum::http::{header, HeaderValue};
use base64::Engine;
use sha2::{Digest, Sha256};

/// The policy for a client whose `index.html` is at `index`.
pub fn content_security_policy(index: &Path) -> String {
    let html = std::fs::read_to_string(index).unwrap_or_default();
    let hashes: String = inline_scripts(&html)
        .map(|s| {
            let digest = Sha256::digest(s.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The bodies of `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attrs, body) = rest.split_once('>')?;
        if attrs.contains("src=") {
            return None;
        }
        Some(body.split_once("</script>")?.0)
    })
}

/// The headers, ready to be set on each response.
pub fn security_headers(csp: &str) -> Vec<(header::HeaderName, HeaderValue)> {
    let mut out = vec![
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
    ];
    if let Ok(v) = HeaderValue::from_str(csp) {
        out.push((header::CONTENT_SECURITY_POLICY, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_inline_scripts_only() {
        let html =
            r#"<head><script src="/a.js"></script><script type="module">init()</script></head>"#;
        let v: Vec<_> = inline_scripts(html).collect();
        assert_eq!(v, vec!["init()"]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index.html");
        std::fs::write(&p, html).unwrap();
        let csp = content_security_policy(&p);
        // sha256("init()") in base64
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"init()"));
        assert!(csp.contains(&format!("'sha256-{expected}'")), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"));
    }
}
