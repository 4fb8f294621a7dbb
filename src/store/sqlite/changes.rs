//! Changes to existing messages, applied by the writer inside a batch's transaction (after its
//! sends), synchronously on the writer connection like the rest of the hot path. Each change
//! takes its conversation's next rev (`last_rev`, the one writer's counter), updates the
//! message row to its new state and is recorded in `message_changes` — once per (actor,
//! client_op_id), so a retried change finds its record and applies nothing.

use app::model::{ConversationId, MessageId, Rev, UserId};
use rusqlite::{Connection, OptionalExtension};

use crate::store::{sql, Change, ChangeRequest};

/// What the writer did with one change; the store completes it with the message as it is now.
pub(crate) enum Applied {
    Changed {
        message_id: MessageId,
        members: Vec<UserId>,
    },
    Unchanged(MessageId),
    OpReused,
    NotFound,
    NotSender,
    WindowPassed,
}

/// Does any change erase text (so the transaction must zero the pages it frees)?
pub(crate) fn erases(changes: &[ChangeRequest]) -> bool {
    changes
        .iter()
        .any(|c| matches!(c.change, Change::Recall { .. }))
}

pub(crate) fn apply_changes(
    conn: &Connection,
    changes: &[ChangeRequest],
    now: i64,
) -> rusqlite::Result<Vec<Applied>> {
    changes.iter().map(|c| apply_one(conn, c, now)).collect()
}

fn apply_one(conn: &Connection, c: &ChangeRequest, now: i64) -> rusqlite::Result<Applied> {
    let id = c.change.message_id();
    let mut seen = conn.prepare_cached(sql::OP_DONE)?;
    if let Some(done) = seen
        .query_row((c.actor, &c.client_op_id), |r| r.get::<_, MessageId>(0))
        .optional()?
    {
        return Ok(if done == id {
            Applied::Unchanged(done)
        } else {
            Applied::OpReused
        });
    }
    let mut target = conn.prepare_cached(
        "SELECT m.conversation_id, m.sender_id, m.created_at, m.recalled_at IS NOT NULL, \
         EXISTS (SELECT 1 FROM conversation_members cm WHERE cm.conversation_id = m.conversation_id AND cm.user_id = ?) \
         FROM messages m WHERE m.id = ?",
    )?;
    let found = target
        .query_row((c.actor, id), |r| {
            Ok((
                r.get::<_, ConversationId>(0)?,
                r.get::<_, UserId>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })
        .optional()?;
    // Someone who is not (or no longer) a member learns nothing of the message, not even that
    // it exists.
    let Some((conversation, sender, created_at, recalled, _)) = found.filter(|f| f.4) else {
        return Ok(Applied::NotFound);
    };
    match c.change {
        Change::Recall { window_ms, .. } => {
            if sender != c.actor {
                return Ok(Applied::NotSender);
            }
            if recalled {
                return Ok(Applied::Unchanged(id));
            }
            if now - created_at > window_ms {
                return Ok(Applied::WindowPassed);
            }
        }
    }
    let rev: Rev = conn
        .prepare_cached(
            "UPDATE conversations SET last_rev = last_rev + 1, last_change_at = ? WHERE id = ? RETURNING last_rev",
        )?
        .query_row((now, conversation), |r| r.get(0))?;
    match c.change {
        Change::Recall { .. } => {
            // The content is erased, not hidden: first overwritten in place with as many zero
            // bytes (its overflow pages too), then emptied; the transaction runs with
            // `secure_delete=on` (see SqliteStore::write_batch), so no freed page keeps it. The
            // search index drops its tokens in the same transaction (migrations/sqlite/0003).
            conn.prepare_cached(
                "UPDATE messages SET content = zeroblob(length(CAST(content AS BLOB))) WHERE id = ?",
            )?
            .execute([id])?;
            conn.prepare_cached(sql::MARK_RECALLED)?
                .execute((now, rev, id))?;
        }
    }
    conn.prepare_cached(sql::LOG_CHANGE)?.execute((
        conversation,
        rev,
        id,
        c.actor,
        &c.client_op_id,
        c.change.kind(),
        now,
    ))?;
    let members = conn
        .prepare_cached(sql::MEMBER_IDS)?
        .query_map([conversation], |r| r.get::<_, UserId>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Applied::Changed {
        message_id: id,
        members,
    })
}
