//! Messages over HTTP: history (the original `getChatHistory`), send, recall, receipts.

use app::model::{
    ConversationId, HistoryPage, Message, MessageId, MessageReceipts, RecallRequest, SendAck,
    SendMessageRequest,
};
use app::validate::Rule;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::error::{AppError, AppResult};
use crate::web::session::CurrentUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/conversations/{id}/messages", get(history).post(send))
        .route("/api/messages/{id}/recall", post(recall))
        .route("/api/messages/{id}/receipts", get(receipts))
}

#[derive(Deserialize)]
struct HistoryQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

/// Newest page first; older pages with `before` = the lowest seq the client has. The cursor is
/// a seq, so pages stay stable while others send.
async fn history(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> AppResult<Json<HistoryPage>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            Rule::Range,
            "limit must be 1 to 200",
        ));
    }
    if q.before.is_some_and(|b| b < 1) {
        return Err(AppError::invalid(
            "before",
            Rule::Range,
            "before must be a seq of at least 1",
        ));
    }
    if !s.store.is_member(id, me.id).await? {
        return Err(AppError::NotFound);
    }
    let (messages, has_more) = s.store.history(id, q.before, limit).await?;
    Ok(Json(HistoryPage {
        conversation_id: id,
        messages,
        has_more,
    }))
}

async fn send(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(req): ApiJson<SendMessageRequest>,
) -> AppResult<(StatusCode, Json<SendAck>)> {
    let ack = s
        .delivery
        .send(&me, id, req.client_msg_id, req.content, None)
        .await?;
    let status = if ack.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(ack)))
}

async fn recall(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiPath(id): ApiPath<MessageId>,
    ApiJson(req): ApiJson<RecallRequest>,
) -> AppResult<Json<Message>> {
    Ok(Json(
        s.delivery
            .recall(&me, id, req.client_op_id.as_deref())
            .await?,
    ))
}

async fn receipts(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiPath(id): ApiPath<MessageId>,
) -> AppResult<Json<MessageReceipts>> {
    let message = s.store.message(id).await?.ok_or(AppError::NotFound)?;
    if !s.store.is_member(message.conversation_id, me.id).await? {
        return Err(AppError::NotFound);
    }
    Ok(Json(s.store.receipts(id).await?.ok_or(AppError::NotFound)?))
}
