//! `/api/auth`: register, log in, log out, who am I.

use std::net::SocketAddr;

use app::model::{LoginRequest, RegisterRequest, SessionInfo, User};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::extract::{ApiJson, JsonContentType};
use crate::accounts::{self, hash_token};
use crate::clock::now_ms;
use crate::error::AppResult;
use crate::web::session::{clear_cookie, new_session_cookie, session_token, CurrentUser};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(me))
        .route("/api/auth/session", get(session_info))
}

async fn register(
    State(s): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> AppResult<impl IntoResponse> {
    let ttl = s.config.session_ttl_days.max(1);
    let session =
        accounts::register(s.store.as_ref(), &s.auth_limits, req, ttl, client.ip()).await?;
    let headers = new_session_cookie(&s, &session.token);
    Ok((StatusCode::CREATED, headers, Json(session.user)))
}

async fn login(
    State(s): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> AppResult<impl IntoResponse> {
    let ttl = s.config.session_ttl_days.max(1);
    let session = accounts::login(s.store.as_ref(), &s.auth_limits, req, ttl, client.ip()).await?;
    tracing::info!(user = session.user.id, "logged in");
    let headers = new_session_cookie(&s, &session.token);
    Ok((headers, Json(session.user)))
}

/// Always succeeds: the server-side session (if any) is deleted, the sockets opened with it
/// are closed, and the cookie cleared.
async fn logout(
    State(s): State<AppState>,
    _json: JsonContentType,
    headers: HeaderMap,
) -> AppResult<impl IntoResponse> {
    if let Ok(Some(token)) = session_token(&headers, s.config.secure_cookies) {
        let hash = hash_token(&token);
        s.store.delete_session(&hash).await?;
        let closed = s.delivery.close_session(&hash);
        tracing::info!(sockets_closed = closed, "logged out");
    }
    let mut out = HeaderMap::new();
    clear_cookie(&mut out, s.config.secure_cookies);
    Ok((StatusCode::NO_CONTENT, out))
}

async fn me(CurrentUser(user): CurrentUser) -> Json<User> {
    Json(user)
}

/// Who this browser is logged in as, if anyone. Always 200: being logged out is the normal
/// state of a first visit, not an error (a 401 shows red in every browser's console).
async fn session_info(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Json<SessionInfo>> {
    let user = match session_token(&headers, s.config.secure_cookies)? {
        Some(token) => s
            .store
            .session_user(&hash_token(&token), now_ms())
            .await?
            .map(|(user, _)| user),
        None => None,
    };
    let operator = match &user {
        Some(u) => s.store.is_operator(u.id).await?,
        None => false,
    };
    Ok(Json(SessionInfo { user, operator }))
}
