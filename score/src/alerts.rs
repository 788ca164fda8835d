//! Rule hits and anomalous entity-windows merged into few, prioritized,
//! explained alerts.
//!
//! 1. Every rule hit becomes a detection keyed by its primary entity: the
//!    source address when the rule groups by one, else the user, else the
//!    host. Detections of one primary entity whose spans lie within the
//!    suppression window of each other chain into one incident, so an
//!    attacker seen across several hosts is one alert listing every target,
//!    and repeats update the alert instead of adding new ones.
//! 2. Anomalous windows that share an entity (the source, a user or a host
//!    of an incident) and time with an incident corroborate it: its risk
//!    rises and the explanation joins the alert.
//! 3. Anomalies that corroborate nothing become alerts of their own only
//!    when a security-relevant feature drives them (failures, invalid
//!    users, new sources, sudo failures, account changes, …).
//! 4. Incidents made only of new-term hits (a user from a new address, on
//!    a new host) alert only when a strong anomaly of the same entity
//!    corroborates them.
//! 5. Anomalies alone of an entity that the model already flagged in its
//!    own baseline (a jump host, a busy service account) are its normal.
//! 6. An incident of LOW or MEDIUM rule hits from a private address (or
//!    anomalies alone of an internal entity) that recurs on several days
//!    is known noise (a script that fails every morning): it is suppressed
//!    and counted. The model cannot tell: against the whole population
//!    such a script stays rare, every day.

use std::collections::{BTreeMap, BTreeSet};

use loglynx_features::aggregate::enrich::{Allowlist, IpScope};
use loglynx_features::aggregate::registry::{self, EntityKind, FeatureId, Tag};
use loglynx_features::event::{parse_ip, FileId, Micros};
use loglynx_features::output::compact::CompactLog;
use loglynx_features::time::{format_rfc3339, MICROS_PER_DAY, MICROS_PER_HOUR};
use serde::Serialize;

use crate::rules::{Kind, RuleHit, RuleSet, Severity};

/// How detections become alerts.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Detections of one entity closer than this merge into one alert.
    pub suppression: Micros,
    /// Raw log lines kept per alert.
    pub evidence_lines: usize,
    /// Smallest combined anomaly score (0–1) for an alert made of anomalies
    /// alone.
    pub anomaly_alert_score: f64,
    /// Smallest score for an anomaly-only alert on a public source address
    /// whose failures, invalid users or user names exceed the baseline p99
    /// (a slow brute force stays under rule thresholds by design).
    pub public_source_score: f64,
    /// Days on which a private-source, low/medium rule pattern must recur
    /// (without anomaly) to count as known noise.
    pub recurring_days: usize,
    pub allowlist: Allowlist,
    /// Alerts below this severity are dropped.
    pub min_severity: Severity,
    /// Model bundle identity, recorded in alerts.
    pub model_version: Option<String>,
    /// Entities (by kind) the model flagged in its own baseline: their
    /// anomalies alone do not alert.
    pub baseline_anomalous: BTreeMap<EntityKind, BTreeSet<String>>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            suppression: MICROS_PER_HOUR,
            evidence_lines: 5,
            anomaly_alert_score: 0.999,
            public_source_score: 0.98,
            recurring_days: 3,
            allowlist: Allowlist::default(),
            min_severity: Severity::Low,
            model_version: None,
            baseline_anomalous: BTreeMap::new(),
        }
    }
}

/// One scored entity-window that the model flagged.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub entity_kind: EntityKind,
    pub entity: String,
    pub window_start: Micros,
    pub window_end: Micros,
    /// Combined calibrated score, 0–1.
    pub score: f64,
    /// `failures = 27 (baseline p99 = 2)`, most important first.
    pub explanation: Vec<String>,
    /// The features behind the explanation, same order.
    pub drivers: Vec<Driver>,
    /// Above the model's alert threshold (else only near it, see
    /// [`AlertConfig::public_source_score`]).
    pub flagged: bool,
    /// The window has a successful login or session of this entity (users).
    pub account_used: bool,
    /// `(file, line)` of the window's first lines and its latest, in input order.
    pub evidence: Vec<(FileId, u64)>,
}

/// One feature behind an anomaly.
#[derive(Debug, Clone, Serialize)]
pub struct Driver {
    pub feature: String,
    pub value: f64,
    pub baseline_p99: f64,
}

impl Driver {
    /// A security-relevant feature well above its baseline: more than
    /// twice its p99 plus one (so one stray sudo typo is not a signal).
    pub fn is_security_signal(&self) -> bool {
        registry::is_tagged(&self.feature, Tag::Security) && self.value > 2.0 * self.baseline_p99 + 1.0
    }

    /// Failed credentials well above the baseline.
    pub fn is_failure_signal(&self) -> bool {
        self.feature == registry::FEATURES[FeatureId::Failures as usize].name
            && self.value > 2.0 * self.baseline_p99 + 1.0
    }
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
    #[serde(skip)]
    pub first: Micros,
    #[serde(skip)]
    pub last: Micros,
}

/// What merging produced besides the alerts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeStats {
    pub rule_hits: usize,
    pub anomalies: usize,
    pub anomalies_corroborating: usize,
    pub anomaly_alerts: usize,
    pub suppressed_recurring: usize,
    /// New-term incidents without a strong anomaly of the same entity.
    pub uncorroborated_new_terms: usize,
    /// Anomaly-only incidents of entities already unusual in the baseline.
    pub known_unusual: usize,
    pub allowlisted: usize,
    pub below_min_severity: usize,
}

#[derive(Debug, Clone)]
struct Incident {
    primary: Primary,
    first: Micros,
    last: Micros,
    hits: Vec<usize>,
    anomalies: Vec<usize>,
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
            Primary::Entity(EntityKind::SourceIp, _) => "source",
            Primary::Entity(EntityKind::User, _) => "user",
            Primary::Entity(EntityKind::Host, _) => "host",
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
        matches!(self, Primary::Entity(EntityKind::SourceIp, a) if is_public(a))
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
    for (field, kind) in [
        ("source", EntityKind::SourceIp),
        ("user", EntityKind::User),
        ("host", EntityKind::Host),
    ] {
        if let Some((_, v)) = hit.group.iter().find(|(f, _)| f == field) {
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

fn is_public(addr: &str) -> bool {
    parse_ip(addr).is_some_and(|ip| IpScope::of(ip) == IpScope::Public)
}

fn fnv64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Merges rule hits and anomalies into alerts, highest risk first.
pub fn merge(
    hits: &[RuleHit],
    anomalies: &[Anomaly],
    rules: &RuleSet,
    log: &CompactLog,
    file_names: &[String],
    cfg: &AlertConfig,
) -> (Vec<Alert>, MergeStats) {
    let mut stats = MergeStats {
        rule_hits: hits.len(),
        anomalies: anomalies.len(),
        ..Default::default()
    };

    // 1. Rule hits → incidents per primary entity, chained in time.
    // Keyed by the primary's word: incidents come out in that order.
    let mut by_primary: BTreeMap<(&str, String), (Primary, Vec<usize>)> = BTreeMap::new();
    for (i, h) in hits.iter().enumerate() {
        let primary = primary_of(h);
        let allowed = match &primary {
            Primary::Entity(EntityKind::SourceIp, a) => cfg.allowlist.allows(parse_ip(a), None),
            Primary::Entity(EntityKind::User, u) => cfg.allowlist.allows(None, Some(u)),
            _ => false,
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
            incidents.push(Incident {
                primary: primary.clone(),
                first,
                last,
                hits: members,
                anomalies: vec![],
            });
        }
    }

    // 2. Anomalies corroborate incidents that share an entity and time.
    let mut standalone: Vec<usize> = Vec::new();
    for (a_idx, a) in anomalies.iter().enumerate() {
        let mut attached = false;
        for inc in incidents.iter_mut().filter(|_| a.flagged) {
            if a.window_start > inc.last + cfg.suppression || a.window_end + cfg.suppression < inc.first {
                continue;
            }
            let shares = inc.hits.iter().any(|&i| {
                let h = &hits[i];
                match a.entity_kind {
                    EntityKind::SourceIp => h.sources.contains(&a.entity),
                    EntityKind::User => h.users.contains(&a.entity),
                    EntityKind::Host => h.hosts.contains(&a.entity) && h.distinct_hosts <= 3,
                }
            });
            if shares {
                inc.anomalies.push(a_idx);
                attached = true;
            }
        }
        if attached {
            stats.anomalies_corroborating += 1;
        } else if standalone_worthy(a, cfg) {
            let allowed = match a.entity_kind {
                EntityKind::SourceIp => cfg.allowlist.allows(parse_ip(&a.entity), None),
                EntityKind::User => cfg.allowlist.allows(None, Some(&a.entity)),
                EntityKind::Host => false,
            };
            if allowed {
                stats.allowlisted += 1;
            } else {
                standalone.push(a_idx);
            }
        }
    }
    // 3. Standalone anomalies chain per entity.
    // Keyed by the kind's name: alerts come out in that order.
    let mut by_entity: BTreeMap<(&str, String), Vec<usize>> = BTreeMap::new();
    for a in standalone {
        let an = &anomalies[a];
        by_entity
            .entry((an.entity_kind.as_str(), an.entity.clone()))
            .or_default()
            .push(a);
    }
    for (primary, idx) in by_entity {
        let spans: Vec<(usize, Micros, Micros)> = idx
            .iter()
            .map(|&a| (a, anomalies[a].window_start, anomalies[a].window_end))
            .collect();
        for (first, last, members) in chain(spans, cfg.suppression) {
            incidents.push(Incident {
                primary: Primary::Entity(anomalies[idx[0]].entity_kind, primary.1.clone()),
                first,
                last,
                hits: vec![],
                anomalies: members,
            });
        }
    }

    // 4. Known recurring noise: same primary and rules, private source, no
    // anomaly, on several days.
    let mut days_by_pattern: BTreeMap<(String, Vec<String>), BTreeSet<i64>> = BTreeMap::new();
    let pattern = |inc: &Incident| -> (String, Vec<String>) {
        let mut rules: Vec<String> = inc.hits.iter().map(|&i| hits[i].rule_id.clone()).collect();
        rules.sort();
        rules.dedup();
        (format!("{}={}", inc.primary.word(), inc.primary.value()), rules)
    };
    for inc in &incidents {
        days_by_pattern
            .entry(pattern(inc))
            .or_default()
            .insert(inc.first.div_euclid(MICROS_PER_DAY));
    }

    let mut alerts = Vec::new();
    for inc in &incidents {
        let max_rule_sev = inc.hits.iter().map(|&i| hits[i].severity).max();
        let source_primary = inc.primary.kind() == Some(EntityKind::SourceIp);
        let private_primary = source_primary && !is_public(inc.primary.value());
        let recurring = days_by_pattern.get(&pattern(inc)).map_or(0, BTreeSet::len) >= cfg.recurring_days;
        let weak_rules =
            max_rule_sev.is_some_and(|sev| sev <= Severity::Medium) && (private_primary || !source_primary);
        let public_primary = inc.primary.is_public_source();
        let anomalies_only = inc.hits.is_empty() && !public_primary;
        if recurring && (weak_rules || anomalies_only) {
            stats.suppressed_recurring += 1;
            continue;
        }
        if inc.hits.is_empty()
            && inc.anomalies.iter().all(|&a| {
                let an = &anomalies[a];
                cfg.baseline_anomalous
                    .get(&an.entity_kind)
                    .is_some_and(|set| set.contains(&an.entity))
            })
        {
            stats.known_unusual += 1;
            continue;
        }
        // New terms alone are weak (people do log in from new places): they
        // alert only when the model independently finds the entity unusual.
        let only_new_terms = !inc.hits.is_empty()
            && inc
                .hits
                .iter()
                .all(|&i| rules.get(&hits[i].rule_id).is_some_and(|r| r.kind == Kind::NewTerm));
        let own_anomaly = |a: &Anomaly| match &inc.primary {
            Primary::Entity(kind @ (EntityKind::SourceIp | EntityKind::User), e) => {
                a.entity_kind == *kind && a.entity == *e
            }
            _ => false,
        } || (a.entity_kind == EntityKind::User && inc.hits.iter().any(|&i| hits[i].users.contains(&a.entity)));
        if only_new_terms
            && !inc
                .anomalies
                .iter()
                .any(|&a| own_anomaly(&anomalies[a]) && standalone_worthy(&anomalies[a], cfg))
        {
            stats.uncorroborated_new_terms += 1;
            continue;
        }
        let alert = build_alert(inc, hits, anomalies, rules, log, file_names, cfg);
        if alert.severity < cfg.min_severity {
            stats.below_min_severity += 1;
            continue;
        }
        if inc.hits.is_empty() {
            stats.anomaly_alerts += 1;
        }
        alerts.push(alert);
    }
    alerts.sort_by(|a, b| {
        b.risk_score
            .cmp(&a.risk_score)
            .then(b.severity.cmp(&a.severity))
            .then(a.first.cmp(&b.first))
            .then(a.id.cmp(&b.id))
    });
    (alerts, stats)
}

#[allow(clippy::too_many_arguments)]
fn build_alert(
    inc: &Incident,
    hits: &[RuleHit],
    anomalies: &[Anomaly],
    rules: &RuleSet,
    log: &CompactLog,
    file_names: &[String],
    cfg: &AlertConfig,
) -> Alert {
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
    let mut evidence_idx: Vec<usize> = Vec::new();
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
        evidence_idx.extend(h.evidence.iter().copied());
        if !rule_ids.contains(&h.rule_id) {
            rule_ids.push(h.rule_id.clone());
            if let Some(rule) = rules.get(&h.rule_id) {
                tags.extend(rule.tags.iter().cloned());
                descriptions.push(format!("{}: {}", rule.name, rule.description));
                actions.push(rule.recommended_action.clone());
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
    let title = if inc.hits.is_empty() {
        let top = anomaly_ctx
            .first()
            .and_then(|a| a.explanation.first())
            .cloned()
            .unwrap_or_default();
        severity = if best_anomaly >= 0.9999 {
            Severity::Medium
        } else {
            Severity::Low
        };
        descriptions.push(format!(
            "The behaviour of {} {entity} is rarer than {:.2}% of the baseline windows of its kind.",
            label,
            100.0 * best_anomaly
        ));
        actions.push(format!(
            "Review the activity of {label} {entity} in this period with its owner; confirm or dismiss it as a verdict."
        ));
        summaries.push(format!("anomalous {} windows: {top}", inc.anomalies.len()));
        format!("Unusual activity of {label} {entity}")
    } else {
        let names: Vec<String> = rule_ids
            .iter()
            .map(|id| rules.get(id).map(|r| r.name.clone()).unwrap_or_else(|| id.clone()))
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
    // Corroboration by the model raises the priority of rule alerts.
    if !inc.hits.is_empty() && best_anomaly > 0.0 && severity < Severity::Critical && best_anomaly >= 0.99 {
        severity = match severity {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            s => s,
        };
    }
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
    if sources.iter().any(|s| is_public(s)) {
        risk += 2;
    }
    let risk_score = risk.min(100) as u8;

    // Rule hits name their events; an alert of anomalies alone shows the
    // lines its windows kept. Either way in input order (file, line).
    let mut places: Vec<(FileId, u64)> = evidence_idx
        .iter()
        .filter_map(|&i| log.events.get(i))
        .map(|e| (e.file, e.line))
        .collect();
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
        model_version: if inc.anomalies.is_empty() {
            None
        } else {
            cfg.model_version.clone()
        },
        anomalies: anomaly_ctx,
        evidence,
        detections: inc.hits.len() + inc.anomalies.len(),
        first,
        last,
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

/// Whether an anomaly that corroborates no rule hit deserves an alert: a
/// security-relevant driver well above its baseline p99, and either a
/// public source (flagged, or near the threshold with many failures) or a
/// very rare window of a real account (one that logged in) or host.
fn standalone_worthy(a: &Anomaly, cfg: &AlertConfig) -> bool {
    let top = || a.drivers.iter().take(3);
    if !top().any(Driver::is_security_signal) {
        return false;
    }
    match a.entity_kind {
        EntityKind::SourceIp if is_public(&a.entity) => {
            a.score >= cfg.public_source_score && (a.flagged || top().any(Driver::is_failure_signal))
        }
        EntityKind::SourceIp => a.flagged && a.score >= cfg.anomaly_alert_score,
        // Attacks on an account are the rules' job; the model speaks to how
        // accounts are used on a host or by a user, with two independent
        // signs (one mistyped sudo password is not an alert; users new to a
        // host are mostly scanners guessing names, which the rules cover).
        EntityKind::User | EntityKind::Host => {
            a.flagged
                && a.score >= cfg.anomaly_alert_score
                && a.account_used
                && top()
                    .filter(|d| d.is_security_signal() && registry::is_tagged(&d.feature, Tag::AccountUse))
                    .count()
                    >= 2
        }
    }
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
