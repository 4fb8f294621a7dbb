//! The change log of a conversation (`rev`): every change to its messages — a new message, a
//! recall — takes the conversation's next rev, a message carries the rev of its latest change,
//! and a database of the previous release gains the log without losing anything (and loses
//! its recall records, which the log replaced). Both backends
//! (several writers at once on PostgreSQL: tests/api/concurrent_writers.rs).

use app::model::Message;
use app::protocol::{ClientFrame, ReplayReason, ResumePoint, ServerFrame};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn conversation(u: &TestUser, id: i64) -> Value {
    let (s, v) = u.get(&format!("/api/conversations/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn history(u: &TestUser, id: i64) -> Vec<Value> {
    let (s, v) = u
        .get(&format!("/api/conversations/{id}/messages?limit=200"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["messages"].as_array().unwrap().clone()
}

/// Everything a `sync` of conversation `c` from `after` brings, page by page (each
/// acknowledged), until its `caught_up`: the messages as (id, rev, recalled) and the last
/// page's `through.rev`.
async fn synced(u: &TestUser, c: i64, after: i64) -> (Vec<(i64, i64, bool)>, i64) {
    let mut ws = u.ws().await;
    ws.send(&ClientFrame::Sync {
        conversations: vec![ResumePoint {
            conversation_id: c,
            after_rev: after,
        }],
    })
    .await;
    let (mut got, mut through) = (Vec::new(), after);
    loop {
        let f = ws
            .wait_for("a sync page or its end", T, |f| {
                matches!(
                    f,
                    ServerFrame::Batch {
                        reason: ReplayReason::Sync,
                        ..
                    } | ServerFrame::CaughtUp {
                        reason: ReplayReason::Sync,
                        ..
                    }
                )
            })
            .await;
        match f {
            ServerFrame::Batch {
                messages,
                through: t,
                ..
            } => {
                let t = t.expect("a sync page says how far it covers");
                assert_eq!(t.conversation_id, c);
                assert!(t.rev >= through, "through never goes back");
                through = t.rev;
                if !messages.is_empty() {
                    ws.send(&ClientFrame::Ack {
                        message_ids: messages.iter().map(|m| m.id).collect(),
                    })
                    .await;
                }
                got.extend(messages.iter().map(|m: &Message| (m.id, m.rev, m.recalled)));
            }
            _ => break,
        }
    }
    ws.close().await;
    (got, through)
}

/// `sync` from every rev of each conversation of `u` gives exactly the messages whose latest
/// change is after it, once each, in rev order, and ends through the conversation's last rev.
async fn sync_from_every_rev_is_exact(u: &TestUser, conversations: &[i64]) {
    for &c in conversations {
        let mut all: Vec<(i64, i64, bool)> = history(u, c)
            .await
            .iter()
            .map(|m| {
                (
                    m["id"].as_i64().unwrap(),
                    m["rev"].as_i64().unwrap(),
                    m["recalled"] == true,
                )
            })
            .collect();
        all.sort_by_key(|m| m.1);
        let last_rev = conversation(u, c).await["last_rev"].as_i64().unwrap();
        for after in 0..=last_rev {
            let want: Vec<_> = all.iter().copied().filter(|m| m.1 > after).collect();
            let (got, through) = synced(u, c, after).await;
            assert_eq!(got, want, "conversation {c}, sync after rev {after}");
            assert_eq!(
                through, last_rev,
                "conversation {c}, sync after rev {after}"
            );
        }
    }
}

#[tokio::test]
async fn sync_from_any_rev_brings_exactly_what_changed_after_it() {
    // Pages of three: a resume point reads the log in several windows, most of whose messages
    // changed again later (recalled), and each window holds only part of a page.
    let app = spawn_app_with(|c| c.delivery.replay_page_size = 3).await;
    let alice = app.register("walk_alice").await;
    let bob = app.register("walk_bob").await;
    let c = alice.direct_with(&bob).await.id;
    let mut sent = Vec::new();
    for k in 0..14 {
        let who = if k % 3 == 0 { &bob } else { &alice };
        let m = who
            .send_http(c, &format!("w{k}"), &format!("walk {k}"))
            .await;
        sent.push((who, m.message.id));
        // Recalls of older messages, between the sends: the oldest first, then some recent.
        if k % 4 == 3 {
            for (u, id) in sent.iter().filter(|(_, id)| id % 2 == k as i64 % 2).take(2) {
                let (s, v) = u
                    .post(&format!("/api/messages/{id}/recall"), json!({}))
                    .await;
                assert_eq!(s, StatusCode::OK, "{v}");
            }
        }
    }
    sync_from_every_rev_is_exact(&alice, &[c]).await;
}

#[tokio::test]
async fn every_change_takes_the_next_rev_of_its_conversation() {
    let app = spawn_app().await;
    let alice = app.register("rev_alice").await;
    let bob = app.register("rev_bob").await;
    let conv = alice.direct_with(&bob).await;
    assert_eq!(conv.last_rev, 0, "a new conversation has no changes");

    let mut ids = Vec::new();
    for k in 1..=3 {
        let ack = alice.send_http(conv.id, &format!("r{k}"), "hello").await;
        assert_eq!(
            (ack.message.seq, ack.message.rev),
            (k, k),
            "a new message is a change"
        );
        ids.push(ack.message.id);
    }
    // A retried send is no new change.
    let again = alice.send_http(conv.id, "r2", "hello").await;
    assert_eq!(again.message.rev, 2);
    assert_eq!(conversation(&bob, conv.id).await["last_rev"], 3);

    // A recall is the next change; the message carries it from then on.
    let (s, v) = alice
        .post(&format!("/api/messages/{}/recall", ids[0]), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["recalled"].clone(), v["seq"].clone(), v["rev"].clone()),
        (json!(true), json!(1), json!(4))
    );
    // Recalling again, or a recall that is refused, changes nothing.
    let (s, v) = alice
        .post(&format!("/api/messages/{}/recall", ids[0]), json!({}))
        .await;
    assert_eq!((s, v["rev"].clone()), (StatusCode::OK, json!(4)));
    let (s, _) = bob
        .post(&format!("/api/messages/{}/recall", ids[1]), json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(conversation(&alice, conv.id).await["last_rev"], 4);

    let next = bob.send_http(conv.id, "b1", "back").await;
    assert_eq!((next.message.seq, next.message.rev), (4, 5));
    let revs: Vec<(i64, i64)> = history(&bob, conv.id)
        .await
        .iter()
        .map(|m| (m["seq"].as_i64().unwrap(), m["rev"].as_i64().unwrap()))
        .collect();
    assert_eq!(revs, vec![(1, 4), (2, 2), (3, 3), (4, 5)]);
    assert_eq!(conversation(&bob, conv.id).await["last_rev"], 5);

    // The live copy carries the rev too.
    let mut ws = bob.ws().await;
    ws.drain().await;
    let sent = alice.send_http(conv.id, "r5", "live").await;
    let live = ws
        .wait_for("the live message", std::time::Duration::from_secs(5), |f| {
            matches!(f, app::protocol::ServerFrame::Message { message } if message.id == sent.message.id)
        })
        .await;
    match live {
        app::protocol::ServerFrame::Message { message } => assert_eq!(message.rev, 6),
        other => panic!("not the live message: {other:?}"),
    }
}

/// What a member sees of everything the log must not change: every message's fields but its
/// rev, and every conversation's positions.
async fn everything_but_revs(u: &TestUser) -> Value {
    let (s, list) = u.get("/api/conversations").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let mut out = Vec::new();
    for c in list.as_array().unwrap() {
        let id = c["id"].as_i64().unwrap();
        let mut c = c.clone();
        c.as_object_mut().unwrap().remove("last_rev");
        if let Some(m) = c["last_message"].as_object_mut() {
            m.remove("rev");
        }
        let messages: Vec<Value> = history(u, id)
            .await
            .into_iter()
            .map(|mut m| {
                m.as_object_mut().unwrap().remove("rev");
                m
            })
            .collect();
        out.push(json!({ "conversation": c, "messages": messages }));
    }
    Value::Array(out)
}

/// A push record as stored: (message_id, user_id, kind, push_status, retry_count).
type StoredRecord = (i64, i64, i64, i64, i64);

/// Every stored change as (message_id, rev, actor_id, client_op_id, kind), by message id.
async fn changes_on(url: &str) -> Vec<(i64, i64, i64, String, i64)> {
    use sqlx::Connection;
    const CHANGES: &str = "SELECT message_id, rev, actor_id, client_op_id, CAST(kind AS BIGINT) \
         FROM message_changes ORDER BY message_id";
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        let rows = sqlx::query_as(CHANGES).fetch_all(&mut c).await.unwrap();
        c.close().await.unwrap();
        rows
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        let rows = sqlx::query_as(CHANGES).fetch_all(&mut c).await.unwrap();
        c.close().await.unwrap();
        rows
    }
}

/// Runs `statements` on the database at `url`, then reads every push record.
async fn on_database(url: &str, statements: &[String]) -> Vec<StoredRecord> {
    use sqlx::Connection;
    const RECORDS: &str = "SELECT message_id, user_id, CAST(kind AS BIGINT), \
         CAST(push_status AS BIGINT), retry_count FROM message_push_records \
         ORDER BY message_id, user_id, kind";
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        for s in statements {
            sqlx::raw_sql(s).execute(&mut c).await.unwrap();
        }
        let rows = sqlx::query_as(RECORDS).fetch_all(&mut c).await.unwrap();
        c.close().await.unwrap();
        rows
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        for s in statements {
            sqlx::raw_sql(s).execute(&mut c).await.unwrap();
        }
        let rows = sqlx::query_as(RECORDS).fetch_all(&mut c).await.unwrap();
        c.close().await.unwrap();
        rows
    }
}

/// Turns the database back into the previous release's: migration 0008 on SQLite, 0009 on
/// PostgreSQL (the change log) undone — its index, its two columns and its row in sqlx's
/// table —, the next one (dropping recall records) forgotten, and the recall records that
/// release wrote put back: one of kind 1 for every member but the sender of each recalled
/// message, some pending, some pushed, some failed. Returns the records as they then are.
async fn back_to_previous_release(url: &str) -> Vec<StoredRecord> {
    let change_log = if url.starts_with("postgres") { 9 } else { 8 };
    let undo = [
        // This release's later migrations: the change records, the heads column (and the
        // index on messages.rev, which the last of them dropped again).
        "DROP TABLE message_changes".to_string(),
        "DROP INDEX idx_conversations_last_change".to_string(),
        "ALTER TABLE conversations DROP COLUMN last_change_at".to_string(),
        "ALTER TABLE messages DROP COLUMN rev".to_string(),
        "ALTER TABLE conversations DROP COLUMN last_rev".to_string(),
        format!("DELETE FROM _sqlx_migrations WHERE version >= {change_log}"),
        "INSERT INTO message_push_records (message_id, user_id, kind, push_status, retry_count, \
         create_time, update_time) \
         SELECT m.id, cm.user_id, 1, m.id % 3, CASE WHEN m.id % 3 = 2 THEN 1 ELSE 0 END, \
         m.recalled_at, m.recalled_at FROM messages m JOIN conversation_members cm \
         ON cm.conversation_id = m.conversation_id AND cm.user_id <> m.sender_id \
         WHERE m.recalled_at IS NOT NULL"
            .to_string(),
    ];
    on_database(url, &undo).await
}

#[tokio::test]
async fn a_database_of_the_previous_release_keeps_everything_and_gains_its_log() {
    let app = spawn_app().await;
    let alice = app.register("mig_alice").await;
    let bob = app.register("mig_bob").await;
    let carol = app.register("mig_carol").await;
    let direct = alice.direct_with(&bob).await.id;
    let (s, v) = alice
        .post(
            "/api/conversations/group",
            json!({"title": "Migrants", "member_ids": [bob.id(), carol.id()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let group = v["id"].as_i64().unwrap();
    let mut recall = Vec::new();
    for k in 0..12 {
        let a = alice
            .send_http(direct, &format!("d{k}"), &format!("direct {k}"))
            .await;
        let b = bob
            .send_http(group, &format!("g{k}"), &format!("group {k}"))
            .await;
        if k % 4 == 1 {
            recall.push((&bob, b.message.id));
        }
        if k % 5 == 2 {
            recall.push((&alice, a.message.id));
        }
    }
    // Recalled in an order unlike their seqs: the log must keep the order they happened in.
    recall.reverse();
    for (u, id) in &recall {
        let (s, v) = u
            .post(&format!("/api/messages/{id}/recall"), json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        // Recall times are milliseconds, the only trace of their order the previous release
        // kept: distinct times make that order knowable from the data.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    for (u, c, seq) in [(&bob, direct, 7), (&carol, group, 12), (&alice, group, 5)] {
        let (s, v) = u
            .post(
                &format!("/api/conversations/{c}/read"),
                json!({ "seq": seq }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let users = [&alice, &bob, &carol];
    let mut before = Vec::new();
    for u in users {
        before.push(everything_but_revs(u).await);
    }
    let url = app.state.config.database_url.to_string();
    let dir = app.stop().await;
    let changes_before = changes_on(&url).await;
    assert_eq!(
        changes_before.len(),
        recall.len(),
        "every recall of this release is a stored change"
    );

    let records = on_database(&url, &[]).await;
    assert!(
        !records.is_empty() && records.iter().all(|r| r.2 == 0),
        "this release writes message records only: {records:?}"
    );
    let previous = back_to_previous_release(&url).await;
    let recall_records = previous.iter().filter(|r| r.2 == 1).count();
    // Bob's recalls are in the group (two other members), Alice's in the direct conversation.
    let others = |u: &TestUser| if u.id() == bob.id() { 2 } else { 1 };
    assert_eq!(
        recall_records,
        recall.iter().map(|(u, _)| others(u)).sum::<usize>(),
        "the previous release's recall records"
    );
    let config = test_config(dir.path());
    let app = start(config, dir).await;
    assert_eq!(
        on_database(&url, &[]).await,
        records,
        "the migration removed the recall records and kept every message record as it was"
    );
    for (u, was) in users.iter().zip(&before) {
        let u = u.on(&app);
        assert_eq!(
            &everything_but_revs(&u).await,
            was,
            "{}: nothing lost or changed",
            u.user.username
        );
    }

    // The log, rebuilt: inserts took rev = seq, recalls the revs after them in the order they
    // happened, and each conversation's last_rev counts both.
    let alice = alice.on(&app);
    for c in [direct, group] {
        let messages = history(&alice, c).await;
        let last_seq = messages.len() as i64;
        let mut recalled_revs = Vec::new();
        for m in &messages {
            let (seq, rev) = (m["seq"].as_i64().unwrap(), m["rev"].as_i64().unwrap());
            if m["recalled"] == true {
                recalled_revs.push((rev, m["id"].as_i64().unwrap()));
            } else {
                assert_eq!(rev, seq, "conversation {c}: {m}");
            }
        }
        recalled_revs.sort();
        let order: Vec<i64> = recalled_revs.iter().map(|(_, id)| *id).collect();
        let happened: Vec<i64> = recall
            .iter()
            .map(|(_, id)| *id)
            .filter(|id| order.contains(id))
            .collect();
        assert_eq!(
            order, happened,
            "conversation {c}: recalls in the order they happened"
        );
        let revs: Vec<i64> = recalled_revs.iter().map(|(r, _)| *r).collect();
        let want: Vec<i64> = (last_seq + 1..=last_seq + revs.len() as i64).collect();
        assert_eq!(revs, want, "conversation {c}: recalls after every insert");
        assert_eq!(
            conversation(&alice, c).await["last_rev"].as_i64(),
            Some(last_seq + revs.len() as i64)
        );
    }
    // The recalls of the previous release became stored changes: the same rows this release
    // writes for a recall made without a client op id (message, rev, sender, `recall:<id>`).
    assert_eq!(
        changes_on(&url).await,
        changes_before,
        "recalls migrated into message_changes"
    );

    // Sync finds every change from any point of the rebuilt log.
    sync_from_every_rev_is_exact(&alice, &[direct, group]).await;

    // And the next change continues the log.
    let next = alice
        .send_http(direct, "after", "after the migration")
        .await;
    assert_eq!(
        next.message.rev,
        conversation(&alice, direct).await["last_rev"]
            .as_i64()
            .unwrap()
    );
    assert_eq!(
        next.message.rev,
        12 + 2 + 1,
        "12 messages and 2 recalls before it"
    );
}
