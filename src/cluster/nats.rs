//! The fan-out of a cluster: this node's connections (the local fan-out, given as a
//! [`Fanout`]) plus core NATS for everyone else's.
//!
//! Every live frame is delivered to this node's connections directly and published on the
//! recipient's subject, `courier.user.<id>`. A node subscribes to a user's subject while the
//! user has a connection on it (the local side reports comings and goings as [`Presence`]
//! events) and hands what arrives to its local fan-out; frames a node published itself are
//! skipped. Closing a session by its hash goes to every
//! node on `courier.all`.
//!
//! Publishes leave through one task, in the order they were made, so frames about one message
//! never overtake each other on the way out. NATS is at-most-once: a publish lost to an outage
//! leaves the push record pending, and the engine's replay and sweeps deliver it later.

use std::collections::HashMap;
use std::sync::Arc;

use app::model::{ConnectionInfo, MessageId, UserId};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::delivery::{Fanout, Frame, Presence};
use crate::telemetry::Metrics;

/// Publishes waiting for the publisher task; past this they are dropped (and counted): the
/// records stay pending in the database.
const PUBLISH_QUEUE: usize = 65_536;

/// What a published frame is for, in front of the frame itself (`<header JSON>\n<frame>`).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "k", rename_all = "snake_case")]
enum Header {
    Send { from: u32, except: Option<u64> },
    Deliver { from: u32, ids: Vec<MessageId> },
    Settle { from: u32, ids: Vec<MessageId> },
    CloseUser { from: u32 },
    CloseSession { from: u32, session: String },
}

impl Header {
    /// The node that published it.
    fn from(&self) -> u32 {
        match self {
            Header::Send { from, .. }
            | Header::Deliver { from, .. }
            | Header::Settle { from, .. }
            | Header::CloseUser { from }
            | Header::CloseSession { from, .. } => *from,
        }
    }
}

fn encode(header: &Header, frame: Option<&str>) -> Bytes {
    let mut out = serde_json::to_vec(header).unwrap_or_default();
    out.push(b'\n');
    if let Some(f) = frame {
        out.extend_from_slice(f.as_bytes());
    }
    Bytes::from(out)
}

fn decode(payload: &[u8]) -> Option<(Header, &str)> {
    let split = payload.iter().position(|b| *b == b'\n')?;
    let header = serde_json::from_slice(&payload[..split]).ok()?;
    let frame = std::str::from_utf8(&payload[split + 1..]).ok()?;
    Some((header, frame))
}

fn user_subject(user: UserId) -> String {
    format!("courier.user.{user}")
}

const ALL_SUBJECT: &str = "courier.all";

pub struct NatsFanout {
    /// This node's connections.
    local: Arc<dyn Fanout>,
    node: u32,
    publish: mpsc::Sender<(String, Bytes)>,
    metrics: Arc<Metrics>,
}

impl NatsFanout {
    /// Connects to NATS (one clear line when it cannot), starts the publisher, the broadcast
    /// subscription and the task that follows the comings and goings `local` reports on
    /// `presence`.
    pub async fn start(
        url: &str,
        local: Arc<dyn Fanout>,
        node: u32,
        presence: mpsc::UnboundedReceiver<Presence>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<NatsFanout>, String> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("courier node {node}"))
            .connect(url)
            .await
            .map_err(|e| {
                format!(
                    "cannot connect to NATS at {url}: {e} (is nats-server running? check nats_url)"
                )
            })?;
        let (publish, mut outgoing) = mpsc::channel::<(String, Bytes)>(PUBLISH_QUEUE);
        let publisher = client.clone();
        let m = metrics.clone();
        tokio::spawn(async move {
            while let Some((subject, payload)) = outgoing.recv().await {
                if let Err(e) = publisher.publish(subject, payload).await {
                    m.cluster_publish_failed.inc();
                    tracing::warn!(error = %e, "NATS publish failed; the push stays pending in the database");
                }
            }
        });
        let all = client
            .subscribe(ALL_SUBJECT)
            .await
            .map_err(|e| format!("cannot subscribe on NATS at {url}: {e}"))?;
        tokio::spawn(receive(all, local.clone(), node, None));
        tokio::spawn(follow_presence(client, local.clone(), node, presence));
        tracing::info!(node, url, "cluster fan-out over NATS started");
        Ok(Arc::new(NatsFanout {
            local,
            node,
            publish,
            metrics,
        }))
    }

    fn publish(&self, subject: String, header: Header, frame: Option<&str>) {
        if self
            .publish
            .try_send((subject, encode(&header, frame)))
            .is_err()
        {
            self.metrics.cluster_publish_failed.inc();
            tracing::warn!("NATS publish queue full; the push stays pending in the database");
        }
    }
}

/// Subscribes to a user's subject while the user has a connection here. One task handles the
/// events in order, so an offline that follows an online is never applied first.
async fn follow_presence(
    client: async_nats::Client,
    local: Arc<dyn Fanout>,
    node: u32,
    mut presence: mpsc::UnboundedReceiver<Presence>,
) {
    let mut subscriptions: HashMap<UserId, AbortHandle> = HashMap::new();
    while let Some(event) = presence.recv().await {
        match event {
            Presence::Online { user, ready } => {
                if let std::collections::hash_map::Entry::Vacant(slot) = subscriptions.entry(user) {
                    match client.subscribe(user_subject(user)).await {
                        Ok(sub) => {
                            let task = tokio::spawn(receive(sub, local.clone(), node, Some(user)));
                            slot.insert(task.abort_handle());
                        }
                        Err(e) => tracing::warn!(
                            user,
                            error = %e,
                            "NATS subscribe failed; this user's pushes from other nodes arrive by replay and sync"
                        ),
                    }
                }
                let _ = ready.send(());
            }
            Presence::Offline { user } => {
                // The user may have come back meanwhile (that event is queued behind this one).
                if !local.is_online(user) {
                    // Aborting drops the subscriber, which unsubscribes.
                    if let Some(task) = subscriptions.remove(&user) {
                        task.abort();
                    }
                }
            }
        }
    }
}

/// Hands what arrives on a subscription to this node's connections (skipping what this node
/// sent).
async fn receive(
    mut sub: async_nats::Subscriber,
    local: Arc<dyn Fanout>,
    node: u32,
    user: Option<UserId>,
) {
    while let Some(msg) = sub.next().await {
        let Some((header, frame)) = decode(&msg.payload) else {
            tracing::warn!(subject = %msg.subject, "undecodable NATS message ignored");
            continue;
        };
        if header.from() == node {
            continue;
        }
        let frame: Frame = Arc::from(frame);
        match (header, user) {
            (Header::Send { except, .. }, Some(u)) => {
                local.send_to_user(u, &frame, except);
            }
            (Header::Deliver { ids, .. }, Some(u)) => {
                local.deliver_to_user(u, &frame, &ids);
            }
            (Header::Settle { ids, .. }, Some(u)) => local.settle(u, &ids),
            (Header::CloseUser { .. }, Some(u)) => {
                local.close_user(u);
            }
            (Header::CloseSession { session, .. }, None) => {
                local.close_session(&session);
            }
            _ => {}
        }
    }
}

impl Fanout for NatsFanout {
    fn send_here(&self, user: UserId, frame: &Frame) -> usize {
        self.local.send_to_user(user, frame, None)
    }

    fn send_to_user(&self, user: UserId, frame: &Frame, except: Option<u64>) -> usize {
        let n = self.local.send_to_user(user, frame, except);
        self.publish(
            user_subject(user),
            Header::Send {
                from: self.node,
                except,
            },
            Some(frame),
        );
        n
    }

    fn deliver_to_user(&self, user: UserId, frame: &Frame, ids: &[MessageId]) -> usize {
        let n = self.local.deliver_to_user(user, frame, ids);
        self.publish(
            user_subject(user),
            Header::Deliver {
                from: self.node,
                ids: ids.to_vec(),
            },
            Some(frame),
        );
        n
    }

    fn settle(&self, user: UserId, ids: &[MessageId]) {
        self.local.settle(user, ids);
        // An ack on this node stops the other nodes from expiring the same push.
        self.publish(
            user_subject(user),
            Header::Settle {
                from: self.node,
                ids: ids.to_vec(),
            },
            None,
        );
    }

    /// This node's connections only (the cluster-wide question is answered by the database:
    /// see the sweep).
    fn is_online(&self, user: UserId) -> bool {
        self.local.is_online(user)
    }

    /// A publish for a user no node subscribes to costs NATS nothing; asking the other nodes
    /// first would cost a round trip.
    fn may_reach(&self, _user: UserId) -> bool {
        true
    }

    fn close_session(&self, session: &str) -> usize {
        let n = self.local.close_session(session);
        self.publish(
            ALL_SUBJECT.to_string(),
            Header::CloseSession {
                from: self.node,
                session: session.to_string(),
            },
            None,
        );
        n
    }

    fn close_user(&self, user: UserId) -> usize {
        let n = self.local.close_user(user);
        self.publish(
            user_subject(user),
            Header::CloseUser { from: self.node },
            None,
        );
        n
    }

    fn connection_infos(&self, user: UserId) -> Vec<ConnectionInfo> {
        self.local.connection_infos(user)
    }

    fn counts(&self) -> (i64, i64) {
        self.local.counts()
    }

    fn node(&self) -> Option<u32> {
        Some(self.node)
    }

    fn local_users(&self) -> Vec<(UserId, i64)> {
        self.local.local_users()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let h = Header::Deliver {
            from: 7,
            ids: vec![1, 2],
        };
        let bytes = encode(&h, Some("{\"type\":\"message\",\"text\":\"a\\nb\"}"));
        let (back, frame) = decode(&bytes).unwrap();
        assert_eq!(back, h);
        assert_eq!(frame, "{\"type\":\"message\",\"text\":\"a\\nb\"}");
        let bytes = encode(
            &Header::Settle {
                from: 1,
                ids: vec![],
            },
            None,
        );
        let (settle, empty) = decode(&bytes).unwrap();
        assert_eq!(
            settle,
            Header::Settle {
                from: 1,
                ids: vec![]
            }
        );
        assert_eq!(empty, "");
        assert!(decode(b"no header").is_none());
    }
}
