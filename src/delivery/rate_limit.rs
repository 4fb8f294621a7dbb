//! The engine's rate limits, on the shared token bucket ([`crate::limits::token_bucket`]):
//! a bucket per user, in memory (it protects this node), for sends — and, through the HTTP
//! handlers, searches and conversation creations — and one bucket per connection for its
//! frame budget.

use std::time::{Duration, Instant};

use app::model::UserId;

use crate::limits::token_bucket::{Bucket, Limit, TokenBuckets, PER_USER_KEYS};

/// A token bucket per user (at most [`PER_USER_KEYS`] users remembered; full buckets are
/// forgotten first, then the fullest).
pub struct RateLimiter {
    buckets: TokenBuckets<UserId>,
}

impl RateLimiter {
    pub fn new(rate_per_sec: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            buckets: TokenBuckets::new(Limit::per_second(rate_per_sec, burst), PER_USER_KEYS),
        }
    }

    /// Takes one token, or says how many milliseconds (rounded up) until one is available.
    pub fn check(&self, user: UserId) -> Result<(), u64> {
        self.check_at(user, Instant::now())
    }

    fn check_at(&self, user: UserId, now: Instant) -> Result<(), u64> {
        self.buckets.try_take(user, now).map_err(|r| r.millis())
    }
}

/// One token bucket, owned by one task (a connection's frame budget): no lock, no map.
pub struct TokenBucket(Bucket);

impl TokenBucket {
    pub fn new(rate_per_sec: f64, burst: f64) -> TokenBucket {
        TokenBucket(Bucket::new(Limit::per_second(rate_per_sec, burst)))
    }

    /// Takes one token. When the bucket was empty the token is borrowed from the future and
    /// the answer says how long to wait before the next frame (so the rate holds exactly).
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.0.take_on_credit(now).map_err(|r| r.wait())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let l = RateLimiter::new(10.0, 3.0);
        let t = Instant::now();
        assert!(l.check_at(1, t).is_ok());
        assert!(l.check_at(1, t).is_ok());
        assert!(l.check_at(1, t).is_ok());
        let wait = l.check_at(1, t).unwrap_err();
        assert!((90..=100).contains(&wait), "{wait}");
        assert!(l.check_at(2, t).is_ok(), "other users are independent");
        assert!(l.check_at(1, t + Duration::from_millis(110)).is_ok());
    }

    #[test]
    fn token_bucket_refills() {
        let t = Instant::now();
        let mut b = TokenBucket::new(10.0, 2.0);
        assert!(b.take(t).is_ok());
        assert!(b.take(t).is_ok());
        // The third is borrowed from the future: wait 100 ms before the next one.
        let wait = b.take(t).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        // After that wait the borrowed token is paid back; one more needs another 100 ms.
        assert!(b.take(t + Duration::from_millis(150)).is_err());
        assert!(b.take(t + Duration::from_millis(300)).is_ok());
    }
}
