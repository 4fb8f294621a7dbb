//! The HTTP surface: one module per resource, each with its own `router()`.

pub mod account;
pub mod auth;
pub mod client;
pub mod conversations;
pub mod csrf;
pub mod diagnostics;
pub mod extract;
pub mod headers;
pub mod health;
pub mod messages;
pub mod offline;
pub mod search;
pub mod search_limits;
pub mod users;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::AppError;
use crate::AppState;

/// The whole HTTP surface. `sockets` is the WebSocket endpoint (`ws::router`), given by the
/// composition root so that this module does not depend on `ws`; it gets the same error
/// shape and CSRF guard as the API.
pub fn router(state: AppState, sockets: Router<AppState>) -> Router {
    let api = Router::new()
        .merge(auth::router())
        .merge(account::router())
        .merge(users::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(search::router())
        .merge(offline::router())
        .merge(diagnostics::router());
    let security_headers = Arc::new(headers::security_headers(
        &headers::content_security_policy(&state.config.dist_dir.join("index.html")),
    ));
    Router::new()
        .merge(health::router())
        .merge(
            api.merge(sockets)
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    csrf::refuse_cross_origin,
                ))
                .layer(middleware::from_fn(json_errors)),
        )
        .merge(client::router(&state.config.dist_dir))
        .layer(middleware::map_response(move |mut res: Response| {
            let h = security_headers.clone();
            async move {
                for (name, value) in h.iter() {
                    res.headers_mut()
                        .entry(name.clone())
                        .or_insert_with(|| value.clone());
                }
                res
            }
        }))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Axum answers some errors itself (405, 413) with an empty or plain-text body; API clients
/// get our JSON error shape for those too.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (code, message) = match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "method not allowed for this endpoint")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
            StatusCode::NOT_FOUND => ("not_found", "not found"),
            _ => ("error", "request failed"),
        };
        return AppError::refused(status, code, message).into_response();
    }
    res
}
