//! The delivery rules as SQL, written once and used by every backend: what makes a message
//! "delivered" or "read", what counts as "unread", and whose messages still move. Plain SQL
//! without parameters, so SQLite and PostgreSQL share the very same text; each backend only adds
//! its own locking and placeholders around it (`mark_delivered_on`, `mark_read_on`).

use super::rows::pushed;

/// Delivered: the message (the row `messages`) has recipients' records, and none of them is
/// still unacknowledged. (Every push record is a message's own: see store/rows.rs.)
pub(crate) const DELIVERED: &str = concat!(
    "NOT EXISTS (SELECT 1 FROM message_push_records r WHERE r.message_id = messages.id \
     AND r.push_status <> ",
    pushed!(),
    ") AND EXISTS (SELECT 1 FROM message_push_records r WHERE r.message_id = messages.id)"
);

/// Read: every member other than the sender has a read position at or past the message (the
/// row `messages`), and there is such a member.
pub(crate) const READ: &str = "EXISTS (SELECT 1 FROM conversation_members cm \
     WHERE cm.conversation_id = messages.conversation_id AND cm.user_id <> messages.sender_id) \
     AND NOT EXISTS (SELECT 1 FROM conversation_members cm \
     WHERE cm.conversation_id = messages.conversation_id AND cm.user_id <> messages.sender_id \
     AND cm.read_seq < messages.seq)";

/// Unread, for the member row `cm`: derived, never incremented — the others' messages after
/// the member's read position, recalled ones not counted.
/// (A macro, so the shared statements can `concat!` it: store/sql.rs.)
macro_rules! unread_of_member {
    () => {
        "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = cm.conversation_id \
         AND m.seq > cm.read_seq AND m.sender_id <> cm.user_id AND m.recalled_at IS NULL)"
    };
}
pub(crate) use unread_of_member;

/// Status only moves for messages whose sender is still a member: someone who left a group
/// hears nothing more about it, not even how far their old messages got.
pub(crate) const SENDER_IS_MEMBER: &str = "EXISTS (SELECT 1 FROM conversation_members s \
     WHERE s.conversation_id = messages.conversation_id AND s.user_id = messages.sender_id)";
