//! Serving the client, health, errors for unknown routes, start-up checks, restart durability.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn spa_fallback_serves_the_client_on_deep_links() {
    let app = spawn_app().await;
    for path in ["/", "/message-test", "/login", "/some/deep/link"] {
        let res = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(
            res.text().await.unwrap().contains("Courier test client"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn healthz_and_unknown_api_routes() {
    let app = spawn_app().await;
    let res = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["database"],
        "ok"
    );
    let res = reqwest::get(app.url("/api/nope")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    let res = reqwest::Client::new()
        .delete(app.url("/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "method_not_allowed"
    );
    // A plain GET of the WebSocket endpoint is a JSON error too, as is an oversized body.
    let res = reqwest::get(app.url("/ws")).await.unwrap();
    assert!(res.status().is_client_error());
    assert!(res.json::<serde_json::Value>().await.unwrap()["error"]["code"].is_string());
    let res = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"username\":\"{}\",\"password\":\"x\"}}",
            "a".repeat(3 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "payload_too_large"
    );
}

#[tokio::test]
async fn missing_client_build_stops_startup_with_a_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = test_config(dir.path());
    c.dist_dir = dir.path().join("nowhere");
    let err = courier::Application::build(c).await.err().unwrap();
    assert!(
        err.contains("index.html") && err.contains("make run"),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_database_stops_startup_with_a_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    // A database path inside a regular file cannot be created.
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let mut c = test_config(dir.path());
    c.database_url = format!("sqlite://{}/file/db.sqlite", dir.path().display()).into();
    let err = courier::Application::build(c).await.err().unwrap();
    assert!(
        err.contains("DATABASE_URL") || err.contains("database"),
        "{err}"
    );
    let mut c = test_config(dir.path());
    c.database_url = "mysql://u:pw@x/db".into();
    let err = courier::Application::build(c).await.err().unwrap();
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert!(
        !err.contains("pw@"),
        "the password stays out of the message: {err}"
    );
    // A PostgreSQL server that is not there (nothing listens on port 1).
    let mut c = test_config(dir.path());
    c.database_url = "postgres://courier:hunter2@127.0.0.1:1/chat".into();
    let err = courier::Application::build(c).await.err().unwrap();
    assert!(
        err.contains("cannot connect to PostgreSQL") && err.contains("127.0.0.1:1"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the password stays out: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[tokio::test]
async fn data_survives_a_restart_and_migrations_are_idempotent() {
    let app = spawn_app().await;
    let a = app.register("ra").await;
    let b = app.register("rb").await;
    let conv = a.direct_with(&b).await;
    a.send_http(conv.id, "m1", "before restart").await;
    let (token_a, token_b) = (a.token.clone(), b.token.clone());
    let dir = app.stop().await;
    // Same folder, same database file: migrations run again and change nothing.
    let config = test_config(dir.path());
    let app = start(config, dir).await;
    let a = TestUser {
        token: token_a,
        base: app.base.clone(),
        ..a
    };
    let b = TestUser {
        token: token_b,
        base: app.base.clone(),
        ..b
    };
    let (s, page) = b
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(s, StatusCode::OK, "sessions survive too");
    assert_eq!(page["messages"][0]["content"], "before restart");
    let ack = a.send_http(conv.id, "m2", "after restart").await;
    assert_eq!(ack.message.seq, 2, "sequence continues");
}
