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
