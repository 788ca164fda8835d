//! `single`: every matching event; hits of one group closer than the
//! window merge.

use super::{collect, counted, extras, fill, Ctx};
use crate::rule::{Rule, Single};
use crate::RuleHit;

pub(super) fn run(ctx: &Ctx, rule: &Single) -> Vec<RuleHit> {
    let window = rule.window.micros();
    let groups = collect(&ctx.log.events, ctx.candidates(&[]).as_deref(), |e| ctx.grouped(e));
    let mut ts_buf = Vec::new();
    let mut hits = Vec::new();
    for (key, idx) in groups.iter() {
        let ts = fill(&mut ts_buf, idx, |i| ctx.time(i));
        let mut start = 0;
        for k in 1..=idx.len() {
            if k == idx.len() || ts[k] - ts[k - 1] > window {
                hits.push(ctx.hit(key, &idx[start..k], |h| summary(ctx.rule, h)));
                start = k;
            }
        }
    }
    hits
}

/// `3 failed logins in 2 minutes, from 203.0.113.9`.
pub(super) fn summary(rule: &Rule, h: &RuleHit) -> String {
    format!("{}{}", counted(&rule.filter, h), extras(rule, h, None))
}
