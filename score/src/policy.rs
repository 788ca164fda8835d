//! Detections the alert policy makes from the baseline's evidence rather
//! than from a rule file: their names and texts ([`PolicyRule`]), and the
//! population policy ([`population`]): a host whose evidence episode
//! passes the threshold while several sources fail against it is one alert
//! about the host listing every source, and a source of it that then logs
//! in is an alert of its own.

use std::collections::{BTreeMap, BTreeSet};

use loglynx_features::aggregate::enrich::IpScope;
use loglynx_features::event::Micros;
use loglynx_features::output::compact::{CompactLog, Sym};
use loglynx_features::time::MICROS_PER_MINUTE;
use loglynx_rules::{evidence_ends, places_of, History, Place, RuleHit, Severity, TermField};
use rustc_hash::FxHashMap;

/// Name, text and advice of a detection the policy makes.
#[derive(Debug, Clone, Copy)]
pub struct PolicyRule {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub recommended_action: &'static str,
    pub tags: &'static [&'static str],
}

impl PolicyRule {
    /// An entity's accumulated anomaly evidence passed its threshold.
    pub const ACCUMULATED: PolicyRule = PolicyRule {
        id: "LLX-BASE-ACC",
        name: "Unusual behaviour accumulated over time",
        description: "The entity's windows were unusual against the baseline for long enough that their combined \
                      evidence passes the threshold the alert budget sets on the baseline's replay.",
        recommended_action: "Review the listed windows with the entity's owner; confirm or dismiss it as a verdict.",
        tags: &["loglynx.baseline"],
    };
    /// Internet background noise against one host, rolled up.
    pub const BACKGROUND: PolicyRule = PolicyRule {
        id: "LLX-BASE-BKG",
        name: "Internet background noise",
        description: "Failed logins from many external sources against one host, each a small brute force or \
                      user enumeration that never logged in, sprayed real accounts or touched another host: the \
                      background scanning every internet-facing service sees. Every source is listed; one that \
                      later logs in or does more leaves the roll-up and alerts on its own.",
        recommended_action: "Nothing to do per source. Feed the listed sources to a blocklist or fail2ban, keep \
                             password login off (keys or MFA only) on the host, and review the roll-up's size \
                             against earlier periods.",
        tags: &["attack.credential_access", "attack.t1110", "loglynx.rollup"],
    };
    /// Many sources failing against one host.
    pub const POPULATION: PolicyRule = PolicyRule {
        id: "LLX-BASE-POP",
        name: "Many sources against one host",
        description: "While the host's own evidence passed its threshold, several sources failed to log in to it, \
                      each possibly under every per-source threshold: credential stuffing or a botnet guessing \
                      from rotating addresses.",
        recommended_action: "Block the listed sources (or rate-limit the service), check every successful login \
                             to the host during the period, and enforce key-only or MFA login on it.",
        tags: &["attack.credential_access", "attack.t1110.004", "loglynx.baseline"],
    };
    /// A source of a population attack logged in.
    pub const POPULATION_LOGIN: PolicyRule = PolicyRule {
        id: "LLX-AUTH-007",
        name: "Login by a source of a many-source attack",
        description: "A source that failed against the host during a many-source attack, or a public source new \
                      to the host during it, logged in successfully: a guessed or stuffed credential may have \
                      worked.",
        recommended_action: "Treat the account as compromised until proven otherwise: confirm with its owner, end \
                             the session, reset the credential and block the source.",
        tags: &[
            "attack.credential_access",
            "attack.t1110.004",
            "attack.initial_access",
            "attack.t1078",
        ],
    };
    /// A never-seen term, rare in the baseline, with the model's evidence.
    pub const RARITY: PolicyRule = PolicyRule {
        id: "LLX-BASE-RARE",
        name: "Rare in the baseline",
        description: "A combination never seen in the baseline, where new ones are rare, together with the \
                      model's evidence for the entities involved.",
        recommended_action: "Check with the user whether they expect this login; escalate if other alerts involve \
                             the same user or source.",
        tags: &["loglynx.baseline"],
    };

    const ALL: [PolicyRule; 4] = [
        PolicyRule::ACCUMULATED,
        PolicyRule::POPULATION,
        PolicyRule::POPULATION_LOGIN,
        PolicyRule::RARITY,
    ];

    pub fn get(id: &str) -> Option<&'static PolicyRule> {
        PolicyRule::ALL.iter().find(|r| r.id == id)
    }
}

/// Sources new to a host that must fail against it during its episode for
/// the episode to be about a population of sources rather than one.
pub const POPULATION_MIN_SOURCES: usize = 2;

#[derive(Debug, Default)]
struct Member {
    failures: u64,
    invalid: u64,
    events: Vec<usize>,
}

/// The population hit of `host` over `span` (its evidence episode): the
/// sources new to the host (first seen there within the span) that failed
/// there; and a hit for each login, within the span or `after` it, by one
/// of them, or by a public source
/// whose first event on the host falls in the span logging in as a user
/// the failing sources tried. A source whose every failure names a user
/// the baseline `history` saw log in from it (a person mistyping at their
/// own address) is no member. `None` when fewer than
/// [`POPULATION_MIN_SOURCES`] sources failed.
pub fn population(
    log: &CompactLog,
    by_host: &EventsByHost,
    host: &str,
    (start, end): (Micros, Micros),
    after: Micros,
    history: Option<&History>,
) -> Option<(RuleHit, Vec<RuleHit>)> {
    let host_sym = log.strings.lookup(host)?;
    let mut members: BTreeMap<Sym, Member> = BTreeMap::new();
    let mut first_seen: FxHashMap<Sym, Micros> = FxHashMap::default();
    let mut users = BTreeSet::new();
    let mut logins: Vec<usize> = Vec::new();
    for &i in by_host.get(&host_sym).map_or(&[][..], |v| &v[..]) {
        let i = i as usize;
        let e = &log.events[i];
        if e.source.is_none() {
            continue;
        }
        let t = e.timestamp;
        let seen = first_seen.entry(e.source).or_insert(t);
        *seen = (*seen).min(t);
        if t < start || t >= end + after {
            continue;
        }
        if e.logged_in() {
            logins.push(i);
        } else if t < end && e.failed_attempts() > 0 {
            let m = members.entry(e.source).or_default();
            m.failures += u64::from(e.attempts);
            m.invalid += u64::from(e.names_invalid_user());
            m.events.push(i);
            if e.user.is_some() {
                users.insert(e.user);
            }
        }
    }
    // Only sources new to the host make the population: the people who
    // log in there every day and mistype a password do not.
    members.retain(|src, _| first_seen.get(src).is_some_and(|&t| t >= start));
    if let Some(history) = history {
        let own_address = |src: Sym, i: usize| {
            let user = log.events[i].user;
            !user.is_none()
                && history.contains(
                    &[TermField::User, TermField::Source],
                    &[log.strings.str(user), log.strings.str(src)],
                )
        };
        members.retain(|&src, m| !m.events.iter().all(|&i| own_address(src, i)));
    }
    users = members
        .values()
        .flat_map(|m| m.events.iter().map(|&i| log.events[i].user))
        .filter(|u| u.is_some())
        .collect();
    if members.len() < POPULATION_MIN_SOURCES {
        return None;
    }
    let s = |sym: Sym| log.strings.str(sym).to_owned();
    let all_events: Vec<usize> = {
        let mut v: Vec<usize> = members.values().flat_map(|m| m.events.iter().copied()).collect();
        v.sort_unstable();
        v
    };
    let first = all_events.first().map(|&i| log.events[i].timestamp).unwrap_or(start);
    let last = all_events.last().map(|&i| log.events[i].timestamp).unwrap_or(end);
    let failures: u64 = members.values().map(|m| m.failures).sum();
    let invalid: u64 = members.values().map(|m| m.invalid).sum();
    let mut sources: Vec<String> = members.keys().map(|&k| s(k)).collect();
    sources.sort();
    let mut user_names: Vec<String> = users.iter().map(|&u| s(u)).collect();
    user_names.sort();
    let successes_from_members = logins
        .iter()
        .filter(|&&i| members.contains_key(&log.events[i].source))
        .count();
    let pop = RuleHit {
        rule_id: PolicyRule::POPULATION.id.into(),
        severity: Severity::Medium,
        group: vec![("host".into(), host.into())],
        first,
        last,
        count: failures,
        distinct_users: user_names.len(),
        distinct_hosts: 1,
        distinct_sources: sources.len(),
        users: user_names,
        hosts: vec![host.into()],
        sources,
        evidence: ends(log, &all_events),
        summary: format!(
            "{} sources, {failures} failed logins ({invalid} naming unknown users) in {} minutes, {} successes \
             from them",
            members.len(),
            (last - first) / MICROS_PER_MINUTE + 1,
            successes_from_members
        ),
    };
    let mut out = Vec::new();
    for i in logins {
        let e = &log.events[i];
        let member = members.get(&e.source);
        // A public source new to the host that logs in as a user the
        // attack tried is part of it too (a botnet's lucky address).
        let new_public = e.source_scope == Some(IpScope::Public)
            && first_seen.get(&e.source).is_some_and(|&t| t >= start)
            && users.contains(&e.user);
        if member.is_none() && !new_public {
            continue;
        }
        let evidence = places_of(
            log,
            member
                .map(|m| evidence_ends(&m.events).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .chain([i]),
        );
        let failed = member.map_or(0, |m| m.failures);
        out.push(RuleHit {
            rule_id: PolicyRule::POPULATION_LOGIN.id.into(),
            severity: Severity::High,
            group: vec![("source".into(), s(e.source)), ("host".into(), host.into())],
            first: member
                .and_then(|m| m.events.first())
                .map_or(e.timestamp, |&j| log.events[j].timestamp.min(e.timestamp)),
            last: e.timestamp,
            count: 1,
            users: vec![s(e.user)],
            hosts: vec![host.into()],
            sources: vec![s(e.source)],
            distinct_users: 1,
            distinct_hosts: 1,
            distinct_sources: 1,
            evidence,
            summary: format!(
                "logged in as {} after {failed} failed logins from it; one of {} sources of the attack on {host}",
                s(e.user),
                members.len()
            ),
        });
    }
    Some((pop, out))
}

/// Indices of the kept events of each host, in log order.
pub type EventsByHost = FxHashMap<Sym, Vec<u32>>;

/// The kept events of each of `hosts`, for [`population`].
pub fn events_by_host<'h>(log: &CompactLog, hosts: impl IntoIterator<Item = &'h str>) -> EventsByHost {
    let mut by_host: EventsByHost = hosts
        .into_iter()
        .filter_map(|h| log.strings.lookup(h))
        .map(|s| (s, Vec::new()))
        .collect();
    if by_host.is_empty() {
        return by_host;
    }
    for (i, e) in log.events.iter().enumerate() {
        if let Some(v) = by_host.get_mut(&e.host) {
            v.push(i as u32);
        }
    }
    by_host
}

/// The places of the [`evidence_ends`] of sorted indices, once each.
fn ends(log: &CompactLog, idx: &[usize]) -> Vec<Place> {
    places_of(log, evidence_ends(idx))
}
