//! Replay and sync pages are bounded in bytes as well as in messages. A page of 500 long
//! messages can be several MiB: two of them waiting in a connection's outbox would pass its byte
//! bound, the connection would be closed as a slow consumer, and on reconnect the same replay
//! would start again — a backlog of long messages could then never drain. So a page is cut to a
//! quarter of the outbox's byte bound, and the next page waits while the unacknowledged ones
//! hold more than that.

use std::collections::HashMap;

use app::model::{Message, MessageId};

/// About how many bytes `m` takes in a frame (its text and names, plus the JSON around them).
pub fn frame_bytes(m: &Message) -> usize {
    const ENVELOPE: usize = 200;
    m.content.as_ref().map_or(0, String::len)
        + m.sender_name.len()
        + m.client_msg_id.len()
        + ENVELOPE
}

/// Keeps the longest prefix of `messages` within `budget` bytes — at least one message, so a
/// page always moves forward. Returns how many were dropped.
pub fn cut_to_bytes(messages: &mut Vec<Message>, budget: usize) -> usize {
    let mut total = 0;
    let keep = messages
        .iter()
        .position(|m| {
            total += frame_bytes(m);
            total > budget
        })
        .unwrap_or(messages.len())
        .max(1)
        .min(messages.len());
    let dropped = messages.len() - keep;
    messages.truncate(keep);
    dropped
}

/// Messages sent in pages and not yet acknowledged, with their size.
#[derive(Debug, Default)]
pub struct Awaiting {
    ids: HashMap<MessageId, usize>,
    bytes: usize,
}

impl Awaiting {
    pub fn add(&mut self, messages: &[Message]) {
        for m in messages {
            let n = frame_bytes(m);
            if let Some(old) = self.ids.insert(m.id, n) {
                self.bytes -= old;
            }
            self.bytes += n;
        }
    }

    pub fn settle(&mut self, ids: &[MessageId]) {
        for id in ids {
            if let Some(n) = self.ids.remove(id) {
                self.bytes -= n;
            }
        }
    }

    pub fn retain(&mut self, keep: impl Fn(&MessageId) -> bool) {
        let bytes = &mut self.bytes;
        self.ids.retain(|id, n| {
            let k = keep(id);
            if !k {
                *bytes -= *n;
            }
            k
        });
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// True while another page should wait: more than a page of messages, or of bytes, is out.
    pub fn full(&self, page_messages: i64, page_bytes: usize) -> bool {
        self.ids.len() as i64 > page_messages || self.bytes > page_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: i64, len: usize) -> Message {
        Message {
            id,
            conversation_id: 1,
            seq: id,
            sender_id: 1,
            sender_name: String::new(),
            client_msg_id: String::new(),
            content: Some("x".repeat(len)),
            recalled: false,
            recalled_at: None,
            status: app::model::MessageStatus::Sent,
            created_at: 0,
            rev: id,
        }
    }

    #[test]
    fn pages_are_cut_by_bytes_but_always_move() {
        let mut page: Vec<Message> = (1..=10).map(|i| msg(i, 800)).collect();
        assert_eq!(cut_to_bytes(&mut page, 3000), 7, "three of 1000 bytes fit");
        assert_eq!(page.len(), 3);
        let mut huge = vec![msg(1, 100_000), msg(2, 10)];
        cut_to_bytes(&mut huge, 3000);
        assert_eq!(huge.len(), 1, "one message even when it alone is over");
        let mut none: Vec<Message> = Vec::new();
        assert_eq!(cut_to_bytes(&mut none, 10), 0);
    }

    #[test]
    fn awaiting_counts_bytes_out_and_back() {
        let mut a = Awaiting::default();
        a.add(&[msg(1, 800), msg(2, 800)]);
        assert!(a.full(500, 1500));
        assert!(!a.full(500, 5000));
        a.settle(&[1]);
        assert!(!a.full(500, 1500));
        a.retain(|id| *id != 2);
        assert!(a.is_empty());
        assert!(!a.full(0, 0));
    }
}
