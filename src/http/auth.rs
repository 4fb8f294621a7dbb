//! `/api/auth`: register, log in, log out, who am I.

use app::model::{LoginRequest, RegisterRequest, User};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::extract::ApiJson;
use super::session::{clear_cookie, session_token, set_cookie, CurrentUser};
use crate::accounts::{self, hash_token};
use crate::error::AppResult;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(me))
}

async fn register(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> AppResult<impl IntoResponse> {
    let ttl = s.config.session_ttl_days.max(1);
    let session = accounts::register(s.store.as_ref(), req, ttl).await?;
    let mut headers = HeaderMap::new();
    set_cookie(
        &mut headers,
        &session.token,
        ttl * 86_400,
        s.config.secure_cookies,
    );
    Ok((StatusCode::CREATED, headers, Json(session.user)))
}

async fn login(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> AppResult<impl IntoResponse> {
    let ttl = s.config.session_ttl_days.max(1);
    let session = accounts::login(s.store.as_ref(), req, ttl).await?;
    tracing::info!(user = session.user.id, "logged in");
    let mut headers = HeaderMap::new();
    set_cookie(
        &mut headers,
        &session.token,
        ttl * 86_400,
        s.config.secure_cookies,
    );
    Ok((headers, Json(session.user)))
}

/// Always succeeds: the server-side session (if any) is deleted and the cookie cleared.
async fn logout(State(s): State<AppState>, headers: HeaderMap) -> AppResult<impl IntoResponse> {
    if let Some(token) = session_token(&headers) {
        s.store.delete_session(&hash_token(&token)).await?;
    }
    let mut out = HeaderMap::new();
    clear_cookie(&mut out, s.config.secure_cookies);
    Ok((StatusCode::NO_CONTENT, out))
}

async fn me(CurrentUser(user): CurrentUser) -> Json<User> {
    Json(user)
}
