//! The delivery ledger (`message_push_records`): what waits for whom, read positions, retries, statistics.
//!
//! A push record is one message's delivery to one recipient, and nothing else: a recall writes
//! no record (members who were away learn of it by `sync` from their rev, the message coming
//! back recalled; see store/rows.rs on the `kind` column that is now always 0). An ack of a
//! message id therefore means exactly "this message reached a device of this recipient".

use async_trait::async_trait;

use super::*;

/// The delivery ledger (`message_push_records`): what waits for whom, read positions, retries, statistics.
#[async_trait]
pub trait LedgerStore: Send + Sync + 'static {
    /// Messages waiting for `user` (records not pushed) with message id > `after`, oldest first,
    /// recalled ones as recalled.
    async fn waiting_for(
        &self,
        user: UserId,
        after: MessageId,
        limit: i64,
    ) -> StoreResult<Vec<Message>>;
    /// How many messages (with records not pushed) wait for `user`.
    async fn waiting_count(&self, user: UserId) -> StoreResult<i64>;
    /// Push attempts that were not acknowledged: mark failed, count the attempt, schedule a retry.
    async fn mark_failed(
        &self,
        user: UserId,
        message_ids: &[MessageId],
        error: &str,
        now: i64,
        max_retries: i64,
        backoff: &(dyn Fn(i64) -> i64 + Sync),
    ) -> StoreResult<u64>;
    /// Moves `user`'s read position in the conversation forward to `seq` (clamped to last_seq).
    async fn mark_read(
        &self,
        id: ConversationId,
        user: UserId,
        seq: Seq,
        now: i64,
    ) -> StoreResult<Option<ReadOutcome>>;
    /// Conversations with messages waiting for `user`, with the newest waiting seq of each.
    async fn waiting_conversations(&self, user: UserId) -> StoreResult<Vec<(ConversationId, Seq)>>;
    /// Claims pending records of `users` — each `(user, since)`: created at or after `since` —
    /// last touched before `older_than` (a push that never reached a device: lost on the way
    /// between nodes): their `update_time` becomes `now`, so the next sweep leaves them to the
    /// ack timeout.
    async fn claim_stale_pending(
        &self,
        users: &[(UserId, i64)],
        older_than: i64,
        limit: i64,
        now: i64,
    ) -> StoreResult<Vec<StalePush>>;
    /// Claims the run of `job` for `period` (e.g. the day's number): true for exactly one caller
    /// per period across every node sharing the database.
    async fn claim_job_run(&self, job: &str, period: i64) -> StoreResult<bool>;
    /// Claims failed records whose next retry time has passed and that are not terminal: their
    /// next retry moves to `lease_until`, so a sweep running at the same moment on another node
    /// does not take them too (and a node that dies mid-sweep leaves them due again later).
    async fn claim_due_retries(
        &self,
        now: i64,
        max_retries: i64,
        limit: i64,
        lease_until: i64,
    ) -> StoreResult<Vec<DueRetry>>;
    /// The retry sweep found the recipient offline: count the attempt and push the next retry out.
    async fn postpone_retry(
        &self,
        record_id: i64,
        error: &str,
        now: i64,
        max_retries: i64,
        next_retry_at: i64,
    ) -> StoreResult<()>;
    /// The retry sweep re-pushed the record: it is pending (in flight) again.
    async fn mark_retrying(&self, record_id: i64, now: i64) -> StoreResult<()>;
    /// Deletes pushed records last updated before `before`; returns how many.
    async fn cleanup_pushed(&self, before: i64) -> StoreResult<u64>;
    async fn push_stats(&self) -> StoreResult<PushStats>;
    async fn push_stats_for_recipient(&self, user: UserId) -> StoreResult<PushStats>;
    async fn push_stats_for_sender(&self, user: UserId) -> StoreResult<PushStats>;
    /// Counts of the message push records of `ids` that `sender` sent (ids of other senders are
    /// left out), for `/message-test`'s offline test.
    async fn push_stats_for_messages(
        &self,
        sender: UserId,
        ids: &[MessageId],
    ) -> StoreResult<PushStats>;
    async fn recent_records_for_sender(
        &self,
        user: UserId,
        limit: i64,
    ) -> StoreResult<Vec<PushRecord>>;
}
