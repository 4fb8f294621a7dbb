//! Background jobs: the failed-push retry sweep (every `retry_interval_secs`, default 5 min),
//! the republish sweep and the `heads` announcement (every ack timeout: what NATS lost between
//! nodes), the search index catch-up (SQLite), and the daily cleanup of pushed records (at
//! `cleanup_at` local time, default 02:00). The jobs live in the delivery engine
//! (`delivery::retry`, `delivery::heads`) so tests call them directly.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Local, NaiveTime, TimeZone};
use futures_util::FutureExt;

use crate::clock::now_ms;
use crate::delivery::Delivery;
use crate::telemetry::OutcomeLabel;

/// Starts both jobs unless the scheduler is disabled. They stop when `shutdown` fires.
pub fn start(delivery: Arc<Delivery>, shutdown: tokio::sync::watch::Receiver<bool>) {
    let cfg = delivery.config.scheduler.clone();
    if !cfg.enabled {
        tracing::info!("scheduler disabled by configuration");
        return;
    }
    let (hour, minute) = cfg.cleanup_time().unwrap_or((2, 0));
    every(
        &delivery,
        &shutdown,
        Duration::from_secs(cfg.retry_interval_secs.max(1)),
        "retry_sweep",
        |d| async move { d.retry_sweep(now_ms()).await.map(|_| ()) },
    );
    // What NATS lost between nodes reaches connected users after one ack timeout.
    every(
        &delivery,
        &shutdown,
        delivery.config.delivery.ack_timeout(),
        "republish_sweep",
        |d| async move { d.republish_sweep(now_ms()).await.map(|_| ()) },
    );
    // A change whose live frame was lost between nodes (a recall, a message to its sender's
    // other devices) is found by the device within about one ack timeout too.
    every(
        &delivery,
        &shutdown,
        delivery.config.delivery.ack_timeout(),
        "heads",
        |d| async move { d.announce_heads(now_ms()).await.map(|_| ()) },
    );
    // New messages become searchable off the send path, in chunks (SQLite; a no-op on
    // PostgreSQL). A search indexes whatever is left first, so this only keeps that small.
    every(
        &delivery,
        &shutdown,
        Duration::from_millis(250),
        "search_index",
        |d| async move { d.index_search_backlog().await },
    );
    let mut shutdown = shutdown;
    tokio::spawn(async move {
        loop {
            let wait = until_next(Local::now(), hour, minute);
            tracing::info!(in_secs = wait.as_secs(), "next daily cleanup scheduled");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {
                    supervised(&delivery, "cleanup", delivery.daily_cleanup(now_ms())).await;
                }
                _ = shutdown.changed() => break,
            }
        }
    });
}

/// Runs one job: an error is logged, and a panic is logged and counted while the job's loop
/// carries on (the next period runs it again), so a bad row can never stop the scheduler.
/// Runs `job` every `period` (the first time one period from now) until shutdown.
fn every<F, Fut>(
    delivery: &Arc<Delivery>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
    period: Duration,
    name: &'static str,
    job: F,
) where
    F: Fn(Arc<Delivery>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = crate::error::AppResult<()>> + Send,
{
    let delivery = delivery.clone();
    let mut shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => supervised(&delivery, name, job(delivery.clone())).await,
                _ = shutdown.changed() => break,
            }
        }
    });
}

async fn supervised<T>(
    delivery: &Delivery,
    job: &'static str,
    run: impl std::future::Future<Output = crate::error::AppResult<T>>,
) {
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => e.log(),
        Err(_) => {
            delivery
                .metrics
                .task_panics
                .get_or_create(&OutcomeLabel { outcome: job })
                .inc();
            tracing::error!(job, "a scheduled job panicked; it runs again next period");
        }
    }
}

/// Time from `now` until the next `hour:minute` local time (tomorrow if it has passed today).
pub fn until_next<Tz: TimeZone>(now: DateTime<Tz>, hour: u32, minute: u32) -> Duration {
    let at = NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN);
    let tz = now.timezone();
    let mut day = now.date_naive();
    for _ in 0..3 {
        // `earliest` handles a DST gap by taking the first valid instant.
        if let Some(next) = tz.from_local_datetime(&day.and_time(at)).earliest() {
            if next > now {
                return (next - now.clone())
                    .to_std()
                    .unwrap_or(Duration::from_secs(60));
            }
        }
        day = day.succ_opt().unwrap_or(day);
    }
    Duration::from_secs(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn next_cleanup_is_today_or_tomorrow() {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 1, 30, 0).unwrap();
        assert_eq!(until_next(now, 2, 0), Duration::from_secs(30 * 60));
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 2, 0, 0).unwrap();
        assert_eq!(until_next(now, 2, 0), Duration::from_secs(86_400));
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 23, 0, 0).unwrap();
        assert_eq!(until_next(now, 2, 0), Duration::from_secs(3 * 3600));
    }
}
