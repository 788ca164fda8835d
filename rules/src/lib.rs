//! Detection rules: known attack patterns written as data.
//!
//! A [`Rule`] is one TOML file (see `rules/builtin/` for the built-in set and
//! [`rule`] for every key). Seven kinds cover the usual SOC correlations:
//!
//! - `count`: at least N matching events of one group in a sliding window
//!   (fail2ban `maxretry`/`findtime`, Wazuh frequency rules);
//! - `distinct`: at least N distinct users, hosts or sources in a sliding
//!   window (password spraying, distributed brute force, user enumeration);
//! - `sequence`: N events of one kind followed by another within a window
//!   (failures then a success);
//! - `single`: every matching event, with a storm of them merged into one hit;
//! - `new_term`: a combination of values absent from a baseline [`History`];
//! - `chain`: a session of a user on a host, an escalation there (su or
//!   sudo to root), then logins on other hosts whose source is an address of
//!   that host (from the [`Assets`] list, or the host's name) within a
//!   window: lateral movement. Only the host and source fields link events;
//! - `concurrent`: two successful logins of one user from different
//!   networks within a window, one from a public address new for the user
//!   (not in the history's `user+source` terms, or, without a history, not
//!   seen earlier in the log).
//!
//! [`evaluate`] runs a [`RuleSet`] over a [`CompactLog`]: each rule groups
//! its matching events, sorts each group by time and scans it once with two
//! pointers. A burst of qualifying windows gives one [`RuleHit`], so a
//! three-hour brute force is one hit, not hundreds. [`evaluate_with`] also
//! takes the asset list in a [`Context`].

mod assets;
mod builtin;
mod engine;
mod history;
mod live;
mod novelty;
pub mod rule;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use loglynx_features::event::{FileId, Micros};
use loglynx_features::output::compact::{CompactLog, KeepEvents};
use rayon::prelude::*;

pub use engine::stream::RuleStream;
pub use live::{LiveOutcome, LiveRules};
use serde::{Deserialize, Serialize};

pub use assets::{Assets, AssetsError};
pub use history::History;
pub use novelty::{FieldNovelty, Novelty, NoveltyCounts, ReplayedTerms, TermRarity};

/// History keys `anomalous:<entity kind>` list the entities that the model
/// flagged in the baseline itself.
pub const BASELINE_ANOMALOUS_PREFIX: &str = "anomalous:";
pub use rule::{
    BadWindow, Chain, Concurrent, Escalation, Field, Filter, Kind, Logic, NewTerm, Rule, TermField, Window,
};

/// How urgent a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The lowercase keyword used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;

    /// A level keyword in any case (`high`, `HIGH`).
    fn from_str(s: &str) -> Result<Severity, UnknownSeverity> {
        [Severity::Low, Severity::Medium, Severity::High, Severity::Critical]
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

/// A word that is not a [`Severity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}`: use low, medium, high or critical")]
pub struct UnknownSeverity(pub String);

impl fmt::Display for Severity {
    /// Upper case, as shown in alerts (`HIGH`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_ascii_uppercase())
    }
}

/// A rule file that cannot be read or used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{origin}{}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default(), key.as_ref().map(|k| format!(": `{k}`")).unwrap_or_default())]
    Parse {
        origin: String,
        line: Option<usize>,
        key: Option<String>,
        message: String,
    },
    #[error("{origin}: `{key}`: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
    #[error("rule id `{id}` is defined twice: {first} and {second}")]
    DuplicateId { id: String, first: String, second: String },
    #[error("{}: no *.toml rule files", dir.display())]
    NoRules { dir: PathBuf },
    #[error(
        "rules `{first}` and `{second}` both look up `{key}` in the baseline history but with \
         different filters, so their baseline terms would mix; give one of them other fields"
    )]
    TermsClash { key: String, first: String, second: String },
}

/// An ordered set of rules with unique ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The events the rules read: [`evaluate`] finds the same hits in a log
    /// that keeps only these (see [`RunConfig::collect_compact`]).
    ///
    /// [`RunConfig::collect_compact`]: loglynx_features::ingest::pipeline::RunConfig::collect_compact
    pub fn events_read(&self) -> KeepEvents {
        self.events_read_by(|_| true)
    }

    /// The events [`History`] reads: those of the `new_term` and
    /// `concurrent` rules.
    pub fn history_events(&self) -> KeepEvents {
        self.events_read_by(|r| matches!(r.kind.kind(), Kind::NewTerm | Kind::Concurrent))
    }

    fn events_read_by(&self, which: impl Fn(&Rule) -> bool) -> KeepEvents {
        let mut keep = KeepEvents::none();
        for r in self.rules.iter().filter(|r| which(r)) {
            let filter = engine::class_of(&r.filter);
            match &r.kind {
                // A sequence reads the events of its filter that pass either step.
                Logic::Sequence(s) => {
                    for step in [&s.first, &s.then] {
                        keep.add(filter.and(engine::class_of(step)));
                    }
                }
                // A chain reads sessions, escalations and onward events.
                Logic::Chain(c) => {
                    for step in [&c.session, &c.escalation, &c.onward] {
                        keep.add(filter.and(engine::class_of(step)));
                    }
                }
                _ => keep.add(filter),
            }
        }
        keep
    }

    /// The rules shipped in `rules/builtin/`, compiled into the binary.
    pub fn builtin() -> RuleSet {
        let rules = builtin::FILES
            .iter()
            .map(|(name, text)| {
                Rule::from_toml_str(text, &format!("rules/builtin/{name}"))
                    .unwrap_or_else(|e| panic!("built-in rule does not parse: {e}"))
            })
            .collect();
        RuleSet { rules }
    }

    /// Every `*.toml` file of `dir` (not recursive), in file-name order.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RuleError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RuleError::Io { path, source }
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(RuleError::NoRules { dir: dir.to_path_buf() });
        }
        paths.sort();
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut rules = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            let origin = path.display().to_string();
            let rule = Rule::from_toml_str(&text, &origin)?;
            if let Some(first) = seen.insert(rule.id.clone(), origin.clone()) {
                return Err(RuleError::DuplicateId {
                    id: rule.id,
                    first,
                    second: origin,
                });
            }
            rules.push(rule);
        }
        let set = RuleSet { rules };
        set.check_terms()?;
        Ok(set)
    }

    /// Adds `other`'s rules: a rule whose id is already present replaces it
    /// in place; new ids are appended. Refused when two rules of the result
    /// would share history terms ([`RuleSet::check_terms`]).
    pub fn merge(&mut self, other: RuleSet) -> Result<(), RuleError> {
        for rule in other.rules {
            match self.rules.iter_mut().find(|r| r.id == rule.id) {
                Some(slot) => *slot = rule,
                None => self.rules.push(rule),
            }
        }
        self.check_terms()
    }

    /// The history keeps one set of terms per combination of fields: two
    /// rules that look up the same fields must count them among the same
    /// events (the same filter).
    pub fn check_terms(&self) -> Result<(), RuleError> {
        let mut seen: HashMap<String, &Rule> = HashMap::new();
        for rule in &self.rules {
            let Some(fields) = History::fields_of(rule) else {
                continue;
            };
            let key = History::key(fields);
            match seen.get(&key) {
                Some(first) if first.filter != rule.filter => {
                    return Err(RuleError::TermsClash {
                        key,
                        first: first.id.clone(),
                        second: rule.id.clone(),
                    });
                }
                Some(_) => {}
                None => {
                    seen.insert(key, rule);
                }
            }
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Most distinct values a hit lists per field (the counts stay exact).
pub const MAX_LISTED: usize = 50;

/// Matching events a hit keeps as evidence from each end.
pub const EVIDENCE_EACH_END: usize = 5;

/// The first and last [`EVIDENCE_EACH_END`] of `items`; on a short list
/// the two ends overlap, so sort and dedup what is collected.
pub fn evidence_ends<T: Copy>(items: &[T]) -> impl Iterator<Item = T> + '_ {
    let n = items.len();
    items[..n.min(EVIDENCE_EACH_END)]
        .iter()
        .chain(&items[n.saturating_sub(EVIDENCE_EACH_END)..])
        .copied()
}

/// Where an event was read: its file and line, as [`CompactEvent`] holds
/// them; evidence lines are re-read from there.
///
/// [`CompactEvent`]: loglynx_features::output::compact::CompactEvent
pub type Place = (FileId, u64);

/// The places of `log`'s events `idx`, ascending, no duplicates.
pub fn places_of(log: &CompactLog, idx: impl IntoIterator<Item = usize>) -> Vec<Place> {
    let mut v: Vec<Place> = idx
        .into_iter()
        .map(|i| {
            let e = &log.events[i];
            (e.file, e.line)
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// One detection: a rule matched a group of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleHit {
    pub rule_id: String,
    pub severity: Severity,
    /// The group's field values in `group_by` order (the term fields for
    /// `new_term`), e.g. `[("source", "203.0.113.9"), ("host", "web-01")]`.
    pub group: Vec<(String, String)>,
    /// Time of the first and last event of the hit.
    pub first: Micros,
    pub last: Micros,
    /// Matching events in the hit, weighted by `repeat`.
    pub count: u64,
    /// Distinct values, sorted, at most [`MAX_LISTED`] each.
    pub users: Vec<String>,
    pub hosts: Vec<String>,
    pub sources: Vec<String>,
    /// Exact numbers of distinct values.
    pub distinct_users: usize,
    pub distinct_hosts: usize,
    pub distinct_sources: usize,
    /// Where the first and last [`EVIDENCE_EACH_END`] matching events were
    /// read, ascending, no duplicates.
    pub evidence: Vec<Place>,
    /// One line of human text, e.g. `27 failed logins in 3 minutes, 4
    /// distinct users`.
    pub summary: String,
}

/// Why a rule was not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    #[error("{rule}: skipped: new_term rules need a baseline history")]
    NoHistory { rule: String },
    #[error("{rule}: skipped: the baseline history has no `{key}` terms")]
    NoTerms { rule: String, key: String },
}

/// What rules may compare a log with besides the log itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The baseline's terms: `new_term` rules need it; `concurrent` rules
    /// judge novelty by it when given.
    pub history: Option<&'a History>,
    /// Host addresses for `chain` rules.
    pub assets: Option<&'a Assets>,
}

/// [`evaluate_with`] with a history and no asset list.
pub fn evaluate(rules: &RuleSet, log: &CompactLog, history: Option<&History>) -> (Vec<RuleHit>, Vec<Skipped>) {
    evaluate_with(rules, log, &Context { history, assets: None })
}

/// Runs every rule over `log`, rules in parallel. Returns the hits sorted by
/// (first, rule id, group, last) and the rules that were skipped.
/// `new_term` rules need `ctx.history`; without it they are skipped. A
/// `chain` rule without `ctx.assets` links a host only to sources written
/// as its name.
pub fn evaluate_with(rules: &RuleSet, log: &CompactLog, ctx: &Context) -> (Vec<RuleHit>, Vec<Skipped>) {
    let index = engine::EventIndex::new(log);
    let results: Vec<Result<Vec<RuleHit>, Skipped>> = rules
        .rules
        .par_iter()
        .map(|rule| {
            let started = std::time::Instant::now();
            let result = engine::run(rule, log, ctx, &index);
            tracing::debug!(rule = %rule.id, seconds = started.elapsed().as_secs_f64(), "rule evaluated");
            result
        })
        .collect();
    let mut hits = Vec::new();
    let mut notes = Vec::new();
    for r in results {
        match r {
            Ok(h) => hits.extend(h),
            Err(note) => notes.push(note),
        }
    }
    sort_hits(&mut hits);
    (hits, notes)
}

/// Puts hits in the order [`evaluate_with`] returns them: by (first, rule
/// id, group, last, evidence).
pub fn sort_hits(hits: &mut [RuleHit]) {
    hits.par_sort_unstable_by(|a, b| {
        (a.first, &a.rule_id, &a.group, a.last, &a.evidence).cmp(&(b.first, &b.rule_id, &b.group, b.last, &b.evidence))
    });
}
