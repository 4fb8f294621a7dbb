//! PostgreSQL: messages: the batched write path, history, recall, receipts, search.

use app::model::{Rev, SearchPage};
use sqlx::{Postgres, QueryBuilder};

use super::*;
use crate::store::log_walk::LogWalk;
use crate::store::{BatchOutcome, ChangeOutcome, ChangeRequest, SearchQuery, StoreError};
use std::time::Duration;

#[async_trait]
impl MessageStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn write_batch(
        &self,
        batch: &[NewMessage],
        changes: &[ChangeRequest],
        acks: &[(UserId, Vec<MessageId>)],
        now: i64,
    ) -> StoreResult<BatchOutcome> {
        let t = Instant::now();
        // (If a deadlock made the transaction run again, `begin` includes the attempts before.)
        let mut stages = (Duration::ZERO, Duration::ZERO, Instant::now());
        let (sent, acked) = in_transaction!(self.pool, |tx| {
            let begun = Instant::now();
            let sent = super::batch::insert_batch_on(&mut tx, batch, now).await?;
            let acked = if acks.is_empty() {
                Vec::new()
            } else {
                super::batch::acknowledge_batch_on(&mut tx, acks, now).await?
            };
            stages = (begun - t, begun.elapsed(), Instant::now());
            Ok::<_, sqlx::Error>((sent, acked))
        })?;
        self.observe("write_batch", t);
        self.metrics.observe_stage("begin", stages.0);
        self.metrics.observe_stage("statements", stages.1);
        self.metrics.observe_stage("commit", stages.2.elapsed());
        // Changes in a transaction of their own, after the sends: it locks the conversations it
        // touches in id order, which a transaction already holding the sends' locks could not.
        let changed = if changes.is_empty() {
            Vec::new()
        } else {
            let applied: Result<_, sqlx::Error> = in_transaction!(self.pool, |tx| {
                super::changes::apply_changes_on(&mut tx, changes, now).await
            });
            // The sends are committed: their outcomes stand whatever happens to the changes.
            applied.unwrap_or_else(|e| {
                tracing::error!(error = %e, changes = changes.len(), "applying a batch's changes failed; none applied");
                vec![ChangeOutcome::Failed(e.to_string()); changes.len()]
            })
        };
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
            .fetch_all(&self.pool)
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
            .fetch_optional(&self.pool)
            .await?;
        let last_rev = last_rev.unwrap_or(0);
        let mut walk = LogWalk::new(after, last_rev, limit);
        while let Some(w) = walk.next_window() {
            let rows = sqlx::query(sql::CHANGES_IN_WINDOW)
                .bind(id)
                .bind(w.after)
                .bind(w.through)
                .bind(w.inserts)
                .fetch_all(&self.pool)
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
            .fetch_optional(&self.pool)
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
            .fetch_all(&self.pool)
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

    async fn index_search_backlog(&self, _limit: i64) -> StoreResult<u64> {
        // The GIN indexes are maintained by every INSERT (migrations/postgres/0003, 0006).
        Ok(0)
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
        let t = Instant::now();
        let mut sql = QueryBuilder::<Postgres>::new(format!(
            "SELECT {MSG_COLS} JOIN conversation_members cm \
             ON cm.conversation_id = m.conversation_id AND cm.user_id = "
        ));
        sql.push_bind(viewer)
            .push(" WHERE m.recalled_at IS NULL AND m.id < ")
            .push_bind(before.unwrap_or(i64::MAX));
        match query.tsquery() {
            // The very expression of idx_messages_search (migrations/postgres/0003).
            Some(tsquery) => {
                sql.push(" AND courier_search_document(m.content) @@ to_tsquery('simple'::regconfig, courier_search_fold(")
                    .push_bind(tsquery)
                    .push("))");
            }
            // Substrings (CJK): those of three or more characters through the trigram index
            // on the stored trigram set (migrations/postgres/0007), then courier_holds (an
            // ILIKE the planner cannot misjudge, 0007) decides, as SQLite's LIKE ignores the
            // case of ASCII letters (a C-locale database folds ASCII only too).
            None => {
                for piece in query.trigram_pieces() {
                    sql.push(" AND m.content_trigrams @> courier_trigrams(")
                        .push_bind(piece.to_string())
                        .push(")");
                }
                for pattern in query.like_patterns() {
                    sql.push(" AND courier_holds(m.content, ")
                        .push_bind(pattern)
                        .push(")");
                }
            }
        }
        if let Some(c) = conversation {
            sql.push(" AND m.conversation_id = ").push_bind(c);
        }
        sql.push(" ORDER BY m.id DESC LIMIT ").push_bind(limit + 1);
        // Not a prepared statement: the best plan depends on how common the words are (a GIN
        // scan for rare ones, the id order for common ones), which a generic plan cannot know.
        // The deadline holds for this statement only (SET LOCAL ends with the transaction).
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('statement_timeout', $1, true)")
            .bind(format!("{}ms", deadline.as_millis().max(1)))
            .execute(&mut *tx)
            .await?;
        // Substrings too short for a trigram have no index to narrow them: the newest messages
        // first, stopping at a page of hits, is then never worse than testing every message and
        // sorting, which the planner picks when it guesses the pattern rare (的 over the bench's
        // corpus, 5,000 texts of 4,000 characters: 250 ms instead of 1 ms).
        if query.tsquery().is_none() && query.trigram_pieces().is_empty() {
            sqlx::query("SELECT set_config('enable_sort', 'off', true)")
                .execute(&mut *tx)
                .await?;
        }
        let rows = sql
            .build()
            .persistent(false)
            .fetch_all(&mut *tx)
            .await
            .map_err(timeout_if_canceled)?;
        tx.commit().await?;
        let hits: Vec<Message> = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()?;
        self.observe("search", t);
        Ok(crate::store::search::page_of(hits, limit))
    }
}

/// query_canceled (57014): `statement_timeout` stopped the statement at its deadline.
fn timeout_if_canceled(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("57014") => StoreError::Timeout,
        _ => StoreError::Database(e),
    }
}
