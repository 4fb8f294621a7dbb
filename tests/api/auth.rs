use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn post_anon(
    app: &TestApp,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value, Option<String>) {
    let res = reqwest::Client::new()
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let cookie = session_cookie(&res);
    (status, res.json().await.unwrap_or_default(), cookie)
}

#[tokio::test]
async fn register_login_me_logout() {
    let app = spawn_app().await;
    let name = unique("alice");
    let (s, user, cookie) = post_anon(
        &app,
        "/api/auth/register",
        json!({"username": name, "password": "secret pass"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(user["username"], name.as_str());
    assert_eq!(
        user["display_name"],
        name.as_str(),
        "display name defaults to the username"
    );
    assert!(user.get("password_hash").is_none());
    let cookie = cookie.expect("register sets the session cookie");

    // The cookie is HttpOnly and SameSite=Lax.
    let res = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": name, "password": "secret pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );
    let login_cookie = session_cookie(&res).unwrap();
    assert_ne!(login_cookie, cookie, "every login is a new session");

    let me = reqwest::Client::new()
        .get(app.url("/api/auth/me"))
        .header("cookie", format!("courier_session={login_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap()["username"],
        name.as_str()
    );

    // Like every mutation, logout needs the JSON content type (CSRF; see hardening.rs).
    let out = reqwest::Client::new()
        .post(app.url("/api/auth/logout"))
        .header("cookie", format!("courier_session={login_cookie}"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(out
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let me = reqwest::Client::new()
        .get(app.url("/api/auth/me"))
        .header("cookie", format!("courier_session={login_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "the session is gone server-side"
    );
    // The other session (from registration) still works.
    let me = reqwest::Client::new()
        .get(app.url("/api/auth/me"))
        .header("cookie", format!("courier_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn duplicate_username_is_409_case_insensitive() {
    let app = spawn_app().await;
    let name = unique("bob");
    let (s, _, _) = post_anon(
        &app,
        "/api/auth/register",
        json!({"username": name, "password": "secret pass"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, body, cookie) = post_anon(
        &app,
        "/api/auth/register",
        json!({"username": name.to_uppercase(), "password": "other pass"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "username_taken");
    assert!(cookie.is_none());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_401() {
    let app = spawn_app().await;
    let name = unique("carol");
    post_anon(
        &app,
        "/api/auth/register",
        json!({"username": name, "password": "secret pass"}),
    )
    .await;
    let (s1, b1, c1) = post_anon(
        &app,
        "/api/auth/login",
        json!({"username": name, "password": "wrong pass"}),
    )
    .await;
    let (s2, b2, _) = post_anon(
        &app,
        "/api/auth/login",
        json!({"username": "nobody_here", "password": "wrong pass"}),
    )
    .await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_eq!(b1, b2, "same body: usernames are not revealed");
    assert_eq!(b1["error"]["code"], "invalid_credentials");
    assert!(c1.is_none());
}

#[tokio::test]
async fn invalid_input_names_the_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (
            json!({"username": "ab", "password": "secret pass"}),
            "username",
        ),
        (
            json!({"username": "has space", "password": "secret pass"}),
            "username",
        ),
        (
            json!({"username": unique("dave"), "password": "short"}),
            "password",
        ),
        (
            json!({"username": unique("erin"), "password": "secret pass", "display_name": "x".repeat(65)}),
            "display_name",
        ),
    ] {
        let (s, b, _) = post_anon(&app, "/api/auth/register", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(b["error"]["field"], field, "{b}");
    }
    // Missing fields and malformed JSON are JSON errors too.
    let (s, b, _) = post_anon(&app, "/api/auth/register", json!({"username": "frank"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        b["error"]["message"].as_str().unwrap().contains("password"),
        "{b}"
    );
    let res = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "bad_request"
    );
    let (s, b, _) = post_anon(
        &app,
        "/api/auth/login",
        json!({"username": "", "password": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["field"], "username");
}

/// Validation errors say which rule the field breaks (`rule`), so clients can word it
/// themselves; over HTTP and in WebSocket `error` frames alike.
#[tokio::test]
async fn validation_errors_name_the_rule() {
    let app = spawn_app().await;
    let taken = unique("gina_lantern");
    for (body, field, rule) in [
        (
            json!({"username": "ab", "password": "secret pass"}),
            "username",
            "length",
        ),
        (
            json!({"username": "", "password": "secret pass"}),
            "username",
            "required",
        ),
        (
            json!({"username": "has space", "password": "secret pass"}),
            "username",
            "charset",
        ),
        (
            json!({"username": unique("dave"), "password": "short"}),
            "password",
            "length",
        ),
        (
            json!({"username": unique("dave"), "password": "password123"}),
            "password",
            "common",
        ),
        (
            json!({"username": taken, "password": taken.to_uppercase()}),
            "password",
            "common",
        ),
        (
            json!({"username": unique("erin"), "password": "secret pass", "display_name": "x".repeat(65)}),
            "display_name",
            "length",
        ),
        (
            json!({"username": unique("erin"), "password": "secret pass", "display_name": "a\u{7}b"}),
            "display_name",
            "control_chars",
        ),
        (
            json!({"username": unique("erin"), "password": "secret pass", "display_name": "\u{202E}evil"}),
            "display_name",
            "format_chars",
        ),
    ] {
        let (s, b, _) = post_anon(&app, "/api/auth/register", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(b["error"]["code"], "invalid_input", "{b}");
        assert_eq!(b["error"]["field"], field, "{b}");
        assert_eq!(b["error"]["rule"], rule, "{body} → {b}");
    }
    for (body, field) in [
        (json!({"username": " ", "password": "x"}), "username"),
        (json!({"username": "someone", "password": ""}), "password"),
    ] {
        let (s, b, _) = post_anon(&app, "/api/auth/login", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(b["error"]["field"], field, "{b}");
        assert_eq!(b["error"]["rule"], "required", "{b}");
    }
    // A body that cannot be read names no field and no rule.
    let (s, b, _) = post_anon(&app, "/api/auth/register", json!({"username": "frank"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"].get("field").is_none(), "{b}");
    assert!(b["error"].get("rule").is_none(), "{b}");
    // Errors that are not about a field have no rule either.
    let (s, b, _) = post_anon(
        &app,
        "/api/auth/login",
        json!({"username": "nobody_here", "password": "wrong pass"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(b["error"].get("rule").is_none(), "{b}");

    let a = app.register("hana").await;
    let b = app.register("ivan").await;
    for (body, field, rule) in [
        (
            json!({"title": "  ", "member_ids": [b.id()]}),
            "title",
            "required",
        ),
        (
            json!({"title": "x".repeat(101), "member_ids": [b.id()]}),
            "title",
            "length",
        ),
        (
            json!({"title": "a\nb", "member_ids": [b.id()]}),
            "title",
            "control_chars",
        ),
        (
            json!({"title": "ok", "member_ids": []}),
            "member_ids",
            "count",
        ),
        (
            json!({"title": "ok", "member_ids": [i64::MAX]}),
            "member_ids",
            "unknown",
        ),
    ] {
        let (s, e) = a.post("/api/conversations/group", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
        assert_eq!(e["error"]["rule"], rule, "{body} → {e}");
    }
    let (s, e) = a
        .post("/api/conversations/direct", json!({"user_id": a.id()}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["rule"], "not_self", "{e}");
    let conv = a.direct_with(&b).await;
    let (s, e) = a
        .post(
            &format!("/api/conversations/{}/messages", conv.id),
            json!({"client_msg_id": "r1", "content": "x".repeat(4001)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (&e["error"]["field"], &e["error"]["rule"]),
        (&json!("content"), &json!("length")),
        "{e}"
    );

    // The WebSocket's `error` frame carries them too.
    let mut ws = a.ws().await;
    ws.caught_up().await;
    ws.send(&app::protocol::ClientFrame::Send {
        conversation_id: conv.id,
        client_msg_id: "r2".into(),
        content: "   ".into(),
    })
    .await;
    let f = ws
        .wait_for("error", std::time::Duration::from_secs(10), |f| {
            matches!(f, app::protocol::ServerFrame::Error { .. })
        })
        .await;
    let app::protocol::ServerFrame::Error {
        code, field, rule, ..
    } = f
    else {
        unreachable!()
    };
    assert_eq!(code, "invalid_input");
    assert_eq!(field.as_deref(), Some("content"));
    assert_eq!(rule.as_deref(), Some("required"));
}

#[tokio::test]
async fn not_logged_in_is_401_everywhere() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for path in [
        "/api/auth/me",
        "/api/conversations",
        "/api/offline-messages",
        "/api/diagnostics",
        "/api/users?q=a",
    ] {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        let b: serde_json::Value = res.json().await.unwrap();
        assert_eq!(b["error"]["code"], "unauthorized");
        let res = client
            .get(app.url(path))
            .header("cookie", "courier_session=forged")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{path} with a forged cookie"
        );
    }
    // The WebSocket needs the session too.
    let url = format!("{}/ws", app.base.replace("http://", "ws://"));
    let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}
