//! The hot write path of the SQLite backend, set-based: a whole batch of sends (and of
//! acknowledgements) costs a fixed handful of statements, not a handful per message. These run
//! synchronously on the writer connection itself ([`super::direct::run_direct`]), so a batch
//! costs one hand-off to sqlx's worker thread instead of one per statement.

use std::collections::{HashMap, HashSet};

use app::model::{ConversationId, Message, MessageId, MessageStatus, UserId};
use rusqlite::{Connection, ToSql};

use crate::store::rows::{pushed, ChangeRow, MessageRow, RecordStatus, StoredStatus};
use crate::store::rules::{DELIVERED, SENDER_IS_MEMBER};
use crate::store::{
    AckOutcome, Committed, InsertOutcome, NewMessage, StatusChange, CHANGE_AT_RESOLUTION_MS,
};

/// Rows per multi-row statement; keeps bound parameters far below SQLite's limit.
const CHUNK: usize = 400;

fn dedup<T: Ord + Copy>(mut v: Vec<T>) -> Vec<T> {
    v.sort_unstable();
    v.dedup();
    v
}

/// `n` rows of `cols` placeholders: `(?, ?), (?, ?)`.
fn rows_of(n: usize, cols: usize) -> String {
    let row = format!("({})", vec!["?"; cols].join(", "));
    vec![row; n].join(", ")
}

/// `n` placeholders: `?, ?, ?`.
fn list_of(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A stored integer that no migration writes is corruption, reported as such (never a panic).
fn bad_value(column: usize, what: &str, v: i64) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Integer,
        format!("{v} is not a {what}").into(),
    )
}

fn status_at(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<StoredStatus> {
    let v: i64 = row.get(column)?;
    StoredStatus::from_stored(v).ok_or_else(|| bad_value(column, "message status", v))
}

/// What the batch decided for one send before anything is written.
enum Plan {
    Existing(Message),
    /// Same key as an earlier send of this batch (index into the batch).
    SameAs(usize),
    NotMember,
    Insert,
}

pub(crate) fn insert_batch(
    conn: &Connection,
    batch: &[NewMessage],
    now: i64,
) -> rusqlite::Result<Vec<InsertOutcome>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    // 1. Sends committed before (idempotency on (sender, client_msg_id)). Looking first is
    //    sound here and only here: this runs on the one writer connection, inside its write
    //    transaction, so nothing can commit a key between this read and the insert below. The
    //    PostgreSQL backend has many writers and lets the INSERT claim the key instead.
    let keys: HashSet<(UserId, &str)> = batch
        .iter()
        .map(|m| (m.sender_id, m.client_msg_id.as_str()))
        .collect();
    let mut existing: HashMap<(UserId, String), Message> = HashMap::new();
    for chunk in batch.chunks(CHUNK) {
        // A VALUES list joined to the unique index: one index lookup per key.
        let sql = format!(
            "WITH k(sender_id, client_msg_id) AS (VALUES {}) \
             SELECT m.id, m.conversation_id, m.seq, m.sender_id, u.display_name, m.client_msg_id, \
             m.content, m.status, m.recalled_at, m.created_at, m.rev FROM k \
             JOIN messages m ON m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id \
             JOIN users u ON u.id = m.sender_id",
            rows_of(chunk.len(), 2)
        );
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 2);
        for m in chunk {
            params.push(&m.sender_id);
            params.push(&m.client_msg_id);
        }
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(&*params)?;
        while let Some(row) = rows.next()? {
            let m = Message::from(MessageRow {
                id: row.get(0)?,
                conversation_id: row.get(1)?,
                seq: row.get(2)?,
                sender_id: row.get(3)?,
                sender_name: row.get(4)?,
                client_msg_id: row.get(5)?,
                content: row.get(6)?,
                status: status_at(row, 7)?,
                recalled_at: row.get(8)?,
                created_at: row.get(9)?,
                rev: row.get(10)?,
            });
            if keys.contains(&(m.sender_id, m.client_msg_id.as_str())) {
                existing.insert((m.sender_id, m.client_msg_id.clone()), m);
            }
        }
    }

    // 2. The members of every conversation of the batch (membership of each sender, and the
    //    recipients), with the display names of the batch's senders — one statement.
    let conv_ids: Vec<ConversationId> = dedup(batch.iter().map(|m| m.conversation_id).collect());
    let senders: Vec<UserId> = dedup(batch.iter().map(|m| m.sender_id).collect());
    let mut members: HashMap<ConversationId, Vec<UserId>> = HashMap::new();
    let mut member_ok: HashSet<(ConversationId, UserId)> = HashSet::new();
    let mut names: HashMap<UserId, String> = HashMap::new();
    for chunk in conv_ids.chunks(CHUNK) {
        // Names are joined for senders only: a big group's other members cost no user lookup.
        // (A batch with more senders than a chunk — only with a raised max_batch — gets every
        // member's name instead, keeping the bound parameters few.)
        let mut params: Vec<&dyn ToSql> = Vec::new();
        let name_filter = if senders.len() <= CHUNK {
            params.extend(senders.iter().map(|u| u as &dyn ToSql));
            format!(" AND cm.user_id IN ({})", list_of(senders.len()))
        } else {
            String::new()
        };
        params.extend(chunk.iter().map(|c| c as &dyn ToSql));
        let sql = format!(
            "SELECT cm.conversation_id, cm.user_id, u.display_name FROM conversation_members cm \
             LEFT JOIN users u ON u.id = cm.user_id{name_filter} \
             WHERE cm.conversation_id IN ({}) ORDER BY cm.conversation_id, cm.user_id",
            list_of(chunk.len())
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(&*params)?;
        while let Some(row) = rows.next()? {
            let (c, u): (ConversationId, UserId) = (row.get(0)?, row.get(1)?);
            if let Some(name) = row.get::<_, Option<String>>(2)? {
                names.insert(u, name);
            }
            member_ok.insert((c, u));
            members.entry(c).or_default().push(u);
        }
    }

    // 3. Decide, in batch order.
    let mut first_of_key: HashMap<(UserId, &str), usize> = HashMap::new();
    let mut plans = Vec::with_capacity(batch.len());
    let mut per_conversation: HashMap<ConversationId, i64> = HashMap::new();
    for (i, m) in batch.iter().enumerate() {
        let key = (m.sender_id, m.client_msg_id.as_str());
        if let Some(e) = existing.get(&(m.sender_id, m.client_msg_id.clone())) {
            plans.push(Plan::Existing(e.clone()));
        } else if let Some(&j) = first_of_key.get(&key) {
            plans.push(Plan::SameAs(j));
        } else if !member_ok.contains(&(m.conversation_id, m.sender_id)) {
            plans.push(Plan::NotMember);
        } else {
            first_of_key.insert(key, i);
            *per_conversation.entry(m.conversation_id).or_default() += 1;
            plans.push(Plan::Insert);
        }
    }

    // 4. Advance each conversation's sequence and its change log once, by the number of its
    //    new messages (each new message is one change).
    let mut next_seq: HashMap<ConversationId, i64> = HashMap::new();
    let mut next_rev: HashMap<ConversationId, i64> = HashMap::new();
    let convs: Vec<(ConversationId, i64)> =
        per_conversation.iter().map(|(c, n)| (*c, *n)).collect();
    for chunk in convs.chunks(CHUNK) {
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 5 + 2);
        for (c, n) in chunk {
            params.push(c);
            params.push(n);
        }
        for (c, n) in chunk {
            params.push(c);
            params.push(n);
        }
        params.push(&now);
        params.extend(chunk.iter().map(|(c, _)| c as &dyn ToSql));
        let sql = format!(
            "UPDATE conversations SET last_seq = last_seq + CASE id {cases} END, \
             last_rev = last_rev + CASE id {cases} END, updated_at = ? \
             WHERE id IN ({}) RETURNING id, last_seq, last_rev",
            list_of(chunk.len()),
            cases = vec!["WHEN ? THEN ?"; chunk.len()].join(" "),
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(&*params)?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let last: i64 = row.get(1)?;
            let last_rev: i64 = row.get(2)?;
            next_seq.insert(id, last - per_conversation[&id] + 1);
            next_rev.insert(id, last_rev - per_conversation[&id] + 1);
        }
        // When the log last changed, only where it is older than the resolution: the index on
        // it is not rewritten for every message of a busy conversation.
        let stale_before = now - CHANGE_AT_RESOLUTION_MS;
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() + 2);
        params.push(&now);
        params.extend(chunk.iter().map(|(c, _)| c as &dyn ToSql));
        params.push(&stale_before);
        conn.prepare_cached(&format!(
            "UPDATE conversations SET last_change_at = ? WHERE id IN ({}) AND last_change_at < ?",
            list_of(chunk.len())
        ))?
        .execute(&*params)?;
    }

    // 5. Insert the new messages, gap-free seqs and revs in batch order.
    let mut seq_of: HashMap<usize, i64> = HashMap::new();
    let mut rev_of: HashMap<usize, i64> = HashMap::new();
    let inserts: Vec<usize> = plans
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p, Plan::Insert))
        .map(|(i, _)| i)
        .collect();
    for &i in &inserts {
        let s = next_seq
            .get_mut(&batch[i].conversation_id)
            .expect("sequence advanced for every inserting conversation");
        seq_of.insert(i, *s);
        *s += 1;
        let r = next_rev
            .get_mut(&batch[i].conversation_id)
            .expect("change log advanced for every inserting conversation");
        rev_of.insert(i, *r);
        *r += 1;
    }
    let sent = StoredStatus::Sent as i64;
    let mut id_of: HashMap<(UserId, String), MessageId> = HashMap::new();
    for chunk in inserts.chunks(CHUNK) {
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 8);
        for i in chunk {
            let m = &batch[*i];
            params.extend([
                &m.conversation_id as &dyn ToSql,
                &seq_of[i],
                &m.sender_id,
                &m.client_msg_id,
                &m.content,
                &sent,
                &now,
                &rev_of[i],
            ]);
        }
        let sql = format!(
            "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, content, status, created_at, rev) \
             VALUES {} RETURNING id, sender_id, client_msg_id",
            rows_of(chunk.len(), 8)
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(&*params)?;
        while let Some(row) = rows.next()? {
            id_of.insert((row.get(1)?, row.get(2)?), row.get(0)?);
        }
    }

    // 6. A pending push record for every recipient of every new message.
    let new_ids: Vec<MessageId> = id_of.values().copied().collect();
    let pending = RecordStatus::Pending as i64;
    for chunk in new_ids.chunks(CHUNK) {
        let mut params: Vec<&dyn ToSql> = vec![&pending, &now, &now];
        params.extend(chunk.iter().map(|id| id as &dyn ToSql));
        let sql = format!(
            "INSERT INTO message_push_records (message_id, user_id, push_status, create_time, update_time) \
             SELECT m.id, cm.user_id, ?, ?, ? FROM messages m JOIN conversation_members cm \
             ON cm.conversation_id = m.conversation_id AND cm.user_id <> m.sender_id WHERE m.id IN ({})",
            list_of(chunk.len())
        );
        conn.prepare_cached(&sql)?.execute(&*params)?;
    }

    // 7. Outcomes, in batch order.
    let recipients = |m: &Message| -> Vec<UserId> {
        members
            .get(&m.conversation_id)
            .map(|v| v.iter().copied().filter(|u| *u != m.sender_id).collect())
            .unwrap_or_default()
    };
    let mut out: Vec<InsertOutcome> = Vec::with_capacity(batch.len());
    for (i, plan) in plans.iter().enumerate() {
        let nm = &batch[i];
        let outcome = match plan {
            Plan::NotMember => InsertOutcome::NotMember,
            Plan::Existing(m) if m.conversation_id != nm.conversation_id => InsertOutcome::IdReused,
            Plan::Existing(m) => InsertOutcome::Duplicate(Committed {
                recipients: recipients(m),
                message: m.clone(),
            }),
            Plan::SameAs(j) => match &out[*j] {
                InsertOutcome::Inserted(c) if c.message.conversation_id == nm.conversation_id => {
                    InsertOutcome::Duplicate(c.clone())
                }
                _ => InsertOutcome::IdReused,
            },
            Plan::Insert => {
                let id = id_of[&(nm.sender_id, nm.client_msg_id.clone())];
                let name = names.get(&nm.sender_id).cloned().unwrap_or_default();
                let message = nm.committed(id, seq_of[&i], rev_of[&i], name, now);
                InsertOutcome::Inserted(Committed {
                    recipients: recipients(&message),
                    message,
                })
            }
        };
        out.push(outcome);
    }
    Ok(out)
}

/// Acknowledgements of many users at once: one UPDATE per chunk of exact (message, user) pairs,
/// then one status update for the messages that became delivered.
pub(crate) fn acknowledge_batch(
    conn: &Connection,
    jobs: &[(UserId, Vec<MessageId>)],
    now: i64,
) -> rusqlite::Result<Vec<AckOutcome>> {
    let mut outcomes: Vec<AckOutcome> = jobs.iter().map(|_| AckOutcome::default()).collect();
    // Each (message, user) pair is credited to the first job that asked for it.
    let mut owner: HashMap<(MessageId, UserId), usize> = HashMap::new();
    for (j, (user, ids)) in jobs.iter().enumerate() {
        for id in ids {
            owner.entry((*id, *user)).or_insert(j);
        }
    }
    let pairs: Vec<(MessageId, UserId)> = dedup(owner.keys().copied().collect());
    let pushed_status = RecordStatus::Pushed as i64;
    let mut delivered_owner: HashMap<MessageId, usize> = HashMap::new();
    for chunk in pairs.chunks(CHUNK) {
        let mut params: Vec<&dyn ToSql> = vec![&pushed_status, &now, &now];
        for (m, u) in chunk {
            params.push(m);
            params.push(u);
        }
        // Exact (message, user) pairs, each an index lookup.
        let sql = format!(
            concat!(
                "UPDATE message_push_records SET push_status = ?, push_time = ?, update_time = ?, \
                 error_message = NULL, next_retry_at = NULL WHERE id IN (SELECT r.id FROM (VALUES {}) AS k \
                 JOIN message_push_records r ON r.message_id = k.column1 AND r.user_id = k.column2 \
                 WHERE r.push_status <> ",
                pushed!(),
                ") RETURNING message_id, user_id"
            ),
            rows_of(chunk.len(), 2)
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(&*params)?;
        while let Some(row) = rows.next()? {
            let m: i64 = row.get(0)?;
            let u: i64 = row.get(1)?;
            let j = owner[&(m, u)];
            outcomes[j].acknowledged += 1;
            delivered_owner.entry(m).or_insert(j);
        }
    }
    let candidates: Vec<MessageId> = dedup(delivered_owner.keys().copied().collect());
    for change in mark_delivered(conn, &candidates)? {
        outcomes[delivered_owner[&change.message_id]]
            .delivered
            .push(change);
    }
    Ok(outcomes)
}

/// Moves the messages among `ids` that are delivered by the rule ([`DELIVERED`]: recipients'
/// records exist and all are acknowledged) to delivered — unless their sender left the
/// conversation (nobody is left to be told; see [`SENDER_IS_MEMBER`]).
pub(crate) fn mark_delivered(
    conn: &Connection,
    ids: &[MessageId],
) -> rusqlite::Result<Vec<StatusChange>> {
    let delivered = StoredStatus::Delivered as i64;
    let mut changes = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut params: Vec<&dyn ToSql> = vec![&delivered, &delivered];
        params.extend(chunk.iter().map(|id| id as &dyn ToSql));
        let sql = format!(
            "UPDATE messages SET status = ? WHERE status < ? AND {DELIVERED} AND {SENDER_IS_MEMBER} \
             AND id IN ({}) RETURNING id, conversation_id, seq, sender_id, created_at",
            list_of(chunk.len())
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(&*params)?;
        while let Some(row) = rows.next()? {
            let change = ChangeRow {
                id: row.get(0)?,
                conversation_id: row.get(1)?,
                seq: row.get(2)?,
                sender_id: row.get(3)?,
                created_at: row.get(4)?,
            };
            changes.push(change.to(MessageStatus::Delivered));
        }
    }
    Ok(changes)
}
