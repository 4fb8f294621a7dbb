//! The state of one connection's `sync`: which conversations' change logs are still to be
//! replayed, what was sent and not yet acknowledged, and how much of the per-sync cap is used.
//!
//! A sync replays, per conversation, every message whose latest change is after the client's
//! rev — a new message and a recalled one alike, in its current state — in rev order. A page
//! ending at rev r covers the log through r: a change at or below r that the page does not
//! show belongs to a message changed again later, which a later page brings in its newer state.
//!
//! A `sync` is bounded three ways, so that one frame can never make the server queue more than
//! a bounded amount: resume points are de-duplicated (a conversation named 250 times is replayed
//! once), pages go out only while at most about two pages wait for acknowledgement, and a sync
//! replays at most `sync_max_messages` before `caught_up{more: true}` asks the client to continue.

use std::collections::VecDeque;

use app::model::{ConversationId, Message, MessageId, Rev, UserId};
use app::protocol::{ResumePoint, RevMark};

use super::paging::{cut_to_bytes, Awaiting};
use super::Delivery;
use crate::error::{AppError, AppResult};

pub struct SyncRun {
    /// Conversations still to replay, each once, from the lowest rev asked for.
    queue: VecDeque<ResumePoint>,
    /// The conversation being paged and the rev its log is covered through so far.
    pub current: Option<(ConversationId, Rev)>,
    /// Sent and not yet acknowledged.
    pub awaiting: Awaiting,
    pub replayed: i64,
    /// The per-sync cap on messages.
    pub cap: i64,
}

/// What the socket should do next for a sync.
pub enum SyncStep {
    /// A page of a conversation's changes (the client acknowledges it), and how far it covers
    /// that conversation's log.
    Page(Vec<Message>, RevMark),
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
        }
    }

    /// Adds resume points (a second `sync` while one runs joins it). A conversation already
    /// queued keeps the lower rev. Returns false, queueing nothing, when more than `max_points`
    /// distinct ones would queue.
    pub fn add(&mut self, points: Vec<ResumePoint>, max_points: usize) -> bool {
        let mut queue = self.queue.clone();
        for p in points {
            match queue
                .iter_mut()
                .find(|q| q.conversation_id == p.conversation_id)
            {
                Some(q) => q.after_rev = q.after_rev.min(p.after_rev),
                None => queue.push_back(p),
            }
        }
        if queue.len() > max_points {
            return false;
        }
        self.queue = queue;
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
    /// The next step of a sync: conversation by conversation, its changes in pages (while at
    /// most about two wait for acknowledgement and the cap is not reached).
    pub async fn next_sync_step(&self, user: UserId, run: &mut SyncRun) -> AppResult<SyncStep> {
        let page = self.config.delivery.replay_page_size.max(1);
        loop {
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
                    Some(p) => (p.conversation_id, p.after_rev),
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
            let (mut messages, last_rev) =
                match self.changes_page(user, conversation, after, limit).await {
                    Ok(m) => m,
                    Err(AppError::NotFound) => {
                        run.current = None;
                        return Ok(SyncStep::NotFound);
                    }
                    Err(e) => return Err(e),
                };
            // The log ends when the store had fewer than asked for (before the byte cut): the
            // page then covers it through its last rev read before the rows, or further.
            let log_ended = (messages.len() as i64) < limit;
            let cut = cut_to_bytes(&mut messages, self.page_bytes());
            let n = messages.len() as i64;
            let mut through = messages.last().map_or(after, |m| m.rev);
            if let Some(last) = messages.last() {
                run.current = Some((conversation, last.rev));
                run.awaiting.add(&messages);
                run.replayed += n;
            }
            if log_ended && cut == 0 {
                run.current = None;
                through = through.max(last_rev);
            }
            // A conversation's last page is sent even when empty: its `through` is how a client
            // that holds nothing of it learns where to resume from.
            if n > 0 || run.current.is_none() {
                let mark = RevMark {
                    conversation_id: conversation,
                    rev: through,
                };
                return Ok(SyncStep::Page(messages, mark));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(c: i64, r: i64) -> ResumePoint {
        ResumePoint {
            conversation_id: c,
            after_rev: r,
        }
    }

    #[test]
    fn points_are_deduplicated_from_the_lowest_rev() {
        let mut r = SyncRun::new(100);
        let many: Vec<_> = (0..250).map(|i| p(7, 10 + i)).collect();
        assert!(r.add(many, 1000));
        assert!(r.add(vec![p(7, 3), p(8, 0)], 1000));
        assert!(r.add(vec![], 1000));
        assert_eq!(r.next_point(), Some(p(7, 3)));
        assert_eq!(r.next_point(), Some(p(8, 0)));
        assert_eq!(r.next_point(), None);
    }

    #[test]
    fn too_many_distinct_points_are_refused_whole() {
        let mut r = SyncRun::new(100);
        assert!(r.add((0..3).map(|i| p(i, 0)).collect(), 4));
        assert!(!r.add((3..6).map(|i| p(i, 0)).collect(), 4));
        assert_eq!(r.queue.len(), 3, "nothing of a refused sync was queued");
    }
}
