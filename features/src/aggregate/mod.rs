//! Per-entity, per-window aggregation of events into the features of
//! [`crate::aggregate::registry::FEATURES`].
//!
//! An [`Aggregator`] folds events one at a time ([`Aggregator::add`]) or a
//! batch at a time: blocks of input are reduced to [`FactBatch`]es in
//! parallel, and [`Aggregator::add_batches`] folds them into state split into
//! shards by entity, one thread per shard, each shard seeing its events in
//! input order. The result does not depend on the number of threads. State
//! is bounded by the number of distinct entity-windows and the distinct
//! names each holds, not by events. Distinct sets hold 64-bit hashes of
//! names (FxHash, deterministic). Novelty (a pair of names not seen before)
//! is found when rows are made, from each entity's windows in time order.

mod close;
pub mod enrich;
pub mod registry;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{Offset, TimeZone, Timelike};
use compact_str::CompactString;
use hashbrown::HashTable;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;

use crate::mem::release::release_free_memory;
use crate::mem::release::Dropper;
use crate::mem::slab::Slab;
use crate::mem::smallset::{Counts, Distinct, LastSeen};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::aggregate::enrich::IpScope;
use crate::aggregate::registry::{EntityKind, FeatureId, FEATURES, N_FEATURES};
use crate::event::{is_present, Action, AttemptLine, Event, FileId, Micros, Outcome};
use crate::time::{MICROS_PER_MINUTE, MICROS_PER_SECOND};

/// Business hours: events outside them count toward `off_hours_share`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// First business hour of the day, 0–23 (local time).
    pub start_hour: u32,
    /// Hour the business day ends, 1–24 (exclusive).
    pub end_hour: u32,
    /// Business days, ISO numbering: 1 = Monday … 7 = Sunday.
    pub days: Vec<u32>,
    /// IANA time zone of the hours above, e.g. `Europe/Berlin`.
    pub time_zone: String,
}

impl Default for BusinessHours {
    fn default() -> Self {
        BusinessHours {
            start_hour: 8,
            end_hour: 18,
            days: vec![1, 2, 3, 4, 5],
            time_zone: "UTC".into(),
        }
    }
}

/// Feature computation settings, recorded with every model trained on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// Window length in seconds (fixed, aligned to the Unix epoch).
    pub window_secs: u64,
    /// Business hours for `off_hours_share`.
    pub business_hours: BusinessHours,
    /// Novelty features (`new_*`) count nothing in windows that start less
    /// than this many seconds after the start of the data: everything is new
    /// before there is a history to compare with.
    #[serde(default = "default_novelty_warmup")]
    pub novelty_warmup_secs: u64,
    /// How long an entity's partners are remembered for the novelty
    /// features: a partner last seen with the entity more than this many
    /// seconds before a window counts as new again in it. Bounds the memory
    /// of a long input by the partners of this period; 0 remembers for the
    /// whole input.
    #[serde(default = "default_novelty_horizon")]
    pub novelty_horizon_secs: u64,
}

fn default_novelty_warmup() -> u64 {
    86_400
}

/// Thirty days: a monthly habit is remembered, last quarter's address is
/// new again.
pub const DEFAULT_NOVELTY_HORIZON_SECS: u64 = 30 * 86_400;

fn default_novelty_horizon() -> u64 {
    DEFAULT_NOVELTY_HORIZON_SECS
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            window_secs: 3600,
            business_hours: BusinessHours::default(),
            novelty_warmup_secs: default_novelty_warmup(),
            novelty_horizon_secs: default_novelty_horizon(),
        }
    }
}

/// Why a [`FeatureConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("window of {0} s: must be between 60 s and 31 days")]
    WindowRange(u64),
    #[error("window of {0} s: must be whole minutes")]
    WindowMinutes(u64),
    #[error("business hours {start}–{end}: need 0 ≤ start < end ≤ 24")]
    BusinessHours { start: u32, end: u32 },
    #[error("business day {0}: use 1 (Monday) to 7 (Sunday)")]
    BusinessDay(u32),
    #[error("unknown time zone `{0}` (use an IANA name such as Europe/Berlin)")]
    TimeZone(String),
    #[error("novelty horizon of {horizon} s: must be 0 (the whole input) or at least the window ({window} s)")]
    NoveltyHorizon { horizon: u64, window: u64 },
}

/// A checked [`FeatureConfig`].
#[derive(Debug, Clone)]
pub struct ValidFeatureConfig {
    pub config: FeatureConfig,
    window: Micros,
    /// [`FeatureConfig::novelty_horizon_secs`]; `Micros::MAX` for 0.
    novelty_horizon: Micros,
    tz: chrono_tz::Tz,
    business_days: [bool; 8],
}

impl FeatureConfig {
    /// Default business hours and days in `time_zone`, with this window.
    pub fn with_window_in_zone(window_secs: u64, time_zone: &str) -> FeatureConfig {
        FeatureConfig {
            window_secs,
            business_hours: BusinessHours {
                time_zone: time_zone.to_owned(),
                ..BusinessHours::default()
            },
            ..FeatureConfig::default()
        }
    }

    pub fn check(self) -> Result<ValidFeatureConfig, ConfigError> {
        if self.window_secs < 60 || self.window_secs > 31 * 86_400 {
            return Err(ConfigError::WindowRange(self.window_secs));
        }
        if self.window_secs % 60 != 0 {
            return Err(ConfigError::WindowMinutes(self.window_secs));
        }
        let b = &self.business_hours;
        if b.start_hour > 23 || b.end_hour == 0 || b.end_hour > 24 || b.start_hour >= b.end_hour {
            return Err(ConfigError::BusinessHours {
                start: b.start_hour,
                end: b.end_hour,
            });
        }
        let mut business_days = [false; 8];
        for &d in &b.days {
            if !(1..=7).contains(&d) {
                return Err(ConfigError::BusinessDay(d));
            }
            business_days[d as usize] = true;
        }
        let tz: chrono_tz::Tz = b
            .time_zone
            .parse()
            .map_err(|_| ConfigError::TimeZone(b.time_zone.clone()))?;
        let horizon = self.novelty_horizon_secs;
        if horizon != 0 && (horizon < self.window_secs || horizon > 100 * 365 * 86_400) {
            return Err(ConfigError::NoveltyHorizon {
                horizon,
                window: self.window_secs,
            });
        }
        Ok(ValidFeatureConfig {
            window: self.window_secs as i64 * MICROS_PER_SECOND,
            novelty_horizon: match horizon {
                0 => Micros::MAX,
                h => h as i64 * MICROS_PER_SECOND,
            },
            config: self,
            tz,
            business_days,
        })
    }
}

impl ValidFeatureConfig {
    pub fn window(&self) -> Micros {
        self.window
    }

    /// Whether `t` falls outside business hours.
    pub fn is_off_hours(&self, t: Micros) -> bool {
        let secs = t.div_euclid(MICROS_PER_SECOND);
        let Some(utc) = chrono::DateTime::from_timestamp(secs, 0) else {
            return false;
        };
        let local = self.tz.from_utc_datetime(&utc.naive_utc());
        let offset = local.offset().fix().local_minus_utc() as i64;
        let local_secs = secs + offset;
        let weekday = (local_secs.div_euclid(86_400) + 3).rem_euclid(7) + 1; // 1970-01-01 was a Thursday
        let hour = local.hour();
        let b = &self.config.business_hours;
        !(self.business_days[weekday as usize] && hour >= b.start_hour && hour < b.end_hour)
    }
}

/// 64-bit FxHash of a name (distinct counts and pair keys).
pub fn name_hash(s: &str) -> u64 {
    let mut h = FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

/// Running totals for one entity in one window. Counters are `u32` and
/// absent timestamps are sentinels: millions of these are alive at once.
#[derive(Debug, Clone)]
struct WindowAcc {
    events: u32,
    failures: u32,
    successes: u32,
    invalid_user: u32,
    sudo: u32,
    sudo_failures: u32,
    sessions: u32,
    off_hours: u32,
    public_source: u32,
    account_changes: u32,
    scan_events: u32,
    users: Counts<u64, 1>,
    hosts: Distinct,
    sources: Distinct,
    per_minute: Counts<u32, 2>,
    // Times are milliseconds from the window start (a window is at most
    // 31 days, which fits in u32).
    min_ms: u32,
    max_ms: u32,
    /// Time of the latest event in input order.
    last_in_order: u32,
    /// `u32::MAX` until two events were seen.
    min_gap: u32,
    /// `u32::MAX` without failures.
    first_failure: u32,
    /// Time of the last success plus one; 0 without successes.
    last_success_plus1: u32,
}

/// Where a raw line is, packed in 8 bytes: the file in the high 24 bits,
/// the line number in the low 40.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineRef(u64);

impl LineRef {
    pub const NONE: LineRef = LineRef(u64::MAX);
    const LINE_BITS: u32 = 40;

    /// The packed form, for storage.
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// A place from [`LineRef::to_bits`].
    pub fn from_bits(bits: u64) -> LineRef {
        LineRef(bits)
    }

    /// The place of line `line` of file `file`; [`LineRef::NONE`] when it
    /// does not fit (more than 16M files or 10^12 lines).
    pub fn new(file: FileId, line: u64) -> LineRef {
        // The all-ones file number is left out: it would spell NONE.
        if u64::from(file) >= (1 << (64 - Self::LINE_BITS)) - 1 || line >= 1 << Self::LINE_BITS {
            return LineRef::NONE;
        }
        LineRef(u64::from(file) << Self::LINE_BITS | line)
    }

    pub fn get(self) -> Option<(FileId, u64)> {
        (self != LineRef::NONE).then_some((
            (self.0 >> Self::LINE_BITS) as FileId,
            self.0 & ((1 << Self::LINE_BITS) - 1),
        ))
    }
}

/// Lines kept per entity-window when evidence is kept
/// ([`Aggregator::keep_evidence`]): the first four in input order and the
/// latest.
pub const EVIDENCE_PER_WINDOW: usize = 5;

/// The evidence lines of one entity-window, in input order; unused slots are
/// [`LineRef::NONE`].
pub type WindowEvidence = [LineRef; EVIDENCE_PER_WINDOW];

fn add_evidence(ev: &mut WindowEvidence, line: LineRef) {
    match ev.iter().position(|l| *l == LineRef::NONE) {
        Some(free) => ev[free] = line,
        None => ev[EVIDENCE_PER_WINDOW - 1] = line,
    }
}

/// What one event contributes, computed once for all three entity kinds.
#[derive(Debug, Clone)]
struct EventFacts {
    t: Micros,
    n: u32,
    line: LineRef,
    /// Name hashes of the event's entities, indexed by [`EntityKind::index`].
    keys: [Option<u64>; 3],
    off_hours: bool,
    public: bool,
    /// Failed attempts counted on this line (already weighted).
    failed: u32,
    success: bool,
    invalid_user: bool,
    sudo: bool,
    sudo_failure: bool,
    session: bool,
    account_change: bool,
    scan: bool,
}

impl WindowAcc {
    fn new(t: u32) -> Self {
        WindowAcc {
            events: 0,
            failures: 0,
            successes: 0,
            invalid_user: 0,
            sudo: 0,
            sudo_failures: 0,
            sessions: 0,
            off_hours: 0,
            public_source: 0,
            account_changes: 0,
            scan_events: 0,
            users: Counts::default(),
            hosts: Distinct::default(),
            sources: Distinct::default(),
            per_minute: Counts::default(),
            min_ms: t,
            max_ms: t,
            last_in_order: t,
            min_gap: u32::MAX,
            first_failure: u32::MAX,
            last_success_plus1: 0,
        }
    }

    fn add(&mut self, kind: EntityKind, f: &EventFacts, window_start: Micros) {
        let t = ((f.t - window_start) / 1000) as u32;
        if self.events > 0 {
            let gap = if f.n > 1 { 0 } else { t.abs_diff(self.last_in_order) };
            self.min_gap = self.min_gap.min(gap);
        } else if f.n > 1 {
            self.min_gap = 0;
        }
        self.min_ms = self.min_ms.min(t);
        self.max_ms = self.max_ms.max(t);
        self.last_in_order = t;
        let n = f.n;
        self.events += n;
        self.failures += f.failed;
        self.successes += n * u32::from(f.success);
        self.invalid_user += n * u32::from(f.invalid_user);
        self.sudo += n * u32::from(f.sudo);
        self.sudo_failures += n * u32::from(f.sudo_failure);
        self.sessions += n * u32::from(f.session);
        self.off_hours += n * u32::from(f.off_hours);
        self.public_source += n * u32::from(f.public);
        self.account_changes += n * u32::from(f.account_change);
        self.scan_events += n * u32::from(f.scan);
        if f.failed > 0 {
            self.first_failure = self.first_failure.min(t);
        }
        if f.success {
            self.last_success_plus1 = self.last_success_plus1.max(t + 1);
        }
        let [user, source, host] = f.keys;
        if kind != EntityKind::User {
            if let Some(u) = user {
                self.users.add(u, n);
            }
        }
        if kind != EntityKind::Host {
            if let Some(h) = host {
                self.hosts.insert(h);
            }
        }
        if kind != EntityKind::SourceIp {
            if let Some(s) = source {
                self.sources.insert(s);
            }
        }
        let minute = ((f.t - window_start) / MICROS_PER_MINUTE) as u32;
        self.per_minute.add(minute, n);
    }
}

/// Windows of one entity, sorted by start, each with the index of its
/// state in its shard's [`KindState`]. Most source addresses have one
/// window, kept inline.
type Windows = SmallVec<[(Micros, u32); 1]>;

/// The window states of one entity kind in one shard, in the order the
/// windows opened.
#[derive(Debug, Clone, Default)]
struct KindState {
    accs: Slab<WindowAcc>,
    /// Same indices as `accs`; empty unless evidence is kept.
    evidence: Slab<WindowEvidence>,
}

/// Off-hours answers cached per 15-minute slot (zone offsets are whole
/// quarters of an hour).
#[derive(Debug, Clone)]
struct OffHoursCache {
    slot: i64,
    off: bool,
}

const SLOT: Micros = 15 * MICROS_PER_MINUTE;

impl Default for OffHoursCache {
    fn default() -> Self {
        OffHoursCache {
            slot: i64::MIN,
            off: false,
        }
    }
}

impl OffHoursCache {
    fn get(&mut self, cfg: &ValidFeatureConfig, t: Micros) -> bool {
        let slot = t.div_euclid(SLOT);
        if self.slot != slot {
            self.slot = slot;
            self.off = cfg.is_off_hours(slot * SLOT);
        }
        self.off
    }
}

/// The entity names of an event, indexed by [`EntityKind::index`]; empty
/// names and a `-` source count as absent.
pub fn entity_names<'e>(ev: &'e Event<'_>) -> [Option<&'e str>; 3] {
    [
        ev.user.as_deref().filter(|u| !u.is_empty()),
        ev.source_key().filter(|s| is_present(s)),
        ev.host.as_deref().filter(|h| !h.is_empty()),
    ]
}

impl EventFacts {
    fn of(ev: &Event<'_>, names: &[Option<&str>; 3], off_hours: bool) -> EventFacts {
        // Login attempts as counted once per attempt; su, sudo and runas
        // failures per line.
        let failed = if ev.attempt_line != AttemptLine::None {
            ev.failed_attempts()
        } else if ev.outcome == Outcome::Failure
            && matches!(
                ev.action,
                Action::Authentication | Action::Su | Action::Sudo | Action::ExplicitCredentials
            )
        {
            ev.repeat.max(1)
        } else {
            0
        };
        let success = ev.outcome == Outcome::Success && matches!(ev.action, Action::Authentication | Action::Su);
        EventFacts {
            t: ev.timestamp,
            n: ev.repeat.max(1),
            line: LineRef::new(ev.evidence.file, ev.evidence.line),
            keys: names.map(|k| k.map(name_hash)),
            off_hours,
            public: ev.source_ip.is_some_and(|ip| IpScope::of(ip) == IpScope::Public),
            failed,
            success,
            invalid_user: ev.names_invalid_user(),
            sudo: ev.action == Action::Sudo,
            sudo_failure: ev.action == Action::Sudo && ev.outcome == Outcome::Failure,
            session: ev.action == Action::SessionOpened,
            account_change: matches!(
                ev.action,
                Action::UserCreated
                    | Action::UserModified
                    | Action::UserDeleted
                    | Action::PasswordChanged
                    | Action::GroupChanged
            ),
            scan: matches!(
                ev.action,
                Action::NoIdentification
                    | Action::ReverseMappingFailed
                    | Action::MaxAuthAttempts
                    | Action::ProtocolError
                    | Action::PreauthTimeout
            ),
        }
    }
}

/// The aggregation input of a run of events (one block of a file): what
/// each event contributes, with its entity names, in input order. Building
/// batches is the parallel half of aggregation.
#[derive(Debug, Clone)]
pub struct FactBatch {
    cfg: Arc<ValidFeatureConfig>,
    facts: Vec<EventFacts>,
    /// For each shard, the events with an entity in it.
    by_shard: Vec<Vec<u32>>,
    /// Byte ranges of each event's entity names in `names`.
    name_ranges: Vec<[(u32, u32); 3]>,
    names: String,
    min_t: Micros,
    max_t: Micros,
    off_hours: OffHoursCache,
}

impl FactBatch {
    /// A batch for an aggregator of `shards` shards, with room for `events`.
    pub fn new(cfg: Arc<ValidFeatureConfig>, shards: usize, events: usize) -> Self {
        FactBatch {
            cfg,
            facts: Vec::with_capacity(events),
            by_shard: vec![Vec::new(); shards.max(1)],
            name_ranges: Vec::with_capacity(events),
            names: String::with_capacity(events * 24),
            min_t: Micros::MAX,
            max_t: Micros::MIN,
            off_hours: OffHoursCache::default(),
        }
    }

    pub fn push(&mut self, ev: &Event<'_>) {
        let names = entity_names(ev);
        let off_hours = self.off_hours.get(&self.cfg, ev.timestamp);
        let facts = EventFacts::of(ev, &names, off_hours);
        let index = self.facts.len() as u32;
        let shards = self.by_shard.len();
        let mut seen = [usize::MAX; 3];
        for (i, key) in facts.keys.iter().enumerate() {
            if let Some(&h) = key.as_ref() {
                let shard = shard_of(h, shards);
                if !seen.contains(&shard) {
                    self.by_shard[shard].push(index);
                }
                seen[i] = shard;
            }
        }
        self.facts.push(facts);
        self.name_ranges.push(names.map(|name| {
            let name = name.unwrap_or("");
            let start = self.names.len() as u32;
            self.names.push_str(name);
            (start, name.len() as u32)
        }));
        self.min_t = self.min_t.min(ev.timestamp);
        self.max_t = self.max_t.max(ev.timestamp);
    }

    /// The earliest event time pushed (`Micros::MAX` when empty).
    pub fn min_time(&self) -> Micros {
        self.min_t
    }

    /// The latest event time pushed, `None` when empty.
    pub fn max_time(&self) -> Option<Micros> {
        (!self.is_empty()).then_some(self.max_t)
    }

    /// Sets the failed attempts counted on event `i` (in push order), once
    /// [`crate::ingest::attempts`] has paired the lines of each attempt.
    pub fn set_failed_attempts(&mut self, i: usize, n: u32) {
        self.facts[i].failed = n;
    }

    /// Events pushed so far.
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// Prefetches the first cache line of each of event `i`'s names.
    fn prefetch_names(&self, i: usize) {
        for (start, len) in self.name_ranges[i] {
            if len > 0 {
                crate::mem::slab::prefetch(&self.names.as_bytes()[start as usize]);
            }
        }
    }

    fn names(&self, i: usize) -> [&str; 3] {
        self.name_ranges[i].map(|(start, len)| &self.names[start as usize..(start + len) as usize])
    }
}

/// The windows of one entity.
#[derive(Debug, Clone)]
struct EntityWindows {
    hash: u64,
    /// Inline up to 24 bytes (most names): comparing it on every event
    /// reads no other cache line.
    name: CompactString,
    windows: Windows,
}

/// The aggregation state of the entities whose name hashes fall in one
/// shard; pair maps are sharded by their first name.
#[derive(Debug, Clone, Default)]
struct Shard {
    entities: [HashTable<EntityWindows>; 3],
    /// Window states per entity kind.
    states: [KindState; 3],
    /// When windows close as time passes ([`Aggregator::close_as_time_passes`]):
    /// per kind, the open windows by start, as (entity hash, state index).
    open: [BTreeMap<Micros, Vec<(u64, u32)>>; 3],
    /// Per kind, the partners of entities whose windows closed, by name hash.
    remembered: [FxHashMap<u64, Remembered>; 3],
}

/// An entity's partners between its windows, when windows close as time
/// passes: each partner with the window it was last seen in.
type Remembered = LastSeen;

/// How [`Shard::add`] adds an event.
struct AddMode {
    window: Micros,
    me: usize,
    shards: usize,
    evidence: bool,
    /// Record windows as they open, to close them later.
    streaming: bool,
}

/// Whether the window (of length `window`) of an event at `t` ends at or
/// before `closed_before`, so is closed.
fn in_closed_window(t: Micros, window: Micros, closed_before: Micros) -> bool {
    t.div_euclid(window) * window + window <= closed_before
}

/// How many items ahead memory read out of order is prefetched: far enough
/// for the loads to overlap, near enough that the lines are still cached.
const PREFETCH_AHEAD: usize = 8;

/// The shard of a name hash (FxHash mixes into the high bits).
fn shard_of(hash: u64, shards: usize) -> usize {
    ((hash >> 32) as usize) % shards
}

impl Shard {
    /// Adds the parts of event `f` that belong to this shard.
    fn add(&mut self, f: &EventFacts, names: [&str; 3], mode: &AddMode) {
        let start = f.t.div_euclid(mode.window) * mode.window;
        let mine = |h: u64| mode.shards == 1 || shard_of(h, mode.shards) == mode.me;
        for kind in EntityKind::ALL {
            let i = kind.index();
            let Some(h) = f.keys[i].filter(|&h| mine(h)) else {
                continue;
            };
            let name = names[i];
            let entity = self.entities[i]
                .entry(h, |e| e.hash == h && *e.name == *name, |e| e.hash)
                .or_insert_with(|| EntityWindows {
                    hash: h,
                    name: CompactString::new(name),
                    windows: Windows::new(),
                })
                .into_mut();
            let state = &mut self.states[i];
            let (w, new) = window_index(&mut entity.windows, start, f.t, &mut state.accs);
            state.accs.get_mut(w).add(kind, f, start);
            if mode.evidence {
                if new {
                    state.evidence.push([LineRef::NONE; EVIDENCE_PER_WINDOW]);
                }
                add_evidence(state.evidence.get_mut(w), f.line);
            }
            if new && mode.streaming {
                self.open[i].entry(start).or_default().push((h, w));
            }
        }
    }

    fn windows(&self) -> usize {
        self.states.iter().map(|s| s.accs.len()).sum()
    }
}

/// Folds events into per-entity, per-window state.
#[derive(Debug, Clone)]
pub struct Aggregator {
    cfg: Arc<ValidFeatureConfig>,
    shards: Vec<Shard>,
    /// Keep [`WindowEvidence`] per entity-window.
    evidence: bool,
    off_hours: OffHoursCache,
    /// Earliest event time seen.
    data_start: Micros,
    /// Windows are closed as time passes ([`Aggregator::close_until`]).
    streaming: bool,
    /// Every window that ends at or before this is closed; an event in one
    /// of them is late.
    closed_before: Micros,
    /// Events left out because their window was already closed.
    late_events: u64,
    /// Fixed when the first window closes (see [`RowMaker::novel_from`]).
    novel_from: Option<Micros>,
    /// When remembered partners were last forgotten.
    forgotten_at: Micros,
}

impl Aggregator {
    /// An aggregator fed one event at a time.
    pub fn new(cfg: Arc<ValidFeatureConfig>) -> Self {
        Aggregator::with_shards(cfg, 1)
    }

    /// An aggregator whose state is split into `shards` parts that
    /// [`Aggregator::add_batches`] fills in parallel.
    pub fn with_shards(cfg: Arc<ValidFeatureConfig>, shards: usize) -> Self {
        Aggregator {
            cfg,
            shards: vec![Shard::default(); shards.max(1)],
            evidence: false,
            off_hours: OffHoursCache::default(),
            data_start: i64::MAX,
            streaming: false,
            closed_before: Micros::MIN,
            late_events: 0,
            novel_from: None,
            forgotten_at: Micros::MIN,
        }
    }

    /// Also keeps, per entity-window, the place of its first four lines and
    /// its latest ([`FeatureTable::evidence`]): 40 bytes a window.
    pub fn keep_evidence(&mut self) {
        self.evidence = true;
    }

    /// Adds one event.
    pub fn add(&mut self, ev: &Event<'_>) {
        if self.is_late(ev.timestamp) {
            self.late_events += 1;
            return;
        }
        let names = entity_names(ev);
        let off_hours = self.off_hours.get(&self.cfg, ev.timestamp);
        let facts = EventFacts::of(ev, &names, off_hours);
        let names = names.map(|n| n.unwrap_or(""));
        self.data_start = self.data_start.min(ev.timestamp);
        for me in 0..self.shards.len() {
            let mode = self.add_mode(me);
            self.shards[me].add(&facts, names, &mode);
        }
    }

    fn add_mode(&self, me: usize) -> AddMode {
        AddMode {
            window: self.cfg.window,
            me,
            shards: self.shards.len(),
            evidence: self.evidence,
            streaming: self.streaming,
        }
    }

    /// Whether an event at `t` falls in a window already closed.
    fn is_late(&self, t: Micros) -> bool {
        in_closed_window(t, self.cfg.window, self.closed_before)
    }

    /// The number of shards, which [`FactBatch::new`] needs to know.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Adds batches of events, in order; the shards are filled in parallel.
    ///
    /// # Panics
    /// When a batch was made for a different number of shards.
    pub fn add_batches(&mut self, batches: &[&FactBatch]) {
        let n = self.shards.len();
        // Late events are counted here, once each, and skipped by every shard.
        let mut any_late = false;
        for b in batches {
            assert_eq!(b.by_shard.len(), n, "batch made for another shard count");
            if b.is_empty() {
                continue;
            }
            if self.is_late(b.min_t) {
                any_late = true;
                self.late_events += b.facts.iter().filter(|f| self.is_late(f.t)).count() as u64;
                let on_time = b.facts.iter().map(|f| f.t).filter(|&t| !self.is_late(t)).min();
                if let Some(t) = on_time {
                    self.data_start = self.data_start.min(t);
                }
            } else {
                self.data_start = self.data_start.min(b.min_t);
            }
        }
        let modes: Vec<AddMode> = (0..n).map(|me| self.add_mode(me)).collect();
        let closed_before = self.closed_before;
        let window = self.cfg.window;
        let late = |t: Micros| any_late && in_closed_window(t, window, closed_before);
        self.shards.par_iter_mut().zip(modes).for_each(|(shard, mode)| {
            for b in batches {
                let mine = &b.by_shard[mode.me];
                for (k, &i) in mine.iter().enumerate() {
                    // The facts were written on another thread: fetched ahead.
                    if let Some(&j) = mine.get(k + PREFETCH_AHEAD) {
                        crate::mem::slab::prefetch(&b.facts[j as usize]);
                        b.prefetch_names(j as usize);
                    }
                    let f = &b.facts[i as usize];
                    if !late(f.t) {
                        shard.add(f, b.names(i as usize), &mode);
                    }
                }
            }
        });
    }

    /// Counts novelty from `t` on (after the warm-up) even when this
    /// aggregator's first event is later: a part of a larger input (one
    /// partition of a distributed run) starts where the whole input starts.
    pub fn start_at(&mut self, t: Micros) {
        self.data_start = self.data_start.min(t);
    }

    /// Events left out because their window had already closed
    /// ([`Aggregator::close_until`]).
    pub fn late_events(&self) -> u64 {
        self.late_events
    }

    /// Where novelty starts counting: the warm-up after the earliest event
    /// (when windows close as time passes, the earliest when the first
    /// closed).
    fn novel_from(&self) -> Micros {
        self.novel_from.unwrap_or_else(|| {
            self.data_start
                .saturating_add(self.cfg.config.novelty_warmup_secs as i64 * MICROS_PER_SECOND)
        })
    }

    /// Number of entity-windows held.
    pub fn windows(&self) -> usize {
        self.shards.iter().map(Shard::windows).sum()
    }

    /// Computes the features of every entity-window, sorted by kind, entity
    /// and window start.
    ///
    /// The state is freed as rows are made, and the freed memory handed back
    /// to the OS at the end, so state and table are not both at full size.
    pub fn finish(self) -> FeatureTable {
        let mut table = FeatureTable::with_capacity(self.cfg.window, self.windows());
        self.finish_chunks(256 * 1024, |chunk| table.append(chunk));
        // The state was freed as rows were made (trimming after every
        // chunk instead costs 1.6 s on 10M events and saves 25 MiB).
        release_free_memory();
        table
    }

    /// Like [`Aggregator::finish`], but hands the rows over in chunks of
    /// about `chunk_rows` (whole entities), so the whole table never has to
    /// be in memory. Each chunk's state is freed on another thread while
    /// the next chunk's rows are made.
    pub fn finish_chunks(self, chunk_rows: usize, mut emit: impl FnMut(FeatureTable)) {
        let dropper = Dropper::new();
        self.make_rows(chunk_rows, |step| match step {
            RowStep::Chunk {
                maker,
                kind,
                states,
                entities,
                ..
            } => {
                let table = maker.table(kind, states, &entities);
                dropper.drop_later(entities);
                emit(table);
            }
            RowStep::KindDone(states) => dropper.drop_later(states),
        });
        dropper.finish();
    }

    /// Hands `step` the entities of each kind in name order, in chunks of
    /// about `chunk_rows` windows, and after a kind's last chunk its window
    /// states.
    fn make_rows(self, chunk_rows: usize, mut step: impl FnMut(RowStep<'_>)) {
        assert!(
            !self.streaming,
            "windows that close as time passes are finished with close_until"
        );
        let window = self.cfg.window;
        let novel_from = self.novel_from();
        let n = self.shards.len();
        let mut tables = Vec::with_capacity(n);
        let mut states = Vec::with_capacity(n);
        for shard in self.shards {
            tables.push(shard.entities);
            states.push(shard.states);
        }
        let maker = RowMaker::new(window, novel_from, self.cfg.novelty_horizon);
        let chunk_rows = chunk_rows.max(1);
        for kind in EntityKind::ALL {
            let mut entities: Vec<EntityWindows> = tables
                .iter_mut()
                .flat_map(|t| std::mem::take(&mut t[kind.index()]))
                .collect();
            entities.par_sort_unstable_by(|a, b| a.name.cmp(&b.name));
            let kind_states: Vec<KindState> = states
                .iter_mut()
                .map(|s| std::mem::take(&mut s[kind.index()]))
                .collect();
            // Consumed in entity order, so entities are freed as rows are made.
            let mut entities = entities.into_iter().peekable();
            while entities.peek().is_some() {
                let mut chunk = Vec::new();
                let mut rows_in_chunk = 0;
                while let Some(e) = entities.next_if(|_| rows_in_chunk < chunk_rows) {
                    rows_in_chunk += e.windows.len();
                    chunk.push(e);
                }
                step(RowStep::Chunk {
                    maker: &maker,
                    kind,
                    states: &kind_states,
                    entities: chunk,
                });
            }
            step(RowStep::KindDone(kind_states));
        }
    }
}

/// What [`Aggregator::make_rows`] hands over.
enum RowStep<'a> {
    /// Entities of `kind` (in name order) whose rows are to be made;
    /// `states` holds the kind's window states, one per shard.
    Chunk {
        maker: &'a RowMaker,
        kind: EntityKind,
        states: &'a [KindState],
        entities: Vec<EntityWindows>,
    },
    /// The kind's rows are all made: its window states, to be freed.
    KindDone(Vec<KindState>),
}

/// The number of windows of `entities`.
fn rows_of(entities: &[EntityWindows]) -> usize {
    entities.iter().map(|e| e.windows.len()).sum()
}

/// Turns entity-windows into feature rows.
struct RowMaker {
    window: Micros,
    window_s: f64,
    /// Novelty counts in windows that start here or later (see
    /// [`FeatureConfig::novelty_warmup_secs`]).
    novel_from: Micros,
    /// [`FeatureConfig::novelty_horizon_secs`] in windows (`u32::MAX`:
    /// never forgotten).
    horizon_ticks: u32,
}

impl RowMaker {
    fn new(window: Micros, novel_from: Micros, horizon: Micros) -> RowMaker {
        RowMaker {
            window,
            window_s: window as f64 / MICROS_PER_SECOND as f64,
            novel_from,
            horizon_ticks: if horizon == Micros::MAX {
                u32::MAX
            } else {
                (horizon / window).clamp(0, i64::from(u32::MAX)) as u32
            },
        }
    }
}

/// The `source_scope` of an entity of `kind` named `name`.
pub(crate) fn source_scope(kind: EntityKind, name: &str) -> Option<&'static str> {
    match kind {
        EntityKind::SourceIp => crate::event::parse_ip(name).map(|ip| IpScope::of(ip).as_str()),
        _ => None,
    }
}

/// Which of an entity's two partner sets: source addresses of a user or
/// host, users of a source address (`First`); hosts of a user, users of a
/// host (`Second`). Both live in one [`LastSeen`], the second's hashes
/// marked ([`SECOND_SET`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum PartnerSet {
    First,
    Second,
}

/// Marks a hash of the second partner set.
const SECOND_SET: u64 = 0x9e37_79b9_7f4a_7c15;

fn tagged(set: PartnerSet, p: u64) -> u64 {
    match set {
        PartnerSet::First => p,
        PartnerSet::Second => p ^ SECOND_SET,
    }
}

/// How many of `partners` (distinct) are new to an entity in its window at
/// tick `now`: not in `seen`, or last seen more than `horizon` ticks
/// before. Records them as seen now unless this is the entity's last
/// window.
fn count_new(
    seen: &mut LastSeen,
    set: PartnerSet,
    partners: impl Iterator<Item = u64>,
    now: u32,
    horizon: u32,
    last: bool,
) -> usize {
    let new = |before: Option<u32>| before.is_none_or(|t| now.saturating_sub(t) > horizon);
    partners
        .filter(|&p| {
            let k = tagged(set, p);
            if last {
                new(seen.get(k))
            } else {
                new(seen.set(k, now))
            }
        })
        .count()
}

impl RowMaker {
    /// The rows of `entities` (in order).
    fn table(&self, kind: EntityKind, states: &[KindState], entities: &[EntityWindows]) -> FeatureTable {
        let mut table = FeatureTable::with_capacity(self.window, rows_of(entities));
        self.push_rows_in_halves(&mut table, kind, states, entities);
        table
    }

    /// Like [`RowMaker::push_rows`], with the second half of `entities`
    /// made on another thread.
    fn push_rows_in_halves(
        &self,
        table: &mut FeatureTable,
        kind: EntityKind,
        states: &[KindState],
        entities: &[EntityWindows],
    ) {
        // Below this many rows a split costs more than it saves.
        const SPLIT_FROM: usize = 16 * 1024;
        let rows = rows_of(entities);
        // The first entity that ends past half the rows starts the second half.
        let mut before = 0;
        let half = entities.iter().position(|e| {
            before += e.windows.len();
            before > rows / 2
        });
        let half = half.map_or(0, |i| i + 1);
        if rows < SPLIT_FROM || half == 0 || half == entities.len() || rayon::current_num_threads() < 2 {
            return self.push_rows(table, kind, states, entities);
        }
        let (a, b) = entities.split_at(half);
        let ((), rest) = rayon::join(
            || self.push_rows(table, kind, states, a),
            || {
                let mut rest = FeatureTable::with_capacity(self.window, rows_of(b));
                self.push_rows(&mut rest, kind, states, b);
                rest
            },
        );
        table.append(rest);
    }

    /// Appends the rows of `entities` (in order) to `table`; `states` are
    /// their kind's window states, one per shard.
    fn push_rows(&self, table: &mut FeatureTable, kind: EntityKind, states: &[KindState], entities: &[EntityWindows]) {
        // Windows are read in entity order, their states lie in the order
        // they opened: the states some windows ahead are prefetched.
        let mut ahead = entities.iter().flat_map(|e| {
            let state = &states[shard_of(e.hash, states.len())];
            e.windows.iter().map(move |&(_, w)| (state, w))
        });
        let mut prefetch_next = || {
            if let Some((state, w)) = ahead.next() {
                state.accs.prefetch(w);
                state.evidence.prefetch(w);
            }
        };
        for _ in 0..PREFETCH_AHEAD {
            prefetch_next();
        }
        let mut seen = LastSeen::default();
        for e in entities {
            let state = &states[shard_of(e.hash, states.len())];
            let scope = source_scope(kind, &e.name);
            seen.clear();
            let last = e.windows.len() - 1;
            for (i, &(start, w)) in e.windows.iter().enumerate() {
                prefetch_next();
                let acc = state.accs.get(w);
                let novel = self.new_partners(kind, acc, start, &mut seen, i == last);
                let novel = self.novelty(start, novel);
                table.push(kind, &e.name, scope, start, &self.row(acc, novel));
                if !state.evidence.is_empty() {
                    table.evidence.push(*state.evidence.get(w));
                }
            }
        }
    }

    /// New source addresses, hosts and users of a window starting at
    /// `start` (see [`count_new`]), whose entity's earlier partners are in
    /// `seen`; `last` when no later window of the entity will be asked about.
    fn new_partners(
        &self,
        kind: EntityKind,
        acc: &WindowAcc,
        start: Micros,
        seen: &mut LastSeen,
        last: bool,
    ) -> [usize; 3] {
        use PartnerSet::{First, Second};
        let (now, h) = (self.tick(start), self.horizon_ticks);
        let users = || acc.users.iter().map(|(u, _)| u);
        match kind {
            EntityKind::User => [
                count_new(seen, First, acc.sources.iter(), now, h, last),
                count_new(seen, Second, acc.hosts.iter(), now, h, last),
                0,
            ],
            EntityKind::SourceIp => [0, 0, count_new(seen, First, users(), now, h, last)],
            EntityKind::Host => [
                count_new(seen, First, acc.sources.iter(), now, h, last),
                0,
                count_new(seen, Second, users(), now, h, last),
            ],
        }
    }

    /// The window number of a window starting at `start` (from the epoch).
    fn tick(&self, start: Micros) -> u32 {
        start.div_euclid(self.window).clamp(0, i64::from(u32::MAX)) as u32
    }

    /// The novelty of a window starting at `start`: nothing before the
    /// warm-up ends.
    fn novelty(&self, start: Micros, novel: [usize; 3]) -> [usize; 3] {
        if start >= self.novel_from {
            novel
        } else {
            [0; 3]
        }
    }

    /// The features of one entity-window with state `acc` and `novel` new
    /// source addresses, hosts and users.
    fn row(&self, acc: &WindowAcc, novel: [usize; 3]) -> [f64; N_FEATURES] {
        let [new_sources, new_hosts, new_users] = novel;
        let attempts = acc.failures + acc.successes;
        let (mean_gap, min_gap) = if acc.events >= 2 {
            let mean = f64::from(acc.max_ms - acc.min_ms) / f64::from(acc.events - 1) / 1000.0;
            let min = if acc.min_gap == u32::MAX { 0 } else { acc.min_gap };
            (mean, f64::from(min) / 1000.0)
        } else {
            (self.window_s, self.window_s)
        };
        let share = |x: u32| f64::from(x) / f64::from(acc.events.max(1));
        let entropy = {
            let total: u64 = acc.users.iter().map(|(_, c)| u64::from(c)).sum();
            if total == 0 {
                0.0
            } else {
                -acc.users
                    .iter()
                    .map(|(_, c)| {
                        let p = f64::from(c) / total as f64;
                        p * p.log2()
                    })
                    .sum::<f64>()
            }
        };
        use FeatureId as F;
        // Every entry is written below; NaN would show one that is not.
        let mut row = [f64::NAN; N_FEATURES];
        row[F::Events as usize] = f64::from(acc.events);
        row[F::Failures as usize] = f64::from(acc.failures);
        row[F::Successes as usize] = f64::from(acc.successes);
        row[F::FailureRatio as usize] = if attempts == 0 {
            0.0
        } else {
            f64::from(acc.failures) / f64::from(attempts)
        };
        row[F::DistinctUsers as usize] = acc.users.len() as f64;
        row[F::DistinctHosts as usize] = acc.hosts.len() as f64;
        row[F::DistinctSourceIps as usize] = acc.sources.len() as f64;
        row[F::InvalidUserAttempts as usize] = f64::from(acc.invalid_user);
        row[F::SudoCommands as usize] = f64::from(acc.sudo);
        row[F::SudoFailures as usize] = f64::from(acc.sudo_failures);
        row[F::Sessions as usize] = f64::from(acc.sessions);
        row[F::SuccessAfterFailures as usize] = f64::from(u8::from(
            acc.last_success_plus1 > 0
                && acc.first_failure != u32::MAX
                && acc.last_success_plus1 - 1 > acc.first_failure,
        ));
        row[F::OffHoursShare as usize] = share(acc.off_hours);
        row[F::MaxEventsPerMinute as usize] = f64::from(acc.per_minute.max_count());
        row[F::MeanInterarrivalS as usize] = mean_gap;
        row[F::MinInterarrivalS as usize] = min_gap;
        row[F::UsernameEntropy as usize] = entropy;
        row[F::NewSourceIps as usize] = new_sources as f64;
        row[F::NewHosts as usize] = new_hosts as f64;
        row[F::NewUsers as usize] = new_users as f64;
        row[F::PublicSourceShare as usize] = share(acc.public_source);
        row[F::AccountChanges as usize] = f64::from(acc.account_changes);
        row[F::ScanEvents as usize] = f64::from(acc.scan_events);
        row
    }
}

/// Makes room for one more element, growing by a quarter instead of
/// doubling (and from one, not four): most entities have a few windows,
/// and with millions of them alive the spare capacity doubling leaves
/// (about half the state on 10M events) is most of the memory.
fn grow_slowly<A: smallvec::Array>(v: &mut SmallVec<A>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(1));
    }
}

/// The state index of the window at `start` (opened in `accs` for event
/// time `t` if new), and whether it was just opened.
fn window_index(windows: &mut Windows, start: Micros, t: Micros, accs: &mut Slab<WindowAcc>) -> (u32, bool) {
    // Input is mostly time-ordered: the last window is the usual hit, and a
    // new window usually goes after it.
    let i = match windows.last() {
        Some(&(s, w)) if s == start => return (w, false),
        Some(&(s, _)) if s > start => match windows.binary_search_by_key(&start, |w| w.0) {
            Ok(i) => return (windows[i].1, false),
            Err(i) => i,
        },
        _ => windows.len(),
    };
    let w = accs.push(WindowAcc::new(((t - start) / 1000) as u32));
    grow_slowly(windows);
    windows.insert(i, (start, w));
    (w, true)
}

/// The feature rows of a run, column-oriented.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureTable {
    /// Window length, microseconds.
    pub window: Micros,
    pub kinds: Vec<EntityKind>,
    /// Entity names; most fit inline (24 bytes), so rows of one entity
    /// cost no allocation each.
    pub entities: Vec<CompactString>,
    pub window_starts: Vec<Micros>,
    /// One column per entry of [`FEATURES`]; NaN where a feature does not
    /// apply to the row's entity kind.
    pub columns: Vec<Vec<f64>>,
    /// `source_scope` for source rows that are IP addresses.
    pub source_scope: Vec<Option<&'static str>>,
    /// `asset_criticality` for host rows found in the asset inventory.
    pub asset_criticality: Vec<Option<String>>,
    /// Evidence lines per row when the aggregator kept them
    /// ([`Aggregator::keep_evidence`]), else empty.
    pub evidence: Vec<WindowEvidence>,
}

impl FeatureTable {
    pub fn new(window: Micros) -> Self {
        FeatureTable {
            window,
            columns: vec![Vec::new(); FEATURES.len()],
            ..Default::default()
        }
    }

    /// An empty table with room for `rows` rows.
    pub fn with_capacity(window: Micros, rows: usize) -> Self {
        FeatureTable {
            window,
            kinds: Vec::with_capacity(rows),
            entities: Vec::with_capacity(rows),
            window_starts: Vec::with_capacity(rows),
            // Not `vec![Vec::with_capacity(rows); n]`: a cloned Vec has no capacity.
            columns: (0..FEATURES.len()).map(|_| Vec::with_capacity(rows)).collect(),
            source_scope: Vec::with_capacity(rows),
            asset_criticality: Vec::with_capacity(rows),
            evidence: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Appends the rows of `other` (same window length).
    pub fn append(&mut self, mut other: FeatureTable) {
        if self.is_empty() && self.kinds.capacity() <= other.kinds.capacity() {
            *self = other;
            return;
        }
        // Column by column in parallel: most of a copy's time is faulting
        // in the destination's fresh pages.
        rayon::join(
            || {
                self.columns
                    .par_iter_mut()
                    .zip(other.columns.par_iter_mut())
                    .for_each(|(a, b)| a.append(b))
            },
            || {
                self.kinds.append(&mut other.kinds);
                self.entities.append(&mut other.entities);
                self.window_starts.append(&mut other.window_starts);
                self.source_scope.append(&mut other.source_scope);
                self.asset_criticality.append(&mut other.asset_criticality);
                self.evidence.append(&mut other.evidence);
            },
        );
    }

    /// Appends one row; `scope` is the entity's `source_scope`.
    fn push(
        &mut self,
        kind: EntityKind,
        entity: &CompactString,
        scope: Option<&'static str>,
        start: Micros,
        values: &[f64; N_FEATURES],
    ) {
        self.kinds.push(kind);
        self.entities.push(entity.clone());
        self.window_starts.push(start);
        for ((col, v), f) in self.columns.iter_mut().zip(values).zip(FEATURES) {
            col.push(if f.applies_to(kind) { *v } else { f64::NAN });
        }
        self.source_scope.push(scope);
        self.asset_criticality.push(None);
    }

    /// Appends row `i` of `other`.
    pub fn push_row_of(&mut self, other: &FeatureTable, i: usize) {
        self.kinds.push(other.kinds[i]);
        self.entities.push(other.entities[i].clone());
        self.window_starts.push(other.window_starts[i]);
        for (col, from) in self.columns.iter_mut().zip(&other.columns) {
            col.push(from[i]);
        }
        self.source_scope.push(other.source_scope[i]);
        self.asset_criticality.push(other.asset_criticality[i].clone());
        if let Some(e) = other.evidence.get(i) {
            self.evidence.push(*e);
        }
    }

    /// Replaces row `j` with row `i` of `other`.
    pub fn set_row_of(&mut self, j: usize, other: &FeatureTable, i: usize) {
        self.kinds[j] = other.kinds[i];
        self.entities[j] = other.entities[i].clone();
        self.window_starts[j] = other.window_starts[i];
        for (col, from) in self.columns.iter_mut().zip(&other.columns) {
            col[j] = from[i];
        }
        self.source_scope[j] = other.source_scope[i];
        self.asset_criticality[j] = other.asset_criticality[i].clone();
        if let (Some(to), Some(from)) = (self.evidence.get_mut(j), other.evidence.get(i)) {
            *to = *from;
        }
    }

    /// The rows of `parts` at `order` (a part's index, a row's index in
    /// it), in that order, as one table. The parts' window length is
    /// `window`.
    pub fn gathered(window: Micros, parts: &[FeatureTable], order: &[(u32, u32)]) -> FeatureTable {
        fn pick<T>(parts: &[FeatureTable], order: &[(u32, u32)], f: impl Fn(&FeatureTable, usize) -> T) -> Vec<T> {
            order.iter().map(|&(p, i)| f(&parts[p as usize], i as usize)).collect()
        }
        let evidence = parts.iter().any(|t| !t.evidence.is_empty());
        let (columns, (kinds, entities, window_starts, source_scope, asset_criticality, evidence)) = rayon::join(
            || {
                (0..FEATURES.len())
                    .into_par_iter()
                    .map(|c| pick(parts, order, |t, i| t.columns[c][i]))
                    .collect::<Vec<Vec<f64>>>()
            },
            || {
                (
                    pick(parts, order, |t, i| t.kinds[i]),
                    pick(parts, order, |t, i| t.entities[i].clone()),
                    pick(parts, order, |t, i| t.window_starts[i]),
                    pick(parts, order, |t, i| t.source_scope[i]),
                    pick(parts, order, |t, i| t.asset_criticality[i].clone()),
                    if evidence {
                        pick(parts, order, |t, i| t.evidence[i])
                    } else {
                        Vec::new()
                    },
                )
            },
        );
        FeatureTable {
            window,
            kinds,
            entities,
            window_starts,
            columns,
            source_scope,
            asset_criticality,
            evidence,
        }
    }

    /// The rows at `order`, in that order.
    pub fn reordered(&self, order: &[u32]) -> FeatureTable {
        let order: Vec<(u32, u32)> = order.iter().map(|&i| (0, i)).collect();
        FeatureTable::gathered(self.window, std::slice::from_ref(self), &order)
    }

    /// The value of feature `name` in row `row`.
    pub fn value(&self, row: usize, name: &str) -> Option<f64> {
        let i = crate::aggregate::registry::index_of(name)?;
        Some(self.columns[i][row]).filter(|v| !v.is_nan())
    }

    /// Fills `asset_criticality` of host rows from an inventory.
    pub fn enrich_assets(&mut self, inventory: &crate::aggregate::enrich::AssetInventory) {
        for i in 0..self.len() {
            if self.kinds[i] == EntityKind::Host {
                self.asset_criticality[i] = inventory.get(&self.entities[i]).map(|a| a.criticality.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Evidence;
    use std::borrow::Cow;

    #[test]
    fn gathering_rows_from_several_tables_keeps_every_column_of_each_row() {
        let row = |k: usize| {
            let mut t = FeatureTable::new(3_600_000_000);
            let name = CompactString::new(format!("e{k}"));
            let mut values = [0.0; N_FEATURES];
            for (j, v) in values.iter_mut().enumerate() {
                *v = (k * 100 + j) as f64;
            }
            t.push(EntityKind::User, &name, None, k as Micros, &values);
            t.asset_criticality[0] = Some(format!("c{k}"));
            t.evidence.push([LineRef::new(1, k as u64); EVIDENCE_PER_WINDOW]);
            t
        };
        let mut a = row(0);
        a.append(row(1));
        let b = row(2);
        let parts = [a, b];
        let got = FeatureTable::gathered(3_600_000_000, &parts, &[(1, 0), (0, 1), (0, 0)]);
        assert_eq!(got.len(), 3);
        for (at, k) in [2usize, 1, 0].into_iter().enumerate() {
            assert_eq!(got.entities[at], format!("e{k}"));
            assert_eq!(got.window_starts[at], k as Micros);
            assert_eq!(got.asset_criticality[at].as_deref(), Some(format!("c{k}").as_str()));
            assert_eq!(got.evidence[at][0], LineRef::new(1, k as u64));
            for (j, f) in FEATURES.iter().enumerate() {
                let want = if f.applies_to(EntityKind::User) {
                    (k * 100 + j) as f64
                } else {
                    f64::NAN
                };
                assert_eq!(got.columns[j][at].to_bits(), want.to_bits(), "{} of row {at}", f.name);
            }
        }
        // Tables without evidence give none.
        let mut plain = row(3);
        plain.evidence.clear();
        assert!(FeatureTable::gathered(3_600_000_000, &[plain], &[(0, 0)])
            .evidence
            .is_empty());
    }

    fn event(t_secs: i64, line: u64, user: &str, src: &str) -> Event<'static> {
        let mut ev = Event::new(
            (1_700_000_000 + t_secs) * 1_000_000,
            Action::Authentication,
            Evidence {
                file: 3,
                line,
                raw: Cow::Borrowed(""),
            },
        );
        ev.outcome = Outcome::Failure;
        ev.user = Some(Cow::Owned(user.to_owned()));
        ev.host = Some(Cow::Borrowed("web-01"));
        ev.set_source(Cow::Owned(src.to_owned()));
        ev
    }

    fn aggregator(evidence: bool) -> Aggregator {
        let cfg = Arc::new(FeatureConfig::default().check().unwrap());
        let mut agg = Aggregator::with_shards(cfg, 3);
        if evidence {
            agg.keep_evidence();
        }
        // alice: seven events in hour 2 (lines 10..16), then one in hour 0
        // (line 20, out of order), so a window is inserted before another.
        for k in 0..7 {
            agg.add(&event(7200 + k * 60, 10 + k as u64, "alice", "10.0.0.1"));
        }
        agg.add(&event(30, 20, "alice", "10.0.0.2"));
        agg.add(&event(7300, 21, "bob", "10.0.0.1"));
        agg
    }

    #[test]
    fn rows_fill_every_feature_of_their_kind() {
        let table = aggregator(false).finish();
        for kind in EntityKind::ALL {
            assert!(table.kinds.contains(&kind), "no {kind} row");
        }
        for r in 0..table.len() {
            for f in FEATURES {
                let v = table.columns[f.id as usize][r];
                assert_eq!(v.is_nan(), !f.applies_to(table.kinds[r]), "{} of row {r}", f.name);
            }
        }
    }

    #[test]
    fn with_capacity_reserves_every_column_not_only_the_last() {
        let t = FeatureTable::with_capacity(3600, 1000);
        assert_eq!(t.columns.len(), FEATURES.len());
        for (c, col) in t.columns.iter().enumerate() {
            assert!(col.capacity() >= 1000, "column {c} has capacity {}", col.capacity());
        }
    }

    #[test]
    fn line_refs_pack_and_refuse_what_does_not_fit() {
        assert_eq!(LineRef::new(3, 42).get(), Some((3, 42)));
        assert_eq!(LineRef::new(0, (1 << 40) - 1).get(), Some((0, (1 << 40) - 1)));
        assert_eq!(LineRef::new(0, 1 << 40), LineRef::NONE);
        assert_eq!(LineRef::new(u32::MAX, 1), LineRef::NONE);
        assert_eq!(LineRef::NONE.get(), None);
    }

    #[test]
    fn windows_keep_their_first_four_lines_and_the_latest() {
        let table = aggregator(true).finish();
        assert_eq!(table.evidence.len(), table.len());
        let lines = |kind: EntityKind, entity: &str, hour: i64| -> Vec<u64> {
            let start = (1_700_000_000 + hour * 3600).div_euclid(3600) * 3600 * 1_000_000;
            let row = (0..table.len())
                .find(|&r| table.kinds[r] == kind && table.entities[r] == entity && table.window_starts[r] == start)
                .unwrap_or_else(|| panic!("no row {entity} {hour}"));
            table.evidence[row]
                .iter()
                .filter_map(|l| l.get())
                .map(|(f, l)| {
                    assert_eq!(f, 3);
                    l
                })
                .collect()
        };
        assert_eq!(lines(EntityKind::User, "alice", 2), vec![10, 11, 12, 13, 16]);
        assert_eq!(lines(EntityKind::User, "alice", 0), vec![20]);
        assert_eq!(lines(EntityKind::User, "bob", 2), vec![21]);
        assert_eq!(lines(EntityKind::SourceIp, "10.0.0.1", 2), vec![10, 11, 12, 13, 21]);
        assert_eq!(lines(EntityKind::Host, "web-01", 0), vec![20]);
    }

    #[test]
    fn evidence_costs_nothing_when_not_asked_for_and_changes_no_feature() {
        let whole = aggregator(true).finish();
        let without = aggregator(false).finish();
        assert!(without.evidence.is_empty());
        let whole = FeatureTable {
            evidence: Vec::new(),
            ..whole
        };
        // Debug text, as NaN is not equal to itself.
        assert_eq!(format!("{whole:?}"), format!("{without:?}"));
    }

    #[test]
    fn rows_made_in_parallel_halves_equal_rows_made_on_one_thread() {
        // Enough users for a chunk to be split in two.
        let build = || {
            let cfg = Arc::new(FeatureConfig::default().check().unwrap());
            let mut agg = Aggregator::with_shards(cfg, 3);
            for i in 0..20_000u64 {
                let src = format!("10.{}.{}.{}", i % 7, (i / 7) % 250, i % 250);
                agg.add(&event((i % 9_000) as i64, i, &format!("user{i}"), &src));
                agg.add(&event((i % 9_000) as i64 + 5, i, &format!("user{i}"), "10.0.0.1"));
            }
            agg
        };
        let tables = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut out = Vec::new();
            pool.install(|| build().finish_chunks(1 << 20, |t| out.push(format!("{t:?}"))));
            out
        };
        let one = tables(1);
        assert_eq!(one.len(), 3);
        assert_eq!(tables(2), one);
    }

    #[test]
    fn novelty_counts_a_pair_in_its_first_window_after_the_warmup() {
        let cfg = FeatureConfig {
            novelty_warmup_secs: 3600,
            ..FeatureConfig::default()
        };
        let mut agg = Aggregator::with_shards(Arc::new(cfg.check().unwrap()), 3);
        // Hour k of the test starts at 2800 + 3600 k (1_700_000_000 is 800 s
        // past an hour).
        let hour = |k: i64| 2800 + 3600 * k;
        let mut line = 0;
        let mut add = |t: i64, user: &str, src: &str| {
            line += 1;
            agg.add(&event(t, line, user, src));
        };
        // Data starts 10 s into hour 0: the warmup ends 10 s into hour 1, so
        // hour 1 is the first window of the warmup's end and counts nothing.
        add(hour(0) + 10, "alice", "10.0.0.1");
        add(hour(1) + 100, "alice", "10.0.0.2");
        add(hour(2) + 5, "alice", "10.0.0.2");
        add(hour(2) + 5, "alice", "10.0.0.3");
        add(hour(2) + 5, "bob", "10.0.0.3");
        add(hour(3) + 5, "alice", "10.0.0.1");
        // Out of input order: still hour 2, before hour 3 in time.
        add(hour(2) + 50, "alice", "10.0.0.4");
        let table = agg.finish();
        let value = |kind: EntityKind, entity: &str, k: i64, name: &str| {
            let start = (1_700_000_000 + hour(k)) * 1_000_000;
            let row = (0..table.len())
                .find(|&r| table.kinds[r] == kind && table.entities[r] == entity && table.window_starts[r] == start)
                .unwrap_or_else(|| panic!("no row {entity} {k}"));
            table.value(row, name).unwrap()
        };
        use EntityKind::{Host, SourceIp, User};
        let alice: Vec<f64> = (0..4).map(|k| value(User, "alice", k, "new_source_ips")).collect();
        assert_eq!(alice, [0.0, 0.0, 2.0, 0.0]);
        let alice_hosts: Vec<f64> = (0..4).map(|k| value(User, "alice", k, "new_hosts")).collect();
        assert_eq!(alice_hosts, [0.0; 4]);
        assert_eq!(value(User, "bob", 2, "new_source_ips"), 1.0);
        assert_eq!(value(User, "bob", 2, "new_hosts"), 1.0);
        assert_eq!(value(SourceIp, "10.0.0.3", 2, "new_users"), 2.0);
        assert_eq!(value(SourceIp, "10.0.0.2", 2, "new_users"), 0.0);
        assert_eq!(value(SourceIp, "10.0.0.1", 3, "new_users"), 0.0);
        assert_eq!(value(Host, "web-01", 1, "new_source_ips"), 0.0);
        assert_eq!(value(Host, "web-01", 2, "new_source_ips"), 2.0);
        assert_eq!(value(Host, "web-01", 2, "new_users"), 1.0);
        assert_eq!(value(Host, "web-01", 3, "new_source_ips"), 0.0);
    }
}
