//! CSRF guard: a state-changing `/api/*` request (anything but GET, HEAD and OPTIONS) that a
//! browser sent from another origin is refused with a JSON 403 before any handler runs.
//! `SameSite=Lax` alone does not stop same-site attackers (a sibling subdomain, another port
//! of the same host), so the origin is checked on every such request.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::web::origin::same_origin_request;
use crate::AppState;

pub async fn refuse_cross_origin(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && req.uri().path().starts_with("/api/") {
        if let Err(why) = same_origin_request(req.headers(), &s.config) {
            tracing::warn!(
                method = %req.method(),
                path = %req.uri().path(),
                origin = ?req.headers().get(header::ORIGIN),
                "cross-origin request refused: {why}"
            );
            return AppError::Forbidden {
                code: "cross_origin",
                message: format!("cross-origin request refused: {why}"),
            }
            .into_response();
        }
    }
    next.run(req).await
}
