//! The state of one connection's `sync`: which conversation tails are still to be replayed,
//! what was sent and not yet acknowledged, and how much of the per-sync cap is used.
//!
//! A `sync` is bounded three ways, so that one frame can never make the server queue more than
//! a bounded amount: resume points are de-duplicated (a conversation named 250 times is replayed
//! once), pages go out only while at most about two pages wait for acknowledgement, and a sync
//! replays at most `sync_max_messages` before `caught_up{more: true}` asks the client to continue.

use std::collections::{HashSet, VecDeque};

use app::model::{ConversationId, MessageId, Seq};
use app::protocol::ResumePoint;

pub struct SyncRun {
    /// Conversations still to replay, each once, from the lowest seq asked for.
    queue: VecDeque<ResumePoint>,
    /// The conversation being paged and the last seq sent of it.
    pub current: Option<(ConversationId, Seq)>,
    /// Sent and not yet acknowledged.
    pub awaiting: HashSet<MessageId>,
    pub replayed: i64,
    /// The per-sync cap on messages.
    pub cap: i64,
    pub recalled_since: Option<i64>,
}

impl SyncRun {
    pub fn new(cap: i64) -> SyncRun {
        SyncRun {
            queue: VecDeque::new(),
            current: None,
            awaiting: HashSet::new(),
            replayed: 0,
            cap: cap.max(1),
            recalled_since: None,
        }
    }

    /// Adds resume points (a second `sync` while one runs joins it). A conversation already
    /// queued keeps the lower seq. Fails when more than `max_points` distinct ones would queue.
    pub fn add(
        &mut self,
        points: Vec<ResumePoint>,
        recalled_since: Option<i64>,
        max_points: usize,
    ) -> Result<(), ()> {
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
            return Err(());
        }
        self.queue = queue;
        self.recalled_since = match (self.recalled_since, recalled_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(())
    }

    /// The next conversation to replay, if any.
    pub fn next_point(&mut self) -> Option<ResumePoint> {
        self.queue.pop_front()
    }

    pub fn budget_left(&self) -> i64 {
        (self.cap - self.replayed).max(0)
    }

    /// Messages were left unsent because the cap was reached.
    pub fn has_more(&self) -> bool {
        self.current.is_some() || !self.queue.is_empty()
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
        r.add(many, None, 1000).unwrap();
        r.add(vec![p(7, 3), p(8, 0)], Some(50), 1000).unwrap();
        r.add(vec![], Some(40), 1000).unwrap();
        assert_eq!(r.recalled_since, Some(40));
        assert_eq!(r.next_point(), Some(p(7, 3)));
        assert_eq!(r.next_point(), Some(p(8, 0)));
        assert_eq!(r.next_point(), None);
    }

    #[test]
    fn too_many_distinct_points_are_refused_whole() {
        let mut r = SyncRun::new(100);
        r.add((0..3).map(|i| p(i, 0)).collect(), None, 4).unwrap();
        assert!(r.add((3..6).map(|i| p(i, 0)).collect(), None, 4).is_err());
        assert_eq!(r.queue.len(), 3, "nothing of a refused sync was queued");
    }
}
