//! Storage behind one trait, so handlers and the delivery engine never see SQL and a
//! PostgreSQL backend can be added beside [`sqlite`] without touching them.

pub mod error;
pub mod sqlite;
mod sqlite_batch;

use app::model::{
    Conversation, ConversationId, ConversationKind, Member, Message, MessageId, MessageReceipts,
    MessageStatus, PushRecord, PushStats, ReadPosition, Seq, User, UserId,
};
use async_trait::async_trait;

pub use error::{StoreError, StoreResult};

/// A send, validated, waiting to be committed.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub client_msg_id: String,
    pub content: String,
}

/// A committed message and who must receive it.
#[derive(Debug, Clone)]
pub struct Committed {
    pub message: Message,
    /// Every member of the conversation except the sender.
    pub recipients: Vec<UserId>,
}

#[derive(Debug, Clone)]
pub enum InsertOutcome {
    Inserted(Committed),
    /// The sender already committed this `client_msg_id`: the original, nothing new stored.
    Duplicate(Committed),
    /// The `client_msg_id` was used before for a different conversation.
    IdReused,
    /// The conversation does not exist or the sender is not a member.
    NotMember,
}

/// A message whose sender-visible status moved forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub sender_id: UserId,
    pub status: MessageStatus,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct AckOutcome {
    /// Push records that moved to pushed.
    pub acknowledged: u64,
    /// Messages that became delivered (every recipient has acknowledged).
    pub delivered: Vec<StatusChange>,
}

#[derive(Debug, Clone)]
pub struct ReadOutcome {
    pub position: ReadPosition,
    /// False when the position did not move (already read further).
    pub moved: bool,
    pub members: Vec<UserId>,
    /// Messages that became delivered or read as a result.
    pub changes: Vec<StatusChange>,
    pub acknowledged: u64,
}

#[derive(Debug, Clone)]
pub enum RecallOutcome {
    Recalled {
        message: Message,
        members: Vec<UserId>,
    },
    AlreadyRecalled {
        message: Message,
    },
    NotFound,
    NotSender,
    WindowPassed,
}

/// One conversation as each of its members sees it: the shared part is built once and only
/// the fields that depend on the viewer are patched per member (see [`Viewer::apply`]).
#[derive(Debug, Clone)]
pub struct ConversationViews {
    /// The viewer-independent conversation: a direct conversation's title is empty, and
    /// `read_seq` and `unread` are 0 until [`Viewer::apply`] sets them.
    pub shared: Conversation,
    /// Every member's own fields, in member order.
    pub viewers: Vec<Viewer>,
}

/// The fields of a [`Conversation`] that depend on who looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: UserId,
    pub read_seq: Seq,
    pub unread: i64,
}

impl Viewer {
    /// Turns `conv` (any member's view, or the shared one) into this viewer's.
    pub fn apply(&self, conv: &mut Conversation) {
        conv.read_seq = self.read_seq;
        conv.unread = self.unread;
        if conv.kind == ConversationKind::Direct {
            conv.title = direct_title(&conv.members, self.user_id);
        }
    }
}

impl ConversationViews {
    /// `user`'s view; `None` if they are not a member.
    pub fn view(&self, user: UserId) -> Option<Conversation> {
        let viewer = self.viewers.iter().find(|v| v.user_id == user)?;
        let mut conv = self.shared.clone();
        viewer.apply(&mut conv);
        Some(conv)
    }
}

/// A direct conversation is titled with the other member's display name.
pub fn direct_title(members: &[Member], viewer: UserId) -> String {
    members
        .iter()
        .find(|m| m.user_id != viewer)
        .map(|m| m.display_name.clone())
        .unwrap_or_default()
}

#[derive(Debug, Clone)]
pub enum LeaveOutcome {
    Left {
        /// Who is still a member.
        members: Vec<UserId>,
        /// Messages that became delivered or read because the leaver no longer counts.
        changes: Vec<StatusChange>,
        /// Push records of the leaver that were removed (still waiting or failed).
        removed_records: u64,
    },
    /// The conversation does not exist or the user is not a member.
    NotMember,
    /// Direct conversations cannot be left.
    Direct,
}

/// A failed push record whose backoff has passed.
#[derive(Debug, Clone)]
pub struct DueRetry {
    pub record_id: i64,
    pub message_id: MessageId,
    pub user_id: UserId,
    pub kind: i64,
    pub retry_count: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip, for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;

    // --- accounts and sessions ---
    /// `Ok(None)` when the username is taken.
    async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>>;
    /// The user and their password hash.
    async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>>;
    async fn search_users(
        &self,
        query: &str,
        exclude: UserId,
        limit: i64,
    ) -> StoreResult<Vec<User>>;
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The user of a live session, and when the session expires (ms).
    async fn session_user(&self, token_hash: &str, now: i64) -> StoreResult<Option<(User, i64)>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Deletes every session of a user (log out everywhere, password change). Returns how many.
    async fn delete_user_sessions(&self, user_id: UserId) -> StoreResult<u64>;
    /// Deletes sessions that expired before `now` (daily cleanup). Returns how many.
    async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64>;
    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> StoreResult<()>;

    // --- conversations ---
    /// Creates the 1:1 conversation of `a` and `b`, or returns the existing one. `None` if `b` is unknown.
    async fn direct_conversation(
        &self,
        a: UserId,
        b: UserId,
        now: i64,
    ) -> StoreResult<Option<ConversationId>>;
    /// `None` if a member id is unknown.
    async fn create_group(
        &self,
        creator: UserId,
        title: &str,
        members: &[UserId],
        now: i64,
    ) -> StoreResult<Option<ConversationId>>;
    /// The conversation as `viewer` sees it; `None` if it does not exist or `viewer` is not a member.
    async fn conversation(
        &self,
        id: ConversationId,
        viewer: UserId,
    ) -> StoreResult<Option<Conversation>>;
    async fn conversations(&self, viewer: UserId) -> StoreResult<Vec<Conversation>>;
    /// The conversation as every member sees it, from a fixed number of statements whatever
    /// the number of members (announcing a group must stay linear in its members).
    async fn conversation_views(
        &self,
        id: ConversationId,
    ) -> StoreResult<Option<ConversationViews>>;
    /// The existing 1:1 conversation of `a` and `b`, if any (creates nothing).
    async fn find_direct(&self, a: UserId, b: UserId) -> StoreResult<Option<ConversationId>>;
    /// `user` leaves the group: membership and the records still waiting for them there go.
    async fn leave_conversation(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<LeaveOutcome>;
    async fn is_member(&self, id: ConversationId, user: UserId) -> StoreResult<bool>;
    async fn member_ids(&self, id: ConversationId) -> StoreResult<Vec<UserId>>;

    // --- messages ---
    /// Commits a batch of sends and acknowledgements in ONE transaction (one fsync): sends get
    /// their per-conversation gap-free seq and a push record for every recipient, idempotent on
    /// (sender, client_msg_id); acknowledgements (applied after the sends) move records to pushed.
    async fn write_batch(
        &self,
        sends: &[NewMessage],
        acks: &[(UserId, Vec<MessageId>)],
        now: i64,
    ) -> StoreResult<(Vec<InsertOutcome>, Vec<AckOutcome>)>;
    /// Up to `limit` messages with seq < `before` (or the newest), ascending; and whether older exist.
    async fn history(
        &self,
        id: ConversationId,
        before: Option<Seq>,
        limit: i64,
    ) -> StoreResult<(Vec<Message>, bool)>;
    /// Up to `limit` messages with seq > `after`, ascending.
    async fn messages_after(
        &self,
        id: ConversationId,
        after: Seq,
        limit: i64,
    ) -> StoreResult<Vec<Message>>;
    /// Messages of the conversation recalled at or after `since`.
    async fn recalled_since(&self, id: ConversationId, since: i64) -> StoreResult<Vec<Message>>;
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>>;
    async fn receipts(&self, id: MessageId) -> StoreResult<Option<MessageReceipts>>;

    // --- delivery ledger (message_push_records) ---
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
    async fn recall(
        &self,
        id: MessageId,
        by: UserId,
        window_ms: i64,
        now: i64,
    ) -> StoreResult<RecallOutcome>;
    /// Failed records whose next retry time has passed and that are not terminal.
    async fn due_retries(
        &self,
        now: i64,
        max_retries: i64,
        limit: i64,
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
    async fn recent_records_for_sender(
        &self,
        user: UserId,
        limit: i64,
    ) -> StoreResult<Vec<PushRecord>>;
}
