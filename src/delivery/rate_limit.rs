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
}
