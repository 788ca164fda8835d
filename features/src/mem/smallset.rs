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

/// When each key (a name hash) was last seen, as a `u32` tick; a few
/// entries inline, more in a hash map.
///
/// Keys are kept as 32-bit fingerprints of the 64-bit hash, which halves
/// the memory of the largest sets (the sources a scanned host remembers).
/// The price: with `n` keys kept, an unseen key is taken for a seen one
/// with probability at most `n / 2^32` (0.3% at 13 million).
#[derive(Debug, Clone)]
pub enum LastSeen {
    Few(SmallVec<[(u32, u32); 2]>),
    Many(Box<FxHashMap<u32, u32>>),
}

impl Default for LastSeen {
    fn default() -> Self {
        LastSeen::Few(SmallVec::new())
    }
}

/// The 32-bit fingerprint a [`LastSeen`] keeps of a 64-bit hash: both
/// halves folded, so every bit of the hash counts.
fn fingerprint(k: u64) -> u32 {
    (k ^ (k >> 32)) as u32
}

impl LastSeen {
    pub fn get(&self, k: u64) -> Option<u32> {
        let k = fingerprint(k);
        match self {
            LastSeen::Few(few) => few.iter().find(|e| e.0 == k).map(|e| e.1),
            LastSeen::Many(map) => map.get(&k).copied(),
        }
    }

    /// Records `k` as seen at `tick`; the tick it was seen at before.
    pub fn set(&mut self, k: u64, tick: u32) -> Option<u32> {
        let k = fingerprint(k);
        match self {
            LastSeen::Few(few) => {
                if let Some(e) = few.iter_mut().find(|e| e.0 == k) {
                    return Some(std::mem::replace(&mut e.1, tick));
                }
                if few.len() < INLINE_LIMIT {
                    few.push((k, tick));
                } else {
                    let mut map: FxHashMap<u32, u32> = few.iter().copied().collect();
                    map.insert(k, tick);
                    *self = LastSeen::Many(Box::new(map));
                }
                None
            }
            LastSeen::Many(map) => map.insert(k, tick),
        }
    }

    /// Keeps the keys last seen at or after `tick`.
    pub fn forget_before(&mut self, tick: u32) {
        match self {
            LastSeen::Few(few) => few.retain(|e| e.1 >= tick),
            LastSeen::Many(map) => {
                map.retain(|_, t| *t >= tick);
                if map.len() <= INLINE_LIMIT {
                    *self = LastSeen::Few(map.iter().map(|(k, t)| (*k, *t)).collect());
                } else if map.capacity() > 4 * map.len() {
                    map.shrink_to_fit();
                }
            }
        }
    }

    pub fn clear(&mut self) {
        *self = LastSeen::default();
    }

    pub fn len(&self) -> usize {
        match self {
            LastSeen::Few(f) => f.len(),
            LastSeen::Many(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    fn last_seen_keeps_the_latest_tick_and_forgets_old_keys_across_the_switch() {
        let mut s = LastSeen::default();
        for k in 0..100u64 {
            assert_eq!(s.set(k, k as u32), None);
        }
        assert!(matches!(s, LastSeen::Many(_)));
        assert_eq!(s.set(5, 200), Some(5));
        assert_eq!(s.get(5), Some(200));
        s.forget_before(90);
        assert_eq!(s.len(), 11, "90..100 and key 5");
        assert!(matches!(s, LastSeen::Few(_)));
        assert_eq!(s.get(5), Some(200));
        assert_eq!(s.get(3), None);
        s.forget_before(1000);
        assert!(s.is_empty());
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

    #[test]
    fn fingerprinted_keys_are_mistaken_for_seen_ones_at_about_n_over_two_to_the_32() {
        let hash = |i: u32| crate::aggregate::name_hash(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255));
        let n = 1u32 << 20;
        let mut s = LastSeen::default();
        for i in 0..n {
            s.set(hash(i), 1);
        }
        // Pairs of keys that share a fingerprint: about n^2 / 2^33.
        let merged = f64::from(n - s.len() as u32);
        let birthday = f64::from(n) * f64::from(n) / 2f64.powi(33);
        assert!(
            merged <= 2.0 * birthday + 10.0,
            "{merged} keys merged, {birthday} expected"
        );
        let mistaken = (n..2 * n).filter(|&i| s.get(hash(i)).is_some()).count() as f64;
        // n queries of unseen keys, each mistaken with probability n / 2^32.
        let expected = f64::from(n) * f64::from(n) / 2f64.powi(32);
        assert!(
            mistaken <= 2.0 * expected + 10.0,
            "{mistaken} mistaken, {expected} expected"
        );
    }
}
