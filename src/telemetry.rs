//! Logs (tracing) and metrics (Prometheus text format, served at `GET /metrics`).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber (RUST_LOG, default `info`). Safe to call twice.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .try_init();
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    pub op: &'static str,
}

/// A stage of a send: `queue`, `begin`, `statements`, `commit`, `push`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    pub stage: &'static str,
}

/// Every metric Courier exports. Cheap to update from any task.
pub struct Metrics {
    registry: Registry,
    pub messages_sent: Counter,
    pub duplicates_absorbed: Counter,
    /// live = offered to a connected recipient; acknowledged = a device confirmed; failed = not
    /// acknowledged in time; replayed = sent during a resume; retried = re-pushed by the sweep;
    /// slow_consumer = a connection dropped because its outbox was full.
    pub pushes: Family<OutcomeLabel, Counter>,
    pub send_to_sent: Histogram,
    pub send_to_delivered: Histogram,
    pub drain_seconds: Histogram,
    pub db_query: Family<OpLabel, Histogram>,
    /// SQL statements run by the store operations that count theirs (`conversations`,
    /// `conversation`, `conversation_views`): a fixed number per call, whatever the data.
    pub db_statements: Family<OpLabel, Counter>,
    /// Where a send's time goes, stage by stage (see [`Metrics::observe_stage`]).
    pub send_stage: Family<StageLabel, Histogram>,
    pub connections: Gauge,
    pub online_users: Gauge,
    pub backlog_pending: Gauge,
    pub backlog_failed: Gauge,
    pub cleanup_removed: Counter,
    pub retry_sweeps: Counter,
    /// Cluster: publishes to NATS that failed or found the queue full (the records stay pending).
    pub cluster_publish_failed: Counter,
    pub rate_limited: Counter,
    // --- conversation creation limits ---
    /// Conversation creations (group or new direct) refused by the per-user limit, by kind.
    pub creations_rate_limited: Family<OutcomeLabel, Counter>,
    /// Searches refused or stopped (http/search_limits): `rate_limited`, `busy`, `timeout`.
    pub searches_refused: Family<OutcomeLabel, Counter>,
    // --- per-connection protections ---
    /// Typing notices dropped by the per-(user, conversation) throttle.
    pub typing_dropped: Counter,
    /// Times a connection's reading paused because it used up its frame budget.
    pub frames_throttled: Counter,
    /// Connections closed by the server, by reason (slow consumer, session ended, …).
    pub closed_by_server: Family<OutcomeLabel, Counter>,
    /// Panics caught in the writer or the scheduler (the task carried on).
    pub task_panics: Family<OutcomeLabel, Counter>,
    // --- login and registration abuse (security review #4) ---
    /// Logins refused for a wrong password or an unknown user.
    pub login_failures: Counter,
    /// Logins (op="login") and registrations (op="register") refused with 429 by the throttles.
    pub auth_throttled: Family<OpLabel, Counter>,
    /// Logins and registrations let into the password-hashing queue, and those refused with 503
    /// because it was full.
    pub hashing_admitted: Counter,
    pub hashing_rejected: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("courier");
        let m = Metrics {
            messages_sent: Counter::default(),
            duplicates_absorbed: Counter::default(),
            pushes: Family::default(),
            send_to_sent: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            send_to_delivered: Histogram::new(exponential_buckets(0.0005, 2.0, 24)),
            drain_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 20)),
            db_query: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.00002, 2.0, 20))
            }),
            db_statements: Family::default(),
            // 5 µs … 10 s: the short stages are a few microseconds.
            send_stage: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000005, 2.0, 22))
            }),
            connections: Gauge::default(),
            online_users: Gauge::default(),
            backlog_pending: Gauge::default(),
            backlog_failed: Gauge::default(),
            cleanup_removed: Counter::default(),
            retry_sweeps: Counter::default(),
            cluster_publish_failed: Counter::default(),
            rate_limited: Counter::default(),
            creations_rate_limited: Family::default(),
            searches_refused: Family::default(),
            typing_dropped: Counter::default(),
            frames_throttled: Counter::default(),
            closed_by_server: Family::default(),
            task_panics: Family::default(),
            login_failures: Counter::default(),
            auth_throttled: Family::default(),
            hashing_admitted: Counter::default(),
            hashing_rejected: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "messages_sent",
            "Messages committed (new, not duplicates)",
            m.messages_sent.clone(),
        );
        registry.register(
            "duplicates_absorbed",
            "Sends with an already committed client_msg_id",
            m.duplicates_absorbed.clone(),
        );
        registry.register(
            "pushes",
            "Push attempts and acknowledgements by outcome",
            m.pushes.clone(),
        );
        registry.register(
            "send_to_sent_seconds",
            "Time from receiving a send to its commit",
            m.send_to_sent.clone(),
        );
        registry.register(
            "send_stage_seconds",
            "Where a send's time goes: queue (per send: enqueued until its batch starts), then per batch \
             begin, statements, commit (the fsync) and push (to the recipients' connections)",
            m.send_stage.clone(),
        );
        registry.register(
            "send_to_delivered_seconds",
            "Time from commit to delivery to every recipient",
            m.send_to_delivered.clone(),
        );
        registry.register(
            "drain_seconds",
            "Time from connect to caught_up for offline replays",
            m.drain_seconds.clone(),
        );
        registry.register(
            "db_query_seconds",
            "Database operation time",
            m.db_query.clone(),
        );
        registry.register(
            "db_statements",
            "SQL statements run by a store operation (those that count them)",
            m.db_statements.clone(),
        );
        registry.register(
            "connections",
            "Open WebSocket connections",
            m.connections.clone(),
        );
        registry.register(
            "online_users",
            "Users with at least one open connection",
            m.online_users.clone(),
        );
        registry.register(
            "offline_backlog",
            "Push records pending (offline backlog)",
            m.backlog_pending.clone(),
        );
        registry.register(
            "failed_push_records",
            "Push records in the failed state",
            m.backlog_failed.clone(),
        );
        registry.register(
            "cleanup_removed_records",
            "Pushed records removed by the daily cleanup",
            m.cleanup_removed.clone(),
        );
        registry.register("retry_sweeps", "Retry sweeps run", m.retry_sweeps.clone());
        registry.register(
            "cluster_publish_failed",
            "Publishes to NATS that failed or were dropped (the push records stay pending)",
            m.cluster_publish_failed.clone(),
        );
        registry.register(
            "rate_limited",
            "Sends refused by the per-user rate limit",
            m.rate_limited.clone(),
        );
        registry.register(
            "typing_dropped",
            "Typing notices dropped by the per-user, per-conversation throttle",
            m.typing_dropped.clone(),
        );
        registry.register(
            "frames_throttled",
            "Pauses in reading a connection that used up its frame budget",
            m.frames_throttled.clone(),
        );
        registry.register(
            "connections_closed_by_server",
            "Connections the server closed, by reason",
            m.closed_by_server.clone(),
        );
        registry.register(
            "task_panics",
            "Panics caught in background tasks (writer, scheduler), which carried on",
            m.task_panics.clone(),
        );
        registry.register(
            "login_failures",
            "Logins refused for a wrong password or an unknown user",
            m.login_failures.clone(),
        );
        registry.register(
            "auth_throttled",
            "Logins and registrations refused with 429 by the per-username and per-address throttles",
            m.auth_throttled.clone(),
        );
        registry.register(
            "password_hashing_admitted",
            "Logins and registrations let into the password-hashing queue",
            m.hashing_admitted.clone(),
        );
        registry.register(
            "password_hashing_rejected",
            "Logins and registrations refused with 503 because the password-hashing queue was full",
            m.hashing_rejected.clone(),
        );
        registry.register(
            "conversation_creations_rate_limited",
            "Group or direct conversation creations refused by the per-user limit",
            m.creations_rate_limited.clone(),
        );
        registry.register(
            "searches_refused",
            "Searches refused by the rate limit or the concurrency cap, or stopped at the deadline",
            m.searches_refused.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn push(&self, outcome: &'static str, n: u64) {
        self.pushes
            .get_or_create(&OutcomeLabel { outcome })
            .inc_by(n);
    }

    /// One stage of a send ([`StageLabel`]); per-batch stages are observed once per batch.
    pub fn observe_stage(&self, stage: &'static str, d: Duration) {
        self.send_stage
            .get_or_create(&StageLabel { stage })
            .observe(d.as_secs_f64());
    }

    /// `n` SQL statements run by one call of the store operation `op`.
    pub fn count_db_statements(&self, op: &'static str, n: u64) {
        self.db_statements.get_or_create(&OpLabel { op }).inc_by(n);
    }

    pub fn observe_db(&self, op: &'static str, d: Duration) {
        self.db_query
            .get_or_create(&OpLabel { op })
            .observe(d.as_secs_f64());
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics encoding failed");
        }
        out
    }
}
