//! One user must not be able to exhaust the server, and the browser-side protections hold:
//! bounded sync, throttled typing, the frame budget, CSRF and origin checks, session revocation
//! reaching open sockets, cookie hardening, exposure of metrics and diagnostics, security
//! headers, writer health, and recall scrubbing the database files.

use std::time::Duration;

use app::protocol::{ClientFrame, ReplayReason, ResumePoint, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

/// Waits for the server to close the socket; returns the close code (None: closed without one).
async fn close_code(ws: &mut Ws, within: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.inner.next()).await {
            Err(_) => panic!("the socket was not closed within {within:?}"),
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(WsMessage::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().post(app.url(path));
    if let Some(c) = cookie {
        req = req.header("cookie", format!("courier_session={c}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// docs/API.md §1: every POST needs `Content-Type: application/json`, with a body or without
/// one — a cross-site form (`text/plain`, form types) never reaches a handler.
#[tokio::test]
async fn every_post_refuses_a_body_that_is_not_declared_json() {
    let app = spawn_app().await;
    let a = app.register("ct_a").await;
    let b = app.register("ct_b").await;
    let conv = a.direct_with(&b).await;
    let m = a.send_http(conv.id, "ct-1", "hi").await.message;
    let (_, g) = a
        .post(
            "/api/conversations/group",
            json!({"title": "CT", "member_ids": [b.id()]}),
        )
        .await;
    let gid = g["id"].as_i64().unwrap();
    let paths = [
        "/api/auth/register".to_string(),
        "/api/auth/login".to_string(),
        "/api/auth/logout".to_string(),
        "/api/auth/logout-all".to_string(),
        "/api/auth/password".to_string(),
        "/api/conversations/direct".to_string(),
        "/api/conversations/group".to_string(),
        format!("/api/conversations/{}/messages", conv.id),
        format!("/api/conversations/{}/read", conv.id),
        format!("/api/conversations/{}/mute", conv.id),
        format!("/api/conversations/{gid}/leave"),
        format!("/api/messages/{}/recall", m.id),
        "/api/offline-messages/ack".to_string(),
        "/api/offline-messages/read".to_string(),
        "/api/diagnostics/push-records".to_string(),
    ];
    for path in &paths {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let mut req = reqwest::Client::new()
                .post(app.url(path))
                .header("cookie", format!("courier_session={}", a.token))
                .body("{}");
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let res = req.send().await.unwrap();
            let status = res.status();
            let v: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} with {content_type:?}: {v}"
            );
            assert_eq!(v["error"]["code"], "unsupported_media_type", "{path}: {v}");
        }
    }
    // Still logged in, nothing happened: the message is not recalled, b is still in the group.
    let (s, h) = a
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert!(!h.to_string().contains("\"recalled\":true"), "{h}");
    // The body-less ones accept an empty body once it is declared JSON.
    for path in ["/api/offline-messages/read", "/api/auth/logout-all"] {
        let res = reqwest::Client::new()
            .post(app.url(path))
            .header("cookie", format!("courier_session={}", a.token))
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
    }
}

// ---------------------------------------------------------------------------------------------
// No amplification

/// The review's probe: one 10 KiB `sync` frame naming one 100-message conversation 250 times,
/// from a client that never reads. The server is a separate process so its RSS is its own.
/// Before the fix the server queued every tail 250 times (RSS +100 MB); now the points are
/// de-duplicated, pages are ack-gated and the outbox is bounded in bytes. Bound: 24 MiB.
#[tokio::test]
async fn one_sync_frame_cannot_make_the_server_queue_without_bound() {
    let server = ServerProcess::start(&[]).await;
    let a = server.register("amp_a").await;
    let b = server.register("amp_b").await;
    let conv = a.direct_with(&b).await;
    let content = "x".repeat(4000);
    for i in 0..100 {
        a.send_http(conv.id, &format!("amp-{i}"), &content).await;
    }
    let before = server.rss_kib();
    let mut ws = a.ws_raw().await.unwrap();
    let points: Vec<ResumePoint> = (0..250)
        .map(|_| ResumePoint {
            conversation_id: conv.id,
            after_rev: 0,
        })
        .collect();
    let frame = serde_json::to_string(&ClientFrame::Sync {
        conversations: points,
    })
    .unwrap();
    assert!(frame.len() > 9_000, "about the review's 10 KiB frame");
    ws.send(WsMessage::Text(frame.into())).await.unwrap();
    // Never read; watch the server's memory for a few seconds.
    let bound_kib = 24 * 1024;
    let mut peak = before;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(server.rss_kib());
        assert!(
            peak - before < bound_kib,
            "server RSS grew by {} KiB (bound {bound_kib} KiB)",
            peak - before
        );
    }
    println!(
        "sync amplification: server RSS {before} KiB before, peak {peak} KiB within 4 s (+{} KiB; bound {bound_kib} KiB)",
        peak - before
    );
    drop(ws);
}

/// Sync pages wait for acks, a sync stops at its cap with `more`, and continues on request.
#[tokio::test]
async fn sync_is_deduplicated_ack_gated_and_capped() {
    let app = spawn_app_with(|c| {
        c.delivery.replay_page_size = 10;
        c.delivery.sync_max_messages = 30;
    })
    .await;
    let a = app.register("sg_a").await;
    let b = app.register("sg_b").await;
    let conv = a.direct_with(&b).await;
    for i in 0..50 {
        a.send_http(conv.id, &format!("sg-{i}"), &format!("m{i}"))
            .await;
    }
    let mut ws = a.ws().await;
    ws.caught_up().await; // the (empty) pending replay of the sender
    let p = |after| ResumePoint {
        conversation_id: conv.id,
        after_rev: after,
    };
    ws.send(&ClientFrame::Sync {
        conversations: vec![p(5), p(0), p(20), p(0)],
    })
    .await;
    // Without acks: two pages, then nothing.
    let mut got = Vec::new();
    for _ in 0..2 {
        match ws.next(T).await.unwrap() {
            ServerFrame::Batch {
                reason: ReplayReason::Sync,
                messages,
                ..
            } => got.extend(messages),
            other => panic!("expected a sync page, got {other:?}"),
        }
    }
    assert!(
        ws.quiet_for(Duration::from_millis(500), |_| true).await,
        "no third page before acks"
    );
    let seqs: Vec<i64> = got.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=20).collect::<Vec<_>>(),
        "once, from the lowest point"
    );
    ws.send(&ClientFrame::Ack {
        message_ids: got.iter().map(|m| m.id).collect(),
    })
    .await;
    let mut last_page = Vec::new();
    loop {
        match ws.next(T).await.unwrap() {
            ServerFrame::Batch { messages, .. } => last_page.extend(messages),
            ServerFrame::CaughtUp {
                reason: ReplayReason::Sync,
                replayed,
                more,
            } => {
                assert_eq!(replayed, 30, "capped");
                assert!(more, "the client is told to continue");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(last_page.last().unwrap().seq, 30);
    ws.send(&ClientFrame::Sync {
        conversations: vec![p(30)],
    })
    .await;
    // A client acknowledges every page (as ours does) and gets the rest, then `more: false`.
    let mut rest = Vec::new();
    loop {
        match ws.next(T).await.unwrap() {
            ServerFrame::Batch { messages, .. } => {
                let ids = messages.iter().map(|m| m.id).collect();
                rest.extend(messages);
                ws.send(&ClientFrame::Ack { message_ids: ids }).await;
            }
            ServerFrame::CaughtUp {
                reason: ReplayReason::Sync,
                replayed,
                more,
            } => {
                assert_eq!((replayed, more), (20, false));
                break;
            }
            // The first sync re-ran the (empty) pending replay.
            ServerFrame::CaughtUp {
                reason: ReplayReason::Pending,
                ..
            } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let seqs: Vec<i64> = rest.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (31..=50).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------------
// Typing and the frame budget

#[tokio::test]
async fn typing_is_relayed_once_per_interval() {
    let app = spawn_app().await;
    let a = app.register("ty_a").await;
    let b = app.register("ty_b").await;
    let conv = a.direct_with(&b).await;
    let mut aw = a.ws().await;
    let mut bw = b.ws().await;
    bw.caught_up().await;
    for _ in 0..50 {
        aw.send(&ClientFrame::Typing {
            conversation_id: conv.id,
        })
        .await;
    }
    bw.wait_for("typing", T, |f| matches!(f, ServerFrame::Typing { .. }))
        .await;
    assert!(
        bw.quiet_for(Duration::from_millis(1000), |f| matches!(
            f,
            ServerFrame::Typing { .. }
        ))
        .await,
        "49 more typing frames within the interval were dropped"
    );
}

#[tokio::test]
async fn a_flood_of_frames_is_slowed_down_not_answered_at_once() {
    let app = spawn_app_with(|c| {
        c.delivery.frame_rate_per_sec = 20.0;
        c.delivery.frame_burst = 20.0;
    })
    .await;
    let a = app.register("fl_a").await;
    let mut ws = a.ws().await;
    for nonce in 0..100 {
        ws.send(&ClientFrame::Ping { nonce }).await;
    }
    let mut pongs = 0;
    let first_second = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Some(f) = ws.next(first_second - tokio::time::Instant::now()).await {
        if matches!(f, ServerFrame::Pong { .. }) {
            pongs += 1;
        }
    }
    assert!(
        pongs <= 45,
        "{pongs} pongs in the first second (burst 20 + 20/s)"
    );
    assert!(pongs >= 15, "the burst is answered at once ({pongs})");
    // The connection stays open and every frame is answered in time.
    while pongs < 100 {
        match ws.next(Duration::from_secs(5)).await {
            Some(ServerFrame::Pong { .. }) => pongs += 1,
            Some(_) => {}
            None => panic!("closed after {pongs} pongs"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CSRF and origins

#[tokio::test]
async fn cross_origin_mutations_are_refused() {
    let app = spawn_app().await;
    let a = app.register("cs_a").await;
    let b = app.register("cs_b").await;
    let own = app.base.clone();
    let body = || Some(json!({"user_id": b.id()}));
    let path = "/api/conversations/direct";
    for (h, v) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("origin", &own.replace("http://", "https://")),
        ("sec-fetch-site", "same-site"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let (s, v2) = post_raw(&app, path, Some(&a.token), &[(h, v)], body()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{h}: {v}");
        assert_eq!(v2["error"]["code"], "cross_origin");
    }
    let (s, _) = post_raw(&app, path, Some(&a.token), &[("origin", &own)], body()).await;
    assert_eq!(s, StatusCode::OK, "same origin");
    let (s, _) = post_raw(
        &app,
        path,
        Some(&a.token),
        &[("sec-fetch-site", "same-origin")],
        body(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Body-less mutations need the JSON content type like the others.
    let conv = a.direct_with(&b).await;
    let m = a.send_http(conv.id, "cs-1", "hi").await.message;
    for path in [
        format!("/api/messages/{}/recall", m.id),
        "/api/offline-messages/read".to_string(),
        "/api/auth/logout".to_string(),
    ] {
        let (s, v) = post_raw(&app, &path, Some(&a.token), &[], None).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}: {v}");
    }
    let (s, _) = a
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(s, StatusCode::OK, "still logged in");
    let (s, v) = a
        .post(&format!("/api/messages/{}/recall", m.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn websocket_origin_compares_scheme_host_and_port() {
    let app = spawn_app().await;
    let a = app.register("wo_a").await;
    let url = format!("{}/ws", app.base.replace("http://", "ws://"));
    let open = |origin: String| {
        let mut req = url.clone().into_client_request().unwrap();
        req.headers_mut().insert(
            "cookie",
            format!("courier_session={}", a.token).parse().unwrap(),
        );
        req.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    assert!(open(app.base.clone()).await.is_ok(), "own origin");
    assert!(open(app.base.replace("http://", "https://")).await.is_err());
    let other_port = app.base.rsplit_once(':').unwrap().0.to_string() + ":1";
    assert!(open(other_port).await.is_err());
}

// ---------------------------------------------------------------------------------------------
// Sessions

#[tokio::test]
async fn logout_closes_that_sessions_sockets_only() {
    let app = spawn_app().await;
    let a = app.register("lo_a").await;
    let (s, v) = post_raw(
        &app,
        "/api/auth/login",
        None,
        &[],
        Some(json!({"username": a.user.username, "password": "correct horse"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut first = a.ws().await;
    let other_res = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": a.user.username, "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let other = TestUser {
        token: session_cookie(&other_res).unwrap(),
        user: a.user.clone(),
        base: app.base.clone(),
        http: reqwest::Client::new(),
    };
    let mut second = other.ws().await;
    let (s, _) = a.post("/api/auth/logout", json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        close_code(&mut first, Duration::from_secs(2)).await,
        Some(4001)
    );
    // The other session's socket lives on.
    second.send(&ClientFrame::Ping { nonce: 7 }).await;
    second
        .wait_for("pong", T, |f| {
            matches!(f, ServerFrame::Pong { nonce: 7, .. })
        })
        .await;
}

#[tokio::test]
async fn an_expired_sessions_socket_is_closed_within_two_seconds() {
    let app = spawn_app().await;
    let a = app.register("ex_a").await;
    let token = "e".repeat(64);
    let now = courier::clock::now_ms();
    app.state
        .store
        .create_session(
            &courier::accounts::hash_token(&token),
            a.id(),
            now,
            now + 1500,
        )
        .await
        .unwrap();
    let short = TestUser {
        token,
        user: a.user.clone(),
        base: app.base.clone(),
        http: reqwest::Client::new(),
    };
    let mut ws = short.ws().await;
    let t0 = std::time::Instant::now();
    assert_eq!(
        close_code(&mut ws, Duration::from_secs(5)).await,
        Some(4001)
    );
    assert!(
        t0.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t0.elapsed()
    );
    // The daily cleanup deletes the expired row.
    app.state.delivery.cleanup(now + 2000).await.unwrap();
    assert!(app
        .state
        .store
        .session_user(&courier::accounts::hash_token(&"e".repeat(64)), 0)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn logout_everywhere_and_password_change_revoke_sessions_and_sockets() {
    let app = spawn_app().await;
    let a = app.register("pw_a").await;
    let login = |password: &'static str| {
        let app_url = app.url("/api/auth/login");
        let username = a.user.username.clone();
        async move {
            reqwest::Client::new()
                .post(app_url)
                .json(&json!({"username": username, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    let phone = TestUser {
        token: session_cookie(&login("correct horse").await).unwrap(),
        user: a.user.clone(),
        base: app.base.clone(),
        http: reqwest::Client::new(),
    };
    let mut phone_ws = phone.ws().await;
    // A wrong current password changes nothing.
    let (s, _) = a
        .post(
            "/api/auth/password",
            json!({"current_password": "wrong one!", "new_password": "battery staple 2"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let res = reqwest::Client::new()
        .post(app.url("/api/auth/password"))
        .header("cookie", format!("courier_session={}", a.token))
        .json(&json!({"current_password": "correct horse", "new_password": "battery staple 2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let fresh = session_cookie(&res).expect("a new session for the caller");
    let revoked: Value = res.json().await.unwrap();
    assert_eq!(revoked["sessions"], 2);
    assert_eq!(
        close_code(&mut phone_ws, Duration::from_secs(2)).await,
        Some(4001)
    );
    assert_eq!(phone.get("/api/auth/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(a.get("/api/auth/me").await.0, StatusCode::UNAUTHORIZED);
    let me = TestUser {
        token: fresh,
        ..phone
    };
    assert_eq!(me.get("/api/auth/me").await.0, StatusCode::OK);
    assert_eq!(
        login("correct horse").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login("battery staple 2").await.status(), StatusCode::OK);
    // Log out everywhere.
    let mut ws = me.ws().await;
    let (s, v) = me.post("/api/auth/logout-all", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sessions"], 2, "this one and the login above");
    assert_eq!(
        close_code(&mut ws, Duration::from_secs(2)).await,
        Some(4001)
    );
    assert_eq!(me.get("/api/auth/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_hardening() {
    let app = spawn_app().await;
    let a = app.register("ck_a").await;
    let res = reqwest::Client::new()
        .get(app.url("/api/auth/me"))
        .header(
            "cookie",
            format!("courier_session={}; courier_session=attacker", a.token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "duplicate_session_cookie");

    let app = spawn_app_with(|c| c.secure_cookies = true).await;
    let res = reqwest::Client::new()
        .post(app.url("/api/auth/register"))
        .json(&json!({"username": unique("ck_s"), "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-courier_session="), "{cookie}");
    assert!(cookie.contains("; Secure") && cookie.contains("Path=/"));
    assert!(!cookie.contains("Domain"));
    let token = cookie
        .trim_start_matches("__Host-courier_session=")
        .split(';')
        .next()
        .unwrap();
    let me = |c: String| {
        reqwest::Client::new()
            .get(app.url("/api/auth/me"))
            .header("cookie", c)
            .send()
    };
    let ok = me(format!("__Host-courier_session={token}")).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let plain = me(format!("courier_session={token}")).await.unwrap();
    assert_eq!(
        plain.status(),
        StatusCode::UNAUTHORIZED,
        "only the __Host- name counts"
    );
}

// ---------------------------------------------------------------------------------------------
// Exposure and headers

#[tokio::test]
async fn metrics_and_server_wide_diagnostics_are_for_operators() {
    let app = spawn_app().await;
    let a = app.register("op_a").await;
    let res = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "not on the public listener"
    );
    assert!(app
        .metrics_text()
        .await
        .contains("courier_messages_sent_total"));
    let (s, d) = a.get("/api/diagnostics").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        d.get("server").is_none() && d.get("online_users").is_none(),
        "{d}"
    );

    let app = spawn_app_with(|c| c.metrics_token = Some("s3cret".into())).await;
    let get = |auth: &'static str| {
        reqwest::Client::new()
            .get(app.url("/metrics"))
            .header("authorization", auth)
            .send()
    };
    assert_eq!(
        get("Bearer nope").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(get("Bearer s3cret").await.unwrap().status(), StatusCode::OK);
    let boss = app.register_as("op_boss").await;
    app.grant_operator(&boss).await;
    let (_, d) = boss.get("/api/diagnostics").await;
    assert!(
        d["server"]["pending"].is_number() && d["online_users"].is_number(),
        "{d}"
    );
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/message-test", "/api/auth/me", "/healthz"] {
        let res = reqwest::get(app.url(path)).await.unwrap();
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("'wasm-unsafe-eval'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
    }
}

#[tokio::test]
async fn healthz_reports_the_writer_and_the_database() {
    let app = spawn_app().await;
    let v: Value = reqwest::get(app.url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["writer"], "ok");
    assert_eq!(v["database"], "ok");
    assert_eq!(
        v["backend"],
        if on_postgres() { "postgres" } else { "sqlite" }
    );
    assert!(app.state.delivery.writer_alive().await);
}

// ---------------------------------------------------------------------------------------------
// Recall scrubs the disk

#[tokio::test]
async fn recalled_text_is_not_left_in_the_database_files() {
    if on_postgres() {
        // PostgreSQL's files are the server's (old row versions stay until VACUUM; see README).
        eprintln!("recalled_text_is_not_left_in_the_database_files: SQLite's files only; skipped on PostgreSQL");
        return;
    }
    let app = spawn_app().await;
    let a = app.register("sc_a").await;
    let b = app.register("sc_b").await;
    let conv = a.direct_with(&b).await;
    // Long enough (about 12 KB) to spill into overflow pages, with a marker at both ends.
    let tag = unique("s");
    let secret = format!("SECRET-{tag}-{}-END-{tag}", "密".repeat(3900));
    let m = a.send_http(conv.id, "sc-1", &secret).await.message;
    let head = format!("SECRET-{tag}-");
    let tail = format!("-END-{tag}");
    let files = || {
        let dir = app.dir.path().join("data");
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("courier.db")
            })
            .collect::<Vec<_>>()
    };
    let holds = |needle: &[u8]| {
        files().iter().any(|p| {
            std::fs::read(p)
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle)
        })
    };
    assert!(
        holds(head.as_bytes()) && holds(tail.as_bytes()),
        "the text is on disk before the recall"
    );
    let (s, v) = a
        .post(&format!("/api/messages/{}/recall", m.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for part in [head, tail, "密".repeat(20)] {
        assert!(
            !holds(part.as_bytes()),
            "recalled text {part:?} left in {:?}",
            files()
        );
    }
}

// ---------------------------------------------------------------------------------------------

/// The release or debug `courier` binary as its own process (for memory measurements).
struct ServerProcess {
    child: tokio::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    async fn start(extra_env: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let dist = dir.path().join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("index.html"), "<!doctype html><title>t</title>").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_courier"));
        cmd.current_dir(dir.path())
            .env_clear()
            .env("COURIER_ADDR", format!("127.0.0.1:{port}"))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/data/c.db", dir.path().display()),
            )
            .env("COURIER_DIST_DIR", &dist)
            .env("COURIER_METRICS_ADDR", "127.0.0.1:0")
            .env("COURIER_SCHEDULER_ENABLED", "false")
            .env("COURIER_SQLITE_SYNCHRONOUS", "normal")
            .env("COURIER_SEND_RATE_PER_SEC", "100000")
            .env("COURIER_SEND_BURST", "100000")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("courier binary starts");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if reqwest::get(format!("{base}/healthz")).await.is_ok() {
                return ServerProcess {
                    child,
                    base,
                    _dir: dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the courier binary did not answer /healthz");
    }

    fn rss_kib(&self) -> i64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    async fn register(&self, name: &str) -> TestUser {
        let username = unique(name);
        let res = reqwest::Client::new()
            .post(format!("{}/api/auth/register", self.base))
            .json(&json!({"username": username, "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        TestUser {
            token: session_cookie(&res).unwrap(),
            user: res.json().await.unwrap(),
            base: self.base.clone(),
            http: reqwest::Client::new(),
        }
    }
}

#[tokio::test]
async fn the_session_endpoint_answers_200_logged_out_and_names_operators() {
    let app = spawn_app().await;
    // Logged out: 200, nobody — not a 401.
    let res = reqwest::get(app.url("/api/auth/session")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"user": null, "operator": false}));
    // A cookie that names no session: the same.
    let res = reqwest::Client::new()
        .get(app.url("/api/auth/session"))
        .header("cookie", "courier_session=not-a-session")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["user"], Value::Null);
    // Logged in: the user, and whether they are an operator.
    let alice = app.register("alice").await;
    let (s, body) = alice.get("/api/auth/session").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["id"], json!(alice.user.id));
    assert_eq!(body["operator"], json!(false));
    // An operator (tests/api/operators.rs has how one is made).
    let boss = app.register_as("op_boss").await;
    app.grant_operator(&boss).await;
    let (_, body) = boss.get("/api/auth/session").await;
    assert_eq!(body["operator"], json!(true));
}

/// `/message-test`'s offline test watches exactly its own messages, however many: 60 here, more
/// than the 50 recent records `/api/diagnostics` lists (it used to wait for ever past 50).
#[tokio::test]
async fn push_records_counts_exactly_the_callers_messages_however_many() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let conv = alice.direct_with(&bob).await.id;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(
            alice
                .send_http(conv, &format!("pr-{i}"), "offline")
                .await
                .message
                .id,
        );
    }
    let theirs = bob
        .send_http(conv, "pr-bob", "not alice's")
        .await
        .message
        .id;
    let mut asked = ids.clone();
    asked.push(theirs);
    asked.push(ids[0]); // a repeat counts once
    let (s, v) = alice
        .post(
            "/api/diagnostics/push-records",
            json!({"message_ids": asked}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"pending": 60, "pushed": 0, "failed": 0}));

    // Bob comes online and takes them all: every one pushed.
    let mut ws = bob.ws().await;
    let got = ws.drain().await;
    assert!(got.len() >= 60);
    // The acknowledgements commit a moment later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = alice
            .post("/api/diagnostics/push-records", json!({"message_ids": ids}))
            .await;
        if v == json!({"pending": 0, "pushed": 60, "failed": 0}) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never all pushed: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Too many ids: a clear error.
    let many: Vec<i64> = (1..=1001).collect();
    let (s, v) = alice
        .post(
            "/api/diagnostics/push-records",
            json!({"message_ids": many}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "message_ids");
}
