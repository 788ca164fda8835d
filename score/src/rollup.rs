//! Roll-up of internet background noise: an internet-facing host sees
//! failed logins from many external sources every day, each one a small
//! brute force that matters to nobody alone. Alerts that are only that
//! (see [`member_of`]) against one host in one period become one alert
//! about the host listing every source ([`roll_up`]), so the alerts left
//! are the ones that need a person, and a blocklist can still be built
//! from the roll-up's members.
//!
//! A source leaves the roll-up and alerts on its own as soon as it is more
//! than noise: it logged in (at any time of the input), guessed users in a
//! way a rule outside [`BACKGROUND_RULES`] saw, touched more than one
//! host, the model's accumulated evidence corroborates its rule hits, or,
//! when it tried at least [`REAL_ACCOUNTS`] accounts that exist, it sprayed,
//! reached HIGH or is unusual to the model alone. A source that tried fewer
//! is a dictionary scan: its HIGH brute force, its spraying of names the
//! host does not have ([`DICTIONARY_RULES`]) and the model's evidence alone
//! (`LLX-BASE-ACC`) are noise.

use std::collections::BTreeMap;

use loglynx_features::aggregate::enrich::IpScope;
use loglynx_features::event::{parse_ip, Micros, Outcome};
use loglynx_features::output::compact::{CompactLog, Sym};
use loglynx_features::time::format_rfc3339;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use crate::alerts::Alert;
use crate::policy::PolicyRule;
use crate::rules::Severity;

/// Rules whose hits alone are background noise from an external source:
/// brute force (fast and slow), pre-authentication abuse and user
/// enumeration.
pub const BACKGROUND_RULES: &[&str] = &["LLX-SSH-001", "LLX-SSH-002", "LLX-SSH-003", "LLX-AUTH-002"];

/// Rules that are background noise too when the source tried fewer than
/// [`REAL_ACCOUNTS`] accounts that exist: spraying names the host does not
/// have is a dictionary scan.
pub const DICTIONARY_RULES: &[&str] = &["LLX-AUTH-001"];

/// Host-name suffixes of internal networks: a source named under one is
/// never internet background.
pub const DEFAULT_INTERNAL_SUFFIXES: &[&str] = &[".local", ".lan", ".internal", ".corp", ".home", ".localdomain"];

/// When background alerts roll up.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupConfig {
    /// Sources of background alerts on one host in one period needed for a
    /// roll-up (fewer stay alerts of their own); 0 turns the roll-up off.
    pub min_sources: usize,
    /// Length of the periods a host's roll-ups cover, from the Unix epoch
    /// (UTC); `None`: one roll-up per host for the whole input.
    pub period: Option<Micros>,
    /// Host-name suffixes of internal networks (see
    /// [`DEFAULT_INTERNAL_SUFFIXES`]).
    pub internal_suffixes: Vec<String>,
}

impl Default for RollupConfig {
    fn default() -> Self {
        RollupConfig {
            min_sources: 3,
            period: None,
            internal_suffixes: DEFAULT_INTERNAL_SUFFIXES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl RollupConfig {
    /// Whether `source` is outside the organisation: a public address, or
    /// a host name with a domain (a reverse-DNS name) not under an internal
    /// suffix. A name an attacker chose can only make a source look
    /// internal, which keeps it out of the roll-up.
    pub fn is_external(&self, source: &str) -> bool {
        match parse_ip(source) {
            Some(ip) => IpScope::of(ip) == IpScope::Public,
            None => {
                let name = source.trim_end_matches('.').to_ascii_lowercase();
                name.contains('.')
                    && !self
                        .internal_suffixes
                        .iter()
                        .any(|s| name.ends_with(&s.to_ascii_lowercase()))
            }
        }
    }
}

/// One source of a roll-up: the alert it would have been.
#[derive(Debug, Clone, Serialize)]
pub struct RollupMember {
    pub source: String,
    /// The fingerprint of the alert the source would have had alone (what
    /// a verdict on it names).
    pub fingerprint: String,
    pub severity: Severity,
    pub first_seen: String,
    pub last_seen: String,
    pub events: u64,
    pub users: Vec<String>,
    pub rule_ids: Vec<String>,
}

/// A HIGH brute force against at least this many accounts that exist is
/// more than background noise.
pub const REAL_ACCOUNTS: usize = 3;

/// What the log says of each source, for [`member_of`]. Keyed by the
/// log's interned symbols: one pass over the kept events.
#[derive(Debug, Default)]
pub struct SourceFacts<'a> {
    log: Option<&'a CompactLog>,
    /// Sources that logged in successfully anywhere in the log.
    succeeded: FxHashSet<Sym>,
    /// Per source, the accounts that exist (sshd did not call them
    /// invalid on the host) it failed to log in as.
    real_accounts: FxHashMap<Sym, FxHashSet<Sym>>,
    /// Per source, the one host its kept events name, or `Sym::NONE` when
    /// they name several (an alert of the model's alone names no host).
    host: FxHashMap<Sym, Sym>,
}

impl<'a> SourceFacts<'a> {
    pub fn of(log: &'a CompactLog) -> SourceFacts<'a> {
        // A name sshd called invalid on a host is no account there, also
        // on the lines of the attempt that do not say so (the closing
        // `Connection closed … [preauth]`). On logs alone `log` holds the
        // events of the sources alerts name, whose own lines say so.
        let invalid: FxHashSet<(Sym, Sym)> = log
            .events
            .iter()
            .filter(|e| e.names_invalid_user())
            .map(|e| (e.host, e.user))
            .collect();
        let mut facts = SourceFacts {
            log: Some(log),
            ..SourceFacts::default()
        };
        for e in log.events.iter().filter(|e| e.source.is_some()) {
            if e.host.is_some() {
                let h = facts.host.entry(e.source).or_insert(e.host);
                if *h != e.host {
                    *h = Sym::NONE;
                }
            }
            if e.outcome == Outcome::Success {
                facts.succeeded.insert(e.source);
            } else if e.failed_attempts() > 0 && e.user.is_some() && !invalid.contains(&(e.host, e.user)) {
                facts.real_accounts.entry(e.source).or_default().insert(e.user);
            }
        }
        facts
    }

    fn sym(&self, source: &str) -> Option<Sym> {
        self.log?.strings.lookup(source)
    }

    fn succeeded(&self, source: &str) -> bool {
        self.sym(source).is_some_and(|s| self.succeeded.contains(&s))
    }

    fn only_host(&self, source: &str) -> Option<&'a str> {
        let host = *self.host.get(&self.sym(source)?)?;
        self.log?.strings.get(host)
    }

    fn real_accounts(&self, source: &str) -> usize {
        self.sym(source)
            .and_then(|s| self.real_accounts.get(&s))
            .map_or(0, FxHashSet::len)
    }
}

/// The host of a background alert, or `None` when `alert` is more than
/// background noise: its one source external and never successful, one
/// target host (the source's only host for an alert of the model alone),
/// and either every rule of it in [`BACKGROUND_RULES`], at most MEDIUM, no
/// accumulated evidence of the model (`strong`), or a source that tried
/// fewer than [`REAL_ACCOUNTS`] accounts that exist, whose HIGH brute force
/// or spraying ([`DICTIONARY_RULES`]) without the model's evidence, or the
/// model's evidence alone at most MEDIUM, is noise too.
pub fn member_of(alert: &Alert, strong: bool, cfg: &RollupConfig, facts: &SourceFacts<'_>) -> Option<String> {
    let [source] = alert.source_ips.as_slice() else {
        return None;
    };
    let host = match alert.target_hosts.as_slice() {
        [host] => host.as_str(),
        [] => facts.only_host(source)?,
        _ => return None,
    };
    // Fewer than REAL_ACCOUNTS existing accounts tried: the names were a
    // dictionary, however many and however fast.
    let dictionary = facts.real_accounts(source) < REAL_ACCOUNTS;
    let rules_only = !alert.rule_ids.is_empty()
        && alert
            .rule_ids
            .iter()
            .all(|r| BACKGROUND_RULES.contains(&r.as_str()) || (dictionary && DICTIONARY_RULES.contains(&r.as_str())))
        && !strong
        && alert.windows.is_empty()
        && (alert.severity <= Severity::Medium || (alert.severity == Severity::High && dictionary));
    // The model's accumulated evidence alone: an unusual scanner is still a
    // scanner when its names were a dictionary.
    let model_only = dictionary
        && !alert.rule_ids.is_empty()
        && alert.rule_ids.iter().all(|r| r == PolicyRule::ACCUMULATED.id)
        && alert.severity <= Severity::Medium;
    ((rules_only || model_only) && cfg.is_external(source) && !facts.succeeded(source)).then(|| host.to_owned())
}

/// Replaces the background alerts (`host_of[i]` is the host of `alerts[i]`
/// when it is one) of each host and period whose sources are at least
/// `cfg.min_sources` with one roll-up alert; returns the alerts and how
/// many were rolled up.
pub fn roll_up(alerts: Vec<Alert>, host_of: &[Option<String>], cfg: &RollupConfig) -> (Vec<Alert>, usize) {
    assert_eq!(alerts.len(), host_of.len());
    if cfg.min_sources == 0 {
        return (alerts, 0);
    }
    let period_of = |a: &Alert| cfg.period.map_or(0, |p| a.first.div_euclid(p.max(1)));
    let mut groups: BTreeMap<(&str, i64), Vec<usize>> = BTreeMap::new();
    for (i, host) in host_of.iter().enumerate() {
        if let Some(host) = host {
            groups
                .entry((host.as_str(), period_of(&alerts[i])))
                .or_default()
                .push(i);
        }
    }
    let mut rolled = vec![false; alerts.len()];
    let mut rollups = Vec::new();
    for ((host, _), members) in &groups {
        let sources: std::collections::BTreeSet<&String> =
            members.iter().flat_map(|&i| &alerts[i].source_ips).collect();
        if sources.len() < cfg.min_sources {
            continue;
        }
        let members: Vec<&Alert> = members
            .iter()
            .map(|&i| {
                rolled[i] = true;
                &alerts[i]
            })
            .collect();
        rollups.push(rollup_alert(host, &members));
    }
    let n_rolled = rolled.iter().filter(|&&r| r).count();
    let mut out: Vec<Alert> = alerts
        .into_iter()
        .zip(rolled)
        .filter_map(|(a, r)| (!r).then_some(a))
        .collect();
    out.extend(rollups);
    (out, n_rolled)
}

/// Risk score of a roll-up: under every alert of its own (LOW starts at 30).
const ROLLUP_RISK: u8 = 20;

fn rollup_alert(host: &str, members: &[&Alert]) -> Alert {
    let rule = PolicyRule::BACKGROUND;
    let first = members.iter().map(|a| a.first).min().unwrap_or_default();
    let last = members.iter().map(|a| a.last).max().unwrap_or_default();
    let events: u64 = members.iter().map(|a| a.events).sum();
    // Sources by events, most first; ties by name.
    let mut ordered: Vec<&Alert> = members.to_vec();
    ordered.sort_by(|a, b| b.events.cmp(&a.events).then(a.source_ips.cmp(&b.source_ips)));
    // Each source once: one may have several alerts of its own in a period.
    let mut seen = std::collections::BTreeSet::new();
    let source_ips: Vec<String> = ordered
        .iter()
        .flat_map(|a| a.source_ips.iter())
        .filter(|s| seen.insert(s.as_str()))
        .cloned()
        .collect();
    let mut user_alerts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in members {
        for u in &a.users {
            *user_alerts.entry(u.as_str()).or_default() += 1;
        }
    }
    let mut users: Vec<(&str, usize)> = user_alerts.into_iter().collect();
    users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top_users: Vec<&str> = users.iter().take(3).map(|(u, _)| *u).collect();
    let mut rule_ids = vec![rule.id.to_owned()];
    let mut member_rules: Vec<String> = members.iter().flat_map(|a| a.rule_ids.iter().cloned()).collect();
    member_rules.sort();
    member_rules.dedup();
    rule_ids.extend(member_rules);
    let fingerprint = format!(
        "{:016x}",
        crate::alerts::fnv64(&[
            "rollup",
            host,
            &first.div_euclid(loglynx_features::time::MICROS_PER_DAY).to_string()
        ])
    );
    let summary = format!(
        "internet background: {} sources, {} failed attempts, 0 successes{}",
        source_ips.len(),
        events,
        if top_users.is_empty() {
            String::new()
        } else {
            format!(", top users {}", top_users.join("/"))
        }
    );
    Alert {
        id: format!("LLX-{}", &fingerprint[..12]),
        fingerprint,
        primary: format!("host={host}"),
        title: format!("Internet background noise against {host}: {} sources", source_ips.len()),
        severity: Severity::Low,
        risk_score: ROLLUP_RISK,
        first_seen: format_rfc3339(first),
        last_seen: format_rfc3339(last),
        source_ips,
        target_hosts: vec![host.to_owned()],
        users: users.iter().map(|(u, _)| u.to_string()).collect(),
        events,
        summary,
        description: rule.description.to_owned(),
        recommended_action: rule.recommended_action.to_owned(),
        tags: rule.tags.iter().map(|t| t.to_string()).collect(),
        rule_ids,
        model_version: None,
        anomalies: Vec::new(),
        // One line of each source, the busiest first.
        evidence: ordered.iter().filter_map(|a| a.evidence.first().cloned()).collect(),
        detections: members.iter().map(|a| a.detections).sum(),
        routine: None,
        windows: Vec::new(),
        reranked: None,
        members: ordered
            .iter()
            .map(|a| RollupMember {
                source: a.source_ips.join(", "),
                fingerprint: a.fingerprint.clone(),
                severity: a.severity,
                first_seen: a.first_seen.clone(),
                last_seen: a.last_seen.clone(),
                events: a.events,
                users: a.users.clone(),
                rule_ids: a.rule_ids.clone(),
            })
            .collect(),
        first,
        last,
    }
}
