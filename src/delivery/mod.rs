//! The delivery engine: everything between "a client sent a message" and "every recipient's
//! device has it". It knows nothing of HTTP or WebSocket framing; handlers and the socket
//! task call it with typed requests and get typed results.
//!
//! - [`send`]: validation, rate limit, idempotent send, acknowledgement
//! - [`batcher`]: the single writer that commits sends in batches (where a message is persisted)
//! - [`push`]: online push to connected devices (offline recipients keep a pending record)
//! - [`resume`]: replay of what is waiting (the original `handleUserOnline`), for sockets and HTTP
//! - [`receipts`]: delivered and read, and the status updates they cause
//! - [`changes`]: changes to existing messages through the writer, told to members after the commit
//! - [`recall`]: recall with window and permission check (a change)
//! - [`retry`]: the failed-push state machine used by the scheduler
//! - [`sync`]: a client's `sync` (each conversation's changes after its resume point), bounded and ack-gated
//! - [`heads`]: each node tells its connections the latest rev of what changed lately (lost frames)
//! - [`typing`]: typing notices, throttled per user and conversation
//! - [`membership`]: leaving a group and muting, with the frames they cause
//! - [`connections`]: what adapters may ask of users' connections (close on logout, diagnostics)
//!
//! The store and the fan-out are private: adapters act through the engine's methods, so
//! nothing reaches a socket or a table behind its back.

pub mod batcher;
pub mod changes;
pub mod connections;
pub mod conversations;
pub mod fanout;
pub mod heads;
pub mod membership;
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
pub use fanout::{frame, Fanout, Frame, Presence};

pub struct Delivery {
    store: Arc<dyn Store>,
    /// Where pushes go: the connections of this process, or of the whole cluster.
    fanout: Arc<dyn Fanout>,
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

    /// Makes new messages searchable, a chunk at a time, until none is left (SQLite; a no-op
    /// on PostgreSQL). The scheduler runs it off the send path.
    pub async fn index_search_backlog(&self) -> crate::error::AppResult<()> {
        let chunk = crate::store::SEARCH_INDEX_CHUNK;
        while self.store.index_search_backlog(chunk).await? == chunk as u64 {
            // Sends queued meanwhile go first.
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    /// Most bytes one replay or sync page carries (see [`paging`]).
    pub fn page_bytes(&self) -> usize {
        (self.config.delivery.outbox_max_bytes / 4).max(16 * 1024)
    }
}
