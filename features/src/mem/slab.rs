//! A store addressed by `u32` index, kept in fixed-size chunks: growing
//! never moves or copies what is stored, and no more than one chunk is ever
//! spare. The aggregation keeps its millions of entity-window states here,
//! in the order the windows open, so the windows of one hour sit together in
//! memory; when windows are closed as time passes, each is released, and a
//! chunk whose elements are all released is freed (indices are not reused).
//!
//! On Linux each chunk is a memory mapping of its own ([`Chunk`]), so a
//! freed chunk goes back to the OS at once instead of leaving a hole in the
//! heap that glibc keeps.

use std::ptr::NonNull;

/// Elements per chunk (a power of two).
const CHUNK: usize = 1 << 14;

/// Room for [`CHUNK`] elements, filled in order; on Linux in an anonymous
/// mapping of its own, unmapped when dropped.
struct Chunk<T> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: a `Chunk` owns its elements like a `Vec` does.
unsafe impl<T: Send> Send for Chunk<T> {}
// SAFETY: shared access only reads elements, as for a `Vec`.
unsafe impl<T: Sync> Sync for Chunk<T> {}

impl<T> Chunk<T> {
    fn bytes() -> usize {
        CHUNK * std::mem::size_of::<T>()
    }

    fn new() -> Chunk<T> {
        let bytes = Self::bytes();
        let layout = std::alloc::Layout::array::<T>(CHUNK).expect("chunk size fits");
        let ptr = if bytes == 0 {
            NonNull::dangling()
        } else {
            #[cfg(target_os = "linux")]
            // SAFETY: a fresh private anonymous mapping; page alignment
            // covers any element alignment.
            let raw = unsafe {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                if p == libc::MAP_FAILED {
                    std::ptr::null_mut()
                } else {
                    p.cast::<T>()
                }
            };
            #[cfg(not(target_os = "linux"))]
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { std::alloc::alloc(layout).cast::<T>() };
            NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
        };
        Chunk { ptr, len: 0 }
    }

    fn push(&mut self, v: T) {
        assert!(self.len < CHUNK, "chunk full");
        // SAFETY: `len < CHUNK`, so the slot lies inside the allocation
        // and holds no element yet.
        unsafe { self.ptr.as_ptr().add(self.len).write(v) };
        self.len += 1;
    }

    fn as_slice(&self) -> &[T] {
        // SAFETY: the first `len` slots hold initialized elements.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as `as_slice`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for Chunk<T> {
    fn drop(&mut self) {
        // SAFETY: the first `len` slots hold elements this chunk owns; the
        // allocation was made by `new` with the same size.
        unsafe {
            std::ptr::drop_in_place(self.as_mut_slice() as *mut [T]);
            let bytes = Self::bytes();
            if bytes == 0 {
                return;
            }
            #[cfg(target_os = "linux")]
            libc::munmap(self.ptr.as_ptr().cast(), bytes);
            #[cfg(not(target_os = "linux"))]
            std::alloc::dealloc(
                self.ptr.as_ptr().cast(),
                std::alloc::Layout::array::<T>(CHUNK).expect("chunk size fits"),
            );
        }
    }
}

impl<T: Clone> Clone for Chunk<T> {
    fn clone(&self) -> Chunk<T> {
        let mut c = Chunk::new();
        for v in self.as_slice() {
            c.push(v.clone());
        }
        c
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Chunk<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Storage in chunks of [`CHUNK`] elements.
#[derive(Debug, Clone)]
pub struct Slab<T> {
    /// `None` once freed.
    chunks: Vec<Option<Chunk<T>>>,
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
            self.chunks.push(Some(Chunk::new()));
            self.live.push(0);
        }
        self.chunks
            .last_mut()
            .and_then(Option::as_mut)
            .expect("the last chunk is being filled")
            .push(v);
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
            self.chunks[c].is_some(),
            "element {i} released after its chunk was freed"
        );
        self.live[c] -= 1;
        self.released += 1;
        let filling = c + 1 == self.chunks.len() && self.pushed % CHUNK != 0;
        if self.live[c] == 0 && !filling {
            self.chunks[c] = None;
        }
    }

    pub fn get(&self, i: u32) -> &T {
        let i = i as usize;
        &self.chunk(i).as_slice()[i % CHUNK]
    }

    fn chunk(&self, i: usize) -> &Chunk<T> {
        self.chunks[i / CHUNK].as_ref().expect("element of a freed chunk")
    }

    /// Asks the CPU to start loading element `i` into cache: reading many
    /// elements out of storage order waits on memory at every one unless
    /// the next ones are fetched ahead. Does nothing for an index past the
    /// end.
    pub fn prefetch(&self, i: u32) {
        let i = i as usize;
        if let Some(v) = self
            .chunks
            .get(i / CHUNK)
            .and_then(Option::as_ref)
            .and_then(|c| c.as_slice().get(i % CHUNK))
        {
            prefetch(v);
        }
    }

    pub fn get_mut(&mut self, i: u32) -> &mut T {
        let i = i as usize;
        let chunk = self.chunks[i / CHUNK].as_mut().expect("element of a freed chunk");
        &mut chunk.as_mut_slice()[i % CHUNK]
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
            assert!(s.chunks[0].is_some());
            s.release(i);
        }
        assert!(s.chunks[0].is_none(), "a full, released chunk is freed");
        assert_eq!(s.len(), 5);
        assert_eq!(*s.get(CHUNK as u32 + 4), CHUNK as u32 + 4);
        // The chunk still being filled stays, even when all of it is released.
        for i in CHUNK as u32..CHUNK as u32 + 5 {
            s.release(i);
        }
        assert!(s.is_empty());
        assert_eq!(s.chunks[1].as_ref().unwrap().len, 5);
        assert_eq!(s.push(7), CHUNK as u32 + 5, "indices are not reused");
        assert_eq!(*s.get(CHUNK as u32 + 5), 7);
    }

    #[test]
    fn elements_are_dropped_with_their_chunk_and_with_the_slab_and_clones_are_deep() {
        let token = std::rc::Rc::new(());
        let mut s = Slab::default();
        for _ in 0..(CHUNK + 2) {
            s.push(std::rc::Rc::clone(&token));
        }
        assert_eq!(std::rc::Rc::strong_count(&token), CHUNK + 3);
        let copy = s.clone();
        assert_eq!(std::rc::Rc::strong_count(&token), 2 * CHUNK + 5);
        drop(copy);
        for i in 0..CHUNK as u32 {
            s.release(i);
        }
        // The first chunk went with its last release.
        assert_eq!(std::rc::Rc::strong_count(&token), 3);
        drop(s);
        assert_eq!(std::rc::Rc::strong_count(&token), 1);
        // Zero-sized elements need no memory.
        let mut z = Slab::default();
        for _ in 0..(CHUNK + 1) {
            z.push(());
        }
        assert_eq!(z.len(), CHUNK + 1);
    }
}
