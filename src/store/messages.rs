//! Messages: the batched write path, history, recall, receipts, search.

use std::time::Duration;

use async_trait::async_trait;

use super::*;

/// Messages: the batched write path, history, recall, receipts, search.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Commits a batch of sends and acknowledgements in ONE transaction (one fsync): sends get
    /// their per-conversation gap-free seq and a push record for every recipient, idempotent on
    /// (sender, client_msg_id); acknowledgements (applied after the sends) move records to pushed.
    /// Changes to existing messages (a recall, …) are applied after the sends, in the order
    /// given, each taking its conversation's next rev and recorded once per (actor,
    /// client_op_id); one outcome per change.
    async fn write_batch(
        &self,
        sends: &[NewMessage],
        changes: &[ChangeRequest],
        acks: &[(UserId, Vec<MessageId>)],
        now: i64,
    ) -> StoreResult<BatchOutcome>;
    /// Up to `limit` messages with seq < `before` (or the newest), ascending; and whether older exist.
    async fn history(
        &self,
        id: ConversationId,
        before: Option<Seq>,
        limit: i64,
    ) -> StoreResult<(Vec<Message>, bool)>;
    /// Up to `limit` messages whose latest change is after rev `after`, in rev order (each in
    /// its current state), and the conversation's `last_rev` read before them (so every change
    /// up to it is among them when fewer than `limit` came back).
    async fn changes_after(
        &self,
        id: ConversationId,
        after: Rev,
        limit: i64,
    ) -> StoreResult<(Vec<Message>, Rev)>;
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>>;
    async fn receipts(&self, id: MessageId) -> StoreResult<Option<MessageReceipts>>;
    /// Up to `limit` messages that match `query` (see [`SearchQuery`]), newest (highest id)
    /// first, with id < `before` if given: only messages of conversations `viewer` is a member of
    /// now (only of `conversation` if given), never recalled ones. `next_before` is the last
    /// hit's id when more hits exist. Past `deadline` the search is stopped and fails with
    /// [`StoreError::Timeout`].
    async fn search(
        &self,
        viewer: UserId,
        query: &SearchQuery,
        conversation: Option<ConversationId>,
        before: Option<MessageId>,
        limit: i64,
        deadline: Duration,
    ) -> StoreResult<SearchPage>;
    /// Makes up to `limit` of the messages sent since the last call searchable, and says how
    /// many it took. SQLite indexes off the send path, in chunks (a background job calls this;
    /// `search` drains what is left first, so results are always exact); PostgreSQL indexes as
    /// it writes, and has nothing to do here.
    async fn index_search_backlog(&self, limit: i64) -> StoreResult<u64>;
}
