//! Memory: compact containers for the aggregation state and giving memory
//! back to the OS.
//!
//! - [`slab`]: an append-only store that never moves what it holds.
//! - [`smallset`]: distinct sets and counters that stay inline while small.
//! - [`release`]: dropping large values off-thread, returning freed pages.

pub mod release;
pub mod slab;
pub mod smallset;

/// The process's resident memory in MiB, for `-v` diagnostics (Linux;
/// `None` elsewhere).
pub fn rss_mib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()? / (1 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn resident_memory_is_read() {
        // Other tests of this process free memory meanwhile: a large
        // allocation, and half of it, keep the check about this one.
        let before = rss_mib().unwrap();
        let big = vec![1u8; 256 << 20];
        let after = rss_mib().unwrap();
        assert!(after >= before + 128, "{before} -> {after} MiB");
        drop(big);
    }
}
