//! Rules evaluated as events arrive in time order, holding only the state
//! that can still change a hit.
//!
//! The windowed kinds (`count`, `distinct`, `single`, `sequence`) need, per
//! group, only the events of the current window, the aggregate of the hit
//! under construction ([`HitAgg`]) and, for a burst, the events after its
//! last qualifying window that a later one would make members. A group is
//! dropped once its last event is more than a window behind the watermark:
//! a later event's window holds none of its events, and a burst extends
//! only when the window's first event is at most a window after its end. The hits are those the batch engine finds on the whole log
//! (`tests/stream.rs` checks this on random logs).

use std::collections::VecDeque;

use loglynx_features::event::Micros;
use loglynx_features::output::compact::{CompactEvent, Interner, Sym};
use loglynx_features::output::ordered::SymMap;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{count, distinct, group_key, group_names, sequence, single, sym_of, HitAgg, Key, Matcher};
use crate::rule::{Field, Logic, Rule};
use crate::RuleHit;

/// Windowed rules fed events in order of (time, file, line), hits out as
/// they become final.
pub struct RuleStream {
    rules: Vec<Streamed>,
    /// No event before it may still come ([`RuleStream::advance`]).
    watermark: Micros,
    hits: Vec<RuleHit>,
}

impl RuleStream {
    /// Whether [`RuleStream`] evaluates `rule` (the other kinds need the
    /// whole log: `evaluate_with` runs them).
    pub fn streams(rule: &Rule) -> bool {
        matches!(
            rule.kind,
            Logic::Count(_) | Logic::Distinct(_) | Logic::Single(_) | Logic::Sequence(_)
        )
    }

    /// A stream of the rules of `rules` that [`RuleStream::streams`], in
    /// their order. Names the filters list are interned in `strings`, the
    /// interner of the events to come.
    pub fn new<'r>(rules: impl IntoIterator<Item = &'r Rule>, strings: &mut Interner) -> RuleStream {
        let rules = rules
            .into_iter()
            .filter(|r| Self::streams(r))
            .map(|rule| Streamed::new(rule.clone(), strings))
            .collect();
        RuleStream {
            rules,
            watermark: Micros::MIN,
            hits: Vec::new(),
        }
    }

    /// The next event: no earlier in (time, file, line) than the last one,
    /// and not before the watermark.
    pub fn push(&mut self, e: &CompactEvent, strings: &Interner) {
        debug_assert!(e.timestamp >= self.watermark, "an event before the watermark");
        for rule in &mut self.rules {
            rule.push(e, strings, &mut self.hits);
        }
    }

    /// No event before `watermark` will be pushed: the hits no later event
    /// can change are finished and their groups dropped.
    pub fn advance(&mut self, watermark: Micros, strings: &Interner) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        for rule in &mut self.rules {
            rule.expire(watermark, strings, &mut self.hits);
        }
    }

    /// Renumbers every symbol it holds, and resolves its filters' names
    /// again, for an interner that was compacted.
    pub fn remap(&mut self, map: &mut SymMap<'_>) {
        for rule in &mut self.rules {
            rule.remap(map);
        }
    }

    /// Groups held (for diagnostics).
    pub fn live_groups(&self) -> usize {
        self.rules.iter().map(|r| r.groups.len()).sum()
    }

    /// The finished hits so far, taken.
    pub fn take_hits(&mut self) -> Vec<RuleHit> {
        std::mem::take(&mut self.hits)
    }

    /// Every hit, after the last event.
    pub fn finish(mut self, strings: &Interner) -> Vec<RuleHit> {
        self.advance(Micros::MAX, strings);
        self.hits
    }
}

/// What a streamed rule checks beyond its filter and group.
enum Check {
    Count {
        threshold: u64,
    },
    Distinct {
        field: Field,
        threshold: u64,
    },
    Single,
    Sequence {
        first: Matcher,
        then: Matcher,
        min_first: u64,
    },
}

struct Streamed {
    rule: Rule,
    filter: Matcher,
    check: Check,
    window: Micros,
    groups: FxHashMap<Key, Group>,
    /// `(last event + window, group)` per event pushed, deadlines ascending.
    expiry: VecDeque<(Micros, Key)>,
}

struct Group {
    last: Micros,
    state: GroupState,
}

/// A group's state. What only a group that found something needs is
/// boxed: the groups' table holds a slot per group (hundreds of thousands
/// of scanners' in a slow brute force's hours).
enum GroupState {
    Burst(BurstGroup),
    /// The run of events no further than a window apart.
    Single(Box<HitAgg>),
    Sequence(SeqGroup),
}

/// A `count` or `distinct` group: its window and its open burst.
#[derive(Default)]
struct BurstGroup {
    window: VecDeque<CompactEvent>,
    /// `count`: the window's weight.
    sum: u64,
    /// `distinct`: occurrences of each value in the window.
    values: FxHashMap<Sym, u32>,
    burst: Option<Box<Burst>>,
}

struct Burst {
    agg: HitAgg,
    /// `distinct`: the values of its members.
    values: FxHashSet<Sym>,
    /// Time of its last member.
    end: Micros,
    /// Events after `end`: members if a later window extends the burst.
    pending: Vec<CompactEvent>,
}

#[derive(Default)]
struct SeqGroup {
    /// Events matching `first` within the window, with their position.
    firsts: VecDeque<(CompactEvent, u64)>,
    sum: u64,
    /// Position of the next event in the group.
    next: u64,
    seq: Option<Box<Seq>>,
}

struct Seq {
    agg: HitAgg,
    n_first: u64,
    n_then: u64,
    /// Position of its last member.
    done: u64,
    last_then: Micros,
}

impl Streamed {
    fn new(rule: Rule, strings: &mut Interner) -> Streamed {
        for name in rule.filter.names() {
            strings.intern(name);
        }
        let (check, window) = match &rule.kind {
            Logic::Count(c) => (Check::Count { threshold: c.threshold }, c.window.micros()),
            Logic::Distinct(d) => (
                Check::Distinct {
                    field: d.distinct_field,
                    threshold: d.threshold,
                },
                d.window.micros(),
            ),
            Logic::Single(s) => (Check::Single, s.window.micros()),
            Logic::Sequence(s) => {
                for name in s.first.names().chain(s.then.names()) {
                    strings.intern(name);
                }
                (
                    Check::Sequence {
                        first: Matcher::new(&s.first, strings),
                        then: Matcher::new(&s.then, strings),
                        min_first: s.min_first,
                    },
                    s.window.micros(),
                )
            }
            _ => unreachable!("RuleStream::streams chose the rule"),
        };
        Streamed {
            filter: Matcher::new(&rule.filter, strings),
            rule,
            check,
            window,
            groups: FxHashMap::default(),
            expiry: VecDeque::new(),
        }
    }

    fn remap(&mut self, map: &mut SymMap<'_>) {
        let key = |k: &Key, map: &mut SymMap<'_>| -> Key {
            let mut k = *k;
            for s in &mut k {
                if *s != u32::MAX {
                    *s = map.sym(Sym(*s)).0;
                }
            }
            k
        };
        let groups = std::mem::take(&mut self.groups);
        for (k, mut group) in groups {
            match &mut group.state {
                GroupState::Burst(g) => {
                    g.window.iter_mut().for_each(|e| map.event(e));
                    g.values = g.values.iter().map(|(&v, &n)| (map.sym(v), n)).collect();
                    if let Some(b) = &mut g.burst {
                        b.agg.remap(map);
                        b.values = b.values.iter().map(|&v| map.sym(v)).collect();
                        b.pending.iter_mut().for_each(|e| map.event(e));
                    }
                }
                GroupState::Single(run) => run.remap(map),
                GroupState::Sequence(g) => {
                    g.firsts.iter_mut().for_each(|(e, _)| map.event(e));
                    if let Some(s) = &mut g.seq {
                        s.agg.remap(map);
                    }
                }
            }
            self.groups.insert(key(&k, map), group);
        }
        for (_, k) in &mut self.expiry {
            *k = key(k, map);
        }
        for name in self.rule.filter.names() {
            map.intern(name);
        }
        self.filter = Matcher::new(&self.rule.filter, map.strings());
        if let (Check::Sequence { first, then, .. }, Logic::Sequence(s)) = (&mut self.check, &self.rule.kind) {
            for name in s.first.names().chain(s.then.names()) {
                map.intern(name);
            }
            *first = Matcher::new(&s.first, map.strings());
            *then = Matcher::new(&s.then, map.strings());
        }
    }

    /// The event's group, `None` when the rule does not read it.
    fn key(&self, e: &CompactEvent) -> Option<Key> {
        let read = match &self.check {
            Check::Distinct { field, .. } => sym_of(e, *field).is_some(),
            Check::Sequence { first, then, .. } => first.matches(e) || then.matches(e),
            Check::Count { .. } | Check::Single => true,
        };
        (read && self.filter.matches(e))
            .then(|| group_key(e, self.rule.kind.group_by()))
            .flatten()
    }

    fn push(&mut self, e: &CompactEvent, strings: &Interner, hits: &mut Vec<RuleHit>) {
        let Some(key) = self.key(e) else { return };
        let state = || match self.check {
            Check::Count { .. } | Check::Distinct { .. } => GroupState::Burst(BurstGroup::default()),
            Check::Single => GroupState::Single(Box::default()),
            Check::Sequence { .. } => GroupState::Sequence(SeqGroup::default()),
        };
        let group = self.groups.entry(key).or_insert_with(|| Group {
            last: e.timestamp,
            state: state(),
        });
        let mut out = Out {
            rule: &self.rule,
            strings,
            key: &key,
            hits,
        };
        match &mut group.state {
            GroupState::Burst(g) => push_burst(g, e, &self.filter, &self.check, self.window, &mut out),
            GroupState::Single(run) => {
                if !run.is_empty() && e.timestamp - group.last > self.window {
                    out.single(std::mem::take(&mut **run));
                }
                run.add(e, self.filter.weight(e));
            }
            GroupState::Sequence(g) => push_sequence(g, e, &self.filter, &self.check, self.window, &mut out),
        }
        group.last = e.timestamp;
        self.expiry.push_back((e.timestamp.saturating_add(self.window), key));
    }

    /// Finishes the groups whose last event is more than a window behind
    /// `watermark`.
    fn expire(&mut self, watermark: Micros, strings: &Interner, hits: &mut Vec<RuleHit>) {
        while let Some(&(deadline, key)) = self.expiry.front() {
            if deadline >= watermark {
                break;
            }
            self.expiry.pop_front();
            let Some(group) = self.groups.get(&key) else { continue };
            if group.last.saturating_add(self.window) >= watermark {
                continue;
            }
            let group = self.groups.remove(&key).expect("looked up above");
            let mut out = Out {
                rule: &self.rule,
                strings,
                key: &key,
                hits,
            };
            match group.state {
                GroupState::Burst(g) => {
                    if let Some(b) = g.burst {
                        out.burst(*b, &self.check);
                    }
                }
                GroupState::Single(run) => {
                    if !run.is_empty() {
                        out.single(*run);
                    }
                }
                GroupState::Sequence(g) => {
                    if let Some(s) = g.seq {
                        out.sequence(*s);
                    }
                }
            }
        }
    }
}

/// Where a group's finished hits go.
struct Out<'a> {
    rule: &'a Rule,
    strings: &'a Interner,
    key: &'a Key,
    hits: &'a mut Vec<RuleHit>,
}

impl Out<'_> {
    fn group(&self) -> Vec<(String, String)> {
        group_names(self.rule, self.strings, self.key)
    }

    fn burst(&mut self, b: Burst, check: &Check) {
        let group = self.group();
        let rule = self.rule;
        let hit = match check {
            Check::Distinct { field, .. } => {
                let n = b.values.len();
                b.agg
                    .into_hit(rule, self.strings, group, |h| distinct::summary(rule, *field, n, h))
            }
            _ => b.agg.into_hit(rule, self.strings, group, |h| count::summary(rule, h)),
        };
        self.hits.push(hit);
    }

    fn single(&mut self, run: HitAgg) {
        let group = self.group();
        let rule = self.rule;
        self.hits
            .push(run.into_hit(rule, self.strings, group, |h| single::summary(rule, h)));
    }

    fn sequence(&mut self, s: Seq) {
        let group = self.group();
        let rule = self.rule;
        let Logic::Sequence(logic) = &rule.kind else {
            unreachable!("a sequence group of a sequence rule")
        };
        let (n_first, n_then) = (s.n_first, s.n_then);
        self.hits.push(s.agg.into_hit(rule, self.strings, group, |h| {
            sequence::summary(rule, logic, n_first, n_then, h)
        }));
    }
}

/// As the batch engine's `bursts`, one event at a time.
fn push_burst(
    g: &mut BurstGroup,
    e: &CompactEvent,
    filter: &Matcher,
    check: &Check,
    window: Micros,
    out: &mut Out<'_>,
) {
    let t = e.timestamp;
    // A burst no later window can extend (its left edge would be more than
    // a window after the burst's end) is final.
    if g.burst.as_ref().is_some_and(|b| t - b.end > window.saturating_mul(2)) {
        out.burst(*g.burst.take().expect("checked"), check);
    }
    let value = |e: &CompactEvent| match check {
        Check::Distinct { field, .. } => sym_of(e, *field),
        _ => Sym::NONE,
    };
    let distinct = matches!(check, Check::Distinct { .. });
    g.window.push_back(*e);
    g.sum += filter.weight(e);
    if distinct {
        *g.values.entry(value(e)).or_default() += 1;
    }
    while let Some(front) = g.window.front() {
        if t - front.timestamp <= window {
            break;
        }
        g.sum -= filter.weight(front);
        if distinct {
            let v = value(front);
            if let Some(c) = g.values.get_mut(&v) {
                *c -= 1;
                if *c == 0 {
                    g.values.remove(&v);
                }
            }
        }
        g.window.pop_front();
    }
    let qualifies = match check {
        Check::Count { threshold } => g.sum >= *threshold,
        Check::Distinct { threshold, .. } => g.values.len() as u64 >= *threshold,
        _ => unreachable!("bursts are count and distinct"),
    };
    let add = |b: &mut Burst, m: &CompactEvent| {
        b.agg.add(m, filter.weight(m));
        if distinct {
            b.values.insert(value(m));
        }
    };
    if !qualifies {
        if let Some(b) = &mut g.burst {
            b.pending.push(*e);
        }
        return;
    }
    let left = g.window.front().expect("holds e").timestamp;
    match &mut g.burst {
        Some(b) if left - b.end <= window => {
            for m in std::mem::take(&mut b.pending) {
                add(b, &m);
            }
            add(b, e);
            b.end = t;
        }
        _ => {
            if let Some(b) = g.burst.take() {
                out.burst(*b, check);
            }
            let mut b = Burst {
                agg: HitAgg::default(),
                values: FxHashSet::default(),
                end: t,
                pending: Vec::new(),
            };
            for m in &g.window {
                add(&mut b, m);
            }
            g.burst = Some(Box::new(b));
        }
    }
}

/// As the batch engine's `sequences`, one event at a time.
fn push_sequence(
    g: &mut SeqGroup,
    e: &CompactEvent,
    filter: &Matcher,
    check: &Check,
    window: Micros,
    out: &mut Out<'_>,
) {
    let Check::Sequence { first, then, min_first } = check else {
        unreachable!("a sequence group of a sequence rule")
    };
    let t = e.timestamp;
    let p = g.next;
    g.next += 1;
    // A sequence no later `then` event can join is final.
    if g.seq.as_ref().is_some_and(|s| t - s.last_then > window) {
        out.sequence(*g.seq.take().expect("checked"));
    }
    while let Some((f, _)) = g.firsts.front() {
        if t - f.timestamp <= window {
            break;
        }
        g.sum -= first.weight(f);
        g.firsts.pop_front();
    }
    if then.matches(e) && g.sum >= *min_first {
        let seq = g.seq.get_or_insert_with(|| {
            Box::new(Seq {
                agg: HitAgg::default(),
                n_first: 0,
                n_then: 0,
                done: u64::MAX,
                last_then: t,
            })
        });
        for (f, fp) in &g.firsts {
            if seq.done == u64::MAX || *fp > seq.done {
                seq.agg.add(f, filter.weight(f));
                seq.n_first += first.weight(f);
            }
        }
        seq.agg.add(e, filter.weight(e));
        seq.n_then += then.weight(e);
        seq.done = p;
        seq.last_then = t;
    }
    if first.matches(e) {
        g.firsts.push_back((*e, p));
        g.sum += first.weight(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The groups' table holds a slot per live group; a slow brute force
    /// holds hundreds of thousands of scanners' for hours. Before the
    /// hit-building parts were boxed a slot took 344 bytes.
    #[test]
    fn a_groups_slot_stays_small() {
        let slot = std::mem::size_of::<(Key, Group)>();
        assert!(slot <= 128, "{slot} bytes");
    }
}
