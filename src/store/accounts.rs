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

    // --- the operator role, stored with the account (src/operators.rs) ---
    /// Whether the user holds the operator role now.
    async fn is_operator(&self, user_id: UserId) -> StoreResult<bool>;
    /// Grants (`Some`) or withdraws (`None`) the role of the account named `username` (any
    /// letter case). `Ok(None)` when no account has that name.
    async fn set_operator(
        &self,
        username: &str,
        grant: Option<OperatorGrant>,
    ) -> StoreResult<Option<User>>;
    /// Every account holding the role, oldest first, with how it got it.
    async fn operators(&self) -> StoreResult<Vec<(User, OperatorGrant)>>;
    /// Reconciles the `operators` setting (`names`, lowercased) with the names the database
    /// remembers, in one transaction: a name listed for the first time grants the role to the
    /// account holding that name at that moment, if any, and never to a later registrant; a
    /// name no longer listed withdraws the role it granted.
    async fn sync_operator_list(
        &self,
        names: &[String],
        now: i64,
    ) -> StoreResult<OperatorListChanges>;
}

/// How an account got the operator role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorGrant {
    /// Its name was listed in `operators` while the account existed.
    Config,
    /// `courier admin grant-operator`, run on the host.
    Admin,
}

impl OperatorGrant {
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorGrant::Config => "config",
            OperatorGrant::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<OperatorGrant> {
        match s {
            "config" => Some(OperatorGrant::Config),
            "admin" => Some(OperatorGrant::Admin),
            _ => None,
        }
    }
}

/// What [`AccountStore::sync_operator_list`] changed and found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OperatorListChanges {
    /// Newly listed names whose account existed: operators now.
    pub granted: Vec<String>,
    /// Names no longer listed: the role their listing granted is withdrawn.
    pub revoked: Vec<String>,
    /// Listed names whose account does not hold the role (none existed when the name was first
    /// listed, or the role was withdrawn on the host): the listing grants them nothing.
    pub not_granted: Vec<String>,
}

/// The names to start and stop remembering: (listed now but not remembered, remembered but no
/// longer listed). `listed` is the setting, lowercased; `remembered` what the database holds.
pub(crate) fn operator_list_diff(
    listed: &[String],
    remembered: &[String],
) -> (Vec<String>, Vec<String>) {
    let fresh = listed
        .iter()
        .filter(|n| !remembered.contains(n))
        .cloned()
        .collect();
    let gone = remembered
        .iter()
        .filter(|n| !listed.contains(n))
        .cloned()
        .collect();
    (fresh, gone)
}
