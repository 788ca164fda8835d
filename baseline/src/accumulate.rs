//! Anomaly evidence that accumulates per entity across windows, and the
//! alert budget that says how much evidence is enough.
//!
//! A window's calibrated score `p` (the share of baseline windows of its
//! kind it exceeds) is worth `-ln(1 - p)` nats of surprise. Per entity, in
//! time order, a CUSUM adds each window's surprise above a drift `k` and
//! takes `k` off for every window in between that adds nothing (quiet or
//! unremarkable), never going below zero: an episode starts when the sum
//! leaves zero and ends when it returns there. A source that is moderately
//! unusual for seven hours is one episode of seven windows whose peak is
//! the sum of their excess; a single odd window is an episode of one.
//!
//! The threshold an episode's peak must pass is not a constant: replaying
//! the baseline, the same episodes are computed, and the threshold is the
//! smallest that leaves at most `alert_budget` episodes per 1,000
//! entity-days of each kind ([`KindCalibration::threshold`]), and never
//! below one window at the model's own decision threshold.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use compact_str::CompactString;
use loglynx_features::aggregate::registry::{self, EntityKind, Tag};
use loglynx_features::event::Micros;
use loglynx_features::output::frames::spool_error;
use loglynx_features::output::OutputError;
use loglynx_features::time::MICROS_PER_DAY;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

/// How anomaly evidence accumulates and how much of it may alert.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Alerts per 1,000 entity-days that replaying the baseline through the
    /// model-driven policy may give: the rate of anomaly alerts the team
    /// accepts (0: the model raises none of its own). The default (0.2) is one alert a day for an organisation
    /// with 5,000 active users, hosts and sources a day, one every four days
    /// for the generator's (about 1,250 a day).
    pub alert_budget: f64,
    /// Surprise (nats) a window must exceed to add evidence, and what each
    /// window that adds nothing takes away: ln 10, a window rarer than 90%
    /// of the baseline windows of its kind.
    pub drift: f64,
    /// An entity active on at least this many days of the baseline is
    /// measured against itself too: its drift is the larger of `drift` and
    /// the surprise of its own baseline window at the same quantile (with
    /// ln 10, the window 90% of its windows stay under). An internet-facing
    /// host is always busier than its peers, and a person who mistypes a
    /// password every week is unusual every week: what counts is being
    /// unusual for the kind and for the entity itself.
    pub self_days: u32,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            alert_budget: DEFAULT_ALERT_BUDGET,
            drift: std::f64::consts::LN_10,
            self_days: 3,
        }
    }
}

/// Default [`EvidenceConfig::alert_budget`].
pub const DEFAULT_ALERT_BUDGET: f64 = 0.2;

/// Default suppression window of alerts: detections of one entity closer
/// than this are one alert, and an episode this close to a rule hit on its
/// entity corroborates it.
pub const DEFAULT_SUPPRESSION: Micros = loglynx_features::time::MICROS_PER_HOUR;

/// A host's evidence corroborates a rule hit only when the hit touches at
/// most this many hosts: a campaign across many hosts says little about any
/// one of them.
pub const CORROBORATING_HOST_LIMIT: usize = 3;

/// Baseline episode peaks kept per kind at least: enough to recompute the
/// threshold for any budget up to this many alerts. A replay whose budget
/// allows more keeps one more than it allows ([`peaks_needed`]).
pub const KEPT_PEAKS: usize = 10_000;

/// Peaks to keep so that `budget` on `entity_days` finds its threshold
/// among them: one more than it allows, at least [`KEPT_PEAKS`].
pub fn peaks_needed(budget: f64, entity_days: u64) -> usize {
    let allowed = budget * entity_days as f64 / 1000.0;
    if allowed.is_finite() && allowed > 0.0 {
        KEPT_PEAKS.max(allowed.floor() as usize + 1)
    } else {
        KEPT_PEAKS
    }
}

/// The strongest `cap` episode peaks offered, and how many were offered.
#[derive(Debug)]
struct TopPeaks {
    peaks: Vec<f64>,
    count: u64,
    cap: usize,
}

impl TopPeaks {
    fn new(cap: usize) -> TopPeaks {
        TopPeaks {
            peaks: Vec::new(),
            count: 0,
            cap: cap.max(1),
        }
    }

    fn push(&mut self, peak: f64) {
        self.count += 1;
        self.peaks.push(peak);
        if self.peaks.len() >= 2 * self.cap {
            self.peaks.select_nth_unstable_by(self.cap - 1, |a, b| b.total_cmp(a));
            self.peaks.truncate(self.cap);
        }
    }
}

/// What becomes of a finished episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    No,
    /// Kept without its windows: what reads it needs its span and peak only.
    Span,
    Whole,
}

impl From<bool> for Keep {
    fn from(whole: bool) -> Keep {
        if whole {
            Keep::Whole
        } else {
            Keep::No
        }
    }
}

impl EvidenceConfig {
    /// A budget and drift that make sense.
    pub fn check(&self) -> Result<(), String> {
        if !(self.alert_budget.is_finite() && self.alert_budget >= 0.0) {
            return Err(format!(
                "alert budget {}: give alerts per 1,000 entity-days, 0 or more",
                self.alert_budget
            ));
        }
        if !(self.drift.is_finite() && self.drift > 0.0) {
            return Err(format!("drift {}: give a positive number of nats", self.drift));
        }
        Ok(())
    }

    /// Scores above this add evidence: `1 - e^-drift`.
    pub fn min_score(&self) -> f64 {
        1.0 - (-self.drift).exp()
    }
}

/// Surprise of a calibrated score against `n` baseline windows: `-ln(1-p)`,
/// at most `ln(n + 1)` (a window beyond every baseline window).
pub fn surprisal(score: f64, n_baseline: usize) -> f64 {
    let floor = 1.0 / (n_baseline as f64 + 1.0);
    -(1.0 - score.clamp(0.0, 1.0)).max(floor).ln()
}

/// One window that adds evidence: its entity (an index the caller owns),
/// start, and surprise in nats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowEvidence {
    pub entity: u32,
    pub start: Micros,
    pub nats: f64,
}

/// Consecutive evidence of one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub entity: u32,
    /// Start of the first and of the last window that added evidence.
    pub first: Micros,
    pub last: Micros,
    /// Largest accumulated evidence (nats above the drift).
    pub peak: f64,
    /// Windows that added evidence, with their surprise.
    pub windows: Vec<(Micros, f64)>,
}

/// The episodes of `windows` (any order; sorted here), for windows of
/// `window` microseconds and the given drift.
pub fn episodes(windows: &mut [WindowEvidence], window: Micros, drift: f64) -> Vec<Episode> {
    episodes_with(windows, window, &|_, _| drift)
}

/// [`episodes`] with a drift per entity and window start.
pub fn episodes_with(
    windows: &mut [WindowEvidence],
    window: Micros,
    drift_of: &dyn Fn(u32, Micros) -> f64,
) -> Vec<Episode> {
    windows.sort_by_key(|w| (w.entity, w.start));
    let mut out = Vec::new();
    scan_episodes(windows, window, drift_of, true, |e| out.push(e.take()));
    out
}

/// Walks the episodes of `windows`, sorted by entity then start, handing
/// each to `done` when it ends, with its windows when `with_windows`. The
/// episode handed over is reused for the next one: take what is kept
/// ([`Episode::take`]).
pub fn scan_episodes(
    windows: &[WindowEvidence],
    window: Micros,
    drift_of: &dyn Fn(u32, Micros) -> f64,
    with_windows: bool,
    mut done: impl FnMut(&mut Episode),
) {
    let window = window.max(1);
    let mut current: Option<Episode> = None;
    let mut sum = 0.0;
    for w in windows {
        let drift = drift_of(w.entity, w.start);
        let excess = w.nats - drift;
        if excess <= 0.0 {
            continue;
        }
        let continues = match &current {
            Some(ep) if ep.entity == w.entity => {
                // Windows in between added nothing.
                let between = ((w.start - ep.last) / window - 1).max(0) as f64;
                sum = (sum - drift * between).max(0.0);
                sum > 0.0
            }
            _ => false,
        };
        if !continues {
            sum = 0.0;
            match current.as_mut() {
                Some(ep) => {
                    done(ep);
                    ep.entity = w.entity;
                    ep.first = w.start;
                    ep.peak = 0.0;
                    ep.windows.clear();
                }
                None => {
                    current = Some(Episode {
                        entity: w.entity,
                        first: w.start,
                        last: w.start,
                        peak: 0.0,
                        windows: Vec::new(),
                    })
                }
            }
        }
        sum += excess;
        let ep = current.as_mut().expect("set above");
        ep.last = w.start;
        ep.peak = ep.peak.max(sum);
        if with_windows {
            ep.windows.push((w.start, w.nats));
        }
    }
    if let Some(ep) = current.as_mut() {
        done(ep);
    }
}

impl Episode {
    /// This episode, leaving its windows behind empty.
    pub fn take(&mut self) -> Episode {
        Episode {
            entity: self.entity,
            first: self.first,
            last: self.last,
            peak: self.peak,
            windows: std::mem::take(&mut self.windows),
        }
    }
}

/// What replaying one kind's baseline gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindCalibration {
    pub entity_kind: EntityKind,
    /// Distinct (entity, day) pairs in the baseline.
    pub entity_days: u64,
    /// Episodes in the baseline.
    pub episodes: u64,
    /// The strongest episode peaks, descending, at most [`KEPT_PEAKS`].
    pub top_peaks: Vec<f64>,
    /// Evidence of one window at the model's own decision threshold: the
    /// smallest threshold there is.
    pub floor: f64,
}

impl KindCalibration {
    /// Calibrates from the baseline's episodes of this kind.
    pub fn new<'e>(
        entity_kind: EntityKind,
        entity_days: u64,
        episodes: impl IntoIterator<Item = &'e Episode>,
        floor: f64,
    ) -> KindCalibration {
        let peaks = episodes.into_iter().map(|e| e.peak).collect();
        KindCalibration::from_peaks(entity_kind, entity_days, peaks, floor)
    }

    /// Calibrates from the peaks of the baseline's replay, in any order.
    pub fn from_peaks(entity_kind: EntityKind, entity_days: u64, peaks: Vec<f64>, floor: f64) -> KindCalibration {
        let count = peaks.len() as u64;
        let top = TopPeaks {
            peaks,
            count,
            cap: KEPT_PEAKS,
        };
        KindCalibration::from_top(entity_kind, entity_days, top, floor)
    }

    fn from_top(entity_kind: EntityKind, entity_days: u64, top: TopPeaks, floor: f64) -> KindCalibration {
        let TopPeaks { mut peaks, count, cap } = top;
        peaks.sort_by(|a, b| b.total_cmp(a));
        peaks.truncate(cap);
        KindCalibration {
            entity_kind,
            entity_days,
            episodes: count,
            top_peaks: peaks,
            floor: floor.max(0.0),
        }
    }

    /// Alerts the budget allows on the baseline (may be fractional).
    pub fn allowed(&self, budget: f64) -> f64 {
        budget * self.entity_days as f64 / 1000.0
    }

    /// Peaks above this alert: the baseline's strongest episode beyond the
    /// allowance, so that replaying the baseline gives no more alerts than
    /// allowed; at least the floor. A budget that allows more episodes than
    /// were kept, when there were more, gets the weakest kept one: fewer
    /// alerts than allowed, never more.
    pub fn threshold(&self, budget: f64) -> f64 {
        let allowed = self.allowed(budget);
        if allowed <= 0.0 {
            // No budget: the model raises no alert of its own.
            return f64::INFINITY;
        }
        let rank = match self.top_peaks.get(allowed.floor() as usize) {
            Some(&peak) => peak,
            None if self.episodes > self.top_peaks.len() as u64 => self.top_peaks.last().copied().unwrap_or(0.0),
            None => 0.0,
        };
        rank.max(self.floor)
    }

    /// Whether an episode peaking at `peak` alerts under `budget`.
    pub fn alerts(&self, peak: f64, budget: f64) -> bool {
        peak > self.threshold(budget)
    }

    /// Adds alerts of another policy judged by the same threshold (the
    /// rarity of new terms, for users), as their peaks in nats.
    pub fn add_peaks(&mut self, peaks: &[f64]) {
        let kept = self.top_peaks.len().max(KEPT_PEAKS);
        self.episodes += peaks.len() as u64;
        self.top_peaks.extend_from_slice(peaks);
        self.top_peaks.sort_by(|a, b| b.total_cmp(a));
        self.top_peaks.truncate(kept);
    }

    /// Baseline episodes at least as strong as `peak` (up to the kept ones).
    pub fn stronger_in_baseline(&self, peak: f64) -> usize {
        self.top_peaks.partition_point(|&p| p >= peak)
    }

    /// Baseline episodes that would alert at `budget`.
    pub fn replay_alerts(&self, budget: f64) -> usize {
        let h = self.threshold(budget);
        self.top_peaks.partition_point(|&p| p > h)
    }
}

/// The alert budget's calibration, per entity kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertCalibration {
    pub config: EvidenceConfig,
    pub kinds: Vec<KindCalibration>,
    /// Per kind, the entities measured against themselves (see
    /// [`EvidenceConfig::self_days`]) and their drift.
    pub self_drift: BTreeMap<EntityKind, BTreeMap<String, f64>>,
    /// The population statistic's counts in the baseline (hosts that many
    /// public sources fail on naming real accounts); `None` without a
    /// history of accounts.
    pub population: Option<crate::population::PopulationCalibration>,
}

impl AlertCalibration {
    pub fn kind(&self, kind: EntityKind) -> Option<&KindCalibration> {
        self.kinds.iter().find(|k| k.entity_kind == kind)
    }

    /// The threshold of a kind at `budget`.
    pub fn threshold(&self, kind: EntityKind, budget: f64) -> Option<f64> {
        self.kind(kind).map(|k| k.threshold(budget))
    }

    /// Per kind: threshold, allowed and replayed alerts at `budget`.
    pub fn describe(&self, budget: f64) -> BTreeMap<String, serde_json::Value> {
        self.kinds
            .iter()
            .map(|k| {
                (
                    k.entity_kind.as_str().to_owned(),
                    serde_json::json!({
                        "entity_days": k.entity_days,
                        "episodes": k.episodes,
                        "threshold_nats": self.threshold(k.entity_kind, budget),
                        "floor_nats": k.floor,
                        "allowed_alerts": k.allowed(budget),
                        "replay_alerts": k.replay_alerts(budget),
                    }),
                )
            })
            .collect()
    }
}

/// Evidence of one window at a model threshold `t` (a calibrated score),
/// above the drift.
pub fn floor_for_threshold(threshold: f64, n_baseline: usize, drift: f64) -> f64 {
    (surprisal(threshold, n_baseline) - drift).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    const H: Micros = 3_600_000_000;

    fn w(entity: u32, hour: i64, nats: f64) -> WindowEvidence {
        WindowEvidence {
            entity,
            start: hour * H,
            nats,
        }
    }

    #[test]
    fn seven_moderate_hours_are_one_episode_stronger_than_one_sharp_window() {
        let k = std::f64::consts::LN_10;
        let mut ws: Vec<WindowEvidence> = (0..7).map(|h| w(1, h, 5.0)).collect();
        ws.push(w(2, 3, 9.0));
        let eps = episodes(&mut ws, H, k);
        assert_eq!(eps.len(), 2);
        let slow = eps.iter().find(|e| e.entity == 1).unwrap();
        assert_eq!(slow.windows.len(), 7);
        assert_relative_eq!(slow.peak, 7.0 * (5.0 - k), epsilon = 1e-9);
        let sharp = eps.iter().find(|e| e.entity == 2).unwrap();
        assert!(slow.peak > sharp.peak);
    }

    #[test]
    fn quiet_windows_wear_evidence_down_and_split_episodes() {
        let k = 2.0;
        // 3 nats of excess, then 1 quiet window (−2), then 3 more: one episode.
        let mut ws = vec![w(1, 0, 5.0), w(1, 2, 5.0)];
        let eps = episodes(&mut ws, H, k);
        assert_eq!(eps.len(), 1);
        assert_relative_eq!(eps[0].peak, 4.0, epsilon = 1e-9);
        // Two quiet windows take the 3 nats away: two episodes.
        let mut ws = vec![w(1, 0, 5.0), w(1, 3, 5.0)];
        assert_eq!(episodes(&mut ws, H, k).len(), 2);
        // Windows below the drift add nothing and start nothing.
        let mut ws = vec![w(1, 0, 1.5), w(1, 1, 1.9)];
        assert!(episodes(&mut ws, H, k).is_empty());
    }

    /// Baseline episodes with these peaks.
    fn with_peaks(peaks: impl IntoIterator<Item = f64>) -> Vec<Episode> {
        peaks
            .into_iter()
            .enumerate()
            .map(|(i, peak)| Episode {
                entity: i as u32,
                first: 0,
                last: 0,
                peak,
                windows: vec![],
            })
            .collect()
    }

    #[test]
    fn the_budget_sets_the_threshold_from_the_baseline_replay() {
        let eps = with_peaks([9.0, 7.0, 5.0, 3.0, 1.0]);
        // 4,000 entity-days: budget 0.5 allows 2 alerts, so the third
        // strongest peak (5) is the threshold and replay gives 2 (fewer
        // episodes than a tail: no extrapolation).
        let cal = KindCalibration::new(EntityKind::SourceIp, 4000, &eps, 0.5);
        assert_relative_eq!(cal.allowed(0.5), 2.0);
        assert_relative_eq!(cal.threshold(0.5), 5.0);
        assert_eq!(cal.replay_alerts(0.5), 2);
        // A larger budget than the baseline has episodes: the floor.
        assert_relative_eq!(cal.threshold(10.0), 0.5);
        // No budget: nothing in the baseline alerts.
        assert_eq!(cal.replay_alerts(0.0), 0);
        assert_eq!(cal.stronger_in_baseline(6.0), 2);
    }

    #[test]
    fn a_fractional_allowance_rounds_down() {
        let eps = with_peaks((1..=100).map(|i| f64::from(i) / 10.0));
        // 1.7 alerts allowed: one may alert, so the second strongest (9.9)
        // is the threshold.
        let cal = KindCalibration::new(EntityKind::SourceIp, 1700, &eps, 0.0);
        assert_relative_eq!(cal.threshold(1.0), 9.9);
        assert_eq!(cal.replay_alerts(1.0), 1);
        // Less than one: nothing in the baseline alerts.
        assert_relative_eq!(cal.threshold(0.5), 10.0);
        assert_eq!(cal.replay_alerts(0.5), 0);
        assert!(cal.threshold(0.0).is_infinite());
    }

    #[test]
    fn surprise_is_capped_by_the_baseline_size() {
        assert_relative_eq!(surprisal(0.9, 1000), std::f64::consts::LN_10, epsilon = 1e-9);
        assert_relative_eq!(surprisal(1.0, 99), 100f64.ln(), epsilon = 1e-9);
        assert_eq!(surprisal(0.0, 10), 0.0);
    }

    #[test]
    fn entity_days_count_pairs_in_any_order() {
        let mut c = EvidenceCollector::default();
        for (entity, hour) in [("a", 0), ("b", 0), ("a", 25), ("a", 1), ("b", 2)] {
            c.add(EntityKind::User, entity, hour * H, 0.5, true);
        }
        // A row that cannot add evidence is no entity-day.
        c.add(EntityKind::User, "c", 0, 0.5, false);
        assert_eq!(c.entity_days().unwrap(), 3);
        c.add(EntityKind::Host, "a", 0, 0.5, true);
        assert_eq!(c.entity_days().unwrap(), 4);
    }

    #[test]
    fn bad_budgets_are_refused() {
        let c = EvidenceConfig {
            alert_budget: -1.0,
            ..Default::default()
        };
        assert!(c.check().is_err());
        assert!(EvidenceConfig::default().check().is_ok());
        assert_relative_eq!(EvidenceConfig::default().min_score(), 0.9, epsilon = 1e-12);
    }
}

/// Partitions of a kind's evidence, by the top bits of its entities' name
/// hash: the end of a run reads one partition at a time.
pub const PARTITIONS: usize = 64;

/// Bytes of records a kind buffers before it writes them to its
/// partitions' temporary files.
pub const SPILL_AT: usize = 32 << 20;

/// One entity kind's windows while they are scored: per row that may add
/// evidence its [`row_key`], per window above the evidence minimum its
/// entity, start and surprise, as records in the entity's partition. Small
/// inputs stay in memory; larger ones go to anonymous temporary files, so
/// memory holds a partition, not the history.
#[derive(Debug)]
struct KindWindows {
    n_baseline: usize,
    floor: f64,
    /// Evidence windows recorded: each names its entity in this order.
    seq: u64,
    parts: Vec<Part>,
    /// Bytes in the parts' buffers, and where they go past it.
    buffered: usize,
    spill_at: usize,
    /// The first write to a partition's file that failed.
    failed: Option<io::Error>,
    /// The entity-days, once counted.
    entity_days: Option<u64>,
    /// Per entity name, the drift the model's baseline recorded.
    named_drift: BTreeMap<String, f64>,
}

/// A partition's records: those written to its file, then its buffer.
#[derive(Debug, Default)]
struct Part {
    file: Option<File>,
    buf: Vec<u8>,
}

const ROW: u8 = 0;
const WINDOW: u8 = 1;

/// A partition read back: its rows' keys, and its evidence windows with
/// entity ids local to it.
#[derive(Debug, Default)]
struct PartData {
    rows: Vec<u64>,
    names: Vec<CompactString>,
    /// Per local entity id, the [`KindWindows::seq`] of its first window.
    first_seq: Vec<u64>,
    windows: Vec<WindowEvidence>,
}

/// FNV-1a of an entity's name.
fn name_hash(entity: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in entity.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Bits of [`row_key`] that hold the day.
const DAY_BITS: u32 = 24;

/// A row's entity (the top 40 bits of its name's hash) and day (the low
/// 24 bits: 45,000 years of days).
fn row_key(entity_hash: u64, start: Micros) -> u64 {
    let day = start.div_euclid(MICROS_PER_DAY) as u64 & ((1 << DAY_BITS) - 1);
    entity_part(entity_hash) | day
}

fn entity_part(hash_or_key: u64) -> u64 {
    hash_or_key >> DAY_BITS << DAY_BITS
}

/// Days alternate between two folds: the drift an entity's windows of one
/// fold are judged with is learnt from its other fold, so a baseline does
/// not learn its own anomalies away when it is replayed.
fn fold(start: Micros) -> usize {
    (start.div_euclid(MICROS_PER_DAY) & 1) as usize
}

/// The rows' counts of one partition: its (entity, day) pairs, and per
/// entity with evidence and day parity, windows scored and days active.
struct Tally {
    entity_days: u64,
    seen: FxHashMap<u64, [(u32, u32); 2]>,
}

/// What one partition gave a calibration, and the drift per entity and
/// fold its episodes are judged with.
struct PartCalibration {
    alone: TopPeaks,
    named: Vec<(String, f64)>,
    cross: FxHashMap<u32, [f64; 2]>,
}

/// Episodes of one kind, each with the order its entity was first named in.
type SeqEpisodes = Vec<(u64, EntityKind, String, Episode)>;

impl KindWindows {
    fn new(partitions: usize, spill_at: usize) -> KindWindows {
        KindWindows {
            n_baseline: 0,
            floor: 0.0,
            seq: 0,
            parts: (0..partitions.max(1)).map(|_| Part::default()).collect(),
            buffered: 0,
            spill_at,
            failed: None,
            entity_days: None,
            named_drift: BTreeMap::new(),
        }
    }

    fn part_of(&self, hash: u64) -> usize {
        // The entity part of the hash, so rows and windows of one key meet.
        ((entity_part(hash) >> DAY_BITS) % self.parts.len() as u64) as usize
    }

    /// A scored row that may add evidence.
    fn add_row(&mut self, hash: u64, window_start: Micros) {
        let p = self.part_of(hash);
        let buf = &mut self.parts[p].buf;
        buf.push(ROW);
        buf.extend_from_slice(&row_key(hash, window_start).to_le_bytes());
        self.wrote(9);
    }

    /// The evidence of a window of `entity` scored above the minimum.
    fn add_evidence(&mut self, hash: u64, entity: &str, window_start: Micros, score: f64) {
        let p = self.part_of(hash);
        let nats = surprisal(score, self.n_baseline);
        // Names longer than a u16 holds are cut: no entity name is that long.
        let name = &entity.as_bytes()[..entity.len().min(u16::MAX as usize)];
        let buf = &mut self.parts[p].buf;
        buf.push(WINDOW);
        buf.extend_from_slice(&self.seq.to_le_bytes());
        buf.extend_from_slice(&window_start.to_le_bytes());
        buf.extend_from_slice(&nats.to_bits().to_le_bytes());
        buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
        buf.extend_from_slice(name);
        self.seq += 1;
        self.wrote(27 + name.len());
    }

    fn wrote(&mut self, bytes: usize) {
        self.entity_days = None;
        self.buffered += bytes;
        if self.buffered >= self.spill_at {
            self.spill();
        }
    }

    /// Moves every buffer to its partition's file.
    fn spill(&mut self) {
        self.buffered = 0;
        for part in &mut self.parts {
            if part.buf.is_empty() {
                continue;
            }
            if self.failed.is_none() {
                let written = (|| -> io::Result<()> {
                    if part.file.is_none() {
                        part.file = Some(tempfile::tempfile()?);
                    }
                    let mut f: &File = part.file.as_ref().expect("opened above");
                    f.seek(SeekFrom::End(0))?;
                    f.write_all(&part.buf)
                })();
                if let Err(e) = written {
                    self.failed = Some(e);
                }
            }
            part.buf.clear();
            part.buf.shrink_to(0);
        }
    }

    fn check(&self) -> Result<(), OutputError> {
        match &self.failed {
            Some(e) => Err(spool_error(io::Error::new(e.kind(), e.to_string()))),
            None => Ok(()),
        }
    }

    /// Partition `p`'s records.
    fn load(&self, p: usize) -> Result<PartData, OutputError> {
        let part = &self.parts[p];
        let mut bytes = Vec::new();
        if let Some(file) = &part.file {
            let mut f: &File = file;
            f.seek(SeekFrom::Start(0)).map_err(spool_error)?;
            f.read_to_end(&mut bytes).map_err(spool_error)?;
        }
        let mut data = PartData::default();
        let mut ids: FxHashMap<CompactString, u32> = FxHashMap::default();
        for chunk in [&bytes[..], &part.buf[..]] {
            data.parse(chunk, &mut ids)
                .map_err(|why| spool_error(io::Error::new(io::ErrorKind::InvalidData, why)))?;
        }
        Ok(data)
    }

    /// Runs `f` on every partition (its index and records), side by side,
    /// in partition order.
    fn each_part<T: Send>(&self, f: impl Fn(usize, PartData) -> T + Sync) -> Result<Vec<T>, OutputError> {
        self.check()?;
        (0..self.parts.len())
            .into_par_iter()
            .map(|p| self.load(p).map(|d| f(p, d)))
            .collect()
    }

    /// Distinct (entity, day) pairs of the rows.
    fn entity_days(&mut self) -> Result<u64, OutputError> {
        if let Some(days) = self.entity_days {
            return Ok(days);
        }
        let days = self.each_part(|_, mut d| d.tally().entity_days)?.into_iter().sum();
        self.entity_days = Some(days);
        Ok(days)
    }

    /// The episodes `keep` keeps, each judged by the drift the model
    /// recorded for its entity, if any.
    fn episodes(
        &self,
        kind: EntityKind,
        window: Micros,
        cfg: &EvidenceConfig,
        keep: &(dyn Fn(EntityKind, &str, &Episode) -> Keep + Sync),
    ) -> Result<SeqEpisodes, OutputError> {
        let parts = self.each_part(|_, mut d| {
            d.sort();
            let drift: FxHashMap<u32, [f64; 2]> = d
                .names
                .iter()
                .enumerate()
                .filter_map(|(id, n)| self.named_drift.get(n.as_str()).map(|&x| (id as u32, [x; 2])))
                .collect();
            let mut out = Vec::new();
            d.scan(&drift, window, cfg, true, |e| {
                let name = &d.names[e.entity as usize];
                d.keep_into(&mut out, kind, name, e, keep(kind, name, e));
            });
            out
        })?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// This kind's calibration as a baseline (see
    /// [`EvidenceCollector::calibrate_keeping`]), and the episodes `keep`
    /// keeps.
    fn calibrate(
        &self,
        kind: EntityKind,
        entity_days: u64,
        window: Micros,
        covered: &HitIndex,
        cfg: &EvidenceConfig,
        keep: &(dyn Fn(&KindCalibration, &str, &Episode) -> Keep + Sync),
    ) -> Result<(KindCalibration, BTreeMap<String, f64>, SeqEpisodes), OutputError> {
        // Twice over the partitions: the peaks of the episodes no hit
        // covers make the threshold, which says which episodes to keep.
        let cap = peaks_needed(cfg.alert_budget, entity_days);
        let mut parts = self.each_part(|_, mut d| {
            let tally = d.tally();
            let (cross, all) = d.own_drifts(&tally, cfg);
            let mut alone = TopPeaks::new(cap);
            d.scan(&cross, window, cfg, false, |e| {
                if !covered.covers(kind, &d.names[e.entity as usize], e.first, e.last + window) {
                    alone.push(e.peak);
                }
            });
            let named = all
                .into_iter()
                .map(|(id, x)| (d.names[id as usize].to_string(), x))
                .collect();
            PartCalibration { alone, named, cross }
        })?;
        let mut alone = TopPeaks::new(cap);
        let mut named = BTreeMap::new();
        for p in &mut parts {
            alone.count += p.alone.count - p.alone.peaks.len() as u64;
            p.alone.peaks.drain(..).for_each(|x| alone.push(x));
            named.extend(std::mem::take(&mut p.named));
        }
        let calibration = KindCalibration::from_top(kind, entity_days, alone, self.floor);
        let episodes = self.each_part(|p, mut d| {
            d.sort();
            let mut out = Vec::new();
            d.scan(&parts[p].cross, window, cfg, true, |e| {
                let name = &d.names[e.entity as usize];
                d.keep_into(&mut out, kind, name, e, keep(&calibration, name, e));
            });
            out
        })?;
        Ok((calibration, named, episodes.into_iter().flatten().collect()))
    }
}

impl PartData {
    fn parse(&mut self, mut bytes: &[u8], ids: &mut FxHashMap<CompactString, u32>) -> Result<(), &'static str> {
        fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], &'static str> {
            if bytes.len() < n {
                return Err("a truncated evidence record");
            }
            let (head, rest) = bytes.split_at(n);
            *bytes = rest;
            Ok(head)
        }
        fn word(bytes: &mut &[u8]) -> Result<u64, &'static str> {
            Ok(u64::from_le_bytes(take(bytes, 8)?.try_into().expect("8 bytes")))
        }
        while let Some((&tag, rest)) = bytes.split_first() {
            bytes = rest;
            match tag {
                ROW => self.rows.push(word(&mut bytes)?),
                WINDOW => {
                    let seq = word(&mut bytes)?;
                    let start = word(&mut bytes)? as i64;
                    let nats = f64::from_bits(word(&mut bytes)?);
                    let len = u16::from_le_bytes(take(&mut bytes, 2)?.try_into().expect("2 bytes"));
                    let name = std::str::from_utf8(take(&mut bytes, len.into())?).map_err(|_| "a name not in UTF-8")?;
                    let next = self.names.len() as u32;
                    let entity = *ids.entry(CompactString::from(name)).or_insert_with(|| {
                        self.names.push(CompactString::from(name));
                        self.first_seq.push(seq);
                        next
                    });
                    self.windows.push(WindowEvidence { entity, start, nats });
                }
                _ => return Err("an unknown evidence record"),
            }
        }
        Ok(())
    }

    /// Counts the rows: distinct (entity, day) pairs, and for entities
    /// with evidence their windows and days per fold.
    fn tally(&mut self) -> Tally {
        self.rows.sort_unstable();
        let wanted: FxHashSet<u64> = self.names.iter().map(|n| entity_part(name_hash(n))).collect();
        let (mut entity_days, mut seen) = (0, FxHashMap::default());
        for run in self.rows.chunk_by(|a, b| entity_part(*a) == entity_part(*b)) {
            let mut counts = [(0u32, 0u32); 2];
            let mut last = None;
            for &key in run {
                let day = key & ((1 << DAY_BITS) - 1);
                let c = &mut counts[(day & 1) as usize];
                c.0 += 1;
                if last != Some(day) {
                    c.1 += 1;
                    entity_days += 1;
                    last = Some(day);
                }
            }
            let entity = entity_part(run[0]);
            if wanted.contains(&entity) {
                seen.insert(entity, counts);
            }
        }
        Tally { entity_days, seen }
    }

    /// Per entity active on at least `self_days` days, its own window at
    /// the drift's quantile (90% for ln 10) in each fold and in both, when
    /// that is more surprising than the drift (else the drift): the drift
    /// each fold's windows are judged with (the other fold's), and the one
    /// learnt from every day. One pass over the windows, sorted by entity.
    fn own_drifts(&mut self, tally: &Tally, cfg: &EvidenceConfig) -> (FxHashMap<u32, [f64; 2]>, FxHashMap<u32, f64>) {
        self.sort();
        let (mut cross, mut all) = (FxHashMap::default(), FxHashMap::default());
        let quantile = |rows: usize, nats: &mut Vec<f64>| -> Option<f64> {
            // Windows not kept are below the drift, so the quantile is
            // among the kept ones only when they are more than the rest.
            if rows == 0 || nats.is_empty() {
                return None;
            }
            let below = rows - nats.len();
            let q = ((rows as f64 * cfg.min_score()).ceil() as usize).min(rows - 1);
            if q < below {
                return None;
            }
            nats.sort_by(f64::total_cmp);
            Some(nats[q - below]).filter(|&m| m > cfg.drift)
        };
        let mut bufs: [Vec<f64>; 3] = Default::default();
        for run in self.windows.chunk_by(|a, b| a.entity == b.entity) {
            let id = run[0].entity;
            let Some(&seen) = tally.seen.get(&entity_part(name_hash(&self.names[id as usize]))) else {
                continue;
            };
            if seen[0].1 + seen[1].1 < cfg.self_days {
                continue;
            }
            for b in &mut bufs {
                b.clear();
            }
            for w in run {
                bufs[fold(w.start)].push(w.nats);
                bufs[2].push(w.nats);
            }
            let [f0, f1, both] = &mut bufs;
            let d0 = quantile(seen[0].0 as usize, f0);
            let d1 = quantile(seen[1].0 as usize, f1);
            if d0.is_some() || d1.is_some() {
                // Fold 0's windows are judged by fold 1's drift, and back.
                cross.insert(id, [d1.unwrap_or(cfg.drift), d0.unwrap_or(cfg.drift)]);
            }
            if let Some(d) = quantile((seen[0].0 + seen[1].0) as usize, both) {
                all.insert(id, d);
            }
        }
        (cross, all)
    }

    /// Sorts the windows by entity, then start, for [`PartData::scan`].
    fn sort(&mut self) {
        self.windows.sort_by_key(|w| (w.entity, w.start));
    }

    /// [`scan_episodes`] of the sorted windows, each judged by its entity's
    /// `drift` per fold, or the configured one.
    fn scan(
        &self,
        drift: &FxHashMap<u32, [f64; 2]>,
        window: Micros,
        cfg: &EvidenceConfig,
        with_windows: bool,
        done: impl FnMut(&mut Episode),
    ) {
        let default = cfg.drift;
        let drift_of = |id: u32, start: Micros| drift.get(&id).map_or(default, |d| d[fold(start)]);
        scan_episodes(&self.windows, window, &drift_of, with_windows, done);
    }

    /// `episode` of `kind`'s entity `name` into `out` as `keep` says.
    fn keep_into(&self, out: &mut SeqEpisodes, kind: EntityKind, name: &str, episode: &mut Episode, keep: Keep) {
        let kept = match keep {
            Keep::No => return,
            Keep::Span => Episode {
                windows: Vec::new(),
                ..episode.take()
            },
            Keep::Whole => episode.take(),
        };
        out.push((self.first_seq[episode.entity as usize], kind, name.to_owned(), kept));
    }
}

/// Episodes of partitions in the order a single pass would give them: by
/// kind, then the order their entities were first named in, then time;
/// each [`Episode::entity`] numbers its entity among those given, per
/// kind, in that order.
fn in_order(mut episodes: SeqEpisodes) -> Vec<(EntityKind, String, Episode)> {
    episodes.sort_by_key(|(seq, kind, _, e)| (*kind, *seq, e.first));
    let mut id = (None, u32::MAX);
    episodes
        .into_iter()
        .map(|(seq, kind, name, mut e)| {
            id = match id {
                (Some((k, s)), n) if k == kind && s == seq => (Some((k, s)), n),
                (Some((k, _)), n) if k == kind => (Some((kind, seq)), n + 1),
                _ => (Some((kind, seq)), 0),
            };
            e.entity = id.1;
            (kind, name, e)
        })
        .collect()
}

/// Collects the windows that add evidence, and the entity-days, as rows
/// are scored; then gives the episodes, and the calibration when the
/// scored rows are the baseline itself.
#[derive(Debug)]
pub struct EvidenceCollector {
    pub config: EvidenceConfig,
    kinds: BTreeMap<EntityKind, KindWindows>,
    /// Partitions and spill size of new kinds.
    partitions: usize,
    spill_at: usize,
}

impl Default for EvidenceCollector {
    fn default() -> Self {
        EvidenceCollector::new(EvidenceConfig::default())
    }
}

impl EvidenceCollector {
    pub fn new(config: EvidenceConfig) -> EvidenceCollector {
        EvidenceCollector::with_partitions(config, PARTITIONS, SPILL_AT)
    }

    /// A collector with `partitions` per kind, each kind writing its
    /// records to files past `spill_at` bytes.
    pub fn with_partitions(config: EvidenceConfig, partitions: usize, spill_at: usize) -> EvidenceCollector {
        EvidenceCollector {
            config,
            kinds: BTreeMap::new(),
            partitions,
            spill_at,
        }
    }

    fn windows_of(&mut self, kind: EntityKind) -> &mut KindWindows {
        let (partitions, spill_at) = (self.partitions, self.spill_at);
        self.kinds
            .entry(kind)
            .or_insert_with(|| KindWindows::new(partitions, spill_at))
    }

    /// Starts a kind scored against `n_baseline` baseline windows.
    pub fn begin_kind(&mut self, kind: EntityKind, n_baseline: usize) {
        self.windows_of(kind).n_baseline = n_baseline;
    }

    /// The model's decision threshold (a calibrated score) of a kind: one
    /// window at it is the least evidence that may alert.
    pub fn set_threshold(&mut self, kind: EntityKind, threshold: f64) {
        let drift = self.config.drift;
        let k = self.windows_of(kind);
        k.floor = floor_for_threshold(threshold, k.n_baseline, drift);
    }

    /// One scored window; `adds` is [`AccessColumns::adds_evidence`] of its
    /// row. Rows that cannot add evidence are left out altogether, also of
    /// the entity-days the budget is counted in.
    pub fn add(&mut self, kind: EntityKind, entity: &str, window_start: Micros, score: f64, adds: bool) {
        if adds {
            let min = self.config.min_score();
            let k = self.windows_of(kind);
            let hash = name_hash(entity);
            k.add_row(hash, window_start);
            if score > min {
                k.add_evidence(hash, entity, window_start, score);
            }
        }
    }

    /// `n` rows of `frame` with their scores, `row(i) = (row, score)`: each
    /// entity-window goes to [`EvidenceCollector::add`] with
    /// [`AccessColumns::adds_evidence`]. Kinds are collected side by side.
    pub fn add_rows(&mut self, frame: &crate::FeatureFrame, n: usize, row: impl Fn(usize) -> (usize, f64) + Sync) {
        /// One chunk's rows per kind: their name hashes and starts, and
        /// whether the score is above the evidence minimum.
        #[derive(Default)]
        struct Chunk {
            present: bool,
            rows: Vec<(usize, u64, Micros, Option<f64>)>,
        }
        const CHUNK: usize = 64 * 1024;
        let access = AccessColumns::of(frame);
        let min = self.config.min_score();
        // Names are hashed in parallel chunks; records are written in row
        // order, so the order entities are named in does not depend on
        // the threads.
        let chunks: Vec<[Chunk; EntityKind::ALL.len()]> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut out: [Chunk; EntityKind::ALL.len()] = Default::default();
                for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                    let (r, score) = row(i);
                    let Some(kind) = frame.kinds[r].entity() else { continue };
                    out[kind as usize].present = true;
                    let Some(start) = frame.window_starts[r].filter(|_| access.adds_evidence(frame, kind, r)) else {
                        continue;
                    };
                    let evidence = (score > min).then_some(score);
                    out[kind as usize]
                        .rows
                        .push((r, name_hash(&frame.ids[r]), start, evidence));
                }
                out
            })
            .collect();
        for kind in EntityKind::ALL {
            if !chunks.iter().any(|c| c[kind as usize].present) {
                continue;
            }
            let k = self.windows_of(kind);
            for c in &chunks {
                for &(r, hash, start, evidence) in &c[kind as usize].rows {
                    k.add_row(hash, start);
                    if let Some(score) = evidence {
                        k.add_evidence(hash, &frame.ids[r], start, score);
                    }
                }
            }
        }
    }

    /// Distinct (entity, day) pairs scored, all kinds.
    pub fn entity_days(&mut self) -> Result<u64, OutputError> {
        let mut days = 0;
        for k in self.kinds.values_mut() {
            days += k.entity_days()?;
        }
        Ok(days)
    }

    /// Measures entities against themselves as the model's baseline
    /// recorded them (`calibration`'s drift per entity).
    pub fn use_own_drift(&mut self, calibration: &AlertCalibration) {
        for (kind, k) in &mut self.kinds {
            k.named_drift = calibration.self_drift.get(kind).cloned().unwrap_or_default();
        }
    }

    /// Every kind's episodes, entities by name.
    pub fn episodes(&self, window: Micros) -> Result<Vec<(EntityKind, String, Episode)>, OutputError> {
        self.episodes_keeping(window, |_, _, _| Keep::Whole)
    }

    /// The episodes `keep` keeps (given the kind, the entity's name and the
    /// episode), in kind order, then the order their entities were first
    /// named in, then time.
    pub fn episodes_keeping(
        &self,
        window: Micros,
        keep: impl Fn(EntityKind, &str, &Episode) -> Keep + Sync,
    ) -> Result<Vec<(EntityKind, String, Episode)>, OutputError> {
        let cfg = self.config;
        let mut out = Vec::new();
        for (&kind, k) in &self.kinds {
            out.extend(k.episodes(kind, window, &cfg, &keep)?);
        }
        Ok(in_order(out))
    }

    /// The calibration of these rows as a baseline: each day's windows are
    /// judged against the entity's own windows of the other days, and the
    /// episodes the policy would alert on alone, those `covered` does not
    /// attach to a rule hit, are what the budget counts. The drift
    /// recorded for scoring later logs is learnt from every day. Also gives
    /// every episode, as [`EvidenceCollector::episodes`] would, for an input
    /// that is its own baseline.
    pub fn calibrate(&mut self, window: Micros, covered: &HitIndex) -> Result<CalibratedEpisodes, OutputError> {
        self.calibrate_keeping(window, covered, |_, _, _| Keep::Whole)
    }

    /// [`EvidenceCollector::calibrate`], giving only the episodes `keep`
    /// keeps, given their kind's calibration and their entity's name.
    pub fn calibrate_keeping(
        &mut self,
        window: Micros,
        covered: &HitIndex,
        keep: impl Fn(&KindCalibration, &str, &Episode) -> Keep + Sync,
    ) -> Result<CalibratedEpisodes, OutputError> {
        let cfg = self.config;
        let mut calibration = AlertCalibration {
            config: cfg,
            ..AlertCalibration::default()
        };
        let mut episodes = Vec::new();
        for (&kind, k) in &mut self.kinds {
            // The entity-days first: they say how many peaks the budget needs.
            let entity_days = k.entity_days()?;
            let (kind_calibration, named, eps) = k.calibrate(kind, entity_days, window, covered, &cfg, &keep)?;
            if !named.is_empty() {
                calibration.self_drift.insert(kind, named);
            }
            calibration.kinds.push(kind_calibration);
            episodes.extend(eps);
        }
        Ok((calibration, in_order(episodes)))
    }
}

/// A calibration and the episodes kept with it, entities by name.
pub type CalibratedEpisodes = (AlertCalibration, Vec<(EntityKind, String, Episode)>);

#[cfg(test)]
mod collector_tests {
    use super::*;
    use approx::assert_relative_eq;

    const H: Micros = 3_600_000_000;

    #[test]
    fn a_collector_replays_its_own_rows_within_the_budget() {
        let mut c = EvidenceCollector::new(EvidenceConfig {
            alert_budget: 1.0,
            ..Default::default()
        });
        c.begin_kind(EntityKind::SourceIp, 100_000);
        c.set_threshold(EntityKind::SourceIp, 0.99);
        // 3,000 entities over 1 day each; 30 of them have one odd window,
        // entity 0 has six.
        for e in 0..3000u32 {
            let name = format!("10.0.{}.{}", e / 250, e % 250);
            let score = if e < 30 { 0.999 - f64::from(e) * 1e-5 } else { 0.5 };
            c.add(EntityKind::SourceIp, &name, 0, score, true);
        }
        for h in 1..6 {
            c.add(EntityKind::SourceIp, "10.0.0.0", h * H, 0.999, true);
        }
        let (cal, replayed) = c.calibrate(H, &HitIndex::default()).unwrap();
        let k = cal.kind(EntityKind::SourceIp).unwrap();
        assert_eq!(k.entity_days, 3000);
        assert_relative_eq!(k.allowed(1.0), 3.0);
        assert!(k.replay_alerts(1.0) <= 3);
        let eps = c.episodes(H).unwrap();
        // The replay gives the same episodes as asking for them.
        assert_eq!(eps.len(), replayed.len());
        let strongest = eps.iter().max_by(|a, b| a.2.peak.total_cmp(&b.2.peak)).unwrap();
        assert_eq!(strongest.1, "10.0.0.0");
        assert_eq!(strongest.2.windows.len(), 6);
        assert!(strongest.2.peak > k.threshold(1.0));
    }

    /// A collector fed seeded random rows of 40 sources, 15 users and 5
    /// hosts over 9 days, some with odd hours.
    fn random_collector(seed: u64, partitions: usize, spill_at: usize) -> EvidenceCollector {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut c = EvidenceCollector::with_partitions(EvidenceConfig::default(), partitions, spill_at);
        let kinds = [
            (EntityKind::SourceIp, 40),
            (EntityKind::User, 15),
            (EntityKind::Host, 5),
        ];
        for (kind, _) in kinds {
            c.begin_kind(kind, 5_000);
            c.set_threshold(kind, 0.99);
        }
        for _ in 0..6_000 {
            let (kind, n) = kinds[rng.gen_range(0..kinds.len())];
            let entity = format!("{}-{}", kind.as_str(), rng.gen_range(0..n));
            let start = rng.gen_range(0..9 * 24) * H;
            let score = if rng.gen_bool(0.15) {
                rng.gen_range(0.9..1.0)
            } else {
                rng.gen_range(0.0..0.9)
            };
            c.add(kind, &entity, start, score, rng.gen_bool(0.95));
        }
        c
    }

    #[test]
    fn partitions_spilled_to_files_give_what_one_partition_in_memory_gives() {
        for seed in 0..4 {
            let one = || random_collector(seed, 1, usize::MAX);
            // A few records per spill: every partition is written many times.
            let many = || random_collector(seed, 7, 200);
            let (mut a, mut b) = (one(), many());
            assert!(b.kinds.values().all(|k| k.parts.iter().any(|p| p.file.is_some())));
            assert_eq!(a.entity_days().unwrap(), b.entity_days().unwrap());
            let hits = HitIndex::default();
            let (cal_a, eps_a) = a.calibrate(H, &hits).unwrap();
            let (cal_b, eps_b) = b.calibrate(H, &hits).unwrap();
            assert_eq!(cal_a, cal_b);
            assert!(
                !cal_a.self_drift.is_empty(),
                "seed {seed}: no entity is measured against itself"
            );
            assert_eq!(eps_a, eps_b);
            assert!(eps_a.len() > 10);
            // Scoring later rows with the drifts this baseline recorded.
            let (mut a, mut b) = (one(), many());
            a.use_own_drift(&cal_a);
            b.use_own_drift(&cal_a);
            let keep = |kind: EntityKind, _: &str, e: &Episode| match kind {
                EntityKind::Host => Keep::No,
                _ if e.peak > 3.0 => Keep::Whole,
                _ => Keep::Span,
            };
            assert_eq!(
                a.episodes_keeping(H, keep).unwrap(),
                b.episodes_keeping(H, keep).unwrap()
            );
        }
    }

    #[test]
    fn a_budget_beyond_the_kept_peaks_never_allows_more_alerts_than_it_says() {
        // 12,000 baseline episodes over 40M entity-days: a budget of 0.5
        // allows 20,000, more than the 10,000 peaks kept. It used to fall
        // to the floor, so every episode above it alerted.
        let peaks: Vec<f64> = (0..12_000).map(|i| 50.0 - f64::from(i) / 1000.0).collect();
        let cal = KindCalibration::from_peaks(EntityKind::SourceIp, 40_000_000, peaks, 0.5);
        assert_eq!(cal.top_peaks.len(), KEPT_PEAKS);
        assert_relative_eq!(cal.threshold(0.5), *cal.top_peaks.last().unwrap());
        assert!(cal.threshold(0.5) > 0.5);
        // Every episode was kept: then the floor is right.
        let every: Vec<f64> = (0..5_000).map(|i| 50.0 - f64::from(i) / 1000.0).collect();
        let cal = KindCalibration::from_peaks(EntityKind::SourceIp, 40_000_000, every, 0.5);
        assert_relative_eq!(cal.threshold(0.5), 0.5);
    }

    #[test]
    fn a_replay_keeps_as_many_peaks_as_its_budget_allows_alerts() {
        // 30,000 sources with one odd hour each: a budget of 500 per 1,000
        // entity-days allows 15,000 alerts.
        let mut c = EvidenceCollector::with_partitions(
            EvidenceConfig {
                alert_budget: 500.0,
                ..Default::default()
            },
            4,
            1 << 16,
        );
        c.begin_kind(EntityKind::SourceIp, 1_000_000);
        c.set_threshold(EntityKind::SourceIp, 0.95);
        for e in 0..30_000u32 {
            let score = 0.999 - f64::from(e) * 1e-8;
            c.add(EntityKind::SourceIp, &format!("s{e}"), 0, score, true);
        }
        let (cal, eps) = c
            .calibrate_keeping(H, &HitIndex::default(), |k, _, e| k.alerts(e.peak, 500.0).into())
            .unwrap();
        let k = cal.kind(EntityKind::SourceIp).unwrap();
        assert_eq!(k.top_peaks.len(), 15_001);
        assert_eq!(k.replay_alerts(500.0), 15_000);
        assert_eq!(eps.len(), 15_000);
    }

    #[test]
    fn the_peaks_kept_while_scanning_calibrate_as_every_peak_does() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // Enough for several cuts, with ties.
        let peaks: Vec<f64> = (0..5 * KEPT_PEAKS + 17)
            .map(|_| f64::from(rng.gen_range(0..20_000u32)) / 100.0)
            .collect();
        let mut top = TopPeaks::new(KEPT_PEAKS);
        for &p in &peaks {
            top.push(p);
        }
        assert!(top.peaks.len() < 2 * KEPT_PEAKS);
        let scanned = KindCalibration::from_top(EntityKind::SourceIp, 9_000, top, 0.3);
        let every = KindCalibration::from_peaks(EntityKind::SourceIp, 9_000, peaks, 0.3);
        assert_eq!(scanned, every);
        assert_eq!(scanned.episodes, 5 * KEPT_PEAKS as u64 + 17);
    }

    #[test]
    fn episodes_are_kept_whole_as_spans_or_not_at_all_as_asked() {
        let mut c = EvidenceCollector::new(EvidenceConfig::default());
        c.begin_kind(EntityKind::SourceIp, 100_000);
        c.begin_kind(EntityKind::Host, 100_000);
        // Three sources with one, two and three odd hours, two hosts.
        for (e, hours) in [("a", 1), ("b", 2), ("c", 3)] {
            for h in 0..hours {
                c.add(EntityKind::SourceIp, e, h * H, 0.999, true);
            }
        }
        c.add(EntityKind::Host, "h1", 0, 0.999, true);
        c.add(EntityKind::Host, "h2", 5 * H, 0.9999, true);
        let every = c.episodes(H).unwrap();
        assert_eq!(every.len(), 5);
        let kept = c
            .episodes_keeping(H, |kind, name, e| match (kind, name) {
                (EntityKind::Host, "h1") => Keep::No,
                (EntityKind::Host, _) => Keep::Whole,
                _ if e.windows.len() >= 2 => Keep::Whole,
                _ => Keep::Span,
            })
            .unwrap();
        let expected: Vec<_> = every
            .iter()
            .filter(|(_, name, _)| name != "h1")
            .map(|(kind, name, e)| {
                let mut e = e.clone();
                if *kind == EntityKind::SourceIp && e.windows.len() < 2 {
                    e.windows.clear();
                }
                (*kind, name.clone(), e)
            })
            .collect();
        // Entities are numbered among the episodes given.
        let unnumbered = |eps: &[(EntityKind, String, Episode)]| -> Vec<_> {
            eps.iter()
                .map(|(k, n, e)| (*k, n.clone(), e.first, e.last, e.peak, e.windows.clone()))
                .collect()
        };
        assert_eq!(unnumbered(&kept), unnumbered(&expected));
        let host = kept.iter().find(|(k, _, _)| *k == EntityKind::Host).unwrap();
        assert_eq!((host.1.as_str(), host.2.entity), ("h2", 0));
        assert!(kept
            .iter()
            .any(|(_, n, e)| n == "a" && e.windows.is_empty() && e.peak > 0.0));
    }
}

/// The calibration of a baseline on its own rows' scores and rule hits,
/// one entity kind at a time ([`BaselineCalibrator::kind`], in the task
/// that fitted the kind, with its rows' [`crate::fit::RowVerdict`]s), then
/// put together ([`BaselineCalibrator::finish`]). The user kind's threshold
/// also judges the rarity of new terms plus the model's evidence around
/// them, so the baseline's new terms replayed (`rarity_replay`, see
/// `loglynx_rules::Novelty::baseline_terms`) count in its budget as the
/// policy would judge them: one user's new terms within the suppression
/// gap together, with the strongest episode of their user or source around
/// them, and left out where another rule's hit names their user or source.
pub struct BaselineCalibrator<'a> {
    config: EvidenceConfig,
    covered: &'a HitIndex,
    rarity_replay: &'a [loglynx_rules::ReplayedTerms],
    /// The users and sources of the replayed logins: only their episodes
    /// are kept.
    replayed: FxHashSet<(EntityKind, &'a str)>,
    window: Micros,
}

/// One kind's part of a baseline's calibration.
pub struct KindReplay {
    calibration: AlertCalibration,
    episodes: Vec<(EntityKind, String, Episode)>,
}

impl<'a> BaselineCalibrator<'a> {
    /// `window` is the frame's window length.
    pub fn new(
        config: EvidenceConfig,
        covered: &'a HitIndex,
        rarity_replay: &'a [loglynx_rules::ReplayedTerms],
        window: Micros,
    ) -> BaselineCalibrator<'a> {
        let replayed = rarity_replay
            .iter()
            .flat_map(|r| {
                [
                    r.user.as_deref().map(|u| (EntityKind::User, u)),
                    r.source.as_deref().map(|s| (EntityKind::SourceIp, s)),
                ]
            })
            .flatten()
            .collect();
        BaselineCalibrator {
            config,
            covered,
            rarity_replay,
            replayed,
            window,
        }
    }

    /// The calibration of one kind: `set` fitted on its rows, `verdicts`
    /// their own scores in row order.
    pub fn kind(
        &self,
        set: &loglynx_models::ModelSet,
        frame: &crate::FeatureFrame,
        verdicts: &[crate::fit::RowVerdict],
    ) -> Result<KindReplay, OutputError> {
        let mut c = self.collector([set]);
        c.add_rows(frame, verdicts.len(), |i| (verdicts[i].row, verdicts[i].score));
        self.replay(c)
    }

    /// An empty collector for the baseline rows of `sets`, to be filled as
    /// they are scored and handed to [`BaselineCalibrator::replay`].
    pub fn collector<'s>(&self, sets: impl IntoIterator<Item = &'s loglynx_models::ModelSet>) -> EvidenceCollector {
        let mut c = EvidenceCollector::new(self.config);
        for set in sets {
            if let Some(kind) = EntityKind::parse(&set.spec().entity_kind) {
                c.begin_kind(kind, set.n_train_rows());
                c.set_threshold(kind, set.threshold());
            }
        }
        c
    }

    /// The calibration part of the kinds `c` collected.
    pub fn replay(&self, mut c: EvidenceCollector) -> Result<KindReplay, OutputError> {
        let (calibration, episodes) = c.calibrate_keeping(self.window, self.covered, |k, name, _| {
            // What finishes the calibration reads of them.
            if self.replayed.contains(&(k.entity_kind, name)) {
                Keep::Span
            } else {
                Keep::No
            }
        })?;
        Ok(KindReplay { calibration, episodes })
    }

    /// The baseline's calibration from its kinds' parts.
    pub fn finish(&self, parts: Vec<KindReplay>) -> AlertCalibration {
        let mut calibration = AlertCalibration {
            config: self.config,
            ..AlertCalibration::default()
        };
        let mut episodes = Vec::new();
        for part in parts {
            calibration.kinds.extend(part.calibration.kinds);
            calibration.self_drift.extend(part.calibration.self_drift);
            episodes.extend(part.episodes);
        }
        calibration.kinds.sort_by_key(|k| k.entity_kind);
        let (window, rarity_replay) = (self.window, self.rarity_replay);
        // Per entity, its episodes' (first, end, peak).
        type Spans = Vec<(Micros, Micros, f64)>;
        let mut spans: FxHashMap<(EntityKind, &str), Spans> = FxHashMap::default();
        for (kind, name, e) in &episodes {
            spans
                .entry((*kind, name.as_str()))
                .or_default()
                .push((e.first, e.last + window, e.peak));
        }
        // Each replayed login's model evidence: the strongest episode of its
        // user or source around it; `None` where a rule's hit names them.
        let model: Vec<Option<f64>> = rarity_replay
            .iter()
            .map(|r| {
                let named = [
                    (EntityKind::User, r.user.as_deref()),
                    (EntityKind::SourceIp, r.source.as_deref()),
                ];
                let named = named.iter().filter_map(|&(k, n)| n.map(|n| (k, n)));
                if named.clone().any(|(k, n)| self.covered.covers(k, n, r.at, r.at)) {
                    return None;
                }
                Some(
                    named
                        .flat_map(|key| spans.get(&key).into_iter().flatten())
                        .filter(|&&(first, last, _)| first <= r.at && last >= r.at)
                        .map(|&(_, _, peak)| peak)
                        .fold(0.0, f64::max),
                )
            })
            .collect();
        // One peak per session, as the policy joins one user's new terms.
        let peaks: Vec<f64> = loglynx_rules::ReplayedTerms::sessions(rarity_replay, self.covered.gap)
            .into_iter()
            .filter_map(|session| {
                let kept: Vec<usize> = session.into_iter().filter(|&i| model[i].is_some()).collect();
                let model = kept.iter().filter_map(|&i| model[i]).reduce(f64::max)?;
                let terms = kept.iter().flat_map(|&i| rarity_replay[i].terms.iter().copied());
                Some(loglynx_rules::Novelty::combined(terms) + model)
            })
            .collect();
        if let Some(users) = calibration.kinds.iter_mut().find(|k| k.entity_kind == EntityKind::User) {
            users.add_peaks(&peaks);
        }
        calibration
    }
}

/// The columns that say whether an account got in (successes, sessions).
#[derive(Debug, Clone)]
pub struct AccessColumns(Vec<usize>);

impl AccessColumns {
    /// The names of the columns to keep for [`AccessColumns::of`].
    pub fn names() -> Vec<&'static str> {
        registry::tagged(Tag::Access).map(|f| f.name).collect()
    }

    pub fn of(frame: &crate::FeatureFrame) -> AccessColumns {
        AccessColumns(Self::names().into_iter().filter_map(|c| frame.column(c)).collect())
    }

    /// Whether row `r` of `frame` can add evidence: a user window counts
    /// only when the account got in (a success or a session); names that
    /// never did are attempts, and their evidence is their sources'.
    /// Windows of sources and hosts always count.
    pub fn adds_evidence(&self, frame: &crate::FeatureFrame, kind: EntityKind, r: usize) -> bool {
        kind != EntityKind::User || self.0.iter().any(|&c| frame.columns[c][r] > 0.0)
    }
}

/// The sources and users rule hits name, and when: an evidence episode of
/// one of them near a hit corroborates the hit instead of alerting alone.
/// Hosts are left out: a host's episode may be a population alert of its
/// own whatever rule hits name the host.
#[derive(Debug, Default)]
pub struct HitIndex {
    /// Per entity kind named (users, sources), each name's hit spans.
    spans: [FxHashMap<String, Vec<(Micros, Micros)>>; 2],
    gap: Micros,
}

impl HitIndex {
    /// `gap`: how far apart in time a hit and an episode may be (the
    /// suppression window).
    pub fn new(hits: &[loglynx_rules::RuleHit], gap: Micros) -> HitIndex {
        let mut spans: [FxHashMap<String, Vec<(Micros, Micros)>>; 2] = Default::default();
        for h in hits {
            let named = h
                .sources
                .iter()
                .map(|s| (EntityKind::SourceIp, s))
                .chain(h.users.iter().map(|u| (EntityKind::User, u)));
            for (kind, entity) in named {
                if let Some(i) = Self::slot(kind) {
                    spans[i].entry(entity.clone()).or_default().push((h.first, h.last));
                }
            }
        }
        HitIndex { spans, gap }
    }

    fn slot(kind: EntityKind) -> Option<usize> {
        match kind {
            EntityKind::User => Some(0),
            EntityKind::SourceIp => Some(1),
            EntityKind::Host => None,
        }
    }

    /// Whether a hit names `entity` within the gap of `[first, last]`.
    pub fn covers(&self, kind: EntityKind, entity: &str, first: Micros, last: Micros) -> bool {
        Self::slot(kind)
            .and_then(|i| self.spans[i].get(entity))
            .is_some_and(|v| v.iter().any(|&(a, b)| first <= b + self.gap && last + self.gap >= a))
    }
}
