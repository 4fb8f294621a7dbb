//! The single writer: sends, changes to existing messages (a recall, …) and acknowledgements
//! from every connection and HTTP request are queued here and committed in batches — one
//! transaction, one fsync, for everything that queued while the previous batch was committing.
//! This is where a message becomes durable and where every change takes its rev; nobody is
//! told `sent` (or that a change applied) before the commit returns. Right after each commit
//! the new messages are pushed to connected recipients, in commit (= sequence) order, then the
//! changes, in the order they took their revs.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{MessageId, UserId};
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};

use super::changes::push_changed;
use super::push::push_committed;
use super::Fanout;
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::{
    AckOutcome, BatchOutcome, ChangeOutcome, ChangeRequest, InsertOutcome, NewMessage, Store,
};
use crate::telemetry::{Metrics, OutcomeLabel};

enum Job {
    /// A send, the connection it came from (if any), who waits for its outcome, and when it
    /// was queued.
    Send(
        NewMessage,
        Option<u64>,
        oneshot::Sender<AppResult<InsertOutcome>>,
        Instant,
    ),
    /// A change to an existing message and who waits for its outcome.
    Change(ChangeRequest, oneshot::Sender<AppResult<ChangeOutcome>>),
    Ack(
        UserId,
        Vec<MessageId>,
        oneshot::Sender<AppResult<AckOutcome>>,
    ),
    /// Answered as soon as the writer reaches it: proves the writer is alive (`/healthz`).
    Ping(oneshot::Sender<()>),
}

/// A queued job's outcome, to be awaited with [`outcome`].
pub type Pending<T> = oneshot::Receiver<AppResult<T>>;

pub struct Batcher {
    tx: mpsc::Sender<Job>,
}

impl Batcher {
    pub fn start(
        store: Arc<dyn Store>,
        fanout: Arc<dyn Fanout>,
        metrics: Arc<Metrics>,
        max_batch: usize,
        ack_linger: Duration,
    ) -> Batcher {
        let (tx, rx) = mpsc::channel(16_384);
        tokio::spawn(async move {
            run(store, fanout, metrics, rx, max_batch.max(1), ack_linger).await;
            // The queue only closes at shutdown; anything else means the writer is gone.
            tracing::info!("writer stopped");
        });
        Batcher { tx }
    }

    /// Queues a send, waiting only for room in the queue (not for the commit). Jobs commit in
    /// the order they are queued.
    pub async fn enqueue_send(
        &self,
        message: NewMessage,
        origin: Option<u64>,
    ) -> AppResult<Pending<InsertOutcome>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Send(message, origin, reply, Instant::now()))
            .await
            .map_err(|_| AppError::Unavailable)?;
        Ok(answer)
    }

    /// Queues a change, waiting only for room in the queue (not for the commit).
    pub async fn enqueue_change(&self, change: ChangeRequest) -> AppResult<Pending<ChangeOutcome>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Change(change, reply))
            .await
            .map_err(|_| AppError::Unavailable)?;
        Ok(answer)
    }

    /// True when the writer answers within `within` (it is alive and not stuck).
    pub async fn alive(&self, within: std::time::Duration) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.tx.try_send(Job::Ping(reply)).is_err() {
            // A full queue is busy, not dead; a closed one is dead.
            return !self.tx.is_closed();
        }
        matches!(tokio::time::timeout(within, answer).await, Ok(Ok(())))
    }

    /// Queues an acknowledgement, waiting only for room in the queue.
    pub async fn enqueue_ack(
        &self,
        user: UserId,
        ids: Vec<MessageId>,
    ) -> AppResult<Pending<AckOutcome>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Ack(user, ids, reply))
            .await
            .map_err(|_| AppError::Unavailable)?;
        Ok(answer)
    }
}

/// Waits for a queued job's outcome.
pub async fn outcome<T>(pending: Pending<T>) -> AppResult<T> {
    pending.await.map_err(|_| AppError::Unavailable)?
}

async fn run(
    store: Arc<dyn Store>,
    fanout: Arc<dyn Fanout>,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    ack_linger: Duration,
) {
    let m = metrics.clone();
    supervise(&mut rx, max_batch, ack_linger, &m, |jobs| {
        commit_batch(store.clone(), fanout.clone(), metrics.clone(), jobs)
    })
    .await;
}

/// Takes batches off the queue and hands each to `commit`. Supervision: a panic while
/// committing one batch fails that batch's jobs (their callers get 503 and retry,
/// idempotently) and the writer carries on with the next; the panic is logged and counted.
async fn supervise<F, Fut>(
    rx: &mut mpsc::Receiver<Job>,
    max_batch: usize,
    ack_linger: Duration,
    metrics: &Metrics,
    mut commit: F,
) where
    F: FnMut(Vec<Job>) -> Fut,
    Fut: std::future::Future<Output = Vec<Job>>,
{
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        linger_for_a_send(rx, &mut jobs, max_batch, ack_linger).await;
        match AssertUnwindSafe(commit(std::mem::take(&mut jobs)))
            .catch_unwind()
            .await
        {
            // The emptied vector comes back, to be filled again without allocating.
            Ok(done) => jobs = done,
            Err(_) => {
                metrics
                    .task_panics
                    .get_or_create(&OutcomeLabel { outcome: "writer" })
                    .inc();
                tracing::error!(
                    "the writer panicked committing a batch; its jobs failed, the writer carries on"
                );
                jobs = Vec::with_capacity(max_batch);
            }
        }
        jobs.clear();
    }
}

/// A batch of acknowledgements alone waits up to `linger` for a send to join it, so that both
/// share one commit: committing the acks at once would cost an fsync of their own, and a send
/// arriving meanwhile would wait behind it (an ack gates nobody's `sent`; a send's sender waits).
async fn linger_for_a_send(
    rx: &mut mpsc::Receiver<Job>,
    jobs: &mut Vec<Job>,
    max_batch: usize,
    linger: Duration,
) {
    let has_send = |jobs: &[Job]| {
        jobs.iter()
            .any(|j| matches!(j, Job::Send(..) | Job::Change(..)))
    };
    let has_ack = |jobs: &[Job]| jobs.iter().any(|j| matches!(j, Job::Ack(..)));
    if linger.is_zero() || has_send(jobs) || !has_ack(jobs) {
        return;
    }
    let deadline = tokio::time::Instant::now() + linger;
    while jobs.len() < max_batch && !has_send(jobs) {
        match tokio::time::timeout_at(deadline, rx.recv_many(jobs, max_batch - jobs.len())).await {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// Commits one batch of jobs and answers each.
async fn commit_batch(
    store: Arc<dyn Store>,
    fanout: Arc<dyn Fanout>,
    metrics: Arc<Metrics>,
    mut jobs: Vec<Job>,
) -> Vec<Job> {
    let mut sends = Vec::new();
    let mut origins = Vec::new();
    let mut send_replies = Vec::new();
    let mut changes = Vec::new();
    let mut change_replies = Vec::new();
    let mut acks = Vec::new();
    let mut ack_replies = Vec::new();
    let started = Instant::now();
    for job in jobs.drain(..) {
        match job {
            Job::Send(m, origin, r, queued) => {
                metrics.observe_stage("queue", started - queued);
                sends.push(m);
                origins.push(origin);
                send_replies.push(r);
            }
            Job::Change(c, r) => {
                changes.push(c);
                change_replies.push(r);
            }
            Job::Ack(u, ids, r) => {
                acks.push((u, ids));
                ack_replies.push(r);
            }
            Job::Ping(r) => {
                let _ = r.send(());
            }
        }
    }
    if sends.is_empty() && changes.is_empty() && acks.is_empty() {
        return jobs;
    }
    match store.write_batch(&sends, &changes, &acks, now_ms()).await {
        Ok(BatchOutcome {
            sent,
            changed,
            acked,
        }) => {
            let pushing = Instant::now();
            for (outcome, origin) in sent.iter().zip(&origins) {
                if let InsertOutcome::Inserted(committed) = outcome {
                    push_committed(fanout.as_ref(), &metrics, committed, *origin);
                }
            }
            for outcome in &changed {
                push_changed(fanout.as_ref(), outcome);
            }
            metrics.observe_stage("push", pushing.elapsed());
            for (reply, outcome) in send_replies.into_iter().zip(sent) {
                let _ = reply.send(Ok(outcome));
            }
            for (reply, outcome) in change_replies.into_iter().zip(changed) {
                let _ = reply.send(Ok(outcome));
            }
            for (reply, outcome) in ack_replies.into_iter().zip(acked) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, sends = sends.len(), changes = changes.len(), acks = acks.len(), "committing a batch failed; nothing in it was acknowledged");
            for reply in send_replies {
                let _ = reply.send(Err(AppError::Internal(anyhow::anyhow!(
                    "the batch commit failed: {e:#}"
                ))));
            }
            for reply in change_replies {
                let _ = reply.send(Err(AppError::Internal(anyhow::anyhow!(
                    "the batch commit failed: {e:#}"
                ))));
            }
            for reply in ack_replies {
                let _ = reply.send(Err(AppError::Internal(anyhow::anyhow!(
                    "the batch commit failed: {e:#}"
                ))));
            }
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_batch_fails_its_jobs_and_the_writer_carries_on() {
        let metrics = Arc::new(Metrics::new());
        let (tx, mut rx) = mpsc::channel(16);
        let m = metrics.clone();
        let writer = tokio::spawn(async move {
            let mut batches = 0;
            supervise(&mut rx, 8, Duration::ZERO, &m, |mut jobs: Vec<Job>| {
                batches += 1;
                let first = batches == 1;
                async move {
                    if first {
                        panic!("a bad batch");
                    }
                    for job in jobs.drain(..) {
                        if let Job::Ping(reply) = job {
                            let _ = reply.send(());
                        }
                    }
                    jobs
                }
            })
            .await;
        });
        let batcher = Batcher { tx };
        let (reply, answer) = oneshot::channel();
        batcher.tx.send(Job::Ping(reply)).await.unwrap();
        assert!(
            answer.await.is_err(),
            "the job of the panicking batch failed"
        );
        assert!(
            batcher.alive(std::time::Duration::from_secs(2)).await,
            "the writer still answers"
        );
        let text = metrics.encode();
        assert!(
            text.contains("courier_task_panics_total{outcome=\"writer\"} 1"),
            "{text}"
        );
        drop(batcher);
        writer.await.unwrap();
    }
}
