//! Wire types of the HTTP API, shared by the server and the browser client.
//!
//! Times are milliseconds since the Unix epoch (UTC). Ids are server-assigned integers.
//! Every type here is documented in docs/API.md; change both together.

use serde::{Deserialize, Serialize};

pub type UserId = i64;
pub type ConversationId = i64;
pub type MessageId = i64;
/// Per-conversation, gap-free position of a message (1, 2, 3, …). The only ordering key.
pub type Seq = i64;
/// Per-conversation, gap-free number of a change to its messages (a new message, a recall, …):
/// the order every device catches up in. A message carries the rev of its latest change.
pub type Rev = i64;

/// Longest accepted message text, in characters.
pub const MAX_CONTENT_CHARS: usize = 4000;

/// Longest message-search query (`GET /api/search?q=`), in characters after trimming.
pub const MAX_SEARCH_QUERY_CHARS: usize = 100;
/// Most words (or, for CJK text, space-separated substrings) one search query may have: each
/// is one more index lookup and one more test per candidate message.
pub const MAX_SEARCH_QUERY_PIECES: usize = 8;
pub const MAX_CLIENT_MSG_ID_LEN: usize = 64;
pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;
pub const DISPLAY_NAME_MAX: usize = 64;
pub const GROUP_TITLE_MAX: usize = 100;
pub const GROUP_MEMBERS_MAX: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub created_at: i64,
}

/// `GET /api/auth/session`: who this browser is logged in as, if anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: Option<User>,
    /// The user is one of the configured operators (`/message-test`'s server-wide figures).
    #[serde(default)]
    pub operator: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    /// Optional; defaults to the username.
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/auth/password`: every session of the user ends; the caller gets a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// The answer of `POST /api/auth/logout-all` and `POST /api/auth/password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsRevoked {
    /// Sessions deleted (the caller's included).
    pub sessions: u64,
    /// Open WebSocket connections closed.
    pub sockets: u64,
}

/// The JSON body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `username_taken`, `invalid_credentials`.
    pub code: String,
    /// Human-readable explanation (English).
    pub message: String,
    /// The request field at fault, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Which rule `field` breaks (`length`, `charset`, `common`, … — `validate::Rule`), so a
    /// client can explain it in its own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// For `rate_limited`, `too_many_attempts` and `too_many_registrations`: whole seconds until
    /// the next try is allowed (the same as the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    Direct,
    Group,
}

/// A message's status as its sender sees it. Only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Client-side only: not yet acknowledged by the server.
    Sending,
    /// Committed to the database.
    Sent,
    /// Every other member has a device that acknowledged it.
    Delivered,
    /// Every other member's read position has passed it.
    Read,
}

/// `message_push_records.push_status`, as in the original design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// 0: waiting for a device of the recipient to acknowledge.
    Pending,
    /// 1: a device acknowledged it (the message is delivered to this user).
    Pushed,
    /// 2: a push attempt failed or was not acknowledged in time; retried with backoff,
    /// terminal once `retry_count` reaches the configured maximum.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub sender_id: UserId,
    pub sender_name: String,
    pub client_msg_id: String,
    /// `None` once the message is recalled: recalled content is never served.
    pub content: Option<String>,
    pub recalled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalled_at: Option<i64>,
    /// Status as the sender sees it (aggregated over all other members).
    pub status: MessageStatus,
    pub created_at: i64,
    /// The rev of this message's latest change (its insert, or its recall): of two copies of
    /// one message, the one with the higher rev is the newer state.
    #[serde(default)]
    pub rev: Rev,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    /// Highest seq this member has read.
    pub read_seq: Seq,
    /// Highest seq such that every message up to it has reached a device of this member.
    pub delivered_seq: Seq,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// Group title; for a direct conversation, the other member's display name.
    pub title: String,
    pub members: Vec<Member>,
    /// Seq of the newest message (0 when empty).
    pub last_seq: Seq,
    /// Rev of the newest change to its messages (0 when none): the resume point of a device
    /// that loads the conversation now.
    #[serde(default)]
    pub last_rev: Rev,
    pub last_message: Option<Message>,
    /// My read position.
    pub read_seq: Seq,
    /// Derived: messages after my read position that are not mine and not recalled.
    pub unread: i64,
    pub created_at: i64,
    /// Time of the newest message, or of creation.
    pub updated_at: i64,
    /// I muted it (`POST /api/conversations/{id}/mute`): no desktop notifications, and its
    /// unread messages do not count in the tab's title and icon. Mine only; synced across my devices.
    #[serde(default)]
    pub muted: bool,
}

/// The body of `POST /api/messages/{id}/recall`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallRequest {
    /// The client's id for this recall, so a retry applies once (1–64 printable ASCII
    /// characters). Optional: without it the recall of message 42 is `recall:42`, which is just
    /// as idempotent — a recall is the same change however often it is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_op_id: Option<String>,
}

/// The body of `POST /api/conversations/{id}/mute`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteRequest {
    pub muted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartDirectRequest {
    pub user_id: UserId,
}

/// The answer to `POST /api/conversations/{id}/leave`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftConversation {
    pub conversation_id: ConversationId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroupRequest {
    pub title: String,
    /// Other members; the creator is always a member.
    pub member_ids: Vec<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessageRequest {
    pub client_msg_id: String,
    pub content: String,
}

/// The acknowledgement of a send: the message as committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAck {
    pub client_msg_id: String,
    pub message: Message,
    /// True when this `client_msg_id` had already been committed: nothing new was stored.
    pub duplicate: bool,
}

/// One page of a conversation's history, ordered by seq ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub conversation_id: ConversationId,
    pub messages: Vec<Message>,
    /// True when messages older than the first one in this page exist.
    pub has_more: bool,
}

/// One page of message search results (`GET /api/search`), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPage {
    pub hits: Vec<Message>,
    /// The `before` cursor of the next page: set when more hits exist.
    pub next_before: Option<MessageId>,
}

/// One page of messages waiting for the caller (push records not yet pushed), oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflinePage {
    pub messages: Vec<Message>,
    /// Total records still waiting (including this page) when the page was read.
    pub pending_total: i64,
    pub has_more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRequest {
    pub message_ids: Vec<MessageId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckResponse {
    /// How many push records moved to pushed.
    pub acknowledged: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkReadRequest {
    pub seq: Seq,
}

/// `POST /api/offline-messages/read`: mark offline messages read. Without a conversation,
/// every conversation with waiting messages is read up to its newest waiting message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MarkOfflineReadRequest {
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadPosition {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub read_seq: Seq,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkOfflineReadResponse {
    pub positions: Vec<ReadPosition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberReceipt {
    pub user_id: UserId,
    pub display_name: String,
    pub delivered: bool,
    pub read: bool,
    pub push_status: Option<PushStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReceipts {
    pub message_id: MessageId,
    pub status: MessageStatus,
    pub members: Vec<MemberReceipt>,
}

/// One `message_push_records` row, as diagnostics show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRecord {
    pub id: i64,
    pub message_id: MessageId,
    pub user_id: UserId,
    pub push_status: PushStatus,
    pub retry_count: i64,
    pub push_time: Option<i64>,
    pub error_message: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
}

/// `POST /api/diagnostics/push-records`: the messages whose push records to count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRecordsRequest {
    pub message_ids: Vec<MessageId>,
}

/// At most this many ids per `push-records` request (`/message-test`'s largest run).
pub const PUSH_RECORDS_MAX_IDS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushStats {
    pub pending: i64,
    pub pushed: i64,
    pub failed: i64,
}

/// `GET /api/diagnostics`: the caller's view of the delivery machinery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostics {
    pub user: User,
    pub connections: Vec<ConnectionInfo>,
    /// Push records addressed to the caller, by status.
    pub my_records: PushStats,
    /// Push records for messages the caller sent, by status.
    pub sent_records: PushStats,
    /// The newest push records for messages the caller sent (most recent first).
    pub recent_sent_records: Vec<PushRecord>,
    /// Server-wide counters: only for operators (the server's `operators` list), else absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<PushStats>,
    /// This node's connections (operators only). In a cluster they count the node that
    /// answered, named by `node`; `connections` too are this node's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_users: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_connections: Option<i64>,
    /// In a cluster: the id of the node that answered (absent on a single node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
    pub server_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    pub connection_id: u64,
    pub connected_at: i64,
    pub last_seen_at: i64,
    pub in_flight: i64,
    /// Bytes queued for this connection and not yet written to its socket.
    #[serde(default)]
    pub outbox_bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub database: String,
    /// Which database: `sqlite` or `postgres`.
    #[serde(default)]
    pub backend: String,
    /// `ok` while the single writer that commits sends answers; `stalled` otherwise.
    #[serde(default)]
    pub writer: String,
    pub version: String,
}
