use std::time::Duration;

use app::model::Message;
use app::protocol::{ClientFrame, ReplayReason, ResumePoint, ServerFrame};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// Frames until `caught_up` of `reason`, acknowledging every batch; returns the batches'
/// messages.
async fn replay_until_caught_up(ws: &mut Ws, reason: ReplayReason) -> Vec<Message> {
    let mut out = Vec::new();
    loop {
        match ws.next(T).await.expect("replay frames") {
            ServerFrame::Batch {
                reason: r,
                messages,
                ..
            } if r == reason => {
                let ids = messages.iter().map(|m| m.id).collect();
                out.extend(messages);
                ws.send(&ClientFrame::Ack { message_ids: ids }).await;
            }
            ServerFrame::CaughtUp { reason: r, .. } if r == reason => return out,
            _ => {}
        }
    }
}

/// What `sync` from `after_rev` in `conversation` brings back (acknowledged).
async fn sync_from(ws: &mut Ws, conversation: i64, after_rev: i64) -> Vec<Message> {
    ws.send(&ClientFrame::Sync {
        conversations: vec![ResumePoint {
            conversation_id: conversation,
            after_rev,
        }],
    })
    .await;
    replay_until_caught_up(ws, ReplayReason::Sync).await
}

#[tokio::test]
async fn recall_reaches_online_members_at_once_and_offline_ones_by_sync() {
    let app = spawn_app().await;
    let a = app.register("ra").await;
    let b = app.register("rb").await;
    let conv = a.direct_with(&b).await;
    let mut bw = b.ws().await;
    bw.caught_up().await;
    let m1 = a.send_http(conv.id, "r1", "oops, wrong chat").await.message;
    let f = bw
        .wait_for("live", T, |f| matches!(f, ServerFrame::Message { .. }))
        .await;
    assert!(matches!(f, ServerFrame::Message { .. }));
    bw.send(&ClientFrame::Ack {
        message_ids: vec![m1.id],
    })
    .await;

    let mut aw = a.ws().await;
    aw.caught_up().await;
    aw.send(&ClientFrame::Recall {
        message_id: m1.id,
        client_op_id: Some("ws-recall-1".into()),
    })
    .await;
    bw.wait_for(
        "recalled",
        T,
        |f| matches!(f, ServerFrame::Recalled { message_id, .. } if *message_id == m1.id),
    )
    .await;
    aw.wait_for("recalled (own tab)", T, |f| {
        matches!(f, ServerFrame::Recalled { .. })
    })
    .await;
    // The live `recalled` awaits no acknowledgement: nothing is in flight on B's connection,
    // and acknowledging it (as clients do, harmlessly) finds no record to move.
    let (_, d) = b.get("/api/diagnostics").await;
    assert_eq!(d["connections"][0]["in_flight"], 0, "{d}");
    let (_, r) = b
        .post(
            "/api/offline-messages/ack",
            json!({ "message_ids": [m1.id] }),
        )
        .await;
    assert_eq!(r["acknowledged"], 0, "no recall record to acknowledge: {r}");

    // The second one is recalled while B is offline, after B had received it.
    let m2 = a.send_http(conv.id, "r2", "secret plans").await.message;
    bw.wait_for(
        "live",
        T,
        |f| matches!(f, ServerFrame::Message { message } if message.id == m2.id),
    )
    .await;
    bw.send(&ClientFrame::Ack {
        message_ids: vec![m2.id],
    })
    .await;
    assert_eq!(b.pending_after_settling().await, 0);
    bw.close().await;
    let (s, recalled) = a
        .post(&format!("/api/messages/{}/recall", m2.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(recalled["recalled"], true);
    assert!(recalled["content"].is_null());
    let recall_rev = recalled["rev"].as_i64().unwrap();
    assert!(recall_rev > m2.rev, "the recall is a later change");

    // On connect nothing waits for B: the recall left no record to replay.
    let mut bw = b.ws().await;
    let pending = replay_until_caught_up(&mut bw, ReplayReason::Pending).await;
    assert!(
        pending.is_empty(),
        "no recall in the pending replay: {pending:?}"
    );
    // B held the log through m2's insert; `sync` from there brings m2 back, recalled.
    let changed = sync_from(&mut bw, conv.id, m2.rev).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!((changed[0].id, changed[0].rev), (m2.id, recall_rev));
    assert!(
        changed[0].recalled && changed[0].content.is_none(),
        "never the original content"
    );
    // From before m1, both come back recalled, in the order of their recalls.
    let all = sync_from(&mut bw, conv.id, 0).await;
    assert_eq!(
        all.iter().map(|m| (m.id, m.recalled)).collect::<Vec<_>>(),
        vec![(m1.id, true), (m2.id, true)]
    );
    assert!(all.iter().all(|m| m.content.is_none()));

    // History never serves recalled content, to anyone.
    for u in [&a, &b] {
        let (_, page) = u
            .get(&format!("/api/conversations/{}/messages", conv.id))
            .await;
        let text = page.to_string();
        assert!(
            !text.contains("secret plans") && !text.contains("wrong chat"),
            "{text}"
        );
        assert_eq!(page["messages"][0]["recalled"], true);
        assert_eq!(
            page["messages"][1]["seq"], 2,
            "recalled messages keep their place"
        );
    }
    let (_, list) = b.get("/api/conversations").await;
    assert_eq!(list[0]["unread"], 0, "recalled messages are not unread");
}

/// A recall writes no push record: what waits for a recipient is only ever messages. Offline
/// during the recall, the recipient's records are the message's own and nothing besides; once
/// the message is acknowledged nothing waits, and an offline recipient who had acknowledged it
/// before the recall has nothing waiting at all (the old recall records did wait).
#[tokio::test]
async fn a_recall_leaves_no_push_record_of_its_own() {
    let app = spawn_app().await;
    let a = app.register("nr_a").await;
    let b = app.register("nr_b").await;
    let conv = a.direct_with(&b).await;

    // Recalled before B ever had it: only the message's own record waits, already recalled.
    let m1 = a.send_http(conv.id, "nr1", "never seen").await.message;
    let (s, _) = a
        .post(&format!("/api/messages/{}/recall", m1.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, d) = b.get("/api/diagnostics").await;
    assert_eq!(
        d["my_records"],
        json!({"pending": 1, "pushed": 0, "failed": 0}),
        "the message's own record, nothing besides: {d}"
    );
    let (_, page) = b.get("/api/offline-messages").await;
    assert_eq!(page["pending_total"], 1, "{page}");
    assert_eq!(page["messages"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["messages"][0]["id"], m1.id);
    assert_eq!(page["messages"][0]["recalled"], true);
    assert!(page["messages"][0]["content"].is_null());
    let (_, r) = b
        .post(
            "/api/offline-messages/ack",
            json!({ "message_ids": [m1.id] }),
        )
        .await;
    assert_eq!(r["acknowledged"], 1, "one record, the message's: {r}");
    let (_, page) = b.get("/api/offline-messages").await;
    assert_eq!(
        (page["pending_total"].clone(), page["messages"].clone()),
        (json!(0), json!([])),
        "nothing waits once the message is acknowledged: {page}"
    );

    // Acknowledged, then recalled while B is offline: nothing waits for B at all.
    let m2 = a.send_http(conv.id, "nr2", "seen, then gone").await.message;
    let (_, r) = b
        .post(
            "/api/offline-messages/ack",
            json!({ "message_ids": [m2.id] }),
        )
        .await;
    assert_eq!(r["acknowledged"], 1);
    let (s, recalled) = a
        .post(&format!("/api/messages/{}/recall", m2.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = b.get("/api/offline-messages").await;
    assert_eq!(
        (page["pending_total"].clone(), page["messages"].clone()),
        (json!(0), json!([])),
        "the recall waits for nobody: {page}"
    );
    let (_, d) = b.get("/api/diagnostics").await;
    assert_eq!(
        d["my_records"],
        json!({"pending": 0, "pushed": 2, "failed": 0}),
        "two messages, two records: {d}"
    );
    // Still "delivered" for the sender: a recall changes nothing about that.
    let (_, receipts) = a.get(&format!("/api/messages/{}/receipts", m2.id)).await;
    assert_eq!(receipts["status"], "delivered", "{receipts}");
    assert_eq!(
        receipts["members"][0]["push_status"], "pushed",
        "{receipts}"
    );

    // B learns of it by `sync` from the rev it held.
    let mut bw = b.ws().await;
    let pending = replay_until_caught_up(&mut bw, ReplayReason::Pending).await;
    assert!(pending.is_empty(), "{pending:?}");
    let changed = sync_from(&mut bw, conv.id, m2.rev).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].id, m2.id);
    assert_eq!(Some(changed[0].rev), recalled["rev"].as_i64());
    assert!(changed[0].recalled && changed[0].content.is_none());
}

/// The live `recalled` frame is not a tracked delivery: a member whose device never
/// acknowledges it gets no failed record and no retry for it.
#[tokio::test]
async fn an_unacknowledged_recalled_frame_fails_nothing() {
    let app = spawn_app_with(|c| c.delivery.ack_timeout_secs = 1).await;
    let a = app.register("ua_a").await;
    let b = app.register("ua_b").await;
    let conv = a.direct_with(&b).await;
    let mut bw = b.ws().await;
    bw.caught_up().await;
    let m = a.send_http(conv.id, "ua1", "soon gone").await.message;
    bw.wait_for(
        "live",
        T,
        |f| matches!(f, ServerFrame::Message { message } if message.id == m.id),
    )
    .await;
    bw.send(&ClientFrame::Ack {
        message_ids: vec![m.id],
    })
    .await;
    assert_eq!(b.pending_after_settling().await, 0);
    let (s, _) = a
        .post(&format!("/api/messages/{}/recall", m.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    bw.wait_for(
        "recalled",
        T,
        |f| matches!(f, ServerFrame::Recalled { message_id, .. } if *message_id == m.id),
    )
    .await;
    // Not acknowledged, well past the ack timeout.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, d) = b.get("/api/diagnostics").await;
    assert_eq!(d["connections"][0]["in_flight"], 0, "{d}");
    assert_eq!(
        d["my_records"],
        json!({"pending": 0, "pushed": 1, "failed": 0}),
        "{d}"
    );
    assert_eq!(
        app.state
            .delivery
            .retry_sweep(courier::clock::now_ms() + 3_600_000)
            .await
            .unwrap(),
        Default::default(),
        "nothing to retry"
    );
}

#[tokio::test]
async fn only_the_sender_within_the_window() {
    let app = spawn_app_with(|c| c.delivery.recall_window_secs = 1).await;
    let a = app.register("wa").await;
    let b = app.register("wb").await;
    let conv = a.direct_with(&b).await;
    // Clients learn the window from `welcome`.
    let mut ws = a.ws_raw().await.unwrap();
    let first = futures_util::StreamExt::next(&mut ws)
        .await
        .unwrap()
        .unwrap();
    let welcome: app::protocol::ServerFrame =
        serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert!(
        matches!(
            welcome,
            app::protocol::ServerFrame::Welcome {
                recall_window_ms: 1000,
                ..
            }
        ),
        "{welcome:?}"
    );
    drop(ws);
    let m = a.send_http(conv.id, "w1", "mine").await.message;
    let (s, e) = b
        .post(&format!("/api/messages/{}/recall", m.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(e["error"]["code"], "recall_not_allowed");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, e) = a
        .post(&format!("/api/messages/{}/recall", m.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["error"]["code"], "recall_window_passed");
    let (_, page) = b
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(
        page["messages"][0]["content"], "mine",
        "a refused recall changes nothing"
    );
    let m2 = a.send_http(conv.id, "w2", "again").await.message;
    let (s, _) = a
        .post(&format!("/api/messages/{}/recall", m2.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, again) = a
        .post(&format!("/api/messages/{}/recall", m2.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "recalling twice is idempotent");
    assert_eq!(again["recalled"], true);
}
