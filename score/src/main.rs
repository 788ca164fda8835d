//! `loglynx-score`: new logs in, prioritized and explained alerts out.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use rayon::prelude::*;

use loglynx_cli::{init_tracing, parse_duration, rss_mib, spinner};
use loglynx_features::aggregate::enrich::Allowlist;
use loglynx_features::aggregate::registry::{self, Tag};
use loglynx_features::aggregate::{FeatureConfig, WindowEvidence};
use loglynx_features::ingest::input::{self, InputFormat, Source};
use loglynx_features::ingest::pipeline::{self, RunConfig};
use loglynx_features::output::compact::CompactLog;
use loglynx_features::output::{escape_terminal_lines, write_atomic, TableFormat};
use loglynx_models::ndarray::Axis;
use loglynx_models::{ExplainRows, ModelBundle, ModelSetConfig, RowScore};
use loglynx_score::alerts::{self, AlertConfig, Anomaly, Driver};
use loglynx_score::rules::{self, History, RuleSet, Severity};
use loglynx_score::{eval, evidence, report};
use loglynx_train::fit::{fit_matrix, kind_matrix, model_matrix};
use loglynx_train::table::{is_feature_table, FeatureFrame};

const EXAMPLES: &str = "\
Examples:
  loglynx-score auth.log                         # fits a baseline on the input itself
  loglynx-score --model baseline.llx /var/log/auth.log -o alerts.ndjson
  loglynx-score --model baseline.llx 'logs/*.gz' -o alerts.csv --scores-out scores.parquet
  loglynx-score --model sessions.llx sessions.csv --id-column session --scores-out scores.csv
  loglynx-score --rules my-rules/ --fail-on high auth.log     # exit 1 on HIGH or CRITICAL
  zcat auth.log.gz | loglynx-score - --format syslog --year 2025

Exit codes: 0 ok (no alert at or above --fail-on), 1 alerts at or above
--fail-on, 2 error (unreadable input, corrupt or incompatible model, bad rules).";

/// Score logs against a baseline, run detection rules, and write prioritized alerts.
#[derive(Debug, Parser)]
#[command(name = "loglynx-score", version, about, after_help = EXAMPLES)]
struct Cli {
    /// Logs (files, directories, globs, `-` for stdin) or feature tables
    /// (.parquet; .csv with an `entity_kind` column or with --id-column).
    #[arg(required = true)]
    inputs: Vec<String>,

    /// Model bundle from loglynx-train; without it a baseline is fitted on the input itself.
    #[arg(long)]
    model: Option<PathBuf>,

    /// Alerts file: .ndjson (default), .csv or .parquet.
    #[arg(short, long, default_value = "alerts.ndjson")]
    output: PathBuf,

    /// Format of --output; default from its extension.
    #[arg(long, value_parser = loglynx_cli::table_format())]
    output_format: Option<TableFormat>,

    /// Every entity-window's scores (.parquet, .csv or .ndjson); explanations
    /// for anomalous windows and public sources near the threshold.
    #[arg(long)]
    scores_out: Option<PathBuf>,

    /// Directory of rule files (.toml) that add to or override the built-in rules by id.
    #[arg(long)]
    rules: Option<PathBuf>,

    /// Exit with code 1 when an alert of this severity or higher is raised.
    #[arg(long, value_parser = clap::value_parser!(Severity))]
    fail_on: Option<Severity>,

    /// Drop alerts below this severity.
    #[arg(long, default_value = "low", value_parser = clap::value_parser!(Severity))]
    min_severity: Severity,

    /// Allowlist TOML (`networks = [...]`, `users = [...]`).
    #[arg(long)]
    allowlist: Option<PathBuf>,

    /// Detections of one entity closer than this merge into one alert (s, m, h, d).
    #[arg(long, default_value = "1h")]
    suppression: String,

    /// Raw log lines of evidence per alert.
    #[arg(long, default_value_t = 5)]
    evidence: usize,

    /// Smallest anomaly score (0–1) for alerts raised by the model alone.
    #[arg(long, default_value_t = 0.999)]
    anomaly_alert_score: f64,

    /// Campaign labels from loglynx-gen: report detection and false alerts
    /// against them and against a naive threshold detector.
    #[arg(long)]
    labels: Option<PathBuf>,

    /// Write the --labels evaluation as JSON here.
    #[arg(long)]
    eval_out: Option<PathBuf>,

    /// Id column of a generic numeric feature table (the one the model was
    /// trained on with `loglynx-train --id-column`).
    #[arg(long)]
    id_column: Option<String>,

    /// Input format (default: detected per file).
    #[arg(long, value_parser = loglynx_cli::input_format())]
    format: Option<InputFormat>,

    /// Year of the first line of RFC 3164 files (default: from file times).
    #[arg(long)]
    year: Option<i32>,

    /// Window length in seconds when no model is given (a model brings its own).
    #[arg(long, default_value_t = 3600)]
    window_secs: u64,

    /// IANA time zone of business hours (8–18, Monday–Friday) when no model is given.
    #[arg(long, default_value = "UTC")]
    time_zone: String,

    /// Seed of the baseline fitted when no model is given.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// Alerts shown in the terminal summary.
    #[arg(long, default_value_t = 15)]
    show: usize,

    /// No progress bar, no summary.
    #[arg(short, long)]
    quiet: bool,

    /// More diagnostics (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loglynx-score: error: {}", escape_terminal_lines(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Copies stdin to a temporary file so evidence lines can be re-read.
fn spool_stdin(sources: &mut [Source]) -> Result<Option<(usize, tempfile::TempPath)>> {
    let Some(i) = sources.iter().position(|s| *s == Source::Stdin) else {
        return Ok(None);
    };
    let mut tmp = tempfile::NamedTempFile::new().context("spooling stdin")?;
    std::io::copy(&mut std::io::stdin().lock(), &mut tmp).context("reading stdin")?;
    let path = tmp.into_temp_path();
    sources[i] = Source::File(path.to_path_buf());
    Ok(Some((i, path)))
}

/// Rows scored at a time: their scores and explanations are all that is
/// alive besides the kind's matrix.
const SCORE_CHUNK: usize = 1 << 18;

/// The feature columns anomalies read besides their scores: whether the
/// account got in.
fn anomaly_columns() -> Vec<&'static str> {
    registry::tagged(Tag::Access).map(|f| f.name).collect()
}

/// Scores feature frames (one entity kind at a time, or a whole table) and
/// keeps what alerts need: the anomalous rows; with `scores_out` every
/// row's score is written as it comes.
struct Scoring<'m> {
    /// The baseline; without it one is fitted on each frame.
    model: Option<&'m ModelBundle>,
    config: ModelSetConfig,
    explain: ExplainRows,
    public_source_score: f64,
    /// `--scores-out`.
    scores_out: Option<report::ScoresWriter>,
    /// Kinds fitted on the input.
    fitted: usize,
    /// Kinds too small to fit, `kind (why)`.
    skipped: Vec<String>,
    /// Kinds the model has no set for.
    unscored: Vec<String>,
    anomalies: Vec<Anomaly>,
    rows: usize,
    anomalous: usize,
}

impl Scoring<'_> {
    /// Scores `frame`; `evidence` is its rows' evidence lines, or empty.
    fn add(&mut self, mut frame: FeatureFrame, evidence: &[WindowEvidence]) -> Result<()> {
        let rows = frame.len();
        if rows == 0 {
            return Ok(());
        }
        // A frame of one kind drops the feature columns once its matrix is
        // made; the anomalies read only these.
        let kinds = frame.entity_kinds();
        let one_kind = kinds.len() == 1;
        let mut found = Vec::new();
        // Scores to write: those of one kind are written chunk by chunk,
        // in row order; kinds interleaved in a table are sorted first.
        let mut kept = Vec::new();
        for kind in kinds {
            match self.model {
                Some(m) => {
                    let Some(set) = m.set(&kind) else {
                        self.unscored.push(kind);
                        continue;
                    };
                    let rows = frame.rows_of(&kind);
                    let x = model_matrix(set, &frame, &rows).map_err(anyhow::Error::msg)?;
                    if one_kind {
                        frame.keep_columns(&anomaly_columns());
                    }
                    // Rows score independently against a saved model.
                    for (c, x) in x.axis_chunks_iter(Axis(0), SCORE_CHUNK).enumerate() {
                        let s = set
                            .score_with(x, self.explain)
                            .map_err(|e| anyhow::anyhow!("{kind}: {e}"))?;
                        let rows = &rows[c * SCORE_CHUNK..][..s.len()];
                        self.take(&frame, evidence, rows, s, &mut found, &mut kept);
                        if one_kind {
                            self.write_scores(&frame, &mut kept)?;
                        }
                    }
                }
                // Fitting scores every row once already: those scores are the output.
                None => match kind_matrix(&frame, &kind).map_err(anyhow::Error::msg)? {
                    Ok(m) => {
                        if one_kind {
                            frame.keep_columns(&anomaly_columns());
                        }
                        let (config, explain) = (self.config.clone(), Some(self.explain));
                        let mut written = Ok(());
                        fit_matrix(&kind, &m, &config, explain, SCORE_CHUNK, |rows, s| {
                            self.take(&frame, evidence, rows, s, &mut found, &mut kept);
                            if one_kind && written.is_ok() {
                                written = self.write_scores(&frame, &mut kept);
                            }
                        })
                        .map_err(anyhow::Error::msg)?;
                        written?;
                        self.fitted += 1;
                    }
                    Err(why) => {
                        self.unscored.push(kind);
                        self.skipped.push(why);
                    }
                },
            }
        }
        // Row order, as kinds may interleave in a table.
        found.sort_by_key(|(r, _)| *r);
        self.anomalies.extend(found.into_iter().map(|(_, a)| a));
        kept.sort_by_key(|(r, _)| *r);
        self.write_scores(&frame, &mut kept)?;
        self.rows += rows;
        Ok(())
    }

    /// Writes `kept` (rows of `frame`) to `--scores-out` and empties it.
    fn write_scores(&mut self, frame: &FeatureFrame, kept: &mut Vec<(usize, RowScore)>) -> Result<()> {
        if let Some(w) = &mut self.scores_out {
            w.write(frame, kept)?;
        }
        kept.clear();
        Ok(())
    }

    /// Takes the scores of `rows` of `frame`: anomalies (and public sources
    /// near the threshold) into `found`, every score into `kept` when the
    /// scores are written.
    fn take(
        &mut self,
        frame: &FeatureFrame,
        evidence: &[WindowEvidence],
        rows: &[usize],
        scores: Vec<RowScore>,
        found: &mut Vec<(usize, Anomaly)>,
        kept: &mut Vec<(usize, RowScore)>,
    ) {
        let access: Vec<Option<usize>> = anomaly_columns().into_iter().map(|c| frame.column(c)).collect();
        let public_source_score = self.public_source_score;
        self.anomalous += scores.iter().filter(|s| s.is_anomaly).count();
        // Made in parallel: explanations are formatted here.
        let anomaly = |r: usize, s: &RowScore| {
            let wanted = s.is_anomaly || (&*frame.kinds[r] == "source_ip" && s.score >= public_source_score);
            match (wanted, frame.window_starts[r]) {
                (true, Some(start)) => {
                    let used = |c: Option<usize>| c.is_some_and(|c| frame.columns[c][r] > 0.0);
                    let anomaly = Anomaly {
                        entity_kind: frame.kinds[r].to_string(),
                        entity: frame.ids[r].to_string(),
                        window_start: start,
                        window_end: start + frame.window.unwrap_or(0),
                        score: s.score,
                        explanation: s.explanation.iter().map(|c| c.to_string()).collect(),
                        drivers: s
                            .explanation
                            .iter()
                            .map(|c| Driver {
                                feature: c.feature.clone(),
                                value: c.value,
                                baseline_p99: c.baseline_p99,
                            })
                            .collect(),
                        flagged: s.is_anomaly,
                        account_used: access.iter().any(|&c| used(c)),
                        evidence: evidence
                            .get(r)
                            .map(|lines| lines.iter().filter_map(|l| l.get()).collect())
                            .unwrap_or_default(),
                    };
                    Some((r, anomaly))
                }
                _ => None,
            }
        };
        if self.scores_out.is_some() {
            found.par_extend(rows.par_iter().zip(&scores).filter_map(|(&r, s)| anomaly(r, s)));
            kept.extend(rows.iter().copied().zip(scores));
        } else {
            // Consumed in parallel, so they are freed there too.
            found.par_extend(rows.par_iter().zip(scores).filter_map(|(&r, s)| anomaly(r, &s)));
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let started = Instant::now();
    let output_format = TableFormat::resolve(cli.output_format, &cli.output, "use --output-format")?;
    let scores_format = match &cli.scores_out {
        Some(p) => Some(TableFormat::resolve(None, p, "name it .parquet, .csv or .ndjson")?),
        None => None,
    };
    let suppression = parse_duration(&cli.suppression)? as i64 * 1_000_000;
    let model = match &cli.model {
        Some(p) => Some(ModelBundle::load(p).with_context(|| format!("cannot use model {}", p.display()))?),
        None => None,
    };
    let mut rule_set = RuleSet::builtin();
    if let Some(dir) = &cli.rules {
        rule_set.merge(RuleSet::load_dir(dir)?);
    }
    let allowlist = match &cli.allowlist {
        Some(p) => Allowlist::from_toml_file(p)?,
        None => Allowlist::default(),
    };

    // Feature tables score with the model alone; logs go through the full pipeline.
    let tables: Vec<&String> = cli
        .inputs
        .iter()
        .filter(|p| is_feature_table(p, cli.id_column.as_deref()))
        .collect();
    let (mut sources, input_errors) = input::discover(
        &cli.inputs
            .iter()
            .filter(|p| !tables.contains(p))
            .cloned()
            .collect::<Vec<_>>(),
    );
    // An input that cannot be read is reported and the others are still
    // scored; the run then ends with exit code 2.
    let mut input_failures: Vec<String> = input_errors.iter().map(|e| e.to_string()).collect();
    if sources.is_empty() && tables.is_empty() {
        bail!("no readable input: {}", input_failures.join("; "));
    }
    let spooled = spool_stdin(&mut sources)?;

    let window_secs = model
        .as_ref()
        .and_then(|m| m.sets.iter().map(|s| s.spec().window_secs).find(|&w| w > 0))
        .unwrap_or(cli.window_secs);
    let features = FeatureConfig::with_window_in_zone(window_secs, &cli.time_zone).check()?;

    // The baseline: the given model, or one fitted on the input itself.
    // Explanations are made for the rows alerts can use: the anomalous ones
    // and public sources near the threshold.
    let fitted_on_input = model.is_none();
    let alert_defaults = AlertConfig::default();
    let config = ModelSetConfig::default().with_seed(cli.seed);
    if model.is_none() {
        config.check().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut scoring = Scoring {
        model: model.as_ref(),
        config,
        explain: ExplainRows::AtLeast(alert_defaults.public_source_score.min(cli.anomaly_alert_score)),
        public_source_score: alert_defaults.public_source_score,
        scores_out: match (&cli.scores_out, scores_format) {
            (Some(p), Some(f)) => Some(report::ScoresWriter::create(p, f)?),
            _ => None,
        },
        fitted: 0,
        skipped: Vec::new(),
        unscored: Vec::new(),
        anomalies: Vec::new(),
        rows: 0,
        anomalous: 0,
    };

    let mut log = CompactLog::default();
    let mut file_names: Vec<String> = Vec::new();
    // Where each file's blocks start, to re-read evidence lines.
    let mut block_starts: Vec<Vec<(u64, u64)>> = Vec::new();
    let (mut lines, mut events) = (0, 0);
    if !sources.is_empty() {
        // Only the events the rules (and the evaluation) read are kept.
        let mut keep = rule_set.events_read();
        if cli.labels.is_some() {
            keep.union(&eval::events_read());
        }
        let cfg = RunConfig {
            format: cli.format,
            year: cli.year,
            collect_compact: Some(keep),
            window_evidence: true,
            ..RunConfig::new(features)
        };
        let bar = spinner(cli.quiet, "reading logs");
        let result = pipeline::run(&sources, &cfg, |_| Ok(()), &|_| {})?;
        bar.finish_and_clear();
        input_failures.extend(result.errors().map(|(name, err)| format!("{name}: {err}")));
        file_names = result.file_names();
        block_starts = result.files.iter().map(|f| f.block_starts.clone()).collect();
        if let Some((i, _)) = &spooled {
            if let Some(n) = file_names.get_mut(*i) {
                *n = "-".into();
            }
        }
        lines = result.stats.lines;
        events = result.stats.events;
        log = result.compact.unwrap_or_default();
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            kept_events = log.len(),
            rss_mib = rss_mib(),
            "read and aggregated"
        );
        let bar = spinner(cli.quiet, "scoring");
        if tables.is_empty() {
            // One entity kind at a time: its rows are made, scored and
            // dropped before the next kind's rows exist.
            let mut failed = Ok(());
            result.aggregator.finish_by_kind(|mut table| {
                if failed.is_ok() {
                    let evidence = std::mem::take(&mut table.evidence);
                    failed = scoring.add(FeatureFrame::from_table(table), &evidence);
                }
            });
            failed?;
        } else {
            // Rows of the same kind from logs and tables share one baseline.
            let mut table = result.aggregator.finish();
            let evidence = std::mem::take(&mut table.evidence);
            let mut frame = FeatureFrame::from_table(table);
            for t in &tables {
                frame.append(FeatureFrame::read(Path::new(t), cli.id_column.as_deref())?);
            }
            scoring.add(frame, &evidence)?;
        }
        bar.finish_and_clear();
    } else {
        let mut frame = FeatureFrame::default();
        for t in &tables {
            frame.append(FeatureFrame::read(Path::new(t), cli.id_column.as_deref())?);
        }
        scoring.add(frame, &[])?;
    }
    // Said with any error from here on: an input cut short may be why
    // there is too little to score.
    let unread = if input_failures.is_empty() {
        String::new()
    } else {
        format!("; these could not be read in full: {}", input_failures.join("; "))
    };
    if scoring.rows == 0 {
        bail!("the inputs hold no events to score{unread}");
    }
    if scoring.model.is_none() && scoring.fitted == 0 {
        bail!(
            "nothing to train: every entity kind has too few rows ({}){unread}",
            scoring.skipped.join(", ")
        );
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        rows = scoring.rows,
        rss_mib = rss_mib(),
        "scored"
    );
    let Scoring {
        anomalies,
        unscored,
        rows: scored_rows,
        anomalous,
        scores_out,
        ..
    } = scoring;

    // Rules, with new-term history from the model when it has one.
    let history = model.as_ref().filter(|m| !m.history.is_empty()).map(|m| History {
        terms: m.history.clone(),
    });
    let (hits, notes) = rules::evaluate(&rule_set, &log, history.as_ref());
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        hits = hits.len(),
        rss_mib = rss_mib(),
        "rules evaluated"
    );

    let model_version = model.as_ref().map(|m| {
        format!(
            "{} ({})",
            cli.model.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            m.metadata.created_at
        )
    });
    let alert_cfg = AlertConfig {
        suppression,
        evidence_lines: cli.evidence,
        anomaly_alert_score: cli.anomaly_alert_score,
        allowlist,
        min_severity: cli.min_severity,
        model_version: model_version.or_else(|| Some("fitted on the input".into())),
        baseline_anomalous: match &model {
            None => Default::default(),
            Some(m) => m
                .history
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(rules::BASELINE_ANOMALOUS_PREFIX)
                        .map(|kind| (kind.to_owned(), v.clone()))
                })
                .collect(),
        },
        ..alert_defaults
    };
    let (mut alerts, merge_stats) = alerts::merge(&hits, &anomalies, &rule_set, &log, &file_names, &alert_cfg);
    evidence::fill(&mut alerts, &sources, &block_starts);
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        alerts = alerts.len(),
        "alerts merged, evidence read"
    );

    report::write_alerts(&alerts, &cli.output, output_format)?;
    if let Some(w) = scores_out {
        w.finish()?;
    }
    let evaluation = match &cli.labels {
        Some(p) => {
            let labels = loglynx_datasets::labels::read_labels_file(p).with_context(|| format!("{}", p.display()))?;
            let e = eval::evaluate(&alerts, &log, &labels);
            if let Some(out) = &cli.eval_out {
                write_atomic(out, serde_json::to_string_pretty(&e)?.as_bytes())?;
            }
            Some(e)
        }
        None => None,
    };

    if !cli.quiet {
        let colour = std::io::stderr().is_terminal();
        eprint!("{}", report::render_summary(&alerts, cli.show, colour));
        if fitted_on_input {
            eprintln!("loglynx-score: no --model given: the baseline was fitted on the input itself; new-term rules are skipped");
        }
        for n in &notes {
            tracing::info!("{n}");
        }
        if !unscored.is_empty() {
            eprintln!("  no model for entity kinds: {}", unscored.join(", "));
        }
        let count = |s: Severity| alerts.iter().filter(|a| a.severity == s).count();
        eprintln!(
            "loglynx-score: {} lines, {} events ({} kept for rules), {} entity-windows ({} anomalous), {} rule hits → {} alerts (CRITICAL {}, HIGH {}, MEDIUM {}, LOW {}); {} recurring patterns and {} uncorroborated new terms suppressed → {} in {:.2} s",
            lines,
            events,
            log.len(),
            scored_rows,
            anomalous,
            hits.len(),
            alerts.len(),
            count(Severity::Critical),
            count(Severity::High),
            count(Severity::Medium),
            count(Severity::Low),
            merge_stats.suppressed_recurring,
            merge_stats.uncorroborated_new_terms,
            cli.output.display(),
            started.elapsed().as_secs_f64()
        );
    }
    if let Some(e) = &evaluation {
        print!("{}", eval::render(e));
    }
    // The process ends next, and the OS takes the kept events and the
    // anomalies back at once (freeing them one by one costs about 0.3 s on
    // 10M events).
    std::mem::forget((log, anomalies));
    if !input_failures.is_empty() {
        bail!("alerts cover the readable inputs only{unread}");
    }
    let failing = cli.fail_on.is_some_and(|min| alerts.iter().any(|a| a.severity >= min));
    Ok(if failing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_and_severities() {
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("urgent".parse::<Severity>().is_err());
    }
}
