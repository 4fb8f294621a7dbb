//! PostgreSQL: the delivery ledger (`message_push_records`): what waits for whom, read positions, retries, statistics.

use super::*;

#[async_trait]
impl LedgerStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn waiting_for(
        &self,
        user: UserId,
        after: MessageId,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let t = Instant::now();
        // The subquery is an index range scan on idx_push_records_waiting (user_id, message_id).
        let rows = sqlx::query(sql::WAITING_FOR)
            .bind(user)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        self.observe("waiting_for", t);
        Ok(rows
            .iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn waiting_count(&self, user: UserId) -> StoreResult<i64> {
        let t = Instant::now();
        // Messages: one record per message and recipient (no other kind of record is written).
        let n = sqlx::query_scalar(sql::WAITING_COUNT)
            .bind(user)
            .fetch_one(&self.pool)
            .await?;
        self.observe("waiting_count", t);
        Ok(n)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn mark_failed(
        &self,
        user: UserId,
        message_ids: &[MessageId],
        error: &str,
        now: i64,
        max_retries: i64,
        backoff: &(dyn Fn(i64) -> i64 + Sync),
    ) -> StoreResult<u64> {
        // Set-based: one read of the records concerned, then one update per distinct attempt
        // count (each has its own backoff), however many messages expired at once.
        let t = Instant::now();
        let n = in_transaction!(self.pool, |tx| {
            // The records are locked (in id order) as they are read, so their attempt counts
            // cannot change before the updates below.
            let rows: Vec<(i64, i64)> = sqlx::query_as(sql::failing_records!(
                in: [in_list!("$2")],
                lock: "FOR UPDATE"
            ))
            .bind(user)
            .bind(message_ids)
            .fetch_all(&mut *tx)
            .await?;
            let mut by_attempts: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
            for (id, retry_count) in rows {
                by_attempts.entry(retry_count + 1).or_default().push(id);
            }
            let mut n = 0;
            for (attempts, records) in by_attempts {
                // Terminal after max_retries attempts: no next retry (still replayed on connect).
                let next = (attempts < max_retries).then(|| now + backoff(attempts));
                n += sqlx::query(sql::mark_records_failed!(in_list!("$6")))
                    .bind(RecordStatus::Failed)
                    .bind(attempts)
                    .bind(error)
                    .bind(now)
                    .bind(next)
                    .bind(&records)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            Ok::<_, sqlx::Error>(n)
        })?;
        self.observe("mark_failed", t);
        Ok(n)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn mark_read(
        &self,
        id: ConversationId,
        user: UserId,
        seq: Seq,
        now: i64,
    ) -> StoreResult<Option<ReadOutcome>> {
        let t = Instant::now();
        let outcome = in_transaction!(self.pool, |tx| {
            // Locks the conversation row first: see `membership_on`.
            let Some(membership) = membership_on(&mut tx, id, user).await? else {
                return Ok(None);
            };
            let (last_seq, old) = (membership.last_seq, membership.read_seq);
            let new = seq.clamp(0, last_seq);
            let members = member_ids_on(&mut tx, id).await?;
            if new <= old {
                return Ok(Some(ReadOutcome {
                    position: ReadPosition {
                        conversation_id: id,
                        user_id: user,
                        read_seq: old,
                    },
                    moved: false,
                    members,
                    changes: Vec::new(),
                    acknowledged: 0,
                }));
            }
            sqlx::query(sql::SET_READ_SEQ)
                .bind(new)
                .bind(id)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            // Reading implies the messages reached a device: acknowledge them too.
            let ids: Vec<i64> = sqlx::query_scalar(sql::WAITING_UP_TO)
                .bind(user)
                .bind(id)
                .bind(new)
                .fetch_all(&mut *tx)
                .await?;
            let ack = acknowledge_on(&mut tx, user, &ids, now).await?;
            let read = mark_read_on(&mut tx, id, old, Some(new), user).await?;
            // Report each message once, at its highest new status.
            let mut changes: Vec<StatusChange> = ack
                .delivered
                .into_iter()
                .filter(|d| !read.iter().any(|r| r.message_id == d.message_id))
                .collect();
            changes.extend(read);
            Ok::<_, sqlx::Error>(Some(ReadOutcome {
                position: ReadPosition {
                    conversation_id: id,
                    user_id: user,
                    read_seq: new,
                },
                moved: true,
                members,
                changes,
                acknowledged: ack.acknowledged,
            }))
        })?;
        // As in SQLite, only a read position that moved is timed.
        if outcome.as_ref().is_some_and(|o| o.moved) {
            self.observe("mark_read", t);
        }
        Ok(outcome)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn waiting_conversations(&self, user: UserId) -> StoreResult<Vec<(ConversationId, Seq)>> {
        let rows: Vec<(ConversationId, Seq)> = sqlx::query_as(sql::WAITING_CONVERSATIONS)
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_stale_pending(
        &self,
        users: &[(UserId, i64)],
        older_than: i64,
        limit: i64,
        now: i64,
    ) -> StoreResult<Vec<StalePush>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, sinces): (Vec<i64>, Vec<i64>) = users.iter().copied().unzip();
        let mut stale: Vec<StalePush> = sqlx::query_as(concat!(
            "UPDATE message_push_records SET update_time = $3 WHERE id IN (\
             SELECT r.id FROM unnest($1::bigint[], $6::bigint[]) AS k(u, since) \
             JOIN message_push_records r ON r.user_id = k.u AND r.create_time >= k.since \
             WHERE r.push_status <> ",
            pushed!(),
            " AND r.push_status = $4 AND r.update_time < $2 \
             ORDER BY r.message_id LIMIT $5 FOR UPDATE OF r SKIP LOCKED) \
             RETURNING user_id, message_id"
        ))
        .bind(&ids)
        .bind(older_than)
        .bind(now)
        .bind(RecordStatus::Pending)
        .bind(limit)
        .bind(&sinces)
        .fetch_all(&self.pool)
        .await?;
        stale.sort_by_key(|s| (s.user_id, s.message_id));
        Ok(stale)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_job_run(&self, job: &str, period: i64) -> StoreResult<bool> {
        // The upsert moves last_run forward only for a later period: one caller gets the row.
        let claimed: Option<String> = sqlx::query_scalar(sql::CLAIM_JOB_RUN)
            .bind(job)
            .bind(period)
            .fetch_optional(&self.pool)
            .await?;
        Ok(claimed.is_some())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_due_retries(
        &self,
        now: i64,
        max_retries: i64,
        limit: i64,
        lease_until: i64,
    ) -> StoreResult<Vec<DueRetry>> {
        // SKIP LOCKED: rows another node is claiming right now are left to it.
        let rows: Vec<DueRetryRow> =
            sqlx::query_as(sql::claim_due_retries!("FOR UPDATE SKIP LOCKED"))
                .bind(lease_until)
                .bind(now)
                .bind(max_retries)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        let mut due: Vec<DueRetry> = rows.into_iter().map(DueRetry::from).collect();
        due.sort_by_key(|d| d.record_id);
        Ok(due)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn postpone_retry(
        &self,
        record_id: i64,
        error: &str,
        now: i64,
        max_retries: i64,
        next_retry_at: i64,
    ) -> StoreResult<()> {
        // One statement on one row: the row lock it takes is all the locking it needs.
        sqlx::query(sql::POSTPONE_RETRY)
            .bind(error)
            .bind(now)
            .bind(max_retries)
            .bind(next_retry_at)
            .bind(record_id)
            .bind(RecordStatus::Failed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn mark_retrying(&self, record_id: i64, now: i64) -> StoreResult<()> {
        sqlx::query(sql::MARK_RETRYING)
            .bind(RecordStatus::Pending)
            .bind(now)
            .bind(record_id)
            .bind(RecordStatus::Failed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn cleanup_pushed(&self, before: i64) -> StoreResult<u64> {
        let t = Instant::now();
        let mut total = 0;
        // In chunks, so a huge cleanup never holds many row locks or one long transaction;
        // rows another transaction has locked are skipped (the next cleanup gets them), so this
        // never waits for a lock and the order it locks in cannot deadlock: it goes by
        // update_time, a range scan on idx_push_records_cleanup that stops after the chunk
        // (in id order it would walk the whole primary key when little is old enough).
        // `= ANY(ARRAY(…))` rather than `IN (…)`: the planner hash-joins an IN subquery
        // against a scan of the whole table; this probes the primary key for each id.
        loop {
            let n = sqlx::query(concat!(
                "DELETE FROM message_push_records WHERE id = ANY(ARRAY(SELECT id FROM message_push_records \
                 WHERE push_status = ",
                pushed!(),
                " AND update_time < $1 ORDER BY update_time LIMIT 5000 FOR UPDATE SKIP LOCKED))"
            ))
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected();
            total += n;
            if n < 5000 {
                break;
            }
        }
        self.observe("cleanup_pushed", t);
        Ok(total)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn push_stats(&self) -> StoreResult<PushStats> {
        let rows = sqlx::query_as::<_, (RecordStatus, i64)>(sql::PUSH_STATS)
            .fetch_all(&self.pool)
            .await?;
        Ok(push_stats(rows))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn push_stats_for_recipient(&self, user: UserId) -> StoreResult<PushStats> {
        let rows = sqlx::query_as::<_, (RecordStatus, i64)>(sql::PUSH_STATS_FOR_RECIPIENT)
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        Ok(push_stats(rows))
    }

    // The sender-side views below join the sender's membership: after leaving a conversation
    // (or being removed) its deliveries are no longer theirs to watch (docs/API.md §4.3).
    #[tracing::instrument(level = "debug", skip_all)]
    async fn push_stats_for_sender(&self, user: UserId) -> StoreResult<PushStats> {
        let rows = sqlx::query_as::<_, (RecordStatus, i64)>(sql::PUSH_STATS_FOR_SENDER)
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        Ok(push_stats(rows))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn push_stats_for_messages(
        &self,
        sender: UserId,
        ids: &[MessageId],
    ) -> StoreResult<PushStats> {
        let rows =
            sqlx::query_as::<_, (RecordStatus, i64)>(sql::push_stats_for_messages!(in_list!("$2")))
                .bind(sender)
                .bind(ids)
                .fetch_all(&self.pool)
                .await?;
        Ok(push_stats(rows))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn recent_records_for_sender(
        &self,
        user: UserId,
        limit: i64,
    ) -> StoreResult<Vec<PushRecord>> {
        let rows: Vec<RecordRow> = sqlx::query_as(sql::RECENT_RECORDS_FOR_SENDER)
            .bind(user)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(PushRecord::from).collect())
    }
}
