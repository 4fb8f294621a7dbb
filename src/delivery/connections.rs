//! What the adapters may do with users' connections besides pushing messages: tell a user's
//! tabs something, close sockets when sessions end, and look at them for diagnostics. It all
//! goes through the engine's fan-out, so in a cluster every node hears it (a logout closes the
//! sockets on every node); the fan-out itself stays private to the engine.

use app::model::{ConnectionInfo, UserId};
use app::protocol::ServerFrame;

use super::{frame, Delivery};

impl Delivery {
    /// Sends `f` to every connection of `user` (no acknowledgement expected). Returns how many
    /// connections of this node got it.
    pub fn send_to_user(&self, user: UserId, f: &ServerFrame) -> usize {
        self.fanout.send_to_user(user, &frame(f), None)
    }

    /// Closes the connections opened with a session (logout). Returns how many were on this node.
    pub fn close_session(&self, session: &str) -> usize {
        self.fanout.close_session(session)
    }

    /// Closes every connection of a user (log out everywhere). Returns how many were on this node.
    pub fn close_user(&self, user: UserId) -> usize {
        self.fanout.close_user(user)
    }

    /// The user's connections on this node, for diagnostics.
    pub fn connection_infos(&self, user: UserId) -> Vec<ConnectionInfo> {
        self.fanout.connection_infos(user)
    }

    /// (online users, open connections) on this node.
    pub fn connection_counts(&self) -> (i64, i64) {
        self.fanout.counts()
    }

    /// In a cluster, this node's id (None on a single node).
    pub fn node(&self) -> Option<u32> {
        self.fanout.node()
    }
}
