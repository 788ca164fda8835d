//! The baseline terms `new_term` rules compare against.

use std::collections::{BTreeMap, BTreeSet};

use loglynx_features::output::compact::CompactLog;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::engine::{term_key, term_text, Key, Matcher};
use crate::rule::{Logic, TermField};
use crate::RuleSet;

/// Value combinations seen in a baseline, per combination of fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Key: the fields joined with `+` (`user+source`); value: every
    /// combination seen, its parts joined with [`History::SEPARATOR`].
    pub terms: BTreeMap<String, BTreeSet<String>>,
}

impl History {
    /// The combination a `concurrent` rule judges novelty by.
    pub(crate) const CONCURRENT_FIELDS: &'static [TermField] = &[TermField::User, TermField::Source];

    /// Joins the parts of one combination (ASCII unit separator).
    pub const SEPARATOR: &'static str = "\u{1f}";

    /// The `terms` key of a combination of fields.
    pub fn key(fields: &[TermField]) -> String {
        fields.iter().map(|f| f.as_str()).collect::<Vec<_>>().join("+")
    }

    /// The terms of `log` for every `new_term` rule in `rules`, and the
    /// `user+source` terms of every `concurrent` rule.
    pub fn from_log(log: &CompactLog, rules: &RuleSet) -> History {
        let mut h = History::default();
        h.add_log(log, rules);
        h
    }

    /// Adds the terms of `log` for every `new_term` rule in `rules` (and
    /// the `user+source` terms of every `concurrent` rule, which judges
    /// novelty by them), among the events that pass each rule's filter. A
    /// rule's key is present afterwards even when no event matched.
    pub fn add_log(&mut self, log: &CompactLog, rules: &RuleSet) {
        for rule in &rules.rules {
            if let Some(fields) = History::fields_of(rule) {
                self.add_terms(log, fields, &rule.filter);
            }
        }
    }

    /// The combination a rule looks up in the history, if any.
    pub(crate) fn fields_of(rule: &crate::Rule) -> Option<&[TermField]> {
        match &rule.kind {
            Logic::NewTerm(new_term) => Some(&new_term.fields),
            Logic::Concurrent(_) => Some(History::CONCURRENT_FIELDS),
            _ => None,
        }
    }

    /// Adds the terms of `fields` among the events of `log` that pass `filter`.
    pub(crate) fn add_terms(&mut self, log: &CompactLog, fields: &[TermField], filter: &crate::rule::Filter) {
        let filter = Matcher::new(filter, &log.strings);
        let seen: FxHashSet<Key> = log
            .events
            .iter()
            .filter(|e| filter.matches(e))
            .filter_map(|e| term_key(e, fields))
            .collect();
        self.add_keys(log, fields, seen.iter());
    }

    /// Adds the terms with these keys.
    pub(crate) fn add_keys<'k>(&mut self, log: &CompactLog, fields: &[TermField], keys: impl Iterator<Item = &'k Key>) {
        let set = self.terms.entry(History::key(fields)).or_default();
        set.extend(keys.map(|k| {
            let mut text = String::new();
            term_text(&log.strings, fields, k, &mut text);
            text
        }));
    }

    /// The accounts that logged in during the baseline: the terms of the
    /// new-account rule's `user` field, when a rule counts them.
    pub fn accounts(&self) -> Option<&BTreeSet<String>> {
        self.terms.get(&History::key(&[TermField::User]))
    }

    /// Whether the combination `parts` of `fields` was seen.
    pub fn contains(&self, fields: &[TermField], parts: &[&str]) -> bool {
        self.terms
            .get(&History::key(fields))
            .is_some_and(|set| set.contains(&parts.join(History::SEPARATOR)))
    }
}
