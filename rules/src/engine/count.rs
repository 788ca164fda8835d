//! `count`: at least `threshold` matching events (weighted by `repeat`) of
//! one group within a sliding window.

use super::{bursts, collect, extras, fill, noun, span, Ctx, WindowState};
use crate::rule::{Count, Rule};
use crate::RuleHit;

pub(super) fn run(ctx: &Ctx, rule: &Count) -> Vec<RuleHit> {
    let threshold = rule.threshold;
    let window = rule.window.micros();
    let groups = collect(&ctx.log.events, ctx.candidates(&[]).as_deref(), |e| ctx.grouped(e));
    let (mut ts_buf, mut w_buf, mut spans) = (Vec::new(), Vec::new(), Vec::new());
    let mut hits = Vec::new();
    for (key, idx) in groups.iter() {
        let weights = fill(&mut w_buf, idx, |i| ctx.weight(i));
        if weights.iter().sum::<u64>() < threshold {
            continue;
        }
        let mut state = CountState {
            weights,
            sum: 0,
            threshold,
        };
        spans.clear();
        bursts(fill(&mut ts_buf, idx, |i| ctx.time(i)), window, &mut state, &mut spans);
        for &(s, e) in &spans {
            hits.push(ctx.hit(key, &idx[s..=e], |h| summary(ctx.rule, h)));
        }
    }
    hits
}

/// `27 failed logins in 3 minutes, 4 distinct users`.
pub(super) fn summary(rule: &Rule, h: &RuleHit) -> String {
    let n = h.count;
    format!("{n} {} in {}{}", noun(&rule.filter, n), span(h), extras(rule, h, None))
}

/// Weighted event count in the window.
struct CountState<'a> {
    weights: &'a [u64],
    sum: u64,
    threshold: u64,
}

impl WindowState for CountState<'_> {
    fn add(&mut self, k: usize) {
        self.sum += self.weights[k];
    }
    fn remove(&mut self, k: usize) {
        self.sum -= self.weights[k];
    }
    fn qualifies(&self) -> bool {
        self.sum >= self.threshold
    }
}
