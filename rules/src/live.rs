//! [`LiveRules`]: the rules' half of a run that closes windows as time
//! passes. Kept events arrive a merged batch at a time with the
//! watermark; they are put back in time order ([`EventOrder`]), the
//! windowed rules read them as they go ([`RuleStream`]), and every event
//! is spooled to disk ([`EventSpool`]) for the other rules, which read
//! theirs back at the end, and for the stages after the rules, which read
//! back only the events they ask for (without a spool the other rules'
//! events are held). The interner is compacted as it grows, so
//! memory follows the events in flight and the rules' live groups.

use loglynx_features::event::Micros;
use loglynx_features::output::compact::{CompactBatch, CompactEvent, CompactLog, KeepEvents};
use loglynx_features::output::ordered::{EventOrder, EventSpool};
use loglynx_features::output::OutputError;

use crate::{evaluate_with, sort_hits, Context, RuleHit, RuleSet, RuleStream, Skipped};

/// Strings the interner may hold before it is first compacted.
const COMPACT_FROM: usize = 1 << 20;

/// Kept events in, hits out; see the module documentation.
pub struct LiveRules {
    order: EventOrder,
    stream: RuleStream,
    /// The rules evaluated on the whole log at the end, and their events.
    rest: RuleSet,
    rest_keep: KeepEvents,
    rest_log: CompactLog,
    spool: Option<EventSpool>,
    /// Handed-out events waiting to be spooled as one frame.
    frame: Vec<CompactEvent>,
    hits: Vec<RuleHit>,
    span: Option<(Micros, Micros)>,
    /// Strings before a compaction (tests set 0 to compact every time).
    compact_from: usize,
}

/// What [`LiveRules::finish`] found.
pub struct LiveOutcome {
    /// Every rule's hits, in [`crate::evaluate_with`]'s order.
    pub hits: Vec<RuleHit>,
    pub notes: Vec<Skipped>,
    /// Events the windowed rules did not read: they arrived after the
    /// watermark had passed their time.
    pub late: u64,
    /// Every kept event, when the run spooled them.
    pub spool: Option<EventSpool>,
    /// The events of the rules run at the end (those [`RuleStream`] does
    /// not stream): every event their filters read.
    pub rest_log: CompactLog,
    /// The first and last time of the kept events.
    pub span: Option<(Micros, Micros)>,
}

impl LiveRules {
    /// Rules of `rules` over the events to come; with `spool`, every event
    /// is also written to an [`EventSpool`].
    pub fn new(rules: &RuleSet, spool: bool) -> Result<LiveRules, OutputError> {
        let mut order = EventOrder::new();
        let stream = RuleStream::new(&rules.rules, order.strings_mut());
        let rest = RuleSet {
            rules: rules
                .rules
                .iter()
                .filter(|r| !RuleStream::streams(r))
                .cloned()
                .collect(),
        };
        Ok(LiveRules {
            rest_keep: rest.events_read(),
            rest,
            rest_log: CompactLog::default(),
            order,
            stream,
            spool: if spool { Some(EventSpool::new()?) } else { None },
            frame: Vec::new(),
            hits: Vec::new(),
            span: None,
            compact_from: COMPACT_FROM,
        })
    }

    /// A merged batch's events, with the time before which none is
    /// expected any more.
    pub fn add(&mut self, batches: Vec<CompactBatch>, until: Micros) -> Result<(), OutputError> {
        for b in batches {
            self.order.append(b);
        }
        self.release(until)
    }

    fn release(&mut self, until: Micros) -> Result<(), OutputError> {
        let LiveRules {
            order,
            stream,
            rest_keep,
            rest_log,
            frame,
            spool,
            span,
            ..
        } = self;
        order.release(until, |e, late, strings| {
            let t = e.timestamp;
            *span = Some(span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
            if !late {
                stream.push(e, strings);
            }
            // With a spool the other rules' events are read back from it
            // at the end, not held.
            if spool.is_none() && rest_keep.keeps_compact(e) {
                rest_log.push_from(e, strings);
            }
            if spool.is_some() {
                frame.push(*e);
            }
        });
        stream.advance(until, order.strings());
        self.hits.extend(stream.take_hits());
        if let Some(spool) = spool {
            spool.push(frame, order.strings())?;
            frame.clear();
        }
        if order.strings_grown(self.compact_from) {
            order.compact_strings(|map| stream.remap(map));
        }
        Ok(())
    }

    /// Every hit, after the last batch: the windowed rules' and those of
    /// the others, run on their events with `context`.
    pub fn finish(mut self, context: &Context) -> Result<LiveOutcome, OutputError> {
        self.release(Micros::MAX)?;
        if let Some(spool) = self.spool.as_mut().filter(|_| !self.rest.rules.is_empty()) {
            let keep = &self.rest_keep;
            self.rest_log = spool.collect(|e, _| keep.keeps_compact(e))?;
        }
        let late = self.order.late();
        let mut hits = self.stream.finish(self.order.strings());
        hits.append(&mut self.hits);
        let (rest, notes) = evaluate_with(&self.rest, &self.rest_log, context);
        hits.extend(rest);
        sort_hits(&mut hits);
        Ok(LiveOutcome {
            hits,
            notes,
            late,
            spool: self.spool,
            rest_log: self.rest_log,
            span: self.span,
        })
    }
}

#[cfg(test)]
impl LiveRules {
    /// Compacts the interner at every batch.
    pub(crate) fn compact_always(&mut self) {
        self.compact_from = 0;
    }
}
