//! The SQL both backends run word for word, written once. Placeholders are `$n`: PostgreSQL's
//! own, and sqlx's SQLite driver binds `$n` by its number (rusqlite by position, hence the rule
//! below). What really differs — locking (`FOR UPDATE`, `SKIP LOCKED`), lists of ids (arrays
//! against `json_each`), case-insensitive names (`lower()` against `COLLATE NOCASE`), full-text
//! search, the batched write path — stays in each backend's folder.
//!
//! Where the backends differ in one clause only, the statement is a macro taking that clause:
//! - `$in` is the backend's test "is in the id list bound at `$n`", its `in_list!("$n")`:
//!   `IN (SELECT value FROM json_each($n))` on SQLite (one JSON array, any length) and
//!   `= ANY($n)` on PostgreSQL (an array);
//! - `$name` is the backend's test "the username is the one bound at `$n`, in any letter case",
//!   its `name_is!("$n")`: `username = $n` on SQLite (the column is `COLLATE NOCASE`) and
//!   `lower(username) = lower($n)` on PostgreSQL (its unique index is on `lower(username)`);
//! - `$lock` is how the backend locks the rows it reads to decide on: nothing on SQLite (one
//!   writer), `FOR UPDATE` (… `SKIP LOCKED`) on PostgreSQL.
//!
//! Rules every statement here keeps (tests below):
//! - its placeholders first appear in order, `$1` then `$2` …, so binding by position (rusqlite,
//!   `store/sqlite/changes.rs`) and by number (sqlx) agree;
//! - no backend writes the same statement again: no SQL text in `sqlite/` equals one in
//!   `postgres/` once placeholders are normalised.

use super::rows::pushed;
use super::rules::unread_of_member;

/// A message row as every read returns it, with its sender's shown name: `SELECT` [`MSG_COLS`]
/// `WHERE …`.
macro_rules! msg_cols {
    () => {
        "m.id, m.conversation_id, m.seq, m.sender_id, u.display_name AS sender_name, \
         m.client_msg_id, m.content, m.status, m.recalled_at, m.created_at, m.rev \
         FROM messages m JOIN users u ON u.id = m.sender_id"
    };
}
pub(crate) const MSG_COLS: &str = msg_cols!();

/// A conversation row as one member (the row `cm`) sees it: the conversation's own columns,
/// then the member's `read_seq`, `muted` and `unread` (read by the backends' `load_viewed`).
macro_rules! viewed_cols {
    () => {
        concat!(
            "c.id, c.kind, c.title, c.last_seq, c.last_rev, c.created_at, c.updated_at, \
             cm.user_id, cm.read_seq, cm.muted, ",
            unread_of_member!(),
            " AS unread"
        )
    };
}

/// The members (with names and read positions) of the conversations in `$1`.
macro_rules! members_of {
    ($($in:tt)+) => {
        concat!(
            "SELECT cm.conversation_id, cm.user_id, u.username, u.display_name, cm.read_seq \
             FROM conversation_members cm JOIN users u ON u.id = cm.user_id WHERE cm.conversation_id ",
            $($in)+,
            " ORDER BY cm.conversation_id, cm.user_id"
        )
    };
}
/// For each member of the conversations in `$1` with something still waiting, the oldest seq
/// waiting (delivered is everything below it).
macro_rules! oldest_waiting_in {
    ($($in:tt)+) => {
        concat!(
            "SELECT m.conversation_id, r.user_id, MIN(m.seq) AS oldest \
             FROM message_push_records r JOIN messages m ON m.id = r.message_id \
             WHERE m.conversation_id ",
            $($in)+,
            " AND r.push_status <> ",
            $crate::store::rows::pushed!(),
            " GROUP BY m.conversation_id, r.user_id"
        )
    };
}
/// How many of the users in `$1` exist.
macro_rules! users_known {
    ($($in:tt)+) => {
        concat!("SELECT COUNT(*) FROM users WHERE id ", $($in)+)
    };
}
/// Each member among the users in `$2` of the conversations changed at or after `$1` (their
/// index: the few changed lately first, then their members), with the conversation's rev.
macro_rules! changed_since {
    ($($in:tt)+) => {
        concat!(
            "SELECT cm.user_id, c.id, c.last_rev FROM conversations c \
             JOIN conversation_members cm ON cm.conversation_id = c.id \
             WHERE c.last_change_at >= $1 AND cm.user_id ",
            $($in)+,
            " ORDER BY cm.user_id, c.id"
        )
    };
}
/// The push records of the messages in `$2` sent by `$1`, counted by status (the sender-side
/// views join the sender's membership: see [`PUSH_STATS_FOR_SENDER`]).
macro_rules! push_stats_for_messages {
    ($($in:tt)+) => {
        concat!(
            "SELECT r.push_status, COUNT(*) AS n FROM message_push_records r \
             JOIN messages m ON m.id = r.message_id \
             JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = m.sender_id \
             WHERE m.sender_id = $1 AND r.message_id ",
            $($in)+,
            " GROUP BY r.push_status"
        )
    };
}
/// The records (id, attempts so far) of `$1` for the messages in `$2` not yet pushed, in id
/// order, locked by `$lock`.
macro_rules! failing_records {
    (in: [$($in:tt)+], lock: $lock:literal) => {
        concat!(
            "SELECT id, retry_count FROM message_push_records WHERE user_id = $1 AND push_status <> ",
            $crate::store::rows::pushed!(),
            " AND message_id ",
            $($in)+,
            " ORDER BY id ",
            $lock
        )
    };
}
/// The records in `$6` fail (`$1`) for the `$2`-th time with the error `$3` at `$4`; retried at
/// `$5` (none after the last attempt).
macro_rules! mark_records_failed {
    ($($in:tt)+) => {
        concat!(
            "UPDATE message_push_records SET push_status = $1, retry_count = $2, error_message = $3, \
             update_time = $4, next_retry_at = $5 WHERE id ",
            $($in)+
        )
    };
}
/// Leases (until `$1`) up to `$4` failed records due for a retry at `$2` with fewer than `$3`
/// attempts, in due order; `$lock` on PostgreSQL skips rows another node is claiming.
macro_rules! claim_due_retries {
    ($lock:literal) => {
        concat!(
            "UPDATE message_push_records SET next_retry_at = $1 WHERE id IN (\
             SELECT id FROM message_push_records WHERE push_status = ",
            $crate::store::rows::failed!(),
            " AND next_retry_at IS NOT NULL AND next_retry_at <= $2 AND retry_count < $3 \
             ORDER BY next_retry_at, id LIMIT $4 ",
            $lock,
            ") RETURNING id, message_id, user_id, retry_count"
        )
    };
}
/// The account named `$1` with its password hash.
macro_rules! credentials {
    ($($name:tt)+) => {
        concat!(
            "SELECT id, username, display_name, created_at, password_hash FROM users WHERE ",
            $($name)+
        )
    };
}
/// Grants (`$1` a grant) or revokes (`$1` NULL) operator rights of the account named `$2`.
macro_rules! set_operator {
    ($($name:tt)+) => {
        concat!(
            "UPDATE users SET operator_grant = $1 WHERE ",
            $($name)+,
            " RETURNING id, username, display_name, created_at"
        )
    };
}
/// Revokes the rights the operator list gave the account named `$1` (not those granted by hand).
macro_rules! revoke_listed_operator {
    ($($name:tt)+) => {
        concat!(
            "UPDATE users SET operator_grant = NULL WHERE ",
            $($name)+,
            " AND operator_grant = 'config'"
        )
    };
}
/// Grants the listed account named `$1` operator rights (unless it has them already).
macro_rules! grant_listed_operator {
    ($($name:tt)+) => {
        concat!(
            "UPDATE users SET operator_grant = 'config' WHERE ",
            $($name)+,
            " AND operator_grant IS NULL"
        )
    };
}
/// A row if the account named `$1` has operator rights.
macro_rules! holds_operator {
    ($($name:tt)+) => {
        concat!("SELECT 1 FROM users WHERE ", $($name)+, " AND operator_grant IS NOT NULL")
    };
}
pub(crate) use {
    changed_since, claim_due_retries, credentials, failing_records, grant_listed_operator,
    holds_operator, mark_records_failed, members_of, oldest_waiting_in, push_stats_for_messages,
    revoke_listed_operator, set_operator, users_known,
};

// ---- accounts and sessions -------------------------------------------------------------------

/// A new account; no row when the name is taken (its only unique column besides the id: the
/// name compares without letter case on both backends).
pub(crate) const CREATE_USER: &str =
    "INSERT INTO users (username, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT DO NOTHING RETURNING id, username, display_name, created_at";
pub(crate) const CREATE_SESSION: &str =
    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
/// The account of an unexpired session.
pub(crate) const SESSION_USER: &str =
    "SELECT u.id, u.username, u.display_name, u.created_at, s.expires_at \
     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2";
pub(crate) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE token_hash = $1";
pub(crate) const DELETE_USER_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = $1";
pub(crate) const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";
pub(crate) const SET_PASSWORD_HASH: &str = "UPDATE users SET password_hash = $1 WHERE id = $2";
pub(crate) const OPERATOR_GRANT: &str = "SELECT operator_grant FROM users WHERE id = $1";
pub(crate) const OPERATORS: &str =
    "SELECT id, username, display_name, created_at, operator_grant FROM users \
     WHERE operator_grant IS NOT NULL ORDER BY id";
/// The names the operator list has held (`operator_names`): a name grants only to the account
/// that holds it when it is first listed.
pub(crate) const OPERATOR_NAMES: &str = "SELECT name FROM operator_names";
pub(crate) const FORGET_OPERATOR_NAME: &str = "DELETE FROM operator_names WHERE name = $1";
pub(crate) const REMEMBER_OPERATOR_NAME: &str =
    "INSERT INTO operator_names (name, first_listed_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
pub(crate) const USER_EXISTS: &str = "SELECT id FROM users WHERE id = $1";

// ---- conversations and members ---------------------------------------------------------------

/// Get-or-create of a direct conversation is decided by its unique `direct_key`: of several
/// concurrent starters exactly one insert returns the id.
pub(crate) const CREATE_DIRECT: &str =
    "INSERT INTO conversations (kind, title, direct_key, created_by, created_at, updated_at) \
     VALUES ('direct', '', $1, $2, $3, $3) ON CONFLICT (direct_key) DO NOTHING RETURNING id";
pub(crate) const DIRECT_BY_KEY: &str = "SELECT id FROM conversations WHERE direct_key = $1";
/// Both members of a new direct conversation: `$1` the conversation, `$2` and `$4` the users,
/// `$3` the time.
pub(crate) const ADD_DIRECT_MEMBERS: &str =
    "INSERT INTO conversation_members (conversation_id, user_id, joined_at) \
     VALUES ($1, $2, $3), ($1, $4, $3)";
pub(crate) const CREATE_GROUP: &str =
    "INSERT INTO conversations (kind, title, created_by, created_at, updated_at) \
     VALUES ('group', $1, $2, $3, $3) RETURNING id";
/// One conversation as the member `$1` sees it (no row if they are not one).
pub(crate) const VIEWED_CONVERSATION: &str = concat!(
    "SELECT ",
    viewed_cols!(),
    " FROM conversations c \
     JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $1 WHERE c.id = $2"
);
/// Every conversation of the member `$1`, most recently active first.
pub(crate) const VIEWED_CONVERSATIONS: &str = concat!(
    "SELECT ",
    viewed_cols!(),
    " FROM conversations c \
     JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $1 \
     ORDER BY c.updated_at DESC, c.id DESC"
);
pub(crate) const CONVERSATION_ROW: &str =
    "SELECT id, kind, title, last_seq, last_rev, created_at, updated_at FROM conversations WHERE id = $1";
/// Every member's own view of one conversation (read position, mute, unread) in one statement.
pub(crate) const MEMBER_VIEWS: &str = concat!(
    "SELECT cm.user_id, cm.read_seq, cm.muted, ",
    unread_of_member!(),
    " AS unread FROM conversation_members cm WHERE cm.conversation_id = $1 ORDER BY cm.user_id"
);
/// A member's place: the conversation's kind and end, and the member's read position.
pub(crate) const MEMBERSHIP: &str =
    "SELECT c.kind, c.last_seq, cm.read_seq FROM conversations c JOIN conversation_members cm \
     ON cm.conversation_id = c.id AND cm.user_id = $1 WHERE c.id = $2";
pub(crate) const MEMBER_IDS: &str =
    "SELECT user_id FROM conversation_members WHERE conversation_id = $1 ORDER BY user_id";
pub(crate) const IS_MEMBER: &str =
    "SELECT EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2)";
/// What still waits for a leaver (`$1`) in the conversation `$2` is never pushed: the records go.
pub(crate) const DROP_WAITING_IN: &str = concat!(
    "DELETE FROM message_push_records WHERE user_id = $1 AND push_status <> ",
    pushed!(),
    " AND message_id IN (SELECT id FROM messages WHERE conversation_id = $2) RETURNING message_id"
);
pub(crate) const REMOVE_MEMBER: &str =
    "DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2";
pub(crate) const SET_MUTED: &str =
    "UPDATE conversation_members SET muted = $1 WHERE conversation_id = $2 AND user_id = $3";

// ---- messages and their change log -----------------------------------------------------------

/// A page of history: up to `$3` messages below seq `$2`, newest first.
pub(crate) const HISTORY: &str = concat!(
    "SELECT ",
    msg_cols!(),
    " WHERE m.conversation_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
);
/// The end of a conversation's change log.
pub(crate) const LAST_REV: &str = "SELECT last_rev FROM conversations WHERE id = $1";
/// One window of the change log (read by [`crate::store::log_walk::LogWalk`]): the messages
/// whose latest change has a rev in (`$2`, `$3`], each in its current state, in rev order.
///
/// There is no index on `messages.rev` (keeping one cost every send a second index write): a rev
/// is either a message's insert or a row of `message_changes`, and inserts take seqs in rev
/// order, so the messages inserted after rev `$2` are those with a seq above the conversation's
/// `last_seq` at `$2` — the latest change at or below `$2` recorded it, and every rev since is
/// an insert. The first branch reads at most `$4` of them by seq, the second the messages changed
/// in the window; each keeps a message only if the window holds its latest change.
pub(crate) const CHANGES_IN_WINDOW: &str = concat!(
    "WITH lo AS (SELECT COALESCE((SELECT c.last_seq - c.rev FROM message_changes c \
       WHERE c.conversation_id = $1 AND c.rev <= $2 ORDER BY c.rev DESC LIMIT 1), 0) + $2 AS seq) \
     SELECT ",
    msg_cols!(),
    " WHERE m.conversation_id = $1 AND m.rev <= $3 \
       AND m.seq > (SELECT seq FROM lo) AND m.seq <= (SELECT seq FROM lo) + $4 \
     UNION ALL SELECT ",
    msg_cols!(),
    " WHERE m.id IN (SELECT c.message_id FROM message_changes c \
         WHERE c.conversation_id = $1 AND c.rev > $2 AND c.rev <= $3) \
       AND m.rev <= $3 AND NOT (m.seq > (SELECT seq FROM lo) AND m.seq <= (SELECT seq FROM lo) + $4) \
     ORDER BY rev"
);
pub(crate) const MESSAGE: &str = concat!("SELECT ", msg_cols!(), " WHERE m.id = $1");
/// Each other member's receipt for message `$1` (in `$2`, sent by `$3`): read position and the
/// push record, if it is still kept.
pub(crate) const RECEIPTS: &str =
    "SELECT cm.user_id, u.display_name, cm.read_seq, r.push_status FROM conversation_members cm \
     JOIN users u ON u.id = cm.user_id \
     LEFT JOIN message_push_records r ON r.message_id = $1 AND r.user_id = cm.user_id \
     WHERE cm.conversation_id = $2 AND cm.user_id <> $3 ORDER BY cm.user_id";
/// The message an actor's `client_op_id` already changed, if it did.
pub(crate) const OP_DONE: &str =
    "SELECT message_id FROM message_changes WHERE actor_id = $1 AND client_op_id = $2";
/// A recall's end state: no text, the time, and the rev that made it.
pub(crate) const MARK_RECALLED: &str =
    "UPDATE messages SET recalled_at = $1, content = '', rev = $2 WHERE id = $3";
/// A change's record, with its conversation's `last_seq` as it stands (how many messages were
/// inserted before it: what [`CHANGES_IN_WINDOW`] finds seqs by).
pub(crate) const LOG_CHANGE: &str =
    "INSERT INTO message_changes (conversation_id, rev, message_id, actor_id, client_op_id, kind, created_at, last_seq) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT last_seq FROM conversations WHERE id = $1))";

// ---- the delivery ledger ---------------------------------------------------------------------

/// Up to `$3` messages still waiting for `$1` after message id `$2`, in id order.
pub(crate) const WAITING_FOR: &str = concat!(
    "SELECT ",
    msg_cols!(),
    " WHERE m.id IN (SELECT DISTINCT r.message_id FROM message_push_records r \
     WHERE r.user_id = $1 AND r.push_status <> ",
    pushed!(),
    " AND r.message_id > $2 ORDER BY r.message_id LIMIT $3) ORDER BY m.id"
);
/// Messages still waiting for `$1` (one record per message and recipient).
pub(crate) const WAITING_COUNT: &str = concat!(
    "SELECT COUNT(DISTINCT message_id) FROM message_push_records WHERE user_id = $1 AND push_status <> ",
    pushed!()
);
/// The conversations where something waits for `$1`, with the highest seq waiting.
pub(crate) const WAITING_CONVERSATIONS: &str = concat!(
    "SELECT m.conversation_id, MAX(m.seq) AS seq FROM message_push_records r \
     JOIN messages m ON m.id = r.message_id WHERE r.user_id = $1 AND r.push_status <> ",
    pushed!(),
    " GROUP BY m.conversation_id"
);
/// The messages waiting for `$1` in `$2` up to seq `$3` (a read acknowledges them).
pub(crate) const WAITING_UP_TO: &str = concat!(
    "SELECT r.message_id FROM message_push_records r JOIN messages m ON m.id = r.message_id \
     WHERE r.user_id = $1 AND r.push_status <> ",
    pushed!(),
    " AND m.conversation_id = $2 AND m.seq <= $3"
);
pub(crate) const SET_READ_SEQ: &str =
    "UPDATE conversation_members SET read_seq = $1 WHERE conversation_id = $2 AND user_id = $3";
/// The upsert moves `last_run` forward only for a later period: one caller gets the row.
pub(crate) const CLAIM_JOB_RUN: &str =
    "INSERT INTO scheduler_runs (job, last_run) VALUES ($1, $2) ON CONFLICT (job) \
     DO UPDATE SET last_run = excluded.last_run WHERE scheduler_runs.last_run < excluded.last_run \
     RETURNING job";
/// One more failed attempt of record `$5` (still failed, `$6`): terminal after `$3` attempts.
pub(crate) const POSTPONE_RETRY: &str =
    "UPDATE message_push_records SET retry_count = retry_count + 1, error_message = $1, update_time = $2, \
     next_retry_at = CASE WHEN retry_count + 1 >= $3 THEN NULL ELSE $4 END WHERE id = $5 AND push_status = $6";
/// Record `$3` goes from failed (`$4`) back to pending (`$1`) for another push at `$2`.
pub(crate) const MARK_RETRYING: &str =
    "UPDATE message_push_records SET push_status = $1, push_time = $2, update_time = $2, \
     next_retry_at = NULL WHERE id = $3 AND push_status = $4";
pub(crate) const PUSH_STATS: &str =
    "SELECT push_status, COUNT(*) AS n FROM message_push_records GROUP BY push_status";
pub(crate) const PUSH_STATS_FOR_RECIPIENT: &str =
    "SELECT push_status, COUNT(*) AS n FROM message_push_records WHERE user_id = $1 GROUP BY push_status";
// The sender-side views join the sender's membership: after leaving a conversation its
// deliveries are no longer theirs to watch (docs/API.md §4.3).
pub(crate) const PUSH_STATS_FOR_SENDER: &str =
    "SELECT r.push_status, COUNT(*) AS n FROM message_push_records r JOIN messages m ON m.id = r.message_id \
     JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = m.sender_id \
     WHERE m.sender_id = $1 GROUP BY r.push_status";
pub(crate) const RECENT_RECORDS_FOR_SENDER: &str =
    "SELECT r.id, r.message_id, r.user_id, r.push_status, r.retry_count, r.push_time, r.error_message, \
     r.create_time, r.update_time FROM message_push_records r JOIN messages m ON m.id = r.message_id \
     JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = m.sender_id \
     WHERE m.sender_id = $1 ORDER BY r.id DESC LIMIT $2";

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    /// Every statement of this file, by name (a test fails if one is added and not listed here:
    /// it counts the file's constants).
    const SHARED: &[(&str, &str)] = &[
        ("CREATE_USER", super::CREATE_USER),
        ("CREATE_SESSION", super::CREATE_SESSION),
        ("SESSION_USER", super::SESSION_USER),
        ("DELETE_SESSION", super::DELETE_SESSION),
        ("DELETE_USER_SESSIONS", super::DELETE_USER_SESSIONS),
        ("DELETE_EXPIRED_SESSIONS", super::DELETE_EXPIRED_SESSIONS),
        ("SET_PASSWORD_HASH", super::SET_PASSWORD_HASH),
        ("OPERATOR_GRANT", super::OPERATOR_GRANT),
        ("OPERATORS", super::OPERATORS),
        ("OPERATOR_NAMES", super::OPERATOR_NAMES),
        ("FORGET_OPERATOR_NAME", super::FORGET_OPERATOR_NAME),
        ("REMEMBER_OPERATOR_NAME", super::REMEMBER_OPERATOR_NAME),
        ("USER_EXISTS", super::USER_EXISTS),
        ("CREATE_DIRECT", super::CREATE_DIRECT),
        ("DIRECT_BY_KEY", super::DIRECT_BY_KEY),
        ("ADD_DIRECT_MEMBERS", super::ADD_DIRECT_MEMBERS),
        ("CREATE_GROUP", super::CREATE_GROUP),
        ("VIEWED_CONVERSATION", super::VIEWED_CONVERSATION),
        ("VIEWED_CONVERSATIONS", super::VIEWED_CONVERSATIONS),
        ("CONVERSATION_ROW", super::CONVERSATION_ROW),
        ("MEMBER_VIEWS", super::MEMBER_VIEWS),
        ("MEMBERSHIP", super::MEMBERSHIP),
        ("MEMBER_IDS", super::MEMBER_IDS),
        ("IS_MEMBER", super::IS_MEMBER),
        ("DROP_WAITING_IN", super::DROP_WAITING_IN),
        ("REMOVE_MEMBER", super::REMOVE_MEMBER),
        ("SET_MUTED", super::SET_MUTED),
        ("HISTORY", super::HISTORY),
        ("LAST_REV", super::LAST_REV),
        ("CHANGES_IN_WINDOW", super::CHANGES_IN_WINDOW),
        ("MESSAGE", super::MESSAGE),
        ("RECEIPTS", super::RECEIPTS),
        ("OP_DONE", super::OP_DONE),
        ("MARK_RECALLED", super::MARK_RECALLED),
        ("LOG_CHANGE", super::LOG_CHANGE),
        ("WAITING_FOR", super::WAITING_FOR),
        ("WAITING_COUNT", super::WAITING_COUNT),
        ("WAITING_CONVERSATIONS", super::WAITING_CONVERSATIONS),
        ("WAITING_UP_TO", super::WAITING_UP_TO),
        ("SET_READ_SEQ", super::SET_READ_SEQ),
        ("CLAIM_JOB_RUN", super::CLAIM_JOB_RUN),
        ("POSTPONE_RETRY", super::POSTPONE_RETRY),
        ("MARK_RETRYING", super::MARK_RETRYING),
        ("PUSH_STATS", super::PUSH_STATS),
        ("PUSH_STATS_FOR_RECIPIENT", super::PUSH_STATS_FOR_RECIPIENT),
        ("PUSH_STATS_FOR_SENDER", super::PUSH_STATS_FOR_SENDER),
        (
            "RECENT_RECORDS_FOR_SENDER",
            super::RECENT_RECORDS_FOR_SENDER,
        ),
    ];

    /// The numbers of `$n` placeholders in the order they first appear.
    fn first_appearances(sql: &str) -> Vec<u32> {
        let mut seen = Vec::new();
        let bytes = sql.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' {
                let digits: String = sql[i + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse::<u32>() {
                    if !seen.contains(&n) {
                        seen.push(n);
                    }
                }
                i += digits.len();
            }
            i += 1;
        }
        seen
    }

    #[test]
    fn placeholders_first_appear_in_order_and_none_is_positional() {
        for (name, sql) in SHARED {
            let order = first_appearances(sql);
            let expected: Vec<u32> = (1..=order.len() as u32).collect();
            assert_eq!(
                order, expected,
                "{name}: placeholders out of order in {sql}"
            );
            assert!(!sql.contains('?'), "{name}: `?` placeholder in {sql}");
        }
    }

    #[test]
    fn every_constant_is_checked() {
        let source = include_str!("sql.rs");
        let declared = source
            .lines()
            .filter(|l| l.starts_with("pub(crate) const ") && !l.contains("MSG_COLS"))
            .count();
        assert_eq!(declared, SHARED.len(), "list every statement in SHARED");
        let names: HashSet<_> = SHARED.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), SHARED.len());
    }

    /// The SQL string literals of a backend's sources, whitespace collapsed and placeholders
    /// (`?`, `?N`, `$N`) made one symbol, so twins that differ only in those compare equal.
    fn literals(sources: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for src in sources {
            let mut rest = *src;
            while let Some(start) = rest.find('"') {
                let body = &rest[start + 1..];
                let mut end = None;
                let mut escaped = false;
                for (i, c) in body.char_indices() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            end = Some(i);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                let Some(end) = end else { break };
                let text = normalised(&body[..end]);
                if text.len() > 20
                    && ["SELECT ", "INSERT ", "UPDATE ", "DELETE "]
                        .iter()
                        .any(|k| text.contains(k))
                {
                    out.push(text);
                }
                rest = &body[end + 1..];
            }
        }
        out
    }

    fn normalised(literal: &str) -> String {
        let joined = literal.replace("\\\n", " ");
        let mut out = String::new();
        let mut chars = joined.split_whitespace().collect::<Vec<_>>().join(" ");
        chars.push(' ');
        let mut it = chars.chars().peekable();
        while let Some(c) = it.next() {
            if c == '?' || c == '$' {
                while it.peek().is_some_and(char::is_ascii_digit) {
                    it.next();
                }
                out.push('¤');
            } else {
                out.push(c);
            }
        }
        out.trim_end().to_string()
    }

    #[test]
    fn no_statement_is_written_twice() {
        let sqlite = literals(&[
            include_str!("sqlite/mod.rs"),
            include_str!("sqlite/accounts.rs"),
            include_str!("sqlite/batch.rs"),
            include_str!("sqlite/changes.rs"),
            include_str!("sqlite/conversations.rs"),
            include_str!("sqlite/direct.rs"),
            include_str!("sqlite/ledger.rs"),
            include_str!("sqlite/messages.rs"),
        ]);
        let postgres: HashSet<String> = literals(&[
            include_str!("postgres/mod.rs"),
            include_str!("postgres/accounts.rs"),
            include_str!("postgres/batch.rs"),
            include_str!("postgres/changes.rs"),
            include_str!("postgres/conversations.rs"),
            include_str!("postgres/ledger.rs"),
            include_str!("postgres/messages.rs"),
        ])
        .into_iter()
        .collect();
        let twins: Vec<&String> = sqlite.iter().filter(|s| postgres.contains(*s)).collect();
        assert!(
            twins.is_empty(),
            "statements written in both backends (move them to store/sql.rs): {twins:#?}"
        );
        // The check sees the backends' statements at all.
        assert!(sqlite.len() > 20 && postgres.len() > 20);
    }

    #[test]
    fn normalising_makes_placeholder_styles_equal() {
        assert_eq!(
            normalised("SELECT a FROM t WHERE x = ? AND \\\n   y = ?2"),
            normalised("SELECT a FROM t WHERE x = $1 AND y = $2")
        );
    }
}
