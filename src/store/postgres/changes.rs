//! Changes to existing messages, applied in one transaction per batch (after the batch's sends
//! have committed in theirs). Every conversation a change touches is locked first, in id order
//! — the order batches of sends lock them in — so no two writers on two nodes wait on each
//! other in a circle; under that lock each change takes the conversation's next rev, updates
//! the message row to its new state and is recorded in `message_changes` once per (actor,
//! client_op_id): a retried change finds its record and applies nothing.

use std::collections::BTreeMap;

use app::model::{ConversationId, Message, MessageId, Rev, UserId};
use sqlx::PgConnection;

use super::{member_ids_on, message_from_row, MSG_COLS};
use crate::store::{sql, Change, ChangeOutcome, ChangeRequest};

pub(crate) async fn apply_changes_on(
    tx: &mut PgConnection,
    changes: &[ChangeRequest],
    now: i64,
) -> Result<Vec<ChangeOutcome>, sqlx::Error> {
    let ids: Vec<MessageId> = changes.iter().map(|c| c.change.message_id()).collect();
    let of: Vec<(MessageId, ConversationId)> =
        sqlx::query_as("SELECT id, conversation_id FROM messages WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
    let mut conversations: Vec<ConversationId> = of.iter().map(|(_, c)| *c).collect();
    conversations.sort_unstable();
    conversations.dedup();
    let revs: Vec<(ConversationId, Rev)> = sqlx::query_as(
        "SELECT id, last_rev FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&conversations)
    .fetch_all(&mut *tx)
    .await?;
    let mut last_rev: BTreeMap<ConversationId, Rev> = revs.into_iter().collect();
    let mut out = Vec::with_capacity(changes.len());
    for c in changes {
        out.push(apply_one(tx, c, now, &mut last_rev).await?);
    }
    for (conversation, rev) in &last_rev {
        sqlx::query(
            "UPDATE conversations SET last_rev = $1, last_change_at = $2 WHERE id = $3 AND last_rev < $1",
        )
        .bind(rev)
        .bind(now)
        .bind(conversation)
        .execute(&mut *tx)
        .await?;
    }
    Ok(out)
}

async fn current(tx: &mut PgConnection, id: MessageId) -> Result<Option<Message>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {MSG_COLS} WHERE m.id = $1 FOR UPDATE OF m"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.as_ref().map(message_from_row).transpose()
}

async fn apply_one(
    tx: &mut PgConnection,
    c: &ChangeRequest,
    now: i64,
    last_rev: &mut BTreeMap<ConversationId, Rev>,
) -> Result<ChangeOutcome, sqlx::Error> {
    let seen: Option<MessageId> = sqlx::query_scalar(sql::OP_DONE)
        .bind(c.actor)
        .bind(&c.client_op_id)
        .fetch_optional(&mut *tx)
        .await?;
    let id = c.change.message_id();
    if let Some(done) = seen {
        if done != id {
            return Ok(ChangeOutcome::OpReused);
        }
        return Ok(match current(tx, done).await? {
            Some(message) => ChangeOutcome::Unchanged { message },
            None => ChangeOutcome::NotFound,
        });
    }
    let Some(message) = current(tx, id).await? else {
        return Ok(ChangeOutcome::NotFound);
    };
    let members: Vec<UserId> = member_ids_on(tx, message.conversation_id).await?;
    // Someone who is not (or no longer) a member learns nothing of the message.
    if !members.contains(&c.actor) {
        return Ok(ChangeOutcome::NotFound);
    }
    let Some(rev) = last_rev.get_mut(&message.conversation_id) else {
        // Not locked above: the message arrived between the two reads (it cannot move).
        return Ok(ChangeOutcome::NotFound);
    };
    match c.change {
        Change::Recall { window_ms, .. } => {
            if message.sender_id != c.actor {
                return Ok(ChangeOutcome::NotSender);
            }
            if message.recalled {
                return Ok(ChangeOutcome::Unchanged { message });
            }
            if now - message.created_at > window_ms {
                return Ok(ChangeOutcome::WindowPassed);
            }
        }
    }
    *rev += 1;
    let rev = *rev;
    let message = match c.change {
        Change::Recall { .. } => {
            // The content is erased, not hidden: recalled text is never served again.
            // PostgreSQL writes a new row version; the old one, text included, stays in the
            // table's heap (and the WAL) until VACUUM reclaims it — autovacuum does, and running
            // VACUUM on `messages` hastens it (backups taken earlier keep it).
            sqlx::query(sql::MARK_RECALLED)
                .bind(now)
                .bind(rev)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Message {
                content: None,
                recalled: true,
                recalled_at: Some(now),
                rev,
                ..message
            }
        }
    };
    sqlx::query(sql::LOG_CHANGE)
        .bind(message.conversation_id)
        .bind(rev)
        .bind(id)
        .bind(c.actor)
        .bind(&c.client_op_id)
        .bind(c.change.kind() as i16)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(ChangeOutcome::Applied { message, members })
}
