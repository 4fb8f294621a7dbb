//! Who is connected where, and fan-out to a user's connections.
//!
//! Each connection has a bounded outbox. A push never waits: if the outbox is full the
//! connection is a slow consumer and is told to close; the message stays pending in the
//! database and is replayed when the client reconnects. Nothing is ever dropped silently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use app::model::{ConnectionInfo, MessageId, UserId};
use tokio::sync::{mpsc, Notify};

use crate::telemetry::Metrics;

/// One serialized server frame, shared by every connection it is sent to.
pub type Frame = Arc<str>;

pub struct ConnHandle {
    pub id: u64,
    pub user_id: UserId,
    pub connected_at: i64,
    pub last_seen_at: AtomicI64,
    outbox: mpsc::Sender<Frame>,
    /// Notified when the hub gives up on this connection (slow consumer).
    pub kill: Notify,
    /// Messages pushed to this connection and not yet acknowledged, with when they were sent.
    pub in_flight: Mutex<HashMap<MessageId, Instant>>,
}

impl ConnHandle {
    /// Queues a frame. Returns false (and asks the connection to close) when the outbox is full.
    pub fn send(&self, frame: &Frame) -> bool {
        match self.outbox.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    conn = self.id,
                    user = self.user_id,
                    "slow consumer: outbox full, disconnecting"
                );
                self.kill.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues a frame carrying messages that need an acknowledgement, and tracks them in flight.
    pub fn deliver(&self, frame: &Frame, ids: &[MessageId]) -> bool {
        {
            let now = Instant::now();
            let mut f = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            for id in ids {
                f.entry(*id).or_insert(now);
            }
        }
        self.send(frame)
    }

    pub fn in_flight_count(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

pub struct Hub {
    users: RwLock<HashMap<UserId, Vec<Arc<ConnHandle>>>>,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
}

impl Hub {
    pub fn new(metrics: Arc<Metrics>) -> Hub {
        Hub {
            users: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            metrics,
        }
    }

    /// Registers a connection. The bool is true when the user just came online.
    pub fn register(
        &self,
        user_id: UserId,
        outbox: mpsc::Sender<Frame>,
        now: i64,
    ) -> (Arc<ConnHandle>, bool) {
        let handle = Arc::new(ConnHandle {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user_id,
            connected_at: now,
            last_seen_at: AtomicI64::new(now),
            outbox,
            kill: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
        });
        let mut users = self.users.write().unwrap_or_else(|p| p.into_inner());
        let conns = users.entry(user_id).or_default();
        let came_online = conns.is_empty();
        conns.push(handle.clone());
        self.metrics.connections.inc();
        if came_online {
            self.metrics.online_users.inc();
        }
        (handle, came_online)
    }

    /// Removes a connection. Returns true when the user has no connection left.
    pub fn unregister(&self, handle: &ConnHandle) -> bool {
        let mut users = self.users.write().unwrap_or_else(|p| p.into_inner());
        let Some(conns) = users.get_mut(&handle.user_id) else {
            return false;
        };
        let before = conns.len();
        conns.retain(|c| c.id != handle.id);
        if conns.len() < before {
            self.metrics.connections.dec();
        }
        if conns.is_empty() {
            users.remove(&handle.user_id);
            self.metrics.online_users.dec();
            return true;
        }
        false
    }

    pub fn connections(&self, user_id: UserId) -> Vec<Arc<ConnHandle>> {
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        users.get(&user_id).cloned().unwrap_or_default()
    }

    pub fn is_online(&self, user_id: UserId) -> bool {
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        users.get(&user_id).is_some_and(|c| !c.is_empty())
    }

    /// Sends a frame to every connection of `user_id` except `except`. Returns how many got it.
    pub fn send_to_user(&self, user_id: UserId, frame: &Frame, except: Option<u64>) -> usize {
        self.connections(user_id)
            .iter()
            .filter(|c| Some(c.id) != except && c.send(frame))
            .count()
    }

    /// Sends a frame that needs acknowledgement to every connection of `user_id`.
    pub fn deliver_to_user(&self, user_id: UserId, frame: &Frame, ids: &[MessageId]) -> usize {
        self.connections(user_id)
            .iter()
            .filter(|c| c.deliver(frame, ids))
            .count()
    }

    /// A device of `user_id` acknowledged these: none of the user's connections waits for them now.
    pub fn settle(&self, user_id: UserId, ids: &[MessageId]) {
        for c in self.connections(user_id) {
            let mut f = c.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            for id in ids {
                f.remove(id);
            }
        }
    }

    pub fn connection_infos(&self, user_id: UserId) -> Vec<ConnectionInfo> {
        self.connections(user_id)
            .iter()
            .map(|c| ConnectionInfo {
                connection_id: c.id,
                connected_at: c.connected_at,
                last_seen_at: c.last_seen_at.load(Ordering::Relaxed),
                in_flight: c.in_flight_count() as i64,
            })
            .collect()
    }

    /// (online users, open connections)
    pub fn counts(&self) -> (i64, i64) {
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        (
            users.len() as i64,
            users.values().map(|c| c.len() as i64).sum(),
        )
    }
}
