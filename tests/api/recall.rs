use std::time::Duration;

use app::protocol::{ClientFrame, ServerFrame};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn recall_reaches_online_members_at_once_and_offline_ones_on_resume() {
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
    aw.send(&ClientFrame::Recall { message_id: m1.id }).await;
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
    bw.send(&ClientFrame::Ack {
        message_ids: vec![m1.id],
    })
    .await;

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
    tokio::time::sleep(Duration::from_millis(100)).await;
    bw.close().await;
    let (s, recalled) = a
        .post(&format!("/api/messages/{}/recall", m2.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(recalled["recalled"], true);
    assert!(recalled["content"].is_null());

    let mut bw = b.ws().await;
    let f = bw
        .wait_for("replayed recall", T, |f| {
            matches!(f, ServerFrame::Batch { .. })
        })
        .await;
    let ServerFrame::Batch { messages, .. } = f else {
        unreachable!()
    };
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].id, m2.id);
    assert!(
        messages[0].recalled && messages[0].content.is_none(),
        "never the original content"
    );

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
