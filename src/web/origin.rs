//! Same-origin checks shared by the CSRF guard (state-changing `/api/*` requests) and the
//! WebSocket upgrade. An origin is compared whole — scheme, host and port — with the server's
//! own origin (`public_origin`, or the request's `Host` with `https` when `secure_cookies` is
//! on and `http` otherwise) and with `allowed_origins`.

use axum::http::{header, HeaderMap};

use crate::config::Config;

/// `scheme://host[:port]`, lower-cased, without the scheme's default port.
fn normalize(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = origin.split_once("://")?;
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    let rest = match scheme {
        "http" | "ws" => rest.strip_suffix(":80").unwrap_or(rest),
        "https" | "wss" => rest.strip_suffix(":443").unwrap_or(rest),
        _ => return None,
    };
    Some(format!("{scheme}://{rest}"))
}

/// The origin browsers use for this server.
fn own_origin(headers: &HeaderMap, config: &Config) -> Option<String> {
    if let Some(o) = &config.public_origin {
        return normalize(o);
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let scheme = if config.secure_cookies {
        "https"
    } else {
        "http"
    };
    normalize(&format!("{scheme}://{host}"))
}

/// Is `origin` this server's own origin or one of `allowed_origins`?
pub fn origin_allowed(origin: &str, headers: &HeaderMap, config: &Config) -> bool {
    let Some(origin) = normalize(origin) else {
        return false; // "null", garbage, or a scheme no page of ours has
    };
    own_origin(headers, config).is_some_and(|own| own == origin)
        || config
            .allowed_origins
            .iter()
            .filter_map(|a| normalize(a))
            .any(|a| a == origin)
}

/// Whether a request may act with the caller's cookie. A browser always says where a request
/// comes from (`Origin` on every POST, `Sec-Fetch-Site` on every request of a modern browser);
/// a request with neither comes from a non-browser client, which cannot ride a user's cookie.
pub fn same_origin_request(headers: &HeaderMap, config: &Config) -> Result<(), String> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        return if origin_allowed(origin, headers, config) {
            Ok(())
        } else {
            Err(format!("origin {origin:?} is not allowed"))
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin") | Some("none") => Ok(()),
        Some(site) => Err(format!("a {site} request is not allowed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn scheme_host_and_port_must_match() {
        let c = Config::default();
        let ok = |o: &str| same_origin_request(&headers(Some(o), "127.0.0.1:3000"), &c).is_ok();
        assert!(ok("http://127.0.0.1:3000"));
        assert!(ok("HTTP://127.0.0.1:3000/"));
        assert!(!ok("https://127.0.0.1:3000"), "another scheme");
        assert!(!ok("http://127.0.0.1:3001"), "another port");
        assert!(!ok("http://127.0.0.1:3000.evil.example"));
        assert!(!ok("http://evil.example"));
        assert!(!ok("null"));
        assert!(same_origin_request(&headers(None, "127.0.0.1:3000"), &c).is_ok());
    }

    #[test]
    fn secure_and_public_origins_and_the_allow_list() {
        let c = Config {
            secure_cookies: true,
            ..Config::default()
        };
        let h = |o: &str| headers(Some(o), "chat.example.com");
        assert!(same_origin_request(&h("https://chat.example.com"), &c).is_ok());
        assert!(same_origin_request(&h("https://chat.example.com:443"), &c).is_ok());
        assert!(same_origin_request(&h("http://chat.example.com"), &c).is_err());
        let c = Config {
            public_origin: Some("https://chat.example.com".into()),
            allowed_origins: vec!["https://app.example.com".into()],
            ..Config::default()
        };
        let behind_proxy = |o: &str| headers(Some(o), "127.0.0.1:3000");
        assert!(same_origin_request(&behind_proxy("https://chat.example.com"), &c).is_ok());
        assert!(same_origin_request(&behind_proxy("https://app.example.com"), &c).is_ok());
        assert!(same_origin_request(&behind_proxy("http://127.0.0.1:3000"), &c).is_err());
    }

    #[test]
    fn fetch_metadata_without_origin() {
        let c = Config::default();
        let mut h = headers(None, "127.0.0.1:3000");
        h.insert("sec-fetch-site", "same-site".parse().unwrap());
        assert!(same_origin_request(&h, &c).is_err());
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(same_origin_request(&h, &c).is_ok());
    }
}
