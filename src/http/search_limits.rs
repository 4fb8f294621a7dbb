//! What keeps search from stalling anyone (docs/SECURITY.md, "Resource bounds"): a search is
//! the costliest read a user can ask for, so before one runs it must pass
//!
//! 1. the user's token bucket (`429 rate_limited` with `Retry-After`),
//! 2. the user's own concurrency: one search at a time per user (`429 rate_limited`), so no
//!    single user holds more than one of the server's slots however many connections they open,
//! 3. the server-wide cap on searches running at once: a search beyond it waits at most
//!    `queue_wait_ms`, and at most `queue` searches wait at all; past either it is answered
//!    `503 unavailable` with `Retry-After` (no unbounded queue),
//!
//! and then it runs under a deadline (the store stops the statement: `503 search_timeout`).
//!
//! A refusal is cheap but not free (the session is looked up first), and a client that ignores
//! `Retry-After` would otherwise get thousands a second on a handful of connections, taking the
//! CPU the others' sends need. So a refusal is answered after a short hold (`refusal_hold_ms`,
//! or the `Retry-After` if shorter): one connection then gets at most a few refusals a second.
//! At most `refusals_held` wait at once (a sleeping task each); beyond that they are answered
//! at once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use app::model::UserId;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::SearchConfig;
use crate::delivery::rate_limit::RateLimiter;
use crate::error::{AppError, AppResult};

pub struct SearchLimits {
    per_user: RateLimiter,
    running_users: Mutex<HashSet<UserId>>,
    slots: Semaphore,
    waiting: AtomicUsize,
    queue: usize,
    queue_wait: Duration,
    refusal_hold: Duration,
    held: Semaphore,
    /// How long one search may run.
    pub deadline: Duration,
}

/// The right to run one search now; dropping it frees the user's turn and the server's slot.
pub struct SearchPermit<'a> {
    limits: &'a SearchLimits,
    user: UserId,
    _slot: SemaphorePermit<'a>,
}

impl Drop for SearchPermit<'_> {
    fn drop(&mut self) {
        self.limits.running_users().remove(&self.user);
    }
}

impl SearchLimits {
    pub fn new(c: &SearchConfig) -> SearchLimits {
        SearchLimits {
            per_user: RateLimiter::new(c.rate_per_sec, c.burst),
            running_users: Mutex::new(HashSet::new()),
            slots: Semaphore::new(c.at_once.max(1)),
            waiting: AtomicUsize::new(0),
            queue: c.queue,
            queue_wait: Duration::from_millis(c.queue_wait_ms),
            refusal_hold: Duration::from_millis(c.refusal_hold_ms),
            held: Semaphore::new(c.refusals_held),
            deadline: Duration::from_millis(c.deadline_ms.max(1)),
        }
    }

    fn running_users(&self) -> std::sync::MutexGuard<'_, HashSet<UserId>> {
        self.running_users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pauses a refusal before it is answered (module comment), unless too many already wait.
    async fn hold(&self, refusal: AppError) -> AppError {
        let pause = match &refusal {
            AppError::RateLimited { retry_after_ms } => self
                .refusal_hold
                .min(Duration::from_millis(*retry_after_ms)),
            _ => self.refusal_hold,
        };
        if let Ok(_held) = self.held.try_acquire() {
            tokio::time::sleep(pause).await;
        }
        refusal
    }

    /// Admits one search of `user`, or says why not (see the module comment for the order).
    pub async fn admit(&self, user: UserId) -> AppResult<SearchPermit<'_>> {
        if let Err(retry_after_ms) = self.per_user.check(user) {
            return Err(self.hold(AppError::RateLimited { retry_after_ms }).await);
        }
        if !self.running_users().insert(user) {
            return Err(self
                .hold(AppError::RateLimited {
                    retry_after_ms: 1000,
                })
                .await);
        }
        // From here the user's turn is taken: every way out gives it back.
        let slot = match self.slots.try_acquire() {
            Ok(slot) => Ok(slot),
            Err(_) if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue => {
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                // Still holding the user's turn: their other connections are refused meanwhile.
                Err(self.hold(AppError::Unavailable).await)
            }
            Err(_) => {
                let waited = tokio::time::timeout(self.queue_wait, self.slots.acquire()).await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                match waited {
                    Ok(Ok(slot)) => Ok(slot),
                    // Waited too long (or the semaphore is closed, which it never is).
                    _ => Err(AppError::Unavailable),
                }
            }
        };
        match slot {
            Ok(slot) => Ok(SearchPermit {
                limits: self,
                user,
                _slot: slot,
            }),
            Err(e) => {
                self.running_users().remove(&user);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(at_once: usize, queue: usize, queue_wait_ms: u64) -> SearchConfig {
        SearchConfig {
            rate_per_sec: 1000.0,
            burst: 1000.0,
            at_once,
            queue,
            queue_wait_ms,
            deadline_ms: 1000,
            refusal_hold_ms: 0,
            refusals_held: 16,
        }
    }

    #[tokio::test]
    async fn one_search_at_a_time_per_user() {
        let limits = SearchLimits::new(&config(4, 4, 10));
        let first = limits.admit(1).await.unwrap();
        assert!(matches!(
            limits.admit(1).await,
            Err(AppError::RateLimited { .. })
        ));
        let other = limits.admit(2).await.unwrap();
        drop(first);
        let again = limits.admit(1).await.unwrap();
        drop((other, again));
    }

    #[tokio::test]
    async fn beyond_the_cap_a_search_waits_a_bounded_time_then_is_refused() {
        let limits = SearchLimits::new(&config(1, 1, 50));
        let running = limits.admit(1).await.unwrap();
        let t = std::time::Instant::now();
        assert!(matches!(limits.admit(2).await, Err(AppError::Unavailable)));
        assert!(t.elapsed() >= Duration::from_millis(50));
        // The refused user's turn was given back: once a slot is free it runs.
        drop(running);
        let _ = limits.admit(2).await.unwrap();
    }

    #[tokio::test]
    async fn the_queue_is_bounded() {
        let limits = SearchLimits::new(&config(1, 1, 5_000));
        let _running = limits.admit(1).await.unwrap();
        let waiter = limits.admit(2);
        tokio::pin!(waiter);
        // The second user now waits in the queue (its only place)…
        assert!(tokio::time::timeout(Duration::from_millis(20), &mut waiter)
            .await
            .is_err());
        // …so a third is refused at once instead of queueing.
        let t = std::time::Instant::now();
        assert!(matches!(limits.admit(3).await, Err(AppError::Unavailable)));
        assert!(t.elapsed() < Duration::from_millis(1_000));
    }

    #[tokio::test]
    async fn refusals_are_held_a_bounded_time_and_only_so_many_at_once() {
        let mut c = config(4, 4, 10);
        c.refusal_hold_ms = 300;
        c.refusals_held = 2;
        let limits = std::sync::Arc::new(SearchLimits::new(&c));
        let _running = limits.admit(1).await.unwrap();
        // Two refusals of user 1 (already searching) are held…
        let t = std::time::Instant::now();
        let held: Vec<_> = (0..2)
            .map(|_| {
                let l = limits.clone();
                tokio::spawn(async move { l.admit(1).await.err() })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // …and a third, past `refusals_held`, is answered at once.
        let at_once = std::time::Instant::now();
        assert!(matches!(
            limits.admit(1).await,
            Err(AppError::RateLimited { .. })
        ));
        assert!(at_once.elapsed() < Duration::from_millis(100));
        for h in held {
            assert!(matches!(
                h.await.unwrap(),
                Some(AppError::RateLimited { .. })
            ));
        }
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(1_000),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn the_token_bucket_refuses_with_a_wait() {
        let mut c = config(4, 4, 10);
        c.rate_per_sec = 1.0;
        c.burst = 2.0;
        let limits = SearchLimits::new(&c);
        drop(limits.admit(1).await.unwrap());
        drop(limits.admit(1).await.unwrap());
        match limits.admit(1).await {
            Err(AppError::RateLimited { retry_after_ms }) => {
                assert!((1..=1000).contains(&retry_after_ms), "{retry_after_ms}")
            }
            other => panic!("{:?}", other.err()),
        };
    }
}
