//! Population evidence of a host: how many public sources fail there within
//! one window naming the organisation's real accounts.
//!
//! Credential stuffing spreads a leaked list over many addresses, each
//! trying a name or two, so no source crosses a per-source threshold; but
//! together they try the names of people who really log in, which the
//! internet's background guessing (root, admin, test) does not. Per host
//! and window, the statistic is the number of distinct public sources that
//! failed there naming an account the baseline saw log in, leaving out the
//! names that public sources which never got in guessed in the baseline
//! (the internet's dictionary). Replaying the baseline, each window is
//! judged without its own day's guesses; those counts are the peaks the
//! alert budget sets the threshold on, per host-day.

use std::collections::BTreeSet;

use loglynx_features::aggregate::enrich::IpScope;
use loglynx_features::aggregate::registry::EntityKind;
use loglynx_features::event::Micros;
use loglynx_features::output::compact::{CompactEvent, CompactLog, Sym};
use loglynx_features::output::ordered::FrameNames;
use loglynx_features::time::MICROS_PER_DAY;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::accumulate::KindCalibration;

/// One source is no population: the threshold is at least this many.
pub const POPULATION_FLOOR: f64 = 1.0;

/// The population statistic's calibration on a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationCalibration {
    /// The baseline's host-windows with a count, as the peaks of a host
    /// calibration (entity-days: host-days).
    pub windows: KindCalibration,
    /// Names public sources that never logged in tried in the baseline.
    pub guessed: BTreeSet<String>,
}

impl PopulationCalibration {
    /// Calibrates from the baseline's replayed counts over `host_days`.
    pub fn new(counts: &[u32], host_days: u64, guessed: BTreeSet<String>) -> PopulationCalibration {
        let peaks = counts.iter().map(|&c| f64::from(c)).collect();
        PopulationCalibration {
            windows: KindCalibration::from_peaks(EntityKind::Host, host_days, peaks, POPULATION_FLOOR),
            guessed,
        }
    }
}

/// One host-window's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulationWindow {
    pub host: String,
    pub start: Micros,
    /// Distinct public sources that failed there naming a counted account.
    pub sources: u32,
}

fn public_failure(e: &CompactEvent) -> bool {
    e.source_scope == Some(IpScope::Public) && e.failed_attempts() > 0 && !e.user.is_none() && !e.host.is_none()
}

/// Whether [`scored_windows`] may count `e` (names in `strings`): a public
/// source's failure naming one of `accounts` not in `guessed`. The events
/// it accepts give the same windows as the whole log.
pub fn counts_toward(
    e: &CompactEvent,
    strings: &FrameNames<'_>,
    accounts: &BTreeSet<String>,
    guessed: &BTreeSet<String>,
) -> bool {
    public_failure(e) && {
        let u = strings.str(e.user);
        accounts.contains(u) && !guessed.contains(u)
    }
}

/// Per user name, the days on which a public source that never logged in
/// (anywhere in `log`) failed with it.
fn guesses(log: &CompactLog) -> FxHashMap<Sym, BTreeSet<i64>> {
    let got_in: FxHashSet<Sym> = log
        .events
        .iter()
        .filter(|e| e.logged_in() && !e.source.is_none())
        .map(|e| e.source)
        .collect();
    let mut out: FxHashMap<Sym, BTreeSet<i64>> = FxHashMap::default();
    for e in log
        .events
        .iter()
        .filter(|e| public_failure(e) && !got_in.contains(&e.source))
    {
        out.entry(e.user)
            .or_default()
            .insert(e.timestamp.div_euclid(MICROS_PER_DAY));
    }
    out
}

/// Per host and window of `window`, the distinct public sources that failed
/// there naming a user for which `counts(user, day)`; windows without one
/// are left out. Sorted by host name and start.
fn windows(log: &CompactLog, window: Micros, mut counts: impl FnMut(Sym, i64) -> bool) -> Vec<PopulationWindow> {
    let mut seen: FxHashSet<(Sym, i64, Sym)> = FxHashSet::default();
    let mut per: FxHashMap<(Sym, i64), u32> = FxHashMap::default();
    for e in log.events.iter().filter(|e| public_failure(e)) {
        if !counts(e.user, e.timestamp.div_euclid(MICROS_PER_DAY)) {
            continue;
        }
        let w = e.timestamp.div_euclid(window.max(1));
        if seen.insert((e.host, w, e.source)) {
            *per.entry((e.host, w)).or_default() += 1;
        }
    }
    let mut out: Vec<PopulationWindow> = per
        .into_iter()
        .map(|((host, w), sources)| PopulationWindow {
            host: log.strings.str(host).to_owned(),
            start: w * window.max(1),
            sources,
        })
        .collect();
    out.sort_by(|a, b| (&a.host, a.start).cmp(&(&b.host, b.start)));
    out
}

/// Whether each name is one of `accounts`, looked up once per name.
fn account_of<'a>(log: &'a CompactLog, accounts: &'a BTreeSet<String>) -> impl FnMut(Sym) -> bool + 'a {
    let mut known: FxHashMap<Sym, bool> = FxHashMap::default();
    move |u| *known.entry(u).or_insert_with(|| accounts.contains(log.strings.str(u)))
}

/// Whether [`baseline_counts`] reads `e` (names in `strings`): a login
/// from a source, or a public source's failure naming one of `accounts`.
/// On the events it accepts it counts what it counts on the whole log, and
/// the names it returns are the guessed ones among `accounts`, the only
/// ones [`scored_windows`] looks up.
pub fn baseline_reads(e: &CompactEvent, strings: &FrameNames<'_>, accounts: &BTreeSet<String>) -> bool {
    (e.logged_in() && e.source.is_some()) || (public_failure(e) && accounts.contains(strings.str(e.user)))
}

/// The baseline replayed: the count of each of its host-windows, a name
/// counted when it is one of `accounts` and public sources that never got
/// in guessed it on no other day; and every name they guessed.
pub fn baseline_counts(log: &CompactLog, window: Micros, accounts: &BTreeSet<String>) -> (Vec<u32>, BTreeSet<String>) {
    let guessed = guesses(log);
    let mut account = account_of(log, accounts);
    let counts = windows(log, window, |u, day| {
        account(u) && guessed.get(&u).is_none_or(|days| days.iter().all(|&d| d == day))
    })
    .into_iter()
    .map(|w| w.sources)
    .collect();
    let names = guessed.keys().map(|&u| log.strings.str(u).to_owned()).collect();
    (counts, names)
}

/// The host-windows of a scored `log`: a name counted when it is one of
/// `accounts` and not one the baseline's public sources `guessed`.
pub fn scored_windows(
    log: &CompactLog,
    window: Micros,
    accounts: &BTreeSet<String>,
    guessed: &BTreeSet<String>,
) -> Vec<PopulationWindow> {
    let mut account = account_of(log, accounts);
    let mut fresh: FxHashMap<Sym, bool> = FxHashMap::default();
    windows(log, window, |u, _| {
        account(u) && *fresh.entry(u).or_insert_with(|| !guessed.contains(log.strings.str(u)))
    })
}

/// Windows of one host closer than `gap`, as `(host, first start, last
/// end)`, for windows of `window` whose count passes `threshold`.
pub fn spans_above(
    windows: &[PopulationWindow],
    window: Micros,
    threshold: f64,
    gap: Micros,
) -> Vec<(String, Micros, Micros)> {
    let mut out: Vec<(String, Micros, Micros)> = Vec::new();
    for w in windows.iter().filter(|w| f64::from(w.sources) > threshold) {
        match out.last_mut() {
            Some((host, _, end)) if *host == w.host && w.start <= *end + gap => *end = w.start + window,
            _ => out.push((w.host.clone(), w.start, w.start + window)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_features::connectors::syslog::{decode_line, YearResolver};
    use loglynx_features::ingest::attempts::count_in_order;
    use loglynx_features::output::compact::KeepEvents;

    const H: Micros = 3_600_000_000;

    fn log(lines: &str) -> CompactLog {
        let years = YearResolver::fixed(2024);
        let mut events: Vec<_> = lines
            .lines()
            .enumerate()
            .map(|(n, l)| decode_line(l.trim(), 0, n as u64 + 1, &years).expect(l))
            .collect();
        count_in_order(&mut events);
        CompactLog::from_events(&events, KeepEvents::all())
    }

    fn accounts() -> BTreeSet<String> {
        ["alice", "bob", "carol", "root"].map(String::from).into()
    }

    #[test]
    fn counts_public_sources_naming_real_accounts_the_internet_does_not_guess() {
        // Day 1: scanners guess root and admin; alice mistypes at home then
        // gets in. Day 2: the same for root; four addresses try alice, bob
        // and carol once each; an office typo does not count.
        let baseline = log(
            "Mar  1 10:00:01 web-01 sshd[1]: Failed password for root from 185.220.100.1 port 1 ssh2
             Mar  1 10:00:02 web-01 sshd[2]: Failed password for invalid user admin from 185.220.100.2 port 2 ssh2
             Mar  1 10:10:00 web-01 sshd[3]: Failed password for alice from 81.2.69.5 port 3 ssh2
             Mar  1 10:10:10 web-01 sshd[3]: Accepted password for alice from 81.2.69.5 port 3 ssh2
             Mar  2 11:00:01 web-01 sshd[4]: Failed password for root from 185.220.100.3 port 4 ssh2
             Mar  2 11:05:00 web-01 sshd[5]: Failed password for alice from 45.33.32.10 port 5 ssh2
             Mar  2 11:15:00 web-01 sshd[6]: Failed password for bob from 45.33.32.11 port 6 ssh2
             Mar  2 11:25:00 web-01 sshd[7]: Failed password for carol from 45.33.32.12 port 7 ssh2
             Mar  2 11:35:00 web-01 sshd[8]: Failed password for bob from 45.33.32.13 port 8 ssh2
             Mar  2 11:40:00 web-01 sshd[9]: Failed password for bob from 10.0.0.7 port 9 ssh2",
        );
        let (mut counts, guessed) = baseline_counts(&baseline, H, &accounts());
        counts.sort_unstable();
        // Root is guessed on both days, so on either it was guessed on the
        // other. alice, bob and carol were guessed on day 2 only (by
        // sources that never got in): judged without day 2, its four
        // sources count; alice's typo at home on day 1 does not, as she
        // was guessed on another day.
        assert_eq!(counts, vec![4]);
        let names: Vec<&str> = guessed.iter().map(String::as_str).collect();
        assert_eq!(names, ["admin", "alice", "bob", "carol", "root"]);
        // Scored with the baseline's guesses, those names no longer count;
        // a name nobody guessed does.
        let attack = log(
            "Mar  5 01:00:00 web-01 sshd[1]: Failed password for dave from 45.33.32.20 port 1 ssh2
             Mar  5 01:10:00 web-01 sshd[2]: Failed password for dave from 45.33.32.21 port 2 ssh2
             Mar  5 01:20:00 web-01 sshd[3]: Failed password for root from 45.33.32.22 port 3 ssh2
             Mar  5 02:30:00 web-01 sshd[4]: Failed password for dave from 45.33.32.23 port 4 ssh2",
        );
        let mut known = accounts();
        known.insert("dave".into());
        let scored = scored_windows(&attack, H, &known, &guessed);
        assert_eq!(scored.iter().map(|w| w.sources).collect::<Vec<_>>(), vec![2, 1]);
        // Above one source per window, within an hour of each other: one span.
        assert_eq!(spans_above(&scored, H, 1.0, H).len(), 1);
        assert_eq!(
            spans_above(&scored, H, 0.0, H)[0].2 - spans_above(&scored, H, 0.0, H)[0].1,
            2 * H
        );
        assert!(spans_above(&scored, H, 2.0, H).is_empty());
    }

    #[test]
    fn the_threshold_follows_the_budget_over_host_days() {
        let c = PopulationCalibration::new(&[1, 3, 2, 1], 5000, BTreeSet::new());
        assert_eq!(c.windows.top_peaks, vec![3.0, 2.0, 1.0, 1.0]);
        // 0.2 per 1,000 host-days of 5,000: one alert allowed, the strongest
        // replayed window; none allowed: every count above the strongest.
        assert_eq!(c.windows.threshold(0.2), 2.0);
        assert_eq!(c.windows.threshold(0.1), 3.0);
        // At least the floor: one source is no population.
        assert_eq!(
            PopulationCalibration::new(&[], 5000, BTreeSet::new())
                .windows
                .threshold(0.2),
            1.0
        );
    }
}
