//! The seam between the delivery engine and whatever holds the users' connections. The engine
//! pushes through [`Fanout`] and never sees a socket: `ws::hub::Hub` implements it for the
//! connections of this process (the local fan-out); a pub/sub implementation carries the same
//! calls to the node that holds a user's connections.
//!
//! Frames are serialized once ([`frame`]) and shared by every connection they go to.
//!
//! A cluster's fan-out also needs to know who comes and goes on this node (to subscribe for
//! them): the local side reports that as [`Presence`] events, so neither side names the other.

use std::sync::Arc;

use app::model::{ConnectionInfo, MessageId, UserId};
use app::protocol::ServerFrame;
use tokio::sync::oneshot;

/// One serialized server frame, shared by every connection it is sent to.
pub type Frame = Arc<str>;

/// Serializes a frame once, to be shared by every connection it goes to.
pub fn frame(f: &ServerFrame) -> Frame {
    // ServerFrame contains only strings and numbers: serialization cannot fail.
    Arc::from(serde_json::to_string(f).unwrap_or_else(|_| {
        String::from("{\"type\":\"error\",\"code\":\"internal\",\"message\":\"encoding failed\"}")
    }))
}

pub trait Fanout: Send + Sync + 'static {
    /// Sends a frame to every connection of `user` except `except`. Returns how many got it.
    fn send_to_user(&self, user: UserId, frame: &Frame, except: Option<u64>) -> usize;
    /// Sends a frame to `user`'s connections on this node only — for what each node tells its
    /// own connections from the database (nothing of it travels between nodes, so nothing of it
    /// can be lost there).
    fn send_here(&self, user: UserId, frame: &Frame) -> usize;
    /// Sends a frame carrying messages that need acknowledgement to every connection of
    /// `user`, which then waits for their acks. Returns how many got it.
    fn deliver_to_user(&self, user: UserId, frame: &Frame, ids: &[MessageId]) -> usize;
    /// A device of `user` acknowledged these: no connection of the user waits for them now.
    fn settle(&self, user: UserId, ids: &[MessageId]);
    /// Does `user` have a connection on this node?
    fn is_online(&self, user: UserId) -> bool;
    /// Could a frame sent to `user` reach one of their connections? On a single node: does the user
    /// have one. In a cluster this node cannot know (the user may be on another node), so: yes.
    fn may_reach(&self, user: UserId) -> bool {
        self.is_online(user)
    }
    /// Closes the connections opened with a session (logout). Returns how many.
    fn close_session(&self, session: &str) -> usize;
    /// Closes every connection of a user (log out everywhere). Returns how many.
    fn close_user(&self, user: UserId) -> usize;
    /// The user's connections, for diagnostics.
    fn connection_infos(&self, user: UserId) -> Vec<ConnectionInfo>;
    /// (online users, open connections).
    fn counts(&self) -> (i64, i64);
    /// In a cluster, this node's id (None on a single node).
    fn node(&self) -> Option<u32> {
        None
    }
    /// The users with a connection on this node, each with when their oldest one here opened
    /// (the republish sweep serves them; what came before is the replay's).
    fn local_users(&self) -> Vec<(UserId, i64)>;
}

/// A user's first connection on this node opened, or their last one closed: what the local
/// fan-out tells a cluster's fan-out, which subscribes to other nodes' frames for the user.
#[derive(Debug)]
pub enum Presence {
    /// `ready` is answered once frames for the user from other nodes reach this node.
    Online {
        user: UserId,
        ready: oneshot::Sender<()>,
    },
    Offline {
        user: UserId,
    },
}
