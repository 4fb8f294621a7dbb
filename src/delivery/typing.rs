//! Typing notices: ephemeral, never stored, relayed to the conversation's other members —
//! at most once per (user, conversation) per interval, so a flood of `typing` frames costs
//! one fan-out every couple of seconds instead of one per frame.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::model::{ConversationId, UserId};
use app::protocol::ServerFrame;

use super::{frame, Delivery};
use crate::error::{AppError, AppResult};

pub struct TypingThrottle {
    interval: Duration,
    last: Mutex<HashMap<(UserId, ConversationId), Instant>>,
}

impl TypingThrottle {
    pub fn new(interval: Duration) -> TypingThrottle {
        TypingThrottle {
            interval,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// True when a notice from `user` in `conversation` may be relayed now (and records it).
    fn admit(&self, user: UserId, conversation: ConversationId, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.len() > 100_000 {
            // Entries older than the interval decide nothing any more: the map stays bounded.
            let interval = self.interval;
            last.retain(|_, at| now.duration_since(*at) < interval);
        }
        match last.get(&(user, conversation)) {
            Some(at) if now.duration_since(*at) < self.interval => false,
            _ => {
                last.insert((user, conversation), now);
                true
            }
        }
    }
}

impl Delivery {
    /// Relays a typing notice of `user` to the other members' connections; a non-member gets
    /// `NotFound`. Membership is read from the store for every notice, never remembered by
    /// the connection: a user who left (or was removed) is refused on every socket of every
    /// node from that moment (a primary-key lookup; the connection's frame budget bounds how
    /// many). Returns false when the throttle dropped the notice.
    pub async fn relay_typing(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> AppResult<bool> {
        if !self.store.is_member(conversation, user).await? {
            return Err(AppError::NotFound);
        }
        if !self.typing.admit(user, conversation, Instant::now()) {
            self.metrics.typing_dropped.inc();
            return Ok(false);
        }
        let members = self.store.member_ids(conversation).await?;
        let f = frame(&ServerFrame::Typing {
            conversation_id: conversation,
            user_id: user,
        });
        for m in members.into_iter().filter(|m| *m != user) {
            self.fanout.send_to_user(m, &f, None);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_interval_per_user_and_conversation() {
        let t = TypingThrottle::new(Duration::from_secs(2));
        let now = Instant::now();
        assert!(t.admit(1, 10, now));
        assert!(!t.admit(1, 10, now + Duration::from_millis(1500)));
        assert!(t.admit(1, 11, now), "another conversation");
        assert!(t.admit(2, 10, now), "another user");
        assert!(t.admit(1, 10, now + Duration::from_millis(2001)));
    }
}
