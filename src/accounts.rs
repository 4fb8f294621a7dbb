//! Accounts: registration rules, argon2id password hashing, session tokens.
//! Only the SHA-256 of a session token is stored, so a database leak yields no usable cookie.
//! [`AuthLimits`] keeps the password endpoints affordable: login and registration throttles
//! ([`throttle`]) and a bounded queue in front of the hashing workers, both checked before
//! any argon2 work.

pub mod throttle;

use std::net::IpAddr;
use std::sync::Arc;

use app::model::{
    LoginRequest, RegisterRequest, User, DISPLAY_NAME_MAX, GROUP_TITLE_MAX, PASSWORD_MAX,
    PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN,
};
use app::validate::{self, Rule};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::config::LimitsConfig;
use crate::error::{AppError, AppResult};
use crate::store::Store;
use crate::telemetry::{Metrics, OpLabel};
use throttle::{LoginThrottle, RegistrationLimit};

/// A fresh session: the token goes into the cookie, its hash into the database.
pub struct NewSession {
    pub token: String,
    pub user: User,
}

pub fn validate_registration(req: &RegisterRequest) -> AppResult<(String, String)> {
    let username = req.username.trim();
    if let Err(rule) = validate::username(username) {
        let message = match rule {
            Rule::Charset => "username may contain only letters, digits, '_', '-' and '.'".into(),
            _ => format!("username must be {USERNAME_MIN} to {USERNAME_MAX} characters"),
        };
        return Err(AppError::invalid("username", rule, message));
    }
    validate_new_password("password", &req.password, username)?;
    let display = req
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(username);
    check_shown_name("display_name", display, validate::display_name)?;
    Ok((username.to_string(), display.to_string()))
}

/// Every name a person sees beside others' — display names and group titles — passes one test:
/// its shared rule in `validate` (`rule`: length, control characters), then no Unicode format
/// characters, which would let one name pass for another. `field` names it in the error.
pub fn check_shown_name(
    field: &str,
    value: &str,
    rule: fn(&str) -> Result<(), Rule>,
) -> AppResult<()> {
    let what = if field == "title" {
        "group title"
    } else {
        "display name"
    };
    let broken = match rule(value) {
        Err(r) => Some(r),
        Ok(()) if value.chars().any(is_format_char) => Some(Rule::FormatChars),
        Ok(()) => None,
    };
    let Some(broken) = broken else {
        return Ok(());
    };
    let message = match broken {
        Rule::Required => format!("{what} must not be empty"),
        Rule::Length if field == "title" => {
            format!("{what} must be 1 to {GROUP_TITLE_MAX} characters")
        }
        Rule::Length => format!("{what} must be at most {DISPLAY_NAME_MAX} characters"),
        Rule::ControlChars => format!("{what} must not contain control characters"),
        _ => format!(
            "{what} must not contain invisible formatting characters (bidi overrides, zero-width characters)"
        ),
    };
    Err(AppError::invalid(field, broken, message))
}

/// Unicode format characters (general category Cf): bidi overrides and isolates, zero-width
/// spaces and joiners, the BOM, tags. Invisible, they let one name pass for another.
pub fn is_format_char(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    // No ASCII character is a format character: skip the table lookup for them (hot path).
    !c.is_ascii() && c.general_category() == GeneralCategory::Format
}

/// The rules for a new password: its length, not one of the most common passwords, not the
/// username. `field` names it in the error.
pub fn validate_new_password(field: &str, password: &str, username: &str) -> AppResult<()> {
    let too_common = || {
        AppError::invalid(
            field,
            Rule::Common,
            "this password is too common or too easy to guess; choose another",
        )
    };
    match validate::new_password(password, username) {
        Ok(()) => {}
        Err(Rule::Common) => return Err(too_common()),
        Err(rule) => {
            return Err(AppError::invalid(
                field,
                rule,
                format!("password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"),
            ))
        }
    }
    if is_common_password(&password.to_lowercase()) {
        return Err(too_common());
    }
    Ok(())
}

/// The embedded list of the most common passwords (lower case, one a line).
fn is_common_password(lower: &str) -> bool {
    static LIST: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("accounts/common_passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
    .contains(lower)
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
/// at a time, so a flood of logins queues instead of exhausting memory; [`AuthLimits`] bounds
/// how many may wait (login and registration take a place there first).
fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| tokio::sync::Semaphore::new(hashing_workers()))
}

fn hashing_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
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
            .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("the hashing task failed")))?
}

async fn verify_password(password: String, hash: String) -> AppResult<bool> {
    let _permit = hashing_permits()
        .acquire()
        .await
        .map_err(|_| AppError::Unavailable)?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("stored password hash unreadable: {e}"))
        })?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("the verify task failed")))?
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

/// What keeps the password endpoints affordable (one per server): the login and registration
/// throttles, and a bound on how many hashes may wait for a worker.
pub struct AuthLimits {
    pub logins: LoginThrottle,
    pub registrations: RegistrationLimit,
    /// Places for running or waiting hashes: the workers plus `hashing_queue`.
    hashing_places: tokio::sync::Semaphore,
    metrics: Arc<Metrics>,
}

impl AuthLimits {
    pub fn new(c: &LimitsConfig, metrics: Arc<Metrics>) -> AuthLimits {
        AuthLimits {
            logins: LoginThrottle::new(c),
            registrations: RegistrationLimit::new(c),
            hashing_places: tokio::sync::Semaphore::new(
                hashing_workers()
                    .saturating_add(c.hashing_queue)
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            ),
            metrics,
        }
    }

    /// A place in the hashing queue, or 503 at once when it is full (the flood waits, not
    /// everyone else). Hold it until the hashing is done.
    pub fn hashing_place(&self) -> AppResult<tokio::sync::SemaphorePermit<'_>> {
        let place = self.hashing_places.try_acquire().map_err(|_| {
            self.metrics.hashing_rejected.inc();
            AppError::Unavailable
        })?;
        self.metrics.hashing_admitted.inc();
        Ok(place)
    }

    fn throttled(
        &self,
        op: &'static str,
        code: &'static str,
        what: &str,
        wait: std::time::Duration,
    ) -> AppError {
        self.metrics
            .auth_throttled
            .get_or_create(&OpLabel { op })
            .inc();
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        AppError::TooManyAttempts {
            code,
            message: format!("{what}; retry in {secs} s"),
            retry_after_secs: secs,
        }
    }
}

/// Registers `req` for a client at `client`. Registrations are limited per client address.
pub async fn register(
    store: &dyn Store,
    limits: &AuthLimits,
    req: RegisterRequest,
    ttl_days: i64,
    client: IpAddr,
) -> AppResult<NewSession> {
    let (username, display) = validate_registration(&req)?;
    if let Err(wait) = limits.registrations.check(client) {
        tracing::warn!(client = %client, "registration refused: too many from this address");
        return Err(limits.throttled(
            "register",
            "too_many_registrations",
            "too many registrations from this address",
            wait,
        ));
    }
    let place = limits.hashing_place().inspect_err(|_| {
        // Not registered: the address keeps its allowance.
        limits.registrations.refund(client);
    })?;
    let hash = hash_password(req.password).await?;
    drop(place);
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

/// Logs in a client at `client`. Failed logins are throttled per username and per address
/// (checked before the password is hashed), logged and counted.
pub async fn login(
    store: &dyn Store,
    limits: &AuthLimits,
    req: LoginRequest,
    ttl_days: i64,
    client: IpAddr,
) -> AppResult<NewSession> {
    if validate::login_field(&req.username).is_err() {
        return Err(AppError::invalid(
            "username",
            Rule::Required,
            "username is required",
        ));
    }
    if req.password.is_empty() {
        return Err(AppError::invalid(
            "password",
            Rule::Required,
            "password is required",
        ));
    }
    let username = req.username.trim();
    let attempt = match limits.logins.check(username, client) {
        Ok(a) => a,
        Err(wait) => {
            tracing::debug!(username = ?username, client = %client, "login throttled");
            return Err(limits.throttled(
                "login",
                "too_many_attempts",
                "too many failed logins",
                wait,
            ));
        }
    };
    let verified = if req.password.len() > PASSWORD_MAX * 4 {
        None
    } else {
        let _place = limits.hashing_place()?;
        match store.user_credentials(username).await? {
            Some((user, hash)) => verify_password(req.password, hash).await?.then_some(user),
            None => {
                let _ = verify_password(req.password, dummy_hash().await).await;
                None
            }
        }
    };
    match verified {
        Some(user) => {
            attempt.succeeded();
            start_session(store, user, ttl_days).await
        }
        None => {
            attempt.failed();
            limits.metrics.login_failures.inc();
            tracing::warn!(username = ?username, client = %client, "login failed");
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

/// Changes a user's password after checking the current one. The caller revokes sessions.
/// Wrong current passwords count as failed logins (the same throttle), and both hashes take
/// places in the bounded hashing queue.
pub async fn change_password(
    store: &dyn Store,
    limits: &AuthLimits,
    user: &User,
    current: String,
    new: String,
    client: IpAddr,
) -> AppResult<()> {
    validate_new_password("new_password", &new, &user.username)?;
    let attempt = limits
        .logins
        .check(&user.username, client)
        .map_err(|wait| {
            limits.throttled(
                "login",
                "too_many_attempts",
                "too many failed password checks",
                wait,
            )
        })?;
    let verified = current.len() <= PASSWORD_MAX * 4 && {
        let _place = limits.hashing_place()?;
        let (_, hash) = store
            .user_credentials(&user.username)
            .await?
            .ok_or(AppError::Unauthorized)?;
        verify_password(current, hash).await?
    };
    if !verified {
        attempt.failed();
        limits.metrics.login_failures.inc();
        tracing::warn!(user = user.id, client = %client, "password change refused: wrong current password");
        return Err(AppError::InvalidCredentials);
    }
    attempt.succeeded();
    let hash = {
        let _place = limits.hashing_place()?;
        hash_password(new).await?
    };
    store.set_password_hash(user.id, &hash).await?;
    tracing::info!(user = user.id, "password changed");
    Ok(())
}

/// Whether a session still exists and has not expired (open sockets re-check theirs).
pub async fn session_alive(store: &dyn Store, token_hash: &str) -> AppResult<bool> {
    Ok(store.session_user(token_hash, now_ms()).await?.is_some())
}

/// Starts a new session for a user who proved who they are (after a password change).
pub async fn new_session(store: &dyn Store, user: User, ttl_days: i64) -> AppResult<NewSession> {
    start_session(store, user, ttl_days).await
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
        assert!(validate_registration(&req("alice", "tulip lantern")).is_ok());
        assert!(validate_registration(&req("al", "tulip lantern")).is_err());
        assert!(validate_registration(&req("al ice", "tulip lantern")).is_err());
        assert!(validate_registration(&req("alice", "short")).is_err());
        let e = validate_registration(&req("alice", "short")).unwrap_err();
        assert_eq!(e.field().as_deref(), Some("password"));
    }

    #[test]
    fn common_passwords_and_the_username_are_refused() {
        for p in [
            "password1",
            "12345678",
            "QWERTY123",
            "iloveyou",
            "Passw0rd",
            "aliceSmith",
        ] {
            let e = validate_registration(&req("alicesmith", p)).unwrap_err();
            assert_eq!(e.field().as_deref(), Some("password"), "{p}");
        }
        assert!(is_common_password("123456789"));
        assert!(!is_common_password("tulip lantern"));
        // Every listed entry is stored in lower case, or it could never match.
        for l in include_str!("accounts/common_passwords.txt").lines() {
            if !l.starts_with('#') {
                assert_eq!(l, l.to_lowercase(), "{l}");
            }
        }
    }

    #[test]
    fn display_names_refuse_format_characters() {
        for bad in [
            "\u{202E}evil",
            "a\u{200B}b",
            "x\u{2066}y",
            "\u{FEFF}bom",
            "z\u{2060}",
            "a\u{00AD}b",
        ] {
            let r = RegisterRequest {
                display_name: Some(bad.into()),
                ..req("alice", "tulip lantern")
            };
            let e = validate_registration(&r).unwrap_err();
            assert_eq!(e.field().as_deref(), Some("display_name"), "{bad:?}");
        }
        let ok = RegisterRequest {
            display_name: Some("Zoë 🐱 李".into()),
            ..req("alice", "tulip lantern")
        };
        assert!(validate_registration(&ok).is_ok());
    }

    #[test]
    fn token_hash_is_stable_hex() {
        assert_eq!(hash_token("abc").len(), 64);
        assert_eq!(hash_token("abc"), hash_token("abc"));
        assert_ne!(new_token(), new_token());
    }
}
