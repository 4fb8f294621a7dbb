//! The failed-push state machine: pending → (not acknowledged in time) failed → retried with
//! exponential backoff → pushed, or terminally failed after `max_retries` attempts. A terminal
//! record is still replayed whenever the user connects: "failed" never means "dropped".

use app::model::{Message, MessageId, UserId};
use app::protocol::ServerFrame;

use super::{frame, Delivery, Frame};
use crate::clock::now_ms;
use crate::error::AppResult;

/// The frame that carries a message's current state: `recalled` for a recalled message (its
/// text is gone), the message otherwise. Used to push a record's message again, and to tell
/// members of a change.
pub(super) fn current_state_frame(message: Message, now: i64) -> Frame {
    if message.recalled {
        frame(&ServerFrame::Recalled {
            message_id: message.id,
            conversation_id: message.conversation_id,
            seq: message.seq,
            recalled_at: message.recalled_at.unwrap_or(now),
            rev: message.rev,
        })
    } else {
        frame(&ServerFrame::Message { message })
    }
}

/// How long a claimed due record is this node's to retry before another node may take it.
const RETRY_LEASE_MS: i64 = 60_000;

/// What one retry sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Records re-pushed to a connected device.
    pub repushed: u64,
    /// Records whose recipient was offline: attempt counted, next retry scheduled (or terminal).
    pub postponed: u64,
}

impl Delivery {
    /// Backoff before retry number `attempts` (1-based), in milliseconds: base · 2^(attempts−1), capped.
    pub fn backoff_ms(&self, attempts: i64) -> i64 {
        let s = &self.config.scheduler;
        let exp = (attempts.max(1) - 1).min(30) as u32;
        let secs = s
            .backoff_base_secs
            .saturating_mul(1u64 << exp)
            .min(s.backoff_max_secs);
        (secs as i64).saturating_mul(1000)
    }

    /// Pushes that were not acknowledged in time.
    pub async fn push_failed(
        &self,
        user: UserId,
        ids: &[MessageId],
        error: &str,
    ) -> AppResult<u64> {
        let max = self.config.scheduler.max_retries;
        let backoff = |attempts: i64| self.backoff_ms(attempts);
        let n = self
            .store
            .mark_failed(user, ids, error, now_ms(), max, &backoff)
            .await?;
        if n > 0 {
            self.metrics.push("failed", n);
            tracing::warn!(user, records = n, error, "push failed");
        }
        Ok(n)
    }

    /// The 5-minute sweep: re-push due failed records to connected recipients; for offline
    /// ones count the attempt and back off. Never touches a pushed (delivered) record.
    pub async fn retry_sweep(&self, now: i64) -> AppResult<SweepReport> {
        let max = self.config.scheduler.max_retries;
        let mut report = SweepReport::default();
        loop {
            // Claimed, not just read: on a cluster every node sweeps, and each due record must
            // be retried by one of them, once. A node that dies mid-sweep leaves its claims due
            // again a minute later.
            let due = self
                .store
                .claim_due_retries(now, max, 500, now + RETRY_LEASE_MS)
                .await?;
            if due.is_empty() {
                break;
            }
            for r in &due {
                let message = self.store.message(r.message_id).await?;
                let Some(message) = message else {
                    let next = now + self.backoff_ms(r.retry_count + 1);
                    self.store
                        .postpone_retry(r.record_id, "message gone", now, max, next)
                        .await?;
                    report.postponed += 1;
                    continue;
                };
                let f = current_state_frame(message, now);
                // Connected here: push and wait for the ack. Not connected here: count the
                // attempt and back off — but still offer it to the other nodes of a cluster
                // (this node cannot know whether the user is connected to one of them; an ack
                // from there moves the record to pushed whatever its state).
                if self.fanout.is_online(r.user_id) {
                    self.store.mark_retrying(r.record_id, now_ms()).await?;
                    self.fanout.deliver_to_user(r.user_id, &f, &[r.message_id]);
                    report.repushed += 1;
                } else {
                    let next = now + self.backoff_ms(r.retry_count + 1);
                    self.store
                        .postpone_retry(r.record_id, "recipient offline", now, max, next)
                        .await?;
                    self.fanout.deliver_to_user(r.user_id, &f, &[r.message_id]);
                    report.postponed += 1;
                }
            }
            if due.len() < 500 {
                break;
            }
        }
        self.metrics.retry_sweeps.inc();
        if report.repushed + report.postponed > 0 {
            self.metrics.push("retried", report.repushed);
            tracing::info!(
                repushed = report.repushed,
                postponed = report.postponed,
                "retry sweep"
            );
        }
        Ok(report)
    }

    /// The republish sweep (every ack timeout): pushes still pending for users connected to
    /// this node, untouched for longer than the ack timeout, are pushed again. Between nodes
    /// the push travels over NATS, which is at-most-once: a publish lost to an outage or a
    /// partition leaves exactly such a record, and this is what delivers it while the user stays
    /// connected (otherwise it would wait for their next reconnect or seq gap). Each node serves
    /// its own connections, so nothing here depends on another node's view. Returns how many.
    pub async fn republish_sweep(&self, now: i64) -> AppResult<u64> {
        let users = self.fanout.local_users();
        if users.is_empty() {
            return Ok(0);
        }
        let older_than = now - self.config.delivery.ack_timeout().as_millis() as i64;
        let mut total = 0u64;
        for chunk in users.chunks(1000) {
            let stale = self
                .store
                .claim_stale_pending(chunk, older_than, 1000, now)
                .await?;
            for s in &stale {
                let Some(message) = self.store.message(s.message_id).await? else {
                    continue;
                };
                let f = current_state_frame(message, now);
                self.fanout.deliver_to_user(s.user_id, &f, &[s.message_id]);
                total += 1;
            }
        }
        if total > 0 {
            self.metrics.push("republished", total);
            tracing::info!(
                republished = total,
                "pending pushes republished to connected users"
            );
        }
        Ok(total)
    }

    /// The daily cleanup as the scheduler runs it: once per UTC day across every node sharing
    /// the database (the node that claims the day runs it). `None` when another node has.
    pub async fn daily_cleanup(&self, now: i64) -> AppResult<Option<u64>> {
        let day = now.div_euclid(86_400_000);
        if !self.store.claim_job_run("cleanup", day).await? {
            tracing::info!(day, "daily cleanup already run by another node");
            return Ok(None);
        }
        Ok(Some(self.cleanup(now).await?))
    }

    /// The daily cleanup: deletes pushed records older than the retention, and expired
    /// sessions. Idempotent. Returns the number of push records removed.
    pub async fn cleanup(&self, now: i64) -> AppResult<u64> {
        let retention_ms = self
            .config
            .scheduler
            .retention_days
            .max(0)
            .saturating_mul(86_400_000);
        let removed = self.store.cleanup_pushed(now - retention_ms).await?;
        self.metrics.cleanup_removed.inc_by(removed);
        // Expired sessions can never be used again; their rows only leak who logged in when.
        let sessions = self.store.delete_expired_sessions(now).await?;
        tracing::info!(
            removed,
            expired_sessions_removed = sessions,
            retention_days = self.config.scheduler.retention_days,
            "daily cleanup of pushed records and expired sessions"
        );
        Ok(removed)
    }
}
