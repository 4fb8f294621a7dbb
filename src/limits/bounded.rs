//! A map that never holds more than a fixed number of keys. When it is full, the caller says
//! which entries have nothing to remember (they go first) and how to rank the rest (the lowest
//! go next), so a flood of distinct keys cannot grow memory without bound.

use std::collections::HashMap;
use std::hash::Hash;

pub struct BoundedMap<K, V> {
    pub map: HashMap<K, V>,
    max: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// A map of at most `max` keys (at least one).
    pub fn new(max: usize) -> Self {
        BoundedMap {
            map: HashMap::new(),
            max: max.max(1),
        }
    }

    /// Makes room for one more key; call it before inserting a key that is not there yet.
    /// `idle` entries go first; then, by `rank` (lowest first), enough to get down to three
    /// quarters of the bound, so the work is amortised.
    pub fn make_room<R: Ord>(&mut self, idle: impl Fn(&V) -> bool, rank: impl Fn(&V) -> R) {
        if self.map.len() < self.max {
            return;
        }
        self.map.retain(|_, v| !idle(v));
        if self.map.len() < self.max {
            return;
        }
        let keep = self.max * 3 / 4;
        let mut ranked: Vec<(R, K)> = self.map.iter().map(|(k, v)| (rank(v), k.clone())).collect();
        let drop = ranked.len() - keep;
        ranked.select_nth_unstable_by(drop.saturating_sub(1), |a, b| a.0.cmp(&b.0));
        for (_, k) in ranked.into_iter().take(drop) {
            self.map.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_entries_go_first_then_the_lowest_ranked() {
        let mut m = BoundedMap::new(8);
        for k in 0..8u32 {
            m.make_room(|v: &u32| *v == 0, |v| *v);
            m.map.insert(k, k % 4);
        }
        assert_eq!(m.map.len(), 8);
        // Full: the two idle ones (value 0) make room, nothing else goes.
        m.make_room(|v| *v == 0, |v| *v);
        assert_eq!(m.map.len(), 6);
        m.map.insert(100, 9);
        m.map.insert(101, 9);
        // Full and nothing idle: down to 6, the lowest values first.
        m.make_room(|v| *v == 0, |v| *v);
        assert_eq!(m.map.len(), 6);
        assert!(m.map.values().all(|v| *v >= 2), "{:?}", m.map);
    }
}
