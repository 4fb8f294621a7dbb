//! The session cookie and the `CurrentUser` / `CurrentSession` extractors that HTTP handlers and
//! `/ws` share (hence `web`, not `http`: the WebSocket upgrade authenticates with the same
//! cookie). Writing the cookie stays beside reading it, so its name and attributes live in one
//! place.
//!
//! With `secure_cookies` on, the cookie is `__Host-courier_session`: browsers then insist on
//! `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot plant its own session
//! cookie. A request that carries the session cookie twice is refused outright, since it means
//! someone else set one (cookie tossing) and either choice could be the attacker's.

use app::model::User;
use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use crate::accounts::hash_token;
use crate::clock::now_ms;
use crate::error::AppError;
use crate::AppState;

pub const COOKIE_NAME: &str = "courier_session";
pub const SECURE_COOKIE_NAME: &str = "__Host-courier_session";

pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// The logged-in user; rejects with 401 `unauthorized` otherwise.
pub struct CurrentUser(pub User);

/// The logged-in user with the session they came with.
pub struct CurrentSession {
    pub user: User,
    /// SHA-256 of the cookie token (the key of the session row).
    pub token_hash: String,
    /// When the session expires (ms since the epoch).
    pub expires_at: i64,
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers, state.config.secure_cookies)?
            .ok_or(AppError::Unauthorized)?;
        let token_hash = hash_token(&token);
        let (user, expires_at) = state
            .store
            .session_user(&token_hash, now_ms())
            .await?
            .ok_or(AppError::Unauthorized)?;
        Ok(CurrentSession {
            user,
            token_hash,
            expires_at,
        })
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(CurrentUser(
            CurrentSession::from_request_parts(parts, state).await?.user,
        ))
    }
}

/// The session token from the cookie. `Err` when the cookie appears more than once.
pub fn session_token(headers: &HeaderMap, secure: bool) -> Result<Option<String>, AppError> {
    let name = cookie_name(secure);
    let mut found = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, value)| value.trim());
    let first = found.next();
    if found.next().is_some() {
        return Err(AppError::bad_request_code(
            "duplicate_session_cookie",
            "the session cookie was sent more than once; clear this site's cookies and log in again",
        ));
    }
    Ok(first
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string))
}

/// The `Set-Cookie` header of a new session (lifetime `session_ttl_days`).
pub fn new_session_cookie(state: &AppState, token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    set_cookie(
        &mut headers,
        token,
        state.config.session_ttl_days.max(1) * 86_400,
        state.config.secure_cookies,
    );
    headers
}

pub fn set_cookie(headers: &mut HeaderMap, token: &str, max_age_secs: i64, secure: bool) {
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    let value =
        format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.append(SET_COOKIE, v);
    }
}

pub fn clear_cookie(headers: &mut HeaderMap, secure: bool) {
    set_cookie(headers, "", 0, secure);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, v.parse().unwrap());
        h
    }

    #[test]
    fn one_cookie_read_two_refused() {
        let t = session_token(&cookies("a=1; courier_session=abc"), false).unwrap();
        assert_eq!(t.as_deref(), Some("abc"));
        assert!(
            session_token(&cookies("courier_session=abc; courier_session=def"), false).is_err()
        );
        // With secure cookies only the __Host- name counts.
        let t = session_token(&cookies("courier_session=abc"), true).unwrap();
        assert_eq!(t, None);
        let t = session_token(&cookies("__Host-courier_session=abc"), true).unwrap();
        assert_eq!(t.as_deref(), Some("abc"));
    }
}
