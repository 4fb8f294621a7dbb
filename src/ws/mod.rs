//! The WebSocket endpoint `GET /ws`: authentication and origin check at the upgrade, then one
//! [`connection`] task per socket. [`hub`] tracks who is connected where.

pub mod connection;
pub mod hub;

use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::AppError;
use crate::http::session::CurrentUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &state.config.allowed_origins) {
        tracing::warn!(user = user.id, origin = ?headers.get(header::ORIGIN), "WebSocket from a foreign origin refused");
        return AppError::Forbidden {
            code: "origin_not_allowed",
            message: "cross-origin WebSocket refused".into(),
        }
        .into_response();
    }
    // Frames are small JSON; anything bigger than this is not a Courier client. Small initial
    // buffers keep an idle connection cheap (they grow for big frames and shrink back).
    ws.max_message_size(256 * 1024)
        .max_frame_size(256 * 1024)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .on_upgrade(move |socket| connection::serve(socket, user, state))
        .into_response()
}

/// Browsers always send `Origin` on WebSocket upgrades: it must be our own host (or listed).
/// Non-browser clients (no `Origin`) are allowed; they still need the session cookie.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
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
    fn same_origin_only() {
        assert!(origin_allowed(&headers(None, "127.0.0.1:3000"), &[]));
        assert!(origin_allowed(
            &headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000"),
            &[]
        ));
        assert!(!origin_allowed(
            &headers(Some("http://evil.example"), "127.0.0.1:3000"),
            &[]
        ));
        assert!(origin_allowed(
            &headers(Some("http://app.example"), "127.0.0.1:3000"),
            &["http://app.example".into()]
        ));
    }
}
