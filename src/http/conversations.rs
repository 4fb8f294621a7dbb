//! `/api/conversations`: list, start a 1:1, create a group, read one, mark read.
//! Non-members get 404, never 403, so a conversation's existence is not leaked.

use app::model::{
    Conversation, ConversationId, CreateGroupRequest, MarkReadRequest, ReadPosition,
    StartDirectRequest, GROUP_MEMBERS_MAX, GROUP_TITLE_MAX,
};
use app::protocol::ServerFrame;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::extract::{ApiJson, ApiPath};
use super::session::CurrentUser;
use crate::delivery::{frame, now_ms};
use crate::error::{AppError, AppResult};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/conversations", get(list))
        .route("/api/conversations/direct", post(start_direct))
        .route("/api/conversations/group", post(create_group))
        .route("/api/conversations/{id}", get(show))
        .route("/api/conversations/{id}/read", post(mark_read))
}

async fn list(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> AppResult<Json<Vec<Conversation>>> {
    Ok(Json(s.store.conversations(me.id).await?))
}

async fn start_direct(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(req): ApiJson<StartDirectRequest>,
) -> AppResult<Json<Conversation>> {
    if req.user_id == me.id {
        return Err(AppError::invalid(
            "user_id",
            "you cannot start a conversation with yourself",
        ));
    }
    let id = s
        .store
        .direct_conversation(me.id, req.user_id, now_ms())
        .await?
        .ok_or(AppError::NotFound)?;
    let conv = s
        .store
        .conversation(id, me.id)
        .await?
        .ok_or(AppError::NotFound)?;
    announce(&s, &conv, me.id).await?;
    Ok(Json(conv))
}

async fn create_group(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(req): ApiJson<CreateGroupRequest>,
) -> AppResult<(StatusCode, Json<Conversation>)> {
    let title = req.title.trim();
    if title.is_empty()
        || title.chars().count() > GROUP_TITLE_MAX
        || title.chars().any(char::is_control)
    {
        return Err(AppError::invalid(
            "title",
            format!("group title must be 1 to {GROUP_TITLE_MAX} characters"),
        ));
    }
    let mut others: Vec<i64> = req
        .member_ids
        .iter()
        .copied()
        .filter(|id| *id != me.id)
        .collect();
    others.sort_unstable();
    others.dedup();
    if others.is_empty() || others.len() > GROUP_MEMBERS_MAX {
        return Err(AppError::invalid(
            "member_ids",
            format!("a group needs 1 to {GROUP_MEMBERS_MAX} other members"),
        ));
    }
    let id = s
        .store
        .create_group(me.id, title, &others, now_ms())
        .await?
        .ok_or_else(|| AppError::invalid("member_ids", "unknown user in member_ids"))?;
    let conv = s
        .store
        .conversation(id, me.id)
        .await?
        .ok_or(AppError::NotFound)?;
    announce(&s, &conv, me.id).await?;
    Ok((StatusCode::CREATED, Json(conv)))
}

/// Tells the other members' connections (each sees the conversation from their side).
async fn announce(s: &AppState, conv: &Conversation, creator: i64) -> AppResult<()> {
    for m in conv.members.iter().filter(|m| m.user_id != creator) {
        if s.delivery.hub.is_online(m.user_id) {
            if let Some(theirs) = s.store.conversation(conv.id, m.user_id).await? {
                s.delivery.hub.send_to_user(
                    m.user_id,
                    &frame(&ServerFrame::Conversation {
                        conversation: theirs,
                    }),
                    None,
                );
            }
        }
    }
    Ok(())
}

async fn show(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiPath(id): ApiPath<ConversationId>,
) -> AppResult<Json<Conversation>> {
    Ok(Json(
        s.store
            .conversation(id, me.id)
            .await?
            .ok_or(AppError::NotFound)?,
    ))
}

async fn mark_read(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(req): ApiJson<MarkReadRequest>,
) -> AppResult<Json<ReadPosition>> {
    Ok(Json(s.delivery.mark_read(me.id, id, req.seq).await?))
}
