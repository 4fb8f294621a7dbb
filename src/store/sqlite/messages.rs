//! SQLite: messages: the batched write path, history, recall, receipts, search.

use app::model::{Rev, SearchPage};

use super::*;
use crate::store::log_walk::LogWalk;
use crate::store::SearchQuery;
use crate::store::SEARCH_INDEX_CHUNK;
use crate::store::{BatchOutcome, ChangeOutcome, ChangeRequest};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Pages of index merging done with each indexed chunk.
const SEARCH_MERGE_PAGES: i64 = 16;

#[async_trait]
impl MessageStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn write_batch(
        &self,
        batch: &[NewMessage],
        changes: &[ChangeRequest],
        acks: &[(UserId, Vec<MessageId>)],
        now: i64,
    ) -> StoreResult<BatchOutcome> {
        let t = Instant::now();
        let mut writer = self.writer().await;
        let erases = changes::erases(changes);
        // The whole transaction in one go on the writer connection (store/sqlite/direct.rs).
        let (sent, applied, acked, begun, written) = writer
            .run_direct(|c| {
                // A batch that erases text (a recall) zeroes every page it frees: the search
                // index rewrites its pages as whole blobs, and a long token spills into overflow
                // pages that `fast` frees without zeroing. (Pages freed earlier under `fast` by
                // the index's own merges are not covered: docs/SECURITY.md, Recall.)
                if erases {
                    c.execute_batch("PRAGMA secure_delete = ON")?;
                }
                let done = write_all(c, batch, changes, acks, now);
                if erases {
                    if let Err(e) = c.execute_batch("PRAGMA secure_delete = FAST") {
                        tracing::warn!(error = %e, "restoring secure_delete=fast after a recall failed");
                    }
                }
                done
            })
            .await?;
        if applied
            .iter()
            .any(|a| matches!(a, changes::Applied::Changed { .. }))
            && erases
        {
            // The old text still sits in WAL frames until they are checkpointed and the WAL is
            // truncated; do that now so a recall scrubs the disk (backups taken earlier keep it).
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut writer.conn)
                .await
            {
                Ok((0, _, _)) => {}
                Ok(_) => tracing::warn!("WAL checkpoint after a recall was blocked by readers; the next checkpoint scrubs it"),
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint after a recall failed"),
            }
        }
        drop(writer);
        self.observe("write_batch", t);
        self.metrics.observe_stage("begin", begun - t);
        self.metrics.observe_stage("statements", written - begun);
        self.metrics.observe_stage("commit", written.elapsed());
        let mut changed = Vec::with_capacity(applied.len());
        for a in applied {
            changed.push(self.change_outcome(a).await?);
        }
        Ok(BatchOutcome {
            sent,
            changed,
            acked,
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn history(
        &self,
        id: ConversationId,
        before: Option<Seq>,
        limit: i64,
    ) -> StoreResult<(Vec<Message>, bool)> {
        let t = Instant::now();
        let rows = sqlx::query(sql::HISTORY)
            .bind(id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        let mut messages: Vec<Message> = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()?;
        messages.reverse();
        // Seqs are gap-free from 1, so older messages exist exactly when the first seq is above 1.
        let has_more = messages.first().map(|m| m.seq > 1).unwrap_or(false);
        self.observe("history", t);
        Ok((messages, has_more))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn changes_after(
        &self,
        id: ConversationId,
        after: Rev,
        limit: i64,
    ) -> StoreResult<(Vec<Message>, Rev)> {
        let t = Instant::now();
        // The log's end first: a change commits only after every earlier one of its
        // conversation (one writer; on PostgreSQL the conversation row stays locked until
        // commit), so the rows read next hold every change up to it.
        let last_rev: Option<Rev> = sqlx::query_scalar(sql::LAST_REV)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        let last_rev = last_rev.unwrap_or(0);
        let mut walk = LogWalk::new(after, last_rev, limit);
        while let Some(w) = walk.next_window() {
            let rows = sqlx::query(sql::CHANGES_IN_WINDOW)
                .bind(id)
                .bind(w.after)
                .bind(w.through)
                .bind(w.inserts)
                .fetch_all(&self.read)
                .await?;
            let messages = rows
                .iter()
                .map(message_from_row)
                .collect::<Result<_, _>>()?;
            walk.take(w, messages);
        }
        self.observe("changes_after", t);
        Ok((walk.finish(), last_rev))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let row = sqlx::query(sql::MESSAGE)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn receipts(&self, id: MessageId) -> StoreResult<Option<MessageReceipts>> {
        let Some(message) = self.message(id).await? else {
            return Ok(None);
        };
        let rows = sqlx::query(sql::RECEIPTS)
            .bind(id)
            .bind(message.conversation_id)
            .bind(message.sender_id)
            .fetch_all(&self.read)
            .await?;
        let mut members = Vec::with_capacity(rows.len());
        for r in &rows {
            let push_status: Option<PushStatus> = r
                .try_get::<Option<RecordStatus>, _>("push_status")?
                .map(Into::into);
            let read = r.try_get::<i64, _>("read_seq")? >= message.seq;
            members.push(MemberReceipt {
                user_id: r.try_get("user_id")?,
                display_name: r.try_get("display_name")?,
                // A cleaned-up record (None) was pushed before the cleanup removed it.
                delivered: read || matches!(push_status, Some(PushStatus::Pushed) | None),
                read,
                push_status,
            });
        }
        Ok(Some(MessageReceipts {
            message_id: id,
            status: message.status,
            members,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn index_search_backlog(&self, limit: i64) -> StoreResult<u64> {
        self.drain_search_backlog(limit, true).await
    }
    #[tracing::instrument(level = "debug", skip_all)]
    async fn search(
        &self,
        viewer: UserId,
        query: &SearchQuery,
        conversation: Option<ConversationId>,
        before: Option<MessageId>,
        limit: i64,
        deadline: Duration,
    ) -> StoreResult<SearchPage> {
        let ends_at = Instant::now() + deadline;
        // Messages of the last moments may not be indexed yet: index them first.
        while self.drain_search_backlog(SEARCH_INDEX_CHUNK, false).await?
            == SEARCH_INDEX_CHUNK as u64
        {
            if Instant::now() >= ends_at {
                return Err(StoreError::Timeout);
            }
        }
        let t = Instant::now();
        let mut sql = QueryBuilder::<Sqlite>::new(format!("SELECT {MSG_COLS} "));
        // Each index yields its rowids newest first (ORDER BY its rowid: no sort), so the scan
        // stops at the limit.
        let order = if let Some(expr) = query.fts5_match() {
            sql.push("JOIN messages_fts f ON f.rowid = m.id ");
            push_viewer(&mut sql, viewer);
            sql.push(" WHERE messages_fts MATCH ")
                .push_bind(expr)
                .push(" AND f.rowid < ")
                .push_bind(before.unwrap_or(i64::MAX));
            "f.rowid"
        } else if let Some(expr) = query.trigram_match() {
            // Substrings with a trigram: the candidates hold every trigram in order; LIKE
            // (below) still decides, so the answer is exactly what a LIKE scan would give.
            sql.push("JOIN messages_trigram g ON g.rowid = m.id ");
            push_viewer(&mut sql, viewer);
            sql.push(" WHERE messages_trigram MATCH ")
                .push_bind(expr)
                .push(" AND g.rowid < ")
                .push_bind(before.unwrap_or(i64::MAX));
            "g.rowid"
        } else {
            // Only substrings too short for a trigram: the viewer's messages, newest first,
            // each text tested, until the limit or the deadline.
            push_viewer(&mut sql, viewer);
            sql.push(" WHERE m.id < ")
                .push_bind(before.unwrap_or(i64::MAX));
            "m.id"
        };
        for pattern in query.like_patterns() {
            sql.push(" AND m.content LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
        sql.push(" AND m.recalled_at IS NULL");
        if let Some(c) = conversation {
            sql.push(" AND m.conversation_id = ").push_bind(c);
        }
        sql.push(format_args!(" ORDER BY {order} DESC LIMIT "))
            .push_bind(limit + 1);
        let mut conn = self.read.acquire().await?;
        let _deadline = QueryDeadline::arm(&mut conn, ends_at).await?;
        let rows = sql
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(timeout_if_interrupted)?;
        let hits: Vec<Message> = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()?;
        self.observe("search", t);
        Ok(crate::store::search::page_of(hits, limit))
    }
}

/// Joins the viewer's memberships: only their conversations are searched.
fn push_viewer(sql: &mut QueryBuilder<'_, Sqlite>, viewer: UserId) {
    sql.push(
        "JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = ",
    )
    .push_bind(viewer);
}

/// A deadline on the statements of one read connection: SQLite's progress handler, called every
/// few hundred virtual-machine steps, interrupts the running statement once the time is up
/// (SQLITE_INTERRUPT, turned into [`StoreError::Timeout`]). Dropping the guard disarms it —
/// also when the request is abandoned mid-query — so the pooled connection's next user is never
/// interrupted by a deadline that was not theirs.
struct QueryDeadline(Arc<AtomicBool>);

impl QueryDeadline {
    async fn arm(conn: &mut SqliteConnection, ends_at: Instant) -> StoreResult<QueryDeadline> {
        let armed = Arc::new(AtomicBool::new(true));
        let flag = armed.clone();
        conn.lock_handle()
            .await?
            .set_progress_handler(PROGRESS_STEPS, move || {
                !flag.load(Ordering::Relaxed) || Instant::now() < ends_at
            });
        Ok(QueryDeadline(armed))
    }
}

impl Drop for QueryDeadline {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Virtual-machine steps between two deadline checks (one clock read each).
const PROGRESS_STEPS: i32 = 1000;

/// SQLITE_INTERRUPT (the progress handler stopped the statement) is the deadline passing.
fn timeout_if_interrupted(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("9") => StoreError::Timeout,
        _ => StoreError::Database(e),
    }
}

impl SqliteStore {
    /// Indexes up to `limit` messages of the backlog; `merge` also merges index segments a
    /// little (the background job does; a search that indexes the last moments' messages
    /// first does not, so it holds the writer, which the sends need, as briefly as it can).
    async fn drain_search_backlog(&self, limit: i64, merge: bool) -> StoreResult<u64> {
        // Usually there is nothing to do: find that out without queueing for the writer
        // (the background job runs four times a second).
        let waiting: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM search_backlog)")
            .fetch_one(&self.read)
            .await?;
        if !waiting {
            if merge && self.merge_due.swap(false, Ordering::AcqRel) {
                merge_search_segments(&mut self.writer().await.conn).await?;
            }
            return Ok(0);
        }
        let t = Instant::now();
        let n = index_search_backlog_on(&mut self.writer().await.conn, limit, merge).await?;
        if n > 0 {
            self.observe("index_search_backlog", t);
            if !merge {
                self.merge_due.store(true, Ordering::Release);
            }
        }
        Ok(n)
    }
}

/// A little merging of each index's segments (automerge is off: migrations/sqlite/0004), so
/// segments stay few without one long merge holding the writer.
async fn merge_search_segments(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    for index in ["messages_fts", "messages_trigram"] {
        sqlx::query(&format!(
            "INSERT INTO {index}({index}, rank) VALUES ('merge', ?)"
        ))
        .bind(SEARCH_MERGE_PAGES)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Indexes up to `limit` messages of the search backlog (migrations/sqlite/0004): those not
/// recalled go into the full-text index, and all leave the backlog, in one transaction.
async fn index_search_backlog_on(
    conn: &mut SqliteConnection,
    limit: i64,
    merge: bool,
) -> Result<u64, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT message_id FROM search_backlog ORDER BY message_id LIMIT ?")
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
    let Some(&last) = ids.last() else {
        return Ok(0); // nothing written: the transaction just ends
    };
    for index in ["messages_fts", "messages_trigram"] {
        sqlx::query(&format!(
            "INSERT INTO {index}(rowid, content) SELECT m.id, m.content FROM search_backlog b \
             JOIN messages m ON m.id = b.message_id WHERE b.message_id <= ? \
             AND m.recalled_at IS NULL ORDER BY b.message_id"
        ))
        .bind(last)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM search_backlog WHERE message_id <= ?")
        .bind(last)
        .execute(&mut *tx)
        .await?;
    if merge {
        merge_search_segments(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}

/// One transaction: the sends, then the changes, then the acknowledgements.
#[allow(clippy::type_complexity)]
fn write_all(
    c: &mut rusqlite::Connection,
    batch: &[NewMessage],
    changes: &[ChangeRequest],
    acks: &[(UserId, Vec<MessageId>)],
    now: i64,
) -> rusqlite::Result<(
    Vec<InsertOutcome>,
    Vec<changes::Applied>,
    Vec<AckOutcome>,
    Instant,
    Instant,
)> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let begun = Instant::now();
    let sent = batch::insert_batch(&tx, batch, now)?;
    let applied = if changes.is_empty() {
        Vec::new()
    } else {
        changes::apply_changes(&tx, changes, now)?
    };
    let acked = if acks.is_empty() {
        Vec::new()
    } else {
        batch::acknowledge_batch(&tx, acks, now)?
    };
    let written = Instant::now();
    tx.commit()?;
    Ok((sent, applied, acked, begun, written))
}

impl SqliteStore {
    /// A change's outcome with the message as it is now (read after the commit).
    async fn change_outcome(&self, a: changes::Applied) -> StoreResult<ChangeOutcome> {
        Ok(match a {
            changes::Applied::Changed {
                message_id,
                members,
            } => match self.message(message_id).await? {
                Some(message) => ChangeOutcome::Applied { message, members },
                None => ChangeOutcome::NotFound,
            },
            changes::Applied::Unchanged(id) => match self.message(id).await? {
                Some(message) => ChangeOutcome::Unchanged { message },
                None => ChangeOutcome::NotFound,
            },
            changes::Applied::OpReused => ChangeOutcome::OpReused,
            changes::Applied::NotFound => ChangeOutcome::NotFound,
            changes::Applied::NotSender => ChangeOutcome::NotSender,
            changes::Applied::WindowPassed => ChangeOutcome::WindowPassed,
        })
    }
}
