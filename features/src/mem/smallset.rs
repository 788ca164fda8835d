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
/// entries inline, more in a [`Packed`] table.
///
/// Keys are kept as 32-bit fingerprints of the 64-bit hash, which halves
/// the memory of the largest sets (the sources a scanned host remembers).
/// The price: with `n` keys kept, an unseen key is taken for a seen one
/// with probability at most `n / 2^32` (0.3% at 13 million).
#[derive(Debug, Clone)]
pub enum LastSeen {
    Few(SmallVec<[(u32, u32); 2]>),
    Many(Box<Packed>),
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
            LastSeen::Many(packed) => packed.get(k),
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
                    let mut packed = Packed::default();
                    for &(k, t) in few.iter() {
                        packed.set(k, t);
                    }
                    packed.set(k, tick);
                    *self = LastSeen::Many(Box::new(packed));
                }
                None
            }
            LastSeen::Many(packed) => packed.set(k, tick),
        }
    }

    /// Keeps the keys last seen at or after `tick`.
    pub fn forget_before(&mut self, tick: u32) {
        match self {
            LastSeen::Few(few) => few.retain(|e| e.1 >= tick),
            LastSeen::Many(packed) => {
                packed.forget_before(tick);
                if packed.len() <= INLINE_LIMIT {
                    *self = LastSeen::Few(packed.entries().collect());
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
            LastSeen::Many(p) => p.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keys a [`Packed`] table keeps in its hash map before the first merge
/// into the sorted array.
const PACK_FROM: usize = 4096;

/// A large [`LastSeen`]: most keys in a sorted array of `key << 32 | tick`
/// (8 bytes a key, with a bucket index of about one byte a key), the keys
/// added since the last merge in a hash map, merged in once they pass an
/// eighth of the array. A hash map alone costs 10 to 20 bytes a key, and
/// twice that while it grows.
#[derive(Debug, Clone, Default)]
pub struct Packed {
    /// `key << 32 | tick`, sorted, one per key; no key is also in `recent`.
    sorted: Vec<u64>,
    /// `starts[b]..starts[b + 1]` are the entries of `sorted` whose key's
    /// top `bits` bits are `b`.
    starts: Vec<u32>,
    bits: u32,
    recent: FxHashMap<u32, u32>,
}

impl Packed {
    fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// The position in `sorted` of key `k`.
    fn find(&self, k: u32) -> Option<usize> {
        if self.sorted.is_empty() {
            return None;
        }
        let b = bucket(k, self.bits);
        let (from, to) = (self.starts[b] as usize, self.starts[b + 1] as usize);
        let found = self.sorted[from..to].binary_search_by_key(&k, |&e| (e >> 32) as u32);
        found.ok().map(|i| from + i)
    }

    fn get(&self, k: u32) -> Option<u32> {
        match self.find(k) {
            Some(i) => Some(self.sorted[i] as u32),
            None => self.recent.get(&k).copied(),
        }
    }

    fn set(&mut self, k: u32, tick: u32) -> Option<u32> {
        if let Some(i) = self.find(k) {
            let before = self.sorted[i] as u32;
            self.sorted[i] = pack(k, tick);
            return Some(before);
        }
        let before = self.recent.insert(k, tick);
        if self.recent.len() > (self.sorted.len() / 8).max(PACK_FROM) {
            self.merge();
        }
        before
    }

    /// Moves the recent keys into the sorted array, in place from the back.
    fn merge(&mut self) {
        let mut recent: Vec<u64> = self.recent.drain().map(|(k, t)| pack(k, t)).collect();
        self.recent = FxHashMap::default();
        recent.sort_unstable();
        let old = self.sorted.len();
        self.sorted.reserve_exact(recent.len());
        self.sorted.resize(old + recent.len(), 0);
        let (mut i, mut j, mut out) = (old, recent.len(), self.sorted.len());
        while j > 0 {
            out -= 1;
            if i > 0 && self.sorted[i - 1] > recent[j - 1] {
                i -= 1;
                self.sorted[out] = self.sorted[i];
            } else {
                j -= 1;
                self.sorted[out] = recent[j];
            }
        }
        self.index();
    }

    /// Rebuilds the bucket index: about four keys a bucket.
    fn index(&mut self) {
        let n = self.sorted.len();
        self.bits = if n < 8 { 0 } else { (n.ilog2() - 2).min(24) };
        let buckets = 1usize << self.bits;
        self.starts.clear();
        self.starts.reserve_exact(buckets + 1);
        let mut at = 0usize;
        for b in 0..buckets {
            while at < n && bucket((self.sorted[at] >> 32) as u32, self.bits) < b {
                at += 1;
            }
            self.starts.push(at as u32);
        }
        self.starts.push(n as u32);
        self.starts.shrink_to_fit();
    }

    fn forget_before(&mut self, tick: u32) {
        self.recent.retain(|_, t| *t >= tick);
        if self.recent.capacity() > 4 * self.recent.len().max(64) {
            self.recent.shrink_to_fit();
        }
        let before = self.sorted.len();
        self.sorted.retain(|&e| e as u32 >= tick);
        if self.sorted.len() != before {
            if self.sorted.capacity() > self.sorted.len() + self.sorted.len() / 4 {
                self.sorted.shrink_to_fit();
            }
            self.index();
        }
    }

    /// Every (key, tick), in no particular order.
    fn entries(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let sorted = self.sorted.iter().map(|&e| ((e >> 32) as u32, e as u32));
        sorted.chain(self.recent.iter().map(|(&k, &t)| (k, t)))
    }
}

fn pack(k: u32, tick: u32) -> u64 {
    (u64::from(k) << 32) | u64::from(tick)
}

/// The bucket of key `k` in an index of `bits` bits: its top bits.
fn bucket(k: u32, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (k >> (32 - bits)) as usize
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

    /// Keys from a splitmix64 stream: uniform over 64 bits, deterministic.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn a_packed_last_seen_answers_like_a_hash_map_through_merges_and_forgetting() {
        for seed in 0..3u64 {
            let mut rng = seed;
            let mut s = LastSeen::default();
            let mut model: FxHashMap<u32, u32> = FxHashMap::default();
            // Keys drawn from a pool, so that some come back and move.
            let pool: Vec<u64> = (0..40_000).map(|_| splitmix(&mut rng)).collect();
            for step in 0..120_000u32 {
                let tick = step / 1000;
                let k = pool[(splitmix(&mut rng) % pool.len() as u64) as usize];
                assert_eq!(
                    s.set(k, tick),
                    model.insert(fingerprint(k), tick),
                    "seed {seed} step {step}"
                );
                if step % 7 == 0 {
                    let q = pool[(splitmix(&mut rng) % pool.len() as u64) as usize];
                    assert_eq!(s.get(q), model.get(&fingerprint(q)).copied());
                }
                if step % 20_000 == 19_999 {
                    let cutoff = tick.saturating_sub(10);
                    s.forget_before(cutoff);
                    model.retain(|_, t| *t >= cutoff);
                }
                assert_eq!(s.len(), model.len());
            }
            assert!(
                matches!(s, LastSeen::Many(ref p) if !p.sorted.is_empty()),
                "merged at least once"
            );
            for &k in &pool {
                assert_eq!(s.get(k), model.get(&fingerprint(k)).copied());
            }
            s.forget_before(u32::MAX);
            assert!(s.is_empty());
            assert!(matches!(s, LastSeen::Few(_)));
        }
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
