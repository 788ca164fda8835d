//! `distinct`: at least `threshold` distinct values of `distinct_field`
//! among the matching events of one group within a sliding window.

use rustc_hash::{FxHashMap, FxHashSet};

use loglynx_features::output::compact::Sym;

use super::{bursts, collect, extras, fill, noun, span, sym_of, Ctx, WindowState};
use crate::rule::{Distinct, Field, Rule};
use crate::RuleHit;

pub(super) fn run(ctx: &Ctx, rule: &Distinct) -> Vec<RuleHit> {
    let events = &ctx.log.events;
    let field = rule.distinct_field;
    let threshold = rule.threshold;
    let window = rule.window.micros();
    let groups = collect(events, ctx.candidates(&[]).as_deref(), |e| {
        if sym_of(e, field).is_some() {
            ctx.grouped(e)
        } else {
            None
        }
    });
    let (mut ts_buf, mut v_buf, mut spans) = (Vec::new(), Vec::new(), Vec::new());
    let mut counts = FxHashMap::default();
    let mut hits = Vec::new();
    for (key, idx) in groups.iter() {
        if (idx.len() as u64) < threshold {
            continue;
        }
        let values = fill(&mut v_buf, idx, |i| sym_of(&events[i as usize], field));
        let mut state = DistinctState {
            values,
            counts: &mut counts,
            threshold,
        };
        spans.clear();
        bursts(fill(&mut ts_buf, idx, |i| ctx.time(i)), window, &mut state, &mut spans);
        for &(s, e) in &spans {
            let distinct = values[s..=e].iter().collect::<FxHashSet<_>>().len();
            hits.push(ctx.hit(key, &idx[s..=e], |h| summary(ctx.rule, field, distinct, h)));
        }
    }
    hits
}

/// `12 distinct users in 4 minutes (14 failed logins), from 203.0.113.9`.
pub(super) fn summary(rule: &Rule, field: Field, distinct: usize, h: &RuleHit) -> String {
    format!(
        "{distinct} distinct {}s in {} ({} {}){}",
        field.as_str().replace('_', " "),
        span(h),
        h.count,
        noun(&rule.filter, h.count),
        extras(rule, h, Some(field))
    )
}

/// Occurrences of each value in the window.
struct DistinctState<'a> {
    values: &'a [Sym],
    counts: &'a mut FxHashMap<Sym, u32>,
    threshold: u64,
}

impl WindowState for DistinctState<'_> {
    fn add(&mut self, k: usize) {
        *self.counts.entry(self.values[k]).or_default() += 1;
    }
    fn remove(&mut self, k: usize) {
        let v = self.values[k];
        if let Some(c) = self.counts.get_mut(&v) {
            *c -= 1;
            if *c == 0 {
                self.counts.remove(&v);
            }
        }
    }
    fn qualifies(&self) -> bool {
        self.counts.len() as u64 >= self.threshold
    }
}
