//! `POST /api/conversations/{id}/mute`: a member's own flag, on every `Conversation` they are
//! shown, and only theirs.

use std::time::Duration;

use app::model::Conversation;
use app::protocol::ServerFrame;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// A new session of `user` (a fresh login, as on another device).
async fn relogin(app: &TestApp, user: &TestUser) -> TestUser {
    let res = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": user.user.username, "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let token = session_cookie(&res).expect("session cookie");
    assert_ne!(token, user.token, "a new session");
    TestUser {
        user: user.user.clone(),
        token,
        base: user.base.clone(),
        http: reqwest::Client::new(),
    }
}

fn listed(list: &serde_json::Value, id: i64) -> serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("conversation {id} listed: {list}"))
}

#[tokio::test]
async fn mute_is_the_callers_alone_and_survives_relogin() {
    let app = spawn_app().await;
    let a = app.register("mua").await;
    let b = app.register("mub").await;
    let c = app.register("muc").await;
    let conv = a.direct_with(&b).await;
    assert!(!conv.muted, "not muted by default");
    let (s, g) = a
        .post(
            "/api/conversations/group",
            json!({"title": "Team", "member_ids": [b.id(), c.id()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    assert_eq!(g["muted"], false);
    let gid = g["id"].as_i64().unwrap();

    // Alice's other tab hears of it; Bob's does not.
    let mut a_ws = a.ws().await;
    a_ws.caught_up().await;
    let mut b_ws = b.ws().await;
    b_ws.caught_up().await;

    let (s, v) = a
        .post(
            &format!("/api/conversations/{}/mute", conv.id),
            json!({"muted": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let muted: Conversation = serde_json::from_value(v).unwrap();
    assert_eq!(muted.id, conv.id);
    assert!(muted.muted);
    assert_eq!(muted.title, b.user.display_name, "the caller's view");

    let f = a_ws
        .wait_for("conversation frame", Duration::from_secs(5), |f| {
            matches!(f, ServerFrame::Conversation { conversation } if conversation.id == conv.id)
        })
        .await;
    let ServerFrame::Conversation { conversation } = f else {
        unreachable!()
    };
    assert!(conversation.muted);
    assert!(
        b_ws.quiet_for(Duration::from_millis(500), |f| matches!(
            f,
            ServerFrame::Conversation { .. }
        ))
        .await,
        "no frame to the other member"
    );

    // Alice sees it muted everywhere; the group is not; Bob sees nothing muted.
    let (_, one) = a.get(&format!("/api/conversations/{}", conv.id)).await;
    assert_eq!(one["muted"], true);
    let (_, list) = a.get("/api/conversations").await;
    assert_eq!(listed(&list, conv.id)["muted"], true);
    assert_eq!(listed(&list, gid)["muted"], false);
    let (_, list) = b.get("/api/conversations").await;
    assert_eq!(listed(&list, conv.id)["muted"], false);
    let (_, one) = b.get(&format!("/api/conversations/{}", conv.id)).await;
    assert_eq!(one["muted"], false);

    // A message's conversation frames (as every member is sent them) keep each one's flag.
    b.send_http(conv.id, "m1", "hello").await;
    let (_, list) = a.get("/api/conversations").await;
    assert_eq!(listed(&list, conv.id)["muted"], true);
    assert_eq!(
        listed(&list, conv.id)["unread"],
        1,
        "still counted by the server"
    );

    // A group muted by Bob: frames announcing it to members carry each member's own flag.
    let (s, v) = b
        .post(
            &format!("/api/conversations/{gid}/mute"),
            json!({"muted": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["muted"], true);
    let (s, _) = c
        .post(&format!("/api/conversations/{gid}/leave"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let f = b_ws
        .wait_for("group frame", Duration::from_secs(5), |f| {
            matches!(f, ServerFrame::Conversation { conversation } if conversation.id == gid && conversation.members.len() == 2)
        })
        .await;
    assert!(matches!(f, ServerFrame::Conversation { conversation } if conversation.muted));
    let f = a_ws
        .wait_for("group frame", Duration::from_secs(5), |f| {
            matches!(f, ServerFrame::Conversation { conversation } if conversation.id == gid && conversation.members.len() == 2)
        })
        .await;
    assert!(matches!(f, ServerFrame::Conversation { conversation } if !conversation.muted));

    // A new session (another device) sees the same.
    let a2 = relogin(&app, &a).await;
    let (_, list) = a2.get("/api/conversations").await;
    assert_eq!(listed(&list, conv.id)["muted"], true);

    // Unmute.
    let (s, v) = a2
        .post(
            &format!("/api/conversations/{}/mute", conv.id),
            json!({"muted": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["muted"], false);
    let (_, list) = a.get("/api/conversations").await;
    assert_eq!(listed(&list, conv.id)["muted"], false);
}

#[tokio::test]
async fn mute_needs_membership_and_a_valid_body() {
    let app = spawn_app().await;
    let a = app.register("mva").await;
    let b = app.register("mvb").await;
    let c = app.register("mvc").await;
    let conv = a.direct_with(&b).await;
    let path = format!("/api/conversations/{}/mute", conv.id);

    for who in [&c] {
        let (s, e) = who.post(&path, json!({"muted": true})).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
        assert_eq!(e["error"]["code"], "not_found");
    }
    let (s, _) = a
        .post("/api/conversations/999999/mute", json!({"muted": true}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The outsider's attempt changed nothing.
    let (_, one) = a.get(&format!("/api/conversations/{}", conv.id)).await;
    assert_eq!(one["muted"], false);

    for body in [json!({}), json!({"muted": "yes"}), json!({"muted": null})] {
        let (s, e) = a.post(&path, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["code"], "invalid_input", "{body}: {e}");
    }
    // Not JSON at all.
    let (status, e) = a.post_raw(&path, "text/plain", "muted=true").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(e["error"]["code"], "unsupported_media_type");
    // Logged out.
    let res = reqwest::Client::new()
        .post(app.url(&path))
        .json(&json!({"muted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
