//! `/api/users`: find people to talk to.

use app::model::User;
use app::validate::Rule;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::ApiQuery;
use crate::error::{AppError, AppResult};
use crate::web::session::CurrentUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/users", get(search))
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    limit: Option<i64>,
}

async fn search(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> AppResult<Json<Vec<User>>> {
    let query = q.q.trim();
    if query.chars().count() > 64 {
        return Err(AppError::invalid(
            "q",
            Rule::Length,
            "search text is at most 64 characters",
        ));
    }
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    Ok(Json(s.store.search_users(query, me.id, limit).await?))
}
