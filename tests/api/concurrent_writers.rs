//! Several Courier nodes writing into one PostgreSQL database at once — each node its own
//! server with its own pool, as separate machines would be. Runs in `make test`'s PostgreSQL
//! pass (`COURIER_TEST_DATABASE_URL`); on SQLite (one writer per file by design) it is skipped
//! with a line saying so.
//!
//! Every send goes to several nodes at once with the same `client_msg_id` (a client retrying
//! through a load balancer), a few keys are reused for another conversation at the same time,
//! recipients acknowledge and read through random nodes meanwhile. Afterwards every
//! conversation must hold seqs 1..n exactly once, every key once, every answer must agree, no
//! request may have failed with a server error, and the statuses must be exact. A second wave
//! recalls messages (each through two nodes at once) while new ones are sent: every change —
//! message or recall — must have taken exactly one rev of its conversation's log.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const NODES: usize = 3;
const USERS: usize = 5;
const GROUP_SENDS: usize = 24;
const DIRECT_SENDS: usize = 8;

/// `NODES` servers on one fresh PostgreSQL database, or `None` on SQLite.
async fn cluster() -> Option<Vec<TestApp>> {
    if !on_postgres() {
        eprintln!(
            "concurrent_writers: skipped on SQLite (one writer per file); runs in make test's PostgreSQL pass"
        );
        return None;
    }
    let first = spawn_app().await;
    let url = first.state.config.database_url.clone();
    let mut nodes = vec![first];
    for _ in 1..NODES {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_config(dir.path());
        c.database_url = url.clone();
        nodes.push(start(c, dir).await);
    }
    Some(nodes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_nodes_sending_retrying_and_reading_at_once_keep_every_guarantee() {
    let Some(nodes) = cluster().await else { return };
    let nodes = Arc::new(nodes);
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(nodes[i % NODES].register(&format!("cw{i}")).await);
    }

    // Get-or-create of one direct conversation from every node and both sides at once.
    let mut tasks = Vec::new();
    for n in 0..NODES {
        for (a, b) in [(0, 1), (1, 0)] {
            let me = users[a].on(&nodes[n]);
            let other = users[b].id();
            tasks.push(tokio::spawn(async move {
                let (s, v) = me
                    .post("/api/conversations/direct", json!({ "user_id": other }))
                    .await;
                assert_eq!(s, StatusCode::OK, "{v}");
                v["id"].as_i64().unwrap()
            }));
        }
    }
    let mut direct_ids = HashSet::new();
    for t in tasks {
        direct_ids.insert(t.await.unwrap());
    }
    assert_eq!(
        direct_ids.len(),
        1,
        "one direct conversation: {direct_ids:?}"
    );
    let direct = *direct_ids.iter().next().unwrap();

    let (s, v) = users[0]
        .post(
            "/api/conversations/group",
            json!({"title": "Crowd", "member_ids": users[1..].iter().map(|u| u.id()).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let group = v["id"].as_i64().unwrap();

    // Every send to every node at once; user 0 and 1 also reuse a few keys across the two
    // conversations concurrently (exactly one of the two may win).
    #[derive(Debug)]
    struct Answer {
        key: String,
        conversation: i64,
        status: StatusCode,
        body: Value,
    }
    let mut tasks = Vec::new();
    let mut expected: BTreeMap<i64, HashSet<String>> = BTreeMap::new();
    for (ui, u) in users.iter().enumerate() {
        let mut plan: Vec<(i64, String)> = (0..GROUP_SENDS)
            .map(|k| (group, format!("g-{ui}-{k}")))
            .collect();
        if ui < 2 {
            plan.extend((0..DIRECT_SENDS).map(|k| (direct, format!("d-{ui}-{k}"))));
            // The same key into both conversations.
            plan.extend((0..3).flat_map(|k| {
                let key = format!("both-{ui}-{k}");
                [(group, key.clone()), (direct, key)]
            }));
        }
        for (conv, key) in plan {
            if !key.starts_with("both-") {
                expected.entry(conv).or_default().insert(key.clone());
            }
            for n in 0..NODES {
                let me = u.on(&nodes[n]);
                let key = key.clone();
                tasks.push(tokio::spawn(async move {
                    let (status, body) = me
                        .post(
                            &format!("/api/conversations/{conv}/messages"),
                            json!({"client_msg_id": key, "content": format!("{key} via node {n}")}),
                        )
                        .await;
                    Answer {
                        key,
                        conversation: conv,
                        status,
                        body,
                    }
                }));
            }
        }
    }
    // Meanwhile: recipients acknowledge what waits for them and read, through random nodes.
    let mut side = Vec::new();
    for (ui, u) in users.iter().enumerate() {
        for round in 0..6 {
            let me = u.on(&nodes[(ui + round) % NODES]);
            side.push(tokio::spawn(async move {
                let (s, page) = me.get("/api/offline-messages?limit=200").await;
                assert!(!s.is_server_error(), "{s} {page}");
                let ids: Vec<i64> = page["messages"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|m| m["id"].as_i64()).collect())
                    .unwrap_or_default();
                let (s, v) = me
                    .post("/api/offline-messages/ack", json!({ "message_ids": ids }))
                    .await;
                assert!(!s.is_server_error(), "{s} {v}");
                let (s, v) = me
                    .post(
                        &format!("/api/conversations/{group}/read"),
                        json!({"seq": (round as i64 + 1) * 10}),
                    )
                    .await;
                assert!(!s.is_server_error(), "{s} {v}");
            }));
        }
    }

    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    for t in side {
        t.await.unwrap();
    }

    // No server error reached anyone; every answer about one key agrees.
    let mut by_key: HashMap<String, Vec<&Answer>> = HashMap::new();
    for a in &answers {
        assert!(
            a.status.is_success() || a.status == StatusCode::CONFLICT,
            "{} {}: {} {}",
            a.key,
            a.conversation,
            a.status,
            a.body
        );
        by_key.entry(a.key.clone()).or_default().push(a);
    }
    for (key, list) in &by_key {
        let stored: HashSet<(i64, i64)> = list
            .iter()
            .filter(|a| a.status.is_success())
            .map(|a| {
                (
                    a.body["message"]["id"].as_i64().unwrap(),
                    a.body["message"]["seq"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(stored.len(), 1, "{key}: one message, one seq: {stored:?}");
        let fresh = list
            .iter()
            .filter(|a| a.status.is_success() && a.body["duplicate"] == false)
            .count();
        assert_eq!(fresh, 1, "{key}: exactly one answer stored it");
        if key.starts_with("both-") {
            // The winner's conversation holds it; the other conversation's sends were refused.
            let winner = list
                .iter()
                .find(|a| a.status.is_success())
                .unwrap()
                .conversation;
            assert!(list
                .iter()
                .all(|a| (a.conversation == winner) == a.status.is_success()));
            expected.entry(winner).or_default().insert(key.clone());
        }
    }

    // A second wave: new sends, and at the same moment recalls of every fourth message of the
    // first wave, each recall through two nodes at once (one of the two recalls it, the other
    // finds it recalled). Each new message and each recall is one change: one rev.
    let mut recalled: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut wave = Vec::new();
    for a in answers
        .iter()
        .filter(|a| a.status.is_success() && a.body["duplicate"] == false)
    {
        let k: usize = a.key.rsplit('-').next().unwrap().parse().unwrap();
        if !k.is_multiple_of(4) {
            continue;
        }
        let id = a.body["message"]["id"].as_i64().unwrap();
        let sender = a.body["message"]["sender_id"].as_i64().unwrap();
        let u = users.iter().find(|u| u.id() == sender).unwrap();
        recalled.entry(a.conversation).or_default().insert(id);
        for n in [k % NODES, (k + 1) % NODES] {
            let me = u.on(&nodes[n]);
            wave.push(tokio::spawn(async move {
                let (s, v) = me
                    .post(&format!("/api/messages/{id}/recall"), json!({}))
                    .await;
                assert_eq!(s, StatusCode::OK, "recall {id}: {v}");
                assert_eq!(v["recalled"], true, "{v}");
            }));
        }
    }
    for (ui, u) in users.iter().enumerate() {
        for k in 0..GROUP_SENDS / 2 {
            let key = format!("w2-{ui}-{k}");
            expected.entry(group).or_default().insert(key.clone());
            let me = u.on(&nodes[(ui + k) % NODES]);
            wave.push(tokio::spawn(async move {
                let (s, v) = me
                    .post(
                        &format!("/api/conversations/{group}/messages"),
                        json!({"client_msg_id": key, "content": "second wave"}),
                    )
                    .await;
                assert!(s.is_success(), "{s} {v}");
            }));
        }
    }
    for t in wave {
        t.await.unwrap();
    }

    // Everyone reads everything, each through another node, at once — and, through a third
    // node at the same moment, an older position (a second device behind): positions only move
    // forward.
    let mut reads = Vec::new();
    for (ui, u) in users.iter().enumerate() {
        for (n, conv) in [(ui % NODES, group), ((ui + 1) % NODES, direct)] {
            if conv == direct && ui >= 2 {
                continue;
            }
            for (node, seq) in [(n, 1_000_000), ((n + 1) % NODES, 3)] {
                let me = u.on(&nodes[node]);
                reads.push(tokio::spawn(async move {
                    let (s, v) = me
                        .post(
                            &format!("/api/conversations/{conv}/read"),
                            json!({ "seq": seq }),
                        )
                        .await;
                    assert_eq!(s, StatusCode::OK, "{v}");
                }));
            }
        }
    }
    for r in reads {
        r.await.unwrap();
    }

    // Seqs 1..n exactly once, every key once, each message read (everyone read everything).
    for (conv, keys) in &expected {
        let mut seen: Vec<(i64, String, String)> = Vec::new();
        let mut ids: Vec<(i64, i64)> = Vec::new();
        // (seq, rev, recalled)
        let mut revs: Vec<(i64, i64, bool)> = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let q = before.map(|b| format!("&before={b}")).unwrap_or_default();
            let (s, page) = users[0]
                .get(&format!("/api/conversations/{conv}/messages?limit=200{q}"))
                .await;
            assert_eq!(s, StatusCode::OK, "{page}");
            let msgs = page["messages"].as_array().unwrap();
            for m in msgs {
                ids.push((m["seq"].as_i64().unwrap(), m["id"].as_i64().unwrap()));
                revs.push((
                    m["seq"].as_i64().unwrap(),
                    m["rev"].as_i64().unwrap(),
                    m["recalled"] == true,
                ));
                seen.push((
                    m["seq"].as_i64().unwrap(),
                    m["client_msg_id"].as_str().unwrap().to_string(),
                    m["status"].as_str().unwrap().to_string(),
                ));
            }
            if page["has_more"] != true {
                break;
            }
            before = msgs.first().and_then(|m| m["seq"].as_i64());
        }
        seen.sort();
        // The offline replay pages by message id: ids must ascend with seqs.
        ids.sort();
        assert!(
            ids.windows(2).all(|w| w[0].1 < w[1].1),
            "conversation {conv}: ids in seq order: {ids:?}"
        );
        let seqs: Vec<i64> = seen.iter().map(|(s, _, _)| *s).collect();
        assert_eq!(
            seqs,
            (1..=keys.len() as i64).collect::<Vec<_>>(),
            "conversation {conv}: seqs 1..n, no gap, no repeat"
        );
        let stored: HashSet<String> = seen.iter().map(|(_, k, _)| k.clone()).collect();
        assert_eq!(&stored, keys, "conversation {conv}: every key once");
        // Revs: every change exactly once. The conversation's last_rev counts its messages and
        // its recalls; no two messages share a rev; messages never changed since their insert
        // carry revs in seq order (seq and rev are handed out together).
        let recalls = revs.iter().filter(|(_, _, r)| *r).count() as i64;
        let (_, c) = users[0].get(&format!("/api/conversations/{conv}")).await;
        assert_eq!(
            c["last_rev"].as_i64(),
            Some(keys.len() as i64 + recalls),
            "conversation {conv}: one rev per message and per recall: {c}"
        );
        let distinct: HashSet<i64> = revs.iter().map(|(_, r, _)| *r).collect();
        assert_eq!(
            distinct.len(),
            revs.len(),
            "conversation {conv}: revs unique: {revs:?}"
        );
        assert!(
            revs.iter()
                .all(|(_, r, _)| (1..=keys.len() as i64 + recalls).contains(r)),
            "conversation {conv}: revs within 1..last_rev: {revs:?}"
        );
        let mut inserts: Vec<(i64, i64)> = revs
            .iter()
            .filter(|(_, _, r)| !r)
            .map(|(s, r, _)| (*s, *r))
            .collect();
        inserts.sort();
        assert!(
            inserts.windows(2).all(|w| w[0].1 < w[1].1),
            "conversation {conv}: insert revs ascend with seqs: {inserts:?}"
        );
        let asked = recalled.get(conv).map_or(0, |r| r.len()) as i64;
        assert_eq!(
            recalls, asked,
            "conversation {conv}: every recall asked for, once"
        );
        let unread: Vec<_> = seen.iter().filter(|(_, _, st)| st != "read").collect();
        assert!(
            unread.is_empty(),
            "conversation {conv}: everyone read everything, yet: {unread:?}"
        );
    }
    // Every member's position is at the end.
    for (ui, u) in users.iter().enumerate() {
        let (_, v) = u.get(&format!("/api/conversations/{group}")).await;
        assert_eq!(v["read_seq"], v["last_seq"], "user {ui}: {v}");
    }
    // And the ledger agrees: nothing waits for anyone.
    for u in &users {
        let (_, page) = u.on(&nodes[2]).get("/api/offline-messages?limit=200").await;
        assert_eq!(
            page["messages"].as_array().map(|a| a.len()),
            Some(0),
            "{}: {page}",
            u.user.username
        );
    }
}

/// "Delivered" needs every recipient's acknowledgement; when the last two arrive at the same
/// moment through two nodes, each transaction alone still sees the other's record waiting —
/// the message must become delivered all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledgements_arriving_at_once_through_several_nodes_make_messages_delivered() {
    let Some(nodes) = cluster().await else { return };
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(nodes[0].register(&format!("ca{i}")).await);
    }
    let (s, v) = users[0]
        .post(
            "/api/conversations/group",
            json!({"title": "Acks", "member_ids": users[1..].iter().map(|u| u.id()).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let group = v["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for k in 0..40 {
        ids.push(
            users[0]
                .send_http(group, &format!("a{k}"), "x")
                .await
                .message
                .id,
        );
    }
    for round in 0..3 {
        // Each recipient acknowledges a third of the messages per round, through its own node,
        // all at once.
        let part: Vec<i64> = ids.iter().copied().skip(round).step_by(3).collect();
        let mut acks = Vec::new();
        for (ui, u) in users.iter().enumerate().skip(1) {
            let me = u.on(&nodes[ui % NODES]);
            let part = part.clone();
            acks.push(tokio::spawn(async move {
                let (s, v) = me
                    .post("/api/offline-messages/ack", json!({ "message_ids": part }))
                    .await;
                assert_eq!(s, StatusCode::OK, "{v}");
            }));
        }
        for a in acks {
            a.await.unwrap();
        }
    }
    let (_, page) = users[0]
        .get(&format!("/api/conversations/{group}/messages?limit=200"))
        .await;
    let late: Vec<&Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] != "delivered")
        .collect();
    assert!(
        late.is_empty(),
        "every recipient acknowledged, yet: {late:?}"
    );
}
