//! Resume: what a (re)connecting device is owed, read from the database in bounded pages —
//! the original `handleUserOnline`, in one place for the WebSocket ([`PendingReplay`], driven
//! by the socket task as acknowledgements arrive) and the HTTP offline endpoints
//! ([`Delivery::waiting_page`]). A backlog of any size never sits in memory at once.

use std::time::Instant;

use app::model::{ConversationId, Message, MessageId, OfflinePage, Rev, UserId};

use super::paging::{cut_to_bytes, Awaiting};
use super::Delivery;
use crate::error::{AppError, AppResult};

/// Paging state of one connection's pending replay.
pub struct PendingReplay {
    /// The last message id sent; the next page starts after it.
    after: MessageId,
    /// Sent and not yet acknowledged.
    awaiting: Awaiting,
    started: Instant,
    replayed: i64,
    /// Records waiting when the replay started (for `remaining`).
    total: Option<i64>,
    /// The database had nothing more after `after`.
    exhausted: bool,
}

/// What the socket should do next for a pending replay.
pub enum ReplayStep {
    /// Send this page (its messages need acknowledgement); `remaining` still wait after it.
    Page {
        messages: Vec<Message>,
        remaining: i64,
    },
    /// Everything was sent and acknowledged (or expired): say `caught_up`.
    CaughtUp { replayed: i64 },
    /// About two pages are unacknowledged: wait for acks.
    Wait,
}

impl Default for PendingReplay {
    fn default() -> Self {
        PendingReplay {
            after: 0,
            awaiting: Awaiting::default(),
            started: Instant::now(),
            replayed: 0,
            total: None,
            exhausted: false,
        }
    }
}

impl PendingReplay {
    /// The client acknowledged these (or they expired): they are not awaited any more.
    pub fn settled(&mut self, ids: &[MessageId]) {
        self.awaiting.settle(ids);
    }

    /// Keeps awaiting only what `still_awaited` says (settled by another device, expired).
    pub fn retain(&mut self, still_awaited: impl Fn(&MessageId) -> bool) {
        self.awaiting.retain(still_awaited);
    }
}

impl Delivery {
    /// The next step of a connection's pending replay: keeps up to two pages unacknowledged
    /// (the next page is read while the client works on the previous one) and says caught up
    /// once everything sent has been acknowledged.
    pub async fn next_pending_step(
        &self,
        user: UserId,
        r: &mut PendingReplay,
    ) -> AppResult<ReplayStep> {
        let page_size = self.config.delivery.replay_page_size.max(1);
        loop {
            if r.exhausted {
                if !r.awaiting.is_empty() {
                    return Ok(ReplayStep::Wait);
                }
                if r.replayed > 0 {
                    let elapsed = r.started.elapsed();
                    self.metrics.drain_seconds.observe(elapsed.as_secs_f64());
                    tracing::info!(
                        user,
                        replayed = r.replayed,
                        ms = elapsed.as_millis() as u64,
                        "offline messages replayed"
                    );
                }
                return Ok(ReplayStep::CaughtUp {
                    replayed: r.replayed,
                });
            }
            if r.awaiting.full(page_size, self.page_bytes()) {
                return Ok(ReplayStep::Wait);
            }
            if r.total.is_none() {
                r.total = Some(self.store.waiting_count(user).await?);
            }
            let mut messages = self.store.waiting_for(user, r.after, page_size).await?;
            cut_to_bytes(&mut messages, self.page_bytes());
            let Some(last) = messages.last() else {
                r.exhausted = true;
                continue;
            };
            r.after = last.id;
            r.awaiting.add(&messages);
            r.replayed += messages.len() as i64;
            self.metrics.push("replayed", messages.len() as u64);
            return Ok(ReplayStep::Page {
                remaining: (r.total.unwrap_or(0) - r.replayed).max(0),
                messages,
            });
        }
    }

    /// Messages waiting for `user` after message id `after` (the original `getOfflineMessages`).
    pub async fn waiting_page(
        &self,
        user: UserId,
        after: MessageId,
        limit: i64,
    ) -> AppResult<OfflinePage> {
        let limit = limit.clamp(1, 1000);
        // One extra row says whether another page follows.
        let mut messages = self.store.waiting_for(user, after, limit + 1).await?;
        let has_more = messages.len() as i64 > limit;
        messages.truncate(limit as usize);
        let pending_total = self.store.waiting_count(user).await?;
        Ok(OfflinePage {
            messages,
            pending_total,
            has_more,
        })
    }

    /// The messages of a conversation changed after rev `after_rev`, in rev order, for a
    /// member that resumes; and the conversation's `last_rev` read before them.
    pub async fn changes_page(
        &self,
        user: UserId,
        conversation: ConversationId,
        after_rev: Rev,
        limit: i64,
    ) -> AppResult<(Vec<Message>, Rev)> {
        if !self.store.is_member(conversation, user).await? {
            return Err(AppError::NotFound);
        }
        Ok(self
            .store
            .changes_after(conversation, after_rev.max(0), limit.clamp(1, 1000))
            .await?)
    }
}
