//! The hot write path of the PostgreSQL backend, set-based like SQLite's: a batch of sends (and
//! of acknowledgements) costs a fixed handful of statements, each one prepared statement over
//! arrays whatever the batch size.
//!
//! Several writers — this node's and other nodes' — commit batches at once, so nothing is
//! decided by reading first:
//! - a send's idempotency key `(sender_id, client_msg_id)` is claimed by the INSERT itself
//!   (`ON CONFLICT DO NOTHING`); a key someone else holds is looked up only afterwards;
//! - seqs (and revs, the change log's numbers) are handed out while the conversation rows are
//!   locked (in id order), and only to claimed keys: a lost claim gives its seq and rev back
//!   before commit, so both stay 1..n gap-free.

use std::collections::{HashMap, HashSet};

use app::model::{ConversationId, Message, MessageId, UserId};
use sqlx::{PgConnection, Row};

use super::{mark_delivered_on, message_from_row, MSG_COLS};
use crate::store::rows::{pushed, RecordStatus, StoredStatus};
use crate::store::{AckOutcome, Committed, InsertOutcome, NewMessage, CHANGE_AT_RESOLUTION_MS};

fn dedup<T: Ord + Copy>(mut v: Vec<T>) -> Vec<T> {
    v.sort_unstable();
    v.dedup();
    v
}

/// What the batch decided for one send.
enum Plan {
    /// A message with this key was committed before (by anyone).
    Existing(Message),
    /// Same key as an earlier send of this batch (index into the batch).
    SameAs(usize),
    NotMember,
    /// Claimed: the new message's id.
    Inserted(MessageId),
}

pub(crate) async fn insert_batch_on(
    conn: &mut PgConnection,
    batch: &[NewMessage],
    now: i64,
) -> Result<Vec<InsertOutcome>, sqlx::Error> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    // 1. Lock the conversations, in id order (every writer does): one writer at a time hands
    //    out a conversation's seqs, and a member cannot leave halfway through.
    let conv_ids: Vec<ConversationId> = dedup(batch.iter().map(|m| m.conversation_id).collect());
    let mut last_seq: HashMap<ConversationId, i64> = HashMap::new();
    // A new message's rev is its conversation's last_rev plus as many as its seq is past
    // last_seq: both counters advance by one per claimed message.
    let mut rev_offset: HashMap<ConversationId, i64> = HashMap::new();
    for (id, seq, rev) in sqlx::query_as::<_, (i64, i64, i64)>(
        "SELECT id, last_seq, last_rev FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&conv_ids)
    .fetch_all(&mut *conn)
    .await?
    {
        last_seq.insert(id, seq);
        rev_offset.insert(id, rev - seq);
    }
    let rev_at = |c: ConversationId, seq: i64| seq + rev_offset[&c];

    // 2. Their members, with names (read under the lock): who may send, who receives, and
    //    the senders' names, in one statement.
    let mut members: HashMap<ConversationId, Vec<UserId>> = HashMap::new();
    let mut names: HashMap<UserId, String> = HashMap::new();
    for (c, u, name) in sqlx::query_as::<_, (i64, i64, String)>(
        "SELECT cm.conversation_id, cm.user_id, u.display_name FROM conversation_members cm \
         JOIN users u ON u.id = cm.user_id WHERE cm.conversation_id = ANY($1) \
         ORDER BY cm.conversation_id, cm.user_id",
    )
    .bind(&conv_ids)
    .fetch_all(&mut *conn)
    .await?
    {
        members.entry(c).or_default().push(u);
        names.insert(u, name);
    }
    let member_ok: HashSet<(ConversationId, UserId)> = members
        .iter()
        .flat_map(|(c, us)| us.iter().map(move |u| (*c, *u)))
        .collect();

    // 3. The sends that may claim their key: a member's first send of the key in this batch.
    //    A later send of the key is answered with that one's outcome.
    let mut first_of_key: HashMap<(UserId, &str), usize> = HashMap::new();
    let mut same_as: HashMap<usize, usize> = HashMap::new();
    let mut candidates: Vec<usize> = Vec::with_capacity(batch.len());
    for (i, m) in batch.iter().enumerate() {
        let key = (m.sender_id, m.client_msg_id.as_str());
        if let Some(&j) = first_of_key.get(&key) {
            same_as.insert(i, j);
        } else if member_ok.contains(&(m.conversation_id, m.sender_id))
            && last_seq.contains_key(&m.conversation_id)
        {
            first_of_key.insert(key, i);
            candidates.push(i);
        }
    }

    // 4. Tentative seqs, in batch order.
    let mut next: HashMap<ConversationId, i64> = last_seq.clone();
    let mut tentative: HashMap<usize, i64> = HashMap::with_capacity(candidates.len());
    for &i in &candidates {
        let s = next
            .get_mut(&batch[i].conversation_id)
            .expect("candidate conversations are locked");
        *s += 1;
        tentative.insert(i, *s);
    }

    // 5. Claim the keys: the INSERT decides — and, in the same statement, a pending push
    //    record for every recipient of every claimed message, and each conversation's counter
    //    advanced by its claimed messages (one round trip: this is the hot path). Rows go in
    //    seq order, so that within a conversation message ids ascend with seqs (the offline
    //    replay pages by id). Two writers that wait on each other's keys would deadlock;
    //    PostgreSQL then aborts one and `in_transaction!` runs it again.
    let mut cols = InsertColumns::with_capacity(candidates.len());
    for &i in &candidates {
        let seq = tentative[&i];
        cols.push(&batch[i], seq, rev_at(batch[i].conversation_id, seq));
    }
    let mut claimed: HashMap<(UserId, String), MessageId> = HashMap::new();
    if !candidates.is_empty() {
        // `last_change_at` moves only once it is CHANGE_AT_RESOLUTION_MS old: otherwise the
        // counters' update changes no indexed column and stays a HOT update (no index entry of
        // the conversation is rewritten for each message).
        for row in sqlx::query(
            "WITH ins AS ( \
               INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, content, status, created_at, rev) \
               SELECT c, s, u, k, t, $6, $7, r FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $9::bigint[]) \
                 WITH ORDINALITY AS v(c, s, u, k, t, r, n) ORDER BY n \
               ON CONFLICT (sender_id, client_msg_id) DO NOTHING \
               RETURNING id, conversation_id, sender_id, client_msg_id), \
             records AS ( \
               INSERT INTO message_push_records (message_id, user_id, push_status, create_time, update_time) \
               SELECT ins.id, cm.user_id, $8, $7, $7 FROM ins \
               JOIN conversation_members cm ON cm.conversation_id = ins.conversation_id AND cm.user_id <> ins.sender_id), \
             counters AS ( \
               UPDATE conversations c SET last_seq = c.last_seq + k.n, last_rev = c.last_rev + k.n, updated_at = $7, \
                 last_change_at = CASE WHEN c.last_change_at < $7 - $10 THEN $7 ELSE c.last_change_at END \
               FROM (SELECT conversation_id, COUNT(*) AS n FROM ins GROUP BY conversation_id) k \
               WHERE c.id = k.conversation_id) \
             SELECT id, sender_id, client_msg_id FROM ins",
        )
        .bind(&cols.conversation)
        .bind(&cols.seq)
        .bind(&cols.sender)
        .bind(&cols.key)
        .bind(&cols.content)
        .bind(StoredStatus::Sent)
        .bind(now)
        .bind(RecordStatus::Pending)
        .bind(&cols.rev)
        .bind(CHANGE_AT_RESOLUTION_MS)
        .fetch_all(&mut *conn)
        .await?
        {
            claimed.insert(
                (row.try_get("sender_id")?, row.try_get("client_msg_id")?),
                row.try_get("id")?,
            );
        }
    }
    let id_of = |i: usize| -> Option<MessageId> {
        claimed
            .get(&(batch[i].sender_id, batch[i].client_msg_id.clone()))
            .copied()
    };

    // 6. Final seqs: each conversation's claimed sends, in batch order, from last_seq + 1. A
    //    lost claim (the key was committed by someone else meanwhile) gives its seq and rev
    //    back: the claimed rows after it move down (through negative values, as (conversation,
    //    seq) and (conversation, rev) are unique at every step).
    let mut seq_of: HashMap<usize, i64> = HashMap::with_capacity(claimed.len());
    let mut new_last = last_seq.clone();
    let mut moved: (Vec<MessageId>, Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new(), Vec::new());
    for &i in &candidates {
        let Some(id) = id_of(i) else { continue };
        let s = new_last
            .get_mut(&batch[i].conversation_id)
            .expect("candidate conversations are locked");
        *s += 1;
        seq_of.insert(i, *s);
        if *s != tentative[&i] {
            moved.0.push(id);
            moved.1.push(*s);
            moved.2.push(rev_at(batch[i].conversation_id, *s));
        }
    }
    if !moved.0.is_empty() {
        sqlx::query("UPDATE messages SET seq = -seq, rev = -rev WHERE id = ANY($1)")
            .bind(&moved.0)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE messages SET seq = v.s, rev = v.r \
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v(id, s, r) WHERE messages.id = v.id",
        )
        .bind(&moved.0)
        .bind(&moved.1)
        .bind(&moved.2)
        .execute(&mut *conn)
        .await?;
    }

    // 7. Keys not claimed here: committed before (a retry, or a race another writer won) —
    //    or never, for a sender who is not a member.
    let unclaimed: Vec<usize> = (0..batch.len()).filter(|&i| id_of(i).is_none()).collect();
    let mut existing: HashMap<(UserId, String), Message> = HashMap::new();
    if !unclaimed.is_empty() {
        let senders: Vec<i64> = unclaimed.iter().map(|&i| batch[i].sender_id).collect();
        let keys: Vec<String> = unclaimed
            .iter()
            .map(|&i| batch[i].client_msg_id.clone())
            .collect();
        for row in sqlx::query(&format!(
            "SELECT {MSG_COLS} JOIN unnest($1::bigint[], $2::text[]) AS k(u, key) \
             ON m.sender_id = k.u AND m.client_msg_id = k.key"
        ))
        .bind(&senders)
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await?
        {
            let m = message_from_row(&row)?;
            existing.insert((m.sender_id, m.client_msg_id.clone()), m);
        }
    }

    // 8. Outcomes, in batch order.
    let plans: Vec<Plan> = (0..batch.len())
        .map(|i| {
            let nm = &batch[i];
            if let Some(&j) = same_as.get(&i) {
                if let Some(m) = existing.get(&(nm.sender_id, nm.client_msg_id.clone())) {
                    Plan::Existing(m.clone())
                } else {
                    Plan::SameAs(j)
                }
            } else if let Some(id) = id_of(i).filter(|_| seq_of.contains_key(&i)) {
                Plan::Inserted(id)
            } else if let Some(m) = existing.get(&(nm.sender_id, nm.client_msg_id.clone())) {
                Plan::Existing(m.clone())
            } else {
                // Not a member (or the conversation does not exist).
                Plan::NotMember
            }
        })
        .collect();
    let recipients = |m: &Message| -> Vec<UserId> {
        members
            .get(&m.conversation_id)
            .map(|v| v.iter().copied().filter(|u| *u != m.sender_id).collect())
            .unwrap_or_default()
    };
    let mut out: Vec<InsertOutcome> = Vec::with_capacity(batch.len());
    for (i, plan) in plans.into_iter().enumerate() {
        let nm = &batch[i];
        let outcome = match plan {
            Plan::NotMember => InsertOutcome::NotMember,
            Plan::Existing(m) if m.conversation_id != nm.conversation_id => InsertOutcome::IdReused,
            Plan::Existing(m) => InsertOutcome::Duplicate(Committed {
                recipients: recipients(&m),
                message: m,
            }),
            Plan::SameAs(j) => match &out[j] {
                InsertOutcome::Inserted(c) if c.message.conversation_id == nm.conversation_id => {
                    InsertOutcome::Duplicate(c.clone())
                }
                _ => InsertOutcome::IdReused,
            },
            Plan::Inserted(id) => {
                let name = names.get(&nm.sender_id).cloned().unwrap_or_default();
                let seq = seq_of[&i];
                let message = nm.committed(id, seq, rev_at(nm.conversation_id, seq), name, now);
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

/// The columns of the claiming INSERT, as arrays (one prepared statement for any batch size).
struct InsertColumns {
    conversation: Vec<i64>,
    seq: Vec<i64>,
    rev: Vec<i64>,
    sender: Vec<i64>,
    key: Vec<String>,
    content: Vec<String>,
}

impl InsertColumns {
    fn with_capacity(n: usize) -> Self {
        InsertColumns {
            conversation: Vec::with_capacity(n),
            seq: Vec::with_capacity(n),
            rev: Vec::with_capacity(n),
            sender: Vec::with_capacity(n),
            key: Vec::with_capacity(n),
            content: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, m: &NewMessage, seq: i64, rev: i64) {
        self.conversation.push(m.conversation_id);
        self.seq.push(seq);
        self.rev.push(rev);
        self.sender.push(m.sender_id);
        self.key.push(m.client_msg_id.clone());
        self.content.push(m.content.clone());
    }
}

/// Acknowledgements of many users at once: one UPDATE of exact (message, user) pairs (the
/// records locked in id order), then one status update for the messages that became delivered.
pub(crate) async fn acknowledge_batch_on(
    conn: &mut PgConnection,
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
    if owner.is_empty() {
        return Ok(outcomes);
    }
    let (messages, users): (Vec<i64>, Vec<i64>) =
        dedup(owner.keys().copied().collect()).into_iter().unzip();
    let rows = sqlx::query(concat!(
        "UPDATE message_push_records SET push_status = $1, push_time = $2, update_time = $2, \
         error_message = NULL, next_retry_at = NULL \
         WHERE id IN (SELECT r.id FROM unnest($3::bigint[], $4::bigint[]) AS k(m, u) \
         JOIN message_push_records r ON r.message_id = k.m AND r.user_id = k.u \
         WHERE r.push_status <> ",
        pushed!(),
        " ORDER BY r.id FOR UPDATE OF r) RETURNING message_id, user_id"
    ))
    .bind(RecordStatus::Pushed)
    .bind(now)
    .bind(&messages)
    .bind(&users)
    .fetch_all(&mut *conn)
    .await?;
    let mut delivered_owner: HashMap<MessageId, usize> = HashMap::new();
    for row in rows {
        let m: i64 = row.try_get("message_id")?;
        let u: i64 = row.try_get("user_id")?;
        let j = owner[&(m, u)];
        outcomes[j].acknowledged += 1;
        delivered_owner.entry(m).or_insert(j);
    }
    let candidates: Vec<MessageId> = dedup(delivered_owner.keys().copied().collect());
    for change in mark_delivered_on(conn, &candidates).await? {
        outcomes[delivered_owner[&change.message_id]]
            .delivered
            .push(change);
    }
    Ok(outcomes)
}
