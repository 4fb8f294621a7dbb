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
