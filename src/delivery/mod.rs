//! The delivery engine: everything between "a client sent a message" and "every recipient's
//! device has it". It knows nothing of HTTP or WebSocket framing; handlers and the socket
//! task call it with typed requests and get typed results.
//!
//! - [`send`]: validation, rate limit, idempotent send, acknowledgement
//! - [`batcher`]: the single writer that commits sends in batches (where a message is persisted)
//! - [`push`]: online push to connected devices (offline recipients keep a pending record)
//! - [`resume`]: replay of what is waiting (the original `handleUserOnline`), for sockets and HTTP
//! - [`receipts`]: delivered and read, and the status updates they cause
//! - [`recall`]: recall with window and permission check
//! - [`retry`]: the failed-push state machine used by the scheduler
//! - [`sync`]: a client's `sync` (conversation tails after its resume points), bounded and ack-gated
//! - [`typing`]: typing notices, throttled per user and conversation

pub mod batcher;
pub mod conversations;
pub mod fanout;
pub mod paging;
pub mod push;
pub mod rate_limit;
pub mod recall;
pub mod receipts;
pub mod resume;
pub mod retry;
pub mod send;
pub mod sync;
pub mod typing;

use std::sync::Arc;

use crate::config::Config;
use crate::store::Store;
use crate::telemetry::Metrics;
pub use fanout::{frame, Fanout, Frame};

pub struct Delivery {
    pub store: Arc<dyn Store>,
    /// Where pushes go: the connections of this process, or of the whole cluster.
    pub fanout: Arc<dyn Fanout>,
    pub metrics: Arc<Metrics>,
    pub config: Arc<Config>,
    batcher: batcher::Batcher,
    limiter: rate_limit::RateLimiter,
    typing: typing::TypingThrottle,
}

impl Delivery {
    /// Must be called inside a tokio runtime: it starts the batching writer task.
    pub fn new(
        store: Arc<dyn Store>,
        fanout: Arc<dyn Fanout>,
        metrics: Arc<Metrics>,
        config: Arc<Config>,
    ) -> Arc<Delivery> {
        let batcher = batcher::Batcher::start(
            store.clone(),
            fanout.clone(),
            metrics.clone(),
            config.delivery.max_batch,
            std::time::Duration::from_millis(config.delivery.ack_linger_ms),
        );
        let limiter = rate_limit::RateLimiter::new(
            config.delivery.send_rate_per_sec,
            config.delivery.send_burst,
        );
        let typing = typing::TypingThrottle::new(std::time::Duration::from_millis(
            config.delivery.typing_interval_ms,
        ));
        Arc::new(Delivery {
            store,
            fanout,
            metrics,
            config,
            batcher,
            limiter,
            typing,
        })
    }
}

impl Delivery {
    /// The single writer answers (within two seconds): sends can commit.
    pub async fn writer_alive(&self) -> bool {
        self.batcher.alive(std::time::Duration::from_secs(2)).await
    }

    /// Most bytes one replay or sync page carries (see [`paging`]).
    pub fn page_bytes(&self) -> usize {
        (self.config.delivery.outbox_max_bytes / 4).max(16 * 1024)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
