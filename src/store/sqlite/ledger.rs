//! SQLite: the delivery ledger (`message_push_records`): what waits for whom, read positions, retries, statistics.

use super::*;

#[async_trait]
impl LedgerStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn waiting_for(
        &self,
        user: UserId,
        after: MessageId,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let t = Instant::now();
        let rows = sqlx::query(sql::WAITING_FOR)
            .bind(user)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.read)
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
            .fetch_one(&self.read)
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
        let mut writer = self.writer().await;
        let writer = &mut *writer;
        let mut tx = writer.conn.begin().await?;
        let rows: Vec<(i64, i64)> =
            sqlx::query_as(sql::failing_records!(in: [in_list!("$2")], lock: ""))
                .bind(user)
                .bind(json_array(message_ids))
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
                .bind(json_array(&records))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
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
        let mut writer = self.writer().await;
        let writer = &mut *writer;
        let (conn, direct) = writer.split();
        let mut tx = conn.begin().await?;
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
        let ack = acknowledge_on(&mut tx, direct, user, &ids, now).await?;
        let read = mark_read_on(&mut tx, id, old, Some(new), user).await?;
        tx.commit().await?;
        // Report each message once, at its highest new status.
        let mut changes: Vec<StatusChange> = ack
            .delivered
            .into_iter()
            .filter(|d| !read.iter().any(|r| r.message_id == d.message_id))
            .collect();
        changes.extend(read);
        self.observe("mark_read", t);
        Ok(Some(ReadOutcome {
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
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn waiting_conversations(&self, user: UserId) -> StoreResult<Vec<(ConversationId, Seq)>> {
        let rows = sqlx::query(sql::WAITING_CONVERSATIONS)
            .bind(user)
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get("conversation_id")?, r.try_get("seq")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_stale_pending(
        &self,
        users: &[(UserId, i64)],
        older_than: i64,
        limit: i64,
        now: i64,
    ) -> StoreResult<Vec<StalePush>> {
        let mut stale = Vec::new();
        for chunk in users.chunks(300) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("UPDATE message_push_records SET update_time = ");
            qb.push_bind(now).push(concat!(
                " WHERE id IN (SELECT id FROM message_push_records WHERE push_status <> ",
                pushed!(),
                " AND push_status = "
            ));
            qb.push_bind(RecordStatus::Pending)
                .push(" AND update_time < ")
                .push_bind(older_than)
                .push(" AND (");
            for (i, (u, since)) in chunk.iter().enumerate() {
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push("(user_id = ")
                    .push_bind(*u)
                    .push(" AND create_time >= ")
                    .push_bind(*since)
                    .push(")");
            }
            qb.push(") ORDER BY message_id LIMIT ")
                .push_bind(limit)
                .push(") RETURNING user_id, message_id");
            let rows: Vec<StalePush> = qb
                .build_query_as()
                .fetch_all(&mut self.writer().await.conn)
                .await?;
            stale.extend(rows);
        }
        stale.sort_by_key(|s| (s.user_id, s.message_id));
        Ok(stale)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_job_run(&self, job: &str, period: i64) -> StoreResult<bool> {
        // The upsert moves last_run forward only for a later period: one caller gets the row.
        let claimed: Option<String> = sqlx::query_scalar(sql::CLAIM_JOB_RUN)
            .bind(job)
            .bind(period)
            .fetch_optional(&mut self.writer().await.conn)
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
        let rows = sqlx::query(sql::claim_due_retries!(""))
            .bind(lease_until)
            .bind(now)
            .bind(max_retries)
            .bind(limit)
            .fetch_all(&mut self.writer().await.conn)
            .await?;
        let mut due = rows
            .iter()
            .map(|r| DueRetryRow::from_row(r).map(DueRetry::from))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)?;
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
        sqlx::query(sql::POSTPONE_RETRY)
            .bind(error)
            .bind(now)
            .bind(max_retries)
            .bind(next_retry_at)
            .bind(record_id)
            .bind(RecordStatus::Failed)
            .execute(&mut self.writer().await.conn)
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
            .execute(&mut self.writer().await.conn)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn cleanup_pushed(&self, before: i64) -> StoreResult<u64> {
        let t = Instant::now();
        let mut total = 0;
        // In chunks, so a huge cleanup never holds the writer for long.
        loop {
            let n = sqlx::query(concat!(
                "DELETE FROM message_push_records WHERE id IN (SELECT id FROM message_push_records \
                 WHERE push_status = ",
                pushed!(),
                " AND update_time < ? LIMIT 5000)"
            ))
            .bind(before)
            .execute(&mut self.writer().await.conn)
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
        let rows: Vec<(RecordStatus, i64)> = sqlx::query_as(sql::PUSH_STATS)
            .fetch_all(&self.read)
            .await?;
        Ok(push_stats(rows))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn push_stats_for_recipient(&self, user: UserId) -> StoreResult<PushStats> {
        let rows: Vec<(RecordStatus, i64)> = sqlx::query_as(sql::PUSH_STATS_FOR_RECIPIENT)
            .bind(user)
            .fetch_all(&self.read)
            .await?;
        Ok(push_stats(rows))
    }

    // The sender-side views below join the sender's membership: after leaving a conversation
    // (or being removed) its deliveries are no longer theirs to watch (docs/API.md §4.3).
    #[tracing::instrument(level = "debug", skip_all)]
    async fn push_stats_for_sender(&self, user: UserId) -> StoreResult<PushStats> {
        let rows: Vec<(RecordStatus, i64)> = sqlx::query_as(sql::PUSH_STATS_FOR_SENDER)
            .bind(user)
            .fetch_all(&self.read)
            .await?;
        Ok(push_stats(rows))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn push_stats_for_messages(
        &self,
        sender: UserId,
        ids: &[MessageId],
    ) -> StoreResult<PushStats> {
        let counts: Vec<(RecordStatus, i64)> =
            sqlx::query_as(sql::push_stats_for_messages!(in_list!("$2")))
                .bind(sender)
                .bind(json_array(ids))
                .fetch_all(&self.read)
                .await?;
        Ok(push_stats(counts))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn recent_records_for_sender(
        &self,
        user: UserId,
        limit: i64,
    ) -> StoreResult<Vec<PushRecord>> {
        let rows = sqlx::query(sql::RECENT_RECORDS_FOR_SENDER)
            .bind(user)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| RecordRow::from_row(r).map(PushRecord::from))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
