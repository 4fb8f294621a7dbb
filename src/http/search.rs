//! `/api/search`: full-text search over the messages of the caller's conversations (what a
//! query means: store/search).

use app::model::{ConversationId, MessageId, SearchPage};
use app::validate::Rule;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::ApiQuery;
use crate::error::{AppError, AppResult};
use crate::store::search::{MAX_QUERY_CHARS, MAX_QUERY_PIECES};
use crate::store::{SearchQuery, StoreError};
use crate::telemetry::OutcomeLabel;
use crate::web::session::CurrentUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/search", get(search))
}

#[derive(Deserialize)]
struct SearchParams {
    #[serde(default)]
    q: String,
    conversation_id: Option<ConversationId>,
    before: Option<MessageId>,
    limit: Option<i64>,
}

/// Newest hits first; the next page with `before` = the previous page's `next_before`. The cursor
/// is a message id, so pages neither skip nor repeat while others send. Validation first, then
/// the limits (http/search_limits), then the store under the deadline.
async fn search(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> AppResult<Json<SearchPage>> {
    let text = p.q.trim();
    if text.is_empty() || text.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::invalid(
            "q",
            if text.is_empty() {
                Rule::Required
            } else {
                Rule::Length
            },
            format!("search text must be 1 to {MAX_QUERY_CHARS} characters"),
        ));
    }
    let limit = p.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            Rule::Range,
            "limit must be 1 to 50",
        ));
    }
    if p.before.is_some_and(|b| b < 1) {
        return Err(AppError::invalid(
            "before",
            Rule::Range,
            "before must be a message id of at least 1",
        ));
    }
    if let Some(id) = p.conversation_id {
        if !s.store.is_member(id, me.id).await? {
            return Err(AppError::NotFound);
        }
    }
    let query = SearchQuery::parse(text);
    if query.pieces() > MAX_QUERY_PIECES {
        return Err(AppError::invalid(
            "q",
            Rule::Count,
            format!("search text may have at most {MAX_QUERY_PIECES} words"),
        ));
    }
    if query.is_empty() {
        // Only punctuation or symbols: no word to look for.
        return Ok(Json(SearchPage {
            hits: Vec::new(),
            next_before: None,
        }));
    }
    let limits = &s.search_limits;
    let refused = |outcome: &'static str| {
        s.metrics
            .searches_refused
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    };
    let _permit = limits.admit(me.id).await.inspect_err(|e| {
        refused(if matches!(e, AppError::Unavailable) {
            "busy"
        } else {
            "rate_limited"
        })
    })?;
    match s
        .store
        .search(
            me.id,
            &query,
            p.conversation_id,
            p.before,
            limit,
            limits.deadline,
        )
        .await
    {
        Ok(page) => Ok(Json(page)),
        Err(StoreError::Timeout) => {
            refused("timeout");
            tracing::info!(user = me.id, "search stopped at its deadline");
            Err(AppError::SearchTimeout {
                deadline_ms: limits.deadline.as_millis() as u64,
            })
        }
        Err(e) => Err(e.into()),
    }
}
