//! Heartbeat, acknowledgement timeouts, slow consumers, rate limits, origin check.

use std::time::Duration;

use app::protocol::{ClientFrame, ReplayReason, ServerFrame};
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use courier::delivery::Fanout;

use crate::helpers::*;

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_heartbeat_timeout() {
    let app = spawn_app_with(|c| {
        c.delivery.heartbeat_timeout_secs = 1;
        c.delivery.heartbeat_interval_secs = 30;
    })
    .await;
    let a = app.register("ha").await;
    let mut ws = a.ws_raw().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let mut closed = false;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
        if matches!(
            msg,
            Err(_) | Ok(tokio_tungstenite::tungstenite::Message::Close(_))
        ) {
            closed = true;
            break;
        }
    }
    assert!(closed, "the server closed the half-open connection");
    assert!(!app.state.hub.is_online(a.id()));

    // A client that keeps talking stays connected.
    let mut ws = a.ws().await;
    for n in 0..4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        ws.send(&ClientFrame::Ping { nonce: n }).await;
        ws.wait_for("pong", T, |f| matches!(f, ServerFrame::Pong { .. }))
            .await;
    }
    assert!(app.state.hub.is_online(a.id()));
}

#[tokio::test]
async fn a_push_not_acknowledged_in_time_is_marked_failed_with_its_error() {
    let app = spawn_app_with(|c| c.delivery.ack_timeout_secs = 1).await;
    let a = app.register("fa").await;
    let b = app.register("fb").await;
    let conv = a.direct_with(&b).await;
    let mut bw = b.ws().await;
    bw.caught_up().await;
    let m = a.send_http(conv.id, "f1", "ack me").await.message;
    bw.wait_for("live", T, |f| matches!(f, ServerFrame::Message { .. }))
        .await;
    // B never acknowledges.
    let mut record = serde_json::Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, d) = a.get("/api/diagnostics").await;
        record = d["recent_sent_records"][0].clone();
        if record["push_status"] == "failed" {
            break;
        }
    }
    assert_eq!(record["push_status"], "failed", "{record}");
    assert_eq!(record["message_id"], m.id);
    assert_eq!(record["retry_count"], 1);
    assert!(record["error_message"]
        .as_str()
        .unwrap()
        .contains("not acknowledged"));
    // A late acknowledgement still counts: failed → pushed.
    bw.send(&ClientFrame::Ack {
        message_ids: vec![m.id],
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, d) = a.get("/api/diagnostics").await;
    assert_eq!(d["recent_sent_records"][0]["push_status"], "pushed");
}

#[tokio::test]
async fn a_slow_consumer_is_disconnected_and_loses_nothing() {
    slow_consumer_loses_nothing(|c| c.delivery.outbox_capacity = 16).await;
}

/// The outbox is bounded in bytes too: few frames, but big ones, also make a slow consumer.
#[tokio::test]
async fn a_slow_consumer_past_the_byte_bound_is_disconnected_and_loses_nothing() {
    slow_consumer_loses_nothing(|c| {
        c.delivery.outbox_capacity = 100_000;
        c.delivery.outbox_max_bytes = 256 * 1024;
    })
    .await;
}

async fn slow_consumer_loses_nothing(configure: impl FnOnce(&mut courier::config::Config)) {
    let app = spawn_app_with(configure).await;
    let a = app.register("sa").await;
    let b = app.register("sb").await;
    let conv = a.direct_with(&b).await;
    let mut slow = b.ws().await;
    slow.caught_up().await;
    // B stops reading. A sends far more than the socket buffers and the outbox hold, reading
    // its own acknowledgements as it goes (A's outbox is small too).
    let mut aw = a.ws().await;
    aw.caught_up().await;
    let n = 1500;
    let body = "x".repeat(3000);
    for chunk in 0..n / 10 {
        for i in chunk * 10..chunk * 10 + 10 {
            aw.send(&ClientFrame::Send {
                client_msg_id: format!("s{i}"),
                conversation_id: conv.id,
                content: body.clone(),
            })
            .await;
        }
        let mut acks = 0;
        while acks < 10 {
            if let ServerFrame::Sent { .. } = aw.next(Duration::from_secs(20)).await.expect("acks")
            {
                acks += 1;
            }
        }
    }
    let mut gone = false;
    for _ in 0..50 {
        if !app.state.hub.is_online(b.id()) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the slow consumer was disconnected");
    drop(slow);
    // Everything is replayed on the next connection.
    let mut bw = b.ws().await;
    let mut seqs = Vec::new();
    loop {
        match bw.next(Duration::from_secs(20)).await.expect("replay") {
            ServerFrame::Batch {
                reason: ReplayReason::Pending,
                messages,
                ..
            } => {
                let ids = messages.iter().map(|m| m.id).collect();
                seqs.extend(messages.iter().map(|m| m.seq));
                bw.send(&ClientFrame::Ack { message_ids: ids }).await;
            }
            ServerFrame::CaughtUp { .. } => break,
            _ => {}
        }
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs, (1..=n as i64).collect::<Vec<_>>());
}

#[tokio::test]
async fn sends_beyond_the_rate_limit_get_a_clear_error() {
    let app = spawn_app_with(|c| {
        c.delivery.send_rate_per_sec = 2.0;
        c.delivery.send_burst = 3.0;
    })
    .await;
    let a = app.register("la").await;
    let b = app.register("lb").await;
    let conv = a.direct_with(&b).await;
    let mut ws = a.ws().await;
    ws.caught_up().await;
    for i in 0..4 {
        ws.send(&ClientFrame::Send {
            client_msg_id: format!("l{i}"),
            conversation_id: conv.id,
            content: "hi".into(),
        })
        .await;
    }
    let f = ws
        .wait_for("rate limited", T, |f| {
            matches!(f, ServerFrame::Error { .. })
        })
        .await;
    let ServerFrame::Error {
        code,
        client_msg_id,
        retry_after_ms,
        ..
    } = f
    else {
        unreachable!()
    };
    assert_eq!(code, "rate_limited");
    assert_eq!(client_msg_id.as_deref(), Some("l3"));
    assert!(retry_after_ms.unwrap() > 0);
    let res = reqwest::Client::new()
        .post(app.url(&format!("/api/conversations/{}/messages", conv.id)))
        .header("cookie", format!("courier_session={}", a.token))
        .json(&json!({"client_msg_id": "l9", "content": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn websockets_from_other_origins_are_refused() {
    let app = spawn_app().await;
    let a = app.register("xa").await;
    let url = format!("{}/ws", app.base.replace("http://", "ws://"));
    let mut req = url.clone().into_client_request().unwrap();
    req.headers_mut().insert(
        "cookie",
        format!("courier_session={}", a.token).parse().unwrap(),
    );
    req.headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "cookie",
        format!("courier_session={}", a.token).parse().unwrap(),
    );
    req.headers_mut()
        .insert("origin", app.base.parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(req).await.is_ok(),
        "same origin is fine"
    );
}

/// A backlog of long messages drains, however its pages compare with the outbox's byte bound:
/// pages are cut by bytes too, so the replaying connection is never taken for a slow consumer
/// (which would start the same replay over on every reconnect).
#[tokio::test]
async fn a_backlog_of_long_messages_drains_without_tripping_the_byte_bound() {
    let app = spawn_app_with(|c| c.delivery.outbox_max_bytes = 256 * 1024).await;
    let a = app.register("la_long").await;
    let b = app.register("lb_long").await;
    let conv = a.direct_with(&b).await;
    // 1,200 messages of 4,000 three-byte characters: about 14 MiB, a few MiB per 500-page.
    let body = "字".repeat(app::model::MAX_CONTENT_CHARS);
    let mut aw = a.ws().await;
    aw.caught_up().await;
    let n = 1200;
    for chunk in 0..n / 10 {
        // Ten at a time: each `sent` carries the message, and A's outbox is bounded too.
        for i in chunk * 10..chunk * 10 + 10 {
            aw.send(&ClientFrame::Send {
                client_msg_id: format!("long{i}"),
                conversation_id: conv.id,
                content: body.clone(),
            })
            .await;
        }
        let mut acks = 0;
        while acks < 10 {
            if let ServerFrame::Sent { .. } = aw.next(Duration::from_secs(20)).await.expect("acks")
            {
                acks += 1;
            }
        }
    }
    let mut bw = b.ws().await;
    let mut seqs = Vec::new();
    let mut largest = 0usize;
    loop {
        match bw
            .next(Duration::from_secs(20))
            .await
            .expect("replay goes on")
        {
            ServerFrame::Batch {
                reason: ReplayReason::Pending,
                messages,
                ..
            } => {
                let bytes: usize = messages
                    .iter()
                    .map(|m| m.content.as_ref().map_or(0, String::len))
                    .sum();
                largest = largest.max(bytes);
                seqs.extend(messages.iter().map(|m| m.seq));
                bw.send(&ClientFrame::Ack {
                    message_ids: messages.iter().map(|m| m.id).collect(),
                })
                .await;
            }
            ServerFrame::CaughtUp { .. } => break,
            _ => {}
        }
    }
    assert_eq!(
        seqs,
        (1..=n as i64).collect::<Vec<_>>(),
        "all, in order, once"
    );
    assert!(
        largest <= 64 * 1024,
        "a page holds at most a quarter of the byte bound: {largest}"
    );
    assert!(
        app.state.hub.is_online(b.id()),
        "the replaying connection was never closed"
    );
}
