//! The single writer: sends and acknowledgements from every connection and HTTP request are
//! queued here and committed in batches — one transaction, one fsync, for everything that
//! queued while the previous batch was committing. This is where a message becomes durable;
//! nobody is told `sent` before the commit returns.

use std::sync::Arc;

use app::model::{MessageId, UserId};
use tokio::sync::{mpsc, oneshot};

use super::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::{AckOutcome, InsertOutcome, NewMessage, Store};

enum Job {
    Send(NewMessage, oneshot::Sender<AppResult<InsertOutcome>>),
    Ack(
        UserId,
        Vec<MessageId>,
        oneshot::Sender<AppResult<AckOutcome>>,
    ),
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
        self.tx
            .send(Job::Send(message, reply))
            .await
            .map_err(|_| AppError::Unavailable)?;
        answer.await.map_err(|_| AppError::Unavailable)?
    }

    /// Queues an acknowledgement and waits for its commit.
    pub async fn acknowledge(&self, user: UserId, ids: Vec<MessageId>) -> AppResult<AckOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Ack(user, ids, reply))
            .await
            .map_err(|_| AppError::Unavailable)?;
        answer.await.map_err(|_| AppError::Unavailable)?
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        let mut sends = Vec::new();
        let mut send_replies = Vec::new();
        let mut acks = Vec::new();
        let mut ack_replies = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Send(m, r) => {
                    sends.push(m);
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
