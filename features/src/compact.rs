//! A compact, owned form of [`Event`] for stages that keep every event in
//! memory (detection rules, evidence): names are interned to `u32` symbols,
//! so ten million events take a few hundred MiB. The raw line is not kept;
//! evidence is re-read from `file:line` when an alert needs it.

use rustc_hash::FxHashMap;

use crate::enrich::IpScope;
use crate::event::{Action, AuthMethod, Event, FileId, Micros, Outcome};

/// An interned string; [`Sym::NONE`] stands for an absent value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// String interner: each distinct string gets one [`Sym`].
#[derive(Debug, Clone, Default)]
pub struct Interner {
    map: FxHashMap<Box<str>, Sym>,
    strings: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.map.get(s) {
            return sym;
        }
        let sym = Sym(self.strings.len() as u32);
        self.strings.push(s.into());
        self.map.insert(s.into(), sym);
        sym
    }

    fn intern_opt(&mut self, s: Option<&str>) -> Sym {
        match s {
            Some(s) if !s.is_empty() && s != "-" => self.intern(s),
            _ => Sym::NONE,
        }
    }

    /// The string of a symbol (`None` for [`Sym::NONE`]).
    pub fn get(&self, sym: Sym) -> Option<&str> {
        if sym.is_none() {
            None
        } else {
            self.strings.get(sym.0 as usize).map(|s| &**s)
        }
    }

    /// The string of a symbol, `""` when absent.
    pub fn str(&self, sym: Sym) -> &str {
        self.get(sym).unwrap_or("")
    }

    /// The symbol of a string, if it was interned.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        self.map.get(s).copied()
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

/// One event, owned and small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub action: Action,
    pub outcome: Outcome,
    pub auth_method: Option<AuthMethod>,
    pub source_scope: Option<IpScope>,
    pub user_invalid: bool,
    pub denied: bool,
}

impl CompactEvent {
    pub fn from_event(ev: &Event<'_>, strings: &mut Interner) -> CompactEvent {
        CompactEvent {
            timestamp: ev.timestamp,
            line: ev.evidence.line,
            file: ev.evidence.file,
            user: strings.intern_opt(ev.user.as_deref()),
            host: strings.intern_opt(ev.host.as_deref()),
            source: strings.intern_opt(ev.source_address.as_deref()),
            target_user: strings.intern_opt(ev.target_user.as_deref()),
            program: strings.intern_opt(ev.program.as_deref()),
            command: strings.intern_opt(ev.command.as_deref()),
            repeat: ev.repeat.max(1),
            action: ev.action,
            outcome: ev.outcome,
            auth_method: ev.auth_method,
            source_scope: ev.source_ip.map(IpScope::of),
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
}

impl CompactBatch {
    pub fn push(&mut self, ev: &Event<'_>) {
        let c = CompactEvent::from_event(ev, &mut self.strings);
        self.events.push(c);
    }
}

/// Every event of a run, in input order, with one interner.
#[derive(Debug, Clone, Default)]
pub struct CompactLog {
    pub events: Vec<CompactEvent>,
    pub strings: Interner,
}

impl CompactLog {
    pub fn append(&mut self, batch: CompactBatch) {
        let map: Vec<Sym> = batch.strings.strings.iter().map(|s| self.strings.intern(s)).collect();
        let remap = |s: Sym| if s.is_none() { s } else { map[s.0 as usize] };
        self.events.reserve(batch.events.len());
        for mut e in batch.events {
            e.user = remap(e.user);
            e.host = remap(e.host);
            e.source = remap(e.source);
            e.target_user = remap(e.target_user);
            e.program = remap(e.program);
            e.command = remap(e.command);
            self.events.push(e);
        }
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
    fn compact_events_stay_small() {
        assert!(
            std::mem::size_of::<CompactEvent>() <= 64,
            "{}",
            std::mem::size_of::<CompactEvent>()
        );
    }
}
