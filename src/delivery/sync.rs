//! The state of one connection's `sync`: which conversation tails are still to be replayed,
//! what was sent and not yet acknowledged, and how much of the per-sync cap is used.
//!
//! A `sync` is bounded three ways, so that one frame can never make the server queue more than
//! a bounded amount: resume points are de-duplicated (a conversation named 250 times is replayed
//! once), pages go out only while at most about two pages wait for acknowledgement, and a sync
//! replays at most `sync_max_messages` before `caught_up{more: true}` asks the client to continue.

use std::collections::VecDeque;

use app::model::{ConversationId, Message, MessageId, Seq, UserId};
use app::protocol::ResumePoint;

use super::paging::{cut_to_bytes, Awaiting};
use super::Delivery;
use crate::error::{AppError, AppResult};

pub struct SyncRun {
    /// Conversations still to replay, each once, from the lowest seq asked for.
    queue: VecDeque<ResumePoint>,
    /// The conversation being paged and the last seq sent of it.
    pub current: Option<(ConversationId, Seq)>,
    /// Sent and not yet acknowledged.
    pub awaiting: Awaiting,
    pub replayed: i64,
    /// The per-sync cap on messages.
    pub cap: i64,
    pub recalled_since: Option<i64>,
    /// A conversation whose tail is done and whose recalls are still to be sent.
    recalls_due: Option<ConversationId>,
}

/// What the socket should do next for a sync.
pub enum SyncStep {
    /// A page of a conversation's tail (the client acknowledges it).
    Page(Vec<Message>),
    /// Messages of a synced conversation recalled since `recalled_since` (the second value).
    Recalled(Vec<Message>, i64),
    /// A resume point named a conversation that does not exist or is not the user's.
    NotFound,
    /// The sync is over; `more` when the cap cut it short.
    Done { replayed: i64, more: bool },
    /// About two pages are unacknowledged: wait for acks.
    Wait,
}

impl SyncRun {
    pub fn new(cap: i64) -> SyncRun {
        SyncRun {
            queue: VecDeque::new(),
            current: None,
            awaiting: Awaiting::default(),
            replayed: 0,
            cap: cap.max(1),
            recalled_since: None,
            recalls_due: None,
        }
    }

    /// Adds resume points (a second `sync` while one runs joins it). A conversation already
    /// queued keeps the lower seq. Returns false, queueing nothing, when more than `max_points`
    /// distinct ones would queue.
    pub fn add(
        &mut self,
        points: Vec<ResumePoint>,
        recalled_since: Option<i64>,
        max_points: usize,
    ) -> bool {
        let mut queue = self.queue.clone();
        for p in points {
            match queue
                .iter_mut()
                .find(|q| q.conversation_id == p.conversation_id)
            {
                Some(q) => q.after_seq = q.after_seq.min(p.after_seq),
                None => queue.push_back(p),
            }
        }
        if queue.len() > max_points {
            return false;
        }
        self.queue = queue;
        self.recalled_since = match (self.recalled_since, recalled_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        true
    }

    /// The next conversation to replay, if any.
    pub fn next_point(&mut self) -> Option<ResumePoint> {
        self.queue.pop_front()
    }

    /// The client acknowledged these.
    pub fn settled(&mut self, ids: &[MessageId]) {
        self.awaiting.settle(ids);
    }

    pub fn budget_left(&self) -> i64 {
        (self.cap - self.replayed).max(0)
    }

    /// Messages were left unsent because the cap was reached.
    pub fn has_more(&self) -> bool {
        self.current.is_some() || !self.queue.is_empty()
    }
}

impl Delivery {
    /// The next step of a sync: conversation by conversation, its tail in pages (while at most
    /// about two wait for acknowledgement and the cap is not reached), then its recalls.
    pub async fn next_sync_step(&self, user: UserId, run: &mut SyncRun) -> AppResult<SyncStep> {
        let page = self.config.delivery.replay_page_size.max(1);
        loop {
            if let (Some(conversation), Some(since)) = (run.recalls_due.take(), run.recalled_since)
            {
                match self.recalled_since(user, conversation, since).await {
                    Ok(recalled) if !recalled.is_empty() => {
                        return Ok(SyncStep::Recalled(recalled, since))
                    }
                    Ok(_) | Err(AppError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            if run.awaiting.full(page, self.page_bytes()) {
                return Ok(SyncStep::Wait);
            }
            if run.budget_left() == 0 {
                return Ok(SyncStep::Done {
                    replayed: run.replayed,
                    more: run.has_more(),
                });
            }
            let (conversation, after) = match run.current {
                Some(c) => c,
                None => match run.next_point() {
                    Some(p) => (p.conversation_id, p.after_seq),
                    None => {
                        return Ok(SyncStep::Done {
                            replayed: run.replayed,
                            more: false,
                        })
                    }
                },
            };
            run.current = Some((conversation, after));
            let limit = page.min(run.budget_left());
            let mut messages = match self.tail_page(user, conversation, after, limit).await {
                Ok(m) => m,
                Err(AppError::NotFound) => {
                    run.current = None;
                    return Ok(SyncStep::NotFound);
                }
                Err(e) => return Err(e),
            };
            // The tail ends when the store had fewer than asked for (before the byte cut).
            let tail_ended = (messages.len() as i64) < limit;
            let cut = cut_to_bytes(&mut messages, self.page_bytes());
            let n = messages.len() as i64;
            if let Some(last) = messages.last() {
                run.current = Some((conversation, last.seq));
                run.awaiting.add(&messages);
                run.replayed += n;
            }
            if tail_ended && cut == 0 {
                run.current = None;
                run.recalls_due = Some(conversation);
            }
            if n > 0 {
                return Ok(SyncStep::Page(messages));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(c: i64, s: i64) -> ResumePoint {
        ResumePoint {
            conversation_id: c,
            after_seq: s,
        }
    }

    #[test]
    fn points_are_deduplicated_from_the_lowest_seq() {
        let mut r = SyncRun::new(100);
        let many: Vec<_> = (0..250).map(|i| p(7, 10 + i)).collect();
        assert!(r.add(many, None, 1000));
        assert!(r.add(vec![p(7, 3), p(8, 0)], Some(50), 1000));
        assert!(r.add(vec![], Some(40), 1000));
        assert_eq!(r.recalled_since, Some(40));
        assert_eq!(r.next_point(), Some(p(7, 3)));
        assert_eq!(r.next_point(), Some(p(8, 0)));
        assert_eq!(r.next_point(), None);
    }

    #[test]
    fn too_many_distinct_points_are_refused_whole() {
        let mut r = SyncRun::new(100);
        assert!(r.add((0..3).map(|i| p(i, 0)).collect(), None, 4));
        assert!(!r.add((3..6).map(|i| p(i, 0)).collect(), None, 4));
        assert_eq!(r.queue.len(), 3, "nothing of a refused sync was queued");
    }
}
