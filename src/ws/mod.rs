//! The WebSocket endpoint `GET /ws`: authentication and origin check at the upgrade, then one
//! [`connection`] task per socket. [`hub`] tracks who is connected where.

pub mod connection;
pub mod hub;
pub mod outbox;

use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tracing::Instrument;

use crate::error::AppError;
use crate::web::origin::origin_allowed;
use crate::web::session::CurrentSession;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    session: CurrentSession,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Browsers always send `Origin` on WebSocket upgrades: it must be our own origin (scheme,
    // host and port) or listed. Non-browser clients (no `Origin`) still need the cookie.
    let origin_ok = headers
        .get(header::ORIGIN)
        .is_none_or(|o| origin_allowed(o.to_str().unwrap_or(""), &headers, &state.config));
    if !origin_ok {
        tracing::warn!(user = session.user.id, origin = ?headers.get(header::ORIGIN), "WebSocket from a foreign origin refused");
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
        .on_upgrade(move |socket| {
            // One span per connection: every log line of the socket carries user and connection.
            let span =
                tracing::info_span!("ws", user = session.user.id, conn = tracing::field::Empty);
            connection::serve(socket, session, state).instrument(span)
        })
        .into_response()
}
