//! Lossless resume under fire: thousands of messages while the recipient's (and the senders')
//! connections are killed at random points. At the end the recipient has every message exactly
//! once per (conversation, seq), in gap-free sequence order, and the server stored no duplicate.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use app::model::Message;
use app::protocol::{ClientFrame, ServerFrame};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::helpers::*;

const PER_SENDER: usize = 1500;

async fn sender(user: TestUser, conv: i64, seed: u64) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut next = 0;
    let mut unacked: BTreeMap<String, ()> = BTreeMap::new();
    let mut connections = 0;
    loop {
        let mut ws = user.ws().await;
        connections += 1;
        // Resend everything not acknowledged, with the same client_msg_id.
        for id in unacked.keys() {
            ws.send(&ClientFrame::Send {
                client_msg_id: id.clone(),
                conversation_id: conv,
                content: format!("body of {id}"),
            })
            .await;
        }
        let kill_after = rng.gen_range(50..400);
        let mut frames = 0;
        loop {
            while unacked.len() < 64 && next < PER_SENDER {
                let id = format!("c{conv}-{next}");
                ws.send(&ClientFrame::Send {
                    client_msg_id: id.clone(),
                    conversation_id: conv,
                    content: format!("body of {id}"),
                })
                .await;
                unacked.insert(id, ());
                next += 1;
            }
            if unacked.is_empty() && next == PER_SENDER {
                return connections;
            }
            match ws.next(Duration::from_secs(10)).await {
                Some(ServerFrame::Sent { client_msg_id, .. }) => {
                    unacked.remove(&client_msg_id);
                }
                Some(ServerFrame::Error { code, message, .. }) => {
                    panic!("send refused: {code} {message}")
                }
                Some(_) => {}
                None => break,
            }
            frames += 1;
            if frames >= kill_after {
                break; // dropped without a close frame: an abrupt disconnect
            }
        }
    }
}

#[tokio::test]
async fn randomized_kills_lose_nothing_and_duplicate_nothing() {
    let seed: u64 = std::env::var("COURIER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("resume_random seed = {seed} (rerun with COURIER_TEST_SEED={seed})");
    let app = spawn_app_with(|c| c.delivery.replay_page_size = 100).await;
    let a = app.register("ka").await;
    let c = app.register("kc").await;
    let b = app.register("kb").await;
    let conv_a = a.direct_with(&b).await.id;
    let conv_c = c.direct_with(&b).await.id;
    let total = 2 * PER_SENDER;

    let senders = [
        tokio::spawn(sender(a, conv_a, seed ^ 1)),
        tokio::spawn(sender(c, conv_c, seed ^ 2)),
    ];

    let mut rng = StdRng::seed_from_u64(seed);
    let mut by_id: HashMap<i64, Message> = HashMap::new();
    let mut by_seq: HashMap<(i64, i64), i64> = HashMap::new();
    let mut deliveries = 0usize;
    let mut connections = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    'outer: while by_id.len() < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "recipient stalled at {} of {total}",
            by_id.len()
        );
        let mut ws = b.ws().await;
        connections += 1;
        let kill_after = rng.gen_range(1..300);
        let mut frames = 0;
        loop {
            let Some(f) = ws.next(Duration::from_secs(5)).await else {
                continue 'outer;
            };
            let messages = match f {
                ServerFrame::Message { message } => vec![message],
                ServerFrame::Batch { messages, .. } => messages,
                _ => vec![],
            };
            frames += 1;
            let mut ids = Vec::new();
            for m in messages {
                deliveries += 1;
                assert_eq!(
                    m.content.as_deref(),
                    Some(format!("body of {}", m.client_msg_id).as_str()),
                    "content intact"
                );
                if let Some(other) = by_seq.insert((m.conversation_id, m.seq), m.id) {
                    assert_eq!(other, m.id, "two messages with one seq");
                }
                ids.push(m.id);
                by_id.insert(m.id, m);
            }
            if frames >= kill_after {
                // Killed between receiving and acknowledging.
                continue 'outer;
            }
            if !ids.is_empty() {
                ws.send(&ClientFrame::Ack { message_ids: ids }).await;
            }
            if by_id.len() == total {
                break 'outer;
            }
        }
    }
    let mut sender_connections = 0;
    for s in senders {
        sender_connections += s.await.unwrap();
    }

    // Everything, once, in gap-free order per conversation.
    for conv in [conv_a, conv_c] {
        let mut seqs: Vec<i64> = by_id
            .values()
            .filter(|m| m.conversation_id == conv)
            .map(|m| m.seq)
            .collect();
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=PER_SENDER as i64).collect::<Vec<_>>(),
            "conversation {conv}"
        );
    }
    // The server stored exactly one message per client_msg_id despite the senders' resends.
    for conv in [conv_a, conv_c] {
        let (msgs, _) = app.state.store.history(conv, None, 1).await.unwrap();
        assert_eq!(
            msgs[0].seq, PER_SENDER as i64,
            "no duplicate stored in {conv}"
        );
    }
    // A last clean connection acknowledges whatever was in flight at the last kill; then
    // nothing is left pending.
    let mut ws = b.ws().await;
    loop {
        match ws
            .next(Duration::from_secs(10))
            .await
            .expect("final replay")
        {
            ServerFrame::Batch { messages, .. } => {
                assert!(
                    messages.iter().all(|m| by_id.contains_key(&m.id)),
                    "no unknown message appears"
                );
                ws.send(&ClientFrame::Ack {
                    message_ids: messages.iter().map(|m| m.id).collect(),
                })
                .await;
            }
            ServerFrame::CaughtUp { .. } => break,
            _ => {}
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, diag) = b.get("/api/diagnostics").await;
    assert_eq!(diag["my_records"]["pending"], 0);
    assert_eq!(diag["my_records"]["failed"], 0);
    assert_eq!(diag["my_records"]["pushed"], total as i64);
    println!(
        "resume_random: {total} messages, {deliveries} deliveries ({} redelivered after kills), {connections} recipient and {sender_connections} sender connections",
        deliveries - total
    );
}
