use app::model::MessageStatus;
use app::protocol::{ClientFrame, ServerFrame};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn direct_conversations_are_reopened_not_duplicated() {
    let app = spawn_app().await;
    let a = app.register("ca").await;
    let b = app.register("cb").await;
    let c1 = a.direct_with(&b).await;
    let c2 = b.direct_with(&a).await;
    assert_eq!(c1.id, c2.id);
    assert_eq!(
        c1.title, b.user.display_name,
        "a 1:1 is titled with the other member"
    );
    assert_eq!(c2.title, a.user.display_name);
    assert_eq!(c1.members.len(), 2);
    let (s, b) = a
        .post("/api/conversations/direct", json!({"user_id": a.id()}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) = a
        .post("/api/conversations/direct", json!({"user_id": 999_999}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn groups_list_and_unread_counts_are_derived() {
    let app = spawn_app().await;
    let a = app.register("ga").await;
    let b = app.register("gb").await;
    let c = app.register("gc").await;
    let (s, g) = a
        .post(
            "/api/conversations/group",
            json!({"title": "Team", "member_ids": [b.id(), c.id()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_i64().unwrap();
    assert_eq!(g["members"].as_array().unwrap().len(), 3);
    a.send_http(gid, "g1", "one").await;
    a.send_http(gid, "g2", "two").await;
    b.send_http(gid, "g3", "three").await;

    let (_, list) = c.get("/api/conversations").await;
    let conv = &list.as_array().unwrap()[0];
    assert_eq!(conv["unread"], 3);
    assert_eq!(conv["last_seq"], 3);
    assert_eq!(conv["last_message"]["content"], "three");
    let (_, list) = b.get("/api/conversations").await;
    assert_eq!(list[0]["unread"], 2, "own messages are never unread");
    let (s, _) = c
        .post(&format!("/api/conversations/{gid}/read"), json!({"seq": 2}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, list) = c.get("/api/conversations").await;
    assert_eq!(list[0]["unread"], 1);
    assert_eq!(list[0]["read_seq"], 2);

    for (body, field) in [
        (json!({"title": "", "member_ids": [b.id()]}), "title"),
        (json!({"title": "x", "member_ids": []}), "member_ids"),
        (json!({"title": "x", "member_ids": [424242]}), "member_ids"),
    ] {
        let (s, e) = a.post("/api/conversations/group", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["error"]["field"], field);
    }
    // A group title is a name everyone sees: it refuses what a display name refuses.
    for (title, rule) in [
        ("\u{202E}gnikcah", "format_chars"),
        ("Team\u{200B}", "format_chars"),
        ("a\u{2066}b", "format_chars"),
        ("\u{FEFF}bom", "format_chars"),
        ("a\u{7}b", "control_chars"),
        ("   ", "required"),
    ] {
        let (s, e) = a
            .post(
                "/api/conversations/group",
                json!({"title": title, "member_ids": [b.id()]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{title:?}: {e}");
        assert_eq!(e["error"]["field"], "title", "{e}");
        assert_eq!(e["error"]["rule"], rule, "{title:?}: {e}");
    }
    let (s, g) = a
        .post(
            "/api/conversations/group",
            json!({"title": "Zoë 🐱 李的群", "member_ids": [b.id()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
}

#[tokio::test]
async fn outsiders_get_404_not_403() {
    let app = spawn_app().await;
    let a = app.register("oa").await;
    let b = app.register("ob").await;
    let eve = app.register("oe").await;
    let conv = a.direct_with(&b).await;
    let ack = a.send_http(conv.id, "x1", "private").await;
    for path in [
        format!("/api/conversations/{}", conv.id),
        format!("/api/conversations/{}/messages", conv.id),
        format!("/api/messages/{}/receipts", ack.message.id),
        "/api/conversations/987654".to_string(),
    ] {
        let (s, body) = eve.get(&path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let (s, _) = eve
        .post(
            &format!("/api/conversations/{}/messages", conv.id),
            json!({"client_msg_id": "e1", "content": "hi"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = eve
        .post(
            &format!("/api/conversations/{}/read", conv.id),
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = eve
        .post(
            &format!("/api/messages/{}/recall", ack.message.id),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn user_search_finds_others_not_me() {
    let app = spawn_app().await;
    let a = app.register("searcher").await;
    let b = app.register("findme").await;
    let (s, found) = a
        .get(&format!("/api/users?q={}", &b.user.username[..6]))
        .await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(names.contains(&b.user.username.as_str()), "{names:?}");
    let (_, found) = a.get("/api/users?q=searcher").await;
    assert!(found.as_array().unwrap().iter().all(|u| u["id"] != a.id()));
    let (_, found) = a.get("/api/users?q=%25").await;
    assert!(
        found.as_array().unwrap().is_empty(),
        "LIKE wildcards match literally"
    );
}

fn is_conversation(f: &ServerFrame, id: i64) -> bool {
    matches!(f, ServerFrame::Conversation { conversation } if conversation.id == id)
}

#[tokio::test]
async fn a_member_who_leaves_stops_receiving_and_the_others_see_it() {
    let app = spawn_app().await;
    let a = app.register("la").await;
    let b = app.register("lb").await;
    let c = app.register("lc").await;
    let (s, g) = a
        .post(
            "/api/conversations/group",
            json!({"title": "Leavers", "member_ids": [b.id(), c.id()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_i64().unwrap();
    // Sent while b and c are offline: both have a pending record.
    let before = a.send_http(gid, "l1", "before").await;
    let mut c_ws = c.ws().await;
    c_ws.drain().await; // c acknowledges it; b never does
    let (_, waiting) = b.get("/api/offline-messages").await;
    assert_eq!(waiting["messages"].as_array().unwrap().len(), 1);

    let mut a_ws = a.ws().await;
    a_ws.caught_up().await;
    // b's tabs get "before" replayed but never acknowledge it.
    let mut b_tab1 = b.ws().await;
    let mut b_tab2 = b.ws().await;
    for tab in [&mut b_tab1, &mut b_tab2] {
        tab.wait_for("replay", T, |f| matches!(f, ServerFrame::Batch { .. }))
            .await;
    }

    let (s, left) = b
        .post(&format!("/api/conversations/{gid}/leave"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{left}");
    assert_eq!(left["conversation_id"], gid);

    // Both of b's tabs forget it.
    for tab in [&mut b_tab1, &mut b_tab2] {
        tab.wait_for("conversation_left", T, |f| {
            matches!(f, ServerFrame::ConversationLeft { conversation_id } if *conversation_id == gid)
        })
        .await;
    }
    // The others get the conversation again, without b.
    for ws in [&mut a_ws, &mut c_ws] {
        let f = ws
            .wait_for("conversation", T, |f| is_conversation(f, gid))
            .await;
        let ServerFrame::Conversation { conversation } = f else {
            unreachable!()
        };
        let ids: Vec<i64> = conversation.members.iter().map(|m| m.user_id).collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert!(!ids.contains(&b.id()), "{ids:?}");
        assert_eq!(conversation.title, "Leavers");
    }
    // b was the only one who had not received "before": it is delivered now (the status
    // frame comes before the conversation frame, so look at what a has seen too).
    let delivered = |f: &ServerFrame| {
        matches!(f, ServerFrame::Status { message_id, status, .. }
            if *message_id == before.message.id && *status == MessageStatus::Delivered)
    };
    if !a_ws.seen.iter().any(delivered) {
        a_ws.wait_for("delivered status", T, delivered).await;
    }

    // b's waiting record there is gone, and b can no longer see or use the group.
    let (_, waiting) = b.get("/api/offline-messages").await;
    assert!(
        waiting["messages"].as_array().unwrap().is_empty(),
        "{waiting}"
    );
    let (_, list) = b.get("/api/conversations").await;
    assert!(list.as_array().unwrap().iter().all(|c| c["id"] != gid));
    for path in [
        format!("/api/conversations/{gid}"),
        format!("/api/conversations/{gid}/messages"),
        format!("/api/messages/{}/receipts", before.message.id),
    ] {
        let (s, body) = b.get(&path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    for (path, body) in [
        (
            format!("/api/conversations/{gid}/messages"),
            json!({"client_msg_id": "b1", "content": "still here?"}),
        ),
        (format!("/api/conversations/{gid}/read"), json!({"seq": 1})),
        (format!("/api/conversations/{gid}/leave"), json!({})),
    ] {
        let (s, _) = b.post(&path, body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    b_tab1
        .send(&ClientFrame::Send {
            client_msg_id: "b2".into(),
            conversation_id: gid,
            content: "over the socket".into(),
        })
        .await;
    let f = b_tab1
        .wait_for("send refused", T, |f| {
            matches!(f, ServerFrame::Error { .. })
        })
        .await;
    assert!(
        matches!(&f, ServerFrame::Error { code, client_msg_id: Some(id), .. } if code == "not_found" && id == "b2"),
        "{f:?}"
    );

    // New messages reach c, never b: no push, no record.
    a.send_http(gid, "l2", "after").await;
    c_ws.wait_for(
        "after",
        T,
        |f| matches!(f, ServerFrame::Message { message } if message.client_msg_id == "l2"),
    )
    .await;
    assert!(
        b_tab2
            .quiet_for(std::time::Duration::from_millis(500), |f| matches!(
                f,
                ServerFrame::Message { .. } | ServerFrame::Conversation { .. }
            ))
            .await
    );
    let (_, waiting) = b.get("/api/offline-messages").await;
    assert!(
        waiting["messages"].as_array().unwrap().is_empty(),
        "{waiting}"
    );
    let (_, stats) = b.get("/api/diagnostics").await;
    assert_eq!(stats["my_records"]["pending"], 0, "{stats}");
    assert_eq!(stats["my_records"]["failed"], 0, "{stats}");
    // The others' history keeps b's membership out of the receipts too.
    let (_, receipts) = a
        .get(&format!("/api/messages/{}/receipts", before.message.id))
        .await;
    let ids: Vec<i64> = receipts["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![c.id()]);
}

#[tokio::test]
async fn leaving_is_for_members_of_groups_only() {
    let app = spawn_app().await;
    let a = app.register("ma").await;
    let b = app.register("mb").await;
    let eve = app.register("me").await;
    let direct = a.direct_with(&b).await;
    let (s, e) = b
        .post(
            &format!("/api/conversations/{}/leave", direct.id),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["code"], "direct_conversation");
    let (_, g) = a
        .post(
            "/api/conversations/group",
            json!({"title": "Club", "member_ids": [b.id()]}),
        )
        .await;
    let gid = g["id"].as_i64().unwrap();
    // An outsider cannot tell a group they are not in from one that does not exist.
    let (s1, e1) = eve
        .post(&format!("/api/conversations/{gid}/leave"), json!({}))
        .await;
    let (s2, e2) = eve.post("/api/conversations/987654/leave", json!({})).await;
    assert_eq!((s1, s2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(e1, e2);
    let (s, _) = eve
        .post(
            &format!("/api/conversations/{}/leave", direct.id),
            json!({}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "outsiders get 404 for direct ones too"
    );
    let (s, e) = b.post("/api/conversations/abc/leave", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    // Like every mutation it must be JSON (a cross-site form cannot send that).
    let (status, body) = b
        .post_raw(
            &format!("/api/conversations/{gid}/leave"),
            "text/plain",
            "{}",
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let (_, still) = b.get(&format!("/api/conversations/{gid}")).await;
    assert_eq!(still["members"].as_array().unwrap().len(), 2);

    // The creator may leave; so may the last member (the group stays, with nobody in it).
    let (s, _) = a
        .post(&format!("/api/conversations/{gid}/leave"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, seen) = b.get(&format!("/api/conversations/{gid}")).await;
    assert_eq!(seen["members"].as_array().unwrap().len(), 1);
    let (s, _) = b
        .post(&format!("/api/conversations/{gid}/leave"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = b.get(&format!("/api/conversations/{gid}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn creating_conversations_is_rate_limited_per_user() {
    let app = spawn_app_with(|c| {
        c.conversations.group_create_burst = 3.0;
        c.conversations.group_create_rate_per_sec = 0.01;
        c.conversations.direct_create_burst = 2.0;
        c.conversations.direct_create_rate_per_sec = 0.01;
    })
    .await;
    let a = app.register("ra").await;
    let b = app.register("rb").await;
    let others = [
        app.register("r1").await,
        app.register("r2").await,
        app.register("r3").await,
    ];
    let group = json!({"title": "Spam", "member_ids": [b.id()]});
    for _ in 0..3 {
        let (s, e) = a.post("/api/conversations/group", group.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
    }
    // Invalid requests are refused before the limit and cost nothing.
    let (s, _) = a
        .post(
            "/api/conversations/group",
            json!({"title": "", "member_ids": [b.id()]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let res = a
        .http
        .post(format!("{}/api/conversations/group", a.base))
        .header("cookie", format!("courier_session={}", a.token))
        .json(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=100).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["retry_after_secs"], retry_after, "{body}");
    // Per user: b is not affected.
    let (s, _) = b
        .post(
            "/api/conversations/group",
            json!({"title": "Mine", "member_ids": [a.id()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // New direct conversations have their own bucket; reopening one is free.
    a.direct_with(&others[0]).await;
    a.direct_with(&others[1]).await;
    let (s, e) = a
        .post(
            "/api/conversations/direct",
            json!({"user_id": others[2].id()}),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{e}");
    assert_eq!(e["error"]["code"], "rate_limited");
    let again = a.direct_with(&others[0]).await;
    assert_eq!(again.members.len(), 2);
    // The other side may still start it (their bucket is full).
    let c = others[2].direct_with(&a).await;
    assert_eq!(c.title, a.user.display_name);

    let metrics = app.state.metrics.encode();
    assert!(
        metrics.contains("conversation_creations_rate_limited_total{outcome=\"group\"} 1"),
        "{metrics}"
    );

    // The limits are configurable from the environment.
    let env = |k: &str| match k {
        "COURIER_GROUP_CREATE_BURST" => Some("4".to_string()),
        "COURIER_DIRECT_CREATE_RATE_PER_SEC" => Some("0.5".to_string()),
        _ => None,
    };
    let cfg = courier::config::Config::load(&courier::config::Flags::default(), &env).unwrap();
    assert_eq!(cfg.conversations.group_create_burst, 4.0);
    assert_eq!(cfg.conversations.direct_create_rate_per_sec, 0.5);
    assert_eq!(cfg.conversations.group_create_rate_per_sec, 0.1, "default");
}

/// Someone who left a group hears nothing more about it: not even the status of the messages
/// they sent there before leaving.
#[tokio::test]
async fn a_member_who_left_gets_no_status_of_their_old_messages() {
    let app = spawn_app().await;
    let a = app.register("ns_a").await;
    let b = app.register("ns_b").await;
    let c = app.register("ns_c").await;
    let (s, g) = a
        .post(
            "/api/conversations/group",
            json!({"title": "Quiet", "member_ids": [b.id(), c.id()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_i64().unwrap();
    let old = a
        .send_http(gid, "ns-1", "sent before leaving")
        .await
        .message;
    let mut a_ws = a.ws().await;
    a_ws.caught_up().await;
    let (s, _) = a
        .post(&format!("/api/conversations/{gid}/leave"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    a_ws.wait_for("conversation_left", T, |f| {
        matches!(f, ServerFrame::ConversationLeft { .. })
    })
    .await;
    // b and c receive and read it.
    for u in [&b, &c] {
        let mut ws = u.ws().await;
        ws.drain().await;
        let (s, v) = u
            .post(
                &format!("/api/conversations/{gid}/read"),
                json!({"seq": old.seq}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    assert!(
        a_ws.quiet_for(std::time::Duration::from_millis(500), |f| matches!(
            f,
            ServerFrame::Status { .. }
        ))
        .await,
        "no status frame reaches the member who left"
    );
}
