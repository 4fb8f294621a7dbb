//! The values that stored integers stand for, mapped by `sqlx::Type` so no SQL statement spells
//! out a bare 0, 1 or 2, and the rules built on them ("delivered", "read", "unread") are
//! written once. Shared by every backend (the columns are small integers in each).

use std::collections::HashMap;

use app::model::{
    Conversation, ConversationKind, Member, Message, MessageStatus, PushRecord, PushStatus, User,
};

use super::{DueRetry, StatusChange};

/// The record statuses as SQL literals, for the conditions of queries that must use one of the
/// partial indexes on `message_push_records` (`WHERE push_status <> 1`, `= 2`, `= 1`): SQLite
/// uses a partial index only when the query repeats its condition literally, never through a
/// bound parameter. A test below ties each to its enum value.
macro_rules! pushed {
    () => {
        "1"
    };
}
macro_rules! failed {
    () => {
        "2"
    };
}
pub(crate) use {failed, pushed};

/// `messages.status`: how far a message got, as its sender sees it. Only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, sqlx::Type)]
#[repr(i16)]
pub enum StoredStatus {
    /// Committed.
    Sent = 0,
    /// Every recipient has a device that acknowledged it.
    Delivered = 1,
    /// Every recipient's read position has passed it.
    Read = 2,
}

/// `message_push_records.push_status` (the original design's 0 / 1 / 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[repr(i16)]
pub enum RecordStatus {
    Pending = 0,
    Pushed = 1,
    Failed = 2,
}

// `message_push_records.kind` is always 0 (the column's default, never written): a push record
// is one message's delivery to one recipient, nothing else. It once also told a recall event
// (kind 1) apart, pushed to members who were offline during a recall; the change log replaced
// that — a device that was away learns of a recall by `sync` from its rev, which brings the
// message back recalled — and migrations/*/…_drop_recall_records.sql deleted those rows. The
// column stays because it is part of the table's UNIQUE (message_id, user_id, kind), and SQLite
// cannot drop it without rebuilding the table. So an ack of a message id means exactly "this
// message reached a device of this recipient".

impl StoredStatus {
    /// The status a stored integer stands for (`None` for a value no migration writes).
    pub(crate) fn from_stored(v: i64) -> Option<StoredStatus> {
        [
            StoredStatus::Sent,
            StoredStatus::Delivered,
            StoredStatus::Read,
        ]
        .into_iter()
        .find(|s| *s as i64 == v)
    }
}

impl From<StoredStatus> for MessageStatus {
    fn from(s: StoredStatus) -> MessageStatus {
        match s {
            StoredStatus::Sent => MessageStatus::Sent,
            StoredStatus::Delivered => MessageStatus::Delivered,
            StoredStatus::Read => MessageStatus::Read,
        }
    }
}

impl From<RecordStatus> for PushStatus {
    fn from(s: RecordStatus) -> PushStatus {
        match s {
            RecordStatus::Pending => PushStatus::Pending,
            RecordStatus::Pushed => PushStatus::Pushed,
            RecordStatus::Failed => PushStatus::Failed,
        }
    }
}

/// A message as selected by every backend's `MSG_COLS` (the message joined to its sender).
#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub(crate) id: i64,
    pub(crate) conversation_id: i64,
    pub(crate) seq: i64,
    pub(crate) sender_id: i64,
    pub(crate) sender_name: String,
    pub(crate) client_msg_id: String,
    pub(crate) content: String,
    pub(crate) status: StoredStatus,
    pub(crate) recalled_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) rev: i64,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Message {
        let recalled = r.recalled_at.is_some();
        Message {
            id: r.id,
            conversation_id: r.conversation_id,
            seq: r.seq,
            sender_id: r.sender_id,
            sender_name: r.sender_name,
            client_msg_id: r.client_msg_id,
            // Recalled content is never served.
            content: (!recalled).then_some(r.content),
            recalled,
            recalled_at: r.recalled_at,
            status: r.status.into(),
            created_at: r.created_at,
            rev: r.rev,
        }
    }
}

/// `id, username, display_name, created_at` of `users`.
#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> User {
        User {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            created_at: r.created_at,
        }
    }
}

/// A message whose status moved: `RETURNING id, conversation_id, seq, sender_id, created_at`.
#[derive(sqlx::FromRow)]
pub(crate) struct ChangeRow {
    pub(crate) id: i64,
    pub(crate) conversation_id: i64,
    pub(crate) seq: i64,
    pub(crate) sender_id: i64,
    pub(crate) created_at: i64,
}

impl ChangeRow {
    pub(crate) fn to(self, status: MessageStatus) -> StatusChange {
        StatusChange {
            message_id: self.id,
            conversation_id: self.conversation_id,
            seq: self.seq,
            sender_id: self.sender_id,
            status,
            created_at: self.created_at,
        }
    }
}

/// A push record as the diagnostics page lists it.
#[derive(sqlx::FromRow)]
pub(crate) struct RecordRow {
    id: i64,
    message_id: i64,
    user_id: i64,
    push_status: RecordStatus,
    retry_count: i64,
    push_time: Option<i64>,
    error_message: Option<String>,
    create_time: i64,
    update_time: i64,
}

impl From<RecordRow> for PushRecord {
    fn from(r: RecordRow) -> PushRecord {
        PushRecord {
            id: r.id,
            message_id: r.message_id,
            user_id: r.user_id,
            push_status: r.push_status.into(),
            retry_count: r.retry_count,
            push_time: r.push_time,
            error_message: r.error_message,
            create_time: r.create_time,
            update_time: r.update_time,
        }
    }
}

/// `id, message_id, user_id, retry_count` of a failed record that is due.
#[derive(sqlx::FromRow)]
pub(crate) struct DueRetryRow {
    id: i64,
    message_id: i64,
    user_id: i64,
    retry_count: i64,
}

impl From<DueRetryRow> for DueRetry {
    fn from(r: DueRetryRow) -> DueRetry {
        DueRetry {
            record_id: r.id,
            message_id: r.message_id,
            user_id: r.user_id,
            retry_count: r.retry_count,
        }
    }
}

/// `id, kind, title, last_seq, last_rev, created_at, updated_at` of `conversations`.
#[derive(sqlx::FromRow)]
pub(crate) struct ConversationRow {
    pub id: i64,
    kind: String,
    title: String,
    pub last_seq: i64,
    last_rev: i64,
    created_at: i64,
    updated_at: i64,
}

/// A conversation row as one member sees it (`sql::viewed_cols!`): its own columns and the
/// member's.
#[derive(sqlx::FromRow)]
pub(crate) struct ViewedRow {
    #[sqlx(flatten)]
    pub conversation: ConversationRow,
    #[sqlx(flatten)]
    pub viewer: super::Viewer,
}

/// `cm.user_id, u.username, u.display_name, cm.read_seq`: a member with their position.
#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    user_id: i64,
    username: String,
    display_name: String,
    read_seq: i64,
}

/// `cm.conversation_id` and a [`MemberRow`]: a member of one of several conversations.
#[derive(sqlx::FromRow)]
pub(crate) struct ConversationMemberRow {
    conversation_id: i64,
    #[sqlx(flatten)]
    member: MemberRow,
}

/// The conversations worth loading a last message for, as (conversation, its `last_seq`):
/// those with at least one message.
pub(crate) fn last_message_keys(rows: &[ConversationRow]) -> Vec<(i64, i64)> {
    rows.iter()
        .filter(|c| c.last_seq > 0)
        .map(|c| (c.id, c.last_seq))
        .collect()
}

/// The viewer-independent conversations of `rows`, in their order, from every member of them
/// (ordered by conversation, then user), the oldest seq still waiting for each member as
/// `(conversation, user, oldest seq)`, and the messages at their `last_seq` (see
/// [`last_message_keys`]): [`shared_conversation`] for each row, from the few set-based
/// statements that load them all.
pub(crate) fn shared_conversations(
    rows: Vec<ConversationRow>,
    members: Vec<ConversationMemberRow>,
    oldest_waiting: Vec<(i64, i64, i64)>,
    last_messages: Vec<Message>,
) -> Vec<Conversation> {
    let mut members_of: HashMap<i64, Vec<MemberRow>> = HashMap::with_capacity(rows.len());
    for m in members {
        members_of
            .entry(m.conversation_id)
            .or_default()
            .push(m.member);
    }
    let mut waiting_in: HashMap<i64, HashMap<i64, i64>> = HashMap::new();
    for (conversation, user, oldest) in oldest_waiting {
        waiting_in
            .entry(conversation)
            .or_default()
            .insert(user, oldest);
    }
    let mut last_of: HashMap<i64, Message> = last_messages
        .into_iter()
        .map(|m| (m.conversation_id, m))
        .collect();
    rows.into_iter()
        .map(|c| {
            let id = c.id;
            let last = last_of.remove(&id).filter(|m| m.seq == c.last_seq);
            shared_conversation(
                c,
                members_of.remove(&id).unwrap_or_default(),
                waiting_in.remove(&id).unwrap_or_default(),
                last,
            )
        })
        .collect()
}

/// The viewer-independent conversation, from its row, its members, the oldest seq still waiting
/// for each member (members with nothing waiting are absent: delivered up to `last_seq`), and
/// its last message.
fn shared_conversation(
    c: ConversationRow,
    members: Vec<MemberRow>,
    oldest_waiting: HashMap<i64, i64>,
    last_message: Option<Message>,
) -> Conversation {
    let kind = if c.kind == "group" {
        ConversationKind::Group
    } else {
        ConversationKind::Direct
    };
    Conversation {
        id: c.id,
        kind,
        title: match kind {
            ConversationKind::Group => c.title,
            ConversationKind::Direct => String::new(),
        },
        members: members
            .into_iter()
            .map(|m| Member {
                delivered_seq: oldest_waiting
                    .get(&m.user_id)
                    .map(|s| s - 1)
                    .unwrap_or(c.last_seq),
                user_id: m.user_id,
                username: m.username,
                display_name: m.display_name,
                read_seq: m.read_seq,
            })
            .collect(),
        last_seq: c.last_seq,
        last_rev: c.last_rev,
        last_message,
        read_seq: 0,
        unread: 0,
        muted: false,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// `push_status, n` rows (records counted by status) summed into [`app::model::PushStats`].
pub(crate) fn push_stats(
    counts: impl IntoIterator<Item = (RecordStatus, i64)>,
) -> app::model::PushStats {
    let mut s = app::model::PushStats {
        pending: 0,
        pushed: 0,
        failed: 0,
    };
    for (status, n) in counts {
        match status {
            RecordStatus::Pending => s.pending += n,
            RecordStatus::Pushed => s.pushed += n,
            RecordStatus::Failed => s.failed += n,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_literals_are_the_enum_values() {
        assert_eq!(pushed!(), (RecordStatus::Pushed as i16).to_string());
        assert_eq!(failed!(), (RecordStatus::Failed as i16).to_string());
    }
}
