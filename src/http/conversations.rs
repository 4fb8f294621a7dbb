//! `/api/conversations`: list, start a 1:1, create a group, read one, mark read, leave a group,
//! mute.
//! Non-members get 404, never 403, so a conversation's existence is not leaked.

use std::sync::{Arc, OnceLock};

use app::model::{
    Conversation, ConversationId, CreateGroupRequest, LeftConversation, MarkReadRequest,
    MuteRequest, ReadPosition, StartDirectRequest, UserId, GROUP_MEMBERS_MAX,
};
use app::validate::{self, Rule};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::extract::{ApiJson, ApiPath, JsonContentType};
use crate::clock::now_ms;
use crate::config::ConversationLimits;
use crate::delivery::rate_limit::RateLimiter;
use crate::error::{AppError, AppResult};
use crate::telemetry::{Metrics, OutcomeLabel};
use crate::web::session::CurrentUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/conversations", get(list))
        .route("/api/conversations/direct", post(start_direct))
        .route("/api/conversations/group", post(create_group))
        .route("/api/conversations/{id}", get(show))
        .route("/api/conversations/{id}/read", post(mark_read))
        .route("/api/conversations/{id}/leave", post(leave))
        .route("/api/conversations/{id}/mute", post(mute))
        .layer(Extension(CreationLimits::default()))
}

/// The per-user creation limits of this server (one set per router, built from the
/// configuration on first use).
#[derive(Clone, Default)]
struct CreationLimits(Arc<OnceLock<Limiters>>);

struct Limiters {
    group: RateLimiter,
    direct: RateLimiter,
}

#[derive(Clone, Copy)]
enum Creation {
    Group,
    Direct,
}

impl CreationLimits {
    fn check(
        &self,
        limits: &ConversationLimits,
        metrics: &Metrics,
        what: Creation,
        user: UserId,
    ) -> AppResult<()> {
        let l = self.0.get_or_init(|| Limiters {
            group: RateLimiter::new(limits.group_create_rate_per_sec, limits.group_create_burst),
            direct: RateLimiter::new(
                limits.direct_create_rate_per_sec,
                limits.direct_create_burst,
            ),
        });
        let (limiter, outcome) = match what {
            Creation::Group => (&l.group, "group"),
            Creation::Direct => (&l.direct, "direct"),
        };
        limiter.check(user).map_err(|retry_after_ms| {
            metrics
                .creations_rate_limited
                .get_or_create(&OutcomeLabel { outcome })
                .inc();
            tracing::info!(
                user,
                kind = outcome,
                retry_after_ms,
                "conversation creation rate limited"
            );
            AppError::RateLimited { retry_after_ms }
        })
    }
}

async fn list(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> AppResult<Json<Vec<Conversation>>> {
    Ok(Json(s.store.conversations(me.id).await?))
}

async fn start_direct(
    State(s): State<AppState>,
    Extension(limits): Extension<CreationLimits>,
    CurrentUser(me): CurrentUser,
    ApiJson(req): ApiJson<StartDirectRequest>,
) -> AppResult<Json<Conversation>> {
    if req.user_id == me.id {
        return Err(AppError::invalid(
            "user_id",
            Rule::NotSelf,
            "you cannot start a conversation with yourself",
        ));
    }
    // Reopening is free; only a new conversation counts against the limit.
    if s.store.find_direct(me.id, req.user_id).await?.is_none() {
        limits.check(&s.config.conversations, &s.metrics, Creation::Direct, me.id)?;
    }
    let id = s
        .store
        .direct_conversation(me.id, req.user_id, now_ms())
        .await?
        .ok_or(AppError::NotFound)?;
    let views = s
        .store
        .conversation_views(id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mine = views.view(me.id).ok_or(AppError::NotFound)?;
    s.delivery.announce_conversation(views, Some(me.id));
    Ok(Json(mine))
}

async fn create_group(
    State(s): State<AppState>,
    Extension(limits): Extension<CreationLimits>,
    CurrentUser(me): CurrentUser,
    ApiJson(req): ApiJson<CreateGroupRequest>,
) -> AppResult<(StatusCode, Json<Conversation>)> {
    let title = req.title.trim();
    crate::accounts::check_shown_name("title", title, validate::group_title)?;
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
            Rule::Count,
            format!("a group needs 1 to {GROUP_MEMBERS_MAX} other members"),
        ));
    }
    limits.check(&s.config.conversations, &s.metrics, Creation::Group, me.id)?;
    let id = s
        .store
        .create_group(me.id, title, &others, now_ms())
        .await?
        .ok_or_else(|| {
            AppError::invalid("member_ids", Rule::Unknown, "unknown user in member_ids")
        })?;
    let views = s
        .store
        .conversation_views(id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mine = views.view(me.id).ok_or(AppError::NotFound)?;
    s.delivery.announce_conversation(views, Some(me.id));
    Ok((StatusCode::CREATED, Json(mine)))
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

/// Leaves a group. Its history stays with the other members; the leaver stops receiving it
/// (their waiting push records there are removed) and every tab of theirs forgets it. The
/// body is ignored (send `{}`), but it must be JSON, like every mutation.
async fn leave(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiPath(id): ApiPath<ConversationId>,
    _json: JsonContentType,
) -> AppResult<Json<LeftConversation>> {
    s.delivery.leave(&me, id).await?;
    Ok(Json(LeftConversation {
        conversation_id: id,
    }))
}

/// Mutes or unmutes a conversation for the caller alone (no one else sees it). Every tab of the
/// caller gets the conversation again, so their other devices follow.
async fn mute(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(req): ApiJson<MuteRequest>,
) -> AppResult<Json<Conversation>> {
    Ok(Json(s.delivery.set_muted(&me, id, req.muted).await?))
}
