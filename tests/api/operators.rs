//! The operator role is stored with the account (src/operators.rs, docs/SECURITY.md): listing a
//! name grants it only to the account holding the name when it is first listed, and the host's
//! `courier admin` grants and withdraws it while the server runs.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn is_operator(u: &TestUser) -> bool {
    let (s, session) = u.get("/api/auth/session").await;
    assert_eq!(s, StatusCode::OK, "{session}");
    let (s, diag) = u.get("/api/diagnostics").await;
    assert_eq!(s, StatusCode::OK, "{diag}");
    let operator = session["operator"] == Value::Bool(true);
    assert_eq!(
        operator,
        diag.get("server").is_some(),
        "the session and the diagnostics agree: {session} {diag}"
    );
    operator
}

/// Stops `app` and starts it again on the same database with `operators` listed.
async fn restart_listing(app: TestApp, operators: &[&str]) -> TestApp {
    let dir = app.stop().await;
    let mut config = test_config(dir.path());
    config.operators = operators.iter().map(|s| s.to_string()).collect();
    start(config, dir).await
}

/// `courier admin ARGS…` run on the host against the test server's database.
fn courier_admin(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_courier"))
        .arg("admin")
        .args(args)
        .env_remove("COURIER_CONFIG")
        .env("DATABASE_URL", app.state.config.database_url.as_str())
        .env("RUST_LOG", "warn")
        .current_dir(app.dir.path())
        .output()
        .expect("the courier binary runs")
}

#[tokio::test]
async fn registering_a_listed_name_that_had_no_account_grants_nothing() {
    let app = spawn_app_with(|c| c.operators = vec!["boss".into(), "Chief".into()]).await;
    let boss = app.register_as("boss").await;
    let chief = app.register_as("chief").await;
    assert!(!is_operator(&boss).await, "whoever registers a listed name");
    assert!(!is_operator(&chief).await, "in any letter case");
    // Nor after a restart with the same setting: the names were listed before the accounts.
    let app = restart_listing(app, &["boss", "chief"]).await;
    assert!(!is_operator(&boss.on(&app)).await);
}

#[tokio::test]
async fn an_account_that_exists_when_its_name_is_listed_is_an_operator_until_unlisted() {
    let app = spawn_app().await;
    let chief = app.register_as("chief_op").await;
    let other = app.register_as("other_op").await;
    assert!(!is_operator(&chief).await);

    let app = restart_listing(app, &["Chief_Op"]).await;
    assert!(
        is_operator(&chief.on(&app)).await,
        "existing configurations keep working"
    );
    assert!(!is_operator(&other.on(&app)).await);
    // Unlisted: the role the listing granted is withdrawn.
    let app = restart_listing(app, &[]).await;
    assert!(!is_operator(&chief.on(&app)).await);
    // Listed again while the account exists: granted again.
    let app = restart_listing(app, &["chief_op"]).await;
    assert!(is_operator(&chief.on(&app)).await);
}

#[tokio::test]
async fn courier_admin_grants_and_withdraws_the_role_while_the_server_runs() {
    let app = spawn_app().await;
    let ops = app.register_as("host_made_op").await;
    assert!(!is_operator(&ops).await);

    let out = courier_admin(&app, &["grant-operator", "Host_Made_Op"]);
    assert!(out.status.success(), "{out:?}");
    assert!(is_operator(&ops).await, "at once, without a restart");
    let out = courier_admin(&app, &["list-operators"]);
    assert!(out.status.success(), "{out:?}");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("host_made_op") && listed.contains("courier admin"),
        "{listed}"
    );

    let out = courier_admin(&app, &["revoke-operator", "host_made_op"]);
    assert!(out.status.success(), "{out:?}");
    assert!(!is_operator(&ops).await);

    let out = courier_admin(&app, &["grant-operator", "nobody_here"]);
    assert!(!out.status.success(), "no such account: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no account is named"),
        "{out:?}"
    );
    // A role granted on the host outlives the setting: unlisting withdraws only its own grants.
    let out = courier_admin(&app, &["grant-operator", "host_made_op"]);
    assert!(out.status.success(), "{out:?}");
    let app = restart_listing(app, &["host_made_op"]).await;
    let app = restart_listing(app, &[]).await;
    assert!(is_operator(&ops.on(&app)).await);
}
