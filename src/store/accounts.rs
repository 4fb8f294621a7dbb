//! Users and sessions (and the health round trip).

use async_trait::async_trait;

use super::*;

/// Users and sessions (and the health round trip).
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Cheap round trip, for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;

    /// The backend's name, for `/healthz`: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// `Ok(None)` when the username is taken.
    async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>>;
    /// The user and their password hash.
    async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>>;
    async fn search_users(
        &self,
        query: &str,
        exclude: UserId,
        limit: i64,
    ) -> StoreResult<Vec<User>>;
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The user of a live session, and when the session expires (ms).
    async fn session_user(&self, token_hash: &str, now: i64) -> StoreResult<Option<(User, i64)>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Deletes every session of a user (log out everywhere, password change). Returns how many.
    async fn delete_user_sessions(&self, user_id: UserId) -> StoreResult<u64>;
    /// Deletes sessions that expired before `now` (daily cleanup). Returns how many.
    async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64>;
    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> StoreResult<()>;
}
