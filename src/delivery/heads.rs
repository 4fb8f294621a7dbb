//! The `heads` announcement: each node tells its own connections, from the database, the latest
//! rev of their conversations that changed lately. Live frames between nodes travel over NATS,
//! which is at-most-once; a message that reached no device of its recipient is pushed again from
//! its pending record (the republish sweep), but a change with no record — a recall, or a
//! message reaching its sender's other devices — would stay unseen until the conversation's next
//! change or the device's next connection. A client whose rev for a conversation is below the
//! announced one syncs from it; the database is the truth and the frame never leaves the node,
//! so nothing of it can be lost on the way.

use std::collections::BTreeMap;

use app::model::UserId;
use app::protocol::{RevMark, ServerFrame};

use super::{frame, Delivery};
use crate::error::AppResult;
use crate::store::CHANGE_AT_RESOLUTION_MS;

impl Delivery {
    /// Runs once per ack timeout: every user connected to this node hears of their conversations
    /// whose log changed in the last two periods (so a tick that runs late still overlaps the
    /// previous one), and the resolution of the change times it reads. Returns how many users were told.
    pub async fn announce_heads(&self, now: i64) -> AppResult<u64> {
        let users: Vec<UserId> = self
            .fanout
            .local_users()
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        if users.is_empty() {
            return Ok(0);
        }
        let period = self.config.delivery.ack_timeout().as_millis() as i64;
        let since = now
            .saturating_sub(period.saturating_mul(2))
            .saturating_sub(CHANGE_AT_RESOLUTION_MS);
        let mut by_user: BTreeMap<UserId, Vec<RevMark>> = BTreeMap::new();
        for chunk in users.chunks(1000) {
            for (user, conversation_id, rev) in self.store.changed_since(chunk, since).await? {
                by_user.entry(user).or_default().push(RevMark {
                    conversation_id,
                    rev,
                });
            }
        }
        let mut told = 0u64;
        for (user, conversations) in by_user {
            let f = frame(&ServerFrame::Heads { conversations });
            if self.fanout.send_here(user, &f) > 0 {
                told += 1;
            }
        }
        Ok(told)
    }
}
