//! `/api/search`: full-text search over the messages of the caller's conversations (what a
//! query means: store/search).

use app::model::{ConversationId, MessageId, SearchPage};
use app::validate::Rule;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::ApiQuery;
use super::session::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::store::search::MAX_QUERY_CHARS;
use crate::store::SearchQuery;
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
/// is a message id, so pages neither skip nor repeat while others send.
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
    if query.is_empty() {
        // Only punctuation or symbols: no word to look for.
        return Ok(Json(SearchPage {
            hits: Vec::new(),
            next_before: None,
        }));
    }
    Ok(Json(
        s.store
            .search(me.id, &query, p.conversation_id, p.before, limit)
            .await?,
    ))
}
