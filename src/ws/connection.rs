//! One task per WebSocket: frames in and out, heartbeat, acknowledgement timeouts, the paged
//! replay of everything waiting for the user (the original `handleUserOnline`) and of `sync`
//! tails, and the limits that keep one connection from exhausting the server: an outbox bounded
//! in bytes, ack-gated and capped syncs, and a frame budget that slows a flooding client down.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{MessageId, User};
use app::protocol::{ClientFrame, ReplayReason, ResumePoint, ServerFrame, PROTOCOL_VERSION};
use app::validate::Rule;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::oneshot;

use crate::clock::now_ms;
use crate::delivery::rate_limit::TokenBucket;
use crate::delivery::resume::{PendingReplay, ReplayStep};
use crate::delivery::sync::{SyncRun, SyncStep};
use crate::delivery::{frame, Delivery};
use crate::error::AppError;
use crate::store::Store;
use crate::web::session::CurrentSession;
use crate::ws::hub::{CloseReason, ConnHandle};
use crate::ws::outbox::{outbox, OutboxReceiver};
use crate::AppState;

use crate::delivery::receipts::MAX_ACK_IDS;

/// Most conversations one `sync` may name.
const MAX_RESUME_POINTS: usize = 1000;
/// How often (in 1 s ticks) the session is looked up again, so a session deleted by another
/// node or by hand also ends its sockets.
const SESSION_RECHECK_TICKS: u32 = 30;

/// WebSocket close codes the server uses (documented in docs/API.md).
fn close_code(reason: CloseReason) -> u16 {
    match reason {
        CloseReason::SessionEnded => 4001,
        CloseReason::SlowConsumer => 4008,
        CloseReason::TooManyConnections => 4009,
    }
}

struct Session {
    delivery: Arc<Delivery>,
    /// To check that the socket's session still exists.
    store: Arc<dyn Store>,
    handle: Arc<ConnHandle>,
    user: User,
    replay: Option<PendingReplay>,
    /// Acknowledgements queued for commit and not yet done.
    acks_in_flight: Vec<tokio::task::JoinHandle<()>>,
    /// The `sync` being replayed, if any.
    sync: Option<SyncRun>,
}

pub async fn serve(socket: WebSocket, auth: CurrentSession, state: AppState) {
    let CurrentSession {
        user,
        token_hash,
        expires_at,
    } = auth;
    let delivery = state.delivery.clone();
    let cfg = delivery.config.delivery.clone();
    let (tx, rx) = outbox(cfg.outbox_capacity, cfg.outbox_max_bytes);
    // The welcome is queued by the hub before the connection is visible to any push (API.md
    // §5.3: it is always the first frame).
    let welcome = |connection_id| {
        frame(&ServerFrame::Welcome {
            protocol_version: PROTOCOL_VERSION,
            connection_id,
            user: user.clone(),
            server_time: now_ms(),
            heartbeat_interval_ms: cfg.heartbeat_interval().as_millis() as u64,
            heartbeat_timeout_ms: cfg.heartbeat_timeout().as_millis() as u64,
            recall_window_ms: cfg.recall_window_secs.saturating_mul(1000),
        })
    };
    let registered = state
        .hub
        .register(user.id, token_hash.clone(), tx, now_ms(), welcome);
    let handle = registered.handle;
    if registered.came_online {
        tracing::info!(username = %user.username, "user online");
    }
    // In a cluster: frames from other nodes must reach this node before the replay reads the
    // database, or a message committed in between would arrive by neither.
    if let Some(subscribed) = registered.subscribed {
        if tokio::time::timeout(Duration::from_secs(2), subscribed)
            .await
            .is_err()
        {
            tracing::warn!("cluster subscription not confirmed within 2 s; replaying anyway");
        }
    }
    tracing::Span::current().record("conn", handle.id);
    tracing::info!("connection open");

    let (sink, mut stream) = socket.split();
    let (close_tx, close_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write_loop(sink, rx, close_rx, cfg.heartbeat_interval()));

    let mut session = Session {
        delivery: delivery.clone(),
        store: state.store.clone(),
        handle: handle.clone(),
        user,
        replay: None,
        acks_in_flight: Vec::new(),
        sync: None,
    };
    session.start_replay().await;

    let mut shutdown = state.shutdown.clone();
    // Once a second is enough to notice silence and expired acks; idle connections stay cheap.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();
    // The frame budget: a client past it is not read from until it refills (TCP pushes back
    // on the client), so a flood of any frame type is slowed down, never answered in full.
    let mut budget = TokenBucket::new(cfg.frame_rate_per_sec, cfg.frame_burst);
    // One timer for the whole connection, re-armed when the budget runs out (not a new timer
    // per frame: this loop is on every message's path).
    let mut paused = false;
    let resume = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(resume);
    let mut ticks: u32 = 0;
    let reason = loop {
        tokio::select! {
            _ = &mut resume, if paused => {
                paused = false;
            }
            msg = stream.next(), if !paused => match msg {
                Some(Ok(msg)) => {
                    last_seen = Instant::now();
                    handle.last_seen_at.store(now_ms(), Ordering::Relaxed);
                    if let Err(wait) = budget.take(Instant::now()) {
                        resume.as_mut().reset(tokio::time::Instant::now() + wait);
                        paused = true;
                        delivery.metrics.frames_throttled.inc();
                    }
                    match msg {
                        WsMessage::Text(text) => session.on_text(text.as_str()).await,
                        WsMessage::Binary(_) => session.error("bad_frame", "binary frames are not supported; send JSON text", None, None),
                        WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                        WsMessage::Close(_) => break "closed by client",
                    }
                }
                Some(Err(_)) => break "socket error",
                None => break "socket closed",
            },
            _ = handle.kill.notified() => {
                break handle.close_reason().unwrap_or(CloseReason::SlowConsumer).as_str();
            }
            _ = tick.tick() => {
                if last_seen.elapsed() > cfg.heartbeat_timeout() {
                    break "heartbeat timeout";
                }
                ticks = ticks.wrapping_add(1);
                if session.session_over(&token_hash, expires_at, ticks).await {
                    handle.close(CloseReason::SessionEnded);
                    break CloseReason::SessionEnded.as_str();
                }
                session.expire_in_flight(cfg.ack_timeout()).await;
            }
            _ = shutdown.changed() => break "server shutting down",
        }
    };

    let close = match handle.close_reason() {
        Some(r) => {
            if r == CloseReason::SlowConsumer {
                delivery.metrics.push("slow_consumer", 1);
            }
            delivery
                .metrics
                .closed_by_server
                .get_or_create(&crate::telemetry::OutcomeLabel {
                    outcome: r.as_str(),
                })
                .inc();
            Some(CloseFrame {
                code: close_code(r),
                reason: r.as_str().into(),
            })
        }
        None if reason == "server shutting down" => Some(CloseFrame {
            code: 1001,
            reason: reason.into(),
        }),
        None => None,
    };
    let went_offline = state.hub.unregister(&handle);
    // The writer says goodbye with the close code (a slow consumer's socket may not take even
    // that, hence the time limit).
    let _ = close_tx.send(close);
    if tokio::time::timeout(Duration::from_secs(1), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    let unacknowledged = handle.in_flight_count();
    tracing::info!(
        reason,
        unacknowledged,
        "connection closed; unacknowledged messages stay pending"
    );
    if went_offline {
        tracing::info!(username = %session.user.username, "user offline");
    }
}

/// Forwards queued frames to the socket and sends protocol pings (browsers answer them).
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, WsMessage>,
    mut rx: OutboxReceiver,
    mut close: oneshot::Receiver<Option<CloseFrame>>,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    loop {
        tokio::select! {
            f = rx.recv() => match f {
                Some(f) => {
                    // Write everything already queued, then flush once: fewer syscalls under load.
                    if sink.feed(WsMessage::Text(f.as_ref().into())).await.is_err() {
                        return;
                    }
                    let mut more = 0;
                    while more < 256 {
                        let Some(f) = rx.try_recv() else { break };
                        if sink.feed(WsMessage::Text(f.as_ref().into())).await.is_err() {
                            return;
                        }
                        more += 1;
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            _ = ping.tick() => {
                if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            frame = &mut close => {
                if let Ok(Some(frame)) = frame {
                    let _ = sink.send(WsMessage::Close(Some(frame))).await;
                }
                break;
            }
        }
    }
    let _ = sink.close().await;
}

/// The `error` frame for a refused request (internal causes are logged, not sent).
fn error_frame(
    e: AppError,
    client_msg_id: Option<String>,
    message_id: Option<MessageId>,
) -> ServerFrame {
    e.log();
    let retry_after_ms = match e {
        AppError::RateLimited { retry_after_ms } => Some(retry_after_ms),
        _ => None,
    };
    ServerFrame::Error {
        code: e.code().to_string(),
        message: e.public_message(),
        client_msg_id,
        message_id,
        retry_after_ms,
        field: e.field(),
        rule: e.rule().map(|r| r.as_str().to_string()),
    }
}

impl Session {
    fn send(&self, f: &ServerFrame) -> bool {
        self.handle.send(&frame(f))
    }

    fn error(
        &self,
        code: &str,
        message: &str,
        client_msg_id: Option<String>,
        message_id: Option<MessageId>,
    ) {
        self.send(&ServerFrame::Error {
            code: code.to_string(),
            message: message.to_string(),
            client_msg_id,
            message_id,
            retry_after_ms: None,
            field: None,
            rule: None,
        });
    }

    fn app_error(&self, e: AppError, client_msg_id: Option<String>, message_id: Option<MessageId>) {
        self.send(&error_frame(e, client_msg_id, message_id));
    }

    async fn on_text(&mut self, text: &str) {
        let parsed: ClientFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                // The connection stays open: one bad frame is the client's bug, not a reason to drop it.
                self.error("bad_frame", &format!("unreadable frame: {e}"), None, None);
                return;
            }
        };
        let d = self.delivery.clone();
        let user = self.user.clone();
        match parsed {
            ClientFrame::Ping { nonce } => {
                self.send(&ServerFrame::Pong {
                    nonce,
                    server_time: now_ms(),
                });
            }
            ClientFrame::Send {
                client_msg_id,
                conversation_id,
                content,
            } => {
                // Queued, not awaited: the next frame is read while this one commits, so a
                // client can pipeline sends. The acknowledgement follows from a small task.
                match d
                    .submit_send(
                        &user,
                        conversation_id,
                        client_msg_id.clone(),
                        content,
                        Some(self.handle.id),
                    )
                    .await
                {
                    Ok(pending) => {
                        let handle = self.handle.clone();
                        tokio::spawn(async move {
                            let f = match d.finish_send(pending).await {
                                Ok(ack) => ServerFrame::Sent {
                                    client_msg_id,
                                    message: ack.message,
                                    duplicate: ack.duplicate,
                                },
                                Err(e) => error_frame(e, Some(client_msg_id), None),
                            };
                            handle.send(&frame(&f));
                        });
                    }
                    Err(e) => self.app_error(e, Some(client_msg_id), None),
                }
            }
            ClientFrame::Ack { message_ids } => {
                if message_ids.len() > MAX_ACK_IDS {
                    let msg = format!("at most {MAX_ACK_IDS} ids per ack");
                    return self.app_error(
                        AppError::invalid("message_ids", Rule::Count, msg),
                        None,
                        None,
                    );
                }
                if let Some(r) = self.replay.as_mut() {
                    r.settled(&message_ids);
                }
                if let Some(r) = self.sync.as_mut() {
                    r.settled(&message_ids);
                }
                // Not awaited either: replay paging moves on by message id, not by commit.
                let handle = self.handle.clone();
                self.acks_in_flight.retain(|t| !t.is_finished());
                self.acks_in_flight.push(tokio::spawn(async move {
                    if let Err(e) = d.acknowledge(user.id, &message_ids).await {
                        handle.send(&frame(&error_frame(e, None, None)));
                    }
                }));
                if self.replay.is_some() {
                    self.next_replay_page().await;
                }
                if self.sync.is_some() {
                    self.next_sync_page().await;
                }
            }
            ClientFrame::Read {
                conversation_id,
                seq,
            } => {
                if let Err(e) = d.mark_read(user.id, conversation_id, seq).await {
                    self.app_error(e, None, None);
                }
            }
            ClientFrame::Recall {
                message_id,
                client_op_id,
            } => {
                if let Err(e) = d.recall(&user, message_id, client_op_id.as_deref()).await {
                    self.app_error(e, None, Some(message_id));
                }
            }
            ClientFrame::Sync { conversations } => self.on_sync(conversations).await,
            ClientFrame::Typing { conversation_id } => {
                if let Err(e) = d.relay_typing(user.id, conversation_id).await {
                    self.app_error(e, None, None);
                }
            }
        }
    }

    /// Sends pending-replay pages while the engine says so (it keeps about two pages
    /// unacknowledged), then `caught_up`.
    async fn next_replay_page(&mut self) {
        if let Some(r) = self.replay.as_mut() {
            // Ids settled by another device of the user (or expired) are no longer awaited here.
            let in_flight = self
                .handle
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            r.retain(|id| in_flight.contains_key(id));
        }
        loop {
            let Some(r) = self.replay.as_mut() else {
                return;
            };
            match self.delivery.next_pending_step(self.user.id, r).await {
                Ok(ReplayStep::Wait) => return,
                Ok(ReplayStep::CaughtUp { replayed }) => {
                    self.replay = None;
                    self.send(&ServerFrame::CaughtUp {
                        reason: ReplayReason::Pending,
                        replayed,
                        more: false,
                    });
                    return;
                }
                Ok(ReplayStep::Page {
                    messages,
                    remaining,
                }) => {
                    let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
                    let f = frame(&ServerFrame::Batch {
                        reason: ReplayReason::Pending,
                        messages,
                        remaining,
                        through: None,
                    });
                    if !self.handle.deliver(&f, &ids) {
                        self.replay = None;
                        return;
                    }
                }
                Err(e) => {
                    self.replay = None;
                    return self.app_error(e, None, None);
                }
            }
        }
    }

    /// A `sync`: queues the resume points (de-duplicated; joining a sync already running) and
    /// starts paging their conversations' changes.
    async fn on_sync(&mut self, points: Vec<ResumePoint>) {
        let too_many = || {
            AppError::invalid(
                "conversations",
                Rule::Count,
                format!("at most {MAX_RESUME_POINTS} resume points"),
            )
        };
        if points.len() > MAX_RESUME_POINTS {
            return self.app_error(too_many(), None, None);
        }
        let cap = self.delivery.config.delivery.sync_max_messages;
        let run = self.sync.get_or_insert_with(|| SyncRun::new(cap));
        if !run.add(points, MAX_RESUME_POINTS) {
            return self.app_error(too_many(), None, None);
        }
        self.next_sync_page().await;
    }

    /// Sends what the engine says the sync needs next: pages of changes (ack-gated), `not_found`
    /// for foreign conversations, and finally `caught_up{sync}`.
    async fn next_sync_page(&mut self) {
        loop {
            let Some(run) = self.sync.as_mut() else {
                return;
            };
            match self.delivery.next_sync_step(self.user.id, run).await {
                Ok(SyncStep::Wait) => return,
                Ok(SyncStep::Page(messages, through)) => {
                    if !self.send(&ServerFrame::Batch {
                        reason: ReplayReason::Sync,
                        messages,
                        remaining: 0,
                        through: Some(through),
                    }) {
                        self.sync = None;
                        return;
                    }
                }
                Ok(SyncStep::NotFound) => {
                    self.error("not_found", "no such conversation", None, None)
                }
                Ok(SyncStep::Done { replayed, more }) => {
                    return self.finish_sync(replayed, more).await
                }
                Err(e) => {
                    self.sync = None;
                    return self.app_error(e, None, None);
                }
            }
        }
    }

    /// `caught_up{sync}` (with `more` when the cap cut it short), then everything still waiting
    /// for the user is replayed again ("on request" too) — after this connection's own
    /// acknowledgements have committed, so they are not replayed back.
    async fn finish_sync(&mut self, replayed: i64, more: bool) {
        self.sync = None;
        self.send(&ServerFrame::CaughtUp {
            reason: ReplayReason::Sync,
            replayed,
            more,
        });
        if self.replay.is_none() {
            for t in self.acks_in_flight.drain(..) {
                let _ = t.await;
            }
            self.start_replay().await;
        }
    }

    /// True when the socket's session has expired or (checked every few ticks) is gone.
    async fn session_over(&self, token_hash: &str, expires_at: i64, ticks: u32) -> bool {
        if now_ms() >= expires_at {
            return true;
        }
        if !ticks.is_multiple_of(SESSION_RECHECK_TICKS) {
            return false;
        }
        match crate::accounts::session_alive(self.store.as_ref(), token_hash).await {
            Ok(alive) => !alive,
            Err(e) => {
                e.log();
                false
            }
        }
    }

    /// Starts the paged replay of everything waiting for the user (the original handleUserOnline).
    async fn start_replay(&mut self) {
        self.replay = Some(PendingReplay::default());
        self.next_replay_page().await;
    }

    /// Pushes not acknowledged in time: their records become failed (and are retried later).
    async fn expire_in_flight(&mut self, timeout: Duration) {
        let expired: Vec<MessageId> = {
            let mut f = self
                .handle
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let ids: Vec<MessageId> = f
                .iter()
                .filter(|(_, at)| at.elapsed() > timeout)
                .map(|(id, _)| *id)
                .collect();
            for id in &ids {
                f.remove(id);
            }
            ids
        };
        if expired.is_empty() {
            return;
        }
        let msg = format!("not acknowledged within {} s", timeout.as_secs());
        if let Err(e) = self
            .delivery
            .push_failed(self.user.id, &expired, &msg)
            .await
        {
            e.log();
        }
        if let Some(r) = self.replay.as_mut() {
            r.settled(&expired);
        }
        if self.replay.is_some() {
            self.next_replay_page().await;
        }
    }
}
