//! The binaries' allocator. glibc's malloc keeps most of what a long run
//! frees: hash tables that grew and moved, and the feature tables of closed
//! windows, which are allocated and freed every few seconds, leave holes
//! that later small allocations pin, so peak RSS sat 200–300 MiB above the
//! live heap. jemalloc keeps size classes apart and a background thread
//! returns pages unused for a second to the OS. Linked into every binary
//! that uses this crate (features, train, score); measured in
//! `docs/benchmarks-log.md`.

#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts (the `_RJEM_MALLOC_CONF`
/// environment variable is read after them and wins):
/// - `background_thread`: a thread purges unused pages, not the thread
///   that happens to free;
/// - `dirty_decay_ms:1000`: freed pages go back to the OS after a second
///   (the default is ten);
/// - `muzzy_decay_ms:0`: and are not kept in between.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";
