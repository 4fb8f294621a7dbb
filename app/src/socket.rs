//! The WebSocket client: one connection to `/ws`, kept alive and brought back.
//!
//! - heartbeat: an application `ping` every `heartbeat_interval_ms` (from `welcome`); the
//!   `pong` gives the round-trip time shown on /message-test;
//! - liveness: a connection silent for too long is presumed dead (half-open) and dropped;
//! - reconnect: jittered exponential backoff capped at [`MAX_BACKOFF_MS`], reset once open;
//! - receipts: every `message`, `batch` and `recalled` is acknowledged with `ack`, but only
//!   after the handler has merged it into the store (an ack means "this device has it").
//!
//! What to do on (re)connect — `sync`, resending the outbox, reloading the list — is the
//! session's business (`state.rs`), which gets every frame through the handler.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::protocol::{parse_server_frame, ClientFrame, ServerFrame};
use crate::store::ConnState;

/// Longest wait between reconnect attempts.
pub const MAX_BACKOFF_MS: f64 = 10_000.0;
const FIRST_BACKOFF_MS: f64 = 500.0;
/// Used until `welcome` says otherwise.
const DEFAULT_HEARTBEAT_MS: f64 = 25_000.0;
const DEFAULT_TIMEOUT_MS: f64 = 60_000.0;
/// Entries kept in the event log and RTT samples kept for the chart.
pub const LOG_CAPACITY: usize = 300;
pub const RTT_CAPACITY: usize = 60;
const TICK: Duration = Duration::from_secs(1);
/// A probe ping unanswered this long means the connection is gone (a half-open socket looks
/// fine to the browser; this finds out in seconds instead of a heartbeat timeout).
const PROBE_TIMEOUT_MS: f64 = 3_000.0;

/// What the socket tells its owner.
#[derive(Debug, Clone)]
pub enum SocketEvent {
    State(ConnState),
    Frame(ServerFrame),
    /// A connection attempt or connection ended; `attempts` failed attempts in a row so far.
    Dropped {
        attempts: u32,
        was_open: bool,
        /// The close code (4001: the server ended this session, see docs/API.md).
        code: u16,
    },
    /// Once a second while running (resend sweep, typing expiry).
    Tick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Info,
    Warn,
    In,
    Out,
}

impl LogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Info => "info",
            LogKind::Warn => "warn",
            LogKind::In => "in",
            LogKind::Out => "out",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub id: u64,
    /// `Date.now()` when logged.
    pub at: f64,
    pub kind: LogKind,
    pub text: String,
}

/// Live observability of the socket, for /message-test.
#[derive(Clone, Copy)]
pub struct SocketDiag {
    pub log: RwSignal<VecDeque<LogEntry>>,
    /// Round-trip times in ms, oldest first.
    pub rtt: RwSignal<VecDeque<f64>>,
    pub connection_id: RwSignal<Option<u64>>,
    pub attempts: RwSignal<u32>,
}

impl SocketDiag {
    pub fn new() -> Self {
        SocketDiag {
            log: RwSignal::new(VecDeque::new()),
            rtt: RwSignal::new(VecDeque::new()),
            connection_id: RwSignal::new(None),
            attempts: RwSignal::new(0),
        }
    }

    pub fn push(&self, kind: LogKind, text: impl Into<String>) {
        let text = text.into();
        self.log.update(|log| {
            let id = log.back().map(|e| e.id + 1).unwrap_or(0);
            log.push_back(LogEntry {
                id,
                at: js_sys::Date::now(),
                kind,
                text,
            });
            while log.len() > LOG_CAPACITY {
                log.pop_front();
            }
        });
    }

    fn push_rtt(&self, ms: f64) {
        self.rtt.update(|r| {
            r.push_back(ms);
            while r.len() > RTT_CAPACITY {
                r.pop_front();
            }
        });
    }
}

impl Default for SocketDiag {
    fn default() -> Self {
        Self::new()
    }
}

type Handler = Rc<dyn Fn(SocketEvent)>;

/// The callbacks of one connection; kept alive as long as it may fire.
struct Callbacks {
    _open: Closure<dyn FnMut()>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
    _error: Closure<dyn FnMut()>,
}

struct Inner {
    running: bool,
    ws: Option<WebSocket>,
    /// Identifies the current connection; callbacks of older ones are ignored.
    generation: u64,
    callbacks: Option<Callbacks>,
    /// Callbacks of dropped connections: freed at the next connect, never while one may run.
    retired: Vec<Callbacks>,
    state: ConnState,
    ever_open: bool,
    attempts: u32,
    reconnect_timer: Option<TimeoutHandle>,
    tick_timer: Option<IntervalHandle>,
    heartbeat_ms: f64,
    timeout_ms: f64,
    last_rx: f64,
    last_ping: f64,
    pings: VecDeque<(u64, f64)>,
    next_nonce: u64,
    /// When an unanswered probe ping went out (any frame received answers it).
    probe_at: Option<f64>,
}

/// A cheap handle to the one socket.
#[derive(Clone)]
pub struct Socket {
    inner: Rc<RefCell<Inner>>,
    handler: Handler,
    pub diag: SocketDiag,
}

/// What the browser believes about the network (`navigator.onLine`); `true` when unknown.
/// `false` is reliable (no interface is up, or the user switched the network off); `true`
/// proves nothing, which is what the probe is for.
fn browser_online() -> bool {
    web_sys::window()
        .map(|w| w.navigator().on_line())
        .unwrap_or(true)
}

fn now_ms() -> f64 {
    window()
        .performance()
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

fn ws_url() -> String {
    let loc = window().location();
    let proto = match loc.protocol().as_deref() {
        Ok("https:") => "wss:",
        _ => "ws:",
    };
    let host = loc.host().unwrap_or_default();
    format!("{proto}//{host}/ws")
}

/// Frame name and a short preview, for the log.
fn summarize(json: &str) -> String {
    const MAX: usize = 240;
    if json.chars().count() <= MAX {
        json.to_string()
    } else {
        let cut: String = json.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

impl Socket {
    pub fn new(handler: impl Fn(SocketEvent) + 'static, diag: SocketDiag) -> Socket {
        Socket {
            inner: Rc::new(RefCell::new(Inner {
                running: false,
                ws: None,
                generation: 0,
                callbacks: None,
                retired: Vec::new(),
                state: ConnState::Closed,
                ever_open: false,
                attempts: 0,
                reconnect_timer: None,
                tick_timer: None,
                heartbeat_ms: DEFAULT_HEARTBEAT_MS,
                timeout_ms: DEFAULT_TIMEOUT_MS,
                last_rx: 0.0,
                last_ping: 0.0,
                pings: VecDeque::new(),
                next_nonce: 1,
                probe_at: None,
            })),
            handler: Rc::new(handler),
            diag,
        }
    }

    pub fn is_open(&self) -> bool {
        let inner = self.inner.borrow();
        inner.state == ConnState::Open
            && inner
                .ws
                .as_ref()
                .is_some_and(|ws| ws.ready_state() == WebSocket::OPEN)
    }

    /// Starts connecting (and keeps reconnecting) until [`Socket::stop`].
    pub fn start(&self) {
        if self.inner.borrow().running {
            return;
        }
        {
            let mut inner = self.inner.borrow_mut();
            inner.running = true;
            inner.ever_open = false;
            inner.attempts = 0;
        }
        let weak = Rc::downgrade(&self.inner);
        let this = self.clone_with(weak);
        let tick = set_interval_with_handle(move || this.with(|s| s.on_tick()), TICK).ok();
        self.inner.borrow_mut().tick_timer = tick;
        self.diag.push(LogKind::Info, "start");
        self.connect();
    }

    /// Closes the connection and stops reconnecting (logout).
    pub fn stop(&self) {
        {
            let mut inner = self.inner.borrow_mut();
            if !inner.running {
                return;
            }
            inner.running = false;
            if let Some(t) = inner.reconnect_timer.take() {
                t.clear();
            }
            if let Some(t) = inner.tick_timer.take() {
                t.clear();
            }
        }
        self.teardown(1000, "logout");
        self.diag.push(LogKind::Info, "stopped");
        self.set_state(ConnState::Closed);
    }

    /// Reconnects at once when not open (the user asked, or the network came back).
    pub fn reconnect_now(&self) {
        let (running, open, connecting) = {
            let inner = self.inner.borrow();
            let connecting = inner
                .ws
                .as_ref()
                .is_some_and(|ws| ws.ready_state() == WebSocket::CONNECTING);
            (inner.running, inner.state == ConnState::Open, connecting)
        };
        if running && !open && !connecting {
            if let Some(t) = self.inner.borrow_mut().reconnect_timer.take() {
                t.clear();
            }
            self.diag.push(LogKind::Info, "reconnect now");
            self.connect();
        }
    }

    /// The browser reported the network gone (its `offline` event): drop the connection at once
    /// rather than waiting for the heartbeat to notice, and try nothing more until the network is
    /// back (`reconnect_now` on `online`) — but for a slow fallback attempt, in case the browser
    /// is wrong.
    pub fn network_lost(&self) {
        {
            let inner = self.inner.borrow();
            if !inner.running || inner.state == ConnState::Offline {
                return;
            }
        }
        self.diag
            .push(LogKind::Warn, "network lost (browser offline)");
        self.teardown(4000, "offline");
        self.set_state(ConnState::Offline);
        self.schedule_connect(MAX_BACKOFF_MS, true);
    }

    /// Asks the server for a sign of life now (after a send, on coming back to the tab or the
    /// network): no answer within [`PROBE_TIMEOUT_MS`] drops the connection, and the usual
    /// reconnect follows.
    pub fn probe(&self) {
        let open = {
            let inner = self.inner.borrow();
            inner.state == ConnState::Open && inner.probe_at.is_none()
        };
        if open {
            let now = now_ms();
            self.inner.borrow_mut().probe_at = Some(now);
            self.send_ping(now);
        }
    }

    fn send_ping(&self, now: f64) {
        let nonce = {
            let mut inner = self.inner.borrow_mut();
            let nonce = inner.next_nonce;
            inner.next_nonce += 1;
            inner.last_ping = now;
            inner.pings.push_back((nonce, now));
            while inner.pings.len() > 8 {
                inner.pings.pop_front();
            }
            nonce
        };
        self.send(&ClientFrame::Ping { nonce });
    }

    /// The next connection attempt in `delay_ms` (`forced`: even if the browser says offline).
    fn schedule_connect(&self, delay_ms: f64, forced: bool) {
        let weak = Rc::downgrade(&self.inner);
        let s = self.clone_with(weak);
        let timer = set_timeout_with_handle(
            move || s.with(|s| s.connect_with(forced)),
            Duration::from_millis(delay_ms as u64),
        )
        .ok();
        let old = std::mem::replace(&mut self.inner.borrow_mut().reconnect_timer, timer);
        if let Some(old) = old {
            old.clear();
        }
    }

    /// Drops the connection as if the network failed; the usual reconnect follows.
    pub fn drop_connection(&self, why: &str) {
        if !self.inner.borrow().running {
            return;
        }
        self.diag
            .push(LogKind::Warn, format!("dropping connection: {why}"));
        self.on_dropped(4000, why);
    }

    /// Sends a frame if the connection is open; `false` otherwise (the caller keeps it).
    pub fn send(&self, frame: &ClientFrame) -> bool {
        let Ok(json) = serde_json::to_string(frame) else {
            return false;
        };
        let sent = {
            let inner = self.inner.borrow();
            match inner.ws.as_ref() {
                Some(ws)
                    if inner.state == ConnState::Open && ws.ready_state() == WebSocket::OPEN =>
                {
                    ws.send_with_str(&json).is_ok()
                }
                _ => false,
            }
        };
        if sent {
            self.diag.push(LogKind::Out, summarize(&json));
        }
        sent
    }

    fn clone_with(&self, weak: std::rc::Weak<RefCell<Inner>>) -> WeakSocket {
        WeakSocket {
            inner: weak,
            handler: self.handler.clone(),
            diag: self.diag,
        }
    }

    fn emit(&self, ev: SocketEvent) {
        (self.handler)(ev);
    }

    fn set_state(&self, state: ConnState) {
        let changed = {
            let mut inner = self.inner.borrow_mut();
            let changed = inner.state != state;
            inner.state = state;
            changed
        };
        if changed {
            self.emit(SocketEvent::State(state));
        }
    }

    fn connect(&self) {
        self.connect_with(false);
    }

    fn connect_with(&self, forced: bool) {
        let offline = !browser_online();
        if offline && !forced {
            if !self.inner.borrow().running {
                return;
            }
            self.teardown(1000, "offline");
            self.set_state(ConnState::Offline);
            self.schedule_connect(MAX_BACKOFF_MS, true);
            return;
        }
        let (generation, state) = {
            let mut inner = self.inner.borrow_mut();
            if !inner.running {
                return;
            }
            inner.generation += 1;
            // Callbacks of connections two generations back cannot be running any more.
            inner.retired.clear();
            let state = if offline {
                ConnState::Offline
            } else if inner.ever_open || inner.attempts > 0 {
                ConnState::Reconnecting
            } else {
                ConnState::Connecting
            };
            (inner.generation, state)
        };
        self.teardown(1000, "replaced");
        self.set_state(state);
        let url = ws_url();
        self.diag
            .push(LogKind::Info, format!("connecting to {url}"));
        let ws = match WebSocket::new(&url) {
            Ok(ws) => ws,
            Err(e) => {
                self.diag
                    .push(LogKind::Warn, format!("cannot open socket: {e:?}"));
                self.on_dropped_gen(generation, 1006, "cannot open");
                return;
            }
        };
        let weak = Rc::downgrade(&self.inner);
        let s = self.clone_with(weak);
        let open = {
            let s = s.clone();
            Closure::<dyn FnMut()>::new(move || s.with(|s| s.on_open(generation)))
        };
        let message = {
            let s = s.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                if let Some(text) = e.data().as_string() {
                    s.with(|s| s.on_message(generation, &text));
                }
            })
        };
        let close = {
            let s = s.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
                s.with(|s| s.on_close(generation, e.code(), &e.reason()))
            })
        };
        let error = Closure::<dyn FnMut()>::new(move || {
            s.diag.push(LogKind::Warn, "socket error");
        });
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(error.as_ref().unchecked_ref()));
        let mut inner = self.inner.borrow_mut();
        inner.ws = Some(ws);
        inner.callbacks = Some(Callbacks {
            _open: open,
            _message: message,
            _close: close,
            _error: error,
        });
    }

    /// Detaches and closes the current connection without reporting anything.
    fn teardown(&self, code: u16, reason: &str) {
        let mut inner = self.inner.borrow_mut();
        if let Some(ws) = inner.ws.take() {
            ws.set_onopen(None);
            ws.set_onmessage(None);
            ws.set_onclose(None);
            ws.set_onerror(None);
            let _ = ws.close_with_code_and_reason(code, reason);
        }
        if let Some(cb) = inner.callbacks.take() {
            inner.retired.push(cb);
        }
        inner.pings.clear();
        inner.probe_at = None;
    }

    fn on_open(&self, generation: u64) {
        {
            let mut inner = self.inner.borrow_mut();
            if inner.generation != generation {
                return;
            }
            inner.attempts = 0;
            inner.ever_open = true;
            inner.last_rx = now_ms();
            // The first ping goes out on the next tick: the RTT shows up at once.
            inner.last_ping = f64::NEG_INFINITY;
        }
        self.diag.attempts.set(0);
        self.diag.push(LogKind::Info, "open");
        self.set_state(ConnState::Open);
    }

    fn on_message(&self, generation: u64, text: &str) {
        {
            let mut inner = self.inner.borrow_mut();
            if inner.generation != generation {
                return;
            }
            inner.last_rx = now_ms();
            inner.probe_at = None;
        }
        self.diag.push(LogKind::In, summarize(text));
        let frame = match parse_server_frame(text) {
            Ok(Some(f)) => f,
            Ok(None) => {
                web_sys::console::warn_1(&format!("courier: ignoring unknown frame {text}").into());
                return;
            }
            Err(e) => {
                web_sys::console::error_1(
                    &format!("courier: unreadable frame ({e}): {text}").into(),
                );
                self.diag
                    .push(LogKind::Warn, format!("unreadable frame: {e}"));
                return;
            }
        };
        match &frame {
            ServerFrame::Welcome {
                heartbeat_interval_ms,
                heartbeat_timeout_ms,
                connection_id,
                ..
            } => {
                let mut inner = self.inner.borrow_mut();
                inner.heartbeat_ms = (*heartbeat_interval_ms as f64).max(1_000.0);
                inner.timeout_ms = (*heartbeat_timeout_ms as f64).max(inner.heartbeat_ms * 2.0);
                drop(inner);
                self.diag.connection_id.set(Some(*connection_id));
            }
            ServerFrame::Pong { nonce, .. } => {
                let sent_at = {
                    let mut inner = self.inner.borrow_mut();
                    let pos = inner.pings.iter().position(|(n, _)| n == nonce);
                    pos.map(|p| {
                        let at = inner.pings[p].1;
                        inner.pings.drain(..=p);
                        at
                    })
                };
                if let Some(at) = sent_at {
                    self.diag.push_rtt(now_ms() - at);
                }
            }
            _ => {}
        }
        // The state merges it and acknowledges what it holds (store::frames::on_frame).
        self.emit(SocketEvent::Frame(frame));
    }

    fn on_close(&self, generation: u64, code: u16, reason: &str) {
        if self.inner.borrow().generation != generation {
            return;
        }
        let why = if reason.is_empty() {
            format!("closed ({code})")
        } else {
            format!("closed ({code}): {reason}")
        };
        self.diag.push(LogKind::Warn, why);
        self.on_dropped_gen(generation, code, reason);
    }

    fn on_dropped(&self, code: u16, reason: &str) {
        let generation = self.inner.borrow().generation;
        self.on_dropped_gen(generation, code, reason);
    }

    /// The connection is gone: report it and schedule the next attempt.
    fn on_dropped_gen(&self, generation: u64, code: u16, reason: &str) {
        let offline = !browser_online();
        let (was_open, attempts, delay) = {
            let mut inner = self.inner.borrow_mut();
            if inner.generation != generation || !inner.running {
                return;
            }
            let was_open = inner.state == ConnState::Open;
            inner.attempts += 1;
            let exp = FIRST_BACKOFF_MS * 2f64.powi(inner.attempts.min(16) as i32 - 1);
            let base = exp.min(MAX_BACKOFF_MS);
            // "Equal jitter": never immediate, never in lockstep with other clients.
            let delay = base / 2.0 + js_sys::Math::random() * base / 2.0;
            // Without network only the slow fallback tries; `online` reconnects at once.
            let delay = if offline { MAX_BACKOFF_MS } else { delay };
            (was_open, inner.attempts, delay)
        };
        self.teardown(code.clamp(4000, 4999), reason);
        self.diag.attempts.set(attempts);
        self.diag.push(
            LogKind::Info,
            format!("reconnect attempt {attempts} in {delay:.0} ms"),
        );
        self.set_state(if offline {
            ConnState::Offline
        } else {
            ConnState::Reconnecting
        });
        self.emit(SocketEvent::Dropped {
            attempts,
            was_open,
            code,
        });
        self.schedule_connect(delay, offline);
    }

    fn on_tick(&self) {
        let now = now_ms();
        let (open, ping_due, dead, probe_lost) = {
            let inner = self.inner.borrow();
            let open = inner.state == ConnState::Open;
            // A half-open connection looks fine to the browser: silence is the only sign.
            let dead_after = inner.timeout_ms.min(inner.heartbeat_ms * 2.0 + 5_000.0);
            (
                open,
                now - inner.last_ping >= inner.heartbeat_ms,
                now - inner.last_rx > dead_after,
                inner.probe_at.is_some_and(|at| now - at > PROBE_TIMEOUT_MS),
            )
        };
        if open && !browser_online() {
            // The `offline` event can be missed (a tab in the background, a sleeping laptop).
            self.network_lost();
        } else if open && probe_lost {
            self.drop_connection("no answer to a probe");
        } else if open && dead {
            self.drop_connection("heartbeat timeout");
        } else if open && ping_due {
            self.send_ping(now);
        }
        self.emit(SocketEvent::Tick);
    }
}

/// What timers and callbacks hold: it must not keep a stopped socket alive.
#[derive(Clone)]
struct WeakSocket {
    inner: std::rc::Weak<RefCell<Inner>>,
    handler: Handler,
    diag: SocketDiag,
}

impl WeakSocket {
    fn with(&self, f: impl FnOnce(&Socket)) {
        if let Some(inner) = self.inner.upgrade() {
            f(&Socket {
                inner,
                handler: self.handler.clone(),
                diag: self.diag,
            });
        }
    }
}
