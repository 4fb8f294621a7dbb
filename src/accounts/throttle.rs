//! Throttles for the password endpoints. Both are checked before any password is hashed, so a
//! refused attempt costs no argon2 work.
//!
//! - [`LoginThrottle`]: failed logins, counted per username and per client address. The first
//!   `free` failures cost nothing; after that every attempt waits `base · 2^(failures − free)`,
//!   capped. A success resets the username's counter (not the address's, or one valid account
//!   would reset an attacker's). A counter is forgotten after a quiet period of twice the cap.
//!   Attempts still being checked count against the free budget, so a burst of parallel guesses
//!   cannot all slip through before the first failure is recorded.
//! - [`RegistrationLimit`]: a token bucket per client address (the shared
//!   [`crate::limits::TokenBuckets`]).
//!
//! Each table holds at most `max_entries` keys ([`crate::limits::BoundedMap`]). When it is
//! full, keys with nothing to remember are dropped first, then the least recently failed
//! (blocked keys last; for registrations, the fullest buckets), so a flood of distinct
//! usernames or addresses cannot grow memory without bound.

use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use app::model::USERNAME_MAX;

use crate::config::LimitsConfig;
use crate::limits::token_bucket::{Limit, TokenBuckets};
use crate::limits::BoundedMap;

/// The key a client address is counted under: IPv4 addresses as they are, IPv6 addresses by
/// their /64 prefix (one subscriber usually holds a whole /64), IPv4-mapped IPv6 as IPv4.
pub fn addr_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Usernames are matched regardless of case, and no real one is longer than `USERNAME_MAX`.
fn username_key(username: &str) -> String {
    username
        .trim()
        .chars()
        .take(USERNAME_MAX + 1)
        .collect::<String>()
        .to_lowercase()
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    failures: u32,
    last_failure: Instant,
    blocked_until: Option<Instant>,
    /// Attempts that passed the check and have no verdict yet.
    in_flight: u32,
}

impl Failures {
    fn new(now: Instant) -> Failures {
        Failures {
            failures: 0,
            last_failure: now,
            blocked_until: None,
            in_flight: 0,
        }
    }

    fn blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|t| t > now)
    }

    /// Nothing worth keeping: no failures (or forgotten ones) and nothing in flight.
    fn idle(&self, now: Instant, forget_after: Duration) -> bool {
        self.in_flight == 0
            && (self.failures == 0 || now.duration_since(self.last_failure) >= forget_after)
    }
}

struct Tables {
    users: BoundedMap<String, Failures>,
    addrs: BoundedMap<IpAddr, Failures>,
}

pub struct LoginThrottle {
    free_per_user: u32,
    free_per_addr: u32,
    base: Duration,
    max: Duration,
    forget_after: Duration,
    tables: Mutex<Tables>,
}

/// A login attempt that passed the throttle. Report its verdict with [`LoginAttempt::failed`]
/// or [`LoginAttempt::succeeded`]; dropped without one (an error, a cancelled request), it
/// only gives its place back.
pub struct LoginAttempt<'a> {
    throttle: &'a LoginThrottle,
    user: String,
    addr: IpAddr,
    open: bool,
}

impl LoginThrottle {
    pub fn new(c: &LimitsConfig) -> LoginThrottle {
        let max = Duration::from_secs(c.login_backoff_max_secs.max(1));
        LoginThrottle {
            free_per_user: c.login_free_failures,
            free_per_addr: c.login_free_failures_per_addr,
            base: Duration::from_millis(c.login_backoff_base_ms.max(1)).min(max),
            max,
            forget_after: max * 2,
            tables: Mutex::new(Tables {
                users: BoundedMap::new(c.throttle_max_entries),
                addrs: BoundedMap::new(c.throttle_max_entries),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long this key must wait before another attempt, if at all.
    fn wait(&self, f: &mut Failures, free: u32, now: Instant) -> Option<Duration> {
        if f.failures > 0 && now.duration_since(f.last_failure) >= self.forget_after {
            f.failures = 0;
            f.blocked_until = None;
        }
        if let Some(until) = f.blocked_until.filter(|t| *t > now) {
            return Some(until - now);
        }
        // Attempts in flight may each turn into a failure: together they must fit the budget.
        let budget = free.saturating_sub(f.failures).max(1);
        (f.in_flight >= budget).then_some(self.base.min(Duration::from_secs(1)))
    }

    /// Lets an attempt through, or says how long to wait.
    pub fn check(&self, username: &str, addr: IpAddr) -> Result<LoginAttempt<'_>, Duration> {
        self.check_at(username, addr, Instant::now())
    }

    fn check_at(
        &self,
        username: &str,
        addr: IpAddr,
        now: Instant,
    ) -> Result<LoginAttempt<'_>, Duration> {
        let user = username_key(username);
        let addr = addr_key(addr);
        let mut t = self.lock();
        let mut wait = None;
        if let Some(f) = t.users.map.get_mut(&user) {
            wait = self.wait(f, self.free_per_user, now);
        }
        if let Some(f) = t.addrs.map.get_mut(&addr) {
            wait = wait.max(self.wait(f, self.free_per_addr, now));
        }
        if let Some(w) = wait {
            return Err(w);
        }
        let forget = self.forget_after;
        let idle = |f: &Failures| f.idle(now, forget);
        let rank = |f: &Failures| (f.blocked(now), f.in_flight > 0, f.last_failure);
        if !t.users.map.contains_key(&user) {
            t.users.make_room(idle, rank);
        }
        if !t.addrs.map.contains_key(&addr) {
            t.addrs.make_room(idle, rank);
        }
        t.users
            .map
            .entry(user.clone())
            .or_insert_with(|| Failures::new(now))
            .in_flight += 1;
        t.addrs
            .map
            .entry(addr)
            .or_insert_with(|| Failures::new(now))
            .in_flight += 1;
        Ok(LoginAttempt {
            throttle: self,
            user,
            addr,
            open: true,
        })
    }

    fn record_failure(&self, f: &mut Failures, free: u32, now: Instant) {
        f.failures = f.failures.saturating_add(1);
        f.last_failure = now;
        if f.failures >= free {
            let doublings = (f.failures - free).min(30);
            let wait = self.base.saturating_mul(1 << doublings).min(self.max);
            f.blocked_until = Some(now + wait);
        }
    }

    /// Ends an attempt: `Some(true)` succeeded, `Some(false)` failed, `None` no verdict.
    fn finish(&self, user: &str, addr: IpAddr, verdict: Option<bool>, now: Instant) {
        let mut t = self.lock();
        if let Some(f) = t.users.map.get_mut(user) {
            f.in_flight = f.in_flight.saturating_sub(1);
            match verdict {
                Some(true) => {
                    f.failures = 0;
                    f.blocked_until = None;
                }
                Some(false) => self.record_failure(f, self.free_per_user, now),
                None => {}
            }
            if f.idle(now, self.forget_after) {
                t.users.map.remove(user);
            }
        }
        if let Some(f) = t.addrs.map.get_mut(&addr) {
            f.in_flight = f.in_flight.saturating_sub(1);
            if verdict == Some(false) {
                self.record_failure(f, self.free_per_addr, now);
            }
            if f.idle(now, self.forget_after) {
                t.addrs.map.remove(&addr);
            }
        }
    }

    /// (usernames, addresses) currently tracked.
    pub fn tracked(&self) -> (usize, usize) {
        let t = self.lock();
        (t.users.map.len(), t.addrs.map.len())
    }
}

impl LoginAttempt<'_> {
    pub fn failed(self) {
        self.end(false, Instant::now());
    }

    pub fn succeeded(self) {
        self.end(true, Instant::now());
    }

    fn end(mut self, succeeded: bool, now: Instant) {
        self.open = false;
        self.throttle
            .finish(&self.user, self.addr, Some(succeeded), now);
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        if self.open {
            self.throttle
                .finish(&self.user, self.addr, None, Instant::now());
        }
    }
}

/// Registrations per client address: a token bucket of `per_hour` tokens that refills evenly.
pub struct RegistrationLimit {
    buckets: TokenBuckets<IpAddr>,
}

impl RegistrationLimit {
    pub fn new(c: &LimitsConfig) -> RegistrationLimit {
        RegistrationLimit {
            buckets: TokenBuckets::new(
                Limit::per_hour(c.registrations_per_addr_per_hour),
                c.throttle_max_entries,
            ),
        }
    }

    /// Takes one registration, or says how long until the address may register again.
    pub fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        self.check_at(addr, Instant::now())
    }

    fn check_at(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        self.buckets
            .try_take(addr_key(addr), now)
            .map_err(|r| r.wait())
    }

    /// Gives back a registration that did not happen (the server was too busy to try).
    pub fn refund(&self, addr: IpAddr) {
        self.buckets.give_back(&addr_key(addr), Instant::now());
    }

    pub fn tracked(&self) -> usize {
        self.buckets.tracked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LimitsConfig {
        LimitsConfig {
            login_free_failures: 3,
            login_free_failures_per_addr: 10,
            login_backoff_base_ms: 1000,
            login_backoff_max_secs: 8,
            registrations_per_addr_per_hour: 2,
            throttle_max_entries: 100,
            ..LimitsConfig::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn backoff_doubles_after_the_free_failures_and_is_capped() {
        let t = LoginThrottle::new(&limits());
        let a = ip("10.0.0.1");
        let now = Instant::now();
        for _ in 0..2 {
            t.check_at("alice", a, now).unwrap().end(false, now);
        }
        // The third failure is the last free one: from then on each attempt waits.
        t.check_at("alice", a, now).unwrap().end(false, now);
        assert_eq!(
            t.check_at("Alice", a, now).err(),
            Some(Duration::from_secs(1))
        );
        let mut at = now;
        for expect in [2, 4, 8, 8] {
            at = t.lock().users.map["alice"].blocked_until.unwrap();
            t.check_at("alice", a, at).unwrap().end(false, at);
            let waited = t.lock().users.map["alice"].blocked_until.unwrap() - at;
            assert_eq!(waited, Duration::from_secs(expect));
        }
        // Another username from the same address is not blocked (the address has 7 of 10).
        t.check_at("bob", a, at).unwrap().end(true, at);
        // A success resets the username.
        let at = t.lock().users.map["alice"].blocked_until.unwrap();
        t.check_at("alice", a, at).unwrap().end(true, at);
        assert!(t.check_at("alice", a, at).is_ok());
    }

    #[test]
    fn the_address_counts_across_usernames() {
        let t = LoginThrottle::new(&limits());
        let now = Instant::now();
        for i in 0..10 {
            t.check_at(&format!("u{i}"), ip("10.0.0.2"), now)
                .unwrap()
                .end(false, now);
        }
        assert!(t.check_at("someone", ip("10.0.0.2"), now).is_err());
        assert!(t.check_at("someone", ip("10.0.0.3"), now).is_ok());
    }

    #[test]
    fn parallel_attempts_cannot_exceed_the_free_budget() {
        let t = LoginThrottle::new(&limits());
        let now = Instant::now();
        let a = ip("10.0.0.4");
        let held: Vec<_> = (0..3)
            .map(|_| t.check_at("carol", a, now).unwrap())
            .collect();
        assert!(t.check_at("carol", a, now).is_err(), "a 4th in flight");
        drop(held);
        assert!(
            t.check_at("carol", a, now).is_ok(),
            "dropped attempts give their place back"
        );
        assert_eq!(t.tracked(), (0, 0), "nothing left to remember");
    }

    #[test]
    fn counters_are_forgotten_after_a_quiet_period() {
        let t = LoginThrottle::new(&limits());
        let now = Instant::now();
        let a = ip("10.0.0.5");
        for _ in 0..3 {
            t.check_at("dave", a, now).unwrap().end(false, now);
        }
        assert!(t.check_at("dave", a, now).is_err());
        let later = now + Duration::from_secs(16);
        t.check_at("dave", a, later).unwrap().end(false, later);
        assert_eq!(t.lock().users.map["dave"].failures, 1);
    }

    #[test]
    fn memory_is_bounded() {
        let t = LoginThrottle::new(&limits());
        let now = Instant::now();
        for i in 0..1000u32 {
            let a = IpAddr::from(i.to_be_bytes());
            t.check_at(&format!("flood{i}"), a, now)
                .unwrap()
                .end(false, now);
        }
        let (users, addrs) = t.tracked();
        assert!(users <= 100 && addrs <= 100, "{users} {addrs}");
        let r = RegistrationLimit::new(&limits());
        for i in 0..1000u32 {
            let _ = r.check_at(IpAddr::from(i.to_be_bytes()), now);
        }
        assert!(r.tracked() <= 100);
    }

    #[test]
    fn registrations_refill_evenly() {
        let r = RegistrationLimit::new(&limits());
        let now = Instant::now();
        let a = ip("192.0.2.1");
        assert!(r.check_at(a, now).is_ok());
        assert!(r.check_at(a, now).is_ok());
        let wait = r.check_at(a, now).unwrap_err();
        assert!(
            (wait.as_secs_f64() - 1800.0).abs() < 1.0,
            "2 per hour: one every 30 minutes, not {wait:?}"
        );
        assert!(r.check_at(a, now + wait / 2).is_err());
        assert!(r.check_at(a, now + wait + Duration::from_millis(1)).is_ok());
        assert!(r.check_at(ip("192.0.2.2"), now).is_ok(), "per address");
    }

    #[test]
    fn ipv6_counts_by_prefix() {
        assert_eq!(
            addr_key(ip("2001:db8:1:2:3:4:5:6")),
            addr_key(ip("2001:db8:1:2:ffff::1"))
        );
        assert_eq!(addr_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    }
}
