//! A store addressed by `u32` index, kept in fixed-size chunks: growing
//! never moves or copies what is stored, and no more than one chunk is ever
//! spare. The aggregation keeps its millions of entity-window states here,
//! in the order the windows open, so the windows of one hour sit together in
//! memory; when windows are closed as time passes, each is released, and a
//! chunk whose elements are all released is freed (indices are not reused).

/// Elements per chunk (a power of two).
const CHUNK: usize = 1 << 14;

/// Storage in chunks of [`CHUNK`] elements.
#[derive(Debug, Clone)]
pub struct Slab<T> {
    chunks: Vec<Vec<T>>,
    /// Elements of each chunk not yet released.
    live: Vec<u32>,
    /// Elements pushed (the next index).
    pushed: usize,
    released: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            chunks: Vec::new(),
            live: Vec::new(),
            pushed: 0,
            released: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `v` and returns its index.
    ///
    /// # Panics
    /// Past `u32::MAX` elements.
    pub fn push(&mut self, v: T) -> u32 {
        let index = u32::try_from(self.pushed).expect("more than 2^32 entity-windows in one slab");
        if self.pushed % CHUNK == 0 {
            self.chunks.push(Vec::with_capacity(CHUNK));
            self.live.push(0);
        }
        self.chunks.last_mut().expect("a chunk was just added").push(v);
        *self.live.last_mut().expect("a chunk was just added") += 1;
        self.pushed += 1;
        index
    }

    /// Marks element `i` as no longer needed; once every element of its
    /// chunk is released (and no more go into it), the chunk is freed.
    ///
    /// # Panics
    /// When the chunk of `i` was already freed.
    pub fn release(&mut self, i: u32) {
        let c = i as usize / CHUNK;
        assert!(
            !self.chunks[c].is_empty(),
            "element {i} released after its chunk was freed"
        );
        self.live[c] -= 1;
        self.released += 1;
        let filling = c + 1 == self.chunks.len() && self.pushed % CHUNK != 0;
        if self.live[c] == 0 && !filling {
            self.chunks[c] = Vec::new();
        }
    }

    pub fn get(&self, i: u32) -> &T {
        let i = i as usize;
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    /// Asks the CPU to start loading element `i` into cache: reading many
    /// elements out of storage order waits on memory at every one unless
    /// the next ones are fetched ahead. Does nothing for an index past the
    /// end.
    pub fn prefetch(&self, i: u32) {
        let i = i as usize;
        if let Some(v) = self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK)) {
            prefetch(v);
        }
    }

    pub fn get_mut(&mut self, i: u32) -> &mut T {
        let i = i as usize;
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }

    /// Elements pushed and not released.
    pub fn len(&self) -> usize {
        self.pushed - self.released
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Prefetches every cache line of `*v`.
#[inline]
pub fn prefetch<T>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = v as *const T as *const i8;
        for offset in (0..std::mem::size_of::<T>()).step_by(64) {
            // SAFETY: a prefetch is a hint that never faults, and the
            // address lies inside `*v`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_stay_valid_across_chunks() {
        let mut s = Slab::default();
        assert!(s.is_empty());
        for i in 0..(2 * CHUNK as u64 + 3) {
            assert_eq!(s.push(i * 3) as u64, i);
        }
        assert_eq!(s.len(), 2 * CHUNK + 3);
        assert_eq!(s.chunks.len(), 3);
        *s.get_mut(CHUNK as u32) += 1;
        assert_eq!(*s.get(CHUNK as u32), CHUNK as u64 * 3 + 1);
        assert_eq!(*s.get(2 * CHUNK as u32 + 2), (2 * CHUNK as u64 + 2) * 3);
        assert_eq!(*s.get(0), 0);
        // A prefetch past the end is ignored, not a panic.
        s.prefetch(0);
        s.prefetch(2 * CHUNK as u32 + 3);
        s.prefetch(u32::MAX);
    }

    #[test]
    fn a_chunk_is_freed_once_all_its_elements_are_released_and_none_go_into_it() {
        let mut s = Slab::default();
        for i in 0..(CHUNK as u32 + 5) {
            s.push(i);
        }
        for i in (0..CHUNK as u32).rev() {
            assert!(!s.chunks[0].is_empty());
            s.release(i);
        }
        assert!(s.chunks[0].is_empty(), "a full, released chunk is freed");
        assert_eq!(s.len(), 5);
        assert_eq!(*s.get(CHUNK as u32 + 4), CHUNK as u32 + 4);
        // The chunk still being filled stays, even when all of it is released.
        for i in CHUNK as u32..CHUNK as u32 + 5 {
            s.release(i);
        }
        assert!(s.is_empty());
        assert_eq!(s.chunks[1].len(), 5);
        assert_eq!(s.push(7), CHUNK as u32 + 5, "indices are not reused");
        assert_eq!(*s.get(CHUNK as u32 + 5), 7);
    }
}
