use std::collections::HashSet;

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn paging_by_seq_cursor_is_stable_while_others_send() {
    let app = spawn_app().await;
    let a = app.register("pa").await;
    let b = app.register("pb").await;
    let conv = a.direct_with(&b).await;
    for i in 0..120 {
        let who = if i % 3 == 0 { &b } else { &a };
        who.send_http(conv.id, &format!("p{i}"), &format!("n{i}"))
            .await;
    }
    let (s, first) = a
        .get(&format!("/api/conversations/{}/messages?limit=50", conv.id))
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut seen: Vec<i64> = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, (71..=120).collect::<Vec<_>>());
    assert_eq!(first["has_more"], true);
    let mut before = seen[0];
    let mut extra = 0;
    loop {
        // Others keep sending between pages: pages by cursor neither skip nor repeat.
        b.send_http(conv.id, &format!("late{extra}"), "new").await;
        extra += 1;
        let (_, page) = a
            .get(&format!(
                "/api/conversations/{}/messages?limit=50&before={before}",
                conv.id
            ))
            .await;
        let seqs: Vec<i64> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        before = seqs[0];
        seen.splice(0..0, seqs);
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen, (1..=120).collect::<Vec<_>>());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 120);
    for bad in ["limit=0", "limit=201", "before=0", "limit=abc"] {
        let (s, e) = a
            .get(&format!("/api/conversations/{}/messages?{bad}", conv.id))
            .await;
        assert!(
            s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
            "{bad}: {s}"
        );
        assert!(e["error"]["code"].is_string());
    }
}
