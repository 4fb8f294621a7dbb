//! Search cannot be used to stall the server (http/search_limits.rs): the per-user token bucket,
//! the cap on pieces, and the deadline, through the real HTTP API on both backends.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn search_raw(user: &TestUser, q: &str) -> reqwest::Response {
    let url =
        reqwest::Url::parse_with_params(&format!("{}/api/search", user.base), [("q", q)]).unwrap();
    user.http
        .get(url)
        .header("cookie", format!("courier_session={}", user.token))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_user_past_the_search_bucket_gets_429_with_retry_after_and_others_do_not() {
    let app = spawn_app_with(|c| {
        c.search.burst = 3.0;
        c.search.rate_per_sec = 0.2;
    })
    .await;
    let a = app.register("sla").await;
    let b = app.register("slb").await;
    for _ in 0..3 {
        assert_eq!(search_raw(&a, "hello").await.status(), StatusCode::OK);
    }
    let refused = search_raw(&a, "hello").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry), "Retry-After: {retry}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(body["error"]["retry_after_secs"], retry, "{body}");
    // Another user's bucket is their own.
    assert_eq!(search_raw(&b, "hello").await.status(), StatusCode::OK);
    // Refused requests are counted for the operator.
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"courier_searches_refused_total{outcome="rate_limited"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_query_of_too_many_pieces_is_refused() {
    let app = spawn_app().await;
    let a = app.register("spa").await;
    let (s, body) = a
        .get("/api/search?q=a%20b%20c%20d%20e%20f%20g%20h%20i")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "q");
    assert_eq!(body["error"]["rule"], "count");
    let q = "的 ".repeat(9);
    let res = search_raw(&a, q.trim()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Eight are served.
    let q = "的 ".repeat(8);
    assert_eq!(search_raw(&a, q.trim()).await.status(), StatusCode::OK);
}

/// A search that cannot finish in time is stopped with a clear answer, and the server goes on
/// answering everything else (the next searches, sends, history) at once.
#[tokio::test]
async fn a_search_past_its_deadline_is_stopped_with_503_search_timeout() {
    let app = spawn_app_with(|c| c.search.deadline_ms = 1).await;
    let a = app.register("sda").await;
    let b = app.register("sdb").await;
    let conv = a.direct_with(&b).await;
    // 600 texts of 4,000 characters that a one-character substring (no trigram: a scan) must
    // all be tested against, since none holds it: far more than a millisecond of work.
    let text = "的".repeat(4000);
    for i in 0..600 {
        a.send_http(conv.id, &format!("d{i}"), &text).await;
    }
    let res = search_raw(&b, "乙").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().get("retry-after").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "search_timeout", "{body}");
    // The connection the search ran on serves the next reads normally.
    for _ in 0..20 {
        let (s, page) = b
            .get(&format!("/api/conversations/{}/messages?limit=5", conv.id))
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
    }
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"courier_searches_refused_total{outcome="timeout"} 1"#),
        "{metrics}"
    );
}
