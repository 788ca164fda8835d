//! What a long call is doing, for a caller that draws its own progress bar
//! (the Python package, which shows it in a notebook): the stage a
//! [`crate::spinner`] names, and the bytes read of the total when known.
//! The binaries draw indicatif bars and never watch.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

static WATCHED: AtomicBool = AtomicBool::new(false);
static STAGE: Mutex<&'static str> = Mutex::new("");
static DONE: AtomicU64 = AtomicU64::new(0);
static TOTAL: AtomicU64 = AtomicU64::new(0);

/// Where the work is: its stage, and `done` of `total` bytes (`total` 0
/// when the stage has no known size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub stage: &'static str,
    pub done: u64,
    pub total: u64,
}

/// Starts recording progress (from now until [`unwatch`]).
pub fn watch() {
    *STAGE.lock().unwrap_or_else(|e| e.into_inner()) = "";
    DONE.store(0, Ordering::Relaxed);
    TOTAL.store(0, Ordering::Relaxed);
    WATCHED.store(true, Ordering::Relaxed);
}

/// Stops recording progress.
pub fn unwatch() {
    WATCHED.store(false, Ordering::Relaxed);
}

/// The latest stage and count.
pub fn snapshot() -> Snapshot {
    Snapshot {
        stage: *STAGE.lock().unwrap_or_else(|e| e.into_inner()),
        done: DONE.load(Ordering::Relaxed),
        total: TOTAL.load(Ordering::Relaxed),
    }
}

/// A new stage of `total` bytes (0: unknown).
pub(crate) fn stage(name: &'static str, total: u64) {
    if !WATCHED.load(Ordering::Relaxed) {
        return;
    }
    *STAGE.lock().unwrap_or_else(|e| e.into_inner()) = name;
    DONE.store(0, Ordering::Relaxed);
    TOTAL.store(total, Ordering::Relaxed);
}

/// `n` more bytes of the stage done.
pub(crate) fn advance(n: u64) {
    if WATCHED.load(Ordering::Relaxed) {
        DONE.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_bytes_are_recorded_only_while_watched() {
        stage("ignored", 10);
        watch();
        assert_eq!(snapshot().stage, "");
        stage("reading logs", 100);
        advance(40);
        assert_eq!(
            snapshot(),
            Snapshot {
                stage: "reading logs",
                done: 40,
                total: 100
            }
        );
        unwatch();
        advance(5);
        assert_eq!(snapshot().done, 40);
    }
}
