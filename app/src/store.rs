//! The client store: everything the browser knows, and pure functions that change it.
//!
//! No Leptos, no browser: the reactive layer (`state.rs`) wraps a [`ClientState`] in a signal and
//! feeds it [`Event`]s through [`apply`]; host unit tests feed it the same events. The rules that
//! keep the screen honest live here:
//! - messages are keyed by their per-conversation `seq`, so pages, live pushes and replays
//!   merge without duplicates and always display in the server's order;
//! - an optimistic message is keyed by its `client_msg_id` until the server's acknowledgement
//!   replaces it, so a retried send or a duplicate ack can never show twice;
//! - status only moves forward and a recall is sticky (a stale page never revives content);
//! - unread counts are derived from positions, never incremented;
//! - memory is bounded per conversation, trimming the end the user is not looking at.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::model::{
    Conversation, ConversationId, HistoryPage, Message, MessageId, MessageStatus, Rev, Seq, User,
    UserId,
};
use crate::protocol::{ReplayReason, ResumePoint, RevMark};

/// Messages kept in memory per conversation; older (or newer) ones are re-fetched by paging.
pub const MAX_MESSAGES_PER_CONVERSATION: usize = 500;
/// Messages per history request.
pub const HISTORY_PAGE_SIZE: i64 = 50;
/// An unacknowledged send is retried (same `client_msg_id`) after this long on an open socket.
pub const RESEND_AFTER_MS: i64 = 10_000;
/// Status hints for messages not in memory are kept up to this many, then forgotten.
const MAX_STATUS_HINTS: usize = 2_000;

/// The WebSocket's state as the UI shows it (`conn-state[data-state]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnState {
    /// Not connected and not trying (logged out, or stopped).
    #[default]
    Closed,
    /// The first connection attempt is under way.
    Connecting,
    Open,
    /// The connection was lost (or never came up) and is being retried with backoff.
    Reconnecting,
    /// The browser says there is no network: nothing is tried until it comes back (or, in case
    /// the browser is wrong, a slow fallback attempt succeeds).
    Offline,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Closed => "closed",
            ConnState::Connecting => "connecting",
            ConnState::Open => "open",
            ConnState::Reconnecting => "reconnecting",
            ConnState::Offline => "offline",
        }
    }
}

/// A message typed by this user that the server has not acknowledged yet.
/// Serializable so the outbox survives a page reload (see `state.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMessage {
    pub client_msg_id: String,
    pub conversation_id: ConversationId,
    pub content: String,
    /// Local clock, ms since the epoch.
    pub created_at: i64,
    /// Creation order, to display and resend in the order typed.
    #[serde(default)]
    pub order: u64,
    #[serde(default)]
    pub last_attempt_at: Option<i64>,
    #[serde(default)]
    pub attempts: u32,
    /// Set when the server refused the message for good (error code); it is then neither
    /// resent nor dropped silently: the user decides (retry or discard).
    #[serde(default)]
    pub failed: Option<String>,
    /// For `rate_limited`: do not resend before this time.
    #[serde(default)]
    pub retry_at: Option<i64>,
}

/// Which way a history request pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryDirection {
    /// The newest page (opening a conversation, or jumping back to the live end).
    Newest,
    /// The page before the oldest message in memory (user scrolled up).
    Older,
    /// The page after the newest message in memory, when newer ones were trimmed away.
    Newer,
    /// A page around this seq (a search hit, the first unread message): it replaces what is in
    /// memory, [`AROUND_NEWER`] messages from the target onwards and the rest before it.
    Around(Seq),
}

impl HistoryDirection {
    /// Newest and Around jump somewhere: they replace memory and supersede any paging.
    fn jumps(self) -> bool {
        matches!(self, HistoryDirection::Newest | HistoryDirection::Around(_))
    }
}

/// A page around a target holds the target and this many messages after it (the rest of the
/// page is before it, so there is context above).
pub const AROUND_NEWER: i64 = 40;

/// Opening a conversation with more unread messages than this lands at the first unread one
/// (a page around it) instead of the newest page.
pub const UNREAD_JUMP: i64 = 40;

/// A message the list should bring into view once it is rendered: the first unread message when
/// a conversation opens (under the "new messages" divider), or a search hit (highlighted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Focus {
    pub conversation_id: ConversationId,
    pub seq: Seq,
    /// A search hit: highlight the bubble. The first unread: show the divider above it instead.
    pub highlight: bool,
}

/// A history request the caller must perform (`GET .../messages?before=&limit=`), then report
/// back with [`Event::HistoryLoaded`] carrying the same token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryRequest {
    pub token: u64,
    pub conversation_id: ConversationId,
    pub direction: HistoryDirection,
    pub before: Option<Seq>,
    pub limit: i64,
}

/// One conversation's messages in memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timeline {
    pub messages: BTreeMap<Seq, Message>,
    /// Messages older than the first one in memory exist on the server.
    pub has_more: bool,
    /// Messages newer than the last one in memory exist (they were trimmed while paging back).
    pub has_newer: bool,
    /// The newest page has been loaded at least once.
    pub loaded: bool,
    /// The request in flight, if any. An answer whose token differs is stale and ignored.
    pub loading: Option<HistoryRequest>,
    /// How far this conversation's change log is known: every change up to this rev is
    /// reflected in what is held. Set by a sync page's `through`, then advanced by each change
    /// that follows it; a live change further on is a gap (ask `sync` from here). `None` until
    /// a sync has said: then a resume starts from the lowest rev held, which is sound (any later
    /// change to a held message, or any new message, has a higher rev).
    pub rev_seen: Option<Rev>,
}

impl Timeline {
    pub fn first_seq(&self) -> Option<Seq> {
        self.messages.keys().next().copied()
    }
    pub fn last_seq(&self) -> Option<Seq> {
        self.messages.keys().next_back().copied()
    }
    /// The highest seq held without a gap from the first one in memory.
    /// Where a `sync` of this conversation starts: see [`Timeline::rev_seen`].
    pub fn resume_rev(&self) -> Option<Rev> {
        self.rev_seen
            .or_else(|| self.messages.values().map(|m| m.rev).min())
    }

    pub fn contiguous_last(&self) -> Option<Seq> {
        let mut it = self.messages.keys();
        let mut last = *it.next()?;
        for &s in it {
            if s != last + 1 {
                break;
            }
            last = s;
        }
        Some(last)
    }
}

/// A conversation as the list shows it, plus the server's unread baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvState {
    /// The server's view, kept current by live events (last message, positions, members).
    pub info: Conversation,
    /// The baseline of the derived unread count: the server counted `snap_unread` unread
    /// messages in (`snap_read`, `snap_last`].
    snap_read: Seq,
    snap_last: Seq,
    snap_unread: i64,
    /// Messages of that baseline recalled since (they no longer count).
    snap_recalled: i64,
}

/// What a message row shows: a committed message or a pending one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageView {
    pub client_msg_id: String,
    pub seq: Option<Seq>,
    pub id: Option<MessageId>,
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub sender_name: String,
    /// `None` when recalled.
    pub content: Option<String>,
    pub recalled: bool,
    pub status: MessageStatus,
    pub created_at: i64,
    pub mine: bool,
    /// Error code when the server refused a pending message.
    pub failed: Option<String>,
    /// A pending message that cannot go out because the browser has no network.
    pub waiting_for_network: bool,
}

/// Who is using this tab, as far as the server has said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Session {
    /// Asking the server whether the session cookie is still good.
    #[default]
    Checking,
    LoggedOut,
    LoggedIn {
        user: User,
        /// One of the server's operators (`/message-test`); `None` until the server has said.
        operator: Option<bool>,
    },
}

/// Where the session is, without who: what pages switch on (a view that does not change when
/// the user's details or operator flag do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Checking,
    LoggedOut,
    LoggedIn,
}

impl Session {
    pub fn phase(&self) -> Phase {
        match self {
            Session::Checking => Phase::Checking,
            Session::LoggedOut => Phase::LoggedOut,
            Session::LoggedIn { .. } => Phase::LoggedIn,
        }
    }
}

/// Until the first `welcome` says otherwise (the server's default).
pub const DEFAULT_RECALL_WINDOW_MS: i64 = 2 * 60 * 1000;

/// Everything the client knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientState {
    pub session: Session,
    /// Server time minus this machine's time (ms), from the last `welcome`.
    pub clock_offset: i64,
    /// How long after sending a message its sender may recall it (from `welcome`).
    pub recall_window_ms: i64,
    pub conversations: HashMap<ConversationId, ConvState>,
    /// The conversation list has been loaded since login.
    pub conversations_loaded: bool,
    pub timelines: HashMap<ConversationId, Timeline>,
    /// Optimistic outgoing messages by `client_msg_id`.
    pub pending: BTreeMap<String, PendingMessage>,
    pub connection: ConnState,
    /// The socket has been open at least once since login (the reconnect banner shows only
    /// after a connection was lost, not during the first connect).
    pub ever_open: bool,
    pub active: Option<ConversationId>,
    /// The newest committed message of the open conversation that is on the reader's screen
    /// (reported by the message list as the user scrolls and as messages arrive). Only what
    /// was on screen counts as read: a message that arrived while the reader was scrolled up
    /// stays unread until it is scrolled into view.
    pub on_screen: Option<(ConversationId, Seq)>,
    /// The open conversation's read position when it was opened, if anything after it was
    /// unread: the "new messages" divider goes after this seq. It stays put while the user reads.
    pub divider: Option<(ConversationId, Seq)>,
    /// What the message list should scroll to once it is rendered (see [`Focus`]).
    pub focus: Option<Focus>,
    /// Conversations that messages referred to but the list does not hold: fetch them.
    pub unknown_conversations: BTreeSet<ConversationId>,
    /// Conversations where a live message skipped seqs: ask the server for the tail.
    pub gaps: BTreeSet<ConversationId>,
    /// Who is typing where, until when (local ms).
    pub typing: HashMap<ConversationId, BTreeMap<UserId, i64>>,
    /// Groups I left: anything about them that still arrives (a list or a message sent just
    /// before I left) is ignored. Groups cannot be rejoined, so this never needs undoing.
    pub left: BTreeSet<ConversationId>,
    /// The hits of the search the user is looking at: held here, not beside the store, so a
    /// change that arrives after the search (a recall) reaches them as it reaches the timeline.
    pub search: Option<SearchResults>,
    /// Recalls seen, so a page fetched before the recall cannot bring content back.
    recalls: HashMap<MessageId, i64>,
    /// Status updates for my messages that were not in memory when they arrived.
    status_hints: HashMap<MessageId, MessageStatus>,
    next_token: u64,
    next_order: u64,
}

impl Default for ClientState {
    fn default() -> Self {
        ClientState {
            session: Session::default(),
            clock_offset: 0,
            recall_window_ms: DEFAULT_RECALL_WINDOW_MS,
            conversations: HashMap::new(),
            conversations_loaded: false,
            timelines: HashMap::new(),
            pending: BTreeMap::new(),
            connection: ConnState::default(),
            ever_open: false,
            active: None,
            on_screen: None,
            divider: None,
            focus: None,
            unknown_conversations: BTreeSet::new(),
            gaps: BTreeSet::new(),
            typing: HashMap::new(),
            left: BTreeSet::new(),
            search: None,
            recalls: HashMap::new(),
            status_hints: HashMap::new(),
            next_token: 0,
            next_order: 0,
        }
    }
}

/// Search hits, newest first, for one query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResults {
    /// The query these hits answer.
    pub q: String,
    pub hits: Vec<Message>,
    /// Where the next page starts (`None`: no more).
    pub next_before: Option<MessageId>,
}

/// Everything that can happen to the client state.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The session belongs to this user (login, register). A different user than before
    /// resets the store.
    LoggedIn(User),
    LoggedOut,
    /// The answer to `GET /api/auth/session`: the user (or nobody) and whether an operator.
    SessionChecked {
        user: Option<User>,
        operator: bool,
    },
    /// Whether this user is an operator (asked after a login or registration); ignored when
    /// another user is logged in by the time the answer arrives.
    OperatorKnown {
        user_id: UserId,
        operator: bool,
    },
    /// A `welcome` frame: the connection's user and the server's clock and recall window.
    /// Another user than the store's (a login in another tab) resets the store like
    /// [`Event::LoggedIn`]; the same user's unacknowledged sends all go out again.
    Welcomed {
        user: User,
        server_time: i64,
        recall_window_ms: i64,
        local_now: i64,
    },
    /// A `pong` frame.
    Pong {
        server_time: i64,
    },
    /// The once-a-second tick, on the server-aligned clock: typing indicators expire.
    Tick {
        now: i64,
    },
    /// Plan a history request (see [`begin_history`]); the caller reads it from the
    /// timeline's `loading` and performs it.
    HistoryWanted {
        conversation_id: ConversationId,
        direction: HistoryDirection,
    },
    /// `GET /api/conversations`: the full list, newest activity first.
    ConversationsLoaded(Vec<Conversation>),
    /// One conversation created or changed (start direct, create group, `conversation` frame).
    ConversationUpserted(Conversation),
    /// I left a group (`conversation_left` frame, or the answer to my leave request): it
    /// disappears with its messages, typing and unsent messages.
    ConversationLeft(ConversationId),
    /// The user switched to a conversation (or to none). In-flight history requests of other
    /// conversations are abandoned: their answers will be ignored.
    Opened(Option<ConversationId>),
    /// Bring a message of a conversation into view and highlight it (a search hit).
    FocusOn {
        conversation_id: ConversationId,
        seq: Seq,
    },
    /// The message list scrolled to the focus (or gave up: the message does not exist).
    Focused,
    /// The message list reports the newest committed message on screen (`None`: none is).
    OnScreen {
        conversation_id: ConversationId,
        newest: Option<Seq>,
    },
    /// The answer to a [`HistoryRequest`].
    HistoryLoaded {
        token: u64,
        page: HistoryPage,
    },
    HistoryFailed {
        token: u64,
    },
    /// A `message` frame (live push, also my own sends echoed from my other tabs).
    Live(Message),
    /// A `batch` frame: replayed messages; for a sync page, how far it covers its
    /// conversation's change log.
    Batch {
        reason: ReplayReason,
        messages: Vec<Message>,
        through: Option<RevMark>,
    },
    /// A `heads` frame: the latest rev of conversations that changed lately. One held with a
    /// lower rev seen missed a live change: a gap.
    Heads(Vec<RevMark>),
    /// A page of search hits for `q` (`before`: a further page of the same query).
    SearchAnswered {
        q: String,
        before: Option<MessageId>,
        hits: Vec<Message>,
        next_before: Option<MessageId>,
    },
    /// The search box was emptied or closed.
    SearchCleared,
    /// The user sent a message; it shows at once as "sending".
    Queued {
        client_msg_id: String,
        conversation_id: ConversationId,
        content: String,
        now: i64,
    },
    /// A pending message was (re)sent over the socket at `now`.
    SendAttempted {
        client_msg_id: String,
        now: i64,
    },
    /// The server committed a message of mine (`sent` frame or HTTP `SendAck`).
    Sent {
        client_msg_id: String,
        message: Message,
    },
    /// The server refused a send. With `retry_at` it is retried then (rate limit); without,
    /// it stays visible as failed until retried or discarded.
    SendRefused {
        client_msg_id: String,
        code: String,
        retry_at: Option<i64>,
    },
    /// The user asked to retry a failed message.
    Retry {
        client_msg_id: String,
    },
    /// The user discarded a failed message.
    Discard {
        client_msg_id: String,
    },
    /// Pending messages restored from storage after a reload.
    RestoreOutbox(Vec<PendingMessage>),
    Status {
        conversation_id: ConversationId,
        message_id: MessageId,
        seq: Seq,
        status: MessageStatus,
    },
    /// A member's read position (mine included: other tabs, or my own `read`).
    ReadPosition {
        conversation_id: ConversationId,
        user_id: UserId,
        seq: Seq,
    },
    Recalled {
        conversation_id: ConversationId,
        message_id: MessageId,
        seq: Seq,
        recalled_at: i64,
        /// The recall's change number.
        rev: Rev,
    },
    /// A message as the server now has it (e.g. the answer to an HTTP recall).
    MessageUpdated(Message),
    Connection(ConnState),
    Typing {
        conversation_id: ConversationId,
        user_id: UserId,
        until: i64,
    },
    /// The caller has asked the server for the tails of these gapped conversations.
    GapsRequested,
    /// The caller is fetching these unknown conversations.
    UnknownRequested,
}

/// Which end of a timeline to drop when it grows past the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrimEnd {
    /// The user is at the live end: forget the oldest.
    Oldest,
    /// The user is paging back: forget the newest.
    Newest,
}

/// Applies one event. Pure: the same state and event always give the same result.
pub fn apply(state: &mut ClientState, event: Event) {
    match event {
        Event::LoggedIn(user) => state.log_in(user, None),
        Event::LoggedOut => {
            *state = ClientState::default();
            state.session = Session::LoggedOut;
        }
        Event::SessionChecked { user, operator } => match user {
            Some(user) => state.log_in(user, Some(operator)),
            None => apply(state, Event::LoggedOut),
        },
        Event::OperatorKnown {
            user_id,
            operator: op,
        } => {
            if let Session::LoggedIn { user, operator } = &mut state.session {
                if user.id == user_id {
                    *operator = Some(op);
                }
            }
        }
        Event::Welcomed {
            user,
            server_time,
            recall_window_ms,
            local_now,
        } => {
            if state.me_id() == Some(user.id) {
                state.forget_attempts();
            } else {
                state.log_in(user, None);
            }
            state.clock_offset = server_time - local_now;
            if recall_window_ms > 0 {
                state.recall_window_ms = recall_window_ms;
            }
        }
        // A pong says the connection is alive; nothing in memory changes.
        Event::Pong { .. } => {}
        Event::Tick { now } => {
            for m in state.typing.values_mut() {
                m.retain(|_, until| *until > now);
            }
            state.typing.retain(|_, m| !m.is_empty());
        }
        Event::HistoryWanted {
            conversation_id,
            direction,
        } => {
            begin_history(state, conversation_id, direction);
        }
        Event::ConversationsLoaded(list) => {
            // Merged, never replaced: a list requested before a conversation was created may
            // arrive after it. Groups left since are removed by `ConversationLeft`.
            for c in list {
                state.unknown_conversations.remove(&c.id);
                if !state.left.contains(&c.id) {
                    state.upsert_conversation(c);
                }
            }
            state.conversations_loaded = true;
        }
        Event::ConversationUpserted(c) => {
            state.unknown_conversations.remove(&c.id);
            if !state.left.contains(&c.id) {
                state.upsert_conversation(c);
            }
        }
        Event::ConversationLeft(id) => {
            state.left.insert(id);
            state.conversations.remove(&id);
            state.timelines.remove(&id);
            state.typing.remove(&id);
            state.gaps.remove(&id);
            state.unknown_conversations.remove(&id);
            // The server refuses sends there now: they could only ever fail.
            state.pending.retain(|_, p| p.conversation_id != id);
            if state.active == Some(id) {
                state.active = None;
            }
            state.divider = state.divider.filter(|(c, _)| *c != id);
            state.focus = state.focus.filter(|f| f.conversation_id != id);
        }
        Event::Opened(id) => {
            if state.active != id {
                state.on_screen = None;
                // The divider marks where reading starts this time: the read position now.
                state.divider = id.and_then(|id| {
                    let read = state.conversations.get(&id)?.info.read_seq;
                    (state.unread(id) > 0).then_some((id, read))
                });
                state.focus = state.divider.map(|(conversation_id, read)| Focus {
                    conversation_id,
                    seq: read + 1,
                    highlight: false,
                });
            }
            state.active = id;
            for (cid, tl) in state.timelines.iter_mut() {
                if Some(*cid) != id {
                    tl.loading = None;
                }
            }
        }
        Event::FocusOn {
            conversation_id,
            seq,
        } => {
            state.focus = Some(Focus {
                conversation_id,
                seq,
                highlight: true,
            });
        }
        Event::Focused => state.focus = None,
        Event::OnScreen {
            conversation_id,
            newest,
        } => {
            state.on_screen = newest
                .filter(|_| state.active == Some(conversation_id))
                .map(|seq| (conversation_id, seq));
        }
        Event::HistoryLoaded { token, page } => state.history_loaded(token, page),
        Event::HistoryFailed { token } => {
            for tl in state.timelines.values_mut() {
                if tl.loading.map(|r| r.token) == Some(token) {
                    tl.loading = None;
                }
            }
        }
        Event::Live(m) => {
            let cid = m.conversation_id;
            let seq = m.seq;
            // A message from someone ends their typing indicator.
            if let Some(t) = state.typing.get_mut(&cid) {
                t.remove(&m.sender_id);
            }
            let expected_next = state
                .timelines
                .get(&cid)
                .filter(|tl| tl.loaded && !tl.has_newer)
                .and_then(|tl| tl.last_seq())
                .map(|s| s + 1);
            let rev = m.rev;
            state.insert_message(m, TrimEnd::Oldest);
            if expected_next.is_some_and(|next| seq > next) {
                state.gaps.insert(cid);
            }
            state.note_change(cid, rev, true);
        }
        Event::Batch {
            messages, through, ..
        } => {
            for m in messages {
                let (cid, rev) = (m.conversation_id, m.rev);
                state.insert_message(m, TrimEnd::Oldest);
                state.note_change(cid, rev, false);
            }
            // A page says how far the log is covered, even an empty one: a conversation that
            // holds nothing yet is then resumed from there too (not left out of every sync).
            if let Some(mark) = through.filter(|m| !state.left.contains(&m.conversation_id)) {
                let tl = state.timelines.entry(mark.conversation_id).or_default();
                tl.rev_seen = Some(tl.rev_seen.map_or(mark.rev, |r| r.max(mark.rev)));
            }
        }
        Event::Queued {
            client_msg_id,
            conversation_id,
            content,
            now,
        } => {
            let order = state.next_order;
            state.next_order += 1;
            state
                .pending
                .entry(client_msg_id.clone())
                .or_insert(PendingMessage {
                    client_msg_id,
                    conversation_id,
                    content,
                    created_at: now,
                    order,
                    last_attempt_at: None,
                    attempts: 0,
                    failed: None,
                    retry_at: None,
                });
        }
        Event::SendAttempted { client_msg_id, now } => {
            if let Some(p) = state.pending.get_mut(&client_msg_id) {
                p.last_attempt_at = Some(now);
                p.attempts += 1;
                p.retry_at = None;
            }
        }
        Event::Sent {
            client_msg_id,
            message,
        } => {
            state.pending.remove(&client_msg_id);
            let (cid, rev) = (message.conversation_id, message.rev);
            state.insert_message(message, TrimEnd::Oldest);
            state.note_change(cid, rev, false);
        }
        Event::SendRefused {
            client_msg_id,
            code,
            retry_at,
        } => {
            if let Some(p) = state.pending.get_mut(&client_msg_id) {
                match retry_at {
                    Some(t) => p.retry_at = Some(t),
                    None => p.failed = Some(code),
                }
            }
        }
        Event::Retry { client_msg_id } => {
            if let Some(p) = state.pending.get_mut(&client_msg_id) {
                p.failed = None;
                p.retry_at = None;
                p.last_attempt_at = None;
            }
        }
        Event::Discard { client_msg_id } => {
            state.pending.remove(&client_msg_id);
        }
        Event::RestoreOutbox(list) => {
            for mut p in list {
                // Already pending here, or already committed (another tab's copy of the outbox
                // can arrive after this tab saw the message itself).
                let committed = state.timelines.get(&p.conversation_id).is_some_and(|tl| {
                    tl.messages
                        .values()
                        .any(|m| m.client_msg_id == p.client_msg_id)
                });
                if committed || state.pending.contains_key(&p.client_msg_id) {
                    continue;
                }
                p.order = state.next_order;
                state.next_order += 1;
                p.last_attempt_at = None;
                state.pending.insert(p.client_msg_id.clone(), p);
            }
        }
        Event::Status {
            conversation_id,
            message_id,
            seq,
            status,
        } => state.set_status(conversation_id, message_id, seq, status),
        Event::ReadPosition {
            conversation_id,
            user_id,
            seq,
        } => state.read_position(conversation_id, user_id, seq),
        Event::Recalled {
            conversation_id,
            message_id,
            seq,
            recalled_at,
            rev,
        } => {
            state.recalled(conversation_id, message_id, seq, recalled_at, rev);
            state.note_change(conversation_id, rev, true);
        }
        Event::MessageUpdated(m) => {
            if m.recalled {
                state.recalled(
                    m.conversation_id,
                    m.id,
                    m.seq,
                    m.recalled_at.unwrap_or(m.created_at),
                    m.rev,
                );
            }
            // Only refresh what is in memory; an update must not open a gap.
            let present = state
                .timelines
                .get(&m.conversation_id)
                .is_some_and(|tl| tl.messages.contains_key(&m.seq));
            if present {
                state.insert_message(m, TrimEnd::Oldest);
            }
        }
        Event::Connection(c) => {
            state.connection = c;
            if c == ConnState::Open {
                state.ever_open = true;
            }
        }
        Event::Typing {
            conversation_id,
            user_id,
            until,
        } => {
            if state.me_id() != Some(user_id) && !state.left.contains(&conversation_id) {
                state
                    .typing
                    .entry(conversation_id)
                    .or_default()
                    .insert(user_id, until);
            }
        }
        Event::Heads(marks) => {
            for mark in marks {
                let behind = state
                    .timelines
                    .get(&mark.conversation_id)
                    .is_some_and(|tl| {
                        !tl.has_newer && tl.resume_rev().is_some_and(|seen| seen < mark.rev)
                    });
                if behind {
                    state.gaps.insert(mark.conversation_id);
                }
            }
        }
        Event::SearchAnswered {
            q,
            before,
            hits,
            next_before,
        } => state.search_answered(q, before, hits, next_before),
        Event::SearchCleared => state.search = None,
        Event::GapsRequested => state.gaps.clear(),
        Event::UnknownRequested => state.unknown_conversations.clear(),
    }
}

/// Plans a history request for a conversation and marks it in flight. `None` when there is
/// nothing to load in that direction or the same load is already running.
pub fn begin_history(
    state: &mut ClientState,
    conversation_id: ConversationId,
    direction: HistoryDirection,
) -> Option<HistoryRequest> {
    if state.left.contains(&conversation_id) {
        return None;
    }
    let token = state.next_token + 1;
    let tl = state.timelines.entry(conversation_id).or_default();
    let before = match direction {
        HistoryDirection::Newest => None,
        HistoryDirection::Older => {
            if !tl.loaded || !tl.has_more {
                return None;
            }
            Some(tl.first_seq()?)
        }
        HistoryDirection::Newer => {
            if !tl.has_newer {
                return None;
            }
            Some(tl.last_seq()? + 1 + HISTORY_PAGE_SIZE)
        }
        HistoryDirection::Around(target) => Some(target.max(1).saturating_add(AROUND_NEWER)),
    };
    if let Some(r) = tl.loading {
        // A jump (newest page, around a message) supersedes paging; otherwise one request at
        // a time.
        if r.direction == direction || !direction.jumps() {
            return None;
        }
    }
    let req = HistoryRequest {
        token,
        conversation_id,
        direction,
        before,
        limit: HISTORY_PAGE_SIZE,
    };
    tl.loading = Some(req);
    state.next_token = token;
    Some(req)
}

impl ClientState {
    /// The logged-in user.
    pub fn me(&self) -> Option<&User> {
        match &self.session {
            Session::LoggedIn { user, .. } => Some(user),
            _ => None,
        }
    }

    pub fn me_id(&self) -> Option<UserId> {
        self.me().map(|u| u.id)
    }

    /// Whether the logged-in user is an operator: `None` while unknown or logged out.
    pub fn operator(&self) -> Option<bool> {
        match &self.session {
            Session::LoggedIn { operator, .. } => *operator,
            _ => None,
        }
    }

    /// This user is logged in now: another user than before starts from an empty store.
    fn log_in(&mut self, user: User, operator: Option<bool>) {
        if self.me_id() != Some(user.id) {
            *self = ClientState::default();
        }
        let operator = operator.or(self.operator());
        self.session = Session::LoggedIn { user, operator };
    }

    /// Conversations, newest activity first.
    pub fn conversation_list(&self) -> Vec<&ConvState> {
        let mut v: Vec<_> = self.conversations.values().collect();
        v.sort_by(|a, b| {
            b.info
                .updated_at
                .cmp(&a.info.updated_at)
                .then(b.info.id.cmp(&a.info.id))
        });
        v
    }

    /// Unread messages: those after my read position that are not mine and not recalled.
    /// Derived from positions; messages not in memory count as unread unless the server's
    /// baseline says otherwise.
    pub fn unread(&self, id: ConversationId) -> i64 {
        let Some(c) = self.conversations.get(&id) else {
            return 0;
        };
        let (read, last) = (c.info.read_seq, c.info.last_seq);
        if last <= read {
            return 0;
        }
        let count = |lo: Seq, hi: Seq| -> i64 {
            if hi <= lo {
                return 0;
            }
            let mut n = hi - lo;
            if let Some(tl) = self.timelines.get(&id) {
                for m in tl.messages.range(lo + 1..=hi).map(|(_, m)| m) {
                    if m.recalled || Some(m.sender_id) == self.me_id() {
                        n -= 1;
                    }
                }
            }
            n
        };
        if read <= c.snap_read {
            (c.snap_unread - c.snap_recalled).max(0) + count(c.snap_last.max(read), last)
        } else {
            count(read, last)
        }
    }

    /// The rows of a conversation: committed messages by seq, then my pending ones in the
    /// order typed.
    pub fn message_views(&self, id: ConversationId) -> Vec<MessageView> {
        let me = self.me_id();
        let mut out = Vec::new();
        if let Some(tl) = self.timelines.get(&id) {
            out.extend(tl.messages.values().map(|m| MessageView {
                client_msg_id: m.client_msg_id.clone(),
                seq: Some(m.seq),
                id: Some(m.id),
                conversation_id: m.conversation_id,
                sender_id: m.sender_id,
                sender_name: m.sender_name.clone(),
                content: m.content.clone(),
                recalled: m.recalled,
                status: m.status,
                created_at: m.created_at,
                mine: Some(m.sender_id) == me,
                failed: None,
                waiting_for_network: false,
            }));
        }
        let me_user = self.me();
        for p in self.pending_in(id) {
            out.push(MessageView {
                client_msg_id: p.client_msg_id.clone(),
                seq: None,
                id: None,
                conversation_id: p.conversation_id,
                sender_id: me_user.map(|u| u.id).unwrap_or_default(),
                sender_name: me_user.map(|u| u.display_name.clone()).unwrap_or_default(),
                content: Some(p.content.clone()),
                recalled: false,
                status: MessageStatus::Sending,
                created_at: p.created_at,
                mine: true,
                failed: p.failed.clone(),
                waiting_for_network: p.failed.is_none() && self.connection == ConnState::Offline,
            });
        }
        out
    }

    /// My pending messages in one conversation, in the order typed.
    pub fn pending_in(&self, id: ConversationId) -> Vec<&PendingMessage> {
        let mut v: Vec<_> = self
            .pending
            .values()
            .filter(|p| p.conversation_id == id)
            .collect();
        v.sort_by_key(|p| p.order);
        v
    }

    /// Pending messages to send now: never attempted on this connection, or unacknowledged
    /// for [`RESEND_AFTER_MS`]; not failed, not held back by a rate limit.
    pub fn due_sends(&self, now: i64) -> Vec<PendingMessage> {
        let mut v: Vec<_> = self
            .pending
            .values()
            .filter(|p| p.failed.is_none())
            .filter(|p| p.retry_at.is_none_or(|t| t <= now))
            .filter(|p| p.last_attempt_at.is_none_or(|t| now - t >= RESEND_AFTER_MS))
            .cloned()
            .collect();
        v.sort_by_key(|p| p.order);
        v
    }

    /// After a reconnect every pending message is sent again (the server dedupes by id).
    fn forget_attempts(&mut self) {
        for p in self.pending.values_mut() {
            p.last_attempt_at = None;
        }
    }

    /// What this client holds, for `sync`: per conversation with messages in memory, the rev
    /// its change log is known through ([`Timeline::resume_rev`]). Timelines trimmed at the newest end are left out (the
    /// user pages forward there) as are conversations with nothing in memory.
    pub fn resume_points(&self) -> Vec<ResumePoint> {
        let mut v: Vec<_> = self
            .timelines
            .iter()
            .filter(|(_, tl)| !tl.has_newer)
            .filter_map(|(&id, tl)| {
                Some(ResumePoint {
                    conversation_id: id,
                    after_rev: tl.resume_rev()?,
                })
            })
            .collect();
        v.sort_by_key(|r| r.conversation_id);
        v
    }

    /// The newest committed seq shown in a conversation (what "read" can move to).
    pub fn newest_shown_seq(&self, id: ConversationId) -> Option<Seq> {
        let tl = self.timelines.get(&id)?;
        if tl.has_newer {
            return None;
        }
        tl.last_seq()
    }

    /// What to load when a conversation is opened (after [`Event::Opened`]) or a message is
    /// focused: `None` when memory already holds what the list will show. The focused message
    /// (the first unread, a search hit) decides: a page around it when it is too far from the
    /// newest end for the newest page to hold it, else the newest page.
    pub fn load_for_open(&self, id: ConversationId) -> Option<HistoryDirection> {
        let tl = self.timelines.get(&id);
        let loaded = tl.is_some_and(|t| t.loaded);
        let target = self
            .focus
            .filter(|f| f.conversation_id == id)
            .map(|f| f.seq);
        let Some(target) = target else {
            return (!loaded).then_some(HistoryDirection::Newest);
        };
        if loaded && tl.is_some_and(|t| t.messages.contains_key(&target)) {
            return None;
        }
        let last = self.conversations.get(&id).map(|c| c.info.last_seq);
        match last {
            Some(last) if last.saturating_sub(target) >= UNREAD_JUMP => {
                Some(HistoryDirection::Around(target))
            }
            // Not in the list yet (a reload at a search hit's URL): around it, to be sure.
            None => Some(HistoryDirection::Around(target)),
            _ if loaded && !tl.is_some_and(|t| t.has_newer) => None,
            _ => Some(HistoryDirection::Newest),
        }
    }

    /// How far the reader has read, if that is further than the stored read position: the
    /// newest message of the open conversation that has been on screen. (Whether the tab is
    /// visible is the caller's part.)
    pub fn read_target(&self) -> Option<(ConversationId, Seq)> {
        let (id, seq) = self.on_screen?;
        if self.active != Some(id) {
            return None;
        }
        let read = self.conversations.get(&id)?.info.read_seq;
        (seq > read).then_some((id, seq))
    }

    /// Who is typing in a conversation at `now`.
    pub fn typing_in(&self, id: ConversationId, now: i64) -> Vec<UserId> {
        self.typing
            .get(&id)
            .map(|m| {
                m.iter()
                    .filter(|(_, &until)| until > now)
                    .map(|(&u, _)| u)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A member's display name, for typing indicators.
    pub fn member_name(&self, conversation_id: ConversationId, user_id: UserId) -> Option<String> {
        self.conversations
            .get(&conversation_id)?
            .info
            .members
            .iter()
            .find(|m| m.user_id == user_id)
            .map(|m| m.display_name.clone())
    }

    fn upsert_conversation(&mut self, mut c: Conversation) {
        let id = c.id;
        // The server's count is for its own positions: that is the unread baseline.
        let (snap_read, snap_last, snap_unread) = (c.read_seq, c.last_seq, c.unread);
        if let Some(old) = self.conversations.get(&id) {
            // Positions only move forward; a list answer may be older than a live event.
            c.read_seq = c.read_seq.max(old.info.read_seq);
            c.last_rev = c.last_rev.max(old.info.last_rev);
            if old.info.last_seq > c.last_seq {
                c.last_seq = old.info.last_seq;
                c.last_message = old.info.last_message.clone();
                c.updated_at = c.updated_at.max(old.info.updated_at);
            }
            for m in c.members.iter_mut() {
                if let Some(om) = old.info.members.iter().find(|om| om.user_id == m.user_id) {
                    m.read_seq = m.read_seq.max(om.read_seq);
                    m.delivered_seq = m.delivered_seq.max(om.delivered_seq);
                }
            }
        }
        // Messages that arrived before this answer was made (or before the list knew the
        // conversation) are newer than what it says.
        if let Some(newest) = self
            .timelines
            .get(&id)
            .and_then(|t| t.messages.values().next_back())
        {
            if newest.seq > c.last_seq {
                c.last_seq = newest.seq;
                c.updated_at = c.updated_at.max(newest.created_at);
                c.last_message = Some(newest.clone());
            }
        }
        if let Some(lm) = c.last_message.as_mut() {
            // A copy of it that is newer than the answer's (a change seen live) wins.
            let held = [
                self.conversations
                    .get(&id)
                    .and_then(|o| o.info.last_message.as_ref()),
                self.timelines
                    .get(&id)
                    .and_then(|t| t.messages.get(&lm.seq)),
            ];
            for newer in held.into_iter().flatten() {
                if newer.id == lm.id && newer.rev > lm.rev {
                    merge_into(lm, newer.clone());
                }
            }
            if let Some(&at) = self.recalls.get(&lm.id) {
                recall_in_place(lm, at);
            }
        }
        let cs = ConvState {
            info: c,
            snap_read,
            snap_last,
            snap_unread,
            snap_recalled: 0,
        };
        self.conversations.insert(id, cs);
        self.upgrade_from_members(id);
    }

    fn history_loaded(&mut self, token: u64, page: HistoryPage) {
        let cid = page.conversation_id;
        let Some(tl) = self.timelines.get_mut(&cid) else {
            return;
        };
        let Some(req) = tl.loading.filter(|r| r.token == token) else {
            return; // stale: the user moved on, or a newer request superseded it
        };
        tl.loading = None;
        let page_first = page.messages.first().map(|m| m.seq);
        let page_last = page.messages.last().map(|m| m.seq);
        let mut newer_remain = false;
        match req.direction {
            HistoryDirection::Newest => {
                // Memory that does not touch the newest page is an old island: drop it so
                // the view never shows a hole.
                if let (Some(pf), Some(ml)) = (page_first, tl.last_seq()) {
                    if pf > ml + 1 {
                        tl.messages.clear();
                    }
                }
                tl.loaded = true;
                tl.has_newer = false;
            }
            HistoryDirection::Around(_) => {
                // A jump: what is in memory may be anywhere else, so the page replaces it.
                tl.messages.clear();
                tl.loaded = true;
                let last_known = self
                    .conversations
                    .get(&cid)
                    .map(|c| c.info.last_seq)
                    .unwrap_or(0);
                tl.has_newer = false;
                // Newer messages exist when the conversation says so, or (its list entry not
                // loaded yet, e.g. right after a reload) when the page reached as far as asked.
                let asked_last = req.before.unwrap_or(Seq::MAX) - 1;
                newer_remain = page_last.is_some_and(|pl| pl < last_known || pl >= asked_last);
            }
            HistoryDirection::Older => {}
            HistoryDirection::Newer => {
                // A full page that still ends before the newest known seq: more to come.
                let requested_last = req.before.unwrap_or(Seq::MAX) - 1;
                let last_known = self
                    .conversations
                    .get(&cid)
                    .map(|c| c.info.last_seq)
                    .unwrap_or(0);
                newer_remain = page_last.is_some_and(|pl| pl >= requested_last && pl < last_known);
                if let Some(tl) = self.timelines.get_mut(&cid) {
                    tl.has_newer = false;
                }
            }
        }
        let end = if req.direction == HistoryDirection::Older {
            TrimEnd::Newest
        } else {
            TrimEnd::Oldest
        };
        for m in page.messages {
            self.insert_message(m, end);
        }
        let Some(tl) = self.timelines.get_mut(&cid) else {
            return;
        };
        tl.has_more = match (tl.first_seq(), page_first) {
            (Some(f), Some(pf)) if f == pf => page.has_more,
            (Some(f), _) => f > 1,
            (None, _) => false,
        };
        if newer_remain {
            tl.has_newer = true;
        }
        trim(tl, end);
    }

    fn search_hit_mut(&mut self, id: MessageId) -> Option<&mut Message> {
        self.search.as_mut()?.hits.iter_mut().find(|h| h.id == id)
    }

    /// Search hits arrived. Each is merged with what the client already knows of the message:
    /// a hit read before a change it has seen (a recall) never brings the old text back.
    fn search_answered(
        &mut self,
        q: String,
        before: Option<MessageId>,
        hits: Vec<Message>,
        next_before: Option<MessageId>,
    ) {
        let mut all = match (before, self.search.take()) {
            (Some(_), Some(prev)) if prev.q == q => prev.hits,
            _ => Vec::new(),
        };
        for mut hit in hits {
            let held = self
                .timelines
                .get(&hit.conversation_id)
                .and_then(|tl| tl.messages.get(&hit.seq))
                .filter(|m| m.id == hit.id);
            if let Some(held) = held {
                let mut newest = held.clone();
                merge_into(&mut newest, hit);
                hit = newest;
            }
            if let Some(&at) = self.recalls.get(&hit.id) {
                recall_in_place(&mut hit, at);
            }
            match all.iter_mut().find(|h| h.id == hit.id) {
                Some(h) => merge_into(h, hit),
                None => all.push(hit),
            }
        }
        self.search = Some(SearchResults {
            q,
            hits: all,
            next_before,
        });
    }

    /// Merges one committed message into its conversation: timeline, preview, pending.
    fn insert_message(&mut self, mut m: Message, end: TrimEnd) {
        if self.left.contains(&m.conversation_id) {
            return;
        }
        let me = self.me_id();
        if let Some(&at) = self.recalls.get(&m.id) {
            recall_in_place(&mut m, at);
        }
        if let Some(s) = self.status_hints.remove(&m.id) {
            m.status = m.status.max(s);
        }
        if Some(m.sender_id) == me {
            // The acknowledgement (or an echo from another tab) replaces the optimistic copy.
            self.pending.remove(&m.client_msg_id);
        }
        if let Some(hit) = self.search_hit_mut(m.id) {
            merge_into(hit, m.clone());
        }
        let cid = m.conversation_id;
        match self.conversations.get_mut(&cid) {
            Some(c) => {
                let info = &mut c.info;
                info.last_seq = info.last_seq.max(m.seq);
                match info.last_message.as_mut() {
                    Some(lm) if lm.id == m.id => merge_into(lm, m.clone()),
                    Some(lm) if lm.seq > m.seq => {}
                    _ => info.last_message = Some(m.clone()),
                }
                info.updated_at = info.updated_at.max(m.created_at);
            }
            None => {
                self.unknown_conversations.insert(cid);
            }
        }
        let tl = self.timelines.entry(cid).or_default();
        // Paged back with the newest trimmed: a message beyond memory would open a hole.
        if tl.has_newer && tl.last_seq().is_some_and(|l| m.seq > l) {
            return;
        }
        match tl.messages.get_mut(&m.seq) {
            Some(existing) => merge_into(existing, m),
            None => {
                let was_empty = tl.messages.is_empty();
                tl.messages.insert(m.seq, m);
                if was_empty && !tl.loaded {
                    tl.has_more = tl.first_seq().is_some_and(|f| f > 1);
                }
            }
        }
        trim(tl, end);
        self.upgrade_from_members(cid);
    }

    fn set_status(&mut self, cid: ConversationId, id: MessageId, seq: Seq, status: MessageStatus) {
        if let Some(c) = self.conversations.get_mut(&cid) {
            if let Some(lm) = c.info.last_message.as_mut().filter(|lm| lm.id == id) {
                lm.status = lm.status.max(status);
            }
        }
        let found = self
            .timelines
            .get_mut(&cid)
            .and_then(|tl| tl.messages.get_mut(&seq))
            .filter(|m| m.id == id);
        match found {
            Some(m) => m.status = m.status.max(status),
            None => {
                if self.status_hints.len() >= MAX_STATUS_HINTS {
                    self.status_hints.clear();
                }
                let h = self.status_hints.entry(id).or_insert(status);
                *h = (*h).max(status);
            }
        }
    }

    fn read_position(&mut self, cid: ConversationId, user_id: UserId, seq: Seq) {
        let me = self.me_id();
        let Some(c) = self.conversations.get_mut(&cid) else {
            return;
        };
        if Some(user_id) == me {
            c.info.read_seq = c.info.read_seq.max(seq);
        }
        if let Some(m) = c.info.members.iter_mut().find(|m| m.user_id == user_id) {
            m.read_seq = m.read_seq.max(seq);
            // Reading implies the messages reached a device.
            m.delivered_seq = m.delivered_seq.max(seq);
        }
        self.upgrade_from_members(cid);
    }

    /// Change `rev` of a conversation's log is known. The next one after [`Timeline::rev_seen`]
    /// advances it (any copy carrying it reflects it: it is the message's latest change); a
    /// live change further on means changes in between were missed: a gap, synced from here.
    fn note_change(&mut self, cid: ConversationId, rev: Rev, live: bool) {
        let Some(tl) = self.timelines.get_mut(&cid) else {
            return;
        };
        let Some(seen) = tl.rev_seen else { return };
        if rev == seen + 1 {
            tl.rev_seen = Some(rev);
        } else if live && rev > seen + 1 && !tl.has_newer {
            self.gaps.insert(cid);
        }
    }

    fn recalled(&mut self, cid: ConversationId, id: MessageId, seq: Seq, at: i64, rev: Rev) {
        let me = self.me_id();
        self.recalls.insert(id, at);
        if let Some(hit) = self.search_hit_mut(id) {
            recall_in_place(hit, at);
            hit.rev = hit.rev.max(rev);
        }
        if let Some(c) = self.conversations.get_mut(&cid) {
            if let Some(lm) = c.info.last_message.as_mut().filter(|lm| lm.id == id) {
                recall_in_place(lm, at);
            }
        }
        let tl_msg = self
            .timelines
            .get_mut(&cid)
            .and_then(|tl| tl.messages.get_mut(&seq))
            .filter(|m| m.id == id);
        if let Some(m) = tl_msg {
            let counted_before = !m.recalled && Some(m.sender_id) != me;
            recall_in_place(m, at);
            m.rev = m.rev.max(rev);
            if counted_before {
                if let Some(c) = self.conversations.get_mut(&cid) {
                    if seq > c.snap_read && seq <= c.snap_last {
                        c.snap_recalled += 1;
                    }
                }
            }
        }
    }

    /// My messages' status from the other members' positions: `read` once every other member
    /// read past it, `delivered` once every other member's devices have it.
    fn upgrade_from_members(&mut self, cid: ConversationId) {
        let Some(me) = self.me_id() else { return };
        let Some(c) = self.conversations.get(&cid) else {
            return;
        };
        let others: Vec<_> = c.info.members.iter().filter(|m| m.user_id != me).collect();
        if others.is_empty() {
            return;
        }
        let read = others.iter().map(|m| m.read_seq).min().unwrap_or(0);
        let delivered = others
            .iter()
            .map(|m| m.delivered_seq.max(m.read_seq))
            .min()
            .unwrap_or(0);
        let Some(tl) = self.timelines.get_mut(&cid) else {
            return;
        };
        for m in tl.messages.range_mut(..=delivered).map(|(_, m)| m) {
            if m.sender_id != me {
                continue;
            }
            let floor = if m.seq <= read {
                MessageStatus::Read
            } else {
                MessageStatus::Delivered
            };
            m.status = m.status.max(floor);
        }
    }
}

fn recall_in_place(m: &mut Message, at: i64) {
    m.recalled = true;
    m.content = None;
    m.recalled_at.get_or_insert(at);
}

/// Merges another copy of a message into the one held. Of the two, the one with the higher
/// `rev` is the newer state, so a copy fetched before a change (a history page, a replay, a
/// search hit) can never undo it; on equal revs the incoming copy wins (it is the same state,
/// perhaps with a newer status). Status lies outside the change log (it is the sender's view
/// of delivery) and never goes back; a recall is never undone.
fn merge_into(existing: &mut Message, incoming: Message) {
    let status = existing.status.max(incoming.status);
    let recalled_at = existing.recalled.then_some(existing.recalled_at).flatten();
    let was_recalled = existing.recalled;
    if incoming.rev >= existing.rev {
        *existing = incoming;
    }
    existing.status = status;
    if was_recalled {
        recall_in_place(existing, recalled_at.unwrap_or(existing.created_at));
    }
}

fn trim(tl: &mut Timeline, end: TrimEnd) {
    while tl.messages.len() > MAX_MESSAGES_PER_CONVERSATION {
        match end {
            TrimEnd::Oldest => {
                tl.messages.pop_first();
                tl.has_more = true;
            }
            TrimEnd::Newest => {
                tl.messages.pop_last();
                tl.has_newer = true;
            }
        }
    }
}

pub mod frames;
pub mod lease;
pub mod notify_rule;

#[cfg(test)]
mod tests;
