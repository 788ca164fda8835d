//! How often a baseline met new terms: the rarity of a term never seen.
//!
//! For each `new_term` rule's fields (`user+source`), the baseline's
//! matching events are counted per term. By Good–Turing, the chance that
//! the next event brings a term never seen is about the share of events
//! whose term was seen exactly once; for a user (the first field) with a
//! history of their own, their own share, else the whole baseline's. A user
//! who always logs in from the same two addresses makes a new address rare;
//! one who roams makes it common.

use std::collections::BTreeMap;

use loglynx_features::output::compact::CompactLog;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::engine::{term_key, Matcher};
use crate::rule::{Logic, TermField};
use crate::{History, RuleSet};

/// Events and terms seen exactly once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoveltyCounts {
    pub events: u64,
    pub singletons: u64,
}

impl NoveltyCounts {
    /// Chance that the next event brings a new term, `(n1 + 1) / (n + 2)`.
    pub fn new_term_chance(&self) -> f64 {
        (self.singletons as f64 + 1.0) / (self.events as f64 + 2.0)
    }
}

/// Novelty of one combination of fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldNovelty {
    pub all: NoveltyCounts,
    /// Per value of the first field, when there are two or more fields.
    pub by_first: BTreeMap<String, NoveltyCounts>,
}

/// Novelty per combination of fields (keys as in [`History::terms`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Novelty {
    pub fields: BTreeMap<String, FieldNovelty>,
}

impl Novelty {
    /// Counts the terms of `log` for every `new_term` rule of `rules`.
    pub fn from_log(log: &CompactLog, rules: &RuleSet) -> Novelty {
        let mut out = Novelty::default();
        for rule in &rules.rules {
            let Logic::NewTerm(new_term) = &rule.kind else {
                continue;
            };
            let fields = &new_term.fields;
            let key = History::key(fields);
            if out.fields.contains_key(&key) {
                continue;
            }
            let filter = Matcher::new(&rule.filter, &log.strings);
            let mut counts: FxHashMap<[u32; 6], u64> = FxHashMap::default();
            for e in log.events.iter().filter(|e| filter.matches(e)) {
                if let Some(k) = term_key(e, fields) {
                    *counts.entry(k).or_default() += 1;
                }
            }
            let mut novelty = FieldNovelty::default();
            let first_is_text = fields.len() > 1 && fields[0] != TermField::Hour;
            for (k, &n) in &counts {
                let single = u64::from(n == 1);
                novelty.all.events += n;
                novelty.all.singletons += single;
                if first_is_text {
                    let first = log.strings.str(loglynx_features::output::compact::Sym(k[0])).to_owned();
                    let c = novelty.by_first.entry(first).or_default();
                    c.events += n;
                    c.singletons += single;
                }
            }
            out.fields.insert(key, novelty);
        }
        out
    }

    /// Rarity in nats of a term never seen, `-ln` of the chance of a new
    /// term: for its first value's own history when there is one, else the
    /// baseline's. `None` when the baseline has no such terms.
    pub fn rarity(&self, fields: &[TermField], parts: &[&str]) -> Option<f64> {
        let f = self.fields.get(&History::key(fields))?;
        let counts = parts
            .first()
            .and_then(|p| f.by_first.get(*p))
            .filter(|c| c.events > 0)
            .unwrap_or(&f.all);
        Some(-counts.new_term_chance().ln())
    }
}
