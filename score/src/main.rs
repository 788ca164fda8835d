//! `loglynx-score`: new logs in, prioritized and explained alerts out.
//! Flags become a [`ScoreConfig`]; [`loglynx_score::run`] does the work.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use loglynx_cli::Verbosity;
use loglynx_features::output::{escape_terminal, escape_terminal_lines};
use loglynx_score::rules::Severity;
use loglynx_score::run::unread_note;
use loglynx_score::{eval, report, ScoreConfig, ScoreOutcome};

const EXAMPLES: &str = "\
Examples:
  loglynx-score auth.log                         # fits a baseline on the input itself
  loglynx-score --model baseline.llx /var/log/auth.log -o alerts.ndjson
  loglynx-score --model baseline.llx 'logs/*.gz' -o alerts.csv --scores-out scores.parquet
  loglynx-score --model sessions.llx sessions.csv --id-column session --scores-out scores.csv
  loglynx-score --rules my-rules/ --fail-on high auth.log     # exit 1 on HIGH or CRITICAL
  zcat auth.log.gz | loglynx-score - --format syslog --year 2025
  loglynx-score --model baseline.llx --alert-budget 0.2 auth.log   # fewer model-driven alerts
  loglynx-score auth.log --report report.html    # a page to read; report.md for a ticket
  LOGLYNX_ES_API_KEY=… loglynx-score auth.log --to-es https://es:9200 --alerts-index loglynx-alerts
  loglynx-score --send-alerts alerts.ndjson --to-es https://es:9200   # finish a run whose cluster failed
  loglynx-score --from-es https://es:9200 --index 'filebeat-*' --since now-1d --model baseline.llx
  loglynx-score auth.log --verdict-template verdicts.csv   # fill in the verdict column, then:
  loglynx-score next-day.log --feedback verdicts.csv       # false positives judged once stay out
  loglynx-train quiet.log --feedback verdicts.csv --alerts alerts.ndjson -o reranked.llx
  loglynx-score next-day.log --model reranked.llx --feedback verdicts.csv   # alerts like judged false positives demoted

A model brings the window, time zone and business hours it was trained
with; --window-secs and --time-zone may repeat them but not contradict them.
It also brings its alert budget: the model raises alerts of its own (evidence
accumulated over an entity's windows, many sources against a host, rare new
terms) at the rate of --alert-budget per 1,000 entity-days that replaying its
baseline would give.

Exit codes: 0 ok (no alert at or above --fail-on), 1 alerts at or above
--fail-on, 2 error (unreadable input, corrupt or incompatible model, bad rules).";

/// Score logs against a baseline, run detection rules, and write prioritized alerts.
#[derive(Debug, Parser)]
#[command(name = "loglynx-score", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    score: ScoreConfig,

    #[command(flatten)]
    verbosity: Verbosity,
}

/// Prints an error and gives exit code 2.
fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("loglynx-score: error: {}", escape_terminal_lines(&e.to_string()));
    ExitCode::from(2)
}

/// `in N requests: N new, N updated`.
fn uploaded(r: &loglynx_es::BulkReport) -> String {
    format!("in {} requests: {} new, {} updated", r.requests, r.created, r.updated)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.verbosity.init_tracing();
    let started = Instant::now();
    if let Some(path) = &cli.score.send_alerts {
        return send_alerts(&cli.score, path, cli.verbosity.quiet);
    }
    let outcome = match loglynx_score::run(&cli.score, cli.verbosity.quiet) {
        Ok(outcome) => outcome,
        Err(e) => return fail(&e),
    };
    if !cli.verbosity.quiet {
        summary(&cli.score, &outcome, started);
        if let (Some((index, r)), Some(url)) = (&outcome.sent_to_es, &cli.score.to_es) {
            eprintln!(
                "  sent {} alerts to {} index {} {}",
                r.sent,
                escape_terminal(url),
                escape_terminal(index),
                uploaded(r)
            );
        }
        if let (Some(r), Some(index)) = (&outcome.scores_sent, &cli.score.scores_index) {
            eprintln!(
                "  sent {} scores to index {} {}",
                r.sent,
                escape_terminal(index),
                uploaded(r)
            );
        }
    }
    if let Some(e) = &outcome.evaluation {
        print!("{}", eval::render(e));
    }
    let code = if !outcome.input_failures.is_empty() {
        fail(&format!(
            "alerts cover the readable inputs only{}",
            unread_note(&outcome.input_failures)
        ))
    } else if outcome.fails(cli.score.fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    // The process ends next, and the OS takes the kept events and the
    // anomalies back at once instead of one by one.
    std::mem::forget(outcome);
    code
}

/// `--send-alerts`: an earlier run's alerts file to the cluster, nothing else.
fn send_alerts(config: &ScoreConfig, path: &std::path::Path, quiet: bool) -> ExitCode {
    let docs = match loglynx_score::sink::read_alert_documents(path) {
        Ok(docs) => docs,
        Err(e) => return fail(&format!("--send-alerts {e}")),
    };
    let sink = match loglynx_score::sink::AlertSink::from_config(config) {
        Ok(Some(sink)) => sink,
        Ok(None) => return fail(&"--send-alerts needs --to-es"),
        Err(e) => return fail(&e),
    };
    match sink.send_documents(&docs, path) {
        Ok(r) => {
            if !quiet {
                eprintln!(
                    "loglynx-score: sent {} alerts of {} to index {} {}",
                    r.sent,
                    escape_terminal(&path.display().to_string()),
                    escape_terminal(sink.index()),
                    uploaded(&r)
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn summary(config: &ScoreConfig, o: &ScoreOutcome, started: Instant) {
    let colour = std::io::stderr().is_terminal();
    eprint!("{}", report::render_summary(&o.alerts, config.show, colour));
    if o.model_skipped {
        eprintln!("loglynx-score: no --model given and the input is too small to fit a baseline on; new-term rules are skipped");
    } else if o.fitted_on_input {
        eprintln!(
            "loglynx-score: no --model given: the baseline was fitted on the input itself; new-term rules are skipped"
        );
    }
    if let Some(note) = o.baseline_note() {
        eprintln!("  {note}");
    }
    for n in &o.notes {
        tracing::info!("{n}");
    }
    if let Some((f, from_model)) = &o.features {
        let b = &f.business_hours;
        eprintln!(
            "  features: {} s windows, business hours {}–{} in {} ({})",
            f.window_secs,
            b.start_hour,
            b.end_hour,
            b.time_zone,
            if *from_model {
                "from the model"
            } else {
                "from flags or defaults"
            }
        );
    }
    if config.model.is_some() && !o.unscored.is_empty() {
        eprintln!("  no model for entity kinds: {}", o.unscored.join(", "));
    }
    let m = &o.merge_stats;
    let thresholds: Vec<String> = o
        .calibration
        .kinds
        .iter()
        .filter_map(|k| {
            o.calibration.threshold(k.entity_kind, o.alert_budget).map(|h| {
                format!(
                    "{} {h:.1} ({} alerts allowed of {} episodes)",
                    k.entity_kind,
                    k.allowed(o.alert_budget).floor(),
                    k.episodes
                )
            })
        })
        .collect();
    let population = o
        .calibration
        .population
        .as_ref()
        .map(|p| {
            format!(
                "; population: more than {} failing public sources per host and window ({} spans passed)",
                p.windows.threshold(o.alert_budget),
                m.population_windows
            )
        })
        .unwrap_or_default();
    if !thresholds.is_empty() {
        eprintln!(
            "  alert budget {} per 1,000 entity-days ({}): evidence thresholds (nats) {}{population}; {} episodes \
             passed, {} population alerts, {} logins from their sources, {} new terms rare enough, {} routine hits \
             demoted",
            o.alert_budget,
            if config.model.is_some() {
                "calibrated on the model's baseline"
            } else {
                "calibrated on the input itself"
            },
            thresholds.join(", "),
            m.episodes_alerting,
            m.population_alerts,
            m.population_logins,
            m.rarity_alerts,
            m.routine_demoted
        );
    }
    for v in &o.merge_stats.by_verdict {
        eprintln!(
            "  left out by the {} verdict at {} ({} {}; {}): {} alerts",
            v.verdict.verdict.as_str(),
            escape_terminal(&v.verdict.at),
            escape_terminal(&v.verdict.primary),
            v.verdict.rule_ids.join(","),
            escape_terminal(&v.verdict.note),
            v.alerts.len()
        );
    }
    if o.merge_stats.reranked > 0 {
        eprintln!(
            "  the verdicts' re-ranker ordered {} alerts and demoted {} to LOW (P(true positive) below {})",
            o.merge_stats.reranked, o.merge_stats.demoted, config.demote_below
        );
    }
    if o.late_events > 0 {
        eprintln!(
            "  late events left out of the features: {} (their window had been scored; see --allowed-lateness)",
            o.late_events
        );
    }
    if o.late_rule_events > 0 {
        eprintln!(
            "  late events the windowed rules did not read: {} (they came after the watermark passed their time; see --allowed-lateness)",
            o.late_rule_events
        );
    }
    let count = |s: Severity| o.alerts.iter().filter(|a| a.severity == s).count();
    eprintln!(
        "loglynx-score: {} lines, {} events ({} kept for rules), {} entity-windows ({} anomalous), {} rule hits → {} alerts (CRITICAL {}, HIGH {}, MEDIUM {}, LOW {}); {} recurring patterns and {} new terms under the threshold suppressed; {} alerts of internet background rolled up into {}; {} alerts left out by {} verdicts → {} in {:.2} s",
        o.lines,
        o.events,
        o.kept_events,
        o.scored_rows,
        o.anomalous,
        o.rule_hits,
        o.alerts.len(),
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        o.merge_stats.suppressed_recurring,
        o.merge_stats.uncorroborated_new_terms,
        o.merge_stats.rolled_up,
        o.merge_stats.rollups,
        o.merge_stats.left_out_by_verdicts(),
        o.merge_stats.by_verdict.len(),
        config.output.display(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn cli_is_well_formed() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}
