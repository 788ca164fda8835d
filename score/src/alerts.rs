//! Rule hits, the baseline's accumulated evidence and the policies built on
//! them, merged into few, prioritized, explained alerts.
//!
//! 1. Every rule hit becomes a detection keyed by its primary entity: the
//!    source address when the rule groups by one, else the user, else the
//!    host. Detections of one primary entity whose spans lie within the
//!    suppression window of each other chain into one incident, so an
//!    attacker seen across several hosts is one alert listing every target,
//!    and repeats update the alert instead of adding new ones.
//! 2. Anomalous windows that share an entity (the source, a user or a host
//!    of an incident) and time with an incident corroborate it: the
//!    explanation joins the alert, and when the entity's accumulated
//!    evidence passes the alert budget's threshold its priority rises.
//! 3. **Accumulation**: per entity, evidence adds up over consecutive and
//!    nearby windows (`loglynx_baseline::accumulate`); an episode whose peak
//!    passes its kind's threshold, which the alert budget sets on the
//!    baseline's replay, is an alert of its own covering its span.
//! 4. **Population**: such an episode of a host with failures from several
//!    sources is an alert about the host listing every source; a source of
//!    it (one that failed there, or a public one new to the host during it)
//!    that then logs in is an alert of its own (`policy.rs`).
//! 5. **Rarity**: new-term hits (a user from a new address, at a new hour,
//!    on a new host, an account never seen) alert when the terms' rarity in
//!    the baseline (Good–Turing, `loglynx_rules::Novelty`; the new terms of
//!    one user's login add up, as independent) plus the model's evidence
//!    for their entities pass the same threshold.
//! 6. **Routine**: hits whose pattern recurs in the baseline on the same
//!    weekday and hour are demoted to LOW and labelled, never dropped.
//! 7. Anomalies alone of an entity that the model already flagged in its
//!    own baseline (a jump host, a busy service account) are its normal.
//! 8. An incident of LOW or MEDIUM rule hits from a private address (or
//!    anomalies alone of an internal entity) that recurs on several days of
//!    the input itself is known noise (a script that fails every morning):
//!    it is suppressed and counted.
//! 9. **Roll-up**: alerts that are only internet background noise (brute
//!    force or enumeration from an external source that never logged in,
//!    against one host, at most MEDIUM, without the model's evidence) roll
//!    up into one alert per host and period listing every source
//!    (`rollup.rs`).
//! 10. **Verdicts**: an alert about the same entity as an analyst's
//!     false-positive (or benign) verdict, with no rule the verdict did not
//!     see, is left out and counted under that verdict (`feedback.rs`).
//! 11. **Re-ranking**: with a model that holds the verdicts' re-ranker,
//!     alerts are ordered by severity and its probability of a true
//!     positive; those below `--demote-below` are demoted to LOW, sorted
//!     last, and say why (`rerank.rs`).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use loglynx_baseline::accumulate::{AlertCalibration, Episode, CORROBORATING_HOST_LIMIT, DEFAULT_SUPPRESSION};
use loglynx_baseline::population;
use loglynx_baseline::routine::{Routine, RoutineConfig};
use loglynx_features::aggregate::enrich::{Allowlist, IpScope};
use loglynx_features::aggregate::registry::EntityKind;
use loglynx_features::event::{parse_ip, FileId, Micros};
use loglynx_features::output::compact::CompactLog;
use loglynx_features::time::{format_rfc3339, MICROS_PER_DAY, MICROS_PER_HOUR};
use loglynx_rules::{History, Logic, Novelty, TermRarity};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::policy::{self, PolicyRule};
use crate::rollup::{self, RollupConfig};
use crate::rules::{Kind, RuleHit, RuleSet, Severity};

/// How detections become alerts.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Detections of one entity closer than this merge into one alert.
    pub suppression: Micros,
    /// Raw log lines kept per alert.
    pub evidence_lines: usize,
    /// Days on which a private-source, low/medium rule pattern must recur
    /// in the input (without anomaly) to count as known noise.
    pub recurring_days: usize,
    /// A host's anomaly corroborates a rule hit only when the hit touches
    /// at most this many hosts: a campaign across many hosts says little
    /// about any one of them.
    pub corroborating_host_limit: usize,
    /// Model-driven alerts per 1,000 entity-days on the baseline's replay;
    /// `None`: the budget the baseline was calibrated with.
    pub alert_budget: Option<f64>,
    /// When a rule hit recurring in the baseline is routine.
    pub routine: RoutineConfig,
    pub allowlist: Allowlist,
    /// Alerts below this severity are dropped.
    pub min_severity: Severity,
    /// Model bundle identity, recorded in alerts.
    pub model_version: Option<String>,
    /// Entities (by kind) the model flagged in its own baseline: their
    /// anomalies alone do not alert.
    pub baseline_anomalous: BTreeMap<EntityKind, BTreeSet<String>>,
    /// When internet background noise rolls up into one alert per host.
    pub rollup: RollupConfig,
    /// Analysts' verdicts on earlier alerts (`--feedback`).
    pub feedback: crate::feedback::Feedback,
    /// The verdicts' re-ranker from the model bundle.
    pub rerank: Option<crate::rerank::RerankConfig>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            suppression: DEFAULT_SUPPRESSION,
            evidence_lines: 5,
            recurring_days: 3,
            corroborating_host_limit: CORROBORATING_HOST_LIMIT,
            alert_budget: None,
            routine: RoutineConfig::default(),
            allowlist: Allowlist::default(),
            min_severity: Severity::Low,
            model_version: None,
            baseline_anomalous: BTreeMap::new(),
            rollup: RollupConfig::default(),
            feedback: crate::feedback::Feedback::default(),
            rerank: None,
        }
    }
}

impl AlertConfig {
    /// Whether the allowlist names this entity (hosts are never listed).
    fn allowlisted(&self, kind: EntityKind, entity: &str) -> bool {
        match kind {
            EntityKind::SourceIp => self.allowlist.allows(parse_ip(entity), None),
            EntityKind::User => self.allowlist.allows(None, Some(entity)),
            EntityKind::Host => false,
        }
    }

    /// Whether the model flagged this entity in its own baseline.
    fn unusual_in_baseline(&self, kind: EntityKind, entity: &str) -> bool {
        self.baseline_anomalous
            .get(&kind)
            .is_some_and(|set| set.contains(entity))
    }
}

/// What the merge reads: the rules' hits, the model's anomalous windows
/// and evidence episodes, and what the baseline knows.
#[derive(Debug, Clone, Copy)]
pub struct MergeInput<'a> {
    pub hits: &'a [RuleHit],
    /// Explained windows (anomalous, or near the threshold).
    pub anomalies: &'a [Anomaly],
    /// Every evidence episode of every entity.
    pub episodes: &'a [EntityEpisode],
    /// Thresholds of accumulated evidence per entity kind (empty: the
    /// model raises no alert of its own).
    pub calibration: &'a AlertCalibration,
    /// The baseline's recurring rule-hit patterns.
    pub routine: Option<&'a Routine>,
    /// How rare a never-seen term was in the baseline.
    pub novelty: Option<&'a Novelty>,
    /// The baseline's terms: who logged in from where.
    pub history: Option<&'a History>,
    /// Window length.
    pub window: Micros,
    pub rules: &'a RuleSet,
    pub logs: EventLogs<'a>,
    pub file_names: &'a [String],
}

/// The kept events the merge reads, each log with its own interner: the
/// whole log, or (when the run spooled its events) only those asked for.
#[derive(Debug, Clone, Copy)]
pub struct EventLogs<'a> {
    /// Every event of the sources a background alert may name
    /// ([`EventLogs::sources_wanted`]), for [`rollup::SourceFacts`].
    pub sources: &'a CompactLog,
    /// The events of the hosts a population may be about, over the spans
    /// it reads ([`population_host_spans`]).
    pub hosts: &'a CompactLog,
    /// The events the population statistic counts
    /// ([`population::counts_toward`]).
    pub population: &'a CompactLog,
}

impl<'a> EventLogs<'a> {
    /// One log for every question.
    pub fn whole(log: &'a CompactLog) -> EventLogs<'a> {
        EventLogs {
            sources: log,
            hosts: log,
            population: log,
        }
    }

    /// The entities whose anomalies [`merge`] may attach: those the hits
    /// name, those of `episodes` above the threshold (`budget` on
    /// `calibration`: the others make no alert), and every user, host and
    /// source of the hosts' events (which population hits name).
    pub fn anomaly_entities<'h>(
        &'h self,
        hits: &'h [RuleHit],
        episodes: &'h [EntityEpisode],
        calibration: &AlertCalibration,
        budget: f64,
    ) -> FxHashSet<(EntityKind, &'h str)> {
        let mut out = self.named(hits, &EntityKind::ALL);
        out.extend(
            episodes
                .iter()
                .filter(|e| alerts(calibration, e, budget))
                .map(|e| (e.entity_kind, e.entity.as_str())),
        );
        out
    }

    /// The users and sources the hits name, and every user and source of
    /// the hosts' events: all that the merge's hits can name (population
    /// hits are made of the hosts' events).
    pub fn users_and_sources_named<'h>(&'h self, hits: &'h [RuleHit]) -> FxHashSet<(EntityKind, &'h str)> {
        self.named(hits, &[EntityKind::User, EntityKind::SourceIp])
    }

    /// The entities of `kinds` that the hits or the hosts' events name.
    fn named<'h>(&'h self, hits: &'h [RuleHit], kinds: &[EntityKind]) -> FxHashSet<(EntityKind, &'h str)> {
        let mut out = FxHashSet::default();
        for h in hits {
            for &kind in kinds {
                let names = match kind {
                    EntityKind::User => &h.users,
                    EntityKind::SourceIp => &h.sources,
                    EntityKind::Host => &h.hosts,
                };
                out.extend(names.iter().map(|n| (kind, n.as_str())));
            }
        }
        let log = self.hosts;
        for e in &log.events {
            for &kind in kinds {
                let sym = match kind {
                    EntityKind::User => e.user,
                    EntityKind::SourceIp => e.source,
                    EntityKind::Host => e.host,
                };
                if sym.is_some() {
                    out.insert((kind, log.strings.str(sym)));
                }
            }
        }
        out
    }

    /// The sources whose events [`EventLogs::sources`] must hold: those
    /// the hits name and those of source episodes above the threshold
    /// (`budget` on `calibration`). An alert that names another source
    /// (an anomaly's alone, a population's) has no rule a background alert
    /// may have.
    pub fn sources_wanted(
        hits: &[RuleHit],
        episodes: &[EntityEpisode],
        calibration: &AlertCalibration,
        budget: f64,
    ) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = BTreeSet::new();
        for h in hits {
            out.extend(h.sources.iter().cloned());
            out.extend(h.group.iter().filter(|(f, _)| f == "source").map(|(_, v)| v.clone()));
        }
        out.extend(
            episodes
                .iter()
                .filter(|e| e.entity_kind == EntityKind::SourceIp && alerts(calibration, e, budget))
                .map(|e| e.entity.clone()),
        );
        out
    }
}

/// Hosts whose population statistic passes the threshold the budget sets
/// on the baseline's replay, as `(host, first start, last end)`; none
/// without a baseline that knows its accounts.
pub fn population_spans(
    calibration: &AlertCalibration,
    history: Option<&History>,
    log: &CompactLog,
    window: Micros,
    budget: f64,
    gap: Micros,
) -> Vec<(String, Micros, Micros)> {
    match (calibration.population.as_ref(), history.and_then(History::accounts)) {
        (Some(p), Some(accounts)) => {
            let windows = population::scored_windows(log, window, accounts, &p.guessed);
            population::spans_above(&windows, window, p.windows.threshold(budget), gap)
        }
        _ => Vec::new(),
    }
}

/// Whether an episode passes its kind's threshold under `budget`.
pub(crate) fn alerts(calibration: &AlertCalibration, e: &EntityEpisode, budget: f64) -> bool {
    calibration
        .kind(e.entity_kind)
        .is_some_and(|k| k.alerts(e.episode.peak, budget))
}

/// Per host, the times [`EventLogs::hosts`] must hold its events for, as
/// `[start, end)`: the spans of its episodes above the threshold (`budget`
/// on `calibration`) and its population `spans` ([`population_spans`]),
/// each followed by `after`, as [`merge`] reads them.
pub fn population_host_spans(
    episodes: &[EntityEpisode],
    calibration: &AlertCalibration,
    budget: f64,
    spans: &[(String, Micros, Micros)],
    window: Micros,
    after: Micros,
) -> BTreeMap<String, Vec<(Micros, Micros)>> {
    let mut out: BTreeMap<String, Vec<(Micros, Micros)>> = BTreeMap::new();
    let episode_spans = episodes
        .iter()
        .filter(|e| e.entity_kind == EntityKind::Host && alerts(calibration, e, budget))
        .map(|e| (e.entity.clone(), e.episode.first, e.episode.last + window));
    for (host, start, end) in episode_spans.chain(spans.iter().cloned()) {
        out.entry(host).or_default().push((start, end.saturating_add(after)));
    }
    out
}

/// One entity's evidence episode.
#[derive(Debug, Clone)]
pub struct EntityEpisode {
    pub entity_kind: EntityKind,
    pub entity: String,
    pub episode: Episode,
}

/// One scored entity-window that the model flagged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Anomaly {
    pub entity_kind: EntityKind,
    pub entity: String,
    pub window_start: Micros,
    pub window_end: Micros,
    /// Combined calibrated score, 0–1.
    pub score: f64,
    /// `failures = 27, unusually high (baseline p99 = 2)`, most important
    /// first; empty when only the combination of features is unusual.
    pub explanation: Vec<String>,
    /// The features behind the explanation, same order.
    pub drivers: Vec<Driver>,
    /// Above the model's alert threshold (else only near it).
    pub flagged: bool,
    /// `(file, line)` of the window's first lines and its latest, in input order.
    pub evidence: Vec<(FileId, u64)>,
}

/// One feature behind an anomaly: a value outside the baseline's range.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Driver {
    pub feature: String,
    pub value: f64,
    /// Above the baseline's p99 or below its p1.
    pub side: loglynx_models::Side,
    /// That p99 or p1.
    pub baseline_bound: f64,
}

/// A raw log line behind an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceLine {
    pub file: String,
    pub line: u64,
    /// Filled in by [`crate::evidence::fill`]; empty until then.
    pub raw: String,
    #[serde(skip)]
    pub file_id: u32,
}

/// Anomaly context of an alert.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyContext {
    pub entity_kind: EntityKind,
    pub entity: String,
    pub window_start: String,
    pub score: f64,
    pub explanation: Vec<String>,
}

/// One prioritized, explained alert.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Stable id derived from the fingerprint.
    pub id: String,
    /// Hash of what the alert is about (primary entity, rules, first hour):
    /// the same incident gets the same fingerprint on every run.
    pub fingerprint: String,
    /// What the alert is about, `kind=value` (`source=203.0.113.9`,
    /// `user=anna`, `host=web-01`, `rule=LLX-…`): with `rule_ids`, the
    /// pattern an analyst's verdict applies to on later runs.
    pub primary: String,
    pub title: String,
    pub severity: Severity,
    /// 0–100, for sorting across severities.
    pub risk_score: u8,
    pub first_seen: String,
    pub last_seen: String,
    pub source_ips: Vec<String>,
    pub target_hosts: Vec<String>,
    pub users: Vec<String>,
    /// Matching events behind the rule hits (weighted by repeats).
    pub events: u64,
    /// One line per merged detection, e.g. `27 failed logins in 3 minutes, 4 distinct users`.
    pub summary: String,
    pub description: String,
    pub recommended_action: String,
    pub tags: Vec<String>,
    pub rule_ids: Vec<String>,
    pub model_version: Option<String>,
    pub anomalies: Vec<AnomalyContext>,
    pub evidence: Vec<EvidenceLine>,
    /// Detections merged into this alert.
    pub detections: usize,
    /// Set when the pattern recurs in the baseline: `seen on 3 of 3
    /// previous Mondays`; the alert was demoted to LOW.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routine: Option<String>,
    /// The windows of accumulated evidence behind a model-driven alert.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<EvidenceWindow>,
    /// A roll-up's sources, each the alert it would have been alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<crate::rollup::RollupMember>,
    /// The verdicts' re-ranker's view, when the model has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reranked: Option<crate::rerank::Reranked>,
    #[serde(skip)]
    pub first: Micros,
    #[serde(skip)]
    pub last: Micros,
}

/// One window of an evidence episode.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceWindow {
    pub entity_kind: EntityKind,
    pub entity: String,
    pub window_start: String,
    /// Surprise of the window against the baseline, in nats.
    pub nats: f64,
}

/// What merging produced besides the alerts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeStats {
    pub rule_hits: usize,
    pub anomalies: usize,
    pub anomalies_corroborating: usize,
    pub anomaly_alerts: usize,
    /// Evidence episodes above their kind's threshold.
    pub episodes_alerting: usize,
    /// Population alerts (many sources against one host), and logins by
    /// their sources.
    pub population_alerts: usize,
    pub population_logins: usize,
    /// Spans of a host whose population statistic passed its threshold.
    pub population_windows: usize,
    /// New-term incidents raised by rarity plus the model's evidence.
    pub rarity_alerts: usize,
    /// Incidents whose rule hits recur in the baseline: demoted to LOW.
    pub routine_demoted: usize,
    pub suppressed_recurring: usize,
    /// New-term incidents whose rarity and evidence stay under the threshold.
    pub uncorroborated_new_terms: usize,
    /// Anomaly-only incidents of entities already unusual in the baseline.
    pub known_unusual: usize,
    pub allowlisted: usize,
    pub below_min_severity: usize,
    /// Rule hits left out of an alert holding a hit of a rule that
    /// supersedes them.
    pub superseded: usize,
    /// Alerts of internet background noise rolled up, and the roll-ups
    /// they became.
    pub rolled_up: usize,
    pub rollups: usize,
    /// Alerts left out by analysts' verdicts (`--feedback`), per verdict.
    pub by_verdict: Vec<crate::feedback::Applied>,
    /// Alerts the verdicts' re-ranker ordered, and those it demoted.
    pub reranked: usize,
    pub demoted: usize,
}

impl MergeStats {
    /// Alerts left out by every verdict together.
    pub fn left_out_by_verdicts(&self) -> usize {
        self.by_verdict.iter().map(|v| v.alerts.len()).sum()
    }
}

#[derive(Debug, Clone)]
struct Incident {
    primary: Primary,
    first: Micros,
    last: Micros,
    hits: Vec<usize>,
    anomalies: Vec<usize>,
    /// Alerting episodes (indices into the input's episodes).
    episodes: Vec<usize>,
    /// An alerting episode of one of its entities corroborates it.
    strong: bool,
    /// Rarity of its new terms and the model's evidence, when they alert.
    rarity: Option<Rarity>,
    routine: Option<String>,
}

impl Incident {
    fn new(primary: Primary, first: Micros, last: Micros) -> Incident {
        Incident {
            primary,
            first,
            last,
            hits: Vec::new(),
            anomalies: Vec::new(),
            episodes: Vec::new(),
            strong: false,
            rarity: None,
            routine: None,
        }
    }

    /// Takes in `from`'s hits and span (the joins before corroboration,
    /// when incidents hold hits only).
    fn absorb(&mut self, from: Incident) {
        self.first = self.first.min(from.first);
        self.last = self.last.max(from.last);
        self.hits.extend(from.hits);
        self.hits.sort_unstable();
    }
}

/// What an incident is about.
#[derive(Debug, Clone)]
enum Primary {
    /// One entity: a rule hit's group or its single source or user, or
    /// the entity of anomalies alone.
    Entity(EntityKind, String),
    /// A hit with no single entity, keyed by its rule.
    Rule(String),
}

impl Primary {
    /// The word of fingerprints and recurring patterns.
    fn word(&self) -> &'static str {
        match self {
            Primary::Entity(kind, _) => kind.field(),
            Primary::Rule(_) => "rule",
        }
    }

    fn value(&self) -> &str {
        match self {
            Primary::Entity(_, v) | Primary::Rule(v) => v,
        }
    }

    fn kind(&self) -> Option<EntityKind> {
        match self {
            Primary::Entity(k, _) => Some(*k),
            Primary::Rule(_) => None,
        }
    }

    /// A public source address.
    fn is_public_source(&self) -> bool {
        matches!(self, Primary::Entity(EntityKind::SourceIp, a) if IpScope::is_public_address(a))
    }
}

/// How titles name an entity kind.
fn kind_label(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::SourceIp => "source ip",
        EntityKind::User => "user",
        EntityKind::Host => "host",
    }
}

fn primary_of(hit: &RuleHit) -> Primary {
    for kind in [EntityKind::SourceIp, EntityKind::User, EntityKind::Host] {
        if let Some((_, v)) = hit.group.iter().find(|(f, _)| f == kind.field()) {
            return Primary::Entity(kind, v.clone());
        }
    }
    if let Some(s) = hit.sources.first().filter(|_| hit.distinct_sources == 1) {
        return Primary::Entity(EntityKind::SourceIp, s.clone());
    }
    if let Some(u) = hit.users.first().filter(|_| hit.distinct_users == 1) {
        return Primary::Entity(EntityKind::User, u.clone());
    }
    Primary::Rule(hit.rule_id.clone())
}

pub(crate) fn fnv64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Merges rule hits, anomalies and evidence episodes into alerts, highest
/// risk first.
pub fn merge(input: &MergeInput, cfg: &AlertConfig) -> (Vec<Alert>, MergeStats) {
    let anomalies = input.anomalies;
    let mut stats = MergeStats {
        rule_hits: input.hits.len(),
        anomalies: anomalies.len(),
        ..Default::default()
    };
    let budget = cfg.alert_budget.unwrap_or(input.calibration.config.alert_budget);
    let threshold = |kind: EntityKind| input.calibration.threshold(kind, budget);
    // 3. Episodes above their kind's threshold.
    let alerting: Vec<usize> = input
        .episodes
        .iter()
        .enumerate()
        .filter(|(_, e)| alerts(input.calibration, e, budget))
        .map(|(i, _)| i)
        .collect();
    stats.episodes_alerting = alerting.len();

    // 4. Population: hits about hosts, and logins by their sources.
    let mut population_hits: Vec<RuleHit> = Vec::new();
    let mut population_episodes = BTreeSet::new();
    let host_episodes: Vec<usize> = alerting
        .iter()
        .copied()
        .filter(|&i| input.episodes[i].entity_kind == EntityKind::Host)
        .collect();
    // Hosts many public sources fail on naming real accounts, more than
    // the budget allows on the baseline (with a model that knows them).
    let population_spans = population_spans(
        input.calibration,
        input.history,
        input.logs.population,
        input.window,
        budget,
        cfg.suppression,
    );
    stats.population_windows = population_spans.len();
    let by_host = policy::events_by_host(
        input.logs.hosts,
        host_episodes
            .iter()
            .map(|&i| input.episodes[i].entity.as_str())
            .chain(population_spans.iter().map(|(h, _, _)| h.as_str())),
    );
    let mut population_done: Vec<(&str, Micros, Micros)> = Vec::new();
    let spans = host_episodes
        .iter()
        .map(|&i| {
            let e = &input.episodes[i];
            (
                Some(i),
                e.entity.as_str(),
                e.episode.first,
                e.episode.last + input.window,
            )
        })
        .chain(population_spans.iter().map(|(h, a, b)| (None, h.as_str(), *a, *b)));
    for (episode, host, first, last) in spans {
        // A span the host's own evidence already made a population of.
        if episode.is_none()
            && population_done
                .iter()
                .any(|&(h, a, b)| h == host && first <= b + cfg.suppression && last + cfg.suppression >= a)
        {
            continue;
        }
        let span = (first, last);
        if let Some((pop, logins)) =
            policy::population(input.logs.hosts, &by_host, host, span, cfg.suppression, input.history)
        {
            if let Some(i) = episode {
                population_episodes.insert(i);
            }
            population_done.push((host, first, last));
            stats.population_alerts += 1;
            stats.population_logins += logins.len();
            population_hits.push(pop);
            population_hits.extend(logins);
        }
    }
    // The rules' hits, copied only when population hits join them.
    let hits: Cow<[RuleHit]> = if population_hits.is_empty() {
        Cow::Borrowed(input.hits)
    } else {
        Cow::Owned(input.hits.iter().cloned().chain(population_hits).collect())
    };
    let hits = &hits[..];

    // 1. Rule hits → incidents per primary entity, chained in time.
    // Keyed by the primary's word: incidents come out in that order.
    let mut by_primary: BTreeMap<(&str, String), (Primary, Vec<usize>)> = BTreeMap::new();
    for (i, h) in hits.iter().enumerate() {
        let primary = primary_of(h);
        let allowed = match &primary {
            Primary::Entity(kind, entity) => cfg.allowlisted(*kind, entity),
            Primary::Rule(_) => false,
        };
        if allowed {
            stats.allowlisted += 1;
            continue;
        }
        by_primary
            .entry((primary.word(), primary.value().to_owned()))
            .or_insert_with(|| (primary, Vec::new()))
            .1
            .push(i);
    }
    let mut incidents: Vec<Incident> = Vec::new();
    for (_, (primary, idx)) in by_primary {
        let spans: Vec<(usize, Micros, Micros)> = idx.iter().map(|&i| (i, hits[i].first, hits[i].last)).collect();
        for (first, last, members) in chain(spans, cfg.suppression) {
            let mut inc = Incident::new(primary.clone(), first, last);
            inc.hits = members;
            incidents.push(inc);
        }
    }

    // New terms of one user around the same time are one incident (about
    // the source when one of them names it): a login's rare terms, a new
    // address and a new hour, add up.
    join_new_terms(&mut incidents, hits, input, cfg.suppression);
    // Accounts created in one burst on a host are one incident with the
    // burst: a script creating ten accounts that then log in is one
    // alert, not eleven.
    join_account_bursts(&mut incidents, hits, input, cfg.suppression);

    // A hit that another rule's hit in the same incident makes redundant
    // is left out.
    for inc in &mut incidents {
        let ids: BTreeSet<&str> = inc.hits.iter().map(|&i| hits[i].rule_id.as_str()).collect();
        let before = inc.hits.len();
        inc.hits.retain(|&i| {
            input
                .rules
                .get(&hits[i].rule_id)
                .is_none_or(|r| !r.superseded_by.iter().any(|s| ids.contains(s.as_str())))
        });
        stats.superseded += before - inc.hits.len();
    }

    // 2. Anomalies corroborate incidents that share an entity and time.
    let shares = |inc: &Incident, kind: EntityKind, entity: &str| {
        inc.hits.iter().any(|&i| {
            let h = &hits[i];
            match kind {
                EntityKind::SourceIp => h.sources.iter().any(|s| s == entity),
                EntityKind::User => h.users.iter().any(|u| u == entity),
                EntityKind::Host => {
                    h.hosts.iter().any(|x| x == entity) && h.distinct_hosts <= cfg.corroborating_host_limit
                }
            }
        })
    };
    let near = |inc: &Incident, first: Micros, last: Micros| {
        first <= inc.last + cfg.suppression && last + cfg.suppression >= inc.first
    };
    for (a_idx, a) in anomalies.iter().enumerate().filter(|(_, a)| a.flagged) {
        let mut attached = false;
        for inc in incidents.iter_mut() {
            if near(inc, a.window_start, a.window_end) && shares(inc, a.entity_kind, &a.entity) {
                inc.anomalies.push(a_idx);
                attached = true;
            }
        }
        if attached {
            stats.anomalies_corroborating += 1;
        }
    }
    // 3. Alerting episodes raise the priority of the incidents they share
    // an entity with; the others are alerts of their own.
    let mut standalone: BTreeMap<(&str, String), Vec<usize>> = BTreeMap::new();
    for &i in &alerting {
        let e = &input.episodes[i];
        let (first, last) = (e.episode.first, e.episode.last + input.window);
        // An entity unusual in the baseline itself (an audit scanner) is
        // no stronger sign now than it was then.
        let known = cfg.unusual_in_baseline(e.entity_kind, &e.entity);
        let mut attached = false;
        for inc in incidents.iter_mut() {
            if near(inc, first, last) && shares(inc, e.entity_kind, &e.entity) {
                inc.strong |= !known;
                inc.episodes.push(i);
                attached = true;
            }
        }
        if attached || population_episodes.contains(&i) {
            continue;
        }
        if cfg.allowlisted(e.entity_kind, &e.entity) {
            stats.allowlisted += 1;
            continue;
        }
        standalone
            .entry((e.entity_kind.as_str(), e.entity.clone()))
            .or_default()
            .push(i);
    }
    // The anomalies of each entity, ascending.
    let mut anomalies_of: FxHashMap<(EntityKind, &str), Vec<usize>> = FxHashMap::default();
    if !standalone.is_empty() {
        for (k, a) in anomalies.iter().enumerate() {
            anomalies_of
                .entry((a.entity_kind, a.entity.as_str()))
                .or_default()
                .push(k);
        }
    }
    for (_, idx) in standalone {
        let e0 = &input.episodes[idx[0]];
        let spans: Vec<(usize, Micros, Micros)> = idx
            .iter()
            .map(|&i| {
                (
                    i,
                    input.episodes[i].episode.first,
                    input.episodes[i].episode.last + input.window,
                )
            })
            .collect();
        for (first, last, members) in chain(spans, cfg.suppression) {
            let mut inc = Incident::new(Primary::Entity(e0.entity_kind, e0.entity.clone()), first, last);
            inc.anomalies = anomalies_of
                .get(&(e0.entity_kind, e0.entity.as_str()))
                .into_iter()
                .flatten()
                .copied()
                .filter(|&k| anomalies[k].window_start >= first && anomalies[k].window_start < last)
                .collect();
            inc.episodes = members;
            incidents.push(inc);
        }
    }

    // The episodes of users and sources a hit names, for the rarity of
    // new terms (which reads those of its incident's hits).
    let mut episodes_of: EpisodesOf = hits
        .iter()
        .flat_map(|h| {
            h.users
                .iter()
                .map(|u| (EntityKind::User, u.as_str()))
                .chain(h.sources.iter().map(|s| (EntityKind::SourceIp, s.as_str())))
        })
        .map(|key| (key, Vec::new()))
        .collect();
    for (i, e) in input.episodes.iter().enumerate() {
        if let Some(v) = episodes_of.get_mut(&(e.entity_kind, e.entity.as_str())) {
            v.push(i);
        }
    }

    // 8. Known recurring noise in the input: same primary and rules,
    // private source, no anomaly, on several days.
    let mut days_by_pattern: BTreeMap<(String, Vec<String>), BTreeSet<i64>> = BTreeMap::new();
    let pattern = |inc: &Incident| -> (String, Vec<String>) {
        let mut rules: Vec<String> = inc.hits.iter().map(|&i| hits[i].rule_id.clone()).collect();
        rules.sort();
        rules.dedup();
        (format!("{}={}", inc.primary.word(), inc.primary.value()), rules)
    };
    for inc in &incidents {
        // Every day the incident covers.
        let days = inc.first.div_euclid(MICROS_PER_DAY)..=inc.last.div_euclid(MICROS_PER_DAY);
        days_by_pattern.entry(pattern(inc)).or_default().extend(days);
    }

    let mut alerts = Vec::new();
    // 9. The host of each alert that is only internet background noise.
    let rolling = cfg.rollup.min_sources > 0 && cfg.min_severity <= Severity::Low;
    let source_facts = if rolling {
        rollup::SourceFacts::of(input.logs.sources)
    } else {
        Default::default()
    };
    let mut background_host: Vec<Option<String>> = Vec::new();
    for inc in &mut incidents {
        let max_rule_sev = inc.hits.iter().map(|&i| hits[i].severity).max();
        let source_primary = inc.primary.kind() == Some(EntityKind::SourceIp);
        let private_primary = source_primary && !IpScope::is_public_address(inc.primary.value());
        let recurring = days_by_pattern.get(&pattern(inc)).map_or(0, BTreeSet::len) >= cfg.recurring_days;
        let weak_rules =
            max_rule_sev.is_some_and(|sev| sev <= Severity::Medium) && (private_primary || !source_primary);
        let public_primary = inc.primary.is_public_source();
        let anomalies_only = inc.hits.is_empty() && !public_primary;
        if recurring && !inc.strong && (weak_rules || anomalies_only) {
            stats.suppressed_recurring += 1;
            continue;
        }
        if inc.hits.is_empty()
            && inc.episodes.iter().all(|&i| {
                let e = &input.episodes[i];
                cfg.unusual_in_baseline(e.entity_kind, &e.entity)
            })
        {
            stats.known_unusual += 1;
            continue;
        }
        // 5. New terms alone are weak (people do log in from new places):
        // they alert when the term's rarity in the baseline and the
        // model's evidence for its entities together pass the threshold.
        if only_new_terms(inc, hits, input) && !inc.strong {
            match rarity(inc, hits, input, &episodes_of, &threshold) {
                Some(r) if r.alerts() => {
                    inc.rarity = Some(r);
                    stats.rarity_alerts += 1;
                }
                _ => {
                    stats.uncorroborated_new_terms += 1;
                    continue;
                }
            }
        }
        // 6. Routine: every rule hit recurs in the baseline.
        if let Some(routine) = input.routine.filter(|_| !inc.hits.is_empty() && !inc.strong) {
            let seen: Option<Vec<String>> = inc
                .hits
                .iter()
                .map(|&i| routine.matches(&hits[i], &cfg.routine).map(|m| m.to_string()))
                .collect();
            if let Some(mut seen) = seen {
                seen.sort();
                seen.dedup();
                inc.routine = Some(seen.join("; "));
                stats.routine_demoted += 1;
            }
        }
        let alert = build_alert(inc, hits, input, cfg, budget);
        if alert.severity < cfg.min_severity {
            stats.below_min_severity += 1;
            continue;
        }
        if inc.hits.is_empty() {
            stats.anomaly_alerts += 1;
        }
        background_host.push(
            rolling
                .then(|| rollup::member_of(&alert, inc.strong, &cfg.rollup, &source_facts))
                .flatten(),
        );
        alerts.push(alert);
    }
    let before = alerts.len();
    let (alerts, rolled_up) = rollup::roll_up(alerts, &background_host, &cfg.rollup);
    stats.rolled_up = rolled_up;
    stats.rollups = alerts.len() + rolled_up - before;
    // 10. Verdicts: alerts matching an analyst's false-positive or benign
    // verdict are left out, and counted per verdict.
    let (mut alerts, by_verdict) = crate::feedback::apply(&cfg.feedback, alerts);
    stats.by_verdict = by_verdict;
    // 11. Re-ranking: the verdicts' re-ranker orders the alerts by severity
    // and its probability, and demotes the unlikely ones to the end.
    if let Some(r) = &cfg.rerank {
        stats.demoted = crate::rerank::apply(&mut alerts, r);
        stats.reranked = alerts.len();
    }
    alerts.sort_by(|a, b| match (&a.reranked, &b.reranked) {
        (Some(ra), Some(rb)) => ra
            .demoted()
            .cmp(&rb.demoted())
            .then(b.severity.cmp(&a.severity))
            .then(rb.true_positive_probability.total_cmp(&ra.true_positive_probability))
            .then(b.risk_score.cmp(&a.risk_score))
            .then(a.first.cmp(&b.first))
            .then(a.id.cmp(&b.id)),
        _ => b
            .risk_score
            .cmp(&a.risk_score)
            .then(b.severity.cmp(&a.severity))
            .then(a.first.cmp(&b.first))
            .then(a.id.cmp(&b.id)),
    });
    (alerts, stats)
}

/// Whether an incident is new-term hits only.
fn only_new_terms(inc: &Incident, hits: &[RuleHit], input: &MergeInput) -> bool {
    !inc.hits.is_empty()
        && inc.hits.iter().all(|&i| {
            input
                .rules
                .get(&hits[i].rule_id)
                .is_some_and(|r| r.kind == Kind::NewTerm)
        })
}

/// ATT&CK technique of rules about account creation (T1136.001, Create
/// Account: Local Account).
const CREATE_ACCOUNT_TAG: &str = "attack.t1136.001";

/// Moves each incident about a user with a hit of an account-creation rule
/// ([`CREATE_ACCOUNT_TAG`]: a new account put in a privileged group, or
/// used from the internet) into the incident about a host holding a burst
/// of account changes (a host-grouped hit of such a rule) that names the
/// user, when that hit starts within the burst (± `gap`) on its host. The
/// user's other hits move with it: nothing is dropped.
fn join_account_bursts(incidents: &mut Vec<Incident>, hits: &[RuleHit], input: &MergeInput, gap: Micros) {
    let creates = |i: usize| {
        input
            .rules
            .get(&hits[i].rule_id)
            .is_some_and(|r| r.tags.iter().any(|t| t == CREATE_ACCOUNT_TAG))
    };
    let bursts: Vec<(usize, usize)> = incidents
        .iter()
        .enumerate()
        .filter(|(_, inc)| inc.primary.kind() == Some(EntityKind::Host))
        .flat_map(|(j, inc)| inc.hits.iter().map(move |&h| (j, h)))
        .filter(|&(_, h)| creates(h) && hits[h].group.iter().any(|(k, _)| k == "host"))
        .collect();
    if bursts.is_empty() {
        return;
    }
    let mut moves: Vec<(usize, usize)> = Vec::new();
    for (i, inc) in incidents.iter().enumerate() {
        let Primary::Entity(EntityKind::User, user) = &inc.primary else {
            continue;
        };
        let created: Vec<usize> = inc.hits.iter().copied().filter(|&h| creates(h)).collect();
        let into = bursts.iter().find(|&&(_, b)| {
            let b = &hits[b];
            b.users.iter().any(|u| u == user)
                && created.iter().any(|&h| {
                    hits[h].first + gap >= b.first
                        && hits[h].first <= b.last + gap
                        && hits[h].hosts.iter().any(|x| b.hosts.contains(x))
                })
        });
        if let Some(&(j, _)) = into {
            moves.push((i, j));
        }
    }
    let mut taken: Vec<Option<Incident>> = incidents.drain(..).map(Some).collect();
    for &(i, j) in &moves {
        let from = taken[i].take().expect("an incident moves once");
        taken[j].as_mut().expect("a burst's incident is not moved").absorb(from);
    }
    incidents.extend(taken.into_iter().flatten());
}

/// Moves each new-term-only incident about a user into a new-term-only
/// incident about a source that names the same user within `gap` (the
/// nearest in time), so one login's new terms are judged together.
fn join_new_terms(incidents: &mut Vec<Incident>, hits: &[RuleHit], input: &MergeInput, gap: Micros) {
    let users = |inc: &Incident| -> BTreeSet<&str> {
        inc.hits
            .iter()
            .flat_map(|&i| hits[i].users.iter().map(String::as_str))
            .collect()
    };
    let mut i = 0;
    while i < incidents.len() {
        let from = &incidents[i];
        if from.primary.kind() != Some(EntityKind::User) || !only_new_terms(from, hits, input) {
            i += 1;
            continue;
        }
        let mine = users(from);
        let into = incidents
            .iter()
            .enumerate()
            .filter(|(j, to)| {
                *j != i
                    && to.primary.kind() == Some(EntityKind::SourceIp)
                    && to.first <= from.last + gap
                    && to.last + gap >= from.first
                    && only_new_terms(to, hits, input)
                    && !users(to).is_disjoint(&mine)
            })
            .min_by_key(|(_, to)| (to.first - from.first).abs())
            .map(|(j, _)| j);
        match into {
            Some(j) => {
                let from = incidents.remove(i);
                incidents[if j > i { j - 1 } else { j }].absorb(from);
            }
            None => i += 1,
        }
    }
}

/// Why new-term hits alert: their rarity in the baseline and the model's
/// evidence around them against the threshold.
#[derive(Debug, Clone, PartialEq)]
struct Rarity {
    /// Per new-term rule, the rarest of its terms.
    terms: Vec<(String, TermRarity)>,
    /// The strongest evidence episode of the hits' entities around them.
    model: f64,
    threshold: f64,
}

impl Rarity {
    /// The terms' rarity together ([`Novelty::combined`]).
    fn term_nats(&self) -> f64 {
        Novelty::combined(self.terms.iter().map(|(_, t)| *t))
    }

    fn alerts(&self) -> bool {
        self.term_nats() + self.model > self.threshold
    }
}

/// Indices of the input's episodes per user and source a hit names.
type EpisodesOf<'a> = FxHashMap<(EntityKind, &'a str), Vec<usize>>;

/// A new-term incident's rarity: per rule the rarest of its terms in the
/// baseline (nats), the strongest evidence episode of its users and
/// sources around it (`episodes_of`; a host's evidence is about everyone
/// on the host), and the threshold of the user kind (or of the primary's).
fn rarity(
    inc: &Incident,
    hits: &[RuleHit],
    input: &MergeInput,
    episodes_of: &EpisodesOf,
    threshold: &dyn Fn(EntityKind) -> Option<f64>,
) -> Option<Rarity> {
    let novelty = input.novelty?;
    let mut terms: BTreeMap<&str, TermRarity> = BTreeMap::new();
    for &i in &inc.hits {
        let h = &hits[i];
        let Some(Logic::NewTerm(nt)) = input.rules.get(&h.rule_id).map(|r| &r.kind) else {
            continue;
        };
        let parts: Vec<&str> = h.group.iter().map(|(_, v)| v.as_str()).collect();
        if let Some(t) = novelty.term(nt, &parts) {
            let rarest = terms.entry(h.rule_id.as_str()).or_insert(t);
            if t.nats > rarest.nats {
                *rarest = t;
            }
        }
    }
    if terms.is_empty() {
        return None;
    }
    let entities: BTreeSet<(EntityKind, &str)> = inc
        .hits
        .iter()
        .flat_map(|&i| {
            let h = &hits[i];
            h.users
                .iter()
                .map(|u| (EntityKind::User, u.as_str()))
                .chain(h.sources.iter().map(|s| (EntityKind::SourceIp, s.as_str())))
        })
        .collect();
    let model = entities
        .iter()
        .flat_map(|key| episodes_of.get(key).into_iter().flatten())
        .map(|&i| &input.episodes[i])
        .filter(|e| e.episode.first <= inc.last && e.episode.last + input.window >= inc.first)
        .map(|e| e.episode.peak)
        .fold(0.0, f64::max);
    let kind = inc.primary.kind().unwrap_or(EntityKind::User);
    let threshold = threshold(EntityKind::User).or_else(|| threshold(kind))?;
    Some(Rarity {
        terms: terms.into_iter().map(|(id, n)| (id.to_owned(), n)).collect(),
        model,
        threshold,
    })
}

fn build_alert(inc: &Incident, hits: &[RuleHit], input: &MergeInput, cfg: &AlertConfig, budget: f64) -> Alert {
    let (anomalies, rules, file_names) = (input.anomalies, input.rules, input.file_names);
    let mut sources = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    let mut users = BTreeSet::new();
    let mut rule_ids: Vec<String> = Vec::new();
    let mut tags = BTreeSet::new();
    let mut summaries = Vec::new();
    let mut descriptions = Vec::new();
    let mut actions = Vec::new();
    let mut events = 0;
    let mut severity = Severity::Low;
    let mut places: Vec<(FileId, u64)> = Vec::new();
    let mut first = inc.first;
    let mut last = inc.last;
    for &i in &inc.hits {
        let h = &hits[i];
        sources.extend(h.sources.iter().cloned());
        hosts.extend(h.hosts.iter().cloned());
        users.extend(h.users.iter().cloned());
        events += h.count;
        severity = severity.max(h.severity);
        first = first.min(h.first);
        last = last.max(h.last);
        places.extend(h.evidence.iter().copied());
        if !rule_ids.contains(&h.rule_id) {
            rule_ids.push(h.rule_id.clone());
            if let Some(rule) = rules.get(&h.rule_id) {
                tags.extend(rule.tags.iter().cloned());
                descriptions.push(format!("{}: {}", rule.name, rule.description));
                actions.push(rule.recommended_action.clone());
            } else if let Some(rule) = PolicyRule::get(&h.rule_id) {
                tags.extend(rule.tags.iter().map(|t| t.to_string()));
                descriptions.push(format!("{}: {}", rule.name, rule.description));
                actions.push(rule.recommended_action.to_owned());
            }
        }
        summaries.push(h.summary.clone());
    }
    let mut anomaly_ctx = Vec::new();
    let mut best_anomaly: f64 = 0.0;
    for &a in &inc.anomalies {
        let an = &anomalies[a];
        best_anomaly = best_anomaly.max(an.score);
        match an.entity_kind {
            EntityKind::SourceIp => {
                sources.insert(an.entity.clone());
            }
            EntityKind::User => {
                users.insert(an.entity.clone());
            }
            EntityKind::Host => {
                hosts.insert(an.entity.clone());
            }
        }
        anomaly_ctx.push(AnomalyContext {
            entity_kind: an.entity_kind,
            entity: an.entity.clone(),
            window_start: format_rfc3339(an.window_start),
            score: an.score,
            explanation: an.explanation.clone(),
        });
    }
    anomaly_ctx.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.window_start.cmp(&b.window_start)));
    anomaly_ctx.truncate(5);

    let entity = inc.primary.value();
    let label = inc.primary.kind().map_or("rule", kind_label);
    // The windows of the evidence episodes behind it.
    let mut windows = Vec::new();
    let mut peak: f64 = 0.0;
    let mut baseline_stronger = usize::MAX;
    let mut episode_threshold: f64 = 0.0;
    for &i in &inc.episodes {
        let e = &input.episodes[i];
        match e.entity_kind {
            EntityKind::SourceIp => sources.insert(e.entity.clone()),
            EntityKind::User => users.insert(e.entity.clone()),
            EntityKind::Host => hosts.insert(e.entity.clone()),
        };
        peak = peak.max(e.episode.peak);
        if let (Some(k), Some(h)) = (
            input.calibration.kind(e.entity_kind),
            input.calibration.threshold(e.entity_kind, budget),
        ) {
            baseline_stronger = baseline_stronger.min(k.stronger_in_baseline(e.episode.peak));
            episode_threshold = episode_threshold.max(h);
        }
        windows.extend(e.episode.windows.iter().map(|&(start, nats)| EvidenceWindow {
            entity_kind: e.entity_kind,
            entity: e.entity.clone(),
            window_start: format_rfc3339(start),
            nats,
        }));
    }
    let title = if inc.hits.is_empty() {
        let top = anomaly_ctx
            .first()
            .and_then(|a| a.explanation.first())
            .cloned()
            .unwrap_or_default();
        // Stronger than every episode of the baseline's replay: MEDIUM.
        severity = if baseline_stronger == 0 {
            Severity::Medium
        } else {
            Severity::Low
        };
        rule_ids.push(PolicyRule::ACCUMULATED.id.to_owned());
        descriptions.push(format!(
            "Over {} windows the behaviour of {label} {entity} was unusual enough to accumulate {peak:.1} nats of \
             evidence; the alert budget ({budget} per 1,000 entity-days) sets the threshold at {episode_threshold:.1} \
             nats, and {} of the baseline's own episodes reached as much.",
            windows.len(),
            if baseline_stronger == usize::MAX {
                "none".to_owned()
            } else {
                baseline_stronger.to_string()
            }
        ));
        actions.push(PolicyRule::ACCUMULATED.recommended_action.to_owned());
        summaries.push(format!(
            "{} unusual windows, {peak:.1} nats (threshold {episode_threshold:.1}){}",
            windows.len(),
            if top.is_empty() {
                String::new()
            } else {
                format!(": {top}")
            }
        ));
        format!("Unusual activity of {label} {entity}")
    } else {
        let names: Vec<String> = rule_ids
            .iter()
            .map(|id| {
                rules
                    .get(id)
                    .map(|r| r.name.clone())
                    .or_else(|| PolicyRule::get(id).map(|r| r.name.to_owned()))
                    .unwrap_or_else(|| id.clone())
            })
            .collect();
        let what = match inc.primary {
            Primary::Rule(_) => String::new(),
            Primary::Entity(EntityKind::SourceIp, _) => format!(" from {entity}"),
            Primary::Entity(..) => format!(" for {label} {entity}"),
        };
        let targets = if hosts.len() > 1 {
            format!(" against {} hosts", hosts.len())
        } else {
            String::new()
        };
        format!("{}{what}{targets}", names.join(" + "))
    };
    if let Some(r) = &inc.rarity {
        rule_ids.push(PolicyRule::RARITY.id.to_owned());
        let chances: Vec<String> = r
            .terms
            .iter()
            .map(|(id, t)| format!("{id} {:.2}% ({:.1} nats)", 100.0 * (-t.nats).exp(), t.nats))
            .collect();
        let terms = if r.terms.len() > 1 {
            format!(
                "such new terms had chances of {}, together {:.1} nats",
                chances.join(" and "),
                r.term_nats()
            )
        } else {
            format!("such a new term had a chance of {}", chances.join(""))
        };
        descriptions.push(format!(
            "In the baseline {terms}; with the model's evidence for its entities ({:.1} nats) the total passes the \
             alert budget's threshold of {:.1} nats.",
            r.model, r.threshold
        ));
        tags.extend(PolicyRule::RARITY.tags.iter().map(|t| t.to_string()));
    }
    // An alerting evidence episode of one of its entities raises the
    // priority of rule alerts.
    if !inc.hits.is_empty() && inc.strong && severity < Severity::Critical {
        severity = match severity {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            s => s,
        };
        descriptions.push(format!(
            "The model's evidence for it passes the alert budget's threshold ({peak:.1} nats, threshold \
             {episode_threshold:.1})."
        ));
    }
    // Routine: demoted, labelled, kept.
    let title = match &inc.routine {
        Some(seen) => {
            severity = Severity::Low;
            tags.insert("routine".to_owned());
            descriptions.push(format!(
                "Routine: this pattern recurs in the baseline ({seen}); demoted to LOW."
            ));
            format!("Routine: {title}")
        }
        None => title,
    };
    let base: u32 = match severity {
        Severity::Low => 20,
        Severity::Medium => 45,
        Severity::High => 70,
        Severity::Critical => 90,
    };
    let mut risk = base;
    if !inc.anomalies.is_empty() {
        risk += (10.0 * best_anomaly).round() as u32;
    }
    risk += (hosts.len().saturating_sub(1) as u32 * 2).min(8);
    if sources.iter().any(|s| IpScope::is_public_address(s)) {
        risk += 2;
    }
    let risk_score = risk.min(100) as u8;

    // Rule hits name their events; an alert of anomalies alone shows the
    // lines its windows kept. Either way in input order (file, line).
    if places.is_empty() {
        places.extend(
            inc.anomalies
                .iter()
                .flat_map(|&a| anomalies[a].evidence.iter().copied()),
        );
    }
    places.sort_unstable();
    places.dedup();
    let evidence = spread(&places, cfg.evidence_lines)
        .into_iter()
        .map(|(file, line)| EvidenceLine {
            file: file_names.get(file as usize).cloned().unwrap_or_default(),
            line,
            raw: String::new(),
            file_id: file,
        })
        .collect();

    let mut fp_rules = rule_ids.clone();
    fp_rules.sort();
    let first_hour = (first.div_euclid(MICROS_PER_HOUR)).to_string();
    let fingerprint = format!(
        "{:016x}",
        fnv64(&[inc.primary.word(), entity, &fp_rules.join(","), &first_hour])
    );
    actions.dedup();
    Alert {
        id: format!("LLX-{}", &fingerprint[..12]),
        fingerprint,
        primary: format!("{}={}", inc.primary.word(), inc.primary.value()),
        title,
        severity,
        risk_score,
        first_seen: format_rfc3339(first),
        last_seen: format_rfc3339(last),
        source_ips: sources.into_iter().collect(),
        target_hosts: hosts.into_iter().collect(),
        users: users.into_iter().collect(),
        events,
        summary: {
            summaries.dedup();
            let n = summaries.len();
            let mut s: Vec<String> = summaries.into_iter().take(3).collect();
            if n > 3 {
                s.push(format!("and {} more detections", n - 3));
            }
            s.join("; ")
        },
        description: descriptions.join(" "),
        recommended_action: actions.join(" "),
        tags: tags.into_iter().collect(),
        rule_ids,
        model_version: if inc.anomalies.is_empty() && inc.episodes.is_empty() && inc.rarity.is_none() {
            None
        } else {
            cfg.model_version.clone()
        },
        anomalies: anomaly_ctx,
        evidence,
        detections: inc.hits.len() + inc.anomalies.len(),
        routine: inc.routine.clone(),
        windows,
        members: Vec::new(),
        reranked: None,
        first,
        last,
    }
}

/// A minimal alert about `primary` with `rules`, starting at `first`.
#[cfg(test)]
pub(crate) fn test_alert(primary: &str, rules: &[&str], first: Micros) -> Alert {
    Alert {
        id: format!("LLX-{primary}"),
        fingerprint: String::new(),
        primary: primary.into(),
        title: String::new(),
        severity: Severity::Low,
        risk_score: 30,
        first_seen: String::new(),
        last_seen: String::new(),
        source_ips: vec![],
        target_hosts: vec![],
        users: vec![],
        events: 1,
        summary: String::new(),
        description: String::new(),
        recommended_action: String::new(),
        tags: vec![],
        rule_ids: rules.iter().map(|r| r.to_string()).collect(),
        model_version: None,
        anomalies: vec![],
        evidence: vec![],
        detections: 1,
        routine: None,
        windows: vec![],
        members: vec![],
        reranked: None,
        first,
        last: first,
    }
}

/// Groups `(item, first, last)` spans that follow each other within `gap`
/// into chains `(first, last, items)`, in time order.
fn chain(mut spans: Vec<(usize, Micros, Micros)>, gap: Micros) -> Vec<(Micros, Micros, Vec<usize>)> {
    spans.sort_by_key(|&(i, first, last)| (first, last, i));
    let mut out: Vec<(Micros, Micros, Vec<usize>)> = Vec::new();
    for (item, first, last) in spans {
        match out.last_mut() {
            Some(c) if first <= c.1 + gap => {
                c.1 = c.1.max(last);
                c.2.push(item);
            }
            _ => out.push((first, last, vec![item])),
        }
    }
    out
}

/// At most `n` items, evenly spread, always keeping the first and last.
fn spread<T: Copy>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n || n == 0 {
        return items.iter().copied().take(n).collect();
    }
    if n == 1 {
        return vec![items[0]];
    }
    (0..n).map(|k| items[k * (items.len() - 1) / (n - 1)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_keeps_ends() {
        assert_eq!(spread(&[1, 2, 3], 5), vec![1, 2, 3]);
        assert_eq!(spread(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4), vec![0, 3, 6, 9]);
        assert_eq!(spread(&[4, 5], 0), Vec::<usize>::new());
    }

    #[test]
    fn spans_chain_within_the_gap() {
        let c = chain(vec![(0, 0, 10), (1, 15, 20), (2, 100, 110), (3, 5, 8)], 5);
        assert_eq!(c, vec![(0, 20, vec![0, 3, 1]), (100, 110, vec![2])]);
    }

    #[test]
    fn fingerprints_are_stable() {
        assert_eq!(fnv64(&["source", "203.0.113.9"]), fnv64(&["source", "203.0.113.9"]));
        assert_ne!(fnv64(&["a", "bc"]), fnv64(&["ab", "c"]));
    }
}

#[cfg(test)]
#[path = "alerts_policy_tests.rs"]
mod policy_tests;
