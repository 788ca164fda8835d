//! Small-footprint distinct sets and counters for per-window state: a few
//! entries live inline (no allocation), larger ones move to a hash table.
//! Millions of entity-windows hold mostly one or two values each.

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

/// Entries kept inline before switching to a hash table.
const INLINE_LIMIT: usize = 24;

/// A set of 64-bit name hashes.
#[derive(Debug, Clone)]
pub enum Distinct {
    Few(SmallVec<[u64; 2]>),
    Many(Box<FxHashSet<u64>>),
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Few(SmallVec::new())
    }
}

impl Distinct {
    /// Adds `v`; whether it was new.
    pub fn insert(&mut self, v: u64) -> bool {
        match self {
            Distinct::Few(few) => {
                if few.contains(&v) {
                    return false;
                }
                if few.len() < INLINE_LIMIT {
                    few.push(v);
                } else {
                    let mut set: FxHashSet<u64> = few.iter().copied().collect();
                    set.insert(v);
                    *self = Distinct::Many(Box::new(set));
                }
                true
            }
            Distinct::Many(set) => set.insert(v),
        }
    }

    pub fn contains(&self, v: u64) -> bool {
        match self {
            Distinct::Few(few) => few.contains(&v),
            Distinct::Many(set) => set.contains(&v),
        }
    }

    pub fn clear(&mut self) {
        *self = Distinct::default();
    }

    pub fn len(&self) -> usize {
        match self {
            Distinct::Few(f) => f.len(),
            Distinct::Many(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (few, many) = match self {
            Distinct::Few(f) => (Some(f.iter()), None),
            Distinct::Many(s) => (None, Some(s.iter())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten()).copied()
    }
}

/// Counts per key (user name hash, minute of the window); `N` inline.
#[derive(Debug, Clone)]
pub enum Counts<K: Copy + Eq + std::hash::Hash, const N: usize> {
    Few(SmallVec<[(K, u32); N]>),
    Many(Box<FxHashMap<K, u32>>),
}

impl<K: Copy + Eq + std::hash::Hash, const N: usize> Default for Counts<K, N> {
    fn default() -> Self {
        Counts::Few(SmallVec::new())
    }
}

impl<K: Copy + Eq + std::hash::Hash, const N: usize> Counts<K, N> {
    pub fn add(&mut self, k: K, n: u32) {
        match self {
            Counts::Few(few) => {
                if let Some(e) = few.iter_mut().find(|e| e.0 == k) {
                    e.1 += n;
                } else if few.len() < INLINE_LIMIT {
                    few.push((k, n));
                } else {
                    let mut map: FxHashMap<K, u32> = few.iter().copied().collect();
                    map.insert(k, n);
                    *self = Counts::Many(Box::new(map));
                }
            }
            Counts::Many(map) => *map.entry(k).or_insert(0) += n,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Counts::Few(f) => f.len(),
            Counts::Many(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (K, u32)> + '_ {
        let (few, many) = match self {
            Counts::Few(f) => (Some(f.iter().copied()), None),
            Counts::Many(m) => (None, Some(m.iter().map(|(k, v)| (*k, *v)))),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }

    pub fn max_count(&self) -> u32 {
        self.iter().map(|(_, c)| c).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_switches_to_a_table_and_keeps_counting() {
        let mut d = Distinct::default();
        for round in 0..2 {
            for v in 0..100u64 {
                d.insert(v * 7);
            }
            assert_eq!(d.len(), 100, "round {round}");
        }
        assert!(matches!(d, Distinct::Many(_)));
        d.insert(7);
        d.insert(1_000_000);
        assert_eq!(d.len(), 101);
        assert_eq!(d.iter().filter(|&v| v == 7).count(), 1);
    }

    #[test]
    fn counts_add_up_across_the_switch() {
        let mut c: Counts<u32, 2> = Counts::default();
        for i in 0..60u32 {
            c.add(i, 1);
            c.add(i % 3, 2);
        }
        assert_eq!(c.len(), 60);
        assert_eq!(c.max_count(), 1 + 2 * 20);
        let total: u32 = c.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 60 + 120);
    }
}
