//! A compact, owned form of [`Event`] for stages that keep events in memory
//! (detection rules, evidence): names are interned to `u32` symbols. A
//! [`KeepEvents`] filter keeps only the actions and outcomes its consumers
//! read, so sessions, disconnects and other bulk never take memory. The raw
//! line is not kept; evidence is re-read from `file:line` when an alert
//! needs it.

use hashbrown::HashTable;

use crate::aggregate::enrich::IpScope;
use crate::event::{is_present, Action, AttemptLine, AuthMethod, Event, FileId, Micros, Outcome};

/// An interned string; [`Sym::NONE`] stands for an absent value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Sym(pub u32);

impl Sym {
    pub const NONE: Sym = Sym(u32::MAX);

    pub fn is_none(self) -> bool {
        self == Sym::NONE
    }

    pub fn is_some(self) -> bool {
        self != Sym::NONE
    }
}

/// String interner: each distinct string gets one [`Sym`]. The strings
/// lie end to end in one buffer (no allocation per string), found by their
/// hash, which is kept so a [`CompactLog`] re-interns a batch's strings
/// without hashing them again.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    text: String,
    /// Per symbol, where its string ends in `text` (it starts where the
    /// previous one ends), and its hash.
    ends: Vec<usize>,
    hashes: Vec<u64>,
    table: HashTable<Sym>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        self.intern_hashed(s, crate::aggregate::name_hash(s))
    }

    /// As [`Interner::intern`], with `hash` = `name_hash(s)`.
    fn intern_hashed(&mut self, s: &str, hash: u64) -> Sym {
        let Interner {
            text,
            ends,
            hashes,
            table,
        } = self;
        let entry = table.entry(
            hash,
            |&sym| text[span(ends, sym.0 as usize)] == *s,
            |&sym| hashes[sym.0 as usize],
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(e) => *e.get(),
            hashbrown::hash_table::Entry::Vacant(e) => {
                let sym = Sym(ends.len() as u32);
                text.push_str(s);
                ends.push(text.len());
                hashes.push(hash);
                e.insert(sym);
                sym
            }
        }
    }

    fn intern_opt(&mut self, s: Option<&str>) -> Sym {
        match s {
            Some(s) if is_present(s) => self.intern(s),
            _ => Sym::NONE,
        }
    }

    /// The string of a symbol (`None` for [`Sym::NONE`]).
    pub fn get(&self, sym: Sym) -> Option<&str> {
        if sym.is_none() {
            None
        } else {
            let i = sym.0 as usize;
            (i < self.ends.len()).then(|| &self.text[span(&self.ends, i)])
        }
    }

    /// The string of a symbol, `""` when absent.
    pub fn str(&self, sym: Sym) -> &str {
        self.get(sym).unwrap_or("")
    }

    /// The symbol of a string, if it was interned.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        let hash = crate::aggregate::name_hash(s);
        self.table.find(hash, |&sym| self.get(sym) == Some(s)).copied()
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Interns every string of `other`: the symbol here of each of its
    /// symbols, in order.
    pub fn absorb(&mut self, other: &Interner) -> Vec<Sym> {
        other.hashed().map(|(s, hash)| self.intern_hashed(s, hash)).collect()
    }

    /// Every string with its symbol's hash, in symbol order.
    fn hashed(&self) -> impl Iterator<Item = (&str, u64)> {
        self.hashes
            .iter()
            .enumerate()
            .map(|(i, &hash)| (&self.text[span(&self.ends, i)], hash))
    }
}

/// Where symbol `i`'s string lies in an interner's text, given where each
/// string ends: it starts where the previous one ends.
fn span(ends: &[usize], i: usize) -> std::ops::Range<usize> {
    (if i == 0 { 0 } else { ends[i - 1] })..ends[i]
}

/// A class of events by action, outcome and flags: what a rule's filter
/// says about an event without looking at names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventClass {
    /// Bit `1 << (a as u32)` per action.
    pub actions: u32,
    /// Bit `1 << (o as u8)` per outcome.
    pub outcomes: u8,
    /// `user.name` is an unknown account (or the action is `invalid-user`).
    pub user_invalid: Option<bool>,
    /// The request was refused by policy (sudo `NOT in sudoers`).
    pub denied: Option<bool>,
    /// The event names a source address.
    pub has_source: Option<bool>,
    /// The event records part of an authentication attempt.
    pub attempt: Option<bool>,
}

impl EventClass {
    /// Every event.
    pub const ANY: EventClass = EventClass {
        actions: u32::MAX,
        outcomes: u8::MAX,
        user_invalid: None,
        denied: None,
        has_source: None,
        attempt: None,
    };

    /// The events in both classes.
    pub fn and(self, other: EventClass) -> EventClass {
        // Flags that agree (or one absent); contradicting ones are handled first.
        fn both(a: Option<bool>, b: Option<bool>) -> Option<bool> {
            a.or(b)
        }
        let contradiction = |a: Option<bool>, b: Option<bool>| matches!((a, b), (Some(x), Some(y)) if x != y);
        if contradiction(self.user_invalid, other.user_invalid)
            || contradiction(self.denied, other.denied)
            || contradiction(self.has_source, other.has_source)
            || contradiction(self.attempt, other.attempt)
        {
            return EventClass {
                actions: 0,
                ..EventClass::ANY
            };
        }
        EventClass {
            actions: self.actions & other.actions,
            outcomes: self.outcomes & other.outcomes,
            user_invalid: both(self.user_invalid, other.user_invalid),
            denied: both(self.denied, other.denied),
            has_source: both(self.has_source, other.has_source),
            attempt: both(self.attempt, other.attempt),
        }
    }

    #[inline]
    pub fn contains(&self, ev: &Event<'_>) -> bool {
        self.actions & (1 << ev.action as u32) != 0
            && self.outcomes & (1 << ev.outcome as u8) != 0
            && self.user_invalid.is_none_or(|v| ev.names_invalid_user() == v)
            && self.denied.is_none_or(|v| ev.denied == v)
            // As `CompactEvent::source` is interned.
            && self
                .has_source
                .is_none_or(|v| ev.source_key().is_some_and(is_present) == v)
            && self.attempt.is_none_or(|v| (ev.attempt_line != AttemptLine::None) == v)
    }

    /// As [`EventClass::contains`], for an event already compact.
    #[inline]
    pub fn contains_compact(&self, e: &CompactEvent) -> bool {
        self.actions & (1 << e.action as u32) != 0
            && self.outcomes & (1 << e.outcome as u8) != 0
            && self.user_invalid.is_none_or(|v| e.names_invalid_user() == v)
            && self.denied.is_none_or(|v| e.denied == v)
            && self.has_source.is_none_or(|v| e.source.is_some() == v)
            && self.attempt.is_none_or(|v| (e.attempt_line != AttemptLine::None) == v)
    }
}

/// Which events a compact log keeps: the union of the classes its
/// consumers (a rule set, the evaluation) read. Every other event is
/// dropped as it is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepEvents {
    classes: Vec<EventClass>,
    /// Per action and outcome, what the classes say without the flags: one
    /// table lookup decides most events.
    by_kind: [[KeepKind; Outcome::ALL.len()]; 32],
}

/// What [`KeepEvents`] knows of an action and outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeepKind {
    Never,
    Always,
    /// Some class keeps it depending on its flags.
    Flags,
}

// Every action has a bit in a `u32` action mask.
const _: () = assert!(Action::ALL.len() <= 32);

impl KeepEvents {
    /// Keeps nothing.
    pub fn none() -> KeepEvents {
        KeepEvents {
            classes: Vec::new(),
            by_kind: [[KeepKind::Never; Outcome::ALL.len()]; 32],
        }
    }

    /// Keeps every event.
    pub fn all() -> KeepEvents {
        let mut keep = KeepEvents::none();
        keep.add(EventClass::ANY);
        keep
    }

    /// Also keeps the events of `class`.
    pub fn add(&mut self, class: EventClass) {
        if class.actions == 0 || class.outcomes == 0 || self.classes.contains(&class) {
            return;
        }
        let flagless = class.user_invalid.is_none()
            && class.denied.is_none()
            && class.has_source.is_none()
            && class.attempt.is_none();
        for (a, row) in self.by_kind.iter_mut().enumerate() {
            for (o, kind) in row.iter_mut().enumerate() {
                if class.actions & (1 << a) != 0 && class.outcomes & (1 << o) != 0 {
                    *kind = match (*kind, flagless) {
                        (KeepKind::Always, _) | (_, true) => KeepKind::Always,
                        _ => KeepKind::Flags,
                    };
                }
            }
        }
        self.classes.push(class);
    }

    /// Also keeps what `other` keeps.
    pub fn union(&mut self, other: &KeepEvents) {
        for &c in &other.classes {
            self.add(c);
        }
    }

    #[inline]
    pub fn keeps(&self, ev: &Event<'_>) -> bool {
        match self.by_kind[ev.action as usize][ev.outcome as usize] {
            KeepKind::Never => false,
            KeepKind::Always => true,
            KeepKind::Flags => self.classes.iter().any(|c| c.contains(ev)),
        }
    }

    /// As [`KeepEvents::keeps`], for an event already compact.
    pub fn keeps_compact(&self, e: &CompactEvent) -> bool {
        match self.by_kind[e.action as usize][e.outcome as usize] {
            KeepKind::Never => false,
            KeepKind::Always => true,
            KeepKind::Flags => self.classes.iter().any(|c| c.contains_compact(e)),
        }
    }
}

impl Default for KeepEvents {
    fn default() -> Self {
        KeepEvents::all()
    }
}

/// One event, owned and small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompactEvent {
    pub timestamp: Micros,
    pub line: u64,
    pub file: FileId,
    pub user: Sym,
    pub host: Sym,
    /// `source.address` (IP or host name).
    pub source: Sym,
    pub target_user: Sym,
    pub program: Sym,
    pub command: Sym,
    pub repeat: u32,
    /// As [`Event::attempt_line`] and [`Event::attempts`].
    pub attempt_line: AttemptLine,
    pub attempts: u32,
    pub action: Action,
    pub outcome: Outcome,
    pub auth_method: Option<AuthMethod>,
    pub source_scope: Option<IpScope>,
    pub user_invalid: bool,
    pub denied: bool,
}

impl CompactEvent {
    /// Replaces each of its symbols by `f` of it ([`Sym::NONE`] stays).
    pub fn map_syms(&mut self, mut f: impl FnMut(Sym) -> Sym) {
        for s in [
            &mut self.user,
            &mut self.host,
            &mut self.source,
            &mut self.target_user,
            &mut self.program,
            &mut self.command,
        ] {
            if s.is_some() {
                *s = f(*s);
            }
        }
    }

    /// As [`Event::names_invalid_user`].
    pub fn names_invalid_user(&self) -> bool {
        self.user_invalid || self.action == Action::InvalidUser
    }

    /// As [`Event::attempt_outcome`].
    pub fn attempt_outcome(&self) -> Option<Outcome> {
        self.attempt_line.attempt_outcome(self.outcome)
    }

    /// As [`Event::failed_attempts`].
    pub fn failed_attempts(&self) -> u32 {
        if self.attempt_outcome() == Some(Outcome::Failure) {
            self.attempts
        } else {
            0
        }
    }

    /// A successful login (`authentication` with outcome `success`).
    pub fn logged_in(&self) -> bool {
        self.action == Action::Authentication && self.outcome == Outcome::Success
    }

    pub fn from_event(ev: &Event<'_>, strings: &mut Interner) -> CompactEvent {
        CompactEvent {
            timestamp: ev.timestamp,
            line: ev.evidence.line,
            file: ev.evidence.file,
            user: strings.intern_opt(ev.user.as_deref()),
            host: strings.intern_opt(ev.host.as_deref()),
            // An unreliable source is never an entity a rule can blame.
            source: strings.intern_opt(ev.source_key()),
            target_user: strings.intern_opt(ev.target_user.as_deref()),
            program: strings.intern_opt(ev.program.as_deref()),
            command: strings.intern_opt(ev.command.as_deref()),
            repeat: ev.repeat.max(1),
            attempt_line: ev.attempt_line,
            attempts: ev.attempts,
            action: ev.action,
            outcome: ev.outcome,
            auth_method: ev.auth_method,
            source_scope: ev.source_ip.filter(|_| !ev.source_unreliable).map(IpScope::of),
            user_invalid: ev.user_invalid,
            denied: ev.denied,
        }
    }
}

/// Events of one block with the block's own interner; [`CompactLog::append`]
/// moves them into the run's log, re-mapping symbols.
#[derive(Debug, Clone, Default)]
pub struct CompactBatch {
    pub events: Vec<CompactEvent>,
    pub strings: Interner,
    /// Events [`CompactBatch::push`] keeps (all by default).
    pub keep: KeepEvents,
}

impl CompactBatch {
    /// A batch that keeps only what `keep` selects.
    pub fn keeping(keep: KeepEvents) -> Self {
        CompactBatch {
            keep,
            ..Default::default()
        }
    }

    /// Adds `ev` when the batch keeps its action and outcome.
    pub fn push(&mut self, ev: &Event<'_>) {
        if self.keep.keeps(ev) {
            let c = CompactEvent::from_event(ev, &mut self.strings);
            self.events.push(c);
        }
    }
}

/// The kept events of a run, in input order, with one interner.
#[derive(Debug, Clone, Default)]
pub struct CompactLog {
    pub events: Vec<CompactEvent>,
    pub strings: Interner,
}

impl CompactLog {
    /// A log of `events`, in order, keeping what `keep` selects.
    pub fn from_events<'e, 'a: 'e>(events: impl IntoIterator<Item = &'e Event<'a>>, keep: KeepEvents) -> CompactLog {
        let mut batch = CompactBatch::keeping(keep);
        for e in events {
            batch.push(e);
        }
        let mut log = CompactLog::default();
        log.append(batch);
        log
    }

    pub fn append(&mut self, batch: CompactBatch) {
        let map = self.strings.absorb(&batch.strings);
        self.events.reserve(batch.events.len());
        for mut e in batch.events {
            e.map_syms(|s| map[s.0 as usize]);
            self.events.push(e);
        }
    }

    /// Appends `e`, whose symbols are `strings`', re-interned here.
    pub fn push_from(&mut self, e: &CompactEvent, strings: &Interner) {
        let mut e = *e;
        e.map_syms(|s| self.strings.intern(strings.str(s)));
        self.events.push(e);
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Evidence;
    use std::borrow::Cow;

    fn ev(user: &str, src: &str) -> Event<'static> {
        let mut e = Event::new(
            1,
            Action::Authentication,
            Evidence {
                file: 0,
                line: 3,
                raw: Cow::Borrowed(""),
            },
        );
        e.user = Some(Cow::Owned(user.to_owned()));
        e.set_source(Cow::Owned(src.to_owned()));
        e
    }

    #[test]
    fn batches_remap_into_one_interner() {
        let mut a = CompactBatch::default();
        a.push(&ev("alice", "10.0.0.1"));
        let mut b = CompactBatch::default();
        b.push(&ev("bob", "10.0.0.1"));
        b.push(&ev("alice", "203.0.113.5"));
        let mut log = CompactLog::default();
        log.append(a);
        log.append(b);
        let names: Vec<(&str, &str)> = log
            .events
            .iter()
            .map(|e| (log.strings.str(e.user), log.strings.str(e.source)))
            .collect();
        assert_eq!(
            names,
            vec![("alice", "10.0.0.1"), ("bob", "10.0.0.1"), ("alice", "203.0.113.5")]
        );
        assert_eq!(log.strings.len(), 4);
        assert_eq!(log.events[2].source_scope, Some(IpScope::Special));
        assert!(log.events[0].host.is_none());
    }

    #[test]
    fn batches_keep_only_the_selected_classes() {
        let mut keep = KeepEvents::none();
        keep.add(EventClass {
            actions: 1 << Action::Authentication as u32,
            outcomes: 1 << Outcome::Failure as u8,
            ..EventClass::ANY
        });
        keep.add(EventClass {
            user_invalid: Some(true),
            ..EventClass::ANY
        });
        let mut batch = CompactBatch::keeping(keep.clone());
        let mut failed = ev("alice", "10.0.0.1");
        failed.outcome = Outcome::Failure;
        let mut session = ev("bob", "10.0.0.2");
        session.action = Action::SessionOpened;
        session.outcome = Outcome::Failure;
        let mut invalid = ev("dave", "10.0.0.4");
        invalid.action = Action::InvalidUser;
        batch.push(&ev("carol", "10.0.0.3"));
        batch.push(&failed);
        batch.push(&session);
        batch.push(&invalid);
        let users: Vec<&str> = batch.events.iter().map(|e| batch.strings.str(e.user)).collect();
        assert_eq!(users, vec!["alice", "dave"]);
        // Names of dropped events are not interned.
        assert!(batch.strings.lookup("bob").is_none());
        assert!(KeepEvents::all().keeps(&session));
        assert!(!KeepEvents::none().keeps(&failed));
        let mut both = keep;
        both.union(&KeepEvents::all());
        assert!(both.keeps(&session));
    }

    #[test]
    fn contradicting_classes_keep_nothing() {
        let invalid = EventClass {
            user_invalid: Some(true),
            ..EventClass::ANY
        };
        let valid = EventClass {
            user_invalid: Some(false),
            ..EventClass::ANY
        };
        let mut keep = KeepEvents::none();
        keep.add(invalid.and(valid));
        assert_eq!(keep, KeepEvents::none());
        assert_eq!(invalid.and(EventClass::ANY), invalid);
    }

    /// The table of actions and outcomes decides as the classes would.
    #[test]
    fn the_keep_table_agrees_with_the_classes() {
        let failures = EventClass {
            actions: 1 << Action::Authentication as u32,
            outcomes: 1 << Outcome::Failure as u8,
            ..EventClass::ANY
        };
        let sourced_sudo = EventClass {
            actions: 1 << Action::Sudo as u32 | 1 << Action::Authentication as u32,
            has_source: Some(true),
            ..EventClass::ANY
        };
        let invalid = EventClass {
            user_invalid: Some(true),
            attempt: Some(false),
            ..EventClass::ANY
        };
        let mut keep = KeepEvents::none();
        for class in [failures, sourced_sudo, invalid] {
            keep.add(class);
        }
        let mut checked = 0;
        for action in Action::ALL {
            for outcome in Outcome::ALL {
                for (with_source, user_invalid, attempt) in [
                    (false, false, false),
                    (true, false, true),
                    (false, true, false),
                    (true, true, true),
                ] {
                    let mut e = ev("alice", "10.0.0.1");
                    if !with_source {
                        (e.source_address, e.source_ip) = (None, None);
                    }
                    (e.action, e.outcome, e.user_invalid) = (action, outcome, user_invalid);
                    e.attempt_line = if attempt {
                        AttemptLine::Daemon
                    } else {
                        AttemptLine::None
                    };
                    let by_classes = keep.classes.iter().any(|c| c.contains(&e));
                    assert_eq!(
                        keep.keeps(&e),
                        by_classes,
                        "{action:?} {outcome:?} {with_source} {user_invalid}"
                    );
                    checked += usize::from(by_classes);
                }
            }
        }
        assert!(checked > 0);
    }

    #[test]
    fn compact_events_stay_small() {
        assert!(
            std::mem::size_of::<CompactEvent>() <= 64,
            "{}",
            std::mem::size_of::<CompactEvent>()
        );
    }
}
