//! `/api/auth/logout-all` and `/api/auth/password`: ending every session of the caller (a lost
//! device, a leaked cookie) and changing the password, which ends every session too. Both close
//! the sockets those sessions opened, at once.

use app::model::{ChangePasswordRequest, SessionsRevoked, User};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};

use super::extract::{ApiJson, JsonContentType};
use crate::accounts;
use crate::error::AppResult;
use crate::web::session::{clear_cookie, new_session_cookie, CurrentUser};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/logout-all", post(logout_all))
        .route("/api/auth/password", post(change_password))
}

/// Deletes every session of the user and closes every socket they opened.
async fn revoke_all(s: &AppState, user: &User) -> AppResult<SessionsRevoked> {
    let sessions = s.store.delete_user_sessions(user.id).await?;
    let sockets = s.delivery.close_user(user.id) as u64;
    tracing::info!(user = user.id, sessions, sockets, "all sessions revoked");
    Ok(SessionsRevoked { sessions, sockets })
}

async fn logout_all(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    _json: JsonContentType,
) -> AppResult<impl IntoResponse> {
    let revoked = revoke_all(&s, &me).await?;
    let mut headers = HeaderMap::new();
    clear_cookie(&mut headers, s.config.secure_cookies);
    Ok((headers, Json(revoked)))
}

/// The caller stays logged in here with a fresh session; every other session ends.
async fn change_password(
    State(s): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    CurrentUser(me): CurrentUser,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> AppResult<impl IntoResponse> {
    accounts::change_password(
        s.store.as_ref(),
        &s.auth_limits,
        &me,
        req.current_password,
        req.new_password,
        client.ip(),
    )
    .await?;
    let revoked = revoke_all(&s, &me).await?;
    let ttl = s.config.session_ttl_days.max(1);
    let session = accounts::new_session(s.store.as_ref(), me, ttl).await?;
    let headers = new_session_cookie(&s, &session.token);
    Ok((headers, Json(revoked)))
}
