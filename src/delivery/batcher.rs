//! The single writer: sends from every connection and HTTP request are queued here and
//! committed in batches, one transaction (one fsync) for up to `max_batch` messages. This is
//! where a message becomes durable; nobody is told `sent` before the commit returns.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::{InsertOutcome, NewMessage, Store};

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<AppResult<InsertOutcome>>,
}

pub struct Batcher {
    tx: mpsc::Sender<Job>,
}

impl Batcher {
    pub fn start(store: Arc<dyn Store>, max_batch: usize) -> Batcher {
        let (tx, rx) = mpsc::channel(16_384);
        tokio::spawn(run(store, rx, max_batch.max(1)));
        Batcher { tx }
    }

    /// Queues a send and waits for its commit.
    pub async fn commit(&self, message: NewMessage) -> AppResult<InsertOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Job { message, reply }).await.map_err(|_| AppError::Unavailable)?;
        answer.await.map_err(|_| AppError::Unavailable)?
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    // Whatever queued while the previous batch was committing forms the next batch.
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        let batch: Vec<NewMessage> = jobs.iter().map(|j| j.message.clone()).collect();
        match store.insert_messages(&batch, now_ms()).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.drain(..).zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = batch.len(), "committing a batch of messages failed; nothing was acknowledged");
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(AppError::Internal(format!("commit failed: {e}"))));
                }
            }
        }
    }
}
