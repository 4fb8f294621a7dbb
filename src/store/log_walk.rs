//! How a backend answers `changes_after` without an index on `messages.rev`: it reads the log
//! in windows of revs ([`sql::CHANGES_IN_WINDOW`](super::sql::CHANGES_IN_WINDOW)), each giving
//! the messages whose latest change falls inside it, until it holds `limit` messages or reaches
//! the end of the log. The walk is the backends' common part; each runs the statement.
//!
//! A window of `limit` revs holds at most `limit` changes, so it reads at most about `limit`
//! rows; usually the first window gives the whole page. Fewer come back when messages changed
//! again later (their latest change is in a later window), and the walk goes on.

use app::model::{Message, Rev};

/// One window to read: the messages whose latest change has a rev in (`after`, `through`],
/// looking at no more than `inserts` messages inserted after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub after: Rev,
    pub through: Rev,
    pub inserts: i64,
}

/// The walk over one conversation's log after a rev, up to its `last_rev` read beforehand.
pub struct LogWalk {
    next_after: Rev,
    last_rev: Rev,
    limit: usize,
    width: i64,
    done: bool,
    out: Vec<Message>,
}

/// The bounds of the last window: open-ended, so a change committed after `last_rev` was read
/// is not missed when its message's earlier change was (the whole page is then still exact).
/// Small enough that a seq plus it cannot overflow.
const OPEN: Rev = i64::MAX / 4;

impl LogWalk {
    pub fn new(after: Rev, last_rev: Rev, limit: i64) -> Self {
        let limit = limit.max(1);
        Self {
            next_after: after.max(0),
            last_rev,
            limit: limit as usize,
            width: limit,
            done: false,
            out: Vec::new(),
        }
    }

    /// The next window to read, or `None` when the page is complete.
    pub fn next_window(&self) -> Option<Window> {
        if self.done {
            return None;
        }
        let after = self.next_after;
        Some(if after.saturating_add(self.width) >= self.last_rev {
            Window {
                after,
                through: OPEN,
                inserts: OPEN,
            }
        } else {
            Window {
                after,
                through: after + self.width,
                inserts: self.width,
            }
        })
    }

    /// Takes the rows of the window [`next_window`](Self::next_window) gave, in rev order.
    pub fn take(&mut self, window: Window, rows: Vec<Message>) {
        self.out.extend(rows);
        self.next_after = window.through;
        self.done = window.through == OPEN || self.out.len() >= self.limit;
    }

    /// The page: up to `limit` messages in rev order, each once. (A message can come twice only
    /// if it changed while the walk ran; its newer copy is kept.)
    pub fn finish(mut self) -> Vec<Message> {
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<Message> = Vec::with_capacity(self.out.len());
        while let Some(m) = self.out.pop() {
            if seen.insert(m.id) {
                kept.push(m);
            }
        }
        kept.reverse();
        kept.truncate(self.limit);
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::MessageStatus;
    use std::collections::BTreeMap;

    /// A conversation's log as the database holds it: per message its seq and the revs of its
    /// insert and of each later change.
    struct Log {
        /// message (= seq) → its revs, ascending.
        messages: BTreeMap<i64, Vec<Rev>>,
        /// change rev → (message, last_seq when it was made).
        changes: BTreeMap<Rev, (i64, i64)>,
        last_rev: Rev,
        last_seq: i64,
    }

    impl Log {
        fn new() -> Self {
            Self {
                messages: BTreeMap::new(),
                changes: BTreeMap::new(),
                last_rev: 0,
                last_seq: 0,
            }
        }
        fn send(&mut self) {
            self.last_rev += 1;
            self.last_seq += 1;
            self.messages.insert(self.last_seq, vec![self.last_rev]);
        }
        fn change(&mut self, seq: i64) {
            self.last_rev += 1;
            self.messages.get_mut(&seq).unwrap().push(self.last_rev);
            self.changes.insert(self.last_rev, (seq, self.last_seq));
        }
        fn message(&self, seq: i64) -> Message {
            Message {
                id: seq,
                conversation_id: 1,
                seq,
                sender_id: 1,
                sender_name: String::new(),
                client_msg_id: String::new(),
                content: None,
                recalled: false,
                recalled_at: None,
                status: MessageStatus::Sent,
                created_at: 0,
                rev: *self.messages[&seq].last().unwrap(),
            }
        }
        /// What CHANGES_IN_WINDOW returns, computed as the statement does.
        fn window(&self, w: Window) -> Vec<Message> {
            let lo = self
                .changes
                .range(..=w.after)
                .next_back()
                .map_or(0, |(rev, (_, last_seq))| last_seq - rev)
                + w.after;
            let in_seqs = |seq: i64| seq > lo && seq <= lo + w.inserts;
            let mut rows: Vec<Message> = self
                .messages
                .keys()
                .filter(|&&s| in_seqs(s))
                .map(|&s| self.message(s))
                .filter(|m| m.rev <= w.through)
                .collect();
            let changed: std::collections::BTreeSet<i64> = self
                .changes
                .range(w.after + 1..=w.through)
                .map(|(_, (s, _))| *s)
                .collect();
            rows.extend(
                changed
                    .into_iter()
                    .filter(|&s| !in_seqs(s))
                    .map(|s| self.message(s))
                    .filter(|m| m.rev <= w.through),
            );
            rows.sort_by_key(|m| m.rev);
            rows
        }
        /// The definition: every message whose latest change is after `after`, by rev.
        fn expected(&self, after: Rev, limit: usize) -> Vec<(i64, Rev)> {
            let mut all: Vec<(i64, Rev)> = self
                .messages
                .keys()
                .map(|&s| (s, self.message(s).rev))
                .filter(|(_, r)| *r > after)
                .collect();
            all.sort_by_key(|(_, r)| *r);
            all.truncate(limit);
            all
        }
        fn walk(&self, after: Rev, limit: i64) -> (Vec<(i64, Rev)>, usize) {
            let mut walk = LogWalk::new(after, self.last_rev, limit);
            let mut windows = 0;
            while let Some(w) = walk.next_window() {
                windows += 1;
                walk.take(w, self.window(w));
            }
            let page = walk.finish().iter().map(|m| (m.id, m.rev)).collect();
            (page, windows)
        }
    }

    /// A small deterministic generator (no dependency for one test).
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn every_page_is_the_first_messages_changed_after_the_rev() {
        let mut rng = Lcg(7);
        for round in 0..60 {
            let mut log = Log::new();
            let steps = 1 + rng.below(120);
            // Some logs change mostly old messages, some mostly the newest, some hardly at all.
            let change_odds = rng.below(10);
            for _ in 0..steps {
                if log.last_seq > 0 && rng.below(10) < change_odds {
                    let seq = if round % 2 == 0 {
                        1 + rng.below(log.last_seq as u64) as i64
                    } else {
                        log.last_seq - rng.below(log.last_seq.min(3) as u64) as i64
                    };
                    log.change(seq);
                } else {
                    log.send();
                }
            }
            for after in 0..=log.last_rev {
                for limit in [1, 2, 3, 7, 1000] {
                    let (page, _) = log.walk(after, limit);
                    assert_eq!(
                        page,
                        log.expected(after, limit as usize),
                        "round {round}, after {after}, limit {limit}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_page_of_new_messages_is_one_window() {
        let mut log = Log::new();
        for _ in 0..50 {
            log.send();
        }
        log.change(50);
        assert_eq!(log.walk(0, 10).1, 1);
        assert_eq!(log.walk(45, 10).1, 1, "the end of the log: one open window");
    }

    #[test]
    fn messages_that_changed_again_later_make_the_walk_go_on() {
        let mut log = Log::new();
        for _ in 0..10 {
            log.send();
        }
        for seq in 1..=10 {
            log.change(seq);
        }
        for _ in 0..10 {
            log.send();
        }
        // Revs 1..10 are inserts whose messages changed at 11..20: the first window is empty.
        let (page, windows) = log.walk(0, 10);
        assert_eq!(windows, 2);
        assert_eq!(page, log.expected(0, 10));
    }
}
