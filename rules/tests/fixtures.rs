//! Per-rule fixtures: every built-in rule has a small syslog file in
//! `rules/fixtures/` (`<rule id>.log`, RFC 3164, year 2024) with lines that
//! trigger it and lines that must not, and the hits it must give
//! (`<rule id>.expected.json`). A `new_term` rule also has the baseline its
//! history is learned from (`<rule id>.baseline.log`); other rules may have
//! one too (a `concurrent` rule then judges novelty by it), and an asset
//! list (`<rule id>.assets.csv`).
//!
//! Each log goes through the real syslog decoder into a `CompactLog`, the
//! whole built-in set is evaluated, and the rule's own hits are compared.

use std::path::{Path, PathBuf};

use loglynx_features::connectors::syslog::{decode_line, YearResolver};
use loglynx_features::ingest::attempts::count_in_order;
use loglynx_features::output::compact::{CompactLog, KeepEvents};
use loglynx_features::time::format_rfc3339;
use loglynx_rules::{evaluate_with, Assets, Context, History, Kind, RuleHit, RuleSet};
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Decodes `path` as the pipeline does; every line must decode, so a typo in
/// a fixture cannot silently drop an event.
fn load(path: &Path) -> CompactLog {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let years = YearResolver::fixed(2024);
    let mut events = Vec::new();
    for (n, line) in text.lines().enumerate() {
        match decode_line(line, 0, n as u64 + 1, &years) {
            Ok(event) => events.push(event),
            Err(skip) => panic!("{}:{}: does not decode ({skip:?}): {line}", path.display(), n + 1),
        }
    }
    count_in_order(&mut events);
    CompactLog::from_events(&events, KeepEvents::all())
}

/// The stable parts of a hit; evidence as 1-based fixture line numbers.
fn describe(h: &RuleHit) -> Value {
    let evidence: Vec<u64> = h.evidence.iter().map(|&(_, line)| line).collect();
    json!({
        "rule_id": h.rule_id,
        "severity": h.severity,
        "group": h.group,
        "first": format_rfc3339(h.first),
        "last": format_rfc3339(h.last),
        "count": h.count,
        "users": h.users,
        "hosts": h.hosts,
        "sources": h.sources,
        "evidence_lines": evidence,
        "summary": h.summary,
    })
}

#[test]
fn every_builtin_rule_gives_its_expected_hits_on_its_fixture() {
    let rules = RuleSet::builtin();
    let mut failures = Vec::new();
    for rule in &rules.rules {
        let id = &rule.id;
        let log_path = fixtures().join(format!("{id}.log"));
        let expected_path = fixtures().join(format!("{id}.expected.json"));
        let baseline_path = fixtures().join(format!("{id}.baseline.log"));
        if !log_path.is_file() || (!expected_path.is_file() && std::env::var_os("UPDATE_FIXTURES").is_none()) {
            failures.push(format!(
                "{id}: no fixture ({} and {})",
                log_path.display(),
                expected_path.display()
            ));
            continue;
        }
        assert!(
            rule.kind != Kind::NewTerm || baseline_path.is_file(),
            "{id}: a new_term rule needs {}",
            baseline_path.display()
        );
        let history = baseline_path
            .is_file()
            .then(|| History::from_log(&load(&baseline_path), &rules));
        let assets_path = fixtures().join(format!("{id}.assets.csv"));
        let assets = assets_path
            .is_file()
            .then(|| Assets::from_csv_file(&assets_path).unwrap_or_else(|e| panic!("{e}")));
        let log = load(&log_path);
        let ctx = Context {
            history: history.as_ref(),
            assets: assets.as_ref(),
        };
        let (hits, _) = evaluate_with(&rules, &log, &ctx);
        let actual: Vec<Value> = hits.iter().filter(|h| &h.rule_id == id).map(describe).collect();
        if std::env::var_os("UPDATE_FIXTURES").is_some() && !actual.is_empty() {
            let mut text = serde_json::to_string_pretty(&actual).unwrap();
            text.push('\n');
            std::fs::write(&expected_path, text).unwrap();
        }
        let text = std::fs::read_to_string(&expected_path).unwrap();
        let expected: Vec<Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        if expected.is_empty() {
            failures.push(format!("{id}: a fixture must trigger its rule"));
        }
        if actual != expected {
            failures.push(format!(
                "{id}: hits differ from {}; actual:\n{}",
                expected_path.display(),
                serde_json::to_string_pretty(&actual).unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_belongs_to_a_builtin_rule() {
    let rules = RuleSet::builtin();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let id = name.split('.').next().unwrap_or_default();
        assert!(rules.get(id).is_some(), "fixture {name} names no built-in rule");
    }
}
