//! A connection's outbox: frames waiting for the socket, bounded both in count and in bytes.
//!
//! A count alone does not bound memory (one replay page can be megabytes), so the bytes queued
//! are tracked too. A push that would pass either bound is refused and the connection is
//! treated as a slow consumer: it is closed, and what it missed stays pending in the database.
//! One frame is always accepted into an empty outbox, so no frame is too big to ever be sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

pub use crate::delivery::Frame;

pub enum PushError {
    /// Past the frame or byte bound: the consumer is too slow.
    Full,
    /// The socket's writer is gone.
    Closed,
}

pub struct Outbox {
    tx: mpsc::Sender<Frame>,
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

pub struct OutboxReceiver {
    rx: mpsc::Receiver<Frame>,
    bytes: Arc<AtomicUsize>,
}

/// An outbox holding at most `frames` frames and about `max_bytes` bytes.
pub fn outbox(frames: usize, max_bytes: usize) -> (Outbox, OutboxReceiver) {
    let (tx, rx) = mpsc::channel(frames.max(16));
    let bytes = Arc::new(AtomicUsize::new(0));
    (
        Outbox {
            tx,
            bytes: bytes.clone(),
            max_bytes: max_bytes.max(1),
        },
        OutboxReceiver { rx, bytes },
    )
}

impl Outbox {
    pub fn push(&self, frame: &Frame) -> Result<(), PushError> {
        let n = frame.len();
        let before = self.bytes.fetch_add(n, Ordering::AcqRel);
        if before > 0 && before + n > self.max_bytes {
            self.bytes.fetch_sub(n, Ordering::AcqRel);
            return Err(PushError::Full);
        }
        match self.tx.try_send(frame.clone()) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.bytes.fetch_sub(n, Ordering::AcqRel);
                Err(match e {
                    mpsc::error::TrySendError::Full(_) => PushError::Full,
                    mpsc::error::TrySendError::Closed(_) => PushError::Closed,
                })
            }
        }
    }

    /// Bytes queued and not yet handed to the socket.
    pub fn queued_bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }
}

impl OutboxReceiver {
    pub async fn recv(&mut self) -> Option<Frame> {
        let f = self.rx.recv().await?;
        self.bytes.fetch_sub(f.len(), Ordering::AcqRel);
        Some(f)
    }

    pub fn try_recv(&mut self) -> Option<Frame> {
        let f = self.rx.try_recv().ok()?;
        self.bytes.fetch_sub(f.len(), Ordering::AcqRel);
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: usize) -> Frame {
        Arc::from("x".repeat(n))
    }

    #[tokio::test]
    async fn bounded_in_bytes_and_frames() {
        let (tx, mut rx) = outbox(100, 1000);
        // One oversized frame fits into an empty outbox …
        assert!(tx.push(&f(5000)).is_ok());
        // … but nothing more until it is taken out.
        assert!(matches!(tx.push(&f(1)), Err(PushError::Full)));
        assert_eq!(rx.recv().await.unwrap().len(), 5000);
        assert_eq!(tx.queued_bytes(), 0);
        for _ in 0..10 {
            assert!(tx.push(&f(100)).is_ok());
        }
        assert!(matches!(tx.push(&f(1)), Err(PushError::Full)));
        assert_eq!(tx.queued_bytes(), 1000);
        assert!(rx.try_recv().is_some());
        assert!(tx.push(&f(100)).is_ok());

        let (tx, rx) = outbox(16, usize::MAX);
        for _ in 0..16 {
            assert!(tx.push(&f(1)).is_ok());
        }
        assert!(matches!(tx.push(&f(1)), Err(PushError::Full)));
        drop(rx);
        assert!(matches!(tx.push(&f(1)), Err(PushError::Closed)));
    }
}
