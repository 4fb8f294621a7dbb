//! Storage behind one trait, so handlers and the delivery engine never see SQL: the embedded
//! [`sqlite`] backend (the default) and [`postgres`] beside it, chosen by the URL's scheme.
//!
//! [`Store`] is four traits, one file each — [`accounts`], [`conversations`], [`messages`] and
//! [`ledger`] (the push records) — and every backend implements them in files of the same names.

pub mod accounts;
pub mod conversations;
pub mod error;
pub mod ledger;
pub mod log_walk;
pub mod messages;
pub mod postgres;
pub mod rows;
pub mod rules;
pub mod search;
pub mod sql;
pub mod sqlite;

use app::model::{
    Conversation, ConversationId, ConversationKind, Member, Message, MessageId, MessageReceipts,
    MessageStatus, PushRecord, PushStats, ReadPosition, Rev, SearchPage, Seq, User, UserId,
};

use std::sync::Arc;

use crate::config::Config;
use crate::telemetry::Metrics;

pub use accounts::{AccountStore, OperatorGrant, OperatorListChanges};
pub use conversations::ConversationStore;
pub use error::{StoreError, StoreResult};
pub use ledger::LedgerStore;
pub use messages::MessageStore;

/// Messages a background run (or a search) makes searchable per transaction (SQLite): one FTS5
/// segment each, so the fewer and bigger the chunks the less merging; but sends wait for the
/// writer meanwhile, so a chunk stays small (~1 ms) and a backlog is worked off chunk by chunk
/// with sends in between.
pub const SEARCH_INDEX_CHUNK: i64 = 250;

/// `conversations.last_change_at` (ms) is moved only once it is this much older than a new
/// change, so a busy conversation does not rewrite its index entry for every message. It can lag
/// a conversation's latest change by up to this much: readers (`changed_since`) widen their
/// window by as much.
pub const CHANGE_AT_RESOLUTION_MS: i64 = 5_000;
pub use search::SearchQuery;

/// A send, validated, waiting to be committed.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub client_msg_id: String,
    pub content: String,
}

impl NewMessage {
    /// The message as committed under `id`, `seq` and `rev` (what a batch answers for a new send).
    pub fn committed(
        &self,
        id: MessageId,
        seq: Seq,
        rev: Rev,
        sender_name: String,
        now: i64,
    ) -> Message {
        Message {
            id,
            conversation_id: self.conversation_id,
            seq,
            sender_id: self.sender_id,
            sender_name,
            client_msg_id: self.client_msg_id.clone(),
            content: Some(self.content.clone()),
            recalled: false,
            recalled_at: None,
            status: MessageStatus::Sent,
            created_at: now,
            rev,
        }
    }
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

/// What one batch did: an outcome per send, per change and per acknowledgement, in order.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub sent: Vec<InsertOutcome>,
    pub changed: Vec<ChangeOutcome>,
    pub acked: Vec<AckOutcome>,
}

/// A change to an existing message, queued with sends (delivery::changes) and applied by the
/// writer in queue order, each taking its conversation's next rev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub actor: UserId,
    /// The client's id for this change (`message_changes`, unique per actor): a retried
    /// change applies once.
    pub client_op_id: String,
    pub change: Change,
}

/// What a change does (`message_changes.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Erase the message's content, by its sender, within `window_ms` of sending.
    Recall {
        message_id: MessageId,
        window_ms: i64,
    },
}

impl Change {
    pub fn message_id(&self) -> MessageId {
        match *self {
            Change::Recall { message_id, .. } => message_id,
        }
    }
    /// The stored kind.
    pub(crate) fn kind(&self) -> i64 {
        match self {
            Change::Recall { .. } => 1,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ChangeOutcome {
    /// Applied: the message in its new state (carrying the change's rev), and the members to tell.
    Applied {
        message: Message,
        members: Vec<UserId>,
    },
    /// Nothing to do: the same change was applied before (a retry, or the message is already
    /// in the state asked for). The message as it is.
    Unchanged {
        message: Message,
    },
    NotFound,
    NotSender,
    WindowPassed,
    /// The actor's client op id was used before for a change of another message.
    OpReused,
    /// Nothing of it was applied: its transaction failed after the batch's sends had
    /// committed in theirs (PostgreSQL keeps the two apart). Retrying it is safe.
    Failed(String),
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

/// The fields of a [`Conversation`] that depend on who looks at it (read from the columns of
/// the same names: `sql::MEMBER_VIEWS`, `sql::viewed_cols!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Viewer {
    pub user_id: UserId,
    pub read_seq: Seq,
    pub unread: i64,
    pub muted: bool,
}

impl Viewer {
    /// Turns `conv` (any member's view, or the shared one) into this viewer's.
    pub fn apply(&self, conv: &mut Conversation) {
        conv.read_seq = self.read_seq;
        conv.unread = self.unread;
        conv.muted = self.muted;
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

/// A pending push record that no device acknowledged in time (see `claim_stale_pending`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StalePush {
    pub user_id: UserId,
    pub message_id: MessageId,
}

/// A failed push record whose backoff has passed.
#[derive(Debug, Clone)]
pub struct DueRetry {
    pub record_id: i64,
    pub message_id: MessageId,
    pub user_id: UserId,
    pub retry_count: i64,
}

/// Opens the database named by `database_url`; the URL's scheme chooses the backend. Every
/// failure is one line that says what to do (and never shows the URL's password).
pub async fn connect(config: &Config, metrics: Arc<Metrics>) -> Result<Arc<dyn Store>, String> {
    let url = &config.database_url;
    match url.split_once(':').map(|(scheme, _)| scheme) {
        Some("sqlite") => Ok(Arc::new(
            sqlite::SqliteStore::connect(url, &config.sqlite_synchronous, metrics).await?,
        )),
        Some("postgres" | "postgresql") => Ok(Arc::new(
            postgres::PgStore::connect(url, config.database_max_connections, metrics).await?,
        )),
        _ => Err(format!(
            "unsupported DATABASE_URL {url}: expected sqlite://path/to/file.db or postgres://user:password@host/database"
        )),
    }
}

/// Everything Courier stores, in four parts (one file each, here and in every backend).
pub trait Store: AccountStore + ConversationStore + MessageStore + LedgerStore {}

impl<T: AccountStore + ConversationStore + MessageStore + LedgerStore> Store for T {}
