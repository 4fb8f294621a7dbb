//! The single writer: sends and acknowledgements from every connection and HTTP request are
//! queued here and committed in batches — one transaction, one fsync, for everything that
//! queued while the previous batch was committing. This is where a message becomes durable;
//! nobody is told `sent` before the commit returns. Right after each commit the new messages
//! are pushed to connected recipients, in commit (= sequence) order.

use std::sync::Arc;

use app::model::{MessageId, UserId};
use tokio::sync::{mpsc, oneshot};

use super::now_ms;
use super::push::push_committed;
use crate::error::{AppError, AppResult};
use crate::store::{AckOutcome, InsertOutcome, NewMessage, Store};
use crate::telemetry::Metrics;
use crate::ws::hub::Hub;

enum Job {
    /// A send, the connection it came from (if any), and who waits for its outcome.
    Send(
        NewMessage,
        Option<u64>,
        oneshot::Sender<AppResult<InsertOutcome>>,
    ),
    Ack(
        UserId,
        Vec<MessageId>,
        oneshot::Sender<AppResult<AckOutcome>>,
    ),
}

/// A queued job's outcome, to be awaited with [`outcome`].
pub type Pending<T> = oneshot::Receiver<AppResult<T>>;

pub struct Batcher {
    tx: mpsc::Sender<Job>,
}

impl Batcher {
    pub fn start(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        max_batch: usize,
    ) -> Batcher {
        let (tx, rx) = mpsc::channel(16_384);
        tokio::spawn(run(store, hub, metrics, rx, max_batch.max(1)));
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
            .send(Job::Send(message, origin, reply))
            .await
            .map_err(|_| AppError::Unavailable)?;
        Ok(answer)
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
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        let mut sends = Vec::new();
        let mut origins = Vec::new();
        let mut send_replies = Vec::new();
        let mut acks = Vec::new();
        let mut ack_replies = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Send(m, origin, r) => {
                    sends.push(m);
                    origins.push(origin);
                    send_replies.push(r);
                }
                Job::Ack(u, ids, r) => {
                    acks.push((u, ids));
                    ack_replies.push(r);
                }
            }
        }
        match store.write_batch(&sends, &acks, now_ms()).await {
            Ok((sent, acked)) => {
                for (outcome, origin) in sent.iter().zip(&origins) {
                    if let InsertOutcome::Inserted(committed) = outcome {
                        push_committed(&hub, &metrics, committed, *origin);
                    }
                }
                for (reply, outcome) in send_replies.into_iter().zip(sent) {
                    let _ = reply.send(Ok(outcome));
                }
                for (reply, outcome) in ack_replies.into_iter().zip(acked) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, sends = sends.len(), acks = acks.len(), "committing a batch failed; nothing in it was acknowledged");
                for reply in send_replies {
                    let _ = reply.send(Err(AppError::Internal(format!("commit failed: {e}"))));
                }
                for reply in ack_replies {
                    let _ = reply.send(Err(AppError::Internal(format!("commit failed: {e}"))));
                }
            }
        }
    }
}
