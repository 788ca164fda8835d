//! `new_term`: a combination of fields absent from the baseline history.
//! One hit per new combination.

use loglynx_features::output::compact::CompactEvent;
use rustc_hash::FxHashMap;

use super::{collect, counted, term_key, term_parts, term_text, Ctx, Key};
use crate::rule::NewTerm;
use crate::{History, RuleHit, Skipped};

pub(super) fn run(ctx: &Ctx, rule: &NewTerm, history: Option<&History>) -> Result<Vec<RuleHit>, Skipped> {
    let id = &ctx.rule.id;
    let name = History::key(&rule.fields);
    let Some(history) = history else {
        return Err(Skipped::NoHistory { rule: id.clone() });
    };
    let Some(known) = history.terms.get(&name) else {
        return Err(Skipped::NoTerms {
            rule: id.clone(),
            key: name,
        });
    };
    let strings = &ctx.log.strings;
    // Whether each distinct term is new, decided once per term so that
    // only the events of new terms are kept.
    let mut is_new: FxHashMap<Key, bool> = FxHashMap::default();
    let mut text = String::new();
    let key = |e: &CompactEvent| {
        if !ctx.filter.matches(e) {
            return None;
        }
        let k = term_key(e, &rule.fields)?;
        let new = *is_new.entry(k).or_insert_with(|| match rule.slack_slot() {
            None => {
                text.clear();
                term_text(strings, &rule.fields, &k, &mut text);
                !known.contains(&text)
            }
            // New when no hour within the slack was seen.
            Some(slot) => rule.hours_around(k[slot]).all(|h| {
                let mut near = k;
                near[slot] = h;
                text.clear();
                term_text(strings, &rule.fields, &near, &mut text);
                !known.contains(&text)
            }),
        });
        new.then_some(k)
    };
    let groups = collect(&ctx.log.events, ctx.candidates(&[]).as_deref(), key);
    let mut hits = Vec::new();
    for (key, idx) in groups.iter() {
        let parts = term_parts(strings, &rule.fields, key);
        let group = rule
            .fields
            .iter()
            .map(|f| f.as_str().to_owned())
            .zip(parts.iter().cloned());
        hits.push(ctx.hit_with_group(group.collect(), idx, |h| {
            format!(
                "{name} not in the baseline: {} ({}){}",
                parts.join(", "),
                counted(&ctx.rule.filter, h),
                ctx.extras(h, None)
            )
        }));
    }
    Ok(hits)
}
