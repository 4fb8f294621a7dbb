//! `/api/offline-messages`: offline delivery for clients without a socket — the original
//! `getOfflineMessages` and `markOfflineMessagesAsRead`, plus an explicit acknowledgement.

use app::model::{
    AckRequest, AckResponse, MarkOfflineReadRequest, MarkOfflineReadResponse, OfflinePage,
};
use app::validate::Rule;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery, JsonContentType};
use crate::error::{AppError, AppResult};
use crate::web::session::CurrentUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/offline-messages", get(list))
        .route("/api/offline-messages/ack", post(ack))
        .route("/api/offline-messages/read", post(read))
}

#[derive(Deserialize)]
struct OfflineQuery {
    /// Page after this message id (the last id of the previous page).
    after: Option<i64>,
    limit: Option<i64>,
}

async fn list(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiQuery(q): ApiQuery<OfflineQuery>,
) -> AppResult<Json<OfflinePage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            Rule::Range,
            "limit must be 1 to 1000",
        ));
    }
    Ok(Json(
        s.delivery
            .waiting_page(me.id, q.after.unwrap_or(0).max(0), limit)
            .await?,
    ))
}

async fn ack(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(req): ApiJson<AckRequest>,
) -> AppResult<Json<AckResponse>> {
    Ok(Json(s.delivery.acknowledge(me.id, &req.message_ids).await?))
}

/// The body is optional: none (or `{}`) reads every conversation with waiting messages.
async fn read(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    _json: JsonContentType,
    body: Bytes,
) -> AppResult<Json<MarkOfflineReadResponse>> {
    let req: MarkOfflineReadRequest = if body.iter().all(u8::is_ascii_whitespace) {
        MarkOfflineReadRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}")))?
    };
    Ok(Json(
        s.delivery
            .mark_offline_read(me.id, req.conversation_id)
            .await?,
    ))
}
