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
/// into the sorted arrays.
const PACK_FROM: usize = 256;

/// A large [`LastSeen`]: most keys in sorted arrays of fingerprints and
/// ticks (4 and 2 bytes a key, with a bucket index of half a byte a key),
/// the keys added since the last merge in a hash map, merged in once they
/// pass an eighth of the arrays. A hash map alone costs 10 to 20 bytes a
/// key, and twice that while it grows.
#[derive(Debug, Clone, Default)]
pub struct Packed {
    /// Fingerprints, sorted, one per key; no key is also in `recent`.
    keys: Vec<u32>,
    /// The tick of each key of `keys`.
    ticks: Ticks,
    /// `starts[b]..starts[b + 1]` are the positions in `keys` whose key's
    /// top `bits` bits are `b`.
    starts: Vec<u32>,
    bits: u32,
    recent: FxHashMap<u32, u32>,
}

/// The ticks of a [`Packed`] table: offsets from a base while they span
/// less than 2^16 (forgetting moves the base up), else whole.
#[derive(Debug, Clone)]
enum Ticks {
    Narrow { base: u32, offsets: Vec<u16> },
    Wide(Vec<u32>),
}

impl Default for Ticks {
    fn default() -> Self {
        Ticks::Narrow {
            base: 0,
            offsets: Vec::new(),
        }
    }
}

/// `tick` as a 16-bit offset from `base`, when it is one.
fn offset(base: u32, tick: u32) -> Option<u16> {
    tick.checked_sub(base).and_then(|o| u16::try_from(o).ok())
}

impl Ticks {
    fn get(&self, i: usize) -> u32 {
        match self {
            Ticks::Narrow { base, offsets } => base + u32::from(offsets[i]),
            Ticks::Wide(ticks) => ticks[i],
        }
    }

    /// Whether `tick` can be stored as it is.
    fn fits(&self, tick: u32) -> bool {
        match self {
            Ticks::Narrow { base, .. } => offset(*base, tick).is_some(),
            Ticks::Wide(_) => true,
        }
    }

    /// Stores ticks whole from now on.
    fn widen(&mut self) {
        if let Ticks::Narrow { base, offsets } = self {
            let wide = offsets.iter().map(|&o| *base + u32::from(o)).collect();
            *self = Ticks::Wide(wide);
        }
    }

    /// Sets the tick at `i`, which must fit.
    fn set(&mut self, i: usize, tick: u32) {
        match self {
            Ticks::Narrow { base, offsets } => offsets[i] = (tick - *base) as u16,
            Ticks::Wide(ticks) => ticks[i] = tick,
        }
    }

    /// Makes room for `more` entries at the end.
    fn grow(&mut self, more: usize) {
        match self {
            Ticks::Narrow { offsets, .. } => {
                offsets.reserve_exact(more);
                offsets.resize(offsets.len() + more, 0);
            }
            Ticks::Wide(ticks) => {
                ticks.reserve_exact(more);
                ticks.resize(ticks.len() + more, 0);
            }
        }
    }

    fn copy_within(&mut self, from: usize, to: usize) {
        match self {
            Ticks::Narrow { offsets, .. } => offsets[to] = offsets[from],
            Ticks::Wide(ticks) => ticks[to] = ticks[from],
        }
    }

    fn truncate(&mut self, len: usize) {
        match self {
            Ticks::Narrow { offsets, .. } => {
                offsets.truncate(len);
                shrink_if_slack(offsets);
            }
            Ticks::Wide(ticks) => {
                ticks.truncate(len);
                shrink_if_slack(ticks);
            }
        }
    }

    /// Stores the ticks as offsets from `floor` when they fit. Every tick
    /// must be at or after `floor` ([`Packed::forget_before`] has just
    /// dropped the others).
    fn narrow_from(&mut self, floor: u32) {
        match self {
            Ticks::Narrow { base, offsets } if floor > *base => {
                let shift = floor - *base;
                debug_assert!(offsets.iter().all(|&o| u32::from(o) >= shift), "a tick before {floor}");
                for o in offsets.iter_mut() {
                    *o = (u32::from(*o) - shift) as u16;
                }
                *base = floor;
            }
            Ticks::Wide(ticks) => {
                if let Some(offsets) = ticks.iter().map(|&t| offset(floor, t)).collect() {
                    *self = Ticks::Narrow { base: floor, offsets };
                }
            }
            Ticks::Narrow { .. } => {}
        }
    }
}

fn shrink_if_slack<T>(v: &mut Vec<T>) {
    if v.capacity() > v.len() + v.len() / 4 {
        v.shrink_to_fit();
    }
}

impl Packed {
    fn len(&self) -> usize {
        self.keys.len() + self.recent.len()
    }

    /// The position in `keys` of key `k`.
    fn find(&self, k: u32) -> Option<usize> {
        if self.keys.is_empty() {
            return None;
        }
        let b = bucket(k, self.bits);
        let (from, to) = (self.starts[b] as usize, self.starts[b + 1] as usize);
        let found = self.keys[from..to].binary_search(&k);
        found.ok().map(|i| from + i)
    }

    fn get(&self, k: u32) -> Option<u32> {
        match self.find(k) {
            Some(i) => Some(self.ticks.get(i)),
            None => self.recent.get(&k).copied(),
        }
    }

    fn set(&mut self, k: u32, tick: u32) -> Option<u32> {
        if let Some(i) = self.find(k) {
            let before = self.ticks.get(i);
            if !self.ticks.fits(tick) {
                self.ticks.widen();
            }
            self.ticks.set(i, tick);
            return Some(before);
        }
        let before = self.recent.insert(k, tick);
        if self.recent.len() > (self.keys.len() / 8).max(PACK_FROM) {
            self.merge();
        }
        before
    }

    /// Moves the recent keys into the sorted arrays, in place from the back.
    fn merge(&mut self) {
        let mut recent: Vec<(u32, u32)> = self.recent.drain().collect();
        self.recent = FxHashMap::default();
        recent.sort_unstable();
        if self.keys.is_empty() {
            let base = recent.iter().map(|e| e.1).min().unwrap_or(0);
            self.ticks = Ticks::Narrow {
                base,
                offsets: Vec::new(),
            };
        }
        if !recent.iter().all(|e| self.ticks.fits(e.1)) {
            self.ticks.widen();
        }
        let old = self.keys.len();
        self.keys.reserve_exact(recent.len());
        self.keys.resize(old + recent.len(), 0);
        self.ticks.grow(recent.len());
        let (mut i, mut j, mut out) = (old, recent.len(), self.keys.len());
        while j > 0 {
            out -= 1;
            if i > 0 && self.keys[i - 1] > recent[j - 1].0 {
                i -= 1;
                self.keys[out] = self.keys[i];
                self.ticks.copy_within(i, out);
            } else {
                j -= 1;
                self.keys[out] = recent[j].0;
                self.ticks.set(out, recent[j].1);
            }
        }
        self.index();
    }

    /// Rebuilds the bucket index: about eight keys (half a cache line) a bucket.
    fn index(&mut self) {
        let n = self.keys.len();
        self.bits = if n < 16 { 0 } else { (n.ilog2() - 3).min(24) };
        let buckets = 1usize << self.bits;
        self.starts.clear();
        self.starts.reserve_exact(buckets + 1);
        let mut at = 0usize;
        for b in 0..buckets {
            while at < n && bucket(self.keys[at], self.bits) < b {
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
        let before = self.keys.len();
        let mut kept = 0;
        for i in 0..before {
            if self.ticks.get(i) >= tick {
                self.keys[kept] = self.keys[i];
                self.ticks.copy_within(i, kept);
                kept += 1;
            }
        }
        if kept != before {
            self.keys.truncate(kept);
            shrink_if_slack(&mut self.keys);
            self.ticks.truncate(kept);
            self.index();
        }
        self.ticks.narrow_from(tick);
    }

    /// Every (key, tick), in no particular order.
    fn entries(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let sorted = self.keys.iter().enumerate().map(|(i, &k)| (k, self.ticks.get(i)));
        sorted.chain(self.recent.iter().map(|(&k, &t)| (k, t)))
    }
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
        // Ticks 1 apart fit in 16-bit offsets; 4,000 apart they span more
        // than 2^16 between forgettings, and fit again after each.
        for (seed, tick_step) in [(0u64, 1u32), (1, 1), (2, 1), (3, 4000)] {
            let mut rng = seed;
            let mut widened = false;
            let mut s = LastSeen::default();
            let mut model: FxHashMap<u32, u32> = FxHashMap::default();
            // Keys drawn from a pool, so that some come back and move.
            let pool: Vec<u64> = (0..40_000).map(|_| splitmix(&mut rng)).collect();
            for step in 0..120_000u32 {
                let tick = step / 1000 * tick_step;
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
                    let cutoff = tick.saturating_sub(10 * tick_step);
                    s.forget_before(cutoff);
                    model.retain(|_, t| *t >= cutoff);
                    if let LastSeen::Many(p) = &s {
                        assert!(matches!(p.ticks, Ticks::Narrow { .. }), "narrow again after forgetting");
                    }
                }
                widened |= matches!(&s, LastSeen::Many(p) if matches!(p.ticks, Ticks::Wide(_)));
                assert_eq!(s.len(), model.len());
            }
            assert_eq!(widened, tick_step > 1, "seed {seed}");
            assert!(
                matches!(s, LastSeen::Many(ref p) if !p.keys.is_empty()),
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
