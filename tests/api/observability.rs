use app::protocol::{ClientFrame, ServerFrame};

use crate::helpers::*;

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let app = spawn_app().await;
    let a = app.register("ma").await;
    let b = app.register("mb").await;
    let conv = a.direct_with(&b).await;
    let m = a.send_http(conv.id, "m1", "count me").await.message;
    a.send_http(conv.id, "m1", "count me").await;
    a.send_http(conv.id, "m2", "and me").await;
    let text = app.metrics_text().await;
    assert_eq!(metric(&text, "courier_messages_sent_total"), 2.0);
    assert_eq!(metric(&text, "courier_duplicates_absorbed_total"), 1.0);
    assert_eq!(metric(&text, "courier_offline_backlog"), 2.0);
    let mut bw = b.ws().await;
    bw.wait_for("batch", T, |f| matches!(f, ServerFrame::Batch { .. }))
        .await;
    bw.send(&ClientFrame::Ack {
        message_ids: vec![m.id],
    })
    .await;
    let mut text = String::new();
    for _ in 0..50 {
        text = app.metrics_text().await;
        // The backlog is read from the database; the timing is observed once the writer's
        // answer is back: wait for both.
        if metric(&text, "courier_offline_backlog") == 1.0
            && metric(&text, "courier_send_to_delivered_seconds_count") >= 1.0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(metric(&text, "courier_offline_backlog"), 1.0);
    assert_eq!(metric(&text, "courier_connections"), 1.0);
    assert!(metric(&text, "courier_send_to_delivered_seconds_count") >= 1.0);
    assert!(
        text.contains("courier_db_query_seconds_bucket{"),
        "database timings are exported"
    );
    assert!(text.contains("courier_pushes_total{outcome=\"acknowledged\"}"));
    assert!(text.contains("courier_cleanup_removed_records_total"));
}

/// The commits the writer made so far (`begin`, `statements` and `commit` are observed once per
/// batch).
fn commits(text: &str) -> f64 {
    let series = "courier_send_stage_seconds_count{stage=\"commit\"}";
    // (The series appears with the first commit.)
    if text.contains(series) {
        metric(text, series)
    } else {
        0.0
    }
}

/// One send in flight, the recipient acknowledging each message at once: with the ack linger on
/// (the default), each acknowledgement waits for the next send and shares its commit, so the
/// writer commits about once per send instead of twice (the send, then its ack alone).
async fn commits_for_ping_pong(linger_ms: u64) -> (f64, f64) {
    let app = spawn_app_with(|c| c.delivery.ack_linger_ms = linger_ms).await;
    let a = app.register("la").await;
    let b = app.register("lb").await;
    let conv = a.direct_with(&b).await;
    let mut aw = a.ws().await;
    aw.caught_up().await;
    let mut bw = b.ws().await;
    bw.caught_up().await;
    let before = commits(&app.metrics_text().await);
    const N: usize = 40;
    for n in 0..N {
        let cmid = format!("pp{n}");
        aw.send(&ClientFrame::Send {
            client_msg_id: cmid.clone(),
            conversation_id: conv.id,
            content: format!("ping {n}"),
        })
        .await;
        aw.wait_for(
            "sent",
            T,
            |f| matches!(f, ServerFrame::Sent { client_msg_id, .. } if *client_msg_id == cmid),
        )
        .await;
        let got = bw
            .wait_for("the message", T, |f| {
                matches!(f, ServerFrame::Message { .. })
            })
            .await;
        let ServerFrame::Message { message } = got else {
            unreachable!()
        };
        bw.send(&ClientFrame::Ack {
            message_ids: vec![message.id],
        })
        .await;
        // Give the acknowledgement time to reach the writer before the next send, as a real
        // recipient's would: otherwise the two always arrive together, linger or not.
        tokio::time::sleep(std::time::Duration::from_micros(300)).await;
    }
    assert_eq!(b.pending_after_settling().await, 0, "every ack committed");
    let after = commits(&app.metrics_text().await);
    (after - before, N as f64)
}

#[tokio::test]
async fn acknowledgements_share_the_next_sends_commit() {
    let (lingering, n) = commits_for_ping_pong(20).await;
    assert!(
        lingering <= n + 2.0,
        "{lingering} commits for {n} sends and their acks (each ack should ride with the next send)"
    );
    let (at_once, n) = commits_for_ping_pong(0).await;
    assert!(
        at_once >= n * 1.5,
        "{at_once} commits for {n} sends without the linger: the acks should have committed alone"
    );
}
