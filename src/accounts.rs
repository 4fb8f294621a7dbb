//! Accounts: registration rules, argon2id password hashing, session tokens.
//! Only the SHA-256 of a session token is stored, so a database leak yields no usable cookie.

use app::model::{
    LoginRequest, RegisterRequest, User, DISPLAY_NAME_MAX, PASSWORD_MAX, PASSWORD_MIN,
    USERNAME_MAX, USERNAME_MIN,
};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::delivery::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::Store;

/// A fresh session: the token goes into the cookie, its hash into the database.
pub struct NewSession {
    pub token: String,
    pub user: User,
}

pub fn validate_registration(req: &RegisterRequest) -> AppResult<(String, String)> {
    let username = req.username.trim();
    let n = username.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&n) {
        return Err(AppError::invalid(
            "username",
            format!("username must be {USERNAME_MIN} to {USERNAME_MAX} characters"),
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return Err(AppError::invalid(
            "username",
            "username may contain only letters, digits, '_', '-' and '.'",
        ));
    }
    let p = req.password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&p) {
        return Err(AppError::invalid(
            "password",
            format!("password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"),
        ));
    }
    let display = req
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(username);
    if display.chars().count() > DISPLAY_NAME_MAX || display.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "display_name",
            format!("display name must be at most {DISPLAY_NAME_MAX} characters, without control characters"),
        ));
    }
    Ok((username.to_string(), display.to_string()))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Each argon2id run takes 19 MiB and a core for tens of milliseconds; at most one per core runs
/// at a time, so a flood of logins queues instead of exhausting memory.
fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    })
}

/// argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
async fn hash_password(password: String) -> AppResult<String> {
    let _permit = hashing_permits()
        .acquire()
        .await
        .map_err(|_| AppError::Unavailable)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(format!("hashing task failed: {e}")))?
}

async fn verify_password(password: String, hash: String) -> AppResult<bool> {
    let _permit = hashing_permits()
        .acquire()
        .await
        .map_err(|_| AppError::Unavailable)?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| AppError::Internal(format!("stored hash unreadable: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| AppError::Internal(format!("verify task failed: {e}")))?
}

/// A valid hash of a random password, verified against when the username is unknown so that
/// unknown users and wrong passwords take the same time.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn dummy_hash() -> String {
    if let Some(h) = DUMMY_HASH.get() {
        return h.clone();
    }
    let h = hash_password(new_token()).await.unwrap_or_default();
    DUMMY_HASH.get_or_init(|| h).clone()
}

pub async fn register(
    store: &dyn Store,
    req: RegisterRequest,
    ttl_days: i64,
) -> AppResult<NewSession> {
    let (username, display) = validate_registration(&req)?;
    let hash = hash_password(req.password).await?;
    let user = store
        .create_user(&username, &display, &hash, now_ms())
        .await?
        .ok_or(AppError::Conflict {
            code: "username_taken",
            message: format!("the username {username:?} is already taken"),
        })?;
    tracing::info!(user = user.id, username = %user.username, "user registered");
    start_session(store, user, ttl_days).await
}

pub async fn login(store: &dyn Store, req: LoginRequest, ttl_days: i64) -> AppResult<NewSession> {
    if req.username.trim().is_empty() {
        return Err(AppError::invalid("username", "username is required"));
    }
    if req.password.is_empty() {
        return Err(AppError::invalid("password", "password is required"));
    }
    if req.password.len() > PASSWORD_MAX * 4 {
        return Err(AppError::InvalidCredentials);
    }
    match store.user_credentials(req.username.trim()).await? {
        Some((user, hash)) => {
            if verify_password(req.password, hash).await? {
                start_session(store, user, ttl_days).await
            } else {
                Err(AppError::InvalidCredentials)
            }
        }
        None => {
            let _ = verify_password(req.password, dummy_hash().await).await;
            Err(AppError::InvalidCredentials)
        }
    }
}

async fn start_session(store: &dyn Store, user: User, ttl_days: i64) -> AppResult<NewSession> {
    let token = new_token();
    let now = now_ms();
    store
        .create_session(
            &hash_token(&token),
            user.id,
            now,
            now + ttl_days.max(1) * 86_400_000,
        )
        .await?;
    Ok(NewSession { token, user })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(u: &str, p: &str) -> RegisterRequest {
        RegisterRequest {
            username: u.into(),
            password: p.into(),
            display_name: None,
        }
    }

    #[test]
    fn registration_rules() {
        assert!(validate_registration(&req("alice", "password1")).is_ok());
        assert!(validate_registration(&req("al", "password1")).is_err());
        assert!(validate_registration(&req("al ice", "password1")).is_err());
        assert!(validate_registration(&req("alice", "short")).is_err());
        let e = validate_registration(&req("alice", "short")).unwrap_err();
        assert_eq!(e.field().as_deref(), Some("password"));
    }

    #[test]
    fn token_hash_is_stable_hex() {
        assert_eq!(hash_token("abc").len(), 64);
        assert_eq!(hash_token("abc"), hash_token("abc"));
        assert_ne!(new_token(), new_token());
    }
}
