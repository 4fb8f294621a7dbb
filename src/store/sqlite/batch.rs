//! The hot write path of the SQLite backend, set-based: a whole batch of sends (and of
//! acknowledgements) costs a fixed handful of statements, not a handful per message. Every
//! statement is a round trip to SQLite's worker thread, so this is what makes group commit pay.

use std::collections::{HashMap, HashSet};

use app::model::{ConversationId, Message, MessageId, UserId};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{mark_delivered_on, message_from_row};
use crate::store::rows::{pushed, RecordKind, RecordStatus, StoredStatus};
use crate::store::{AckOutcome, Committed, InsertOutcome, NewMessage};

/// Rows per multi-row statement; keeps bound parameters far below SQLite's limit.
const CHUNK: usize = 400;

fn dedup<T: Ord + Copy>(mut v: Vec<T>) -> Vec<T> {
    v.sort_unstable();
    v.dedup();
    v
}

/// What the batch decided for one send before anything is written.
enum Plan {
    Existing(Message),
    /// Same key as an earlier send of this batch (index into the batch).
    SameAs(usize),
    NotMember,
    Insert,
}

pub(crate) async fn insert_batch_on(
    conn: &mut SqliteConnection,
    batch: &[NewMessage],
    now: i64,
) -> Result<Vec<InsertOutcome>, sqlx::Error> {
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
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("WITH k(sender_id, client_msg_id) AS (");
        qb.push_values(chunk, |mut b, m| {
            b.push_bind(m.sender_id).push_bind(m.client_msg_id.clone());
        });
        qb.push(
            ") SELECT m.id, m.conversation_id, m.seq, m.sender_id, u.display_name AS sender_name, m.client_msg_id, \
             m.content, m.status, m.recalled_at, m.created_at FROM k \
             JOIN messages m ON m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id \
             JOIN users u ON u.id = m.sender_id",
        );
        for row in qb.build().fetch_all(&mut *conn).await? {
            let m = message_from_row(&row)?;
            if keys.contains(&(m.sender_id, m.client_msg_id.as_str())) {
                existing.insert((m.sender_id, m.client_msg_id.clone()), m);
            }
        }
    }

    // 2. The members of every conversation of the batch (membership of each sender, and the
    //    recipients), with the display names of the batch's senders — one statement, where
    //    three would cost three round trips to the worker thread.
    let conv_ids: Vec<ConversationId> = dedup(batch.iter().map(|m| m.conversation_id).collect());
    let senders: Vec<UserId> = dedup(batch.iter().map(|m| m.sender_id).collect());
    let mut members: HashMap<ConversationId, Vec<UserId>> = HashMap::new();
    let mut member_ok: HashSet<(ConversationId, UserId)> = HashSet::new();
    let mut names: HashMap<UserId, String> = HashMap::new();
    for chunk in conv_ids.chunks(CHUNK) {
        // Names are joined for senders only: a big group's other members cost no user lookup.
        // (A batch with more senders than a chunk — only with a raised max_batch — gets every
        // member's name instead, keeping the bound parameters few.)
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT cm.conversation_id, cm.user_id, u.display_name FROM conversation_members cm \
             LEFT JOIN users u ON u.id = cm.user_id",
        );
        if senders.len() <= CHUNK {
            qb.push(" AND cm.user_id IN (");
            let mut sep = qb.separated(", ");
            for u in &senders {
                sep.push_bind(*u);
            }
            qb.push(")");
        }
        qb.push(" WHERE cm.conversation_id IN (");
        let mut sep = qb.separated(", ");
        for c in chunk {
            sep.push_bind(*c);
        }
        qb.push(") ORDER BY cm.conversation_id, cm.user_id");
        for row in qb.build().fetch_all(&mut *conn).await? {
            let (c, u): (ConversationId, UserId) =
                (row.try_get("conversation_id")?, row.try_get("user_id")?);
            if let Some(name) = row.try_get::<Option<String>, _>("display_name")? {
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

    // 4. Advance each conversation's sequence once, by the number of its new messages.
    let mut next_seq: HashMap<ConversationId, i64> = HashMap::new();
    let convs: Vec<(ConversationId, i64)> =
        per_conversation.iter().map(|(c, n)| (*c, *n)).collect();
    for chunk in convs.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("UPDATE conversations SET last_seq = last_seq + CASE id");
        for (c, n) in chunk {
            qb.push(" WHEN ").push_bind(*c).push(" THEN ").push_bind(*n);
        }
        qb.push(" END, updated_at = ")
            .push_bind(now)
            .push(" WHERE id IN (");
        let mut sep = qb.separated(", ");
        for (c, _) in chunk {
            sep.push_bind(*c);
        }
        qb.push(") RETURNING id, last_seq");
        for row in qb.build().fetch_all(&mut *conn).await? {
            let id: i64 = row.try_get("id")?;
            let last: i64 = row.try_get("last_seq")?;
            next_seq.insert(id, last - per_conversation[&id] + 1);
        }
    }

    // 5. Insert the new messages, gap-free seqs in batch order.
    let mut seq_of: HashMap<usize, i64> = HashMap::new();
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
    }
    let mut id_of: HashMap<(UserId, String), MessageId> = HashMap::new();
    for chunk in inserts.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, content, status, created_at) ",
        );
        qb.push_values(chunk, |mut b, &i| {
            let m = &batch[i];
            b.push_bind(m.conversation_id)
                .push_bind(seq_of[&i])
                .push_bind(m.sender_id)
                .push_bind(m.client_msg_id.clone())
                .push_bind(m.content.clone())
                .push_bind(StoredStatus::Sent)
                .push_bind(now);
        });
        qb.push(" RETURNING id, sender_id, client_msg_id");
        for row in qb.build().fetch_all(&mut *conn).await? {
            id_of.insert(
                (row.try_get("sender_id")?, row.try_get("client_msg_id")?),
                row.try_get("id")?,
            );
        }
    }

    // 6. A pending push record for every recipient of every new message.
    let new_ids: Vec<MessageId> = id_of.values().copied().collect();
    for chunk in new_ids.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO message_push_records (message_id, user_id, kind, push_status, create_time, update_time) \
             SELECT m.id, cm.user_id, ",
        );
        qb.push_bind(RecordKind::Message)
            .push(", ")
            .push_bind(RecordStatus::Pending)
            .push(", ")
            .push_bind(now)
            .push(", ")
            .push_bind(now)
            .push(
            " FROM messages m JOIN conversation_members cm ON cm.conversation_id = m.conversation_id \
             AND cm.user_id <> m.sender_id WHERE m.id IN (",
        );
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        qb.push(")");
        qb.build().execute(&mut *conn).await?;
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
                let message = nm.committed(id, seq_of[&i], name, now);
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
pub(crate) async fn acknowledge_batch_on(
    conn: &mut SqliteConnection,
    jobs: &[(UserId, Vec<MessageId>)],
    now: i64,
) -> Result<Vec<AckOutcome>, sqlx::Error> {
    let mut outcomes: Vec<AckOutcome> = jobs.iter().map(|_| AckOutcome::default()).collect();
    // Each (message, user) pair is credited to the first job that asked for it.
    let mut owner: HashMap<(MessageId, UserId), usize> = HashMap::new();
    for (j, (user, ids)) in jobs.iter().enumerate() {
        for id in ids {
            owner.entry((*id, *user)).or_insert(j);
        }
    }
    let pairs: Vec<(MessageId, UserId)> = dedup(owner.keys().copied().collect());
    let mut delivered_owner: HashMap<MessageId, usize> = HashMap::new();
    for chunk in pairs.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("UPDATE message_push_records SET push_status = ");
        qb.push_bind(RecordStatus::Pushed)
            .push(", push_time = ")
            .push_bind(now)
            .push(", update_time = ")
            .push_bind(now)
            .push(", error_message = NULL, next_retry_at = NULL WHERE id IN (SELECT r.id FROM (");
        // Exact (message, user) pairs, each an index lookup.
        qb.push_values(chunk, |mut b, (m, u)| {
            b.push_bind(*m).push_bind(*u);
        });
        qb.push(concat!(
            ") AS k JOIN message_push_records r ON r.message_id = k.column1 AND r.user_id = k.column2 \
             WHERE r.push_status <> ",
            pushed!(),
            ") RETURNING message_id, user_id, kind"
        ));
        for row in qb.build().fetch_all(&mut *conn).await? {
            let m: i64 = row.try_get("message_id")?;
            let u: i64 = row.try_get("user_id")?;
            let kind: RecordKind = row.try_get("kind")?;
            let j = owner[&(m, u)];
            outcomes[j].acknowledged += 1;
            if kind == RecordKind::Message {
                delivered_owner.entry(m).or_insert(j);
            }
        }
    }
    let candidates: Vec<MessageId> = dedup(delivered_owner.keys().copied().collect());
    for chunk in candidates.chunks(CHUNK) {
        for change in mark_delivered_on(conn, chunk).await? {
            outcomes[delivered_owner[&change.message_id]]
                .delivered
                .push(change);
        }
    }
    Ok(outcomes)
}
