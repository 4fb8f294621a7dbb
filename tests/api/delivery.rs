//! Sending, idempotency, online push, multi-connection fan-out, offline replay.

use std::time::Duration;

use app::protocol::{ClientFrame, ReplayReason, ServerFrame};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn send(conv: i64, id: &str, text: &str) -> ClientFrame {
    ClientFrame::Send {
        client_msg_id: id.into(),
        conversation_id: conv,
        content: text.into(),
    }
}

#[tokio::test]
async fn send_over_ws_is_acknowledged_after_commit_and_pushed_to_every_connection() {
    let app = spawn_app().await;
    let a = app.register("wa").await;
    let b = app.register("wb").await;
    let conv = a.direct_with(&b).await;
    let mut a1 = a.ws().await;
    let mut a2 = a.ws().await;
    let mut b1 = b.ws().await;
    let mut b2 = b.ws().await;
    for w in [&mut a1, &mut a2, &mut b1, &mut b2] {
        w.caught_up().await;
    }
    a1.send(&send(conv.id, "c-1", "hello")).await;
    let sent = a1
        .wait_for("sent", T, |f| matches!(f, ServerFrame::Sent { .. }))
        .await;
    let ServerFrame::Sent {
        message, duplicate, ..
    } = sent
    else {
        unreachable!()
    };
    assert!(!duplicate);
    assert_eq!(message.seq, 1);
    // Committed before acknowledged: it is in the history already.
    let (_, page) = b
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(page["messages"][0]["id"], message.id);
    for w in [&mut b1, &mut b2, &mut a2] {
        let f = w
            .wait_for("message", T, |f| matches!(f, ServerFrame::Message { .. }))
            .await;
        let ServerFrame::Message { message: m } = f else {
            unreachable!()
        };
        assert_eq!(m.id, message.id);
        assert_eq!(m.content.as_deref(), Some("hello"));
    }
    assert!(
        a1.quiet_for(Duration::from_millis(200), |f| matches!(
            f,
            ServerFrame::Message { .. }
        ))
        .await,
        "no echo to the sending connection"
    );
}

#[tokio::test]
async fn a_repeated_client_msg_id_returns_the_original_and_stores_nothing() {
    let app = spawn_app().await;
    let a = app.register("da").await;
    let b = app.register("db").await;
    let conv = a.direct_with(&b).await;
    let first = a.send_http(conv.id, "same-id", "once").await;
    assert!(!first.duplicate);
    let again = a.send_http(conv.id, "same-id", "once").await;
    assert!(again.duplicate);
    assert_eq!(again.message, first.message);
    let mut ws = a.ws().await;
    ws.caught_up().await;
    ws.send(&send(conv.id, "same-id", "once")).await;
    let f = ws
        .wait_for("sent", T, |f| matches!(f, ServerFrame::Sent { .. }))
        .await;
    assert!(
        matches!(f, ServerFrame::Sent { duplicate: true, ref message, .. } if message.id == first.message.id)
    );
    let (_, page) = a
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    // The same new id twice back to back (typically one commit batch): stored once.
    for _ in 0..2 {
        ws.send(&send(conv.id, "twice", "pipelined")).await;
    }
    let mut dups = Vec::new();
    while dups.len() < 2 {
        if let ServerFrame::Sent {
            duplicate, message, ..
        } = ws.next(T).await.expect("acks")
        {
            dups.push((duplicate, message.id));
        }
    }
    assert_eq!(dups[0].1, dups[1].1, "one message");
    assert_eq!(
        dups.iter().filter(|d| d.0).count(),
        1,
        "exactly one duplicate"
    );
    // The same id for another conversation is refused, not silently merged.
    let c = app.register("dc").await;
    let other = a.direct_with(&c).await;
    let (s, e) = a
        .post(
            &format!("/api/conversations/{}/messages", other.id),
            json!({"client_msg_id": "same-id", "content": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["error"]["code"], "client_msg_id_reused");
}

#[tokio::test]
async fn bad_sends_get_clear_errors_and_the_connection_stays_open() {
    let app = spawn_app().await;
    let a = app.register("ba").await;
    let b = app.register("bb").await;
    let conv = a.direct_with(&b).await;
    let mut ws = a.ws().await;
    ws.caught_up().await;
    ws.send(&send(conv.id, "e1", "   ")).await;
    let f = ws
        .wait_for("error", T, |f| matches!(f, ServerFrame::Error { .. }))
        .await;
    assert!(
        matches!(f, ServerFrame::Error { ref code, ref client_msg_id, .. } if code == "invalid_input" && client_msg_id.as_deref() == Some("e1"))
    );
    ws.send(&send(conv.id, "e2", &"x".repeat(4001))).await;
    ws.wait_for(
        "too long",
        T,
        |f| matches!(f, ServerFrame::Error { client_msg_id: Some(c), .. } if c == "e2"),
    )
    .await;
    ws.send(&send(999_999, "e3", "hi")).await;
    ws.wait_for(
        "not found",
        T,
        |f| matches!(f, ServerFrame::Error { code, .. } if code == "not_found"),
    )
    .await;
    ws.send_text("{\"type\":\"warp_drive\"}").await;
    ws.wait_for(
        "unknown type",
        T,
        |f| matches!(f, ServerFrame::Error { code, .. } if code == "bad_frame"),
    )
    .await;
    ws.send_text("definitely not json").await;
    ws.wait_for(
        "not json",
        T,
        |f| matches!(f, ServerFrame::Error { code, .. } if code == "bad_frame"),
    )
    .await;
    ws.send(&ClientFrame::Ping { nonce: 42 }).await;
    ws.wait_for("pong", T, |f| {
        matches!(f, ServerFrame::Pong { nonce: 42, .. })
    })
    .await;
    ws.send(&send(conv.id, "e4", "still works")).await;
    ws.wait_for("sent", T, |f| matches!(f, ServerFrame::Sent { .. }))
        .await;
    let (_, page) = a
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(
        page["messages"].as_array().unwrap().len(),
        1,
        "nothing bad was stored"
    );
}

#[tokio::test]
async fn offline_messages_are_replayed_in_pages_on_connect_and_acknowledged() {
    let app = spawn_app_with(|c| c.delivery.replay_page_size = 7).await;
    let a = app.register("oa").await;
    let b = app.register("ob").await;
    let conv = a.direct_with(&b).await;
    for i in 0..20 {
        a.send_http(conv.id, &format!("m{i}"), &format!("offline {i}"))
            .await;
    }
    let (_, diag) = b.get("/api/diagnostics").await;
    assert_eq!(diag["my_records"]["pending"], 20);

    let mut ws = b.ws().await;
    let mut got = Vec::new();
    loop {
        match ws.next(T).await.expect("replay frames") {
            ServerFrame::Batch {
                reason: ReplayReason::Pending,
                messages,
                ..
            } => {
                assert!(messages.len() <= 7, "bounded pages");
                let ids = messages.iter().map(|m| m.id).collect();
                got.extend(messages);
                ws.send(&ClientFrame::Ack { message_ids: ids }).await;
            }
            ServerFrame::CaughtUp {
                reason: ReplayReason::Pending,
                replayed,
                ..
            } => {
                assert_eq!(replayed, 20);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let seqs: Vec<i64> = got.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=20).collect::<Vec<_>>(),
        "all, once, oldest first"
    );
    // Acknowledged → pushed; a new connection gets nothing more.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, diag) = b.get("/api/diagnostics").await;
    assert_eq!(diag["my_records"]["pending"], 0);
    assert_eq!(diag["my_records"]["pushed"], 20);
    ws.close().await;
    let mut again = b.ws().await;
    let f = again.next(T).await.unwrap();
    assert!(
        matches!(f, ServerFrame::CaughtUp { replayed: 0, .. }),
        "{f:?}"
    );
}

#[tokio::test]
async fn unacknowledged_messages_come_back_on_the_next_connection() {
    let app = spawn_app().await;
    let a = app.register("ua").await;
    let b = app.register("ub").await;
    let conv = a.direct_with(&b).await;
    let mut bw = b.ws().await;
    bw.caught_up().await;
    let ack = a.send_http(conv.id, "u1", "did you get this?").await;
    bw.wait_for("live", T, |f| matches!(f, ServerFrame::Message { .. }))
        .await;
    // Killed before acknowledging.
    drop(bw);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut bw = b.ws().await;
    let f = bw
        .wait_for("batch", T, |f| matches!(f, ServerFrame::Batch { .. }))
        .await;
    let ServerFrame::Batch { messages, .. } = f else {
        unreachable!()
    };
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].id, ack.message.id);
}

#[tokio::test]
async fn http_offline_endpoints_page_ack_and_mark_read() {
    let app = spawn_app().await;
    let a = app.register("ha").await;
    let b = app.register("hb").await;
    let conv = a.direct_with(&b).await;
    for i in 0..5 {
        a.send_http(conv.id, &format!("h{i}"), &format!("text {i}"))
            .await;
    }
    let (s, page) = b.get("/api/offline-messages?limit=3").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["messages"].as_array().unwrap().len(), 3);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["pending_total"], 5);
    let last = page["messages"][2]["id"].as_i64().unwrap();
    let (_, page2) = b
        .get(&format!("/api/offline-messages?limit=3&after={last}"))
        .await;
    assert_eq!(page2["messages"].as_array().unwrap().len(), 2);
    assert_eq!(page2["messages"][0]["seq"], 4);
    let ids: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    let (s, r) = b
        .post("/api/offline-messages/ack", json!({"message_ids": ids}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["acknowledged"], 3);
    let (_, r) = b
        .post("/api/offline-messages/ack", json!({"message_ids": ids}))
        .await;
    assert_eq!(r["acknowledged"], 0, "acknowledging twice changes nothing");
    let (_, left) = b.get("/api/offline-messages").await;
    assert_eq!(left["pending_total"], 2);
    let (s, read) = b.post("/api/offline-messages/read", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{read}");
    assert_eq!(read["positions"][0]["read_seq"], 5);
    let (_, left) = b.get("/api/offline-messages").await;
    assert_eq!(left["pending_total"], 0, "read implies delivered");
    let (_, list) = b.get("/api/conversations").await;
    assert_eq!(list[0]["unread"], 0);
    let (s, _) = b.get("/api/offline-messages?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn sync_replays_conversation_tails_after_resume_points() {
    let app = spawn_app().await;
    let a = app.register("sa").await;
    let b = app.register("sb").await;
    let conv = a.direct_with(&b).await;
    for i in 0..6 {
        a.send_http(conv.id, &format!("s{i}"), &format!("tail {i}"))
            .await;
    }
    let mut ws = b.ws().await;
    assert_eq!(ws.drain().await.len(), 6);
    ws.send(&ClientFrame::Sync {
        conversations: vec![app::protocol::ResumePoint {
            conversation_id: conv.id,
            after_rev: 4,
        }],
    })
    .await;
    let f = ws
        .wait_for("sync batch", T, |f| {
            matches!(
                f,
                ServerFrame::Batch {
                    reason: ReplayReason::Sync,
                    ..
                }
            )
        })
        .await;
    let ServerFrame::Batch { messages, .. } = f else {
        unreachable!()
    };
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![5, 6]
    );
    ws.wait_for("caught up", T, |f| {
        matches!(
            f,
            ServerFrame::CaughtUp {
                reason: ReplayReason::Sync,
                replayed: 2,
                ..
            }
        )
    })
    .await;
    // A sync also re-runs the pending replay; here nothing is waiting.
    ws.wait_for("caught up (pending)", T, |f| {
        matches!(
            f,
            ServerFrame::CaughtUp {
                reason: ReplayReason::Pending,
                replayed: 0,
                ..
            }
        )
    })
    .await;
    // A message pushed live but never acknowledged is replayed again on request.
    let late = a.send_http(conv.id, "s-late", "ack me later").await.message;
    ws.wait_for("live", T, |f| matches!(f, ServerFrame::Message { .. }))
        .await;
    ws.send(&ClientFrame::Sync {
        conversations: vec![],
    })
    .await;
    ws.wait_for("caught up (sync)", T, |f| {
        matches!(
            f,
            ServerFrame::CaughtUp {
                reason: ReplayReason::Sync,
                ..
            }
        )
    })
    .await;
    let f = ws
        .wait_for("pending replay", T, |f| {
            matches!(
                f,
                ServerFrame::Batch {
                    reason: ReplayReason::Pending,
                    ..
                }
            )
        })
        .await;
    assert!(
        matches!(f, ServerFrame::Batch { ref messages, .. } if messages.len() == 1 && messages[0].id == late.id)
    );
}
