//! How often a baseline met new terms: the rarity of a term never seen.
//!
//! For each `new_term` rule's fields (`user+source`), the baseline's
//! matching events are counted per term. By Good–Turing, the chance that
//! the next event brings a term never seen is about the share of events
//! whose term was seen exactly once; for a user (the first field) with a
//! history of their own, their own share, else the whole baseline's. A user
//! who always logs in from the same two addresses makes a new address rare;
//! one who roams makes it common. With an hour slack, an event counts as
//! seen once when no other event of its term lies within the slack of its
//! hour: the share of events that would have been new had they come last.
//! A term with a source is judged by the singletons of its source's scope:
//! a person whose new addresses are all the office's DHCP leases makes a
//! new public address rare.

use std::collections::BTreeMap;

use loglynx_features::aggregate::enrich::IpScope;
use loglynx_features::event::Micros;
use loglynx_features::output::compact::{CompactLog, Sym};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::engine::{term_key, EventIndex, Key, Matcher};
use crate::rule::{Logic, NewTerm, TermField};
use crate::{History, RuleSet};
use rayon::prelude::*;

/// Events and terms seen exactly once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoveltyCounts {
    pub events: u64,
    pub singletons: u64,
    /// Of the singletons, those whose source is a public address (for
    /// combinations with a `source`).
    pub public_singletons: u64,
}

impl NoveltyCounts {
    /// Chance that the next event brings a new term, `(n1 + 1) / (n + 2)`.
    pub fn new_term_chance(&self) -> f64 {
        (self.singletons as f64 + 1.0) / (self.events as f64 + 2.0)
    }

    /// Chance that the next event brings a new term whose source is public
    /// (or not): the singletons of that scope only.
    pub fn new_term_chance_in(&self, public: bool) -> f64 {
        let n1 = if public {
            self.public_singletons
        } else {
            self.singletons.saturating_sub(self.public_singletons)
        };
        (n1 as f64 + 1.0) / (self.events as f64 + 2.0)
    }

    /// The chance of a new term, in the source's scope when it has one.
    fn chance(&self, public_source: Option<bool>) -> f64 {
        match public_source {
            Some(public) => self.new_term_chance_in(public),
            None => self.new_term_chance(),
        }
    }
}

/// Novelty of one combination of fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldNovelty {
    pub all: NoveltyCounts,
    /// Per value of the first field, when there are two or more fields.
    pub by_first: BTreeMap<String, NoveltyCounts>,
}

/// Novelty per combination of fields (keys as in [`History::terms`], with
/// `~Nh` appended for an hour slack of N, see [`Novelty::key`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Novelty {
    pub fields: BTreeMap<String, FieldNovelty>,
}

impl Novelty {
    /// The `fields` key of a rule.
    pub fn key(rule: &NewTerm) -> String {
        let key = History::key(&rule.fields);
        match rule.slack_slot() {
            Some(_) => format!("{key}~{}h", rule.hour_slack),
            None => key,
        }
    }

    /// Counts the terms of `log` for every `new_term` rule of `rules`.
    pub fn from_log(log: &CompactLog, rules: &RuleSet) -> Novelty {
        Novelty::baseline_terms(log, rules).1
    }

    /// [`History::from_log`] and [`Novelty::from_log`] at once (each
    /// combination's terms are counted once for both), and the baseline
    /// replayed through the novelty: every event with a term seen only
    /// there (which would have been new had the event come last), with the
    /// [`Novelty::combined`] rarity of those terms, each judged without the
    /// event itself (leave one out).
    pub fn baseline_terms(log: &CompactLog, rules: &RuleSet) -> (History, Novelty, Vec<ReplayedTerms>) {
        let started = std::time::Instant::now();
        let mut out = Novelty::default();
        let mut history = History::default();
        let index = EventIndex::new(log);
        // Each field combination once (its first rule's filter), counted
        // side by side.
        let mut first_rules = Vec::new();
        for rule in &rules.rules {
            let Logic::NewTerm(new_term) = &rule.kind else {
                continue;
            };
            let key = Novelty::key(new_term);
            if !first_rules.iter().any(|(k, _, _)| *k == key) {
                first_rules.push((key, new_term, &rule.filter));
            }
        }
        let mut counted: Vec<(Counted, &crate::rule::Filter)> = Vec::new();
        let each: Vec<_> = first_rules
            .into_par_iter()
            .map(|(key, new_term, filter)| {
                let c = Counted::new(log, &index, filter, new_term);
                let novelty = c.novelty(log);
                (key, c, novelty, filter)
            })
            .collect();
        for (key, c, novelty, filter) in each {
            out.fields.insert(key, novelty);
            counted.push((c, filter));
        }
        // The history: every rule's terms, counted above when a rule with
        // the same fields and filter was.
        for rule in &rules.rules {
            let Some(fields) = History::fields_of(rule) else {
                continue;
            };
            match counted
                .iter()
                .find(|(c, f)| c.rule.fields == fields && **f == rule.filter)
            {
                Some((c, _)) => history.add_keys(log, fields, c.counts.keys()),
                None => history.add_terms(log, fields, &rule.filter),
            }
        }
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "new terms counted");
        // Only an event whose term was counted once can have a term seen
        // only in it; per event, in log order, the terms of every rule.
        let mut left_out: Vec<(u32, TermRarity)> = counted.iter().flat_map(|(c, _)| c.left_out(log)).collect();
        left_out.sort_by_key(|&(i, _)| i);
        let name = |s: Sym| (!s.is_none()).then(|| log.strings.str(s).to_owned());
        let replay = left_out
            .chunk_by(|a, b| a.0 == b.0)
            .map(|terms| {
                let e = &log.events[terms[0].0 as usize];
                ReplayedTerms {
                    at: e.timestamp,
                    user: name(e.user),
                    source: name(e.source),
                    terms: terms.iter().map(|&(_, t)| t).collect(),
                }
            })
            .collect();
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "new terms replayed");
        (history, out, replay)
    }

    /// A term never seen: its rarity, `-ln` of the chance of a new term,
    /// for its first value's own history when there is one, else the
    /// baseline's. `None` when the baseline has no such terms.
    pub fn term(&self, rule: &NewTerm, parts: &[&str]) -> Option<TermRarity> {
        let f = self.fields.get(&Novelty::key(rule))?;
        let own = parts.first().and_then(|p| f.by_first.get(*p)).filter(|c| c.events > 0);
        let public = source_slot(rule).map(|s| parts.get(s).is_some_and(|p| IpScope::is_public_address(p)));
        Some(TermRarity {
            nats: -own.unwrap_or(&f.all).chance(public).ln(),
            own: own.is_some(),
            hour: rule.fields.contains(&TermField::Hour),
        })
    }

    /// The rarity of several new terms of one login. Among terms judged by
    /// the user's own history, where a login comes from and goes to (a new
    /// address and a new host often come together, with a new laptop or on
    /// a trip) count once, the rarest, and so does when it happens (the
    /// hour); when is taken as independent of where, so the two add. Terms
    /// judged by the whole baseline (an account with no history of its
    /// own, for which every term is new) count once, the rarest.
    pub fn combined(terms: impl IntoIterator<Item = TermRarity>) -> f64 {
        let (mut place, mut time, mut shared) = (0.0f64, 0.0f64, 0.0f64);
        for t in terms {
            let max = match (t.own, t.hour) {
                (false, _) => &mut shared,
                (true, false) => &mut place,
                (true, true) => &mut time,
            };
            *max = max.max(t.nats);
        }
        place + time + shared
    }
}

/// A baseline event whose new terms [`Novelty::baseline_terms`] judged.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedTerms {
    pub at: Micros,
    pub user: Option<String>,
    pub source: Option<String>,
    /// The rarity of each of its terms.
    pub terms: Vec<TermRarity>,
}

impl ReplayedTerms {
    /// The terms' rarity together ([`Novelty::combined`]).
    pub fn nats(&self) -> f64 {
        Novelty::combined(self.terms.iter().copied())
    }

    /// Groups of `replay` (indices, in time order) that the alert policy
    /// would judge as one incident: the events of one user closer than
    /// `gap` to the previous one (a login and the first sudo of its
    /// session). Events without a user are alone.
    pub fn sessions(replay: &[ReplayedTerms], gap: Micros) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..replay.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&replay[a], &replay[b]);
            (a.user.is_none(), &a.user, a.at).cmp(&(b.user.is_none(), &b.user, b.at))
        });
        let mut out: Vec<Vec<usize>> = Vec::new();
        for i in order {
            let r = &replay[i];
            let joins = out.last().and_then(|g| g.last()).is_some_and(|&j| {
                let last = &replay[j];
                r.user.is_some() && last.user == r.user && r.at - last.at <= gap
            });
            match out.last_mut() {
                Some(g) if joins => g.push(i),
                _ => out.push(vec![i]),
            }
        }
        out
    }
}

/// The rarity of one new term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TermRarity {
    pub nats: f64,
    /// Judged by the first value's (the user's) own history.
    pub own: bool,
    /// A term of when (it has an hour), not of where.
    pub hour: bool,
}

/// One rule's terms counted over a baseline.
struct Counted<'r> {
    rule: &'r NewTerm,
    counts: FxHashMap<Key, u64>,
    /// The event of each term seen in one event only.
    single_event: FxHashMap<Key, u32>,
    /// With a slack: events per term with the hour left out, per hour.
    by_hour: FxHashMap<Key, [u64; 24]>,
    /// Per first value (symbol), when it is text and there are two or
    /// more fields.
    by_first: FxHashMap<u32, NoveltyCounts>,
    all: NoveltyCounts,
}

impl<'r> Counted<'r> {
    fn new(log: &CompactLog, index: &EventIndex, filter: &crate::rule::Filter, rule: &'r NewTerm) -> Counted<'r> {
        let filter = Matcher::new(filter, &log.strings);
        let mut counts: FxHashMap<Key, u64> = FxHashMap::default();
        let mut last: FxHashMap<Key, u32> = FxHashMap::default();
        let mut count = |i: u32| {
            let e = &log.events[i as usize];
            if !filter.matches(e) {
                return;
            }
            if let Some(k) = term_key(e, &rule.fields) {
                let n = counts.entry(k).or_default();
                *n += 1;
                if *n == 1 {
                    last.insert(k, i);
                }
            }
        };
        match index.candidates(&[&filter]) {
            Some(candidates) => candidates.into_iter().for_each(&mut count),
            None => (0..log.events.len() as u32).for_each(&mut count),
        }
        last.retain(|k, _| counts.get(k) == Some(&1));
        let mut by_hour: FxHashMap<Key, [u64; 24]> = FxHashMap::default();
        if let Some(slot) = rule.slack_slot() {
            for (k, &n) in &counts {
                by_hour.entry(without(k, slot)).or_insert([0; 24])[k[slot] as usize % 24] += n;
            }
        }
        let mut c = Counted {
            rule,
            counts,
            single_event: last,
            by_hour,
            by_first: FxHashMap::default(),
            all: NoveltyCounts::default(),
        };
        let first_is_text = rule.fields.len() > 1 && rule.fields[0] != TermField::Hour;
        let (mut by_first, mut all) = (FxHashMap::default(), NoveltyCounts::default());
        for (k, &n) in &c.counts {
            let single = u64::from(c.near(k) == 1);
            let public = single * u64::from(c.public_source(log, k) == Some(true));
            for counts in std::iter::once(&mut all).chain(first_is_text.then(|| by_first.entry(k[0]).or_default())) {
                counts.events += n;
                counts.singletons += single;
                counts.public_singletons += public;
            }
        }
        (c.by_first, c.all) = (by_first, all);
        c
    }

    /// Events of the term `k`, or with a slack of the terms whose hour is
    /// within it.
    fn near(&self, k: &Key) -> u64 {
        match self.rule.slack_slot() {
            None => self.counts.get(k).copied().unwrap_or(0),
            Some(slot) => {
                let hours = self.by_hour.get(&without(k, slot)).copied().unwrap_or([0; 24]);
                self.rule.hours_around(k[slot]).map(|h| hours[h as usize]).sum()
            }
        }
    }

    fn novelty(&self, log: &CompactLog) -> FieldNovelty {
        FieldNovelty {
            all: self.all,
            by_first: self
                .by_first
                .iter()
                .map(|(&s, &c)| (log.strings.str(Sym(s)).to_owned(), c))
                .collect(),
        }
    }

    /// Whether the source of term `k` is public, for a rule with a source.
    fn public_source(&self, log: &CompactLog, k: &Key) -> Option<bool> {
        source_slot(self.rule).map(|s| IpScope::is_public_address(log.strings.str(Sym(k[s]))))
    }

    /// The events whose term was seen only in them (with a slack, no
    /// other event's term within it), with the term's rarity without them.
    fn left_out<'a>(&'a self, log: &'a CompactLog) -> impl Iterator<Item = (u32, TermRarity)> + 'a {
        self.single_event
            .iter()
            .filter(|(k, _)| self.near(k) == 1)
            .map(|(k, &i)| (i, self.rarity_without(log, k)))
    }

    /// The rarity of term `k`, seen once, judged without its event.
    fn rarity_without(&self, log: &CompactLog, k: &Key) -> TermRarity {
        let public = self.public_source(log, k);
        let minus_one = |c: NoveltyCounts| NoveltyCounts {
            events: c.events.saturating_sub(1),
            singletons: c.singletons.saturating_sub(1),
            public_singletons: c.public_singletons.saturating_sub(u64::from(public == Some(true))),
        };
        let own = self
            .by_first
            .get(&k[0])
            .copied()
            .map(minus_one)
            .filter(|c| c.events > 0);
        TermRarity {
            nats: -own.unwrap_or(minus_one(self.all)).chance(public).ln(),
            own: own.is_some(),
            hour: self.rule.fields.contains(&TermField::Hour),
        }
    }
}

/// The position of the source among a rule's fields.
fn source_slot(rule: &NewTerm) -> Option<usize> {
    rule.fields.iter().position(|&f| f == TermField::Source)
}

/// `k` with the slot left out.
fn without(k: &Key, slot: usize) -> Key {
    let mut rest = *k;
    rest[slot] = u32::MAX;
    rest
}
