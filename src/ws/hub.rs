//! Who is connected where, and fan-out to a user's connections.
//!
//! Each connection has an outbox bounded in frames and bytes ([`super::outbox`]). A push never
//! waits: if the outbox is full the connection is a slow consumer and is told to close; the
//! message stays pending in the database and is replayed when the client reconnects. Nothing is
//! ever dropped silently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use app::model::{ConnectionInfo, MessageId, UserId};
use tokio::sync::{mpsc, oneshot, Notify};

use super::outbox::{Outbox, PushError};
pub use crate::delivery::Frame;
use crate::delivery::{Fanout, Presence};
use crate::telemetry::Metrics;

/// Why the server closes a connection (sent as the WebSocket close reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The outbox passed its frame or byte bound.
    SlowConsumer,
    /// The session was logged out, revoked or expired.
    SessionEnded,
    /// The user opened more connections than allowed; the oldest goes.
    TooManyConnections,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::SlowConsumer => "slow consumer",
            CloseReason::SessionEnded => "session ended",
            CloseReason::TooManyConnections => "too many connections",
        }
    }
}

pub struct ConnHandle {
    pub id: u64,
    pub user_id: UserId,
    /// SHA-256 of the session token the socket was opened with (to close it on logout).
    pub session: String,
    pub connected_at: i64,
    pub last_seen_at: AtomicI64,
    outbox: Outbox,
    /// Set once, when the server decides to close this connection; `kill` wakes its task.
    close_reason: OnceLock<CloseReason>,
    pub kill: Notify,
    /// Messages pushed to this connection and not yet acknowledged, with when they were sent.
    pub in_flight: Mutex<HashMap<MessageId, Instant>>,
}

impl ConnHandle {
    /// Queues a frame. Returns false (and asks the connection to close) when the outbox is full.
    pub fn send(&self, frame: &Frame) -> bool {
        match self.outbox.push(frame) {
            Ok(()) => true,
            Err(PushError::Full) => {
                if self.close_reason.get().is_none() {
                    tracing::warn!(
                        conn = self.id,
                        user = self.user_id,
                        queued_bytes = self.outbox.queued_bytes(),
                        "slow consumer: outbox full, disconnecting"
                    );
                }
                self.close(CloseReason::SlowConsumer);
                false
            }
            Err(PushError::Closed) => false,
        }
    }

    /// Asks the connection's task to close the socket (the first reason given wins).
    pub fn close(&self, reason: CloseReason) {
        let _ = self.close_reason.set(reason);
        self.kill.notify_one();
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.close_reason.get().copied()
    }

    pub fn queued_bytes(&self) -> usize {
        self.outbox.queued_bytes()
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
    /// Most open connections per user (see [`Hub::with_connection_cap`]).
    max_per_user: usize,
    /// In a cluster: who comes online here and who leaves (the NATS fan-out subscribes for them).
    presence: Option<mpsc::UnboundedSender<Presence>>,
}

/// A registered connection.
pub struct Registered {
    pub handle: Arc<ConnHandle>,
    /// The user had no other connection on this node.
    pub came_online: bool,
    /// In a cluster, when the user came online here: resolves once frames from other nodes
    /// reach this node (wait for it before replaying, so nothing falls between the two).
    pub subscribed: Option<oneshot::Receiver<()>>,
}

impl Hub {
    pub fn new(metrics: Arc<Metrics>) -> Hub {
        Hub {
            users: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            metrics,
            max_per_user: usize::MAX,
            presence: None,
        }
    }

    /// One node of a cluster: connection ids carry the node id (unique across nodes), and
    /// comings and goings are reported on `presence`.
    pub fn in_cluster(mut self, node: u32, presence: mpsc::UnboundedSender<Presence>) -> Hub {
        self.next_id = AtomicU64::new((u64::from(node) << 32) | 1);
        self.presence = Some(presence);
        self
    }

    /// At most `cap` open connections per user: registering one more closes the user's oldest
    /// (close code 4009, "too many connections").
    pub fn with_connection_cap(mut self, cap: usize) -> Hub {
        self.max_per_user = cap.max(1);
        self
    }

    /// Registers a connection. `greeting` (the `welcome`, made from the connection's id) is
    /// queued before the connection can be found, so no push can ever come before it.
    pub fn register(
        &self,
        user_id: UserId,
        session: String,
        outbox: Outbox,
        now: i64,
        greeting: impl FnOnce(u64) -> Frame,
    ) -> Registered {
        let handle = Arc::new(ConnHandle {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user_id,
            session,
            connected_at: now,
            last_seen_at: AtomicI64::new(now),
            outbox,
            close_reason: OnceLock::new(),
            kill: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
        });
        // Into an empty outbox nobody else can reach yet: this push cannot fail or be overtaken.
        handle.send(&greeting(handle.id));
        let mut users = self.users.write().unwrap_or_else(|p| p.into_inner());
        let conns = users.entry(user_id).or_default();
        let came_online = conns.is_empty();
        conns.push(handle.clone());
        // Over the cap: close the oldest (connections already closing do not count).
        let open = conns.iter().filter(|c| c.close_reason().is_none()).count();
        for c in conns
            .iter()
            .filter(|c| c.close_reason().is_none())
            .take(open.saturating_sub(self.max_per_user))
        {
            tracing::info!(
                user = user_id,
                conn = c.id,
                "too many connections: closing the oldest"
            );
            c.close(CloseReason::TooManyConnections);
        }
        self.metrics.connections.inc();
        let mut subscribed = None;
        if came_online {
            self.metrics.online_users.inc();
            if let Some(p) = &self.presence {
                let (ready, wait) = oneshot::channel();
                // Sent under the lock: events of one user stay in order.
                if p.send(Presence::Online {
                    user: user_id,
                    ready,
                })
                .is_ok()
                {
                    subscribed = Some(wait);
                }
            }
        }
        Registered {
            handle,
            came_online,
            subscribed,
        }
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
            if let Some(p) = &self.presence {
                let _ = p.send(Presence::Offline {
                    user: handle.user_id,
                });
            }
            return true;
        }
        false
    }

    pub fn connections(&self, user_id: UserId) -> Vec<Arc<ConnHandle>> {
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        users.get(&user_id).cloned().unwrap_or_default()
    }
}

/// The local fan-out: the connections of this process.
impl Fanout for Hub {
    /// A single node's connections are all here.
    fn send_here(&self, user_id: UserId, frame: &Frame) -> usize {
        self.send_to_user(user_id, frame, None)
    }

    fn is_online(&self, user_id: UserId) -> bool {
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        users.get(&user_id).is_some_and(|c| !c.is_empty())
    }

    /// Sends a frame to every connection of `user_id` except `except`. Returns how many got it.
    fn send_to_user(&self, user_id: UserId, frame: &Frame, except: Option<u64>) -> usize {
        self.connections(user_id)
            .iter()
            .filter(|c| Some(c.id) != except && c.send(frame))
            .count()
    }

    /// Sends a frame that needs acknowledgement to every connection of `user_id`.
    fn deliver_to_user(&self, user_id: UserId, frame: &Frame, ids: &[MessageId]) -> usize {
        self.connections(user_id)
            .iter()
            .filter(|c| c.deliver(frame, ids))
            .count()
    }

    /// A device of `user_id` acknowledged these: none of the user's connections waits for them now.
    fn settle(&self, user_id: UserId, ids: &[MessageId]) {
        for c in self.connections(user_id) {
            let mut f = c.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            for id in ids {
                f.remove(id);
            }
        }
    }

    /// Closes every connection opened with this session (logout). Returns how many.
    fn close_session(&self, session: &str) -> usize {
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for c in users.values().flatten().filter(|c| c.session == session) {
            c.close(CloseReason::SessionEnded);
            n += 1;
        }
        n
    }

    /// Closes every connection of a user (log out everywhere, password change). Returns how many.
    fn close_user(&self, user_id: UserId) -> usize {
        let conns = self.connections(user_id);
        for c in &conns {
            c.close(CloseReason::SessionEnded);
        }
        conns.len()
    }

    fn connection_infos(&self, user_id: UserId) -> Vec<ConnectionInfo> {
        self.connections(user_id)
            .iter()
            .map(|c| ConnectionInfo {
                connection_id: c.id,
                connected_at: c.connected_at,
                last_seen_at: c.last_seen_at.load(Ordering::Relaxed),
                in_flight: c.in_flight_count() as i64,
                outbox_bytes: c.queued_bytes() as i64,
            })
            .collect()
    }

    /// (online users, open connections)
    fn counts(&self) -> (i64, i64) {
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        (
            users.len() as i64,
            users.values().map(|c| c.len() as i64).sum(),
        )
    }

    fn local_users(&self) -> Vec<(UserId, i64)> {
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        users
            .iter()
            .filter_map(|(u, conns)| Some((*u, conns.iter().map(|c| c.connected_at).min()?)))
            .collect()
    }
}
