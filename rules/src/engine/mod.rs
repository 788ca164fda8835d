//! Evaluation of one rule over a log.
//!
//! Matching events are grouped by the rule's key, each group is sorted by
//! time (then file, line and index, so input order does not matter) and
//! scanned once: two pointers bound the sliding window, and qualifying
//! windows closer than `window` to the current burst extend it instead of
//! starting a new hit.
//!
//! Each kind has its own file; this module holds what they share: filters
//! resolved against the log, keys, grouping, the window scan and the hit.

mod chain;
mod concurrent;
mod count;
mod distinct;
mod new_term;
mod sequence;
mod single;
pub(crate) mod stream;

use loglynx_features::event::{Action, Micros, Outcome};
use loglynx_features::output::compact::{CompactEvent, CompactLog, EventClass, Interner, Sym};
use loglynx_features::output::ordered::SymMap;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::rule::{Field, Filter, Logic, Rule, TermField};
use crate::{Context, History, Place, RuleHit, Severity, Skipped, EVIDENCE_EACH_END, MAX_LISTED};

/// A group or term key: up to six symbols (the hour for [`TermField::Hour`]),
/// unused slots `u32::MAX`.
pub(super) type Key = [u32; 6];

/// A [`Filter`] resolved against one log's interner.
pub(super) struct Matcher {
    /// Bit `a as u32` set for each allowed action.
    actions: u32,
    /// Bit `o as u8` set for each allowed outcome.
    outcomes: u8,
    user_invalid: Option<bool>,
    denied: Option<bool>,
    has_source: Option<bool>,
    scopes: Option<u8>,
    auth_methods: Option<u8>,
    /// Sorted symbols; names absent from the log are dropped, so an empty
    /// list matches nothing.
    users: Option<Vec<Sym>>,
    target_users: Option<Vec<Sym>>,
    programs: Option<Vec<Sym>>,
    /// Bit `o as u8` per outcome of the attempts a matching line must
    /// count; `None` when the filter does not ask for attempts.
    attempts: Option<u8>,
}

/// What `f` says about an event apart from names and source scope: every
/// event it matches is in this class.
pub(super) fn class_of(f: &Filter) -> EventClass {
    let m = Matcher::new(f, &Interner::default());
    EventClass {
        actions: m.actions,
        outcomes: m.outcomes,
        user_invalid: m.user_invalid,
        denied: m.denied,
        has_source: m.has_source,
        attempt: m.attempts.map(|_| true),
    }
}

impl Matcher {
    pub(super) fn new(f: &Filter, strings: &Interner) -> Matcher {
        fn mask<T: Copy>(v: &Option<Vec<T>>, bit: impl Fn(T) -> u32) -> Option<u32> {
            v.as_ref().map(|v| v.iter().fold(0, |m, &x| m | 1 << bit(x)))
        }
        let syms = |v: &Option<Vec<String>>| {
            v.as_ref().map(|names| {
                let mut s: Vec<Sym> = names.iter().filter_map(|n| strings.lookup(n)).collect();
                s.sort_unstable();
                s.dedup();
                s
            })
        };
        Matcher {
            actions: mask(&f.action, |a| a as u32).unwrap_or(u32::MAX),
            outcomes: mask(&f.outcome, |o| o as u32).unwrap_or(u32::MAX) as u8,
            user_invalid: f.user_invalid,
            denied: f.denied,
            has_source: f.has_source,
            scopes: mask(&f.source_scope, |s| s as u32).map(|m| m as u8),
            auth_methods: mask(&f.auth_method, |a| a as u32).map(|m| m as u8),
            users: syms(&f.user),
            target_users: syms(&f.target_user),
            programs: syms(&f.program),
            attempts: mask(&f.attempt, |o| o as u32).map(|m| m as u8),
        }
    }

    /// What a matching event weighs: the attempts it counts when the filter
    /// asks for attempts, else its `repeat`.
    #[inline]
    pub(super) fn weight(&self, e: &CompactEvent) -> u64 {
        if self.attempts.is_some() {
            u64::from(e.attempts)
        } else {
            u64::from(e.repeat)
        }
    }

    #[inline]
    pub(super) fn matches(&self, e: &CompactEvent) -> bool {
        fn listed(set: &Option<Vec<Sym>>, s: Sym) -> bool {
            set.as_ref().is_none_or(|set| set.binary_search(&s).is_ok())
        }
        self.actions & (1 << e.action as u32) != 0
            && self.outcomes & (1 << e.outcome as u8) != 0
            && self.user_invalid.is_none_or(|v| e.names_invalid_user() == v)
            && self.denied.is_none_or(|v| e.denied == v)
            && self.has_source.is_none_or(|v| e.source.is_some() == v)
            && self
                .scopes
                .is_none_or(|m| e.source_scope.is_some_and(|s| m & (1 << s as u8) != 0))
            && self
                .auth_methods
                .is_none_or(|m| e.auth_method.is_some_and(|a| m & (1 << a as u8) != 0))
            && listed(&self.users, e.user)
            && listed(&self.target_users, e.target_user)
            && listed(&self.programs, e.program)
            && self
                .attempts
                .is_none_or(|m| e.attempts > 0 && e.attempt_outcome().is_some_and(|o| m & (1 << o as u8) != 0))
    }
}

fn sym_of(e: &CompactEvent, f: Field) -> Sym {
    match f {
        Field::User => e.user,
        Field::Host => e.host,
        Field::Source => e.source,
        Field::TargetUser => e.target_user,
        Field::Program => e.program,
    }
}

/// UTC hour of day.
pub(super) fn hour_of(ts: Micros) -> u32 {
    ts.div_euclid(3_600_000_000).rem_euclid(24) as u32
}

/// The group key, `None` when the event lacks one of the fields.
fn group_key(e: &CompactEvent, fields: &[Field]) -> Option<Key> {
    let mut k = [u32::MAX; 6];
    for (slot, &f) in k.iter_mut().zip(fields) {
        let s = sym_of(e, f);
        if s.is_none() {
            return None;
        }
        *slot = s.0;
    }
    Some(k)
}

/// The term key, `None` when the event lacks one of the fields.
pub(super) fn term_key(e: &CompactEvent, fields: &[TermField]) -> Option<Key> {
    let mut k = [u32::MAX; 6];
    for (slot, &f) in k.iter_mut().zip(fields) {
        *slot = match f.field() {
            None => hour_of(e.timestamp),
            Some(f) => {
                let s = sym_of(e, f);
                if s.is_none() {
                    return None;
                }
                s.0
            }
        };
    }
    Some(k)
}

/// Appends the history value of a term key: its parts joined with
/// [`History::SEPARATOR`].
pub(super) fn term_text(strings: &Interner, fields: &[TermField], key: &Key, out: &mut String) {
    use std::fmt::Write;
    for (n, (f, &v)) in fields.iter().zip(key).enumerate() {
        if n > 0 {
            out.push_str(History::SEPARATOR);
        }
        match f {
            TermField::Hour => write!(out, "{v:02}").expect("write to String"),
            _ => out.push_str(strings.str(Sym(v))),
        }
    }
}

/// The text of each part of a term key.
pub(super) fn term_parts(strings: &Interner, fields: &[TermField], key: &Key) -> Vec<String> {
    fields
        .iter()
        .zip(key)
        .map(|(f, &v)| match f {
            TermField::Hour => format!("{v:02}"),
            _ => strings.str(Sym(v)).to_owned(),
        })
        .collect()
}

/// Matching event indices grouped by key, stored flat: no allocation per
/// group, so millions of one-event groups stay cheap.
struct Groups {
    keys: Vec<Key>,
    /// Group `g` is `idx[starts[g]..starts[g + 1]]`.
    starts: Vec<usize>,
    idx: Vec<u32>,
}

impl Groups {
    /// The members of group `g`.
    fn members(&self, g: usize) -> &[u32] {
        &self.idx[self.starts[g]..self.starts[g + 1]]
    }

    fn iter(&self) -> impl Iterator<Item = (&Key, &[u32])> {
        self.keys
            .iter()
            .enumerate()
            .map(|(g, k)| (k, &self.idx[self.starts[g]..self.starts[g + 1]]))
    }
}

/// Indices of the events `key` accepts, grouped by the key it returns, each
/// group sorted by (time, file, line, index).
/// `candidates`: the events to look at (ascending), every event when `None`.
fn collect(
    events: &[CompactEvent],
    candidates: Option<&[u32]>,
    mut key: impl FnMut(&CompactEvent) -> Option<Key>,
) -> Groups {
    assert!(events.len() < u32::MAX as usize, "more than 2^32 events");
    // Keys of at most two parts (most rules') are looked up as one `u64`,
    // cheaper to hash and compare than the whole key.
    let mut narrow: FxHashMap<u64, u32> = FxHashMap::default();
    let mut wide: FxHashMap<Key, u32> = FxHashMap::default();
    let mut keys = Vec::new();
    // At most one pair per event looked at: no regrowth.
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(candidates.map_or(events.len(), <[u32]>::len));
    let mut add = |i: u32, e: &CompactEvent| {
        if let Some(k) = key(e) {
            let next = keys.len() as u32;
            let new = |keys: &mut Vec<Key>| {
                keys.push(k);
                next
            };
            let g = if k[2..].iter().all(|&part| part == u32::MAX) {
                *narrow
                    .entry(u64::from(k[0]) << 32 | u64::from(k[1]))
                    .or_insert_with(|| new(&mut keys))
            } else {
                *wide.entry(k).or_insert_with(|| new(&mut keys))
            };
            pairs.push((g, i));
        }
    };
    match candidates {
        Some(c) => c.iter().for_each(|&i| add(i, &events[i as usize])),
        None => events.iter().enumerate().for_each(|(i, e)| add(i as u32, e)),
    }
    drop((narrow, wide));
    // Counting sort by group; stable, so each group keeps input order.
    let mut starts = vec![0usize; keys.len() + 1];
    for &(g, _) in &pairs {
        starts[g as usize + 1] += 1;
    }
    for g in 0..keys.len() {
        starts[g + 1] += starts[g];
    }
    let mut fill = starts.clone();
    let mut idx = vec![0u32; pairs.len()];
    for (g, i) in pairs {
        idx[fill[g as usize]] = i;
        fill[g as usize] += 1;
    }
    let order = |&i: &u32| {
        let e = &events[i as usize];
        (e.timestamp, e.file, e.line, i)
    };
    for g in 0..keys.len() {
        let group = &mut idx[starts[g]..starts[g + 1]];
        if !group.is_sorted_by_key(order) {
            group.sort_unstable_by_key(order);
        }
    }
    Groups { keys, starts, idx }
}

/// The state of a sliding window over one group's events (positions into
/// the group).
trait WindowState {
    fn add(&mut self, k: usize);
    fn remove(&mut self, k: usize);
    fn qualifies(&self) -> bool;
}

/// Maximal bursts `(start, end)` (inclusive positions) of qualifying windows,
/// appended to `out`. A window holds the events at most `window` older than
/// its last one; a qualifying window that starts no later than `window`
/// after the current burst's last event extends that burst. Leaves `state`
/// empty.
fn bursts(ts: &[Micros], window: Micros, state: &mut impl WindowState, out: &mut Vec<(usize, usize)>) {
    let mut current: Option<(usize, usize)> = None;
    let mut left = 0;
    for right in 0..ts.len() {
        state.add(right);
        while ts[right] - ts[left] > window {
            state.remove(left);
            left += 1;
        }
        if !state.qualifies() {
            continue;
        }
        match &mut current {
            Some((_, end)) if ts[left] - ts[*end] <= window => *end = right,
            _ => {
                out.extend(current.take());
                current = Some((left, right));
            }
        }
    }
    out.extend(current);
    for k in left..ts.len() {
        state.remove(k);
    }
}

/// Fills `buf` with `f` of each index (a buffer reused across groups).
fn fill<'a, T>(buf: &'a mut Vec<T>, idx: &[u32], f: impl Fn(u32) -> T) -> &'a [T] {
    buf.clear();
    buf.extend(idx.iter().map(|&i| f(i)));
    buf
}

/// The events of a log by action and outcome, and by the outcome of the
/// attempt they count, so that a rule reads only the events its filter
/// may match.
pub(crate) struct EventIndex {
    /// Per action and outcome ([`EventIndex::kind`]).
    by_kind: Vec<Vec<u32>>,
    by_attempt: Vec<Vec<u32>>,
}

/// Outcomes per action in [`EventIndex::by_kind`].
const OUTCOMES: usize = Outcome::ALL.len();

impl EventIndex {
    pub(crate) fn new(log: &CompactLog) -> EventIndex {
        let mut by_kind: Vec<Vec<u32>> = vec![Vec::new(); Action::ALL.len() * OUTCOMES];
        let mut by_attempt: Vec<Vec<u32>> = Vec::new();
        for (i, e) in log.events.iter().enumerate() {
            by_kind[Self::kind(e.action as usize, e.outcome as usize)].push(i as u32);
            if let Some(o) = e.attempt_outcome().filter(|_| e.attempts > 0) {
                let o = o as usize;
                if by_attempt.len() <= o {
                    by_attempt.resize(o + 1, Vec::new());
                }
                by_attempt[o].push(i as u32);
            }
        }
        EventIndex { by_kind, by_attempt }
    }

    fn kind(action: usize, outcome: usize) -> usize {
        action * OUTCOMES + outcome
    }

    /// The events (ascending) every one of `matchers` may match: the
    /// smallest list one of them narrows to; `None` for every event.
    pub(crate) fn candidates(&self, matchers: &[&Matcher]) -> Option<Vec<u32>> {
        fn lists(lists: &[Vec<u32>], wanted: impl Fn(usize) -> bool) -> Vec<&[u32]> {
            lists
                .iter()
                .enumerate()
                .filter(|&(k, _)| wanted(k))
                .map(|(_, l)| l.as_slice())
                .collect()
        }
        let all_actions = (1u32 << Action::ALL.len()) - 1;
        let all_outcomes = (1u8 << OUTCOMES) - 1;
        let narrowed = matchers.iter().flat_map(|m| {
            let by_kind =
                (m.actions & all_actions != all_actions || m.outcomes & all_outcomes != all_outcomes).then(|| {
                    lists(&self.by_kind, |k| {
                        m.actions & (1 << (k / OUTCOMES)) != 0 && m.outcomes & (1 << (k % OUTCOMES)) != 0
                    })
                });
            let by_attempt = m
                .attempts
                .map(|mask| lists(&self.by_attempt, |o| u32::from(mask) & (1 << o) != 0));
            [by_kind, by_attempt].into_iter().flatten()
        });
        let smallest = narrowed.min_by_key(|l| l.iter().map(|x| x.len()).sum::<usize>())?;
        let mut out: Vec<u32> = smallest.concat();
        if smallest.len() > 1 {
            out.sort_unstable();
        }
        Some(out)
    }
}

/// Runs one rule.
pub(super) fn run(
    rule: &Rule,
    log: &CompactLog,
    context: &Context,
    index: &EventIndex,
) -> Result<Vec<RuleHit>, Skipped> {
    let ctx = Ctx {
        rule,
        log,
        filter: Matcher::new(&rule.filter, &log.strings),
        index,
    };
    Ok(match &rule.kind {
        Logic::Count(c) => count::run(&ctx, c),
        Logic::Distinct(d) => distinct::run(&ctx, d),
        Logic::Sequence(s) => sequence::run(&ctx, s),
        Logic::Single(s) => single::run(&ctx, s),
        Logic::NewTerm(n) => new_term::run(&ctx, n, context.history)?,
        Logic::Chain(c) => chain::run(&ctx, c, context.assets, context.history),
        Logic::Concurrent(c) => concurrent::run(&ctx, c, context.history),
    })
}

/// What one rule needs to build hits.
struct Ctx<'a> {
    rule: &'a Rule,
    log: &'a CompactLog,
    /// The rule's `filter`.
    filter: Matcher,
    index: &'a EventIndex,
}

impl Ctx<'_> {
    /// The events the rule's filter (and `also`) may match; `None`: every event.
    fn candidates(&self, also: &[&Matcher]) -> Option<Vec<u32>> {
        let mut all = vec![&self.filter];
        all.extend_from_slice(also);
        self.index.candidates(&all)
    }

    /// The events that may pass the filter and one of `steps` (ascending),
    /// every event when one of them cannot be narrowed.
    fn candidates_of_any(&self, steps: &[&Matcher]) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        for step in steps {
            out.extend(self.candidates(&[step])?);
        }
        if steps.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
        Some(out)
    }

    fn time(&self, i: u32) -> Micros {
        self.log.events[i as usize].timestamp
    }

    fn weight(&self, i: u32) -> u64 {
        self.filter.weight(&self.log.events[i as usize])
    }

    /// The event's group key, `None` when the rule's filter refuses it or
    /// it lacks a group field.
    fn grouped(&self, e: &CompactEvent) -> Option<Key> {
        if self.filter.matches(e) {
            group_key(e, self.rule.kind.group_by())
        } else {
            None
        }
    }

    fn hit(&self, key: &Key, members: &[u32], summary: impl FnOnce(&RuleHit) -> String) -> RuleHit {
        self.hit_with_group(group_names(self.rule, &self.log.strings, key), members, summary)
    }

    /// A hit over `members` (indices into the log, in time order).
    fn hit_with_group(
        &self,
        group: Vec<(String, String)>,
        members: &[u32],
        summary: impl FnOnce(&RuleHit) -> String,
    ) -> RuleHit {
        let mut agg = HitAgg::default();
        for &i in members {
            let e = &self.log.events[i as usize];
            agg.add(e, self.filter.weight(e));
        }
        agg.into_hit(self.rule, &self.log.strings, group, summary)
    }

    fn extras(&self, h: &RuleHit, skip: Option<Field>) -> String {
        extras(self.rule, h, skip)
    }
}

/// What a hit reads of its members, added in time order: enough to build
/// it without keeping them.
#[derive(Debug, Clone)]
pub(super) struct HitAgg {
    first: Micros,
    last: Micros,
    count: u64,
    users: FxHashSet<Sym>,
    hosts: FxHashSet<Sym>,
    sources: FxHashSet<Sym>,
    /// The places of the first and of the last [`EVIDENCE_EACH_END`] members.
    head: Vec<Place>,
    tail: std::collections::VecDeque<Place>,
}

impl Default for HitAgg {
    fn default() -> Self {
        HitAgg {
            first: Micros::MAX,
            last: Micros::MIN,
            count: 0,
            users: FxHashSet::default(),
            hosts: FxHashSet::default(),
            sources: FxHashSet::default(),
            head: Vec::new(),
            tail: std::collections::VecDeque::new(),
        }
    }
}

impl HitAgg {
    /// Adds a member that weighs `weight` (the rule filter's weight).
    pub(super) fn add(&mut self, e: &CompactEvent, weight: u64) {
        self.first = self.first.min(e.timestamp);
        self.last = self.last.max(e.timestamp);
        self.count += weight;
        for (set, s) in [
            (&mut self.users, e.user),
            (&mut self.hosts, e.host),
            (&mut self.sources, e.source),
        ] {
            if s.is_some() {
                set.insert(s);
            }
        }
        let place = (e.file, e.line);
        if self.head.len() < EVIDENCE_EACH_END {
            self.head.push(place);
        }
        if self.tail.len() == EVIDENCE_EACH_END {
            self.tail.pop_front();
        }
        self.tail.push_back(place);
    }

    /// Whether no member was added.
    pub(super) fn is_empty(&self) -> bool {
        self.head.is_empty()
    }

    /// Renumbers its symbols.
    pub(super) fn remap(&mut self, map: &mut SymMap<'_>) {
        for set in [&mut self.users, &mut self.hosts, &mut self.sources] {
            *set = set.iter().map(|&s| map.sym(s)).collect();
        }
    }

    /// The hit: names from `strings`, severity by the rule's escalations,
    /// then the summary.
    pub(super) fn into_hit(
        self,
        rule: &Rule,
        strings: &Interner,
        group: Vec<(String, String)>,
        summary: impl FnOnce(&RuleHit) -> String,
    ) -> RuleHit {
        let mut evidence: Vec<Place> = self.head.iter().chain(&self.tail).copied().collect();
        evidence.sort_unstable();
        evidence.dedup();
        let names = |set: &FxHashSet<Sym>| {
            let mut v: Vec<String> = set.iter().map(|&s| strings.str(s).to_owned()).collect();
            v.sort_unstable();
            v.truncate(MAX_LISTED);
            v
        };
        let mut hit = RuleHit {
            rule_id: rule.id.clone(),
            severity: Severity::Low,
            group,
            first: self.first,
            last: self.last,
            count: self.count,
            users: names(&self.users),
            hosts: names(&self.hosts),
            sources: names(&self.sources),
            distinct_users: self.users.len(),
            distinct_hosts: self.hosts.len(),
            distinct_sources: self.sources.len(),
            evidence,
            summary: String::new(),
        };
        hit.severity = severity(rule, &hit);
        hit.summary = summary(&hit);
        hit
    }
}

/// The group's field values of a hit, in `group_by` order.
pub(super) fn group_names(rule: &Rule, strings: &Interner, key: &Key) -> Vec<(String, String)> {
    rule.kind
        .group_by()
        .iter()
        .zip(key)
        .map(|(f, &s)| (f.as_str().to_owned(), strings.str(Sym(s)).to_owned()))
        .collect()
}

/// The first matching escalation's level, else the rule's.
fn severity(rule: &Rule, h: &RuleHit) -> Severity {
    rule.severity
        .iter()
        .find(|s| {
            s.min_count.is_none_or(|m| h.count >= m)
                && s.min_distinct_users.is_none_or(|m| h.distinct_users >= m)
                && s.min_distinct_hosts.is_none_or(|m| h.distinct_hosts >= m)
                && s.min_distinct_sources.is_none_or(|m| h.distinct_sources >= m)
        })
        .map_or(rule.level, |s| s.level)
}

/// `, 4 distinct users, from 203.0.113.9`: users, sources and hosts that
/// are not already part of the group (or the distinct field).
fn extras(rule: &Rule, h: &RuleHit, skip: Option<Field>) -> String {
    let terms: &[TermField] = match &rule.kind {
        Logic::NewTerm(n) => &n.fields,
        _ => &[],
    };
    let shown =
        |f: Field| skip != Some(f) && !rule.kind.group_by().contains(&f) && !terms.iter().any(|t| t.field() == Some(f));
    let mut parts = Vec::new();
    let mut add = |f: Field, n: usize, list: &[String], one: &str, many: &str| {
        if shown(f) {
            match n {
                0 => {}
                1 => parts.push(format!("{one} {}", list[0])),
                n => parts.push(format!("{many} {n} distinct {}s", f.as_str())),
            }
        }
    };
    add(Field::User, h.distinct_users, &h.users, "user", "");
    add(Field::Source, h.distinct_sources, &h.sources, "from", "from");
    add(Field::Host, h.distinct_hosts, &h.hosts, "on", "on");
    parts.iter().map(|p| format!(", {}", p.trim_start())).collect()
}

/// The filter a summary describes: `step`'s keys, else `base`'s.
fn text_filter(base: &Filter, step: &Filter) -> Filter {
    Filter {
        action: step.action.clone().or_else(|| base.action.clone()),
        outcome: step.outcome.clone().or_else(|| base.outcome.clone()),
        user_invalid: step.user_invalid.or(base.user_invalid),
        denied: step.denied.or(base.denied),
        attempt: step.attempt.clone().or_else(|| base.attempt.clone()),
        ..Filter::default()
    }
}

/// A noun phrase for `n` events matching `f`: `failed logins`, `denied sudo
/// command`, `events`.
fn noun(f: &Filter, n: u64) -> String {
    let action = match f.action.as_deref() {
        Some([a]) => Some(*a),
        _ => None,
    };
    let attempt = match f.attempt.as_deref() {
        Some([o]) => Some(*o),
        _ => None,
    };
    let (one, many) = match action {
        Some(a) => action_noun(a),
        None if attempt.is_some() => ("login", "logins"),
        None if f
            .action
            .as_deref()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|a| a.category() == "network")) =>
        {
            ("pre-authentication failure", "pre-authentication failures")
        }
        None if f.user_invalid == Some(true) => ("invalid-user attempt", "invalid-user attempts"),
        None => ("event", "events"),
    };
    let adjective = if f.denied == Some(true) {
        "denied "
    } else {
        match f.outcome.as_deref().or(f.attempt.as_deref()) {
            Some([Outcome::Failure]) if action != Some(Action::InvalidUser) => "failed ",
            Some([Outcome::Success]) => "successful ",
            _ => "",
        }
    };
    format!("{adjective}{}", if n == 1 { one } else { many })
}

fn action_noun(a: Action) -> (&'static str, &'static str) {
    match a {
        Action::Authentication => ("login", "logins"),
        Action::InvalidUser => ("invalid-user attempt", "invalid-user attempts"),
        Action::SessionOpened => ("session opened", "sessions opened"),
        Action::SessionClosed => ("session closed", "sessions closed"),
        Action::Sudo => ("sudo command", "sudo commands"),
        Action::Su => ("su", "su uses"),
        Action::UserCreated => ("account creation", "account creations"),
        Action::UserModified => ("account change", "account changes"),
        Action::UserDeleted => ("account deletion", "account deletions"),
        Action::PasswordChanged => ("password change", "password changes"),
        Action::GroupChanged => ("group change", "group changes"),
        Action::MaxAuthAttempts => ("too-many-attempts disconnect", "too-many-attempts disconnects"),
        Action::NoIdentification => ("scanner probe", "scanner probes"),
        Action::ReverseMappingFailed => ("reverse-mapping failure", "reverse-mapping failures"),
        Action::Disconnect => ("disconnect", "disconnects"),
        Action::PrivilegedLogon => ("privileged logon", "privileged logons"),
        Action::ExplicitCredentials => ("explicit-credential logon", "explicit-credential logons"),
        Action::AccountLocked => ("account lockout", "account lockouts"),
        Action::LoginRefused => ("refused login", "refused logins"),
        Action::ProtocolError => ("protocol error", "protocol errors"),
        Action::PreauthTimeout => ("pre-authentication timeout", "pre-authentication timeouts"),
    }
}

/// The hit's time span in words: `under a second`, `45 seconds`,
/// `3 minutes`, `5 hours`, `2 days`.
/// `27 failed logins in 3 minutes` (no span for a single instant).
fn counted(f: &Filter, h: &RuleHit) -> String {
    let n = h.count;
    let noun = noun(f, n);
    if h.last > h.first {
        format!("{n} {noun} in {}", span(h))
    } else {
        format!("{n} {noun}")
    }
}

fn span(h: &RuleHit) -> String {
    duration(h.last - h.first)
}

/// A duration in words, as [`span`].
fn duration(d: Micros) -> String {
    let secs = d / 1_000_000;
    let (n, unit) = match secs {
        0 => return "under a second".to_owned(),
        s if s < 120 => (s, "second"),
        s if s < 7_200 => (s / 60, "minute"),
        s if s < 172_800 => (s / 3_600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
