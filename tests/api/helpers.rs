//! Starts the real server (port 0, a fresh database, temporary client dir) and drives it with
//! real HTTP and WebSocket clients.
//!
//! The database is a fresh SQLite file — or, when `COURIER_TEST_DATABASE_URL` names a
//! PostgreSQL server (`make test` starts one with scripts/postgres.sh), a fresh database on it,
//! named after the test's folder so a restart on the same folder finds the same data.

use std::time::Duration;

use app::model::{Conversation, SendAck, User};
use app::protocol::{ClientFrame, ServerFrame};
use courier::config::Config;
use courier::{AppState, Application};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct TestApp {
    pub base: String,
    /// `http://addr` of the separate metrics listener.
    pub metrics_base: String,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Courier test client</title>",
    )
    .unwrap();
    let database_url = match postgres_server() {
        Some(server) => postgres_test_url(&server, dir),
        None => format!("sqlite://{}", dir.join("data/courier.db").display()),
    };
    let mut c = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.into(),
        dist_dir: dist,
        sqlite_synchronous: "normal".into(),
        ..Config::default()
    };
    // Tests run the scheduler's jobs by calling them, at the times they choose.
    c.scheduler.enabled = false;
    // Each test server gets its own metrics port.
    c.metrics_addr = "127.0.0.1:0".into();
    c.delivery.send_rate_per_sec = 1_000_000.0;
    c.delivery.send_burst = 1_000_000.0;
    // Every test client is 127.0.0.1 and many register users: the abuse limits are lifted
    // here; the tests of those limits (tests/api/abuse.rs) set them tight.
    c.limits.registrations_per_addr_per_hour = 1_000_000;
    c.limits.login_free_failures = 1_000;
    c.limits.login_free_failures_per_addr = 1_000_000;
    c.limits.hashing_queue = 100_000;
    // Search tests ask many questions in a row; tests/api/search_limits.rs sets the limits tight.
    c.search.burst = 1_000_000.0;
    c.search.rate_per_sec = 1_000_000.0;
    c
}

pub async fn spawn_app_with(f: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var_os("RUST_LOG").is_some() {
        courier::telemetry::init_tracing();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    f(&mut config);
    start(config, dir).await
}

/// The PostgreSQL server the tests run on, if any (`COURIER_TEST_DATABASE_URL`).
pub fn postgres_server() -> Option<String> {
    std::env::var("COURIER_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// True when the tests run on PostgreSQL (for the few tests about SQLite's files).
pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// The URL of the test database that belongs to `dir`: the server's URL with its database
/// replaced by a name derived from the folder.
fn postgres_test_url(server: &str, dir: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
    format!("{base}/courier_test_{:016x}", h.finish())
}

/// Creates the PostgreSQL database `url` names, unless it exists (a restart on the same folder).
async fn ensure_postgres_database(url: &str) {
    use sqlx::{Connection, Executor};
    let server = postgres_server().expect("a PostgreSQL test server");
    let name = url.rsplit('/').next().unwrap();
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("the PostgreSQL test server answers");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut admin)
        .await
        .unwrap();
    if exists.is_none() {
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
    }
    admin.close().await.unwrap();
}

pub async fn start(config: Config, dir: tempfile::TempDir) -> TestApp {
    if config.database_url.starts_with("postgres") {
        ensure_postgres_database(config.database_url.as_str()).await;
    }
    let app = Application::build(config).await.expect("app builds");
    let addr = app.local_addr();
    let metrics_base = app
        .metrics_addr()
        .map(|a| format!("http://{a}"))
        .unwrap_or_default();
    let state = app.state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base: format!("http://{addr}"),
        metrics_base,
        state,
        dir,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The Prometheus text from the metrics listener.
    pub async fn metrics_text(&self) -> String {
        reqwest::get(format!("{}/metrics", self.metrics_base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Stops the server (graceful shutdown) and returns its directory, to restart on the same data.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
        // Let the pools close.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.dir
    }

    pub async fn register(&self, name: &str) -> TestUser {
        self.register_named(&unique(name), &format!("{name} display"))
            .await
    }

    /// Gives `u` the operator role as `courier admin grant-operator` does (through the store).
    pub async fn grant_operator(&self, u: &TestUser) {
        let granted = self
            .state
            .store
            .set_operator(&u.user.username, Some(courier::store::OperatorGrant::Admin))
            .await
            .unwrap();
        assert!(granted.is_some(), "{} has an account", u.user.username);
    }

    /// Registers exactly `username` (for settings that name users, like `operators`).
    pub async fn register_as(&self, username: &str) -> TestUser {
        self.register_named(username, username).await
    }

    async fn register_named(&self, username: &str, display_name: &str) -> TestUser {
        let res = reqwest::Client::new()
            .post(self.url("/api/auth/register"))
            .json(&json!({"username": username, "password": "correct horse", "display_name": display_name}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "register {username}");
        let token = session_cookie(&res).expect("session cookie");
        let user: User = res.json().await.unwrap();
        TestUser {
            user,
            token,
            base: self.base.clone(),
            http: reqwest::Client::new(),
        }
    }
}

pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}

pub fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix("courier_session=")
                .map(|r| r.split(';').next().unwrap_or("").to_string())
        })
}

#[derive(Clone)]
pub struct TestUser {
    pub user: User,
    pub token: String,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestUser {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    /// The same user (same session) on another node of a cluster.
    pub fn on(&self, node: &TestApp) -> TestUser {
        self.at(&node.base)
    }

    /// The same user (same session) on the server at `base`.
    pub fn at(&self, base: &str) -> TestUser {
        TestUser {
            user: self.user.clone(),
            token: self.token.clone(),
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Waits (up to 5 s) until nothing waits for this user, and returns what still does.
    pub async fn pending_after_settling(&self) -> i64 {
        let mut left = i64::MAX;
        for _ in 0..100 {
            let (_, page) = self.get("/api/offline-messages").await;
            left = page["pending_total"].as_i64().unwrap_or(i64::MAX);
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        left
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(format!("{}{}", self.base, path))
            .header("cookie", format!("courier_session={}", self.token))
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// POST with a raw body and content type (to check that non-JSON bodies are refused).
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("cookie", format!("courier_session={}", self.token))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("cookie", format!("courier_session={}", self.token))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn direct_with(&self, other: &TestUser) -> Conversation {
        let (s, v) = self
            .post("/api/conversations/direct", json!({"user_id": other.id()}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        serde_json::from_value(v).unwrap()
    }

    pub async fn send_http(
        &self,
        conversation: i64,
        client_msg_id: &str,
        content: &str,
    ) -> SendAck {
        let (s, v) = self
            .post(
                &format!("/api/conversations/{conversation}/messages"),
                json!({"client_msg_id": client_msg_id, "content": content}),
            )
            .await;
        assert!(s.is_success(), "{s} {v}");
        serde_json::from_value(v).unwrap()
    }

    pub async fn ws(&self) -> Ws {
        let ws = self.ws_raw().await.expect("ws connects");
        let mut ws = Ws {
            inner: ws,
            seen: Vec::new(),
        };
        let welcome = ws.next(Duration::from_secs(5)).await.expect("welcome");
        assert!(
            matches!(welcome, ServerFrame::Welcome { .. }),
            "first frame is welcome: {welcome:?}"
        );
        ws
    }

    pub async fn ws_raw(
        &self,
    ) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, tokio_tungstenite::tungstenite::Error>
    {
        let url = format!("{}/ws", self.base.replace("http://", "ws://"));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "cookie",
            format!("courier_session={}", self.token).parse().unwrap(),
        );
        Ok(tokio_tungstenite::connect_async(req).await?.0)
    }
}

pub struct Ws {
    pub inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every frame received so far.
    pub seen: Vec<ServerFrame>,
}

impl Ws {
    pub async fn send(&mut self, f: &ClientFrame) {
        self.inner
            .send(WsMessage::Text(serde_json::to_string(f).unwrap().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, t: &str) {
        self.inner
            .send(WsMessage::Text(t.to_string().into()))
            .await
            .unwrap();
    }

    /// The next server frame, or None on timeout or close.
    pub async fn next(&mut self, timeout: Duration) -> Option<ServerFrame> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.inner.next())
                .await
                .ok()??;
            match msg {
                Ok(WsMessage::Text(t)) => {
                    let f: ServerFrame = serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("bad frame {t}: {e}"));
                    self.seen.push(f.clone());
                    return Some(f);
                }
                Ok(WsMessage::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Waits for a frame matching `pred`, keeping the others in `seen`.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&ServerFrame) -> bool,
    ) -> ServerFrame {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(f) if pred(&f) => return f,
                Some(_) => continue,
                None => panic!(
                    "timed out or closed waiting for {what}; seen: {:#?}",
                    self.seen.iter().rev().take(5).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Acknowledges every replayed page until `caught_up`; returns the replayed messages.
    pub async fn drain(&mut self) -> Vec<app::model::Message> {
        let mut out = Vec::new();
        loop {
            match self
                .next(Duration::from_secs(10))
                .await
                .expect("replay frames")
            {
                ServerFrame::Batch { messages, .. } => {
                    let ids = messages.iter().map(|m| m.id).collect();
                    out.extend(messages);
                    self.send(&ClientFrame::Ack { message_ids: ids }).await;
                }
                ServerFrame::CaughtUp { .. } => return out,
                _ => {}
            }
        }
    }

    pub async fn caught_up(&mut self) -> ServerFrame {
        self.wait_for("caught_up", Duration::from_secs(10), |f| {
            matches!(f, ServerFrame::CaughtUp { .. })
        })
        .await
    }

    /// True if no frame matching `pred` arrives within `d`.
    pub async fn quiet_for(&mut self, d: Duration, pred: impl Fn(&ServerFrame) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return true;
            }
            match self.next(left).await {
                Some(f) if pred(&f) => return false,
                Some(_) => continue,
                None => return true,
            }
        }
    }

    /// The next `batch{sync}` page: its messages and how far it covers its conversation's log.
    pub async fn sync_page(
        &mut self,
        what: &str,
    ) -> (Vec<app::model::Message>, Option<app::protocol::RevMark>) {
        let f = self
            .wait_for(what, Duration::from_secs(10), |f| {
                matches!(
                    f,
                    ServerFrame::Batch {
                        reason: app::protocol::ReplayReason::Sync,
                        ..
                    }
                )
            })
            .await;
        let ServerFrame::Batch {
            messages, through, ..
        } = f
        else {
            unreachable!()
        };
        (messages, through)
    }

    pub async fn close(mut self) {
        let _ = self.inner.close(None).await;
    }
}

pub const T: Duration = Duration::from_secs(5);
