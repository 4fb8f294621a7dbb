//! sent → delivered → read, live on the sender's connections, forward only; groups need everyone.

use app::model::MessageStatus;
use app::protocol::{ClientFrame, ServerFrame};
use serde_json::json;

use crate::helpers::*;

fn status_of(f: &ServerFrame, id: i64, s: MessageStatus) -> bool {
    matches!(f, ServerFrame::Status { message_id, status, .. } if *message_id == id && *status == s)
}

#[tokio::test]
async fn delivered_when_a_device_acks_read_when_the_position_passes() {
    let app = spawn_app().await;
    let a = app.register("sa").await;
    let b = app.register("sb").await;
    let conv = a.direct_with(&b).await;
    let mut aw = a.ws().await;
    aw.caught_up().await;
    let ack = a.send_http(conv.id, "s1", "status please").await;
    assert_eq!(ack.message.status, MessageStatus::Sent);
    let id = ack.message.id;

    // B connects: the message is replayed; acknowledging it makes it delivered.
    let mut bw = b.ws().await;
    let f = bw
        .wait_for("batch", T, |f| matches!(f, ServerFrame::Batch { .. }))
        .await;
    assert!(matches!(f, ServerFrame::Batch { ref messages, .. } if messages[0].id == id));
    bw.send(&ClientFrame::Ack {
        message_ids: vec![id],
    })
    .await;
    aw.wait_for("delivered", T, |f| {
        status_of(f, id, MessageStatus::Delivered)
    })
    .await;

    let mut b_other_tab = b.ws().await;
    b_other_tab.caught_up().await;
    bw.send(&ClientFrame::Read {
        conversation_id: conv.id,
        seq: 1,
    })
    .await;
    aw.wait_for("read", T, |f| status_of(f, id, MessageStatus::Read))
        .await;
    // The reader's other tab learns the new read position.
    b_other_tab
        .wait_for("read position", T, |f| matches!(f, ServerFrame::ReadPosition { user_id, seq: 1, .. } if *user_id == b.id()))
        .await;
    // Forward only: reading less, or acknowledging again, changes nothing.
    bw.send(&ClientFrame::Read {
        conversation_id: conv.id,
        seq: 0,
    })
    .await;
    bw.send(&ClientFrame::Ack {
        message_ids: vec![id],
    })
    .await;
    assert!(
        aw.quiet_for(std::time::Duration::from_millis(300), |f| matches!(
            f,
            ServerFrame::Status { .. }
        ))
        .await
    );
    let (_, r) = a.get(&format!("/api/messages/{id}/receipts")).await;
    assert_eq!(r["status"], "read");
    let (_, page) = a
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(page["messages"][0]["status"], "read");
    // Reading past the end is clamped to the last message.
    let (_, pos) = b
        .post(
            &format!("/api/conversations/{}/read", conv.id),
            json!({"seq": 1000}),
        )
        .await;
    assert_eq!(pos["read_seq"], 1);
}

#[tokio::test]
async fn in_a_group_a_message_is_delivered_and_read_only_when_everyone_is() {
    let app = spawn_app().await;
    let a = app.register("ga").await;
    let b = app.register("gb").await;
    let c = app.register("gc").await;
    let (_, g) = a
        .post(
            "/api/conversations/group",
            json!({"title": "G", "member_ids": [b.id(), c.id()]}),
        )
        .await;
    let gid = g["id"].as_i64().unwrap();
    let mut aw = a.ws().await;
    aw.caught_up().await;
    let id = a.send_http(gid, "g1", "hi all").await.message.id;

    b.post("/api/offline-messages/ack", json!({"message_ids": [id]}))
        .await;
    let (_, r) = a.get(&format!("/api/messages/{id}/receipts")).await;
    assert_eq!(r["status"], "sent", "one of two is not enough");
    let per: Vec<(i64, bool)> = r["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user_id"].as_i64().unwrap(),
                m["delivered"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        per.contains(&(b.id(), true)) && per.contains(&(c.id(), false)),
        "{per:?}"
    );
    c.post("/api/offline-messages/ack", json!({"message_ids": [id]}))
        .await;
    aw.wait_for("delivered", T, |f| {
        status_of(f, id, MessageStatus::Delivered)
    })
    .await;

    b.post(&format!("/api/conversations/{gid}/read"), json!({"seq": 1}))
        .await;
    let (_, r) = a.get(&format!("/api/messages/{id}/receipts")).await;
    assert_eq!(r["status"], "delivered");
    c.post(&format!("/api/conversations/{gid}/read"), json!({"seq": 1}))
        .await;
    aw.wait_for("read", T, |f| status_of(f, id, MessageStatus::Read))
        .await;
}
