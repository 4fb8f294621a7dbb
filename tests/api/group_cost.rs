//! What creating a group costs as it grows (security review finding #6: it used to be
//! O(members²) database statements), and what listing conversations costs as a user's list
//! grows (the architecture review: four statements per conversation). The normal tests count
//! database operations and statements, which do not depend on the machine; the ignored one
//! prints timings for docs/BENCHMARKS.md:
//!
//! `cargo test --test api -- --ignored --nocapture group_create_cost`

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use courier::delivery::Fanout;

use crate::helpers::*;

/// A user created straight in the store (no argon2, no HTTP), with a session, so hundreds of
/// members cost milliseconds to set up.
pub async fn fast_user(app: &TestApp, name: &str) -> TestUser {
    let now = courier::clock::now_ms();
    let username = unique(name);
    let user = app
        .state
        .store
        .create_user(&username, &format!("{name} display"), "not-a-hash", now)
        .await
        .unwrap()
        .expect("fresh username");
    let token = format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    app.state
        .store
        .create_session(
            &courier::accounts::hash_token(&token),
            user.id,
            now,
            now + 86_400_000,
        )
        .await
        .unwrap();
    TestUser {
        user,
        token,
        base: app.base.clone(),
        http: reqwest::Client::new(),
    }
}

/// Database operations recorded so far (the `db_query_seconds` histograms' counts), except
/// `session_user`, which every request and socket does whatever it is for.
pub fn db_ops(app: &TestApp) -> u64 {
    app.state
        .metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("courier_db_query_seconds_count{"))
        .filter(|l| !l.contains("op=\"session_user\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// SQL statements the store operation `op` has run so far (`courier_db_statements_total`).
pub fn db_statements(app: &TestApp, op: &str) -> u64 {
    let label = format!("courier_db_statements_total{{op=\"{op}\"}} ");
    app.state
        .metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(&label)?.parse().ok())
        .unwrap_or(0)
}

/// `n` members besides the creator, each online with one WebSocket (replay finished).
async fn online_members(app: &TestApp, n: usize) -> (Vec<TestUser>, Vec<Ws>) {
    let mut users = Vec::with_capacity(n);
    for _ in 0..n {
        users.push(fast_user(app, "m").await);
    }
    let mut sockets = Vec::with_capacity(n);
    for u in &users {
        let mut ws = u.ws().await;
        ws.caught_up().await;
        sockets.push(ws);
    }
    (users, sockets)
}

async fn create_group(creator: &TestUser, members: &[TestUser]) -> (Duration, i64) {
    let ids: Vec<i64> = members.iter().map(|u| u.id()).collect();
    let t = Instant::now();
    let (s, body) = creator
        .post(
            "/api/conversations/group",
            json!({"title": "Cost", "member_ids": ids}),
        )
        .await;
    let took = t.elapsed();
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["members"].as_array().unwrap().len(), members.len() + 1);
    (took, body["id"].as_i64().unwrap())
}

/// Machine-independent: the database work of creating a group (and telling every online
/// member about it) does not grow with the number of members.
#[tokio::test]
async fn group_creation_does_a_constant_number_of_database_operations() {
    let app = spawn_app().await;
    let creator = fast_user(&app, "creator").await;
    let mut creator_ws = creator.ws().await;
    creator_ws.caught_up().await;
    let (members, mut sockets) = online_members(&app, 40).await;

    let before = db_ops(&app);
    let (_, small) = create_group(&creator, &members[..10]).await;
    let ops_small = db_ops(&app) - before;
    let before = db_ops(&app);
    let (_, big) = create_group(&creator, &members).await;
    let ops_big = db_ops(&app) - before;
    assert!(
        ops_small <= 6,
        "creating a 11-member group took {ops_small} database operations"
    );
    assert!(
        ops_big <= ops_small,
        "database operations grow with the members: {ops_small} for 11 members, {ops_big} for 41"
    );

    // Every online member was told, each from their own side.
    for (i, ws) in sockets.iter_mut().enumerate() {
        for gid in [small, big] {
            if gid == small && i >= 10 {
                continue;
            }
            let f = ws
                .wait_for("conversation frame", T, |f| {
                    matches!(f, app::protocol::ServerFrame::Conversation { conversation } if conversation.id == gid)
                })
                .await;
            let app::protocol::ServerFrame::Conversation { conversation } = f else {
                unreachable!()
            };
            assert_eq!(conversation.title, "Cost");
            assert_eq!(conversation.read_seq, 0);
            assert_eq!(conversation.unread, 0);
        }
    }
}

/// Timings for docs/BENCHMARKS.md ("Group creation cost"): best of 5 per size, every member
/// online with one WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture group_create_cost"]
async fn group_create_cost() {
    let sizes: Vec<usize> = std::env::var("GROUP_COST_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![50, 200, 500]);
    let mut rows = Vec::new();
    for n in sizes {
        // The sockets stay silent for minutes: do not close them as half-open.
        let app = spawn_app_with(|c| c.delivery.heartbeat_timeout_secs = 3600).await;
        let creator = fast_user(&app, "creator").await;
        let mut creator_ws = creator.ws().await;
        creator_ws.caught_up().await;
        let (members, sockets) = online_members(&app, n - 1).await;
        let mut best = Duration::MAX;
        let mut all = Vec::new();
        let mut ops = 0;
        for _ in 0..5 {
            let hub = &app.state.hub;
            assert!(
                members.iter().all(|m| hub.is_online(m.id())),
                "every member is still online"
            );
            let before = db_ops(&app);
            let (took, _) = create_group(&creator, &members).await;
            ops = db_ops(&app) - before;
            best = best.min(took);
            all.push(format!("{:.1}", took.as_secs_f64() * 1000.0));
            // Let the sockets' writers flush before the next round.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!(
            "group_create_cost: {n} members online: best {:.1} ms (runs: {} ms), {ops} db operations",
            best.as_secs_f64() * 1000.0,
            all.join(", ")
        );
        rows.push((n, best));
        for ws in sockets {
            ws.close().await;
        }
        creator_ws.close().await;
        app.stop().await;
    }
    println!("| members (all online) | best of 5 |");
    println!("|---:|---:|");
    for (n, best) in &rows {
        println!("| {n} | {:.1} ms |", best.as_secs_f64() * 1000.0);
    }
    if rows.len() >= 2 {
        let (n0, t0) = rows[0];
        for (n, t) in &rows[1..] {
            println!(
                "ratio {n}/{n0} members: time x{:.1} (linear would be x{:.1}, quadratic x{:.1})",
                t.as_secs_f64() / t0.as_secs_f64(),
                *n as f64 / n0 as f64,
                (*n as f64 / n0 as f64).powi(2)
            );
        }
    }
}

/// Gives `viewer` `n` more direct conversations, each with one message from the other member
/// (created in the store: the per-user creation limit is not what this is about).
async fn conversations_with_a_message(app: &TestApp, viewer: &TestUser, n: usize) {
    for i in 0..n {
        let other = fast_user(app, "peer").await;
        let id = app
            .state
            .store
            .direct_conversation(viewer.id(), other.id(), courier::clock::now_ms())
            .await
            .unwrap()
            .unwrap();
        other
            .send_http(id, &format!("c{i}"), &format!("hello {i}"))
            .await;
    }
}

/// `GET /api/conversations` as `viewer`, and the statements the store ran for it.
async fn list_counted(app: &TestApp, viewer: &TestUser) -> (Vec<app::model::Conversation>, u64) {
    let before = db_statements(app, "conversations");
    let (s, body) = viewer.get("/api/conversations").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let statements = db_statements(app, "conversations") - before;
    (serde_json::from_value(body).unwrap(), statements)
}

/// Machine-independent: listing conversations runs the same few statements for one
/// conversation as for sixty (it used to run four more for each), and the list is complete.
#[tokio::test]
async fn listing_conversations_runs_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let viewer = fast_user(&app, "viewer").await;

    let (empty, statements_none) = list_counted(&app, &viewer).await;
    assert!(empty.is_empty());
    assert_eq!(statements_none, 1, "no conversations: only the list itself");

    conversations_with_a_message(&app, &viewer, 1).await;
    let (one, statements_one) = list_counted(&app, &viewer).await;
    assert_eq!(one.len(), 1);
    conversations_with_a_message(&app, &viewer, 59).await;
    let (sixty, statements_sixty) = list_counted(&app, &viewer).await;
    assert_eq!(sixty.len(), 60);
    assert_eq!(
        statements_one, 4,
        "the rows, their members, what waits for them, their last messages"
    );
    assert_eq!(
        statements_sixty, statements_one,
        "statements grow with the conversations: {statements_one} for 1, {statements_sixty} for 60"
    );

    // Newest activity first, and every conversation whole.
    for pair in sixty.windows(2) {
        assert!(
            (pair[0].updated_at, pair[0].id) > (pair[1].updated_at, pair[1].id),
            "order: {} then {}",
            pair[0].id,
            pair[1].id
        );
    }
    for c in &sixty {
        assert_eq!(c.last_seq, 1, "{c:?}");
        let last = c.last_message.as_ref().expect("the last message");
        assert_eq!((last.conversation_id, last.seq), (c.id, 1));
        assert!(
            last.content
                .as_deref()
                .is_some_and(|t| t.starts_with("hello ")),
            "{last:?}"
        );
        assert_eq!((c.read_seq, c.unread, c.muted), (0, 1, false), "{c:?}");
        let mut ids: Vec<i64> = c.members.iter().map(|m| m.user_id).collect();
        assert_eq!(ids.len(), 2, "{c:?}");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "members by id: {ids:?}"
        );
        ids.retain(|id| *id != viewer.id());
        assert_eq!(ids.len(), 1, "the viewer and one other: {c:?}");
        for m in &c.members {
            // The viewer has no socket: their copy still waits; the sender needs none.
            let expected = if m.user_id == viewer.id() { 0 } else { 1 };
            assert_eq!(m.delivered_seq, expected, "{m:?} in {c:?}");
        }
        assert_eq!(
            c.title,
            c.members
                .iter()
                .find(|m| m.user_id != viewer.id())
                .unwrap()
                .display_name
        );
        // The list says what the conversation's own endpoint says.
        let (s, own) = viewer.get(&format!("/api/conversations/{}", c.id)).await;
        assert_eq!(s, StatusCode::OK, "{own}");
        assert_eq!(serde_json::to_value(c).unwrap(), own);
    }
    assert_eq!(
        sixty.last().map(|c| c.id),
        one.first().map(|c| c.id),
        "the first conversation has the oldest activity"
    );
}
