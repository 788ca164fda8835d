//! Kept events in time order as a closing run reads them, without keeping
//! them all: [`EventOrder`] holds the events the watermark has not passed
//! and hands the others out sorted; [`EventSpool`] writes handed-out events
//! to a compressed temporary file, from which [`EventSpool::collect`] reads
//! back only those a later stage asks for.
//!
//! An event that arrives after the watermark passed its time (later than
//! the allowed lateness) is handed out at once, out of order, marked late.

use std::io;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::compact::{CompactBatch, CompactEvent, CompactLog, Interner, Sym};
use super::frames::{spool_error, FrameFile};
use super::OutputError;
use crate::event::Micros;

/// Kept events waiting for the watermark, and the interner of their names.
#[derive(Debug, Default)]
pub struct EventOrder {
    /// Events not yet handed out, in arrival order; its interner also
    /// names everything the caller keeps symbols of
    /// ([`EventOrder::compact_strings`]).
    pending: CompactLog,
    /// Every event before it has been handed out.
    released: Micros,
    late: u64,
    /// Strings right after the last compaction.
    compacted_at: usize,
}

impl EventOrder {
    pub fn new() -> EventOrder {
        EventOrder {
            released: Micros::MIN,
            ..EventOrder::default()
        }
    }

    /// Appends a merged batch's events, in arrival order.
    pub fn append(&mut self, batch: CompactBatch) {
        self.pending.append(batch);
    }

    /// The interner of the events held (and of the caller's symbols).
    pub fn strings(&self) -> &Interner {
        &self.pending.strings
    }

    /// The interner, to intern names the caller will hold symbols of.
    pub fn strings_mut(&mut self) -> &mut Interner {
        &mut self.pending.strings
    }

    /// Hands out the events before `until` in order of (time, file, line,
    /// arrival), each with whether it is late: before an earlier `until`
    /// (late events come first, out of order).
    pub fn release(&mut self, until: Micros, mut each: impl FnMut(&CompactEvent, bool, &Interner)) {
        let (mut out, stay): (Vec<CompactEvent>, Vec<CompactEvent>) =
            self.pending.events.drain(..).partition(|e| e.timestamp < until);
        self.pending.events = stay;
        // Stable: arrival order among equal keys. Late events sort first,
        // being before every event on time.
        out.sort_by_key(|e| (e.timestamp, e.file, e.line));
        let released = self.released;
        for e in &out {
            let late = e.timestamp < released;
            self.late += u64::from(late);
            each(e, late, &self.pending.strings);
        }
        self.released = self.released.max(until);
    }

    /// Events handed out late so far.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Events held.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether the interner has more than doubled (and by at least `min`
    /// strings) since it was last compacted.
    pub fn strings_grown(&self, min: usize) -> bool {
        self.pending.strings.len() > (2 * self.compacted_at).max(min)
    }

    /// Rebuilds the interner with only the strings still named: those of
    /// the events held and those `others` maps (every symbol the caller
    /// keeps must go through it). Symbols are renumbered.
    pub fn compact_strings(&mut self, others: impl FnOnce(&mut SymMap<'_>)) {
        let old = std::mem::take(&mut self.pending.strings);
        let mut map = SymMap {
            old: &old,
            new: Interner::default(),
            map: vec![u32::MAX; old.len()],
        };
        for e in &mut self.pending.events {
            map.event(e);
        }
        others(&mut map);
        self.pending.strings = map.new;
        self.compacted_at = self.pending.strings.len();
    }
}

/// Old symbols to the new ones of a compacted interner.
pub struct SymMap<'a> {
    old: &'a Interner,
    new: Interner,
    map: Vec<u32>,
}

impl SymMap<'_> {
    /// The new symbol of `s` ([`Sym::NONE`] stays).
    pub fn sym(&mut self, s: Sym) -> Sym {
        if s.is_none() {
            return s;
        }
        let slot = &mut self.map[s.0 as usize];
        if *slot == u32::MAX {
            *slot = self.new.intern(self.old.str(s)).0;
        }
        Sym(*slot)
    }

    /// The new symbol of a string (interned if new).
    pub fn intern(&mut self, s: &str) -> Sym {
        self.new.intern(s)
    }

    /// Renumbers an event's symbols.
    pub fn event(&mut self, e: &mut CompactEvent) {
        e.map_syms(|s| self.sym(s));
    }

    /// The interner the new symbols belong to, as built so far.
    pub fn strings(&self) -> &Interner {
        &self.new
    }
}

/// Handed-out events written to an anonymous temporary file (in `TMPDIR`),
/// a frame at a time, each frame with the strings it names.
pub struct EventSpool {
    frames: FrameFile,
    events: u64,
}

#[derive(Serialize)]
struct FrameOut<'a> {
    strings: Vec<&'a str>,
    events: &'a [CompactEvent],
}

#[derive(Deserialize)]
struct FrameIn<'a> {
    #[serde(borrow)]
    strings: Vec<&'a str>,
    events: Vec<CompactEvent>,
}

/// The names of a spooled frame's symbols, for [`EventSpool::collect`]'s
/// questions.
pub struct FrameNames<'a>(&'a [&'a str]);

impl FrameNames<'_> {
    /// The name of `s`, `""` for [`Sym::NONE`].
    pub fn str(&self, s: Sym) -> &str {
        if s.is_none() {
            ""
        } else {
            self.0[s.0 as usize]
        }
    }
}

impl EventSpool {
    /// An empty spool in a new anonymous temporary file.
    pub fn new() -> Result<EventSpool, OutputError> {
        Ok(EventSpool {
            frames: FrameFile::new()?,
            events: 0,
        })
    }

    /// Events spooled.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Appends `events`, whose symbols are `strings`', as one frame.
    pub fn push(&mut self, events: &[CompactEvent], strings: &Interner) -> Result<(), OutputError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut local: FxHashMap<Sym, Sym> = FxHashMap::default();
        let mut names: Vec<&str> = Vec::new();
        let framed: Vec<CompactEvent> = events
            .iter()
            .map(|e| {
                let mut e = *e;
                e.map_syms(|s| {
                    *local.entry(s).or_insert_with(|| {
                        names.push(strings.str(s));
                        Sym(names.len() as u32 - 1)
                    })
                });
                e
            })
            .collect();
        let bytes = postcard::to_stdvec(&FrameOut {
            strings: names,
            events: &framed,
        })
        .map_err(|e| spool_error(io::Error::other(e)))?;
        self.frames.write(&bytes)?;
        self.events += events.len() as u64;
        Ok(())
    }

    /// Reads every spooled event back in order and keeps those `keep`
    /// accepts (given the event and the names of its frame) in a log of
    /// their own. May be called again; no event can be pushed after it.
    pub fn collect(
        &mut self,
        mut keep: impl FnMut(&CompactEvent, &FrameNames<'_>) -> bool,
    ) -> Result<CompactLog, OutputError> {
        let [log] = self.collect_many(|e, s| [keep(e, s)])?;
        Ok(log)
    }

    /// As [`EventSpool::collect`], into `N` logs at once: `keep` says which
    /// of them take the event.
    pub fn collect_many<const N: usize>(
        &mut self,
        mut keep: impl FnMut(&CompactEvent, &FrameNames<'_>) -> [bool; N],
    ) -> Result<[CompactLog; N], OutputError> {
        let mut logs: [CompactLog; N] = std::array::from_fn(|_| CompactLog::default());
        self.frames.read(|bytes| {
            let frame: FrameIn<'_> = postcard::from_bytes(bytes).map_err(io::Error::other)?;
            let names = FrameNames(&frame.strings);
            // Per log, its symbols of the frame's, interned when first kept.
            let mut here: [Vec<u32>; N] = std::array::from_fn(|_| vec![u32::MAX; frame.strings.len()]);
            for e in frame.events {
                for (n, wanted) in keep(&e, &names).into_iter().enumerate() {
                    if !wanted {
                        continue;
                    }
                    let (log, here) = (&mut logs[n], &mut here[n]);
                    let mut e = e;
                    e.map_syms(|s| {
                        let slot = &mut here[s.0 as usize];
                        if *slot == u32::MAX {
                            *slot = log.strings.intern(frame.strings[s.0 as usize]).0;
                        }
                        Sym(*slot)
                    });
                    log.events.push(e);
                }
            }
            Ok(())
        })?;
        Ok(logs)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::event::{Action, Event, Evidence};

    fn event(secs: i64, line: u64, user: &str) -> Event<'static> {
        let mut e = Event::new(
            secs * 1_000_000,
            Action::Authentication,
            Evidence {
                file: 0,
                line,
                raw: Cow::Borrowed(""),
            },
        );
        e.user = Some(Cow::Owned(user.to_owned()));
        e
    }

    fn batch(events: &[(i64, u64, &str)]) -> CompactBatch {
        let mut b = CompactBatch::default();
        for &(secs, line, user) in events {
            b.push(&event(secs, line, user));
        }
        b
    }

    type Out = Vec<(i64, u64, String, bool)>;

    fn release(order: &mut EventOrder, until: i64, out: &mut Out) {
        order.release(until * 1_000_000, |e, late, strings| {
            out.push((e.timestamp / 1_000_000, e.line, strings.str(e.user).to_owned(), late));
        });
    }

    #[test]
    fn events_come_out_sorted_once_the_watermark_passes_and_late_ones_are_marked() {
        let mut order = EventOrder::new();
        let mut out = Vec::new();
        order.append(batch(&[(10, 1, "a"), (5, 2, "b"), (20, 3, "c")]));
        release(&mut order, 15, &mut out);
        assert_eq!(out, vec![(5, 2, "b".into(), false), (10, 1, "a".into(), false)]);
        out.clear();
        // 12 is before the watermark (15): late, handed out at once.
        order.append(batch(&[(12, 4, "d"), (16, 5, "e")]));
        release(&mut order, 17, &mut out);
        assert_eq!(out, vec![(12, 4, "d".into(), true), (16, 5, "e".into(), false)]);
        assert_eq!((order.late(), order.pending()), (1, 1));
        out.clear();
        release(&mut order, i64::MAX / 1_000_000, &mut out);
        assert_eq!(out, vec![(20, 3, "c".into(), false)]);
    }

    #[test]
    fn compacting_keeps_the_names_still_held_and_renumbers_them() {
        let mut order = EventOrder::new();
        order.append(batch(&[(1, 1, "gone"), (2, 2, "kept"), (30, 3, "held")]));
        let mut kept = Sym::NONE;
        order.release(10_000_000, |e, _, s| {
            if s.str(e.user) == "kept" {
                kept = e.user;
            }
        });
        order.compact_strings(|map| kept = map.sym(kept));
        assert_eq!(order.strings().len(), 2);
        assert_eq!(order.strings().str(kept), "kept");
        let mut out = Vec::new();
        release(&mut order, 100, &mut out);
        assert_eq!(out, vec![(30, 3, "held".into(), false)]);
    }

    #[test]
    fn the_spool_gives_back_the_events_asked_for_with_their_names() {
        let mut order = EventOrder::new();
        order.append(batch(&[(1, 1, "alice"), (2, 2, "bob"), (3, 3, "alice")]));
        let mut spool = EventSpool::new().unwrap();
        let mut held = Vec::new();
        order.release(Micros::MAX, |e, _, _| held.push(*e));
        spool.push(&held[..2], order.strings()).unwrap();
        spool.push(&held[2..], order.strings()).unwrap();
        let alice = spool.collect(|e, s| s.str(e.user) == "alice").unwrap();
        assert_eq!(alice.len(), 2);
        assert_eq!(alice.strings.len(), 1);
        assert_eq!(alice.events.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 3]);
        // Again, for another question.
        let all = spool.collect(|_, _| true).unwrap();
        assert_eq!(
            all.events.iter().map(|e| all.strings.str(e.user)).collect::<Vec<_>>(),
            vec!["alice", "bob", "alice"]
        );
        assert!(spool.push(&held, order.strings()).is_err());
    }
}
