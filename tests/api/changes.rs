//! Changes to existing messages go through the one writer like sends: each takes its
//! conversation's next rev in the batch's transaction and is recorded once per (actor,
//! client_op_id), so a retried change applies once — over HTTP and over the socket, on both
//! backends.

use std::time::Duration;

use app::protocol::{ClientFrame, ServerFrame};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_retried_change_applies_once_and_an_op_id_names_one_change() {
    let app = spawn_app().await;
    let alice = app.register("ch_alice").await;
    let bob = app.register("ch_bob").await;
    let conv = alice.direct_with(&bob).await;
    let m1 = alice.send_http(conv.id, "ch1", "one").await.message;
    let m2 = alice.send_http(conv.id, "ch2", "two").await.message;
    let mut bw = bob.ws().await;
    bw.drain().await;

    let recall = |id: i64, op: &str| {
        let alice = &alice;
        let body = json!({ "client_op_id": op });
        async move {
            alice
                .post(&format!("/api/messages/{id}/recall"), body)
                .await
        }
    };
    let (s, first) = recall(m1.id, "op-1").await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(
        (first["recalled"].clone(), first["rev"].clone()),
        (json!(true), json!(3))
    );
    // The retry: the same answer, no new rev, no second frame.
    let (s, again) = recall(m1.id, "op-1").await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again, first);
    let (_, c) = bob.get(&format!("/api/conversations/{}", conv.id)).await;
    assert_eq!(c["last_rev"], 3, "one change, however often it is sent");
    bw.wait_for(
        "the recall",
        T,
        |f| matches!(f, ServerFrame::Recalled { message_id, .. } if *message_id == m1.id),
    )
    .await;
    assert!(
        bw.quiet_for(Duration::from_millis(300), |f| matches!(
            f,
            ServerFrame::Recalled { .. }
        ))
        .await,
        "the retry told nobody anything"
    );

    // The op id belongs to that change: naming another message with it is refused, and that
    // message is untouched.
    let (s, v) = recall(m2.id, "op-1").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "client_op_id_reused");
    let (_, page) = bob
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(page["messages"][1]["recalled"], false, "{page}");

    // Over the socket, the same rules; a bad op id is refused with the field named.
    let mut aw = alice.ws().await;
    aw.caught_up().await;
    for op in ["", "has space", &"x".repeat(65)] {
        aw.send(&ClientFrame::Recall {
            message_id: m2.id,
            client_op_id: Some(op.to_string()),
        })
        .await;
        let f = aw
            .wait_for("the refusal", T, |f| matches!(f, ServerFrame::Error { .. }))
            .await;
        let ServerFrame::Error {
            code,
            field,
            message_id,
            ..
        } = f
        else {
            unreachable!()
        };
        assert_eq!(
            (code.as_str(), field.as_deref(), message_id),
            ("invalid_input", Some("client_op_id"), Some(m2.id)),
            "op id {op:?}"
        );
    }
    for _ in 0..2 {
        aw.send(&ClientFrame::Recall {
            message_id: m2.id,
            client_op_id: Some("ws-op-2".into()),
        })
        .await;
    }
    bw.wait_for("the socket's recall", T, |f| {
        matches!(f, ServerFrame::Recalled { message_id, rev, .. } if *message_id == m2.id && *rev == 4)
    })
    .await;
    assert!(
        bw.quiet_for(Duration::from_millis(300), |f| matches!(
            f,
            ServerFrame::Recalled { .. }
        ))
        .await,
        "sent twice, applied once"
    );
    let (_, c) = bob.get(&format!("/api/conversations/{}", conv.id)).await;
    assert_eq!(c["last_rev"], 4);
    let (s, v) = alice
        .post(
            &format!("/api/messages/{}/recall", m2.id),
            json!({ "client_op_id": 7 }),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_input");
}

#[tokio::test]
async fn changes_and_sends_share_a_batch_and_the_log_stays_gap_free() {
    let app = spawn_app().await;
    let alice = app.register("cb_alice").await;
    let bob = app.register("cb_bob").await;
    let conv = alice.direct_with(&bob).await;
    let mut ids = Vec::new();
    for k in 0..20 {
        ids.push(
            alice
                .send_http(conv.id, &format!("cb{k}"), "x")
                .await
                .message
                .id,
        );
    }
    // Sends and recalls at once, so that the writer batches them together.
    let mut tasks = Vec::new();
    for (k, id) in ids.iter().enumerate().take(10) {
        let a = alice.clone();
        let (cid, id) = (conv.id, *id);
        tasks.push(tokio::spawn(async move {
            let (s, v) = a
                .post(&format!("/api/messages/{id}/recall"), json!({}))
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            a.send_http(cid, &format!("cb-more{k}"), "y").await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, page) = bob
        .get(&format!(
            "/api/conversations/{}/messages?limit=100",
            conv.id
        ))
        .await;
    let mut revs: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rev"].as_i64().unwrap())
        .collect();
    revs.sort_unstable();
    // 30 messages and 10 recalls: the recalled messages carry their recall's rev, so the
    // messages' revs are 40 distinct numbers out of 1..=40 — the 10 their inserts had are
    // superseded (messages.rev is each message's latest change).
    assert_eq!(revs.len(), 30);
    revs.dedup();
    assert_eq!(revs.len(), 30, "no two messages share a rev");
    assert!(revs.iter().all(|r| (1..=40).contains(r)), "{revs:?}");
    let (_, c) = bob.get(&format!("/api/conversations/{}", conv.id)).await;
    assert_eq!(c["last_rev"], 40);
}
