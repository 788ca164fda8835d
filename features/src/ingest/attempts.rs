//! Counting each authentication attempt once, whichever lines it left.
//!
//! One failed ssh password can leave up to four lines: sshd's `Invalid user`
//! (opening), PAM's `authentication failure`, sshd's `error: PAM: ...` and
//! `Failed password`, and a `Connection closed by authenticating user`
//! (closing). Hosts write different subsets: some only the PAM line, some
//! only sshd's. Within one connection (host and pid, lines at most
//! [`CONNECTION_IDLE`] apart), every family of lines ([`AttemptLine`]) writes
//! at most one line per attempt, so the connection's attempts are the
//! largest count any family wrote. Lines are counted in input order: a line
//! counts the attempts by which its family's running total exceeds the most
//! any family had written before, so the first line to show an attempt
//! carries it and the later lines of the same attempt count 0.
//!
//! PAM's `N more authentication failures` adds N to its family; successes
//! and lines without a pid are counted on their own line. Lines without a
//! host (an audit log without `node=`) pair with the other host-less lines.
//! Audit records pair like syslog lines: `USER_AUTH` is PAM's record,
//! `USER_LOGIN` the daemon's.

use rustc_hash::FxHashMap;

use crate::event::{AttemptLine, Event, Micros, Outcome};

/// Lines of one sshd connection further apart than this start a new
/// connection (a reused pid). sshd's default login grace time is 2 minutes.
pub const CONNECTION_IDLE: Micros = 10 * 60 * 1_000_000;

/// Families that have running totals, indexed by [`family_index`].
const FAMILIES: usize = 5;

fn family_index(line: AttemptLine) -> Option<usize> {
    match line {
        AttemptLine::Daemon => Some(0),
        AttemptLine::Pam => Some(1),
        AttemptLine::DaemonPam => Some(2),
        AttemptLine::Opening => Some(3),
        AttemptLine::Closing => Some(4),
        AttemptLine::None | AttemptLine::Whole => None,
    }
}

/// What the counter needs of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLineFacts {
    /// Hash of `host.name`; `None` without a host.
    pub host: Option<u64>,
    pub pid: Option<u32>,
    pub t: Micros,
    pub line: AttemptLine,
    /// The outcome of the attempt the line records.
    pub outcome: Outcome,
    pub repeat: u32,
}

impl AttemptLineFacts {
    /// The facts of `ev`, if it records part of an attempt.
    pub fn of(ev: &Event<'_>) -> Option<AttemptLineFacts> {
        let outcome = ev.attempt_outcome()?;
        Some(Self::with_outcome(ev, outcome))
    }

    /// The facts of `ev` if counting it depends on other lines (a failure
    /// of a paired family, with a pid); cheap checks first, as this runs on
    /// every event. [`AttemptCounter::count`] counts every other line alone.
    pub fn to_pair(ev: &Event<'_>) -> Option<AttemptLineFacts> {
        if ev.pid.is_none() || family_index(ev.attempt_line).is_none() {
            return None;
        }
        let outcome = ev.attempt_outcome()?;
        (outcome == Outcome::Failure).then(|| Self::with_outcome(ev, outcome))
    }

    fn with_outcome(ev: &Event<'_>, outcome: Outcome) -> AttemptLineFacts {
        AttemptLineFacts {
            host: ev.host.as_deref().map(crate::aggregate::name_hash),
            pid: ev.pid,
            t: ev.timestamp,
            line: ev.attempt_line,
            outcome,
            repeat: ev.repeat.max(1),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Connection {
    last: Micros,
    counted: u32,
    written: [u32; FAMILIES],
}

/// The running state: one entry per recent connection.
#[derive(Debug, Default)]
pub struct AttemptCounter {
    connections: FxHashMap<(u64, u32), Connection>,
    latest: Micros,
    since_prune: usize,
}

impl AttemptCounter {
    pub fn new() -> Self {
        AttemptCounter::default()
    }

    /// The attempts line `f` counts, given every line before it in input
    /// order.
    pub fn count(&mut self, f: &AttemptLineFacts) -> u32 {
        let (Outcome::Failure, Some(pid), Some(family)) = (f.outcome, f.pid, family_index(f.line)) else {
            return f.repeat;
        };
        let host = f.host.unwrap_or(0);
        self.latest = self.latest.max(f.t);
        self.since_prune += 1;
        if self.since_prune >= 1 << 16 {
            self.prune();
        }
        let fresh = Connection {
            last: f.t,
            counted: 0,
            written: [0; FAMILIES],
        };
        let c = self.connections.entry((host, pid)).or_insert(fresh);
        if f.t.abs_diff(c.last) > CONNECTION_IDLE as u64 {
            *c = fresh;
        }
        c.last = c.last.max(f.t);
        c.written[family] = c.written[family].saturating_add(f.repeat);
        let total = c.counted.max(c.written[family]);
        let n = total - c.counted;
        c.counted = total;
        n
    }

    /// Forgets connections idle for longer than [`CONNECTION_IDLE`] before
    /// the latest line: they can only restart, so results do not change.
    fn prune(&mut self) {
        self.since_prune = 0;
        let horizon = self.latest.saturating_sub(CONNECTION_IDLE);
        self.connections.retain(|_, c| c.last >= horizon);
    }

    /// Connections remembered.
    pub fn len(&self) -> usize {
        self.connections.len()
    }

    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }
}

/// Counts the attempts of `events`, in order, as the pipeline does: for
/// callers that decode lines themselves.
pub fn count_in_order(events: &mut [Event<'_>]) {
    let mut counter = AttemptCounter::new();
    for ev in events {
        if let Some(f) = AttemptLineFacts::of(ev) {
            ev.attempts = counter.count(&f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pid: u32, t: Micros, line: AttemptLine, repeat: u32) -> AttemptLineFacts {
        AttemptLineFacts {
            host: Some(1),
            pid: Some(pid),
            t: t * 1_000_000,
            line,
            outcome: Outcome::Failure,
            repeat,
        }
    }

    fn counts(lines: &[AttemptLineFacts]) -> Vec<u32> {
        let mut c = AttemptCounter::new();
        lines.iter().map(|l| c.count(l)).collect()
    }

    use AttemptLine::*;

    #[test]
    fn pam_and_sshd_lines_of_one_attempt_count_once() {
        assert_eq!(counts(&[line(7, 0, Pam, 1), line(7, 2, Daemon, 1)]), [1, 0]);
    }

    #[test]
    fn three_passwords_in_one_connection_with_pams_summary_count_three() {
        let lines = [
            line(7, 0, Pam, 1),
            line(7, 2, Daemon, 1),
            line(7, 4, Daemon, 1),
            line(7, 6, Daemon, 1),
            line(7, 6, Pam, 2),
        ];
        assert_eq!(counts(&lines), [1, 0, 1, 1, 0]);
    }

    #[test]
    fn pam_only_hosts_count_every_attempt() {
        let lines: Vec<_> = (0..5).map(|i| line(100 + i, i as Micros, Pam, 1)).collect();
        assert_eq!(counts(&lines), [1; 5]);
    }

    #[test]
    fn an_invalid_user_line_alone_is_an_attempt_and_its_password_lines_are_not_more() {
        assert_eq!(counts(&[line(7, 0, Opening, 1)]), [1]);
        let lines = [
            line(7, 0, Opening, 1),
            line(7, 1, Pam, 1),
            line(7, 3, Daemon, 1),
            line(7, 5, Daemon, 1),
            line(7, 6, Closing, 1),
        ];
        assert_eq!(counts(&lines), [1, 0, 0, 1, 0]);
    }

    #[test]
    fn a_closing_line_counts_only_when_nothing_else_did() {
        assert_eq!(counts(&[line(7, 0, Closing, 1)]), [1]);
        assert_eq!(counts(&[line(7, 0, Daemon, 1), line(7, 1, Closing, 1)]), [1, 0]);
    }

    #[test]
    fn a_reused_pid_after_the_idle_time_is_a_new_connection() {
        let later = CONNECTION_IDLE / 1_000_000 + 1;
        assert_eq!(counts(&[line(7, 0, Pam, 1), line(7, later, Daemon, 1)]), [1, 1]);
    }

    #[test]
    fn other_hosts_and_successes_are_counted_alone() {
        let mut other = line(7, 1, Daemon, 1);
        other.host = Some(2);
        let mut success = line(7, 2, Daemon, 1);
        success.outcome = Outcome::Success;
        assert_eq!(counts(&[line(7, 0, Pam, 1), other, success]), [1, 1, 1]);
    }

    #[test]
    fn pruning_does_not_change_the_counts() {
        let mut c = AttemptCounter::new();
        let mut n = 0;
        for i in 0..200_000u32 {
            n += c.count(&line(i % 50_000, Micros::from(i) * 60, Pam, 1));
            n += c.count(&line(i % 50_000, Micros::from(i) * 60 + 1, Daemon, 1));
        }
        assert_eq!(n, 200_000);
        assert!(c.len() <= 50_000);
    }
}
