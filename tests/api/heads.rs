//! The `heads` frame: each node tells its own connections, from the database, the latest rev of
//! their conversations that changed lately, so a change whose live frame was lost is found
//! without a reconnect (the cluster case: tests/api/cluster.rs).

use std::time::Duration;

use app::protocol::{ClientFrame, ResumePoint, RevMark, ServerFrame};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const T: Duration = Duration::from_secs(10);

fn heads_of(f: &ServerFrame) -> Option<&[RevMark]> {
    match f {
        ServerFrame::Heads { conversations } => Some(conversations),
        _ => None,
    }
}

#[tokio::test]
async fn each_connected_member_hears_the_latest_rev_of_what_changed_lately() {
    let app = spawn_app().await;
    let alice = app.register("hd_alice").await;
    let bob = app.register("hd_bob").await;
    let carol = app.register("hd_carol").await;
    let ab = alice.direct_with(&bob).await;
    let quiet = bob.direct_with(&carol).await;
    let mut bw = bob.ws().await;
    bw.caught_up().await;
    let mut cw = carol.ws().await;
    cw.caught_up().await;

    let sent = alice.send_http(ab.id, "hd1", "one").await.message;
    alice.send_http(ab.id, "hd2", "two").await;
    let (s, v) = alice
        .post(&format!("/api/messages/{}/recall", sent.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let d = &app.state.delivery;
    let now = courier::clock::now_ms();
    // Bob is connected and a member: told. Carol's only conversation did not change; Alice is
    // not connected.
    assert_eq!(d.announce_heads(now).await.unwrap(), 1);
    let f = bw.wait_for("heads", T, |f| heads_of(f).is_some()).await;
    assert_eq!(
        heads_of(&f).unwrap(),
        [RevMark {
            conversation_id: ab.id,
            rev: 3
        }],
        "two messages and a recall; the quiet conversation is not named"
    );
    assert!(
        cw.quiet_for(Duration::from_millis(300), |f| heads_of(f).is_some())
            .await,
        "nothing changed for carol"
    );
    let _ = quiet;

    // Once the changes are older than two periods (and the resolution of the change times),
    // nothing is announced any more.
    let period = app.state.config.delivery.ack_timeout().as_millis() as i64;
    let late = now + 2 * period + courier::store::CHANGE_AT_RESOLUTION_MS + 1_000;
    assert_eq!(d.announce_heads(late).await.unwrap(), 0);

    // What a client does with it: sync from the rev it has seen, and get the recall.
    bw.send(&ClientFrame::Sync {
        conversations: vec![ResumePoint {
            conversation_id: ab.id,
            after_rev: 2,
        }],
    })
    .await;
    let (messages, through) = bw.sync_page("the sync page").await;
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.id, m.recalled, m.content.clone(), m.rev))
            .collect::<Vec<_>>(),
        vec![(sent.id, true, None, 3)]
    );
    assert_eq!(
        through,
        Some(RevMark {
            conversation_id: ab.id,
            rev: 3
        })
    );
}

#[tokio::test]
async fn a_resume_point_from_an_earlier_release_is_read_as_a_rev() {
    let app = spawn_app().await;
    let alice = app.register("hs_alice").await;
    let bob = app.register("hs_bob").await;
    let conv = alice.direct_with(&bob).await;
    let first = alice.send_http(conv.id, "hs1", "one").await.message;
    alice.send_http(conv.id, "hs2", "two").await;
    alice.send_http(conv.id, "hs3", "three").await;
    let (s, v) = alice
        .post(&format!("/api/messages/{}/recall", first.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut bw = bob.ws().await;
    bw.drain().await;
    // An older client holding seqs 1..2 asks by seq: it gets seq 3 and the recall of seq 1
    // (a superset is sound: a message's rev is never below its seq).
    bw.send_text(&format!(
        r#"{{"type":"sync","conversations":[{{"conversation_id":{},"after_seq":2}}],"recalled_since":0}}"#,
        conv.id
    ))
    .await;
    let (messages, _) = bw.sync_page("the sync page").await;
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.seq, m.recalled))
            .collect::<Vec<_>>(),
        vec![(3, false), (1, true)],
        "rev order: seq 3 (rev 3), then the recall of seq 1 (rev 4)"
    );
}
