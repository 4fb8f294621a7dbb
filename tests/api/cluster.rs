//! Two Courier nodes, one PostgreSQL database, one NATS server (started here, on a free
//! loopback port, from Debian's `nats-server`): users on different nodes talk live. Runs in
//! `make test`'s PostgreSQL pass; on SQLite, or without `nats-server`, it says so and skips.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use app::model::MessageStatus;
use app::protocol::{ClientFrame, ServerFrame};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const T: Duration = Duration::from_secs(10);

/// A throwaway nats-server on a free loopback port, killed when dropped.
pub struct Nats {
    child: Option<Child>,
    port: u16,
    pub url: String,
}

impl Nats {
    pub fn binary() -> Option<&'static str> {
        ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
    }

    pub async fn start() -> Nats {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port).await
    }

    /// Stops the server (the nodes' clients keep trying to reconnect).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.stop();
        let again = Self::start_on(self.port).await;
        self.child = Some(again.child_taken());
    }

    fn child_taken(mut self) -> Child {
        self.child.take().expect("started")
    }

    async fn start_on(port: u16) -> Nats {
        let child = Command::new(Self::binary().expect("nats-server is installed"))
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        // Ready when it greets a client with INFO.
        for _ in 0..100 {
            if let Ok(s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                let mut buf = [0u8; 4];
                let _ = s.readable().await;
                if s.try_read(&mut buf).map(|n| n > 0).unwrap_or(false) && &buf == b"INFO" {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Nats {
            child: Some(child),
            port,
            url: format!("nats://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Two nodes on one database and one NATS, or `None` (with the reason printed).
pub(crate) async fn two_nodes() -> Option<(Nats, TestApp, TestApp)> {
    if !on_postgres() {
        eprintln!("cluster: skipped on SQLite (a cluster runs on PostgreSQL); runs in make test's PostgreSQL pass");
        return None;
    }
    if Nats::binary().is_none() {
        eprintln!("cluster: skipped: nats-server is not installed (scripts/install-services.sh installs it)");
        return None;
    }
    let nats = Nats::start().await;
    let url = nats.url.clone();
    let a = spawn_app_with(|c| c.nats_url = Some(url.clone())).await;
    let db = a.state.config.database_url.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut c = test_config(dir.path());
    c.database_url = db;
    c.nats_url = Some(nats.url.clone());
    let b = start(c, dir).await;
    Some((nats, a, b))
}

/// A second node on `n1`'s database but on a NATS server of its own: a partition from `n1` for
/// every frame (the NATS server is stopped when the first half of the pair is dropped).
pub(crate) async fn partitioned_from(n1: &TestApp) -> (Nats, TestApp) {
    let nats = Nats::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = test_config(dir.path());
    c.database_url = n1.state.config.database_url.clone();
    c.nats_url = Some(nats.url.clone());
    let node = start(c, dir).await;
    (nats, node)
}

/// The end state of a fault test: the recipient holds every seq once (`got`: seq → id), with
/// the ids the sender was told (`sent`, in order), and nothing waits for them any more.
async fn every_message_once_in_order(
    got: &std::collections::BTreeMap<i64, i64>,
    sent: &[i64],
    recipient: &TestUser,
) {
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        (1..=sent.len() as i64).collect::<Vec<_>>(),
        "every seq, once"
    );
    assert_eq!(
        got.values().copied().collect::<Vec<_>>(),
        sent,
        "the same messages, in order"
    );
    assert_eq!(
        recipient.pending_after_settling().await,
        0,
        "nothing left pending"
    );
}

#[tokio::test]
async fn new_conversations_are_announced_to_members_on_other_nodes() {
    let Some((_nats, n1, n2)) = two_nodes().await else {
        return;
    };
    let alice = n1.register("an_alice").await;
    let bob = n1.register("an_bob").await.on(&n2);
    let carol = n1.register("an_carol").await.on(&n2);
    let mut bw = bob.ws().await;
    bw.caught_up().await;
    let mut cw = carol.ws().await;
    cw.caught_up().await;

    // Alice (node 1) opens a direct conversation and a group: Bob and Carol (node 2) are told
    // before any message is sent.
    let direct = alice.direct_with(&bob).await;
    bw.wait_for(
        "the direct conversation",
        T,
        |f| matches!(f, ServerFrame::Conversation { conversation } if conversation.id == direct.id),
    )
    .await;
    let (status, group) = alice
        .post(
            "/api/conversations/group",
            json!({"title": "across", "member_ids": [bob.id(), carol.id()]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_i64().unwrap();
    for (w, who) in [(&mut bw, "bob"), (&mut cw, "carol")] {
        w.wait_for(&format!("the group, for {who}"), T, |f| {
            matches!(f, ServerFrame::Conversation { conversation } if conversation.id == gid && conversation.members.len() == 3)
        })
        .await;
    }

    // Alice leaves (on node 1): the members on node 2 see the new member list.
    let (status, body) = alice
        .post(&format!("/api/conversations/{gid}/leave"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    bw.wait_for("the group without alice", T, |f| {
        matches!(f, ServerFrame::Conversation { conversation } if conversation.id == gid && conversation.members.len() == 2)
    })
    .await;
}

#[tokio::test]
async fn users_on_different_nodes_talk_live() {
    let Some((_nats, n1, n2)) = two_nodes().await else {
        return;
    };
    let alice = n1.register("cl_alice").await;
    let bob = n1.register("cl_bob").await.on(&n2);
    let conv = alice.direct_with(&bob).await;

    let mut aw = alice.ws().await;
    aw.caught_up().await;
    // Alice's second tab is on the other node.
    let mut aw2 = alice.on(&n2).ws().await;
    aw2.caught_up().await;
    let mut bw = bob.ws().await;
    bw.caught_up().await;

    // A message crosses from node 1 to node 2, to the recipient and to the sender's other tab.
    aw.send(&ClientFrame::Send {
        client_msg_id: "c1".into(),
        conversation_id: conv.id,
        content: "across nodes".into(),
    })
    .await;
    let got = bw
        .wait_for("the message on node 2", T, |f| {
            matches!(f, ServerFrame::Message { .. })
        })
        .await;
    let ServerFrame::Message { message } = got else {
        unreachable!()
    };
    assert_eq!(message.content.as_deref(), Some("across nodes"));
    aw2.wait_for(
        "the sender's other tab sees it",
        T,
        |f| matches!(f, ServerFrame::Message { message: m } if m.id == message.id),
    )
    .await;

    // Bob acknowledges on node 2: Alice hears "delivered" on node 1 (and on her other tab).
    bw.send(&ClientFrame::Ack {
        message_ids: vec![message.id],
    })
    .await;
    for (w, tab) in [(&mut aw, "tab 1"), (&mut aw2, "tab 2")] {
        w.wait_for(&format!("delivered on {tab}"), T, |f| {
            matches!(f, ServerFrame::Status { message_id, status: MessageStatus::Delivered, .. } if *message_id == message.id)
        })
        .await;
    }

    // Bob reads: Alice hears "read" and the read position.
    bw.send(&ClientFrame::Read {
        conversation_id: conv.id,
        seq: message.seq,
    })
    .await;
    // (The position is sent before the status change.)
    aw.wait_for(
        "bob's read position",
        T,
        |f| matches!(f, ServerFrame::ReadPosition { user_id, .. } if *user_id == bob.id()),
    )
    .await;
    aw.wait_for("read", T, |f| {
        matches!(f, ServerFrame::Status { message_id, status: MessageStatus::Read, .. } if *message_id == message.id)
    })
    .await;

    // Typing crosses too.
    bw.send(&ClientFrame::Typing {
        conversation_id: conv.id,
    })
    .await;
    aw.wait_for(
        "typing",
        T,
        |f| matches!(f, ServerFrame::Typing { user_id, .. } if *user_id == bob.id()),
    )
    .await;

    // Alice recalls on node 1: Bob sees it on node 2.
    aw.send(&ClientFrame::Recall {
        message_id: message.id,
        client_op_id: None,
    })
    .await;
    bw.wait_for(
        "the recall on node 2",
        T,
        |f| matches!(f, ServerFrame::Recalled { message_id, .. } if *message_id == message.id),
    )
    .await;
    aw2.wait_for(
        "the recall on the sender's other tab",
        T,
        |f| matches!(f, ServerFrame::Recalled { message_id, .. } if *message_id == message.id),
    )
    .await;

    // Connection ids are unique across the nodes.
    let (_, d1) = alice.get("/api/diagnostics").await;
    let (_, d2) = alice.on(&n2).get("/api/diagnostics").await;
    let id1 = d1["connections"][0]["connection_id"].as_u64().unwrap();
    let id2 = d2["connections"][0]["connection_id"].as_u64().unwrap();
    assert_ne!(id1, id2, "{d1} {d2}");
    // Diagnostics say which node answered (their connection lists are that node's).
    assert!(
        d1["node"].as_u64().is_some() && d1["node"] != d2["node"],
        "{d1} {d2}"
    );
    assert_eq!(d1["connections"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_ack_on_one_node_stops_the_other_from_expiring_the_push() {
    let Some((_nats, n1, n2)) = two_nodes().await else {
        return;
    };
    let alice = n1.register("cx_alice").await;
    let bob = n1.register("cx_bob").await;
    let conv = alice.direct_with(&bob).await;
    // Bob has a tab on each node; he acknowledges on node 2 only.
    let mut b1 = bob.ws().await;
    b1.caught_up().await;
    let mut b2 = bob.on(&n2).ws().await;
    b2.caught_up().await;
    let m = alice.send_http(conv.id, "cx1", "ack me once").await.message;
    b1.wait_for("pushed on node 1", T, |f| {
        matches!(f, ServerFrame::Message { .. })
    })
    .await;
    b2.wait_for("pushed on node 2", T, |f| {
        matches!(f, ServerFrame::Message { .. })
    })
    .await;
    b2.send(&ClientFrame::Ack {
        message_ids: vec![m.id],
    })
    .await;
    // Node 1's connection no longer waits for it.
    let mut settled = false;
    for _ in 0..100 {
        let (_, d) = bob.get("/api/diagnostics").await;
        if d["connections"][0]["in_flight"] == 0 {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        settled,
        "node 1's in-flight entry was settled by the ack on node 2"
    );
}

/// Every node runs the scheduler: a sweep on two nodes at the same moment retries each due
/// record once and counts its attempt once; the daily cleanup runs on one node per day.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn background_jobs_run_once_per_cluster() {
    let Some((_nats, n1, n2)) = two_nodes().await else {
        return;
    };
    let alice = n1.register("cj_alice").await;
    let bob = n1.register("cj_bob").await;
    let conv = alice.direct_with(&bob).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            alice
                .send_http(conv.id, &format!("cj{i}"), "offline bob")
                .await
                .message
                .id,
        );
    }
    // Bob is offline; every push failed once (retry_count 1, next retry after the backoff).
    n1.state
        .delivery
        .push_failed(bob.id(), &ids, "test: not acknowledged")
        .await
        .unwrap();
    let later = courier::clock::now_ms() + 3_600_000;
    let (r1, r2) = tokio::join!(
        n1.state.delivery.retry_sweep(later),
        n2.state.delivery.retry_sweep(later)
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(
        r1.postponed + r2.postponed + r1.repushed + r2.repushed,
        40,
        "each due record once: {r1:?} {r2:?}"
    );
    let (_, d) = alice.get("/api/diagnostics").await;
    let counts: Vec<i64> = d["recent_sent_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["retry_count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts.len(), 40, "{d}");
    assert!(
        counts.iter().all(|c| *c == 2),
        "each attempt counted once: {counts:?}"
    );

    // The daily cleanup: both nodes at once, one runs it.
    let now = courier::clock::now_ms();
    let (c1, c2) = tokio::join!(
        n1.state.delivery.daily_cleanup(now),
        n2.state.delivery.daily_cleanup(now)
    );
    let ran = [c1.unwrap(), c2.unwrap()]
        .iter()
        .filter(|r| r.is_some())
        .count();
    assert_eq!(ran, 1, "one node ran the day's cleanup");
    // The next day it runs again (on one node).
    let tomorrow = now + 86_400_000;
    assert!(n2
        .state
        .delivery
        .daily_cleanup(tomorrow)
        .await
        .unwrap()
        .is_some());
    assert!(n1
        .state
        .delivery
        .daily_cleanup(tomorrow)
        .await
        .unwrap()
        .is_none());
}

/// NATS is at-most-once. Here the two nodes use two different NATS servers — a partition: every
/// publish from node 1 is lost to node 2. The recipient, connected to node 2 all along, still
/// gets every message, once, from node 2's republish sweep.
#[tokio::test]
async fn pushes_lost_between_nodes_are_republished_by_the_sweep() {
    let Some((_nats, n1, _n2)) = two_nodes().await else {
        return;
    };
    let (_other_nats, n2) = partitioned_from(&n1).await;

    let alice = n1.register("cp_alice").await;
    let bob = n1.register("cp_bob").await.on(&n2);
    let conv = alice.direct_with(&bob).await;
    let mut bw = bob.ws().await;
    bw.caught_up().await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(
            alice
                .send_http(conv.id, &format!("cp{i}"), "lost on the way")
                .await
                .message
                .id,
        );
    }
    assert!(
        bw.quiet_for(Duration::from_millis(500), |f| matches!(
            f,
            ServerFrame::Message { .. }
        ))
        .await,
        "the partition is real: nothing arrives live"
    );
    // Not yet older than the ack timeout: the sweep leaves them alone.
    let now = courier::clock::now_ms();
    assert_eq!(n2.state.delivery.republish_sweep(now).await.unwrap(), 0);
    let later = now + n2.state.config.delivery.ack_timeout().as_millis() as i64 + 1_000;
    assert_eq!(n2.state.delivery.republish_sweep(later).await.unwrap(), 5);
    let mut got = Vec::new();
    while got.len() < 5 {
        if let ServerFrame::Message { message } = bw
            .wait_for("republished", T, |f| {
                matches!(f, ServerFrame::Message { .. })
            })
            .await
        {
            got.push(message.id);
        }
    }
    assert_eq!(got, sent, "each once, in order");
    // Claimed: the next sweep does not push them again while they wait for the ack.
    assert_eq!(
        n2.state.delivery.republish_sweep(later + 1).await.unwrap(),
        0
    );
    bw.send(&ClientFrame::Ack { message_ids: got }).await;
    assert_eq!(
        bob.pending_after_settling().await,
        0,
        "nothing left pending"
    );
}

/// A change with no push record — here a recall, heard by its sender's other device — lost
/// between nodes is found by that device through the `heads` frame its own node sends from the
/// database, and one `sync` brings it; before the change log nothing but a reconnect did.
#[tokio::test]
async fn a_recall_lost_between_nodes_reaches_the_senders_other_device_through_heads() {
    let Some((_nats, n1, _n2)) = two_nodes().await else {
        return;
    };
    // Node 2 on a NATS server of its own: a partition from node 1, for every frame.
    let (_other_nats, n2) = partitioned_from(&n1).await;

    let alice = n1.register("hr_alice").await;
    let bob = n1.register("hr_bob").await;
    let conv = alice.direct_with(&bob).await;
    let sent = alice.send_http(conv.id, "hr1", "soon gone").await.message;
    // Alice's second device, on node 2, holds the message (synced: its log seen through rev 1).
    let mut a2 = alice.on(&n2).ws().await;
    a2.caught_up().await;
    a2.send(&ClientFrame::Sync {
        conversations: vec![app::protocol::ResumePoint {
            conversation_id: conv.id,
            after_rev: 0,
        }],
    })
    .await;
    let (_, through) = a2.sync_page("the first sync page").await;
    assert_eq!(through.map(|t| t.rev), Some(1));

    let (s, v) = alice
        .post(&format!("/api/messages/{}/recall", sent.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        a2.quiet_for(Duration::from_millis(500), |f| matches!(
            f,
            ServerFrame::Recalled { .. }
        ))
        .await,
        "the partition is real: the recall does not arrive live"
    );
    // Node 2 tells its own connections what changed, from the database.
    assert_eq!(
        n2.state
            .delivery
            .announce_heads(courier::clock::now_ms())
            .await
            .unwrap(),
        1
    );
    a2.wait_for("heads naming the recall's rev", T, |f| {
        matches!(f, ServerFrame::Heads { conversations }
            if conversations.iter().any(|m| m.conversation_id == conv.id && m.rev == 2))
    })
    .await;
    a2.send(&ClientFrame::Sync {
        conversations: vec![app::protocol::ResumePoint {
            conversation_id: conv.id,
            after_rev: 1,
        }],
    })
    .await;
    let (messages, _) = a2.sync_page("the recall, by sync").await;
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.id, m.recalled, m.content.clone(), m.rev))
            .collect::<Vec<_>>(),
        vec![(sent.id, true, None, 2)]
    );
}

/// The retry sweep runs on whichever node claims the due record; the recipient may be
/// connected to another node. The retry still reaches them there, and their ack settles it.
#[tokio::test]
async fn a_retry_claimed_by_one_node_reaches_the_recipient_on_another() {
    let Some((_nats, n1, n2)) = two_nodes().await else {
        return;
    };
    let alice = n1.register("cr_alice").await;
    let bob = n1.register("cr_bob").await.on(&n2);
    let conv = alice.direct_with(&bob).await;
    let mut bw = bob.ws().await;
    bw.caught_up().await;
    let m = alice.send_http(conv.id, "cr1", "retry me").await.message;
    bw.wait_for("live", T, |f| matches!(f, ServerFrame::Message { .. }))
        .await;
    // Not acknowledged in time (as the ack timeout would find it).
    n2.state
        .delivery
        .push_failed(bob.id(), &[m.id], "test: not acknowledged")
        .await
        .unwrap();
    // Node 1 (where bob is not connected) claims and runs the retry.
    let later = courier::clock::now_ms() + 3_600_000;
    let report = n1.state.delivery.retry_sweep(later).await.unwrap();
    assert_eq!(report.repushed + report.postponed, 1, "{report:?}");
    let again = bw
        .wait_for(
            "the retry on node 2",
            T,
            |f| matches!(f, ServerFrame::Message { message } if message.id == m.id),
        )
        .await;
    assert!(matches!(again, ServerFrame::Message { .. }));
    bw.send(&ClientFrame::Ack {
        message_ids: vec![m.id],
    })
    .await;
    let mut delivered = false;
    for _ in 0..100 {
        let (_, r) = alice.get(&format!("/api/messages/{}/receipts", m.id)).await;
        if r["status"] == "delivered" {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(delivered, "the ack on node 2 settled the retried record");
}

/// NATS stops in the middle of a stream of messages and comes back: the recipient, on the other
/// node all along, ends with every message once, in seq order, and nothing left pending — what
/// NATS lost, the republish sweep (run here at the times the scheduler would) brings.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_stopped_and_restarted_mid_stream_loses_nothing() {
    let Some((mut nats, n1, n2)) = two_nodes().await else {
        return;
    };
    let alice = n1.register("cn_alice").await;
    let bob = n1.register("cn_bob").await.on(&n2);
    let conv = alice.direct_with(&bob).await;
    let mut aw = alice.ws().await;
    aw.caught_up().await;
    let mut bw = bob.ws().await;
    bw.caught_up().await;

    let total = 60;
    let mut sent: Vec<i64> = Vec::new();
    for i in 0..total {
        if i == 20 {
            nats.stop();
        }
        if i == 40 {
            nats.restart().await;
        }
        aw.send(&ClientFrame::Send {
            client_msg_id: format!("cn{i}"),
            conversation_id: conv.id,
            content: format!("m{i}"),
        })
        .await;
        if let ServerFrame::Sent { message, .. } = aw
            .wait_for("sent", T, |f| matches!(f, ServerFrame::Sent { .. }))
            .await
        {
            sent.push(message.id);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Bob takes what arrives (acknowledging it); the sweep runs as the scheduler would, once an
    // ack timeout has passed.
    let mut got: std::collections::BTreeMap<i64, i64> = Default::default();
    let ack_timeout = n2.state.config.delivery.ack_timeout().as_millis() as i64;
    for round in 1..=20 {
        while let Some(f) = bw.next(Duration::from_millis(300)).await {
            if let ServerFrame::Message { message } = f {
                got.insert(message.seq, message.id);
                bw.send(&ClientFrame::Ack {
                    message_ids: vec![message.id],
                })
                .await;
            }
        }
        if got.len() == total {
            break;
        }
        let at = courier::clock::now_ms() + round * (ack_timeout + 1_000);
        n2.state.delivery.republish_sweep(at).await.unwrap();
    }
    every_message_once_in_order(&got, &sent, &bob).await;
}

/// The node holding the recipient is killed (`kill -9`, a separate process) while a sender on
/// the other node streams. The recipient reconnects through the surviving node and ends with
/// every message once, in order, and nothing left pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_recipients_node_mid_stream_loses_nothing() {
    let Some((nats, n1, _n2)) = two_nodes().await else {
        return;
    };
    // The node that will die: the real binary, in its own process.
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut doomed = tokio::process::Command::new(env!("CARGO_BIN_EXE_courier"))
        .current_dir(dir.path())
        .env_clear()
        .env("COURIER_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", n1.state.config.database_url.as_str())
        .env("COURIER_NATS_URL", &nats.url)
        .env("COURIER_DIST_DIR", &dist)
        .env("COURIER_METRICS_ADDR", "")
        .env("COURIER_SCHEDULER_ENABLED", "false")
        .env("COURIER_SEND_RATE_PER_SEC", "100000")
        .env("COURIER_SEND_BURST", "100000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("courier binary starts");
    let doomed_base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..200 {
        if reqwest::get(format!("{doomed_base}/healthz")).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the second node answers");

    let alice = n1.register("ck_alice").await;
    let bob_on_n1 = n1.register("ck_bob").await;
    let bob_on_doomed = bob_on_n1.at(&doomed_base);
    let conv = alice.direct_with(&bob_on_n1).await;
    let mut aw = alice.ws().await;
    aw.caught_up().await;
    let mut bw = bob_on_doomed.ws().await;
    bw.caught_up().await;

    let total = 60usize;
    let mut sent = Vec::new();
    let mut got: std::collections::BTreeMap<i64, i64> = Default::default();
    for i in 0..total {
        if i == 25 {
            doomed.start_kill().unwrap(); // SIGKILL: no goodbye, no flush
            doomed.wait().await.unwrap();
        }
        aw.send(&ClientFrame::Send {
            client_msg_id: format!("ck{i}"),
            conversation_id: conv.id,
            content: format!("m{i}"),
        })
        .await;
        if let ServerFrame::Sent { message, .. } = aw
            .wait_for("sent", T, |f| matches!(f, ServerFrame::Sent { .. }))
            .await
        {
            sent.push(message.id);
        }
        if i < 25 {
            // Bob reads and acknowledges live while his node lives.
            if let ServerFrame::Message { message } = bw
                .wait_for("live on the doomed node", T, |f| {
                    matches!(f, ServerFrame::Message { .. })
                })
                .await
            {
                got.insert(message.seq, message.id);
                bw.send(&ClientFrame::Ack {
                    message_ids: vec![message.id],
                })
                .await;
            }
        }
    }
    drop(bw);
    // Bob's client reconnects — through the load balancer, to the node that is left.
    let mut bw = bob_on_n1.ws().await;
    loop {
        match bw.next(T).await.expect("replay and live frames") {
            ServerFrame::Batch { messages, .. } => {
                let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
                for m in messages {
                    got.insert(m.seq, m.id);
                }
                bw.send(&ClientFrame::Ack { message_ids: ids }).await;
            }
            ServerFrame::Message { message } => {
                got.insert(message.seq, message.id);
                bw.send(&ClientFrame::Ack {
                    message_ids: vec![message.id],
                })
                .await;
            }
            ServerFrame::CaughtUp { .. } => break,
            _ => {}
        }
    }
    every_message_once_in_order(&got, &sent, &bob_on_n1).await;
}

/// One node restarts (a graceful stop and a start on the same settings) while both carry
/// traffic: senders on each node stream to a recipient on the other; the clients of the
/// restarting node reconnect to it when it is back. Every message arrives once, in order, and
/// nothing is left pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_restarted_while_both_carry_traffic_loses_nothing() {
    let Some((nats, n1, n2)) = two_nodes().await else {
        return;
    };
    let alice = n1.register("cs_alice").await; // on node 1, writes to bob
    let bob = n1.register("cs_bob").await.on(&n2); // on node 2, writes to alice
    let conv = alice.direct_with(&bob).await;
    let mut aw = alice.ws().await;
    aw.caught_up().await;
    let mut bw = bob.ws().await;
    bw.caught_up().await;
    let total = 40usize;
    // Each side sends 40 over HTTP (node 1 for alice; node 2 for bob, which goes away midway:
    // bob's sends in that window go through node 1, as a load balancer would route them).
    let mut n2 = Some(n2);
    let mut n2_config = None;
    let mut sent_by_bob = Vec::new();
    let mut sent_by_alice = Vec::new();
    for i in 0..total {
        if i == 15 {
            let node = n2.take().unwrap();
            let mut c = (*node.state.config).clone();
            c.addr = "127.0.0.1:0".parse().unwrap();
            n2_config = Some(c);
            drop(bw);
            node.stop().await;
            // bob's client falls back to node 1 meanwhile.
            bw = bob.on(&n1).ws().await;
        }
        if i == 30 {
            let dir = tempfile::tempdir().unwrap();
            let mut c = n2_config.take().unwrap();
            c.dist_dir = test_config(dir.path()).dist_dir;
            c.nats_url = Some(nats.url.clone());
            let node = start(c, dir).await;
            drop(bw);
            bw = bob.on(&node).ws().await;
            n2 = Some(node);
        }
        let bob_now = match &n2 {
            Some(node) => bob.on(node),
            None => bob.on(&n1),
        };
        sent_by_alice.push(
            alice
                .send_http(conv.id, &format!("a{i}"), "to bob")
                .await
                .message
                .seq,
        );
        sent_by_bob.push(
            bob_now
                .send_http(conv.id, &format!("b{i}"), "to alice")
                .await
                .message
                .seq,
        );
    }
    // Each side collects what reaches it (replays and live), acknowledging as it goes.
    async fn collect(w: &mut Ws, from: i64, want: usize) -> std::collections::BTreeSet<i64> {
        let mut got = std::collections::BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while got.len() < want && tokio::time::Instant::now() < deadline {
            let Some(f) = w.next(Duration::from_millis(500)).await else {
                continue;
            };
            let msgs = match f {
                ServerFrame::Batch { messages, .. } => messages,
                ServerFrame::Message { message } => vec![message],
                _ => continue,
            };
            let ids = msgs.iter().map(|m| m.id).collect();
            got.extend(msgs.iter().filter(|m| m.sender_id == from).map(|m| m.seq));
            w.send(&ClientFrame::Ack { message_ids: ids }).await;
        }
        got
    }
    // Alice's socket stayed up all along; bob's is on the restarted node 2.
    let got_by_alice = collect(&mut aw, bob.id(), total).await;
    let got_by_bob = collect(&mut bw, alice.id(), total).await;
    assert_eq!(
        got_by_alice,
        sent_by_bob.iter().copied().collect(),
        "alice got every one of bob's messages"
    );
    assert_eq!(
        alice.pending_after_settling().await,
        0,
        "nothing left for alice"
    );
    assert_eq!(
        got_by_bob,
        sent_by_alice.iter().copied().collect(),
        "bob got every one of alice's messages (unacknowledged ones replayed on his new sockets)"
    );
    assert_eq!(
        bob.on(&n1).pending_after_settling().await,
        0,
        "nothing left for bob"
    );
}
