//! Online push. Every recipient already has a pending push record (written in the same
//! transaction as the message); here the message is offered to whichever of their devices
//! is connected. Offline recipients are simply not connected: their record stays pending and
//! the message is replayed when they come back (see `resume`).
//!
//! The batcher calls this right after each commit, in commit order, so every connection sees
//! a conversation's new messages in sequence order.

use app::protocol::ServerFrame;

use super::{frame, Fanout};
use crate::store::Committed;
use crate::telemetry::Metrics;

/// Offers a freshly committed message to its recipients' connections and echoes it to the
/// sender's other connections (`origin`, the sending connection, gets `sent` instead).
pub(crate) fn push_committed(
    fanout: &dyn Fanout,
    metrics: &Metrics,
    committed: &Committed,
    origin: Option<u64>,
) {
    let message = &committed.message;
    let f = frame(&ServerFrame::Message {
        message: message.clone(),
    });
    let mut pushed = 0;
    for user in &committed.recipients {
        let n = fanout.deliver_to_user(*user, &f, &[message.id]);
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
    metrics.push("live", pushed);
    fanout.send_to_user(message.sender_id, &f, origin);
}
