use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// `GET /api/search` with the parameters URL-encoded.
async fn search(user: &TestUser, params: &[(&str, &str)]) -> (StatusCode, Value) {
    let url =
        reqwest::Url::parse_with_params(&format!("{}/api/search", user.base), params).unwrap();
    user.get(&format!("{}?{}", url.path(), url.query().unwrap_or("")))
        .await
}

/// The ids of the hits of a successful search.
async fn hit_ids(user: &TestUser, params: &[(&str, &str)]) -> Vec<i64> {
    let (s, page) = search(user, params).await;
    assert_eq!(s, StatusCode::OK, "{params:?}: {page}");
    page["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

async fn group(creator: &TestUser, members: &[&TestUser]) -> i64 {
    let ids: Vec<i64> = members.iter().map(|m| m.id()).collect();
    let (s, g) = creator
        .post(
            "/api/conversations/group",
            json!({"title": "Search group", "member_ids": ids}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    g["id"].as_i64().unwrap()
}

#[tokio::test]
async fn members_find_messages_and_no_one_else_does() {
    let app = spawn_app().await;
    let a = app.register("sa").await;
    let b = app.register("sb").await;
    let carol = app.register("sc").await;
    let conv = a.direct_with(&b).await;
    let m = a
        .send_http(conv.id, "s1", "The quick brown fox jumps")
        .await
        .message;
    a.send_http(conv.id, "s2", "something else entirely").await;
    let other = carol.direct_with(&b).await;
    let theirs = carol
        .send_http(other.id, "s3", "a quick note for Bob")
        .await
        .message;

    let (s, page) = search(&b, &[("q", "quick")]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["hits"][0]["content"], "a quick note for Bob");
    assert_eq!(page["hits"][1]["id"], m.id);
    assert_eq!(page["hits"][1]["sender_name"], "sa display");
    assert_eq!(page["hits"][1]["conversation_id"], conv.id);
    assert_eq!(page["hits"][1]["seq"], 1);
    assert!(page["next_before"].is_null());
    // Every word must match, the last one as a prefix; letter case does not matter.
    for q in ["QUICK", "quick fox", "fox qui", "  brown   JUMP  "] {
        assert_eq!(hit_ids(&a, &[("q", q)]).await, [m.id], "{q}");
    }
    for q in ["quick cat", "qui fox", "uick", "foxes"] {
        assert!(hit_ids(&a, &[("q", q)]).await.is_empty(), "{q}");
    }
    // Only the caller's conversations.
    assert_eq!(hit_ids(&a, &[("q", "quick")]).await, [m.id]);
    assert_eq!(hit_ids(&carol, &[("q", "quick")]).await, [theirs.id]);
    assert!(hit_ids(&carol, &[("q", "fox")]).await.is_empty());
    // One conversation.
    let cid = conv.id.to_string();
    assert_eq!(
        hit_ids(&b, &[("q", "quick"), ("conversation_id", &cid)]).await,
        [m.id]
    );
    // Somebody else's conversation, or none: 404, as for its history.
    for id in [cid.as_str(), "987654"] {
        let (s, e) = search(&carol, &[("q", "quick"), ("conversation_id", id)]).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
        assert_eq!(e["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn a_member_who_left_a_group_finds_nothing_more_in_it() {
    let app = spawn_app().await;
    let a = app.register("la").await;
    let b = app.register("lb").await;
    let gid = group(&a, &[&b]).await;
    let m = a.send_http(gid, "l1", "zebra crossing").await.message;
    assert_eq!(hit_ids(&b, &[("q", "zebra")]).await, [m.id]);
    let (s, v) = b
        .post(&format!("/api/conversations/{gid}/leave"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(hit_ids(&b, &[("q", "zebra")]).await.is_empty());
    let (s, _) = search(&b, &[("q", "zebra"), ("conversation_id", &gid.to_string())]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(hit_ids(&a, &[("q", "zebra")]).await, [m.id]);
}

#[tokio::test]
async fn recalled_messages_are_never_found() {
    let app = spawn_app().await;
    let a = app.register("ra").await;
    let b = app.register("rb").await;
    let conv = a.direct_with(&b).await;
    let m = a
        .send_http(conv.id, "r1", "launch codeword bluefalcon 秘密计划 at dawn")
        .await
        .message;
    let kept = a
        .send_http(conv.id, "r2", "bluefalcon 秘密 is the team name")
        .await
        .message;
    for q in ["bluefalcon dawn", "秘密计划", "划 at"] {
        assert_eq!(hit_ids(&b, &[("q", q)]).await, [m.id], "{q}");
    }
    assert_eq!(hit_ids(&b, &[("q", "bluefalcon")]).await, [kept.id, m.id]);
    let (s, v) = a
        .post(&format!("/api/messages/{}/recall", m.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for u in [&a, &b] {
        for q in ["bluefalcon dawn", "dawn", "launch", "秘密计划", "划 at"] {
            assert!(hit_ids(u, &[("q", q)]).await.is_empty(), "{q}");
        }
        assert_eq!(hit_ids(u, &[("q", "bluefalcon")]).await, [kept.id]);
        assert_eq!(hit_ids(u, &[("q", "秘密")]).await, [kept.id]);
    }

    if on_postgres() {
        return;
    }
    // The full-text index itself holds nothing of the recalled message: no token, no entry.
    use sqlx::Connection;
    let path = app.dir.path().join("data/courier.db");
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(
        "CREATE VIRTUAL TABLE temp.search_vocab USING fts5vocab(main, messages_fts, 'instance')",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let tokens: Vec<String> =
        sqlx::query_scalar("SELECT term FROM temp.search_vocab WHERE doc = ?")
            .bind(m.id)
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert!(tokens.is_empty(), "{tokens:?}");
    let kept_tokens: Vec<String> =
        sqlx::query_scalar("SELECT term FROM temp.search_vocab WHERE doc = ?")
            .bind(kept.id)
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert!(
        kept_tokens.contains(&"bluefalcon".to_string()),
        "{kept_tokens:?}"
    );
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM messages_fts_docsize WHERE id = ?")
        .bind(m.id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(entries, 0);
    let matched: Vec<i64> = sqlx::query_scalar(
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'dawn OR launch'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(matched.is_empty(), "{matched:?}");
    // Nor does the trigram index (substrings of CJK queries): no entry, no trigram.
    let entries: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages_trigram_docsize WHERE id = ?")
            .bind(m.id)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(entries, 0);
    let matched: Vec<i64> = sqlx::query_scalar(
        "SELECT rowid FROM messages_trigram WHERE messages_trigram MATCH '\"秘密计划\" OR \"launch\"'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(matched.is_empty(), "{matched:?}");
    let kept_entries: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages_trigram_docsize WHERE id = ?")
            .bind(kept.id)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(kept_entries, 1);
    db.close().await.unwrap();
}

/// Substrings of three or more characters are looked up in the trigram index and then tested
/// exactly: the answers are those a scan of every text would give.
#[tokio::test]
async fn cjk_substrings_through_the_trigram_index_are_exact() {
    let app = spawn_app().await;
    let a = app.register("ta").await;
    let b = app.register("tb").await;
    let conv = a.direct_with(&b).await;
    let mut ids = Vec::new();
    for (i, text) in [
        format!("{}乙", "的".repeat(200)),
        "的".repeat(4000),
        "乙的".repeat(100),
        "会议纪要 ABC 第三季度".to_string(),
        "会议 纪要 abc".to_string(),
        "用户名需为 3–32 个字符".to_string(),
    ]
    .iter()
    .enumerate()
    {
        ids.push(
            a.send_http(conv.id, &format!("t{i}"), text)
                .await
                .message
                .id,
        );
    }
    let worst = format!("{}乙", "的".repeat(99));
    for (q, want) in [
        (worst.as_str(), vec![ids[0]]),
        ("的的乙", vec![ids[0]]),
        ("乙的乙", vec![ids[2]]),
        ("的乙的", vec![ids[2]]),
        ("会议纪要", vec![ids[3]]),
        // ASCII letters fold, as LIKE folds them; every substring must occur.
        ("会议纪要 abc", vec![ids[3]]),
        ("会议 abc", vec![ids[4], ids[3]]),
        ("纪要 第三季度", vec![ids[3]]),
        ("会议纪要 xyz", vec![]),
        ("3–32 个字符", vec![ids[5]]),
        ("议纪要A", vec![]),
        ("乙乙乙", vec![]),
    ] {
        assert_eq!(hit_ids(&b, &[("q", q)]).await, want, "{q}");
    }
    // Pages through the index neither skip nor repeat.
    let mut more = Vec::new();
    for i in 0..7 {
        more.push(
            a.send_http(conv.id, &format!("p{i}"), &format!("第{i}页的内容"))
                .await
                .message
                .id,
        );
    }
    let first = search(&b, &[("q", "页的内"), ("limit", "4")]).await.1;
    let next = first["next_before"].as_i64().unwrap();
    let second = hit_ids(
        &b,
        &[
            ("q", "页的内"),
            ("limit", "4"),
            ("before", &next.to_string()),
        ],
    )
    .await;
    let mut seen: Vec<i64> = first["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .chain(second)
        .collect();
    seen.reverse();
    assert_eq!(seen, more);
}

#[tokio::test]
async fn pages_by_id_cursor_are_complete_without_duplicates() {
    let app = spawn_app().await;
    let a = app.register("pa").await;
    let b = app.register("pb").await;
    let conv = a.direct_with(&b).await;
    let gid = group(&b, &[&a]).await;
    let mut expected = Vec::new();
    for i in 0..5 {
        let (who, c) = if i % 2 == 0 { (&a, conv.id) } else { (&b, gid) };
        let m = who
            .send_http(c, &format!("p{i}"), &format!("pager number {i}"))
            .await
            .message;
        expected.push(m.id);
        who.send_http(c, &format!("q{i}"), "unrelated").await;
    }
    expected.reverse();
    let mut seen: Vec<i64> = Vec::new();
    let mut before: Option<i64> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![("q", "pager".to_string()), ("limit", "2".to_string())];
        if let Some(b) = before {
            params.push(("before", b.to_string()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, page) = search(&a, &params).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let ids: Vec<i64> = page["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        assert!(ids.len() <= 2);
        seen.extend(&ids);
        pages += 1;
        // Others keep sending: a new hit is newer than the cursor and does not show up.
        b.send_http(gid, &format!("late{pages}"), "pager late")
            .await;
        match page["next_before"].as_i64() {
            Some(next) => {
                assert_eq!(Some(&next), ids.last());
                before = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected, "newest first, complete");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);
    // Within one conversation only.
    let cid = gid.to_string();
    let (_, page) = search(&a, &[("q", "pager number"), ("conversation_id", &cid)]).await;
    assert_eq!(page["hits"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_parameters_and_missing_session() {
    let app = spawn_app().await;
    let a = app.register("va").await;
    let long = "x".repeat(101);
    for (params, field) in [
        (vec![], "q"),
        (vec![("q", "")], "q"),
        (vec![("q", "   ")], "q"),
        (vec![("q", long.as_str())], "q"),
        (vec![("q", "ok"), ("limit", "0")], "limit"),
        (vec![("q", "ok"), ("limit", "51")], "limit"),
        (vec![("q", "ok"), ("before", "0")], "before"),
    ] {
        let (s, e) = search(&a, &params).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{params:?}: {e}");
        assert_eq!(e["error"]["code"], "invalid_input");
        assert_eq!(e["error"]["field"], field, "{params:?}");
    }
    for params in [
        [("q", "ok"), ("limit", "abc")],
        [("q", "ok"), ("conversation_id", "x")],
    ] {
        let (s, e) = search(&a, &params).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{params:?}: {e}");
    }
    // 100 characters (not bytes) are fine.
    let (s, _) = search(&a, &[("q", &"é".repeat(100))]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = search(&a, &[("q", &format!("  {}  ", "x".repeat(100)))]).await;
    assert_eq!(s, StatusCode::OK, "trimmed first");

    let res = reqwest::get(app.url("/api/search?q=hello")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn query_syntax_in_the_text_is_literal() {
    let app = spawn_app().await;
    let a = app.register("ia").await;
    let b = app.register("ib").await;
    let conv = a.direct_with(&b).await;
    let mut ids = Vec::new();
    for (i, text) in [
        r#"she said "hi" twice"#,
        "2*3 is six",
        "NEAR(apples pears)",
        "100% sure",
        "snake_case names",
        "it's fine",
        r"back\slash",
        "完成50%了",
        "完成50了",
        "下划线_测试",
    ]
    .into_iter()
    .enumerate()
    {
        ids.push(
            a.send_http(conv.id, &format!("i{i}"), text)
                .await
                .message
                .id,
        );
    }
    // Only punctuation: no word to look for, nothing matches (not everything).
    for q in [
        "\"", "*", "%", "_", "'", "\\", "\"\"", "(", ")", "-", ":", "^", "'; --", "%_%",
    ] {
        assert!(hit_ids(&b, &[("q", q)]).await.is_empty(), "{q:?}");
    }
    for (q, want) in [
        (r#""hi""#, vec![ids[0]]),
        (r#"said "hi"#, vec![ids[0]]),
        ("2*3", vec![ids[1]]),
        ("NEAR(", vec![ids[2]]),
        ("NEAR(apples", vec![ids[2]]),
        ("apples NEAR pears", vec![ids[2]]),
        ("pears AND", vec![]),
        ("apples OR kiwis", vec![]),
        ("100%", vec![ids[3]]),
        ("snake_case", vec![ids[4]]),
        ("it's", vec![ids[5]]),
        ("it'", vec![ids[5]]),
        (r"back\slash", vec![ids[6]]),
        (r#"") OR 1=1 --"#, vec![]),
        ("50%了", vec![ids[7]]),
        ("完成5_", vec![]),
        ("线_测", vec![ids[9]]),
        (r"线\_", vec![]),
    ] {
        assert_eq!(hit_ids(&b, &[("q", q)]).await, want, "{q:?}");
    }
}

/// The same answers on both backends for text that PostgreSQL's own parser would split
/// differently from SQLite's tokenizer.
#[tokio::test]
async fn words_are_split_and_folded_alike_on_every_backend() {
    let app = spawn_app().await;
    let a = app.register("wa").await;
    let b = app.register("wb").await;
    let conv = a.direct_with(&b).await;
    let m = a
        .send_http(
            conv.id,
            "w1",
            "Mail alice@example.com re v1.2.3 “Quoted”—dash <b>bold</b> 3.14 ПРИВЕТ Straße CAFÉ well-known 😀smile",
        )
        .await
        .message;
    for q in [
        "example",
        "EXAMPLE.COM",
        "alice example com",
        "v1 2 3",
        "quoted",
        "dash",
        "bold",
        "b",
        "14",
        "3.14",
        "привет",
        "straße",
        "café",
        "Café",
        "well",
        "known",
        "well-known",
        "smile",
        "mail alice@",
        "alic",
    ] {
        assert_eq!(hit_ids(&b, &[("q", q)]).await, [m.id], "{q:?}");
    }
    // Diacritics count; words other than the last are whole tokens.
    for q in ["cafe", "strasse", "alic example", "wel known", "ex com"] {
        assert!(hit_ids(&b, &[("q", q)]).await.is_empty(), "{q:?}");
    }
}
