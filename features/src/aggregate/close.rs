//! Closing windows as time passes: memory bounded by what is active.
//!
//! With [`Aggregator::close_as_time_passes`], every window is recorded as it
//! opens; [`Aggregator::close_until`] turns the windows that ended by a time
//! into rows and frees their state. Novelty needs an entity's earlier
//! partners, so each is kept, by name hash with the window it was last seen
//! in, for the novelty horizon ([`Remembered`]): a partner not seen with the
//! entity for longer is new again, and a busy entity's partners do not
//! pile up either. An event whose
//! window was already closed is late: counted and left out, never put in
//! another window.
//!
//! Rows come out sorted by window start, entity kind and a hash of the
//! entity name (FxHash, fixed), so the output depends neither on when
//! windows were closed nor on the number of threads: closing early gives
//! the same rows, in the same order, as closing everything at the end.

use rayon::prelude::*;

use super::{source_scope, Aggregator, FeatureTable, Micros, RowMaker, Shard};
use crate::aggregate::registry::EntityKind;
use crate::mem::smallset::LastSeen;

impl Aggregator {
    /// Records windows as they open so that [`Aggregator::close_until`] can
    /// close them. Call before adding events; the `finish*` methods are then
    /// not available.
    pub fn close_as_time_passes(&mut self) {
        assert_eq!(self.windows(), 0, "windows close as time passes only from the start");
        self.streaming = true;
    }

    /// Where to close until, at most `until`, so that about `rows` rows
    /// close: the windows of the earliest starts whose open windows
    /// together reach `rows` (one start's at least, however many).
    pub fn close_step(&self, until: Micros, rows: usize) -> Micros {
        let window = self.cfg.window;
        let mut counts: std::collections::BTreeMap<Micros, usize> = std::collections::BTreeMap::new();
        for open in self.shards.iter().flat_map(|s| s.open.iter()) {
            for (&start, windows) in open {
                if start.saturating_add(window) > until {
                    break;
                }
                *counts.entry(start).or_default() += windows.len();
            }
        }
        let mut total = 0;
        for (&start, &n) in &counts {
            total += n;
            if total >= rows {
                return start.saturating_add(window).min(until);
            }
        }
        until
    }

    /// Closes every window that ends at or before `until` (a time that only
    /// moves forward; an earlier one closes nothing) and returns their rows,
    /// sorted by window start, entity kind and name hash. Later events in those
    /// windows are late ([`Aggregator::late_events`]).
    ///
    /// # Panics
    /// Unless [`Aggregator::close_as_time_passes`] was called.
    pub fn close_until(&mut self, until: Micros) -> FeatureTable {
        assert!(self.streaming, "close_until needs close_as_time_passes");
        let window = self.cfg.window;
        if until <= self.closed_before {
            return FeatureTable::new(window);
        }
        if self.data_start == Micros::MAX {
            // Nothing seen yet: there is nothing to close, and novelty has
            // no start to count its warm-up from.
            return FeatureTable::new(window);
        }
        let novel_from = self.novel_from();
        self.novel_from = Some(novel_from);
        self.closed_before = until;
        let maker = RowMaker::new(window, novel_from, self.cfg.novelty_horizon);
        let evidence = self.evidence;
        // Forgetting partners walks every remembered entity: done each
        // eighth of the horizon (at least each window), not on every call.
        let horizon = self.cfg.novelty_horizon;
        let every = (horizon / 8).max(window);
        let forget = horizon != Micros::MAX && until.saturating_sub(self.forgotten_at) >= every;
        if forget {
            self.forgotten_at = until;
        }
        let parts: Vec<(FeatureTable, Vec<u64>)> = self
            .shards
            .par_iter_mut()
            .map(|shard| shard.close_until(until, &maker, evidence, forget))
            .collect();
        // Sorted by start, kind and name hash (names only break a tie of
        // hashes): an order that depends neither on when windows closed nor
        // on the number of shards, without comparing names. The rows are
        // gathered from the shards' tables in that order, not appended
        // into one table first.
        let mut keys: Vec<(Micros, usize, u64, (u32, u32))> = parts
            .iter()
            .enumerate()
            .flat_map(|(p, (t, hashes))| {
                (0..t.len()).map(move |i| (t.window_starts[i], t.kinds[i].index(), hashes[i], (p as u32, i as u32)))
            })
            .collect();
        let entity = |(p, i): (u32, u32)| &parts[p as usize].0.entities[i as usize];
        keys.par_sort_unstable_by(|a, b| {
            (a.0, a.1, a.2)
                .cmp(&(b.0, b.1, b.2))
                .then_with(|| entity(a.3).cmp(entity(b.3)))
        });
        let order: Vec<(u32, u32)> = keys.into_iter().map(|k| k.3).collect();
        let tables: Vec<FeatureTable> = parts.into_iter().map(|(t, _)| t).collect();
        FeatureTable::gathered(window, &tables, &order)
    }
}

impl Shard {
    /// Makes the rows of this shard's windows that end at or before
    /// `until` (with their name hashes), frees their state, and with
    /// `forget` drops the partners last seen beyond the novelty horizon.
    fn close_until(
        &mut self,
        until: Micros,
        maker: &RowMaker,
        evidence: bool,
        forget: bool,
    ) -> (FeatureTable, Vec<u64>) {
        let window = maker.window;
        let closing: usize = self
            .open
            .iter()
            .flat_map(|open| {
                open.iter()
                    .take_while(|(&start, _)| start.saturating_add(window) <= until)
            })
            .map(|(_, windows)| windows.len())
            .sum();
        let mut table = FeatureTable::with_capacity(window, closing);
        let mut hashes = Vec::with_capacity(closing);
        for kind in EntityKind::ALL {
            let k = kind.index();
            while let Some(first) = self.open[k].first_entry() {
                let start = *first.key();
                if start.saturating_add(window) > until {
                    break;
                }
                for (hash, slot) in first.remove() {
                    let Ok(mut entry) = self.entities[k].find_entry(hash, |e| {
                        e.hash == hash && e.windows.iter().any(|&(s, w)| s == start && w == slot)
                    }) else {
                        unreachable!("an open window belongs to an entity");
                    };
                    let entity = entry.get_mut();
                    let state = &mut self.states[k];
                    let acc = state.accs.get(slot);
                    // An entity with no partners yet is not remembered (most
                    // scanners name no account): absent is the same as empty.
                    let novel = match self.remembered[k].get_mut(&hash) {
                        Some(partners) => maker.new_partners(kind, acc, start, partners, false),
                        None => {
                            let mut partners = LastSeen::default();
                            let novel = maker.new_partners(kind, acc, start, &mut partners, false);
                            if !partners.is_empty() {
                                self.remembered[k].insert(hash, partners);
                            }
                            novel
                        }
                    };
                    let novel = maker.novelty(start, novel);
                    let scope = source_scope(kind, &entity.name);
                    table.push(kind, &entity.name, scope, start, &maker.row(acc, novel));
                    hashes.push(hash);
                    state.accs.release(slot);
                    if evidence {
                        table.evidence.push(*state.evidence.get(slot));
                        state.evidence.release(slot);
                    }
                    entity.windows.retain(|&mut (s, _)| s != start);
                    if entity.windows.is_empty() {
                        entry.remove();
                    }
                }
            }
            // Partners last seen more than the horizon before every window
            // still to close are forgotten, and entities left with none.
            if forget {
                let cutoff = maker
                    .tick(until.saturating_sub(window))
                    .saturating_sub(maker.horizon_ticks)
                    .saturating_sub(1);
                let remembered = &mut self.remembered[k];
                remembered.retain(|_, partners| {
                    partners.forget_before(cutoff);
                    !partners.is_empty()
                });
                if remembered.capacity() > 4 * remembered.len().max(1024) {
                    remembered.shrink_to_fit();
                }
            }
        }
        (table, hashes)
    }
}
