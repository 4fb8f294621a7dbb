//! Online push. Every recipient already has a pending push record (written in the same
//! transaction as the message); here the message is offered to whichever of their devices
//! is connected. Offline recipients are simply not connected: their record stays pending and
//! the message is replayed when they come back (see `resume`).

use app::protocol::ServerFrame;

use super::{frame, Delivery};
use crate::store::Committed;

impl Delivery {
    pub(crate) fn push_new(&self, committed: &Committed, origin: Option<u64>) {
        let message = &committed.message;
        let f = frame(&ServerFrame::Message {
            message: message.clone(),
        });
        let mut pushed = 0;
        for user in &committed.recipients {
            let n = self.hub.deliver_to_user(*user, &f, &[message.id]);
            if n > 0 {
                pushed += 1;
                tracing::debug!(message = message.id, user, connections = n, "pushed live");
            } else {
                tracing::debug!(
                    message = message.id,
                    user,
                    "recipient offline; record stays pending"
                );
            }
        }
        self.metrics.push("live", pushed);
        // The sender's other tabs and devices show the message too.
        self.hub.send_to_user(message.sender_id, &f, origin);
    }
}
