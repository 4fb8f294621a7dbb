//! The retry sweep and the daily cleanup, run directly at chosen times.

use app::protocol::{ClientFrame, ServerFrame};
use courier::clock::now_ms;
use courier::delivery::retry::SweepReport;

use courier::delivery::Fanout;

use crate::helpers::*;

#[tokio::test]
async fn retry_sweep_backs_off_goes_terminal_and_never_repushes_delivered() {
    let app = spawn_app_with(|c| {
        c.delivery.ack_timeout_secs = 1;
        c.scheduler.max_retries = 3;
        c.scheduler.backoff_base_secs = 60;
        c.scheduler.backoff_max_secs = 90;
    })
    .await;
    let d = app.state.delivery.clone();
    assert_eq!(d.backoff_ms(1), 60_000);
    assert_eq!(d.backoff_ms(2), 90_000, "capped");
    let a = app.register("ra").await;
    let b = app.register("rb").await;
    let conv = a.direct_with(&b).await;
    let mut bw = b.ws().await;
    bw.caught_up().await;
    let m = a.send_http(conv.id, "r1", "retry me").await.message;
    bw.wait_for("live", T, |f| matches!(f, ServerFrame::Message { .. }))
        .await;
    drop(bw); // never acknowledged; the connection dies
              // The sweep decides by presence: wait until the server has seen the socket go.
    for _ in 0..100 {
        if !app.state.hub.is_online(b.id()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!app.state.hub.is_online(b.id()));
    // Failed by the ack timeout? The connection died first, so the record is still pending:
    // mark it failed the way an expired push does.
    d.push_failed(b.id(), &[m.id], "test: not acknowledged")
        .await
        .unwrap();
    let now = now_ms();
    // Not due yet: nothing happens.
    assert_eq!(d.retry_sweep(now).await.unwrap(), SweepReport::default());
    // Due, recipient offline: attempt counted, pushed out again (retry_count 2).
    assert_eq!(
        d.retry_sweep(now + 61_000).await.unwrap(),
        SweepReport {
            repushed: 0,
            postponed: 1
        }
    );
    // Due again, offline again: third attempt reaches max_retries → terminal.
    assert_eq!(
        d.retry_sweep(now + 61_000 + 91_000).await.unwrap(),
        SweepReport {
            repushed: 0,
            postponed: 1
        }
    );
    assert_eq!(
        d.retry_sweep(now + 10_000_000).await.unwrap(),
        SweepReport::default(),
        "terminal: no more retries"
    );
    let (_, diag) = a.get("/api/diagnostics").await;
    let r = &diag["recent_sent_records"][0];
    assert_eq!(r["push_status"], "failed");
    assert_eq!(r["retry_count"], 3);
    // Terminal does not mean dropped: the message is replayed when B connects.
    let mut bw = b.ws().await;
    let f = bw
        .wait_for("replay", T, |f| matches!(f, ServerFrame::Batch { .. }))
        .await;
    assert!(matches!(f, ServerFrame::Batch { ref messages, .. } if messages[0].id == m.id));
    bw.send(&ClientFrame::Ack {
        message_ids: vec![m.id],
    })
    .await;
    bw.caught_up().await;
    assert_eq!(
        d.retry_sweep(now + 20_000_000).await.unwrap(),
        SweepReport::default(),
        "delivered is never re-pushed"
    );
}

#[tokio::test]
async fn retry_sweep_repushes_to_a_connected_device() {
    let app = spawn_app().await;
    let d = app.state.delivery.clone();
    let a = app.register("pa").await;
    let b = app.register("pb").await;
    let conv = a.direct_with(&b).await;
    let m = a.send_http(conv.id, "p1", "second chance").await.message;
    d.push_failed(b.id(), &[m.id], "test").await.unwrap();
    let mut bw = b.ws().await;
    // Replay on connect delivers it; leave it unacknowledged and let the sweep push again.
    bw.wait_for("replay", T, |f| matches!(f, ServerFrame::Batch { .. }))
        .await;
    let report = d.retry_sweep(now_ms() + 3_600_000).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            repushed: 1,
            postponed: 0
        }
    );
    bw.wait_for(
        "re-push",
        T,
        |f| matches!(f, ServerFrame::Message { message } if message.id == m.id),
    )
    .await;
    bw.send(&ClientFrame::Ack {
        message_ids: vec![m.id],
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (_, diag) = a.get("/api/diagnostics").await;
    assert_eq!(diag["recent_sent_records"][0]["push_status"], "pushed");
}

#[tokio::test]
async fn daily_cleanup_removes_old_pushed_records_only_and_is_idempotent() {
    let app = spawn_app_with(|c| c.scheduler.retention_days = 7).await;
    let d = app.state.delivery.clone();
    let a = app.register("ca").await;
    let b = app.register("cb").await;
    let conv = a.direct_with(&b).await;
    let m1 = a.send_http(conv.id, "c1", "delivered").await.message;
    a.send_http(conv.id, "c2", "still pending").await;
    b.post(
        "/api/offline-messages/ack",
        serde_json::json!({"message_ids": [m1.id]}),
    )
    .await;
    // Today: the pushed record is younger than the retention.
    assert_eq!(d.cleanup(now_ms()).await.unwrap(), 0);
    let in_8_days = now_ms() + 8 * 86_400_000;
    assert_eq!(d.cleanup(in_8_days).await.unwrap(), 1);
    assert_eq!(d.cleanup(in_8_days).await.unwrap(), 0, "idempotent");
    let (_, diag) = a.get("/api/diagnostics").await;
    assert_eq!(
        diag["sent_records"]["pending"], 1,
        "pending records are never cleaned up"
    );
    // History is untouched by the cleanup.
    let (_, page) = b
        .get(&format!("/api/conversations/{}/messages", conv.id))
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    let (_, r) = a.get(&format!("/api/messages/{}/receipts", m1.id)).await;
    assert_eq!(r["status"], "delivered");
}

/// The republish sweep's claim, on whichever backend the suite runs: pending records of the
/// given users created since their connection opened and untouched for longer than the ack
/// timeout are claimed once; older ones (the replay's) and other users' are not.
#[tokio::test]
async fn stale_pending_pushes_are_claimed_once_and_only_since_the_connection_opened() {
    let app = spawn_app().await;
    let a = app.register("sp_a").await;
    let b = app.register("sp_b").await;
    let c = app.register("sp_c").await;
    let ab = a.direct_with(&b).await;
    let ac = a.direct_with(&c).await;
    let before = a
        .send_http(ab.id, "sp0", "before b connected")
        .await
        .message;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let since = now_ms();
    let after1 = a.send_http(ab.id, "sp1", "after").await.message;
    let after2 = a.send_http(ab.id, "sp2", "after").await.message;
    a.send_http(ac.id, "sp3", "to someone else").await;
    let store = &app.state.store;
    let t = now_ms() + 1;
    let claimed = store
        .claim_stale_pending(&[(b.id(), since)], t, 100, t)
        .await
        .unwrap();
    let ids: Vec<i64> = claimed.iter().map(|s| s.message_id).collect();
    assert_eq!(
        ids,
        vec![after1.id, after2.id],
        "not {} (before)",
        before.id
    );
    assert!(claimed.iter().all(|s| s.user_id == b.id()));
    // Claimed: untouched only from now on.
    assert!(store
        .claim_stale_pending(&[(b.id(), since)], t, 100, t)
        .await
        .unwrap()
        .is_empty());
}
