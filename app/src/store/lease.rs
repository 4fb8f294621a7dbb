//! Which of a user's tabs sends the shared outbox. Pure, so it is host-tested; the browser side
//! (`persist.rs`) keeps the lease in localStorage, which every tab of the origin shares.
//!
//! localStorage has no compare-and-swap, so two tabs may both believe they hold the lease for a
//! moment. That costs nothing but a duplicate send, which the server answers as a duplicate of
//! the same `client_msg_id` — never a second message.

use serde::{Deserialize, Serialize};

/// How long a lease lasts without renewal: a tab that closed (or froze) hands over after this.
pub const LEASE_MS: i64 = 3_000;

/// The stored lease: which tab sends, until when (local ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub tab: String,
    pub until: i64,
}

/// The lease `me` should write at `now`, or `None` to leave `current` alone. A tab keeps (and
/// renews) its own lease, takes an expired or missing one, and takes any lease when `claim` is
/// set — the user just pressed Send in this tab, which should send at once.
pub fn next_lease(now: i64, current: Option<&Lease>, me: &str, claim: bool) -> Option<Lease> {
    let free = match current {
        None => true,
        Some(l) => l.tab == me || l.until <= now,
    };
    (free || claim).then(|| Lease {
        tab: me.to_string(),
        until: now + LEASE_MS,
    })
}

/// Whether `me` holds `current` at `now`.
pub fn holds(now: i64, current: Option<&Lease>, me: &str) -> bool {
    current.is_some_and(|l| l.tab == me && l.until > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(tab: &str, until: i64) -> Lease {
        Lease {
            tab: tab.into(),
            until,
        }
    }

    #[test]
    fn one_tab_holds_the_lease_until_it_expires() {
        // Nobody holds it: the first tab takes it.
        let a = next_lease(0, None, "a", false).unwrap();
        assert!(holds(1, Some(&a), "a"));
        assert!(!holds(1, Some(&a), "b"));
        // Another tab leaves a live lease alone…
        assert_eq!(next_lease(1_000, Some(&a), "b", false), None);
        // …while its holder renews it.
        let a2 = next_lease(1_000, Some(&a), "a", false).unwrap();
        assert_eq!(a2.until, 1_000 + LEASE_MS);
        // The holder stops renewing (closed, frozen): the lease lapses and another takes it.
        assert!(!holds(a2.until, Some(&a2), "a"));
        let b = next_lease(a2.until, Some(&a2), "b", false).unwrap();
        assert_eq!(b.tab, "b");
    }

    #[test]
    fn pressing_send_claims_the_lease_at_once() {
        let a = lease("a", 10_000);
        let b = next_lease(5_000, Some(&a), "b", true).unwrap();
        assert!(holds(5_001, Some(&b), "b"));
        // The old holder sees it lost the lease and leaves it alone.
        assert!(!holds(5_001, Some(&b), "a"));
        assert_eq!(next_lease(5_500, Some(&b), "a", false), None);
    }
}
