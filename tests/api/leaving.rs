//! Leaving a group ends every window into it (docs/API.md §4.3): typing on a socket that typed
//! there before, and the sender-side views of `/api/diagnostics`.

use std::time::Duration;

use app::protocol::{ClientFrame, ServerFrame};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn group_of_three(app: &TestApp, prefix: &str) -> (TestUser, TestUser, TestUser, i64) {
    let a = app.register(&format!("{prefix}_a")).await;
    let b = app.register(&format!("{prefix}_b")).await;
    let c = app.register(&format!("{prefix}_c")).await;
    let (s, g) = a
        .post(
            "/api/conversations/group",
            json!({"title": "Windows", "member_ids": [b.id(), c.id()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    (a, b, c, g["id"].as_i64().unwrap())
}

async fn leave(u: &TestUser, gid: i64, ws: &mut Ws) {
    let (s, v) = u
        .post(&format!("/api/conversations/{gid}/leave"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    ws.wait_for("conversation_left", T, |f| {
        matches!(f, ServerFrame::ConversationLeft { conversation_id } if *conversation_id == gid)
    })
    .await;
}

#[tokio::test]
async fn typing_after_leaving_is_refused_on_a_socket_that_typed_there_before() {
    let app = spawn_app_with(|c| c.delivery.typing_interval_ms = 50).await;
    let (a, b, _c, gid) = group_of_three(&app, "lt").await;
    let mut a_ws = a.ws().await;
    a_ws.caught_up().await;
    let mut b_ws = b.ws().await;
    b_ws.caught_up().await;
    let typing = ClientFrame::Typing {
        conversation_id: gid,
    };
    a_ws.send(&typing).await;
    b_ws.wait_for(
        "a member's typing",
        T,
        |f| matches!(f, ServerFrame::Typing { user_id, .. } if *user_id == a.id()),
    )
    .await;

    leave(&a, gid, &mut a_ws).await;
    // Past the throttle interval, so nothing but membership can stop the notice.
    tokio::time::sleep(Duration::from_millis(120)).await;
    a_ws.send(&typing).await;
    match a_ws
        .wait_for("the refusal", T, |f| matches!(f, ServerFrame::Error { .. }))
        .await
    {
        ServerFrame::Error { code, .. } => assert_eq!(code, "not_found"),
        _ => unreachable!(),
    }
    assert!(
        b_ws.quiet_for(Duration::from_millis(500), |f| matches!(
            f,
            ServerFrame::Typing { .. }
        ))
        .await,
        "a notice from someone who left reached a member"
    );
    // A socket opened after leaving is refused too.
    let mut fresh = a.ws().await;
    fresh.caught_up().await;
    fresh.send(&typing).await;
    fresh
        .wait_for(
            "the refusal on a new socket",
            T,
            |f| matches!(f, ServerFrame::Error { code, .. } if code == "not_found"),
        )
        .await;
}

#[tokio::test]
async fn diagnostics_stop_showing_deliveries_of_a_group_the_sender_left() {
    let app = spawn_app().await;
    let (a, _b, _c, gid) = group_of_three(&app, "ld").await;
    // b and c are offline: each message leaves two pending records.
    let m1 = a.send_http(gid, "ld-1", "one").await.message;
    let m2 = a.send_http(gid, "ld-2", "two").await.message;
    // A direct conversation a stays in: its record must stay visible.
    let d = app.register("ld_d").await;
    let direct = a.direct_with(&d).await;
    let m3 = a.send_http(direct.id, "ld-3", "three").await.message;
    let ids = json!({"message_ids": [m1.id, m2.id, m3.id]});

    let (s, v) = a.get("/api/diagnostics").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sent_records"]["pending"], 5, "{v}");
    assert_eq!(v["recent_sent_records"].as_array().unwrap().len(), 5, "{v}");
    let (s, v) = a.post("/api/diagnostics/push-records", ids.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["pending"], 5, "{v}");

    let mut a_ws = a.ws().await;
    a_ws.caught_up().await;
    leave(&a, gid, &mut a_ws).await;

    let (_, v) = a.get("/api/diagnostics").await;
    assert_eq!(v["sent_records"]["pending"], 1, "{v}");
    let recent = v["recent_sent_records"].as_array().unwrap();
    assert_eq!(recent.len(), 1, "{v}");
    assert_eq!(recent[0]["message_id"], m3.id, "{v}");
    let (_, v) = a.post("/api/diagnostics/push-records", ids).await;
    assert_eq!(v["pending"], 1, "only the direct message's record: {v}");
}
