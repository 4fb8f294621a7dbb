//! Configuration: defaults → `courier.toml` (optional) → environment → command-line flags.
//! One typed [`Config`]; every key is listed in the README's configuration table.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// `sqlite://path/to/file.db` (created with its folder) or `postgres://user:password@host/db`.
    pub database_url: DatabaseUrl,
    /// PostgreSQL only: connections in the pool (SQLite uses one writer and eight readers).
    pub database_max_connections: u32,
    /// `nats://host:port`: run as one node of a cluster, pushing across nodes over NATS. Unset:
    /// a single node.
    pub nats_url: Option<String>,
    /// Folder with the built client (Trunk's `dist/`).
    pub dist_dir: PathBuf,
    /// Set the `Secure` attribute on the session cookie (behind HTTPS).
    pub secure_cookies: bool,
    /// Extra origins (`scheme://host[:port]`) allowed to open the WebSocket and to make
    /// state-changing API requests (the server's own origin always is).
    pub allowed_origins: Vec<String>,
    /// The origin browsers see, e.g. `https://chat.example.com` behind a TLS proxy. Unset: the
    /// request's `Host` with `https` when `secure_cookies` is on, `http` otherwise.
    pub public_origin: Option<String>,
    /// Where `/metrics` is served: its own listener, loopback-only by default. Empty disables it.
    pub metrics_addr: String,
    /// When set, `/metrics` is also served on the main listener to `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// Usernames whose accounts get the operator role (server-wide figures in `/api/diagnostics`,
    /// `/message-test`) — only accounts that exist when a name is first listed (src/operators.rs).
    pub operators: Vec<String>,
    pub session_ttl_days: i64,
    /// SQLite `synchronous` pragma: `full` (default: a commit survives power loss) or `normal`.
    pub sqlite_synchronous: String,
    pub delivery: DeliveryConfig,
    pub scheduler: SchedulerConfig,
    pub conversations: ConversationLimits,
    /// What keeps search from stalling anyone (`[search]`; http/search_limits.rs).
    pub search: SearchConfig,
    /// Abuse limits: login throttling, registration limits, the password-hashing queue, HTTP
    /// timeouts and WebSocket connections per user (`[limits]` in `courier.toml`).
    pub limits: LimitsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// How long after sending a message its sender may recall it.
    pub recall_window_secs: u64,
    /// Clients are told to send something this often.
    pub heartbeat_interval_secs: u64,
    /// A connection silent for this long is closed (half-open detection).
    pub heartbeat_timeout_secs: u64,
    /// A pushed message not acknowledged within this time marks its push record failed.
    pub ack_timeout_secs: u64,
    /// Frames queued per connection before it is treated as a slow consumer and disconnected.
    pub outbox_capacity: usize,
    /// Messages per replay page (offline drain and sync).
    pub replay_page_size: i64,
    /// Sustained sends per second allowed per user, and the burst above it.
    pub send_rate_per_sec: f64,
    pub send_burst: f64,
    /// Most sends committed in one transaction by the writer.
    pub max_batch: usize,
    /// How long acknowledgements with no send beside them wait for one to share its commit
    /// (0: commit them at once). An ack gates nobody's `sent`, a commit of its own costs an fsync
    /// the next send would wait behind.
    pub ack_linger_ms: u64,
    // --- per-connection bounds (one user must not be able to exhaust the server) ---
    /// Bytes queued per connection before it is treated as a slow consumer and disconnected.
    pub outbox_max_bytes: usize,
    /// Most messages one `sync` replays; past it `caught_up` says `more` and the client syncs again.
    pub sync_max_messages: i64,
    /// A user's `typing` notices are relayed at most once per conversation in this interval.
    pub typing_interval_ms: u64,
    /// Frames a connection may send per second (sustained) and in a burst; past that the
    /// server stops reading from it until the budget refills (the client is slowed, not closed).
    pub frame_rate_per_sec: f64,
    pub frame_burst: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    pub enabled: bool,
    /// The failed-push retry sweep runs this often.
    pub retry_interval_secs: u64,
    /// Push attempts before a record is terminally failed (it is still replayed on connect).
    pub max_retries: i64,
    /// Exponential backoff between retries: base · 2^(retry_count−1), capped.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// Local time of the daily cleanup of pushed records, `HH:MM`.
    pub cleanup_at: String,
    /// Pushed records older than this are deleted by the daily cleanup.
    pub retention_days: i64,
}

/// The database URL. Its `Debug` and `Display` hide the password, so it never reaches a log.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.clone();
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        match authority.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}{path}")
            }
            _ => url.clone(),
        }
    }
}

impl std::ops::Deref for DatabaseUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for DatabaseUrl {
    fn from(s: String) -> Self {
        DatabaseUrl(s)
    }
}

impl From<&str> for DatabaseUrl {
    fn from(s: &str) -> Self {
        DatabaseUrl(s.to_string())
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:3000".parse().expect("valid default address"),
            database_url: "sqlite://data/courier.db".into(),
            dist_dir: PathBuf::from("dist"),
            secure_cookies: false,
            allowed_origins: Vec::new(),
            public_origin: None,
            metrics_addr: "127.0.0.1:9464".to_string(),
            metrics_token: None,
            operators: Vec::new(),
            session_ttl_days: 30,
            sqlite_synchronous: "full".to_string(),
            database_max_connections: 16,
            nats_url: None,
            delivery: DeliveryConfig::default(),
            scheduler: SchedulerConfig::default(),
            conversations: ConversationLimits::default(),
            search: SearchConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            recall_window_secs: 120,
            heartbeat_interval_secs: 20,
            heartbeat_timeout_secs: 60,
            ack_timeout_secs: 30,
            outbox_capacity: 4096,
            replay_page_size: 500,
            send_rate_per_sec: 20.0,
            send_burst: 100.0,
            max_batch: 512,
            ack_linger_ms: 2,
            outbox_max_bytes: 8 * 1024 * 1024,
            sync_max_messages: 5000,
            typing_interval_ms: 2000,
            frame_rate_per_sec: 200.0,
            frame_burst: 400.0,
        }
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            retry_interval_secs: 300,
            max_retries: 5,
            backoff_base_secs: 60,
            backoff_max_secs: 3600,
            cleanup_at: "02:00".to_string(),
            retention_days: 7,
        }
    }
}

// --- conversation creation limits (security review #6) ---
/// Per-user token buckets for creating conversations: one user must not be able to put
/// everyone into group after group, nor open a direct conversation with every user. Reopening
/// an existing direct conversation is free.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConversationLimits {
    /// Groups a user may create in a burst, and how many per second after that.
    pub group_create_burst: f64,
    pub group_create_rate_per_sec: f64,
    /// New direct conversations a user may start in a burst, and how many per second after that.
    pub direct_create_burst: f64,
    pub direct_create_rate_per_sec: f64,
}

impl Default for ConversationLimits {
    fn default() -> Self {
        ConversationLimits {
            group_create_burst: 10.0,
            group_create_rate_per_sec: 0.1,
            direct_create_burst: 30.0,
            direct_create_rate_per_sec: 0.2,
        }
    }
}

/// Search limits (security review of issue 21, #1): one user's searches can neither take the
/// server's CPU nor keep anyone else from sending, reading or searching.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Searches a user may make in a burst, and per second after that (typing pauses 250 ms
    /// before the client searches, so a person typing makes at most four a second).
    pub burst: f64,
    pub rate_per_sec: f64,
    /// Searches running at once on this node (each user at most one of them).
    pub at_once: usize,
    /// Searches that may wait for a running one to end, and how long each may wait; past
    /// either they are answered 503 at once.
    pub queue: usize,
    pub queue_wait_ms: u64,
    /// Longest one search may run before it is stopped (503 `search_timeout`).
    pub deadline_ms: u64,
    /// A refused search (429, or 503 with a full queue) is answered after this pause (or the
    /// `Retry-After`, if shorter), so a client that ignores `Retry-After` gets at most a few
    /// refusals a second per connection instead of thousands; at most `refusals_held` wait.
    pub refusal_hold_ms: u64,
    pub refusals_held: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            burst: 20.0,
            rate_per_sec: 5.0,
            at_once: 2,
            queue: 32,
            queue_wait_ms: 2000,
            deadline_ms: 2000,
            refusal_hold_ms: 500,
            refusals_held: 1024,
        }
    }
}

// --- abuse limits (security review #4, #7, #14) ---
/// Limits that keep one client from guessing passwords, exhausting the password-hashing
/// workers or holding connections open. A client address is the TCP peer's: behind a reverse
/// proxy every client shares the proxy's address, so raise the per-address limits there.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Failed logins per username before each further attempt must wait (exponential backoff).
    pub login_free_failures: u32,
    /// Failed logins per client address before its attempts must wait.
    pub login_free_failures_per_addr: u32,
    /// The first wait after the free failures; it doubles with each further failure, up to
    /// `login_backoff_max_secs`. A counter is forgotten after twice that long without a failure.
    pub login_backoff_base_ms: u64,
    pub login_backoff_max_secs: u64,
    /// Registrations allowed per client address per hour (a token bucket: they refill evenly).
    pub registrations_per_addr_per_hour: u32,
    /// Usernames and addresses each throttle tracks; past this the least recently failed are
    /// forgotten, so a flood of names cannot grow memory without bound.
    pub throttle_max_entries: usize,
    /// Logins and registrations that may wait for a password-hashing worker (one per core);
    /// past this they are answered 503 at once.
    pub hashing_queue: usize,
    /// A connection must send a complete request head within this time of opening, or of its
    /// previous response (so this is also how long an idle keep-alive connection stays open).
    pub http_header_timeout_secs: u64,
    /// Longest an HTTP request may take, body included (an open WebSocket is not affected).
    pub http_request_timeout_secs: u64,
    /// Open WebSockets per user; a new one past this closes the user's oldest (code 4009).
    pub ws_connections_per_user: usize,
    /// Open TCP connections per client address (0: no cap). Loopback peers are exempt, so a
    /// proxy on the same host is never capped; raise it (or set 0) for a proxy on another host.
    pub connections_per_addr: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            login_free_failures: 5,
            login_free_failures_per_addr: 20,
            login_backoff_base_ms: 1000,
            login_backoff_max_secs: 900,
            registrations_per_addr_per_hour: 5,
            throttle_max_entries: 10_000,
            hashing_queue: 32,
            http_header_timeout_secs: 10,
            http_request_timeout_secs: 30,
            ws_connections_per_user: 20,
            connections_per_addr: 512,
        }
    }
}
// --- end of abuse limits ---

impl DeliveryConfig {
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs(self.heartbeat_interval_secs.max(1))
    }
    pub fn heartbeat_timeout(&self) -> Duration {
        Duration::from_secs(self.heartbeat_timeout_secs.max(1))
    }
    pub fn ack_timeout(&self) -> Duration {
        Duration::from_secs(self.ack_timeout_secs.max(1))
    }
}

impl SchedulerConfig {
    /// Parses `cleanup_at` into (hour, minute).
    pub fn cleanup_time(&self) -> Result<(u32, u32), String> {
        let (h, m) = self.cleanup_at.split_once(':').ok_or_else(|| {
            format!(
                "scheduler.cleanup_at must be HH:MM, got {:?}",
                self.cleanup_at
            )
        })?;
        let h: u32 = h
            .trim()
            .parse()
            .map_err(|_| format!("bad hour in cleanup_at {:?}", self.cleanup_at))?;
        let m: u32 = m
            .trim()
            .parse()
            .map_err(|_| format!("bad minute in cleanup_at {:?}", self.cleanup_at))?;
        if h > 23 || m > 59 {
            return Err(format!("cleanup_at out of range: {:?}", self.cleanup_at));
        }
        Ok((h, m))
    }
}

/// Command-line flags: the last layer. Every flag is optional and overrides the layers below.
#[derive(Debug, Default, Parser)]
#[command(
    name = "courier",
    version,
    about = "Courier: self-hosted chat that never loses a message"
)]
pub struct Flags {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Configuration file (default: ./courier.toml if present; env COURIER_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:3000.
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Database URL, e.g. sqlite://data/courier.db.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Folder holding the built client.
    #[arg(long)]
    pub dist_dir: Option<PathBuf>,
    /// Disable the retry sweep and daily cleanup.
    #[arg(long)]
    pub no_scheduler: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve Courier (what `courier` with no command does).
    Serve,
    /// Administration on the host, against the configured database (works while the server runs).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Give the operator role to an existing account.
    GrantOperator { username: String },
    /// Withdraw the operator role from an account.
    RevokeOperator { username: String },
    /// List the accounts holding the operator role.
    ListOperators,
}

impl Config {
    /// Builds the configuration from all layers. `env` is injected so tests need not touch the
    /// process environment.
    pub fn load(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let file = flags
            .config
            .clone()
            .or_else(|| env("COURIER_CONFIG").map(PathBuf::from));
        let mut config = match file {
            Some(path) => Config::from_file(&path)?,
            None if Path::new("courier.toml").exists() => {
                Config::from_file(Path::new("courier.toml"))?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        if let Some(addr) = flags.addr {
            config.addr = addr;
        }
        if let Some(url) = &flags.database_url {
            config.database_url = url.clone().into();
        }
        if let Some(dir) = &flags.dist_dir {
            config.dist_dir = dir.clone();
        }
        if flags.no_scheduler {
            config.scheduler.enabled = false;
        }
        config.scheduler.cleanup_time()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid config file {}: {e}", path.display()))
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        fn parse<T: std::str::FromStr>(key: &str, v: String) -> Result<T, String> {
            v.trim()
                .parse()
                .map_err(|_| format!("environment variable {key} has an invalid value: {v:?}"))
        }
        macro_rules! set {
            ($key:literal, $field:expr) => {
                if let Some(v) = env($key) {
                    $field = parse($key, v)?;
                }
            };
        }
        set!("COURIER_ADDR", self.addr);
        if let Some(v) = env("DATABASE_URL") {
            self.database_url = v.into();
        }
        if let Some(v) = env("COURIER_DIST_DIR") {
            self.dist_dir = PathBuf::from(v);
        }
        set!("COURIER_SECURE_COOKIES", self.secure_cookies);
        if let Some(v) = env("COURIER_ALLOWED_ORIGINS") {
            self.allowed_origins = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = env("COURIER_PUBLIC_ORIGIN") {
            self.public_origin =
                Some(v.trim().trim_end_matches('/').to_string()).filter(|s| !s.is_empty());
        }
        if let Some(v) = env("COURIER_METRICS_ADDR") {
            self.metrics_addr = v.trim().to_string();
        }
        if let Some(v) = env("COURIER_METRICS_TOKEN") {
            self.metrics_token = Some(v).filter(|s| !s.is_empty());
        }
        if let Some(v) = env("COURIER_OPERATORS") {
            self.operators = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        set!("COURIER_SESSION_TTL_DAYS", self.session_ttl_days);
        set!(
            "COURIER_DATABASE_MAX_CONNECTIONS",
            self.database_max_connections
        );
        if let Some(v) = env("COURIER_NATS_URL") {
            self.nats_url = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = env("COURIER_SQLITE_SYNCHRONOUS") {
            self.sqlite_synchronous = v;
        }
        let d = &mut self.delivery;
        set!("COURIER_RECALL_WINDOW_SECS", d.recall_window_secs);
        set!("COURIER_HEARTBEAT_INTERVAL_SECS", d.heartbeat_interval_secs);
        set!("COURIER_HEARTBEAT_TIMEOUT_SECS", d.heartbeat_timeout_secs);
        set!("COURIER_ACK_TIMEOUT_SECS", d.ack_timeout_secs);
        set!("COURIER_OUTBOX_CAPACITY", d.outbox_capacity);
        set!("COURIER_REPLAY_PAGE_SIZE", d.replay_page_size);
        set!("COURIER_SEND_RATE_PER_SEC", d.send_rate_per_sec);
        set!("COURIER_SEND_BURST", d.send_burst);
        set!("COURIER_MAX_BATCH", d.max_batch);
        set!("COURIER_ACK_LINGER_MS", d.ack_linger_ms);
        set!("COURIER_OUTBOX_MAX_BYTES", d.outbox_max_bytes);
        set!("COURIER_SYNC_MAX_MESSAGES", d.sync_max_messages);
        set!("COURIER_TYPING_INTERVAL_MS", d.typing_interval_ms);
        set!("COURIER_FRAME_RATE_PER_SEC", d.frame_rate_per_sec);
        set!("COURIER_FRAME_BURST", d.frame_burst);
        let s = &mut self.scheduler;
        set!("COURIER_SCHEDULER_ENABLED", s.enabled);
        set!("COURIER_RETRY_INTERVAL_SECS", s.retry_interval_secs);
        set!("COURIER_MAX_RETRIES", s.max_retries);
        set!("COURIER_BACKOFF_BASE_SECS", s.backoff_base_secs);
        set!("COURIER_BACKOFF_MAX_SECS", s.backoff_max_secs);
        if let Some(v) = env("COURIER_CLEANUP_AT") {
            s.cleanup_at = v;
        }
        set!("COURIER_RETENTION_DAYS", s.retention_days);
        // --- abuse limits ---
        let l = &mut self.limits;
        set!("COURIER_LOGIN_FREE_FAILURES", l.login_free_failures);
        set!(
            "COURIER_LOGIN_FREE_FAILURES_PER_ADDR",
            l.login_free_failures_per_addr
        );
        set!("COURIER_LOGIN_BACKOFF_BASE_MS", l.login_backoff_base_ms);
        set!("COURIER_LOGIN_BACKOFF_MAX_SECS", l.login_backoff_max_secs);
        set!(
            "COURIER_REGISTRATIONS_PER_ADDR_PER_HOUR",
            l.registrations_per_addr_per_hour
        );
        set!("COURIER_THROTTLE_MAX_ENTRIES", l.throttle_max_entries);
        set!("COURIER_HASHING_QUEUE", l.hashing_queue);
        set!(
            "COURIER_HTTP_HEADER_TIMEOUT_SECS",
            l.http_header_timeout_secs
        );
        set!(
            "COURIER_HTTP_REQUEST_TIMEOUT_SECS",
            l.http_request_timeout_secs
        );
        set!("COURIER_WS_CONNECTIONS_PER_USER", l.ws_connections_per_user);
        set!("COURIER_CONNECTIONS_PER_ADDR", l.connections_per_addr);
        let q = &mut self.search;
        set!("COURIER_SEARCH_BURST", q.burst);
        set!("COURIER_SEARCH_RATE_PER_SEC", q.rate_per_sec);
        set!("COURIER_SEARCH_AT_ONCE", q.at_once);
        set!("COURIER_SEARCH_QUEUE", q.queue);
        set!("COURIER_SEARCH_QUEUE_WAIT_MS", q.queue_wait_ms);
        set!("COURIER_SEARCH_DEADLINE_MS", q.deadline_ms);
        set!("COURIER_SEARCH_REFUSAL_HOLD_MS", q.refusal_hold_ms);
        set!("COURIER_SEARCH_REFUSALS_HELD", q.refusals_held);
        // --- conversation creation limits ---
        let c = &mut self.conversations;
        set!("COURIER_GROUP_CREATE_BURST", c.group_create_burst);
        set!(
            "COURIER_GROUP_CREATE_RATE_PER_SEC",
            c.group_create_rate_per_sec
        );
        set!("COURIER_DIRECT_CREATE_BURST", c.direct_create_burst);
        set!(
            "COURIER_DIRECT_CREATE_RATE_PER_SEC",
            c.direct_create_rate_per_sec
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "addr = \"127.0.0.1:4000\"\n[delivery]\nrecall_window_secs = 30\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(file),
            dist_dir: Some("web".into()),
            ..Default::default()
        };
        let env = |k: &str| match k {
            "COURIER_ADDR" => Some("127.0.0.1:5000".to_string()),
            "COURIER_MAX_RETRIES" => Some("9".to_string()),
            _ => None,
        };
        let c = Config::load(&flags, &env).unwrap();
        assert_eq!(c.addr.port(), 5000, "env beats file");
        assert_eq!(c.delivery.recall_window_secs, 30, "file beats default");
        assert_eq!(c.scheduler.max_retries, 9);
        assert_eq!(c.dist_dir, PathBuf::from("web"), "flag beats all");
        assert_eq!(c.database_url.as_str(), "sqlite://data/courier.db");
    }

    #[test]
    fn database_passwords_never_show() {
        let url =
            DatabaseUrl::from("postgres://courier:s3cret@db.example:5432/courier?sslmode=require");
        let config = Config {
            database_url: url.clone(),
            ..Config::default()
        };
        for shown in [format!("{url}"), format!("{url:?}"), format!("{config:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
        }
        assert_eq!(
            url.redacted(),
            "postgres://courier:***@db.example:5432/courier?sslmode=require"
        );
        assert_eq!(
            url.as_str(),
            "postgres://courier:s3cret@db.example:5432/courier?sslmode=require"
        );
        let plain = DatabaseUrl::from("sqlite://data/courier.db");
        assert_eq!(plain.redacted(), "sqlite://data/courier.db");
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let env = |k: &str| (k == "COURIER_ADDR").then(|| "nope".to_string());
        let err = Config::load(&Flags::default(), &env).unwrap_err();
        assert!(err.contains("COURIER_ADDR"), "{err}");
        let env = |k: &str| (k == "COURIER_CLEANUP_AT").then(|| "25:00".to_string());
        assert!(Config::load(&Flags::default(), &env).is_err());
    }
}
