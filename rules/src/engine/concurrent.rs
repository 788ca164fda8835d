//! `concurrent`: two events of one user within the window from different
//! networks, at least one from a public address new for the user.
//!
//! One pass per group in time order keeps, for any event and for the
//! public-and-new events, the latest event of each of the two most recent
//! networks: the latest partner from another network is one of those two,
//! so each event is checked in constant time.

use std::collections::BTreeSet;
use std::net::IpAddr;

use loglynx_features::aggregate::enrich::IpScope;
use loglynx_features::event::Micros;
use loglynx_features::output::compact::{CompactEvent, Sym};
use rustc_hash::{FxHashMap, FxHashSet};

use super::{collect, duration, Ctx};
use crate::rule::{Concurrent, Field};
use crate::{History, RuleHit};

/// A network: address family and the address with host bits cleared.
type Net = (u8, u128);

fn network(ip: IpAddr, v4: u8, v6: u8) -> Net {
    match ip {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(v4)).unwrap_or(0);
            (4, u128::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(v6)).unwrap_or(0);
            (6, u128::from(a) & mask)
        }
    }
}

/// The latest position of each of the two most recent distinct networks.
#[derive(Default)]
struct Recent([Option<(Net, usize)>; 2]);

impl Recent {
    fn add(&mut self, net: Net, p: usize) {
        match self.0[0] {
            Some((n, _)) if n == net => self.0[0] = Some((net, p)),
            _ => self.0 = [Some((net, p)), self.0[0]],
        }
    }

    /// The latest position of a network other than `net`.
    fn other_than(&self, net: Net) -> Option<usize> {
        self.0.iter().flatten().find(|(n, _)| *n != net).map(|&(_, p)| p)
    }
}

/// A hit under construction: positions into the group and the first pair.
struct Burst {
    members: Vec<usize>,
    pair: (usize, usize),
    last: Micros,
}

pub(super) fn run(ctx: &Ctx, rule: &Concurrent, history: Option<&History>) -> Vec<RuleHit> {
    let events = &ctx.log.events;
    let strings = &ctx.log.strings;
    let window = rule.window.micros();
    let known = history.and_then(|h| h.terms.get(&History::key(History::CONCURRENT_FIELDS)));
    // Each source's network, once per distinct source.
    let mut nets: FxHashMap<Sym, Option<Net>> = FxHashMap::default();
    let groups = collect(events, ctx.candidates(&[]).as_deref(), |e| {
        if e.source.is_none() || e.user.is_none() {
            return None;
        }
        let key = ctx.grouped(e)?;
        let net = *nets.entry(e.source).or_insert_with(|| {
            strings
                .str(e.source)
                .parse::<IpAddr>()
                .ok()
                .map(|ip| network(ip, rule.network_prefix_v4, rule.network_prefix_v6))
        });
        net.map(|_| key)
    });
    let mut hits = Vec::new();
    let mut seen: FxHashSet<Sym> = FxHashSet::default();
    let mut new_flags: Vec<bool> = Vec::new();
    let mut term = String::new();
    let public = |i: &u32| events[*i as usize].source_scope == Some(IpScope::Public);
    for (key, idx) in groups.iter() {
        // Every pair needs a public address new for the user.
        if idx.len() < 2 || !idx.iter().any(public) {
            continue;
        }
        seen.clear();
        new_flags.clear();
        let mut any = Recent::default();
        let mut fresh = Recent::default();
        let mut bursts: Vec<Burst> = Vec::new();
        for (p, &i) in idx.iter().enumerate() {
            let e = &events[i as usize];
            let net = nets[&e.source].expect("grouped events have a network");
            // Only a public address's novelty counts.
            let public_new = public(&i)
                && match known {
                    Some(known) => !is_known(known, strings, e, &mut term),
                    None => seen.insert(e.source),
                };
            new_flags.push(public_new);
            let within = |q: &usize| e.timestamp - events[idx[*q] as usize].timestamp <= window;
            let partner = [public_new.then(|| any.other_than(net)).flatten(), fresh.other_than(net)]
                .into_iter()
                .flatten()
                .filter(within)
                .max();
            any.add(net, p);
            if public_new {
                fresh.add(net, p);
            }
            let Some(q) = partner else { continue };
            match bursts.last_mut() {
                Some(b) if e.timestamp - b.last <= window => {
                    b.members.extend([q, p]);
                    b.last = e.timestamp;
                }
                _ => bursts.push(Burst {
                    members: vec![q, p],
                    pair: (q, p),
                    last: e.timestamp,
                }),
            }
        }
        for mut b in bursts {
            b.members.sort_unstable();
            b.members.dedup();
            let members: Vec<u32> = b.members.iter().map(|&p| idx[p]).collect();
            let (a, z) = (&events[idx[b.pair.0] as usize], &events[idx[b.pair.1] as usize]);
            let mark = |e: &CompactEvent, public_new: bool| {
                let text = strings.str(e.source);
                if public_new {
                    format!("{text} (public, new for the user)")
                } else {
                    text.to_owned()
                }
            };
            let first = mark(a, new_flags[b.pair.0]);
            let second = mark(z, new_flags[b.pair.1]);
            let networks: BTreeSet<Net> = b
                .members
                .iter()
                .filter_map(|&p| nets[&events[idx[p] as usize].source])
                .collect();
            hits.push(ctx.hit(key, &members, |h| {
                let gap = match z.timestamp - a.timestamp {
                    d if d < 1_000_000 => "within a second".to_owned(),
                    d => format!("{} apart", duration(d)),
                };
                let mut text = format!("successful logins from {first} and {second} {gap}");
                if members.len() > 2 {
                    text.push_str(&format!(
                        "; {} logins from {} networks in {}",
                        h.count,
                        networks.len(),
                        duration(h.last - h.first)
                    ));
                }
                text.push_str(&ctx.extras(h, Some(Field::Source)));
                text
            }));
        }
    }
    hits
}

/// Whether the event's `user+source` is among the baseline's terms.
fn is_known(
    known: &BTreeSet<String>,
    strings: &loglynx_features::output::compact::Interner,
    e: &CompactEvent,
    buf: &mut String,
) -> bool {
    buf.clear();
    buf.push_str(strings.str(e.user));
    buf.push_str(History::SEPARATOR);
    buf.push_str(strings.str(e.source));
    known.contains(buf.as_str())
}
