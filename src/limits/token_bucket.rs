//! The token bucket, written once. Every rate limit of the server is one: sends, searches and
//! conversation creations per user, registrations per client address, and each connection's
//! frame budget.
//!
//! A bucket holds up to `burst` tokens and gains `rate` a second; an action takes one. Instead
//! of a fractional token count and the time it was last refilled, a bucket is stored as the
//! instant it will be **full again** (`full_at`). With `interval` = the time one token takes to
//! come back and `capacity` = `burst × interval`:
//!
//! - taking a token moves `full_at` to `max(full_at, now) + interval`;
//! - that is allowed while the bucket stays at or above zero tokens, i.e. while
//!   `full_at − now ≤ capacity`;
//! - a refusal's wait is exactly `full_at − now − capacity` (in nanoseconds, no rounding on
//!   the way): after that wait, the same take is allowed; a nanosecond before, it is not;
//! - a bucket whose `full_at` has passed is full and remembers nothing, so it can be forgotten.
//!
//! [`Bucket`] is one bucket owned by one task (no lock, no map); [`TokenBuckets`] is a bucket
//! per key behind one lock, holding at most `max_keys` keys (full buckets are dropped first,
//! then the fullest: see [`super::BoundedMap`]). The caller passes the time (`now`), so tests
//! drive the clock.

use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::BoundedMap;

/// Keys a per-user bucket set keeps (of users whose buckets are not full) before it forgets
/// the fullest.
pub const PER_USER_KEYS: usize = 100_000;

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// How long one token takes to come back (1 / rate).
    interval: Duration,
    /// How long an empty bucket takes to fill (burst × interval).
    capacity: Duration,
}

impl Limit {
    /// `rate_per_sec` tokens a second (at least 0.001), up to `burst` (at least 1). This is
    /// how the `*_rate_per_sec` / `*_burst` settings are read.
    pub fn per_second(rate_per_sec: f64, burst: f64) -> Limit {
        let rate = rate_per_sec.max(0.001);
        let burst = burst.max(1.0);
        let interval = Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::ZERO);
        Limit::new(interval, burst)
    }

    /// `per_hour` tokens (at least 1) that come back evenly over the hour; the bucket holds
    /// an hour's worth.
    pub fn per_hour(per_hour: u32) -> Limit {
        let burst = per_hour.max(1);
        Limit::new(Duration::from_secs(3600) / burst, f64::from(burst))
    }

    fn new(interval: Duration, burst: f64) -> Limit {
        // Exact for whole bursts (an interval below 2^53 ns times an integer is exact in f64).
        let capacity = (interval.as_nanos() as f64 * burst).round();
        let capacity = if capacity >= u64::MAX as f64 {
            Duration::MAX
        } else {
            Duration::from_nanos(capacity as u64)
        };
        Limit { interval, capacity }
    }

    /// How long one token takes to come back.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When a bucket that is full again at `full_at` (`None`: full now) will be full again
    /// after one more token is taken at `now`.
    fn after_take(&self, full_at: Option<Instant>, now: Instant) -> Instant {
        let from = full_at.map_or(now, |f| f.max(now));
        from.checked_add(self.interval).unwrap_or(from)
    }

    /// How far below zero tokens a bucket full again at `full_at` is at `now`, as the wait
    /// until it is back at zero; `None` when it is not below zero.
    fn overdrawn(&self, full_at: Instant, now: Instant) -> Option<RetryAfter> {
        let ahead = full_at.saturating_duration_since(now);
        (ahead > self.capacity).then(|| RetryAfter(ahead - self.capacity))
    }

    /// One token back: a bucket full again at `full_at` is full again one interval sooner.
    fn given_back(&self, full_at: Instant, now: Instant) -> Instant {
        if full_at.saturating_duration_since(now) > self.interval {
            full_at - self.interval
        } else {
            // Full by now: any earlier instant would mean the same.
            now
        }
    }
}

/// How long until the refused action would be allowed (exact to the nanosecond, never zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RetryAfter(Duration);

impl RetryAfter {
    /// The wait itself.
    pub fn wait(self) -> Duration {
        self.0
    }

    /// The wait in whole milliseconds, rounded up (so at least 1).
    pub fn millis(self) -> u64 {
        u64::try_from(self.0.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }
}

/// One token bucket, owned by one task: no lock, no map.
#[derive(Debug, Clone)]
pub struct Bucket {
    limit: Limit,
    /// When it is full again; `None` while it has never been used.
    full_at: Option<Instant>,
}

impl Bucket {
    /// A full bucket.
    pub fn new(limit: Limit) -> Bucket {
        Bucket {
            limit,
            full_at: None,
        }
    }

    /// Takes one token, or (when there is none) takes nothing and says how long until there is.
    pub fn try_take(&mut self, now: Instant) -> Result<(), RetryAfter> {
        let after = self.limit.after_take(self.full_at, now);
        match self.limit.overdrawn(after, now) {
            Some(wait) => Err(wait),
            None => {
                self.full_at = Some(after);
                Ok(())
            }
        }
    }

    /// Takes one token even when there is none: it is borrowed from the future, and the
    /// answer says how long to wait before the next take (so the rate holds exactly).
    pub fn take_on_credit(&mut self, now: Instant) -> Result<(), RetryAfter> {
        let after = self.limit.after_take(self.full_at, now);
        self.full_at = Some(after);
        match self.limit.overdrawn(after, now) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Gives one token back (for an action that did not happen), never above the burst.
    pub fn give_back(&mut self, now: Instant) {
        if let Some(f) = self.full_at {
            self.full_at = Some(self.limit.given_back(f, now));
        }
    }
}

/// A token bucket per key, all with the same [`Limit`], holding at most `max_keys` keys.
pub struct TokenBuckets<K> {
    limit: Limit,
    /// When each key's bucket is full again; a key that is not here has a full bucket.
    full_at: Mutex<BoundedMap<K, Instant>>,
}

impl<K: Hash + Eq + Clone> TokenBuckets<K> {
    pub fn new(limit: Limit, max_keys: usize) -> TokenBuckets<K> {
        TokenBuckets {
            limit,
            full_at: Mutex::new(BoundedMap::new(max_keys)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BoundedMap<K, Instant>> {
        self.full_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one of `key`'s tokens, or (when it has none) takes nothing and says how long
    /// until it has one.
    pub fn try_take(&self, key: K, now: Instant) -> Result<(), RetryAfter> {
        let mut buckets = self.lock();
        let full_at = match buckets.map.get(&key) {
            Some(f) => Some(*f),
            None => {
                // Full buckets remember nothing; then the fullest go first.
                buckets.make_room(|f| *f <= now, |f| *f);
                None
            }
        };
        let after = self.limit.after_take(full_at, now);
        if let Some(wait) = self.limit.overdrawn(after, now) {
            return Err(wait);
        }
        buckets.map.insert(key, after);
        Ok(())
    }

    /// Gives one of `key`'s tokens back (for an action that did not happen), never above
    /// the burst.
    pub fn give_back(&self, key: &K, now: Instant) {
        let limit = self.limit;
        if let Some(f) = self.lock().map.get_mut(key) {
            *f = limit.given_back(*f, now);
        }
    }

    /// Keys currently remembered.
    pub fn tracked(&self) -> usize {
        self.lock().map.len()
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_full_bucket_allows_its_burst_at_once_then_refuses() {
        let b = TokenBuckets::new(Limit::per_second(10.0, 5.0), 100);
        let t = Instant::now();
        for _ in 0..5 {
            assert_eq!(b.try_take(1, t), Ok(()));
        }
        assert_eq!(b.try_take(1, t), Err(RetryAfter(ms(100))));
        // A refusal takes nothing: the wait stays the same.
        assert_eq!(b.try_take(1, t), Err(RetryAfter(ms(100))));
        assert_eq!(b.try_take(2, t), Ok(()), "every key has its own bucket");
    }

    #[test]
    fn it_refills_at_the_rate_and_never_beyond_the_burst() {
        let b = TokenBuckets::new(Limit::per_second(10.0, 3.0), 100);
        let t = Instant::now();
        for _ in 0..3 {
            b.try_take(1, t).unwrap();
        }
        // One token every 100 ms.
        assert!(b.try_take(1, t + ms(99)).is_err());
        assert!(b.try_take(1, t + ms(100)).is_ok());
        assert!(b.try_take(1, t + ms(150)).is_err());
        assert!(b.try_take(1, t + ms(200)).is_ok());
        // Two seconds idle refill three tokens, not twenty.
        let later = t + Duration::from_secs(2) + ms(200);
        for _ in 0..3 {
            assert!(b.try_take(1, later).is_ok());
        }
        assert_eq!(b.try_take(1, later), Err(RetryAfter(ms(100))));
    }

    #[test]
    fn a_fractional_burst_counts_its_fraction() {
        let b = TokenBuckets::new(Limit::per_second(10.0, 2.5), 100);
        let t = Instant::now();
        b.try_take(1, t).unwrap();
        b.try_take(1, t).unwrap();
        // Half a token is left: the next is 50 ms away.
        assert_eq!(b.try_take(1, t), Err(RetryAfter(ms(50))));
    }

    #[test]
    fn the_retry_after_is_exact() {
        // 3 a second: a token every 333,333,333 ns.
        let b = TokenBuckets::new(Limit::per_second(3.0, 1.0), 100);
        let t = Instant::now();
        b.try_take(1, t).unwrap();
        let wait = b.try_take(1, t).unwrap_err();
        assert_eq!(wait.wait(), Duration::from_nanos(333_333_333));
        assert_eq!(wait.millis(), 334, "rounded up");
        let at = t + wait.wait();
        assert!(b.try_take(1, at - Duration::from_nanos(1)).is_err());
        assert!(b.try_take(1, at).is_ok());
        // Asked again later, the wait is what is left of it.
        let wait = b.try_take(1, at + ms(100)).unwrap_err();
        assert_eq!(wait.wait(), Duration::from_nanos(233_333_333));

        // Per hour: 2 an hour is one every 30 minutes, exactly.
        let r = TokenBuckets::new(Limit::per_hour(2), 100);
        r.try_take("a", t).unwrap();
        r.try_take("a", t).unwrap();
        let wait = r.try_take("a", t).unwrap_err().wait();
        assert_eq!(wait, Duration::from_secs(1800));
        assert!(r.try_take("a", t + wait - MS).is_err());
        assert!(r.try_take("a", t + wait).is_ok());
    }

    #[test]
    fn settings_are_clamped_as_before() {
        // A rate of zero is one token every 1,000 s; a burst below one is one.
        let b = TokenBuckets::new(Limit::per_second(0.0, 0.0), 100);
        let t = Instant::now();
        b.try_take(1, t).unwrap();
        assert_eq!(
            b.try_take(1, t).unwrap_err().wait(),
            Duration::from_secs(1000)
        );
        assert_eq!(Limit::per_hour(0), Limit::per_hour(1));
        assert_eq!(Limit::per_hour(5).interval(), Duration::from_secs(720));
    }

    #[test]
    fn a_token_given_back_is_taken_again_but_never_beyond_the_burst() {
        let b = TokenBuckets::new(Limit::per_second(1.0, 2.0), 100);
        let t = Instant::now();
        b.try_take(1, t).unwrap();
        b.try_take(1, t).unwrap();
        assert!(b.try_take(1, t).is_err());
        b.give_back(&1, t);
        assert!(b.try_take(1, t).is_ok());
        assert!(b.try_take(1, t).is_err());
        // Given back to a bucket that is (nearly) full, it is lost.
        for _ in 0..5 {
            b.give_back(&1, t);
        }
        for _ in 0..2 {
            assert!(b.try_take(1, t).is_ok());
        }
        assert!(b.try_take(1, t).is_err());
        b.give_back(&7, t);
        assert_eq!(
            b.tracked(),
            1,
            "giving back to an unknown key remembers nothing"
        );
    }

    #[test]
    fn a_clock_read_before_the_last_take_adds_nothing() {
        let b = TokenBuckets::new(Limit::per_second(10.0, 1.0), 100);
        let t = Instant::now() + Duration::from_secs(1);
        b.try_take(1, t).unwrap();
        // Another thread read the clock a little earlier and got the lock later.
        let earlier = t - ms(50);
        assert_eq!(b.try_take(1, earlier), Err(RetryAfter(ms(150))));
        assert!(b.try_take(1, t + ms(100)).is_ok());
    }

    #[test]
    fn memory_is_bounded_and_full_buckets_are_forgotten_first() {
        let max = 100;
        let b = TokenBuckets::new(Limit::per_second(1.0, 2.0), max);
        let t = Instant::now();
        // A flood of distinct keys never holds more than `max`.
        for k in 0..10_000u32 {
            b.try_take(k, t).unwrap();
            assert!(b.tracked() <= max);
        }
        // Keys still being limited outlive full ones: 50 empty buckets, then 50 used once.
        let b = TokenBuckets::new(Limit::per_second(1.0, 2.0), max);
        for k in 0..50u32 {
            b.try_take(k, t).unwrap();
            b.try_take(k, t).unwrap();
        }
        for k in 50..100u32 {
            b.try_take(k, t).unwrap();
        }
        // 1.5 s later the once-used buckets are full again (and the emptied ones not): a new
        // key forgets exactly those.
        let later = t + Duration::from_secs(1) + ms(500);
        b.try_take(1_000, later).unwrap();
        assert_eq!(b.tracked(), 51);
        for k in 0..50u32 {
            assert!(
                b.try_take(k, later).is_ok(),
                "bucket {k} was kept and has 1.5 tokens again"
            );
        }
        // Full with nothing full to forget: down to three quarters, fullest first.
        let b = TokenBuckets::new(Limit::per_second(1.0, 2.0), max);
        for k in 0..100u32 {
            b.try_take(k, t).unwrap();
            if k < 50 {
                b.try_take(k, t).unwrap();
            }
        }
        b.try_take(1_000, t).unwrap();
        assert_eq!(b.tracked(), 76);
        for k in 0..50u32 {
            assert!(b.try_take(k, t).is_err(), "empty bucket {k} was kept");
        }
    }

    #[test]
    fn an_owned_bucket_borrows_from_the_future_on_credit() {
        let t = Instant::now();
        let mut b = Bucket::new(Limit::per_second(10.0, 2.0));
        assert!(b.take_on_credit(t).is_ok());
        assert!(b.take_on_credit(t).is_ok());
        // The third is borrowed: wait 100 ms before the next one.
        assert_eq!(b.take_on_credit(t), Err(RetryAfter(ms(100))));
        // After 150 ms the loan is paid back, but the next is borrowed again.
        assert_eq!(b.take_on_credit(t + ms(150)), Err(RetryAfter(ms(50))));
        assert!(b.take_on_credit(t + ms(300)).is_ok());

        let mut b = Bucket::new(Limit::per_second(10.0, 1.0));
        assert!(b.try_take(t).is_ok());
        assert_eq!(b.try_take(t), Err(RetryAfter(ms(100))));
        b.give_back(t);
        assert!(b.try_take(t).is_ok());
    }
}
