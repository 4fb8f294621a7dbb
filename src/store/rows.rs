//! The values that stored integers stand for, mapped by `sqlx::Type` so no SQL statement spells
//! out a bare 0, 1 or 2, and the rules built on them ("delivered", "read", "unread") are
//! written once. Shared by every backend (the columns are small integers in each).

use app::model::{MessageStatus, PushStatus};

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

/// `message_push_records.kind`: the message itself, or the event that it was recalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[repr(i16)]
pub enum RecordKind {
    Message = 0,
    Recall = 1,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_literals_are_the_enum_values() {
        assert_eq!(pushed!(), (RecordStatus::Pushed as i16).to_string());
        assert_eq!(failed!(), (RecordStatus::Failed as i16).to_string());
    }
}
