//! Abuse limits (security review #4, #7, #14, #15): login throttling, registration limits, the
//! bounded password-hashing queue, HTTP header and request timeouts, WebSockets per user, and
//! the input policies. Each test sets its limits tight with `spawn_app_with`.

use std::time::{Duration, Instant};

use app::protocol::{ClientFrame, ServerFrame};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

async fn post(app: &TestApp, path: &str, body: Value) -> Answer {
    let res = reqwest::Client::new()
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let retry_after = res.headers().get("retry-after").map(|v| {
        v.to_str()
            .unwrap()
            .parse()
            .expect("Retry-After in whole seconds")
    });
    Answer {
        status: res.status(),
        retry_after,
        body: res.json().await.unwrap_or(Value::Null),
    }
}

async fn login(app: &TestApp, username: &str, password: &str) -> Answer {
    post(
        app,
        "/api/auth/login",
        json!({"username": username, "password": password}),
    )
    .await
}

/// Logs in until the answer is not a 429 (the wait is over), within `limit`.
async fn login_when_allowed(
    app: &TestApp,
    username: &str,
    password: &str,
    limit: Duration,
) -> Answer {
    let deadline = Instant::now() + limit;
    loop {
        let a = login(app, username, password).await;
        if a.status != StatusCode::TOO_MANY_REQUESTS {
            return a;
        }
        assert!(Instant::now() < deadline, "still throttled after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.state.metrics.encode();
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn assert_429(a: &Answer, code: &str) {
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert_eq!(a.body["error"]["code"], code, "{}", a.body);
    assert!(a.retry_after.is_some_and(|s| s >= 1), "Retry-After missing");
    // The body says it too, for clients that cannot read the header.
    assert_eq!(
        a.body["error"]["retry_after_secs"].as_u64(),
        a.retry_after,
        "{}",
        a.body
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_with_exponential_backoff() {
    let app = spawn_app_with(|c| {
        c.limits.login_free_failures = 3;
        c.limits.login_backoff_base_ms = 1000;
    })
    .await;
    let user = app.register("victim").await;
    let name = user.user.username.clone();
    for _ in 0..3 {
        assert_eq!(
            login(&app, &name, "wrong guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Past the free failures every attempt waits, even one with the right password.
    let a = login(&app, &name.to_uppercase(), "correct horse").await;
    assert_429(&a, "too_many_attempts");
    assert_eq!(a.retry_after, Some(1));
    // The wait doubles with each further failure.
    let a = login_when_allowed(&app, &name, "wrong guess", Duration::from_secs(5)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = login(&app, &name, "correct horse").await;
    assert_429(&a, "too_many_attempts");
    assert_eq!(a.retry_after, Some(2));
    // A success resets the username's counter.
    let a = login_when_allowed(&app, &name, "correct horse", Duration::from_secs(6)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        login(&app, &name, "wrong guess").await.status,
        StatusCode::UNAUTHORIZED,
        "a fresh allowance after the success"
    );
    assert_eq!(metric(&app, "courier_login_failures_total"), 5.0);
    assert!(metric(&app, "courier_auth_throttled_total{op=\"login\"}") >= 2.0);
}

#[tokio::test]
async fn throttled_logins_take_no_hashing_place() {
    // Room for only one hash per core: a throttled attempt that reached the hashing queue
    // would be answered 503 here.
    let app = spawn_app_with(|c| {
        c.limits.login_free_failures = 1;
        c.limits.login_backoff_base_ms = 60_000;
        c.limits.hashing_queue = 0;
    })
    .await;
    let user = app.register("target").await;
    let name = user.user.username.clone();
    assert_eq!(
        login(&app, &name, "wrong guess").await.status,
        StatusCode::UNAUTHORIZED
    );
    let answers = futures_util::future::join_all((0..40).map(|i| {
        let app = &app;
        let name = name.clone();
        async move { login(app, &name, &format!("guess {i}")).await }
    }))
    .await;
    for a in &answers {
        assert_429(a, "too_many_attempts");
        assert!(a.retry_after.unwrap() > 50, "about a minute");
    }
    // One hash for the registration, one for the failed login, none for the throttled ones.
    assert_eq!(metric(&app, "courier_password_hashing_admitted_total"), 2.0);
    assert_eq!(metric(&app, "courier_password_hashing_rejected_total"), 0.0);
    assert_eq!(metric(&app, "courier_login_failures_total"), 1.0);
}

#[tokio::test]
async fn failures_from_one_address_count_across_usernames() {
    let app = spawn_app_with(|c| {
        c.limits.login_free_failures = 100;
        c.limits.login_free_failures_per_addr = 4;
    })
    .await;
    for i in 0..4 {
        let a = login(&app, &format!("nobody{i}"), "wrong guess").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = login(&app, "someone_else", "any password").await;
    assert_429(&a, "too_many_attempts");
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let app = spawn_app_with(|c| c.limits.registrations_per_addr_per_hour = 2).await;
    // A refused registration (422) costs nothing.
    let a = post(
        &app,
        "/api/auth/register",
        json!({"username": "x", "password": "tulip lantern"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.register("first").await;
    app.register("second").await;
    let a = post(
        &app,
        "/api/auth/register",
        json!({"username": unique("third"), "password": "tulip lantern"}),
    )
    .await;
    assert_429(&a, "too_many_registrations");
    assert!(
        a.retry_after.unwrap() > 60,
        "two an hour: the next in about half an hour, not {:?}",
        a.retry_after
    );
    assert_eq!(
        metric(&app, "courier_auth_throttled_total{op=\"register\"}"),
        1.0
    );
}

#[tokio::test]
async fn a_login_flood_gets_503_instead_of_queueing_forever() {
    let app = spawn_app_with(|c| {
        c.limits.hashing_queue = 0;
    })
    .await;
    // One hash runs per core; several times that many logins at once overflow the queue.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let n = cores * 3 + 30;
    let flood = futures_util::future::join_all((0..n).map(|i| {
        let app = &app;
        async move { login(app, &format!("flood{i}"), "wrong guess").await }
    }));
    let health = async {
        // The server keeps answering other requests while the flood is hashed.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let res = reqwest::get(app.url("/healthz")).await.unwrap();
        (res.status(), started.elapsed())
    };
    let (answers, (health_status, health_took)) = tokio::join!(flood, health);
    let unavailable: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        !unavailable.is_empty(),
        "no 503 among {n} concurrent logins"
    );
    for a in &unavailable {
        assert_eq!(a.body["error"]["code"], "unavailable");
        assert_eq!(a.retry_after, Some(1));
    }
    for a in answers
        .iter()
        .filter(|a| a.status != StatusCode::SERVICE_UNAVAILABLE)
    {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
    }
    assert_eq!(health_status, StatusCode::OK);
    assert!(
        health_took < Duration::from_secs(2),
        "/healthz took {health_took:?}"
    );
    assert_eq!(
        metric(&app, "courier_password_hashing_rejected_total"),
        unavailable.len() as f64
    );
}

/// Reads until the server closes the connection; None if it is still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed() {
    let app = spawn_app_with(|c| {
        c.limits.http_header_timeout_secs = 1;
        c.limits.http_request_timeout_secs = 1;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();

    // Half a request head.
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: courier\r\n")
        .await
        .unwrap();
    // Nothing at all.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    // A complete request, then an idle keep-alive connection.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: courier\r\n\r\n")
        .await
        .unwrap();
    // A complete head, but a body that never comes.
    let mut slow_body = TcpStream::connect(&addr).await.unwrap();
    slow_body
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: courier\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
        )
        .await
        .unwrap();

    let limit = Duration::from_secs(6);
    assert!(
        read_until_closed(&mut half, limit).await.is_some(),
        "a half-sent request head keeps its connection"
    );
    assert!(
        read_until_closed(&mut silent, limit).await.is_some(),
        "a silent connection stays open"
    );
    let answer = read_until_closed(&mut idle, limit)
        .await
        .expect("an idle keep-alive connection stays open");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let answer = read_until_closed(&mut slow_body, limit)
        .await
        .expect("a stalled request body keeps its connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");

    // The server still serves, and a prompt client is not cut off.
    let res = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_users_oldest_socket_closes_past_the_cap() {
    let app = spawn_app_with(|c| c.limits.ws_connections_per_user = 2).await;
    let user = app.register("many").await;
    let other = app.register("other").await;
    let mut first = user.ws().await;
    let mut second = user.ws().await;
    let _other_ws = other.ws().await;
    let mut third = user.ws().await;
    // The oldest is closed with a reason.
    let deadline = tokio::time::Instant::now() + T;
    let close = loop {
        match tokio::time::timeout_at(deadline, first.inner.next()).await {
            Ok(Some(Ok(WsMessage::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("the oldest socket was not closed with a reason: {other:?}"),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 4009);
    assert_eq!(close.reason.as_str(), "too many connections");
    // The newer two still work.
    for ws in [&mut second, &mut third] {
        ws.send(&ClientFrame::Ping { nonce: 7 }).await;
        ws.wait_for("pong", T, |f| matches!(f, ServerFrame::Pong { .. }))
            .await;
    }
    assert_eq!(app.state.hub.connections(user.id()).len(), 2);
    assert_eq!(app.state.hub.connections(other.id()).len(), 1);
}

#[tokio::test]
async fn weak_passwords_and_invisible_characters_are_refused() {
    let app = spawn_app().await;
    for (body, field) in [
        (
            json!({"username": unique("weak"), "password": "password123"}),
            "password",
        ),
        (
            json!({"username": unique("weak"), "password": "Qwertyuiop"}),
            "password",
        ),
        (
            json!({"username": unique("spoof"), "password": "tulip lantern", "display_name": "admin\u{202E}nimda"}),
            "display_name",
        ),
        (
            json!({"username": unique("spoof"), "password": "tulip lantern", "display_name": "ad\u{200B}min"}),
            "display_name",
        ),
        (
            json!({"username": unique("spoof"), "password": "tulip lantern", "display_name": "\u{2066}bob\u{2069}"}),
            "display_name",
        ),
    ] {
        let a = post(&app, "/api/auth/register", body.clone()).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(a.body["error"]["field"], field, "{}", a.body);
    }
    let a = app.register("plain").await;
    let b = app.register("friend").await;
    let conv = a.direct_with(&b).await;
    for id in ["id\u{200B}1", "\u{FEFF}id2", "id\u{202E}3", "id\u{2060}4"] {
        let (s, v) = a
            .post(
                &format!("/api/conversations/{}/messages", conv.id),
                json!({"client_msg_id": id, "content": "hello"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{id:?}");
        assert_eq!(v["error"]["field"], "client_msg_id", "{v}");
    }
    // Ordinary non-ASCII ids still pass.
    a.send_http(conv.id, "идентификатор-1", "hello").await;
}
