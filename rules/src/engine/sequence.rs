//! `sequence`: at least `min_first` events matching `first`, then an event
//! matching `then` within the window, in one group.

use std::collections::VecDeque;

use loglynx_features::event::Micros;
use loglynx_features::output::compact::CompactEvent;

use super::{collect, extras, noun, span, text_filter, Ctx, Matcher};
use crate::rule::{Rule, Sequence};
use crate::RuleHit;

pub(super) fn run(ctx: &Ctx, rule: &Sequence) -> Vec<RuleHit> {
    let events = &ctx.log.events;
    let first = Matcher::new(&rule.first, &ctx.log.strings);
    let then = Matcher::new(&rule.then, &ctx.log.strings);
    let window = rule.window.micros();
    let groups = collect(events, ctx.candidates_of_any(&[&first, &then]).as_deref(), |e| {
        if first.matches(e) || then.matches(e) {
            ctx.grouped(e)
        } else {
            None
        }
    });
    let mut firsts = VecDeque::new();
    let mut hits = Vec::new();
    for (key, idx) in groups.iter() {
        if idx.len() < 2 {
            continue;
        }
        for seq in sequences(events, idx, window, rule.min_first, &first, &then, &mut firsts) {
            let members: Vec<u32> = seq.members.iter().map(|&p| idx[p]).collect();
            hits.push(ctx.hit(key, &members, |h| summary(ctx.rule, rule, seq.n_first, seq.n_then, h)));
        }
    }
    hits
}

/// `8 failed logins then 1 successful login within 3 minutes`.
pub(super) fn summary(rule: &Rule, seq: &Sequence, n_first: u64, n_then: u64, h: &RuleHit) -> String {
    format!(
        "{n_first} {} then {n_then} {} within {}{}",
        noun(&text_filter(&rule.filter, &seq.first), n_first),
        noun(&text_filter(&rule.filter, &seq.then), n_then),
        span(h),
        extras(rule, h, None)
    )
}

/// One sequence hit: positions into the group, ascending.
struct Seq {
    members: Vec<usize>,
    n_first: u64,
    n_then: u64,
}

/// Sequences in one time-sorted group. A `then` event completes a sequence
/// when at least `min_first` (weighted) `first` events precede it by at
/// most `window`; a completing event at most `window` after the previous
/// hit's last one joins that hit instead of starting a new one.
fn sequences(
    events: &[CompactEvent],
    idx: &[u32],
    window: Micros,
    min_first: u64,
    first: &Matcher,
    then: &Matcher,
    firsts: &mut VecDeque<usize>,
) -> Vec<Seq> {
    let mut out: Vec<Seq> = Vec::new();
    let mut last_then: Micros = Micros::MIN;
    firsts.clear();
    let mut sum = 0u64;
    for (p, &i) in idx.iter().enumerate() {
        let e = &events[i as usize];
        let t = e.timestamp;
        while let Some(&f) = firsts.front() {
            if t - events[idx[f] as usize].timestamp <= window {
                break;
            }
            sum -= first.weight(&events[idx[f] as usize]);
            firsts.pop_front();
        }
        if then.matches(e) && sum >= min_first {
            let joins = !out.is_empty() && t - last_then <= window;
            if !joins {
                out.push(Seq {
                    members: Vec::new(),
                    n_first: 0,
                    n_then: 0,
                });
            }
            let seq = out.last_mut().expect("pushed above");
            let done = seq.members.last().copied();
            for &f in firsts.iter().filter(|&&f| done.is_none_or(|d| f > d)) {
                seq.members.push(f);
                seq.n_first += first.weight(&events[idx[f] as usize]);
            }
            seq.members.push(p);
            seq.n_then += then.weight(e);
            last_then = t;
        }
        if first.matches(e) {
            firsts.push_back(p);
            sum += first.weight(e);
        }
    }
    out
}
