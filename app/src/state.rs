//! The session: the pure store in a signal, the socket, and the actions the UI calls.
//!
//! Every change goes through `store::apply`, so what the UI shows is exactly what the host
//! tests exercise. This module adds what needs a browser: HTTP calls, the socket, timers,
//! sessionStorage (the outbox survives a reload), and what to do on every (re)connect:
//! `sync` from the resume points, resend every pending message (same `client_msg_id`; the
//! server dedupes), reload the conversation list.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::i18n::I18n;
use crate::model::{
    Conversation, ConversationId, CreateGroupRequest, MessageId, SendAck, Seq, SessionInfo, User,
    UserId,
};
use crate::persist;
use crate::protocol::{ClientFrame, ServerFrame};
use crate::socket::{LogKind, Socket, SocketDiag, SocketEvent};
use crate::store::frames::{on_frame, Command};
use crate::store::{apply, ClientState, Event, HistoryDirection, Phase};

/// How often we send our own `typing` frame while the user types.
const TYPING_SEND_EVERY_MS: i64 = 3_000;

thread_local! {
    /// The one socket of this tab (browser objects cannot live in a signal).
    static SOCKET: RefCell<Option<Socket>> = const { RefCell::new(None) };
    static LAST_TYPING_SENT: RefCell<BTreeMap<ConversationId, i64>> = const { RefCell::new(BTreeMap::new()) };
}

fn socket() -> Option<Socket> {
    SOCKET.with(|s| s.borrow().clone())
}

/// The whole client session, shared by context. Cheap to copy.
///
/// What the client knows lives in one place, the pure store (`store`), and changes only through
/// its reducer (`dispatch` → `store::apply`). The memos here are read-only views of it; the
/// rest is the browser's own state (the clock, the tab's visibility, a transient notice).
#[derive(Clone, Copy)]
pub struct AppState {
    /// Read-only: changes go through [`AppState::dispatch`].
    pub store: ReadSignal<ClientState>,
    write: WriteSignal<ClientState>,
    /// Whether anyone is logged in (a view of the store).
    pub phase: Memo<Phase>,
    /// The logged-in user (a view of the store).
    pub me: Memo<Option<User>>,
    /// The logged-in user is one of the server's operators (`/message-test`); `None` until the
    /// server has said (a view of the store).
    pub operator: Memo<Option<bool>>,
    /// The server's recall window (from `welcome`; a view of the store).
    pub recall_window_ms: Memo<i64>,
    pub diag: SocketDiag,
    /// Server-aligned clock (ms), ticking every second: recall windows, "today".
    pub now: RwSignal<i64>,
    /// The tab is visible (reading only counts when the user can see the messages).
    pub visible: RwSignal<bool>,
    /// A transient message for the user (failed recall, failed request…).
    pub notice: RwSignal<Option<String>>,
    i18n: I18n,
}

pub fn use_app() -> AppState {
    expect_context::<AppState>()
}

fn local_now() -> i64 {
    js_sys::Date::now() as i64
}

fn document_visible() -> bool {
    document().visibility_state() == web_sys::VisibilityState::Visible
}

/// A fresh id for an outgoing message: unique per sender, stable across resends.
pub fn new_client_msg_id(user: UserId) -> String {
    let r = || (js_sys::Math::random() * 4_294_967_296.0) as u64;
    format!("{user}-{:x}-{:08x}{:08x}", local_now(), r(), r())
}

impl AppState {
    /// Creates the session, provides it by context, and checks the cookie.
    pub fn init(i18n: I18n) -> AppState {
        let (store, write) = signal(ClientState::default());
        let app = AppState {
            i18n,
            store,
            write,
            phase: Memo::new(move |_| store.with(|s| s.session.phase())),
            me: Memo::new(move |_| store.with(|s| s.me().cloned())),
            operator: Memo::new(move |_| store.with(|s| s.operator())),
            recall_window_ms: Memo::new(move |_| store.with(|s| s.recall_window_ms)),
            diag: SocketDiag::new(),
            now: RwSignal::new(local_now()),
            visible: RwSignal::new(document_visible()),
            notice: RwSignal::new(None),
        };
        provide_context(app);

        let sock = Socket::new(move |ev| app.on_socket(ev), app.diag);
        SOCKET.with(|s| *s.borrow_mut() = Some(sock));

        let _ = set_interval_with_handle(move || app.tick_clock(), Duration::from_secs(1));
        // Coming back online or to the tab: do not wait for the backoff timer.
        let online = window_event_listener(leptos::ev::online, move |_| {
            app.reconnect_now();
            app.probe_connection();
        });
        std::mem::forget(online); // for the life of the tab
                                  // Losing the network shows at once, not after the heartbeat timeout.
        let offline = window_event_listener(leptos::ev::offline, move |_| {
            if let Some(s) = socket() {
                s.network_lost();
            }
        });
        std::mem::forget(offline); // for the life of the tab
        {
            use wasm_bindgen::closure::Closure;
            use wasm_bindgen::JsCast;
            let cb = Closure::<dyn FnMut()>::new(move || {
                let v = document_visible();
                app.visible.set(v);
                if v {
                    app.reconnect_now();
                    app.probe_connection();
                }
            });
            let _ = document()
                .add_event_listener_with_callback("visibilitychange", cb.as_ref().unchecked_ref());
            cb.forget(); // for the life of the tab
        }

        // The outbox follows the store into localStorage (persist.rs): neither a reload nor a
        // closed tab loses a message the user pressed Send on.
        let outbox = Memo::new(move |_| {
            app.store
                .with(|s| (s.me_id(), s.pending.values().cloned().collect::<Vec<_>>()))
        });
        Effect::new(move |_| {
            if let (Some(me), pending) = outbox.get() {
                persist::sync_outbox(me, &pending);
            }
        });
        // Another tab of this user added, changed or sent a message of the shared outbox.
        let storage = window_event_listener(leptos::ev::storage, move |e| {
            let Some(me) = app.store.with_untracked(|s| s.me_id()) else {
                return;
            };
            let Some(key) = e.key() else { return };
            match persist::outbox_change(me, &key, e.new_value()) {
                Some(Ok(p)) => app.dispatch(Event::RestoreOutbox(vec![p])),
                Some(Err(client_msg_id)) => app.dispatch(Event::Discard { client_msg_id }),
                None => {}
            }
        });
        std::mem::forget(storage); // for the life of the tab
                                   // Closing the tab with unsent messages asks first. (They are kept either way, and go
                                   // out the next time Courier is open; but not before.)
        let unload = window_event_listener(leptos::ev::beforeunload, move |e| {
            let unsent = app
                .store
                .with_untracked(|s| s.pending.values().any(|p| p.failed.is_none()));
            if unsent {
                e.prevent_default();
                e.set_return_value("");
            }
        });
        std::mem::forget(unload); // for the life of the tab
                                  // A tab going away hands the sending of the outbox over at once.
        let hide = window_event_listener(leptos::ev::pagehide, move |_| {
            if let Some(me) = app.store.with_untracked(|s| s.me_id()) {
                persist::release_lease(me);
            }
        });
        std::mem::forget(hide); // for the life of the tab

        // Reading: the tab visible → read up to the newest message that has been on screen in
        // the open conversation (never merely loaded: see `ClientState::on_screen`).
        let read_target = Memo::new(move |_| {
            if !app.visible.get() {
                return None;
            }
            app.store.with(|s| s.read_target())
        });
        Effect::new(move |_| {
            if let Some((id, seq)) = read_target.get() {
                app.mark_read(id, seq);
            }
        });

        // The tab title and icon count unread messages (muted conversations aside), so a
        // background tab shows that something came (notify.rs).
        let total_unread =
            Memo::new(move |_| app.store.with(crate::store::notify_rule::badge_count));
        Effect::new(move |_| crate::notify::show_badge(total_unread.get()));

        app.check_session();
        app
    }

    /// The message list's report of the newest committed message on screen in `id`.
    pub fn on_screen(&self, id: ConversationId, newest: Option<Seq>) {
        let now = newest.map(|seq| (id, seq));
        if self.store.with_untracked(|s| s.on_screen) != now {
            self.dispatch(Event::OnScreen {
                conversation_id: id,
                newest,
            });
        }
    }

    /// The one way the client state changes.
    pub(crate) fn dispatch(&self, ev: Event) {
        self.write.update(|s| apply(s, ev));
    }

    /// The server-aligned clock, from this machine's and the offset of the last `welcome`.
    fn tick_clock(&self) {
        let offset = self.store.with_untracked(|s| s.clock_offset);
        self.now.set(local_now() + offset);
    }

    /// `GET /api/auth/session`; retried while the server cannot be reached.
    pub fn check_session(&self) {
        let app = *self;
        spawn_local(async move {
            let Some(info) = app.ask_session(|| true).await else {
                return;
            };
            let uid = info.user.as_ref().map(|u| u.id);
            app.dispatch(Event::SessionChecked {
                user: info.user,
                operator: info.operator,
            });
            if let Some(uid) = uid {
                app.session_started(uid);
            }
        });
    }

    /// `GET /api/auth/session`, asked again with backoff while the server cannot be reached
    /// and `still_wanted` says so (`None` once it no longer does).
    async fn ask_session(&self, still_wanted: impl Fn() -> bool) -> Option<SessionInfo> {
        let mut delay = 500u64;
        while still_wanted() {
            match api::session().await {
                Ok(info) => return Some(info),
                Err(e) => {
                    self.diag
                        .push(LogKind::Warn, format!("session check failed: {e}"));
                    gloo_timers::future::sleep(Duration::from_millis(delay)).await;
                    delay = (delay * 2).min(10_000);
                }
            }
        }
        None
    }

    /// The server accepted this session (login, register, or a valid cookie).
    pub fn logged_in(&self, user: User) {
        let uid = user.id;
        self.dispatch(Event::LoggedIn(user));
        self.session_started(uid);
    }

    /// Effects of a session starting: its saved outbox, its conversations, its socket, and
    /// whether the user is an operator.
    fn session_started(&self, uid: UserId) {
        self.learn_operator(uid);
        let saved = persist::load_outbox(uid);
        if !saved.is_empty() {
            self.dispatch(Event::RestoreOutbox(saved));
        }
        self.load_conversations();
        if let Some(s) = socket() {
            s.start();
        }
    }

    /// Whether this user is an operator, when the store does not know yet (a login's or
    /// registration's answer is the user alone; so is a `welcome`): asked until the server
    /// answers, while the same user is logged in.
    fn learn_operator(&self, uid: UserId) {
        if self.store.with_untracked(|s| s.operator().is_some()) {
            return;
        }
        let app = *self;
        spawn_local(async move {
            let same_user = || app.store.with_untracked(|s| s.me_id()) == Some(uid);
            let Some(info) = app.ask_session(same_user).await else {
                return;
            };
            if info.user.is_some_and(|u| u.id == uid) {
                app.dispatch(Event::OperatorKnown {
                    user_id: uid,
                    operator: info.operator,
                });
            }
        });
    }

    pub fn logout(&self) {
        let app = *self;
        // Unsent messages and drafts are this user's: an explicit logout (a shared computer)
        // takes them along — after asking, if anything is still unsent.
        let me = self.store.with_untracked(|s| s.me_id());
        let unsent = self.store.with_untracked(|s| !s.pending.is_empty());
        if unsent {
            let t = self.i18n.t();
            let go = window()
                .confirm_with_message(t.logout_unsent)
                .unwrap_or(true);
            if !go {
                return;
            }
        }
        if let Some(me) = me {
            persist::forget_user(me);
        }
        spawn_local(async move {
            if let Err(e) = api::logout().await {
                app.diag.push(LogKind::Warn, format!("logout failed: {e}"));
            }
            app.session_ended();
        });
    }

    /// Logged out here or the server no longer knows the session.
    fn session_ended(&self) {
        if let Some(s) = socket() {
            s.stop();
        }
        self.dispatch(Event::LoggedOut);
        crate::notify::forget_bursts();
    }

    /// Common handling of a failed request: a dead session logs out, anything else is shown,
    /// in the user's language (`what` is already localized).
    pub fn failed(&self, what: &str, e: &ApiError) {
        if e.is_unauthorized() {
            self.session_ended();
        } else {
            let t = self.i18n.lang.get_untracked().strings();
            self.notice.set(Some(crate::i18n::failure_text(t, what, e)));
        }
    }

    pub fn load_conversations(&self) {
        let app = *self;
        spawn_local(async move {
            match api::conversations().await {
                Ok(list) => app.dispatch(Event::ConversationsLoaded(list)),
                Err(e) => app.failed(
                    app.i18n.lang.get_untracked().strings().e_load_conversations,
                    &e,
                ),
            }
        });
    }

    /// Switches the message pane to a conversation (or none) and loads what it will show: the
    /// newest page, or a page around the first unread message when there are many.
    pub fn open_conversation(&self, id: Option<ConversationId>) {
        if self.store.with_untracked(|s| s.active) == id {
            return;
        }
        self.dispatch(Event::Opened(id));
        if let Some(id) = id {
            self.load_for_open(id);
        }
    }

    /// Opens a conversation at one message (a search hit): history around it is loaded when
    /// memory does not hold it, and the list scrolls to it and highlights it.
    pub fn jump_to(&self, id: ConversationId, seq: Seq) {
        if self.store.with_untracked(|s| s.active) != Some(id) {
            self.dispatch(Event::Opened(Some(id)));
        }
        self.dispatch(Event::FocusOn {
            conversation_id: id,
            seq,
        });
        self.load_for_open(id);
    }

    /// The message list has brought the focused message into view (or found it gone).
    pub fn focus_reached(&self) {
        if self.store.with_untracked(|s| s.focus.is_some()) {
            self.dispatch(Event::Focused);
        }
    }

    fn load_for_open(&self, id: ConversationId) {
        if let Some(direction) = self.store.with_untracked(|s| s.load_for_open(id)) {
            self.load_history(id, direction);
        }
    }

    /// Starts loading a page of history; `false` when there is nothing to load that way or the
    /// same load is already running.
    pub fn load_history(&self, id: ConversationId, direction: HistoryDirection) -> bool {
        let loading = |s: &ClientState| s.timelines.get(&id).and_then(|t| t.loading);
        let before = self.store.with_untracked(loading);
        self.dispatch(Event::HistoryWanted {
            conversation_id: id,
            direction,
        });
        // A new request has a new token; otherwise there was nothing to load that way.
        let Some(req) = self
            .store
            .with_untracked(loading)
            .filter(|r| Some(r.token) != before.map(|b| b.token))
        else {
            return false;
        };
        let app = *self;
        spawn_local(async move {
            match api::history(req.conversation_id, req.before, req.limit).await {
                Ok(page) => app.dispatch(Event::HistoryLoaded {
                    token: req.token,
                    page,
                }),
                Err(e) if e.status() == Some(404) => {
                    // Not a conversation of mine (a stale link, a group I left): back to the
                    // list, saying why.
                    app.dispatch(Event::HistoryFailed { token: req.token });
                    if app.store.with_untracked(|s| s.active) == Some(req.conversation_id) {
                        app.open_conversation(None);
                    }
                    app.notice
                        .set(Some(app.i18n.t().conversation_not_found.to_string()));
                }
                Err(e) => {
                    app.dispatch(Event::HistoryFailed { token: req.token });
                    app.failed(app.i18n.lang.get_untracked().strings().e_load_history, &e);
                }
            }
        });
        true
    }

    /// Sends a message: shown at once as "sending", delivered by the socket whenever it can.
    pub fn send(&self, conversation_id: ConversationId, content: String) {
        let Some(me) = self.store.with_untracked(|s| s.me_id()) else {
            return;
        };
        // Typing at the live end: if the view was paged back, return to the newest page.
        let paged_back = self.store.with_untracked(|s| {
            s.timelines
                .get(&conversation_id)
                .is_some_and(|t| t.has_newer)
        });
        if paged_back {
            self.load_history(conversation_id, HistoryDirection::Newest);
        }
        self.dispatch(Event::Queued {
            client_msg_id: new_client_msg_id(me),
            conversation_id,
            content,
            now: self.now.get_untracked(),
        });
        // On disk before anything else happens (the effect would follow a moment later).
        let pending = self
            .store
            .with_untracked(|s| s.pending.values().cloned().collect::<Vec<_>>());
        persist::sync_outbox(me, &pending);
        // The tab the user pressed Send in sends (see `store::lease`).
        persist::hold_lease(me, local_now(), true);
        crate::notify::sent();
        self.flush_outbox();
    }

    /// Sends every pending message that is due (never tried on this connection, or
    /// unacknowledged for a while).
    fn flush_outbox(&self) {
        let Some(sock) = socket() else { return };
        if !sock.is_open() {
            return;
        }
        let now = local_now();
        // One tab of this user sends the shared outbox at a time.
        let Some(me) = self.store.with_untracked(|s| s.me_id()) else {
            return;
        };
        if !persist::hold_lease(me, now, false) {
            return;
        }
        let due = self.store.with_untracked(|s| s.due_sends(now));
        if !due.is_empty() {
            // A send on a connection that silently died would wait for the heartbeat timeout.
            sock.probe();
        }
        for p in due {
            let frame = ClientFrame::Send {
                client_msg_id: p.client_msg_id.clone(),
                conversation_id: p.conversation_id,
                content: p.content,
            };
            if !sock.send(&frame) {
                break;
            }
            self.dispatch(Event::SendAttempted {
                client_msg_id: p.client_msg_id,
                now,
            });
        }
    }

    pub fn retry(&self, client_msg_id: String) {
        self.dispatch(Event::Retry { client_msg_id });
        self.flush_outbox();
    }

    pub fn discard(&self, client_msg_id: String) {
        self.dispatch(Event::Discard { client_msg_id });
    }

    /// Recalls one of my messages; the server enforces the window and the permission.
    pub fn recall(&self, message_id: MessageId) {
        let app = *self;
        spawn_local(async move {
            match api::recall(message_id).await {
                Ok(m) => app.dispatch(Event::MessageUpdated(m)),
                Err(e) => {
                    let t = app.i18n.lang.get_untracked().strings();
                    match e.code() {
                        Some("recall_window_passed") => {
                            app.notice.set(Some(t.recall_window_passed.into()))
                        }
                        Some("recall_not_allowed") => {
                            app.notice.set(Some(t.recall_not_allowed.into()))
                        }
                        _ => app.failed(t.recall_failed, &e),
                    }
                }
            }
        });
    }

    /// Moves my read position (optimistically; the server confirms with `read_position`).
    pub fn mark_read(&self, conversation_id: ConversationId, seq: Seq) {
        let Some(me) = self.store.with_untracked(|s| s.me_id()) else {
            return;
        };
        self.dispatch(Event::ReadPosition {
            conversation_id,
            user_id: me,
            seq,
        });
        let sent = socket().is_some_and(|s| {
            s.send(&ClientFrame::Read {
                conversation_id,
                seq,
            })
        });
        if !sent {
            let app = *self;
            spawn_local(async move {
                if let Err(e) = api::mark_read(conversation_id, seq).await {
                    if e.is_unauthorized() {
                        app.session_ended();
                    }
                    // Otherwise the position is re-sent on the next connect (see `welcomed`).
                }
            });
        }
    }

    /// Lets the other members see that I am typing (throttled; never stored).
    pub fn typing(&self, conversation_id: ConversationId) {
        let now = local_now();
        let due = LAST_TYPING_SENT.with(|m| {
            let mut m = m.borrow_mut();
            let last = m.get(&conversation_id).copied().unwrap_or(0);
            if now - last >= TYPING_SEND_EVERY_MS {
                m.insert(conversation_id, now);
                true
            } else {
                false
            }
        });
        if due {
            if let Some(s) = socket() {
                s.send(&ClientFrame::Typing { conversation_id });
            }
        }
    }

    /// Opens (creating if needed) the 1:1 conversation with a user.
    pub async fn start_direct(&self, user_id: UserId) -> Result<ConversationId, ApiError> {
        let c = api::start_direct(user_id).await?;
        let id = c.id;
        self.dispatch(Event::ConversationUpserted(c));
        self.open_conversation(Some(id));
        Ok(id)
    }

    pub async fn create_group(
        &self,
        title: String,
        member_ids: Vec<UserId>,
    ) -> Result<ConversationId, ApiError> {
        let c = api::create_group(&CreateGroupRequest { title, member_ids }).await?;
        let id = c.id;
        self.dispatch(Event::ConversationUpserted(c));
        self.open_conversation(Some(id));
        Ok(id)
    }

    /// Leaves a group. Every tab of mine also hears `conversation_left` from the server.
    pub fn leave_group(&self, id: ConversationId) {
        let app = *self;
        spawn_local(async move {
            match api::leave_conversation(id).await {
                Ok(_) => app.dispatch(Event::ConversationLeft(id)),
                Err(e) => {
                    let t = app.i18n.lang.get_untracked().strings();
                    app.failed(t.leave_failed, &e);
                }
            }
        });
    }

    /// A conversation fetched outside the usual flows (e.g. by /message-test).
    pub fn note_conversation(&self, c: Conversation) {
        self.dispatch(Event::ConversationUpserted(c));
    }

    /// A message sent over HTTP (e.g. by /message-test): merge it like a socket `sent`.
    pub fn note_sent(&self, ack: SendAck) {
        self.dispatch(Event::Sent {
            client_msg_id: ack.client_msg_id,
            message: ack.message,
        });
    }

    /// Checks that the open connection still answers (see `Socket::probe`).
    pub fn probe_connection(&self) {
        if let Some(s) = socket() {
            s.probe();
        }
    }

    pub fn reconnect_now(&self) {
        if let Some(s) = socket() {
            s.reconnect_now();
        }
    }

    pub fn drop_connection(&self) {
        if let Some(s) = socket() {
            s.drop_connection("requested on /message-test");
        }
    }

    fn on_socket(&self, ev: SocketEvent) {
        match ev {
            SocketEvent::State(c) => self.dispatch(Event::Connection(c)),
            SocketEvent::Frame(f) => self.on_frame(f),
            SocketEvent::Dropped {
                attempts,
                was_open,
                code,
            } => {
                // 4001: the server ended the session (logout elsewhere, expiry). Failing to
                // connect again and again may mean the same (the upgrade is refused with 401,
                // which a browser reports as a plain close).
                if code == 4001 || (!was_open && attempts % 3 == 0) {
                    let app = *self;
                    spawn_local(async move {
                        if let Ok(None) = api::me().await {
                            app.session_ended();
                        }
                    });
                }
            }
            SocketEvent::Tick => {
                self.flush_outbox();
                let now = self.now.get_untracked();
                // Only when a typing indicator is due to go: an idle tick changes nothing.
                let expired = self.store.with_untracked(|s| {
                    s.typing
                        .values()
                        .any(|m| m.values().any(|&until| until <= now))
                });
                if expired {
                    self.dispatch(Event::Tick { now });
                }
            }
        }
    }

    /// A frame: the reducer applies it and says what to do (`store::frames`); this carries
    /// the commands out, in order, after the state has changed.
    fn on_frame(&self, f: ServerFrame) {
        let (local, now) = (local_now(), self.now.get_untracked());
        let commands = self
            .write
            .try_update(|s| on_frame(s, f, local, now))
            .unwrap_or_default();
        for c in commands {
            self.run(c);
        }
    }

    fn run(&self, command: Command) {
        match command {
            Command::Send(frame) => {
                if let Some(s) = socket() {
                    s.send(&frame);
                }
            }
            Command::FetchConversation(id) => {
                let app = *self;
                spawn_local(async move {
                    match api::conversation(id).await {
                        Ok(c) => app.dispatch(Event::ConversationUpserted(c)),
                        Err(e) => app
                            .diag
                            .push(LogKind::Warn, format!("conversation {id}: {e}")),
                    }
                });
            }
            Command::Notify(message) => crate::notify::on_message(self, &message),
            Command::Welcomed { same_user, user_id } => {
                self.tick_clock();
                if same_user {
                    self.welcomed();
                } else {
                    // Another account logged in from another tab: the store followed it.
                    self.session_started(user_id);
                }
            }
            Command::Notice {
                code,
                field,
                rule,
                retry_after_secs,
            } => self.notice.set(Some(crate::i18n::error_text(
                self.i18n.lang.get_untracked().strings(),
                &code,
                field.as_deref(),
                rule.as_deref(),
                retry_after_secs,
            ))),
            Command::Log { warn, text } => self
                .diag
                .push(if warn { LogKind::Warn } else { LogKind::Info }, text),
        }
    }

    /// Every (re)connect: say what we have, resend what is unacknowledged (the welcome's event
    /// cleared the send attempts), refresh the list.
    fn welcomed(&self) {
        let conversations = self.store.with_untracked(|s| s.resume_points());
        if let Some(s) = socket() {
            s.send(&ClientFrame::Sync { conversations });
        }
        self.flush_outbox();
        self.load_conversations();
        // A read position moved while offline may not have reached the server.
        let active = self.store.with_untracked(|s| {
            let id = s.active?;
            Some((id, s.conversations.get(&id)?.info.read_seq))
        });
        if let Some((id, seq)) = active.filter(|(_, seq)| *seq > 0) {
            if let Some(s) = socket() {
                s.send(&ClientFrame::Read {
                    conversation_id: id,
                    seq,
                });
            }
        }
    }
}
