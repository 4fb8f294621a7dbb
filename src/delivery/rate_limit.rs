//! Per-user send rate limit: a token bucket per user, in memory (it protects this node).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use app::model::UserId;

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<UserId, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(rate_per_sec: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate: rate_per_sec.max(0.001),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token, or says how many milliseconds until one is available.
    pub fn check(&self, user: UserId) -> Result<(), u64> {
        self.check_at(user, Instant::now())
    }

    fn check_at(&self, user: UserId, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget users whose buckets are full again, so the map cannot grow without bound.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(user).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - *tokens) / self.rate) * 1000.0).ceil() as u64)
        }
    }
}

/// One token bucket, owned by one task (a connection's frame budget): no lock, no map.
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_sec: f64, burst: f64) -> TokenBucket {
        let burst = burst.max(1.0);
        TokenBucket {
            rate: rate_per_sec.max(0.001),
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Takes one token. When the bucket was empty the token is borrowed from the future and
    /// the answer says how long to wait before the next frame (so the rate holds exactly).
    pub fn take(&mut self, now: Instant) -> Result<(), std::time::Duration> {
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Ok(())
        } else {
            Err(std::time::Duration::from_secs_f64(-self.tokens / self.rate))
        }
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
