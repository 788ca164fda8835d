//! `chain`: a session of user U on host A, an escalation of U on A, then
//! onward events on other hosts from A's addresses within the window.
//!
//! Only the host field (from the log header) and the source field link
//! events: a source belongs to A when the asset list gives it to A or when
//! it is written as A's name (or A's first DNS label). User names and
//! commands, which a user or client writes, never link anything.

use std::net::IpAddr;

use loglynx_features::event::{Action, Micros};
use loglynx_features::output::compact::{CompactEvent, Sym};
use rustc_hash::{FxHashMap, FxHashSet};

use super::{collect, duration, Ctx, Key, Matcher};
use crate::assets::first_label;
use crate::rule::{Chain, TermField};
use crate::{evidence_ends, places_of, Assets, History, RuleHit, EVIDENCE_EACH_END};

/// Most target hosts or users named in a summary.
const NAMED: usize = 5;

pub(super) fn run(ctx: &Ctx, rule: &Chain, assets: Option<&Assets>, history: Option<&History>) -> Vec<RuleHit> {
    let log = ctx.log;
    let events = &log.events;
    let strings = &log.strings;
    let session = Matcher::new(&rule.session, strings);
    let escalation = Matcher::new(&rule.escalation, strings);
    let onward = Matcher::new(&rule.onward, strings);
    let host_user = |e: &CompactEvent| (e.host.is_some() && e.user.is_some()).then(|| key2(e.host, e.user));
    let escalations = collect(events, ctx.candidates(&[&escalation]).as_deref(), |e| {
        (ctx.filter.matches(e) && escalation.matches(e))
            .then(|| host_user(e))
            .flatten()
    });
    if escalations.keys.is_empty() {
        return Vec::new();
    }
    // Only sessions of an escalating (host, user) can start a chain, and
    // with `onward_as_target` only onward events as an account switched to.
    let escalating: FxHashSet<Key> = escalations.keys.iter().copied().collect();
    let sessions = collect(events, ctx.candidates(&[&session]).as_deref(), |e| {
        (ctx.filter.matches(e) && session.matches(e))
            .then(|| host_user(e))
            .flatten()
            .filter(|k| escalating.contains(k))
    });
    let session_of: FxHashMap<Key, usize> = sessions.keys.iter().enumerate().map(|(g, k)| (*k, g)).collect();
    let switched_to: FxHashSet<Sym> = (0..escalations.keys.len())
        .flat_map(|g| escalations.members(g))
        .map(|&i| events[i as usize].target_user)
        .collect();
    let onwards = collect(events, ctx.candidates(&[&onward]).as_deref(), |e| {
        (ctx.filter.matches(e)
            && onward.matches(e)
            && e.host.is_some()
            && e.source.is_some()
            && (!rule.onward_as_target || switched_to.contains(&e.user)))
        .then(|| key2(e.source, Sym::NONE))
    });
    // With `onward_new`, the onward events whose user and source were not
    // seen together before: in the history, else earlier in the log.
    let mut fresh: FxHashSet<u32> = FxHashSet::default();
    if rule.onward_new {
        let terms = |fields: &[TermField]| history.and_then(|h| h.terms.get(&History::key(fields)));
        let by_source = terms(&[TermField::User, TermField::Source]);
        let by_host = terms(&[TermField::User, TermField::Host]);
        let mut order: Vec<u32> = (0..onwards.keys.len())
            .flat_map(|g| onwards.members(g).iter().copied())
            .collect();
        match (by_source, by_host) {
            (Some(by_source), Some(by_host)) => {
                let mut term = String::new();
                let known = |set: &std::collections::BTreeSet<String>, a: Sym, b: Sym, term: &mut String| {
                    term.clear();
                    term.push_str(strings.str(a));
                    term.push_str(History::SEPARATOR);
                    term.push_str(strings.str(b));
                    set.contains(term.as_str())
                };
                fresh.extend(order.into_iter().filter(|&i| {
                    let e = &events[i as usize];
                    !known(by_source, e.user, e.source, &mut term) || !known(by_host, e.user, e.host, &mut term)
                }));
            }
            _ => {
                // First appearances of (user, source, host) in log order.
                order.sort_unstable_by_key(|&i| {
                    let e = &events[i as usize];
                    (e.timestamp, e.file, e.line, i)
                });
                let mut seen: FxHashSet<(Sym, Sym, Sym)> = FxHashSet::default();
                fresh.extend(order.into_iter().filter(|&i| {
                    let e = &events[i as usize];
                    seen.insert((e.user, e.source, e.host))
                }));
            }
        }
    }
    // Onward sources by the lowercase host names they stand for.
    let mut by_name: FxHashMap<String, Vec<usize>> = FxHashMap::default();
    for (g, k) in onwards.keys.iter().enumerate() {
        let text = strings.str(Sym(k[0]));
        let mut names = vec![text.to_ascii_lowercase()];
        if let (Some(assets), Ok(ip)) = (assets, text.parse::<IpAddr>()) {
            for h in assets.hosts_of(ip) {
                names.extend([h.to_owned(), first_label(h).to_owned()]);
            }
        }
        names.sort_unstable();
        names.dedup();
        for n in names {
            by_name.entry(n).or_default().push(g);
        }
    }
    let order = |&i: &u32| {
        let e = &events[i as usize];
        (e.timestamp, e.file, e.line, i)
    };
    // Onward events from each escalation host's addresses, to other hosts.
    let mut from_host: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    let mut hits = Vec::new();
    for (key, idx) in escalations.iter() {
        let host = strings.str(Sym(key[0]));
        let targets = from_host.entry(key[0]).or_insert_with(|| {
            let lower = host.to_ascii_lowercase();
            let mut groups: Vec<usize> = [lower.as_str(), first_label(&lower)]
                .iter()
                .filter_map(|n| by_name.get(*n))
                .flatten()
                .copied()
                .collect();
            groups.sort_unstable();
            groups.dedup();
            let mut v: Vec<u32> = groups
                .into_iter()
                .flat_map(|g| onwards.members(g))
                .copied()
                .filter(|&i| !same_host(strings.str(events[i as usize].host), host))
                .collect();
            v.sort_unstable_by_key(order);
            v
        });
        if targets.is_empty() {
            continue;
        }
        let own: Vec<u32>;
        let targets: &[u32] = if rule.onward_as_target || rule.onward_new {
            // The accounts this user switched to on the host.
            let switched_to: FxHashSet<Sym> = idx.iter().map(|&i| events[i as usize].target_user).collect();
            own = targets
                .iter()
                .copied()
                .filter(|&i| !rule.onward_as_target || switched_to.contains(&events[i as usize].user))
                .filter(|i| !rule.onward_new || fresh.contains(i))
                .collect();
            &own
        } else {
            targets
        };
        if targets.is_empty() {
            continue;
        }
        let sessions = session_of.get(key).map(|&g| sessions.members(g));
        for chain in chains(events, idx, targets, rule) {
            let t = events[chain.escalations[0] as usize].timestamp;
            let from = t - rule.session_window.micros();
            let session = sessions.and_then(|s| {
                let end = s.partition_point(|&i| events[i as usize].timestamp <= t);
                s[..end]
                    .iter()
                    .rev()
                    .find(|&&i| !chain.escalations.contains(&i))
                    .filter(|&&i| events[i as usize].timestamp >= from)
                    .copied()
            });
            hits.push(hit(ctx, key, host, session, &chain));
        }
    }
    hits
}

fn key2(a: Sym, b: Sym) -> Key {
    let mut k = [u32::MAX; 6];
    k[0] = a.0;
    k[1] = b.0;
    k
}

/// The same host: equal names or equal first DNS labels, in any case.
fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || first_label(a).eq_ignore_ascii_case(first_label(b))
}

/// One chain: escalations (indices into the log, in time order) and the
/// onward events they lead to.
struct Found {
    escalations: Vec<u32>,
    onward: Vec<u32>,
}

/// The chains of one (host, user): each escalation followed within the
/// window by onward events to at least `min_targets` distinct hosts; an
/// escalation at most `window` after the previous chain's last escalation
/// joins that chain.
fn chains(events: &[CompactEvent], escalations: &[u32], targets: &[u32], rule: &Chain) -> Vec<Found> {
    let window = rule.window.micros();
    let mut out: Vec<Found> = Vec::new();
    let mut last: Micros = Micros::MIN;
    // Onward events up to here are in the last chain already.
    let mut added = 0;
    let mut hosts: FxHashSet<Sym> = FxHashSet::default();
    for &x in escalations {
        let t = events[x as usize].timestamp;
        let start = targets.partition_point(|&i| events[i as usize].timestamp < t);
        let end = targets.partition_point(|&i| events[i as usize].timestamp <= t.saturating_add(window));
        // Enough distinct hosts? Stops as soon as there are.
        hosts.clear();
        for &i in &targets[start..end] {
            hosts.insert(events[i as usize].host);
            if hosts.len() >= rule.min_targets {
                break;
            }
        }
        if hosts.len() < rule.min_targets {
            continue;
        }
        match out.last_mut() {
            Some(found) if t - last <= window => {
                found.escalations.push(x);
                found.onward.extend(&targets[start.max(added)..end]);
            }
            _ => out.push(Found {
                escalations: vec![x],
                onward: targets[start..end].to_vec(),
            }),
        }
        added = added.max(end);
        last = t;
    }
    out
}

fn hit(ctx: &Ctx, key: &Key, host: &str, session: Option<u32>, chain: &Found) -> RuleHit {
    let log = ctx.log;
    let events = &log.events;
    let strings = &log.strings;
    let user = strings.str(Sym(key[1]));
    let mut members: Vec<u32> = session.into_iter().chain(chain.escalations.iter().copied()).collect();
    members.extend(&chain.onward);
    members.sort_unstable_by_key(|&i| {
        let e = &events[i as usize];
        (e.timestamp, e.file, e.line, i)
    });
    members.dedup();
    // Grouped by the host alone: chains of several users on one host (who
    // escalated is not always who moved on) make one alert about the host.
    let group = vec![("host".to_owned(), host.to_owned())];
    let mut hit = ctx.hit_with_group(group, &members, |_| String::new());
    // Evidence: the session, the first escalations, the first and last
    // onward events.
    hit.evidence = places_of(
        ctx.log,
        session
            .into_iter()
            .chain(chain.escalations.iter().take(EVIDENCE_EACH_END).copied())
            .chain(evidence_ends(&chain.onward))
            .map(|i| i as usize),
    );
    hit.summary = summary(ctx, host, user, session.is_some(), chain);
    hit
}

/// `alice on web-1: su to root, then root logged in from web-1 (10.0.1.5)
/// to db-1, db-2 within 12 minutes`.
fn summary(ctx: &Ctx, host: &str, user: &str, had_session: bool, chain: &Found) -> String {
    let events = &ctx.log.events;
    let strings = &ctx.log.strings;
    let names = |of: &dyn Fn(&CompactEvent) -> Sym, skip: &dyn Fn(&str) -> bool| {
        let mut v: Vec<&str> = chain
            .onward
            .iter()
            .map(|&i| of(&events[i as usize]))
            .filter(|s| s.is_some())
            .map(|s| strings.str(s))
            .filter(|s| !skip(s))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let listed = |v: Vec<&str>| {
        let more = v.len().saturating_sub(NAMED);
        let mut text = v[..v.len().min(NAMED)].join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    };
    let first = &events[chain.escalations[0] as usize];
    let target = Some(first.target_user).filter(|s| s.is_some()).map(|s| strings.str(s));
    let mut escalation = match (first.action, target) {
        (Action::Su, Some(t)) => format!("su to {t}"),
        (Action::Su, None) => "su".to_owned(),
        (Action::Sudo, Some(t)) => format!("sudo as {t}"),
        (Action::Sudo, None) => "sudo".to_owned(),
        (a, Some(t)) => format!("{} to {t}", a.as_str()),
        (a, None) => a.as_str().to_owned(),
    };
    if chain.escalations.len() > 1 {
        escalation.push_str(&format!(" ({} escalations)", chain.escalations.len()));
    }
    let users = names(&|e| e.user, &|_| false);
    let who = if users.is_empty() {
        "logins".to_owned()
    } else {
        format!("{} logged in", listed(users))
    };
    let addresses = names(&|e| e.source, &|s| same_host(s, host));
    let from = if addresses.is_empty() {
        host.to_owned()
    } else {
        format!("{host} ({})", listed(addresses))
    };
    let targets = listed(names(&|e| e.host, &|_| false));
    let t0 = first.timestamp;
    let t1 = chain
        .onward
        .iter()
        .map(|&i| events[i as usize].timestamp)
        .max()
        .unwrap_or(t0);
    let within = match t1 - t0 {
        d if d < 1_000_000 => "within a second".to_owned(),
        d => format!("within {}", duration(d)),
    };
    let mut text = format!("{user} on {host}: {escalation}, then {who} from {from} to {targets} {within}");
    if !had_session {
        text.push_str(&format!("; no session of {user} on {host} seen before the escalation"));
    }
    text
}
