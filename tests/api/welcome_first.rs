//! `welcome` is the first frame of every connection (docs/API.md §5.3), even when messages are
//! pushed to the user while it connects: devices reconnect in a tight loop while other users
//! send to them without pause, on one node (both backends) and across two nodes. Multi-threaded:
//! the server's tasks must really run side by side for a push to race the greeting.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

/// Reconnections in all, spread over the receivers.
const RECONNECTIONS: usize = 1000;
const RECEIVERS: usize = 4;
const SENDERS: usize = 3;

/// The first text frame of a fresh connection, parsed.
async fn first_frame(user: &TestUser) -> Value {
    let mut ws = user.ws_raw().await.expect("ws connects");
    let first = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => break serde_json::from_str(t.as_str()).unwrap(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no first frame: {other:?}"),
        }
    };
    let _ = ws.close(None).await;
    first
}

/// Runs the storm: `senders` post to a group holding every receiver until the receivers have
/// reconnected `RECONNECTIONS` times in all; returns (frames that came before `welcome`,
/// messages sent meanwhile).
async fn storm(senders: Vec<TestUser>, receivers: Vec<TestUser>, group: i64) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut sending = Vec::new();
    for (i, s) in senders.into_iter().enumerate() {
        let (stop, sent) = (stop.clone(), sent.clone());
        sending.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (st, v) = s
                    .post(
                        &format!("/api/conversations/{group}/messages"),
                        json!({"client_msg_id": format!("s{i}-{n}"), "content": format!("m {n}")}),
                    )
                    .await;
                assert!(st.is_success(), "{st} {v}");
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Wait until messages flow before the first reconnection.
    while sent.load(Ordering::Relaxed) < SENDERS {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut reconnecting = Vec::new();
    for r in receivers {
        reconnecting.push(tokio::spawn(async move {
            let mut wrong = Vec::new();
            for _ in 0..RECONNECTIONS / RECEIVERS {
                let f = first_frame(&r).await;
                if f["type"] != "welcome" {
                    wrong.push(f);
                }
            }
            wrong
        }));
    }
    let mut wrong = Vec::new();
    for r in reconnecting {
        wrong.extend(r.await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    for s in sending {
        s.await.unwrap();
    }
    if let Some(f) = wrong.first() {
        eprintln!(
            "first frame was not welcome {} times, e.g. {f}",
            wrong.len()
        );
    }
    (wrong.len(), sent.load(Ordering::Relaxed))
}

async fn users(app: &TestApp, prefix: &str, n: usize) -> Vec<TestUser> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(app.register(&format!("{prefix}{i}")).await);
    }
    out
}

async fn group_of(owner: &TestUser, others: &[&TestUser]) -> i64 {
    let ids: Vec<i64> = others.iter().map(|u| u.id()).collect();
    let (s, g) = owner
        .post(
            "/api/conversations/group",
            json!({"title": "storm", "member_ids": ids}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    g["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn welcome_comes_first_while_messages_arrive_during_reconnection() {
    let app = spawn_app().await;
    let senders: Vec<TestUser> = users(&app, "wf_s", SENDERS).await;
    let receivers: Vec<TestUser> = users(&app, "wf_r", RECEIVERS).await;
    let others: Vec<&TestUser> = senders[1..].iter().chain(receivers.iter()).collect();
    let group = group_of(&senders[0], &others).await;
    let (wrong, sent) = storm(senders, receivers, group).await;
    assert!(sent > 0, "messages were sent during the reconnections");
    assert_eq!(wrong, 0, "every connection's first frame is welcome");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn welcome_comes_first_across_nodes_while_messages_arrive() {
    let Some((_nats, n1, n2)) = crate::cluster::two_nodes().await else {
        return;
    };
    let senders: Vec<TestUser> = users(&n1, "wfc_s", SENDERS).await;
    // The receivers reconnect to the other node: every push to them crosses NATS.
    let receivers: Vec<TestUser> = users(&n1, "wfc_r", RECEIVERS)
        .await
        .into_iter()
        .map(|u| u.on(&n2))
        .collect();
    let others: Vec<&TestUser> = senders[1..].iter().chain(receivers.iter()).collect();
    let group = group_of(&senders[0], &others).await;
    let (wrong, sent) = storm(senders, receivers, group).await;
    assert!(sent > 0, "messages were sent during the reconnections");
    assert_eq!(wrong, 0, "every connection's first frame is welcome");
}
