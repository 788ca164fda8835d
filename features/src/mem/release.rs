//! Giving memory back: dropping large values off the caller's thread, and
//! returning freed heap pages to the OS.
//!
//! Dropping millions of small allocations (an aggregation state, a feature
//! table) takes a tenth of a second or more, and so does `malloc_trim`
//! afterwards; a [`Dropper`] does both on a thread of its own while the
//! caller goes on.
//!
//! ```
//! use loglynx_features::mem::release::Dropper;
//! let dropper = Dropper::new();
//! dropper.drop_later(vec![String::from("state"); 1000]);
//! dropper.trim();
//! dropper.finish(); // waits until everything sent is dropped
//! ```

use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

/// Hands memory freed by glibc's malloc back to the OS. After the
/// aggregation state is dropped, glibc keeps its many small freed blocks
/// and the process's RSS stays at its peak while the next stage allocates.
/// The loglynx binaries allocate with jemalloc (`loglynx-cli`), whose
/// background thread returns freed pages itself; this then trims only
/// glibc's own, nearly empty, heap.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no
    // preconditions and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

enum Job {
    Drop(Box<dyn Send>),
    Trim,
}

/// A thread that drops what it is sent, in order, and trims the heap when
/// asked. Dropping the `Dropper` (or [`Dropper::finish`]) waits for it.
pub struct Dropper {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Dropper {
    pub fn new() -> Self {
        let (jobs, rx) = channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("loglynx-dropper".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Drop(value) => drop(value),
                        Job::Trim => release_free_memory(),
                    }
                }
            });
        match thread {
            Ok(t) => Dropper {
                jobs: Some(jobs),
                thread: Some(t),
            },
            // No thread: everything is dropped and trimmed in place.
            Err(_) => Dropper {
                jobs: None,
                thread: None,
            },
        }
    }

    /// Drops `value` on the dropper's thread.
    pub fn drop_later<T: Send + 'static>(&self, value: T) {
        self.send(Job::Drop(Box::new(value)));
    }

    /// Returns freed heap pages to the OS once everything sent before is
    /// dropped.
    pub fn trim(&self) {
        self.send(Job::Trim);
    }

    fn send(&self, job: Job) {
        let unsent = match &self.jobs {
            Some(tx) => tx.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        // The thread is gone (or never started): do it here.
        match unsent {
            Some(Job::Drop(value)) => drop(value),
            Some(Job::Trim) => release_free_memory(),
            None => {}
        }
    }

    /// Waits until everything sent is dropped.
    pub fn finish(mut self) {
        self.join();
    }

    fn join(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            // A panic while dropping is the dropped value's bug; it has
            // already been reported on stderr.
            let _ = t.join();
        }
    }
}

impl Default for Dropper {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Dropper {
    fn drop(&mut self) {
        self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn everything_sent_is_dropped_by_finish() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let dropper = Dropper::new();
        for _ in 0..100 {
            dropper.drop_later(Counted(dropped.clone()));
        }
        dropper.trim();
        dropper.finish();
        assert_eq!(dropped.load(Ordering::SeqCst), 100);
    }

    #[test]
    fn dropping_the_dropper_waits_for_its_thread() {
        let dropped = Arc::new(AtomicUsize::new(0));
        {
            let dropper = Dropper::new();
            dropper.drop_later(vec![Counted(dropped.clone()), Counted(dropped.clone())]);
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
    }
}
