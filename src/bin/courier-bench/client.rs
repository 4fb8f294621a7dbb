//! A Courier client as a real user would run it: register over HTTP (cookie session), open
//! direct conversations, and speak the WebSocket protocol of `app::protocol`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use app::model::{
    Conversation, ConversationId, Diagnostics, RegisterRequest, StartDirectRequest, User, UserId,
};
use app::protocol::{parse_server_frame, ClientFrame, ServerFrame};
use futures_util::{FutureExt, SinkExt, Stream, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

use crate::server::Target;
use crate::R;

pub type Ws = WebSocketStream<TcpStream>;

pub const PASSWORD: &str = "bench-password-1";

/// A registered user and its session token (the `courier_session` cookie).
#[derive(Clone)]
pub struct BenchUser {
    pub user: User,
    pub token: String,
    /// Its place in the batch it was registered with (`register_many`): which node of a cluster
    /// its WebSockets use follows from it ([`Target::ws_node`](crate::server::Target::ws_node)).
    pub index: usize,
}

impl BenchUser {
    pub fn id(&self) -> UserId {
        self.user.id
    }
    pub fn cookie(&self) -> String {
        format!("courier_session={}", self.token)
    }
}

/// The HTTP side. One `reqwest::Client` (keep-alive pool); the cookie is set per request.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix("courier_session=")
                .map(|r| r.split(';').next().unwrap_or("").to_string())
        })
        .filter(|t| !t.is_empty())
}

async fn error_text(res: reqwest::Response) -> String {
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    format!("{status}: {}", body.chars().take(300).collect::<String>())
}

impl Api {
    pub fn new(base: &str) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            // Loopback benchmarks: never route through an HTTP proxy from the environment.
            .no_proxy()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_default();
        Api {
            base: base.to_string(),
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn register(&self, username: &str) -> R<BenchUser> {
        let req = RegisterRequest {
            username: username.to_string(),
            password: PASSWORD.to_string(),
            display_name: None,
        };
        let res = self
            .http
            .post(self.url("/api/auth/register"))
            .json(&req)
            .send()
            .await
            .map_err(|e| format!("POST /api/auth/register: {e}"))?;
        if res.status() != reqwest::StatusCode::CREATED {
            return Err(format!("register {username}: {}", error_text(res).await));
        }
        let token = session_cookie(&res)
            .ok_or_else(|| format!("register {username}: no session cookie"))?;
        let user: User = res
            .json()
            .await
            .map_err(|e| format!("register {username}: {e}"))?;
        Ok(BenchUser {
            user,
            token,
            index: 0,
        })
    }

    /// Registers `n` users named `<prefix><i>` (argon2 makes this ~20-50 ms per user on the
    /// server), a few at a time, with progress.
    pub async fn register_many(&self, prefix: &str, n: usize) -> R<Vec<BenchUser>> {
        let started = Instant::now();
        let concurrency = 4;
        let mut out: Vec<Option<BenchUser>> = vec![None; n];
        let mut stream = futures_util::stream::iter((0..n).map(|i| {
            let api = self.clone();
            let name = format!("{prefix}{i}");
            async move {
                let user = api
                    .register(&name)
                    .await
                    .map(|u| BenchUser { index: i, ..u });
                (i, user)
            }
        }))
        .buffer_unordered(concurrency);
        let mut done = 0;
        let mut last_print = Instant::now();
        while let Some((i, r)) = stream.next().await {
            out[i] = Some(r?);
            done += 1;
            if n >= 100 && last_print.elapsed() > Duration::from_secs(3) {
                crate::log(&format!("  registered {done}/{n} users"));
                last_print = Instant::now();
            }
        }
        if n >= 20 {
            crate::log(&format!(
                "  registered {n} users in {:.1} s ({:.1} ms each)",
                started.elapsed().as_secs_f64(),
                started.elapsed().as_secs_f64() * 1000.0 / n as f64
            ));
        }
        Ok(out.into_iter().flatten().collect())
    }

    pub async fn direct(&self, me: &BenchUser, other: UserId) -> R<Conversation> {
        let res = self
            .http
            .post(self.url("/api/conversations/direct"))
            .header("cookie", me.cookie())
            .json(&StartDirectRequest { user_id: other })
            .send()
            .await
            .map_err(|e| format!("POST /api/conversations/direct: {e}"))?;
        if !res.status().is_success() {
            return Err(format!(
                "start direct conversation: {}",
                error_text(res).await
            ));
        }
        res.json()
            .await
            .map_err(|e| format!("conversation body: {e}"))
    }

    /// Direct conversations for many (a, b) pairs, a few at a time.
    pub async fn directs(&self, pairs: Vec<(BenchUser, UserId)>) -> R<Vec<ConversationId>> {
        let results: Vec<R<Conversation>> =
            futures_util::stream::iter(pairs.into_iter().map(|(a, b)| {
                let api = self.clone();
                async move { api.direct(&a, b).await }
            }))
            .buffered(16)
            .collect()
            .await;
        results.into_iter().map(|r| r.map(|c| c.id)).collect()
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        me: &BenchUser,
        path: &str,
    ) -> R<T> {
        let res = self
            .http
            .get(self.url(path))
            .header("cookie", me.cookie())
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("GET {path}: {}", error_text(res).await));
        }
        res.json().await.map_err(|e| format!("GET {path}: {e}"))
    }

    pub async fn diagnostics(&self, me: &BenchUser) -> R<Diagnostics> {
        self.get_json(me, "/api/diagnostics").await
    }

    /// Waits (≤ `timeout`) until nothing addressed to `me` is pending or failed: every message
    /// was acknowledged by a device and the server recorded it.
    pub async fn wait_all_acknowledged(&self, me: &BenchUser, timeout: Duration) -> R<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let d = self.diagnostics(me).await?;
            if d.my_records.pending == 0 && d.my_records.failed == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "user {}: {} push records still pending and {} failed {} s after the run",
                    me.user.username,
                    d.my_records.pending,
                    d.my_records.failed,
                    timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Small buffers: the bench holds up to 50,000 sockets.
pub fn ws_config(small: bool) -> WebSocketConfig {
    if small {
        WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
    } else {
        WebSocketConfig::default()
            .read_buffer_size(64 * 1024)
            .write_buffer_size(0)
    }
}

/// Opens `/ws` with the session cookie, optionally from a chosen local address (127.0.0.x).
pub async fn connect_ws(
    target: &Target,
    user: &BenchUser,
    source: Option<IpAddr>,
    small: bool,
) -> R<Ws> {
    let (addr, host) = target.ws_node(user.index);
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| format!("socket: {e}"))?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("bind {ip}:0: {e}"))?;
    }
    let stream = tokio::time::timeout(Duration::from_secs(30), socket.connect(addr))
        .await
        .map_err(|_| format!("connect to {addr} timed out"))?
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("nodelay: {e}"))?;
    let mut req = format!("ws://{host}/ws")
        .into_client_request()
        .map_err(|e| format!("ws request: {e}"))?;
    req.headers_mut().insert(
        "cookie",
        user.cookie()
            .parse()
            .map_err(|e| format!("cookie header: {e}"))?,
    );
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::client_async_with_config(req, stream, Some(ws_config(small))),
    )
    .await
    .map_err(|_| "WebSocket handshake timed out".to_string())?
    .map_err(|e| format!("WebSocket handshake: {e}"))?;
    Ok(ws)
}

pub fn encode(f: &ClientFrame) -> WsMessage {
    WsMessage::text(serde_json::to_string(f).unwrap_or_default())
}

#[derive(Debug)]
pub enum RecvError {
    Timeout,
    Closed(String),
    Bad(String),
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecvError::Timeout => write!(f, "timed out waiting for a frame"),
            RecvError::Closed(why) => write!(f, "connection closed: {why}"),
            RecvError::Bad(why) => write!(f, "unreadable frame: {why}"),
        }
    }
}

/// Turns one WebSocket message into a server frame; `None` for control frames and unknown types.
fn decode(msg: Option<Result<WsMessage, WsError>>) -> Result<Option<ServerFrame>, RecvError> {
    match msg {
        None => Err(RecvError::Closed("stream ended".into())),
        Some(Err(e)) => Err(RecvError::Closed(e.to_string())),
        Some(Ok(WsMessage::Text(t))) => parse_server_frame(t.as_str()).map_err(|e| {
            RecvError::Bad(format!(
                "{e}: {}",
                t.as_str().chars().take(200).collect::<String>()
            ))
        }),
        Some(Ok(WsMessage::Close(c))) => Err(RecvError::Closed(format!("close frame {c:?}"))),
        Some(Ok(_)) => Ok(None),
    }
}

/// The next server frame before `deadline`.
pub async fn recv<S>(
    stream: &mut S,
    deadline: tokio::time::Instant,
) -> Result<ServerFrame, RecvError>
where
    S: Stream<Item = Result<WsMessage, WsError>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| RecvError::Timeout)?;
        if let Some(f) = decode(msg)? {
            return Ok(f);
        }
    }
}

/// A frame that is already buffered or readable without waiting, if any.
pub fn recv_now<S>(stream: &mut S) -> Option<Result<ServerFrame, RecvError>>
where
    S: Stream<Item = Result<WsMessage, WsError>> + Unpin,
{
    loop {
        let msg = stream.next().now_or_never()?;
        match decode(msg) {
            Ok(Some(f)) => return Some(Ok(f)),
            Ok(None) => continue,
            Err(e) => return Some(Err(e)),
        }
    }
}

pub fn deadline_in(d: Duration) -> tokio::time::Instant {
    tokio::time::Instant::now() + d
}

/// Connects and completes the handshake: `welcome`, then the replay of anything pending
/// (acknowledged page by page) until `caught_up`. Returns the socket and how many messages
/// were replayed.
pub async fn open_session(
    target: &Target,
    user: &BenchUser,
    source: Option<IpAddr>,
    small: bool,
) -> R<(Ws, i64)> {
    let mut ws = connect_ws(target, user, source, small).await?;
    let deadline = deadline_in(Duration::from_secs(60));
    match recv(&mut ws, deadline).await {
        Ok(ServerFrame::Welcome { user: u, .. }) if u.id == user.id() => {}
        Ok(other) => return Err(format!("expected welcome first, got {other:?}")),
        Err(e) => return Err(format!("waiting for welcome: {e}")),
    }
    let mut replayed = 0;
    loop {
        match recv(&mut ws, deadline).await {
            Ok(ServerFrame::Batch { messages, .. }) => {
                replayed += messages.len() as i64;
                let ids = messages.iter().map(|m| m.id).collect();
                ws.send(encode(&ClientFrame::Ack { message_ids: ids }))
                    .await
                    .map_err(|e| format!("ack: {e}"))?;
            }
            Ok(ServerFrame::CaughtUp { .. }) => return Ok((ws, replayed)),
            Ok(_) => {}
            Err(e) => return Err(format!("waiting for caught_up: {e}")),
        }
    }
}

/// Opens many sessions, `concurrency` at a time, in the order given.
pub async fn open_sessions(target: &Target, users: &[BenchUser], concurrency: usize) -> R<Vec<Ws>> {
    let results: Vec<R<(Ws, i64)>> =
        futures_util::stream::iter(users.iter().map(|u| open_session(target, u, None, false)))
            .buffered(concurrency)
            .collect()
            .await;
    results.into_iter().map(|r| r.map(|(ws, _)| ws)).collect()
}

/// Message content of about `bytes` bytes that starts with `head` (which the checks parse).
pub fn content(head: &str, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes.max(head.len()));
    s.push_str(head);
    if s.len() < bytes {
        s.push(' ');
        while s.len() < bytes {
            s.push(char::from(b'a' + (s.len() % 26) as u8));
        }
    }
    s
}
