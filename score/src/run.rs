//! [`run`]: what `loglynx-score` does, as a library call. Logs (or feature
//! tables) in; the baseline's scores and the rules' hits merged into
//! alerts, written to the outputs; a [`ScoreOutcome`] back.

use std::path::Path;
use std::time::Instant;

use loglynx_baseline::fit::MIN_ROWS;
use loglynx_baseline::sample::{check_fit_sample, FittedSets, KindSampler};
use loglynx_baseline::{is_feature_table, Baseline, FeatureFrame};
use loglynx_cli::{rss_mib, spinner};
use loglynx_features::aggregate::enrich::Allowlist;
use loglynx_features::aggregate::registry::EntityKind;
use loglynx_features::aggregate::{FeatureConfig, FeatureTable, ValidFeatureConfig};
use loglynx_features::event::Micros;
use loglynx_features::ingest::input::{self, Source};
use loglynx_features::ingest::pipeline::{self, RunConfig};
use loglynx_features::output::compact::CompactLog;
use loglynx_features::output::compact::Sym;
use loglynx_features::output::frames::FrameSpool;
use loglynx_features::output::ordered::EventSpool;
use loglynx_features::output::spool::RowSpool;
use loglynx_features::output::{write_atomic, OutputError, TableFormat};
use loglynx_models::{ExplainRows, ModelSetConfig};
use loglynx_rules::{self as rules, RuleSet, Severity};
use rustc_hash::{FxHashMap, FxHashSet};

use loglynx_baseline::accumulate::{AlertCalibration, Episode, EvidenceCollector, EvidenceConfig, HitIndex, Keep};

use crate::alerts::{self, Alert, AlertConfig, Anomaly, EntityEpisode, EventLogs, MergeInput, MergeStats};
use crate::config::ScoreConfig;
use crate::rollup::RollupConfig;
use crate::scoring::{ScoreHistogram, Scoring};
use crate::{eval, evidence, report, ScoreError};

/// What a scoring run found and wrote.
#[derive(Debug)]
pub struct ScoreOutcome {
    pub alerts: Vec<Alert>,
    pub merge_stats: MergeStats,
    /// Lines read and events decoded.
    pub lines: u64,
    pub events: u64,
    /// With a model: events left out of the features because their window
    /// had been scored (`--allowed-lateness`).
    pub late_events: u64,
    /// Logs alone: events the windowed rules did not read, because they
    /// arrived after the watermark had passed their time.
    pub late_rule_events: u64,
    /// Events kept for the rules (and the evaluation).
    pub kept_events: u64,
    /// Entity-windows scored, and how many the model flagged.
    pub scored_rows: usize,
    pub anomalous: usize,
    pub rule_hits: usize,
    /// Entity kinds the baseline has no set for, or too small to fit.
    pub unscored: Vec<String>,
    /// Without a model: the entity kinds too small to fit a baseline on,
    /// `kind (why)`, e.g. `host (1 row)`; their windows are not scored.
    pub too_small: Vec<String>,
    /// Without a model: every kind was too small, so no baseline was
    /// fitted and the alerts come from the rules alone.
    pub model_skipped: bool,
    /// The rules' notes (skipped rules and why).
    pub notes: Vec<rules::Skipped>,
    /// No baseline was given: one was fitted on the input (for at least one kind).
    pub fitted_on_input: bool,
    /// How features were computed from the logs, and whether the
    /// baseline said so (else flags or defaults did). `None` for tables only.
    pub features: Option<(FeatureConfig, bool)>,
    /// With `--labels`: detection against the campaigns and a naive detector.
    pub evaluation: Option<eval::Evaluation>,
    /// Inputs that could not be read in full: the alerts cover the rest.
    pub input_failures: Vec<String>,
    /// The alert budget applied and the calibration it applied to (the
    /// model's, or the input's own without a model), and the scored
    /// input's distinct (entity, day) pairs.
    pub alert_budget: f64,
    pub entity_days: u64,
    /// With --to-es: the index and what the bulk upload did.
    pub sent_to_es: Option<(String, loglynx_es::BulkReport)>,
    /// With --scores-index: what the scores' upload did.
    pub scores_sent: Option<loglynx_es::BulkReport>,
    pub calibration: AlertCalibration,
    /// The events the rules read (logs alone: only with `--report` or
    /// `--labels`, read back from the spool), and the anomalies the merge
    /// read back: large, so a binary about to exit may leave them to the OS.
    pub kept: CompactLog,
    pub anomalies: Vec<Anomaly>,
    /// Every scored window's score per entity kind, with the threshold.
    pub histograms: Vec<ScoreHistogram>,
    /// The baseline used: its path and creation time, or "fitted on the input".
    pub model_version: String,
    /// Rules evaluated.
    pub rules: usize,
}

/// Source rows scored at least this are kept with their explanations (the
/// model's own anomalies always are): they explain alerts.
pub const EXPLAIN_AT: f64 = 0.98;

impl ScoreOutcome {
    /// Whether an alert is at or above `min`.
    pub fn fails(&self, min: Option<Severity>) -> bool {
        min.is_some_and(|min| self.alerts.iter().any(|a| a.severity >= min))
    }

    /// Without a model, what the input was too small for: the whole
    /// baseline, or some entity kinds. `None` when nothing was skipped.
    pub fn baseline_note(&self) -> Option<String> {
        if self.model_skipped {
            Some(format!(
                "baseline skipped: {} entity-window {}, at least {MIN_ROWS} per entity kind are needed ({}); \
                 alerts come from rules alone",
                self.scored_rows,
                if self.scored_rows == 1 { "row" } else { "rows" },
                self.too_small.join(", ")
            ))
        } else if !self.too_small.is_empty() {
            Some(format!(
                "baseline not fitted for {}: at least {MIN_ROWS} rows per entity kind are needed; \
                 their windows are covered by the rules alone",
                self.too_small.join(", ")
            ))
        } else {
            None
        }
    }
}

/// The feature configuration to score logs with: the baseline's, which a
/// flag may repeat but not contradict; flags (or defaults) without one.
pub fn feature_config(config: &ScoreConfig, baseline: Option<&Baseline>) -> Result<ValidFeatureConfig, ScoreError> {
    let recorded = baseline.and_then(|b| b.features.clone());
    let features = match recorded {
        Some(f) => {
            if let Some(w) = config.window_secs.filter(|&w| w != f.window_secs) {
                return Err(ScoreError::Contradicts(format!(
                    "--window-secs {w}: the model was trained on windows of {} s",
                    f.window_secs
                )));
            }
            if let Some(tz) = config
                .time_zone
                .as_ref()
                .filter(|&tz| *tz != f.business_hours.time_zone)
            {
                return Err(ScoreError::Contradicts(format!(
                    "--time-zone {tz}: the model was trained with business hours in {}",
                    f.business_hours.time_zone
                )));
            }
            if let Some(h) = config.novelty_horizon.filter(|&h| h != f.novelty_horizon_secs) {
                return Err(ScoreError::Contradicts(format!(
                    "--novelty-horizon {h} s: the model was trained with a novelty horizon of {} s",
                    f.novelty_horizon_secs
                )));
            }
            f
        }
        None => {
            let mut f = FeatureConfig::with_window_in_zone(
                config.window_secs.unwrap_or(3600),
                config.time_zone.as_deref().unwrap_or("UTC"),
            );
            if let Some(h) = config.novelty_horizon {
                f.novelty_horizon_secs = h;
            }
            f
        }
    };
    Ok(features.check()?)
}

/// Scores `config.inputs` and writes the alerts (and scores, evaluation).
pub fn run(config: &ScoreConfig, quiet: bool) -> Result<ScoreOutcome, ScoreError> {
    let started = Instant::now();
    // `None`: the `_bulk` NDJSON of --output-format es-bulk.
    let output_format = match config.output_format {
        Some(f) => f.table(),
        None => Some(TableFormat::resolve(None, &config.output, "use --output-format")?),
    };
    // Read before the logs, so that a bad verdicts file fails fast.
    let feedback = match &config.feedback {
        Some(p) => crate::feedback::Feedback::read(p)?,
        None => crate::feedback::Feedback::default(),
    };
    if let Some(p) = &config.report {
        if crate::html::ReportFormat::of(p).is_none() {
            return Err(ScoreError::Setting(format!(
                "--report {}: the report is .html (self-contained page) or .md (Markdown summary)",
                p.display()
            )));
        }
    }
    let sink = crate::sink::AlertSink::from_config(config)?;
    let scores_format = match &config.scores_out {
        Some(p) => Some(TableFormat::resolve(None, p, "name it .parquet, .csv or .ndjson")?),
        None => None,
    };
    if config.scores_index.is_some() && scores_format != Some(TableFormat::Ndjson) {
        return Err(ScoreError::Setting(
            "--scores-index sends the rows of --scores-out: name it .ndjson".into(),
        ));
    }
    let model = match &config.model {
        Some(p) => {
            let model_error = |source| ScoreError::Model {
                path: p.display().to_string(),
                source,
            };
            let b = Baseline::load(p).map_err(model_error)?;
            if b.features.is_some() {
                b.check_spec_version().map_err(model_error)?;
            }
            Some(b)
        }
        None => None,
    };
    let mut rule_set = RuleSet::builtin();
    if let Some(dir) = &config.rules {
        rule_set.merge(RuleSet::load_dir(dir)?)?;
    }
    let assets = match &config.assets {
        Some(p) => Some(rules::Assets::from_csv_file(p)?),
        None => None,
    };
    let allowlist = match &config.allowlist {
        Some(p) => Allowlist::from_toml_file(p)?,
        None => Allowlist::default(),
    };
    let features = feature_config(config, model.as_ref())?;
    let rerank = model
        .as_ref()
        .and_then(|m| Some((m.reranker.clone()?, m.features.is_some())))
        .map(|(reranker, recorded)| crate::rerank::RerankConfig {
            reranker,
            // The business hours it was trained with: none for a model of
            // feature tables, whose re-ranker never saw off hours.
            hours: recorded.then(|| features.clone()),
            demote_below: config.demote_below,
        });
    let features_used = features.config.clone();

    // Feature tables score with the model alone; logs go through the full pipeline.
    let id_column = config.id_column.as_deref();
    let (tables, logs): (Vec<&String>, Vec<&String>) =
        config.inputs.iter().partition(|p| is_feature_table(p, id_column));
    let (mut sources, input_errors) = input::discover(&logs.into_iter().cloned().collect::<Vec<_>>());
    // An input that cannot be read is reported and the others are still scored.
    let mut input_failures: Vec<String> = input_errors.iter().map(|e| e.to_string()).collect();
    // Events read from a cluster are spooled to a file read like the others,
    // deleted when this binding goes.
    let _es_spool = loglynx_cli::es::spool_from_es(&config.es, &config.es_connection, "loglynx-score", &mut sources)?;
    if sources.is_empty() && tables.is_empty() {
        return Err(ScoreError::NoInput(input_failures.join("; ")));
    }
    let spooled = spool_stdin(&mut sources)?;

    // The model's drift and budget, the budget overridden by the flag.
    let recorded = model
        .as_ref()
        .map_or(EvidenceConfig::default(), |m| m.calibration.config);
    let evidence_config = EvidenceConfig {
        alert_budget: config.alert_budget.unwrap_or(recorded.alert_budget),
        ..recorded
    };
    evidence_config
        .check()
        .map_err(|e| ScoreError::Setting(format!("--alert-budget: {e}")))?;
    check_fit_sample(config.fit_sample).map_err(|e| ScoreError::Setting(e.to_string()))?;
    let model_config = ModelSetConfig::default().with_seed(config.seed);
    if model.is_none() {
        model_config.check().map_err(|e| ScoreError::Setting(e.to_string()))?;
    }
    // Without a model, sets fitted on a sample of the input (logs only).
    let fitted_sets: FittedSets;
    let mut scoring = Scoring {
        model: model.as_ref(),
        fitted_sets: None,
        config: model_config,
        explain: ExplainRows::AtLeast(EXPLAIN_AT),
        explain_at: EXPLAIN_AT,
        evidence: EvidenceCollector::new(evidence_config),
        scores_out: match (&config.scores_out, scores_format) {
            (Some(p), Some(f)) => Some(report::ScoresWriter::create(p, f)?),
            _ => None,
        },
        fitted: 0,
        skipped: Vec::new(),
        unscored: Vec::new(),
        anomalies: FrameSpool::new()?,
        rows: 0,
        anomalous: 0,
        histograms: Vec::new(),
    };
    let read_tables = |frame: &mut FeatureFrame| -> Result<(), ScoreError> {
        for t in &tables {
            frame.append(FeatureFrame::read(Path::new(t), id_column)?);
        }
        Ok(())
    };

    let streaming = tables.is_empty();
    // Rules, with new-term history from the model when it has one.
    let history = model.as_ref().map(|m| &m.history).filter(|h| !h.terms.is_empty());
    let context = rules::Context {
        history,
        assets: assets.as_ref(),
    };
    let mut late_events = 0;
    // Logs alone: the rules read the events as they are read, and the
    // events are spooled for the merge (`live`); else kept in `log`.
    let mut live: Option<rules::LiveOutcome> = None;
    let mut log = CompactLog::default();
    let mut file_names: Vec<String> = Vec::new();
    // Where each file's blocks start, to re-read evidence lines.
    let mut block_starts: Vec<Vec<(u64, u64)>> = Vec::new();
    let (mut lines, mut events, mut kept_events) = (0, 0, 0);
    if !sources.is_empty() {
        // Only the events the rules (and the evaluation) read are kept.
        let mut keep = rule_set.events_read();
        if config.labels.is_some() {
            keep.union(&eval::events_read());
        }
        let cfg = RunConfig {
            format: config.format,
            year: config.year,
            collect_compact: Some(keep),
            window_evidence: true,
            ..RunConfig::new(features)
        };
        // Logs alone are scored as their windows close, so memory holds the
        // open windows, not the whole input's.
        let bar = spinner(
            quiet,
            if streaming {
                "reading and scoring logs"
            } else {
                "reading logs"
            },
        );
        let result = if streaming {
            let lateness =
                pipeline::lateness_micros(config.allowed_lateness).map_err(|e| ScoreError::Setting(e.to_string()))?;
            let mut failed = Ok(());
            let mut live_rules = rules::LiveRules::new(&rule_set, true)?;
            let result = if model.is_none() {
                // Without a model the logs are read once: each kind's rows
                // are sampled and every row spooled to disk; the sets are
                // fitted on the samples, then the spooled rows are scored.
                let mut sampler = KindSampler::new(config.fit_sample, config.seed, cfg.features.window());
                let mut spool = RowSpool::new()?;
                let mut sample = |table: FeatureTable| -> Result<(), OutputError> {
                    sampler.add(&table);
                    spool.push(&table)
                };
                let mut on_events = |batches, until| live_rules.add(batches, until);
                let read = pipeline::run_closing_with_events(
                    &sources,
                    &cfg,
                    lateness,
                    &mut sample,
                    &mut on_events,
                    |_| Ok(()),
                    &|_| {},
                )?;
                tracing::info!(
                    seconds = started.elapsed().as_secs_f64(),
                    rows = spool.rows(),
                    rss_mib = rss_mib(),
                    "read, sampled and spooled"
                );
                fitted_sets = sampler.fit(&scoring.config)?;
                tracing::info!(
                    seconds = started.elapsed().as_secs_f64(),
                    kinds = fitted_sets.sets.len(),
                    "fitted on the samples"
                );
                scoring.fitted = fitted_sets.sets.len();
                for (kind, why) in &fitted_sets.too_small {
                    scoring.unscored.push(kind.to_string());
                    scoring.skipped.push(why.clone());
                }
                scoring.fitted_sets = Some(&fitted_sets);
                spool.replay(|t| score_closed(&mut scoring, &mut failed, t))?;
                read
            } else {
                let mut on_rows = |t| {
                    score_closed(&mut scoring, &mut failed, t);
                    Ok(())
                };
                let mut on_events = |batches, until| live_rules.add(batches, until);
                pipeline::run_closing_with_events(
                    &sources,
                    &cfg,
                    lateness,
                    &mut on_rows,
                    &mut on_events,
                    |_| Ok(()),
                    &|_| {},
                )?
            };
            failed?;
            late_events = result.aggregator.late_events();
            let started_rules = Instant::now();
            live = Some(live_rules.finish(&context)?);
            tracing::info!(
                seconds = started_rules.elapsed().as_secs_f64(),
                rss_mib = rss_mib(),
                "rules finished"
            );
            result
        } else {
            pipeline::run(&sources, &cfg, |_| Ok(()), &|_| {})?
        };
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
        kept_events = live
            .as_ref()
            .and_then(|o| o.spool.as_ref())
            .map_or(log.len() as u64, |s| s.events());
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            kept_events,
            rss_mib = rss_mib(),
            "read and aggregated"
        );
        let bar = spinner(quiet, "scoring");
        // Logs alone were scored as their windows closed.
        if !streaming {
            // Rows of the same kind from logs and tables share one baseline.
            let mut table = result.aggregator.finish();
            let evidence = std::mem::take(&mut table.evidence);
            let mut frame = FeatureFrame::from_table(table);
            read_tables(&mut frame)?;
            scoring.add(frame, &evidence)?;
        }
        bar.finish_and_clear();
    } else {
        let mut frame = FeatureFrame::default();
        read_tables(&mut frame)?;
        scoring.add(frame, &[])?;
    }
    if scoring.rows == 0 {
        return Err(ScoreError::NothingToScore { unread: input_failures });
    }
    // Without a model, an input too small for a baseline is scored by the
    // rules alone.
    let model_skipped = scoring.model.is_none() && scoring.fitted == 0;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        rows = scoring.rows,
        rss_mib = rss_mib(),
        "scored"
    );
    let Scoring {
        anomalies: mut anomaly_spool,
        unscored,
        skipped: too_small,
        rows: scored_rows,
        anomalous,
        scores_out,
        evidence: mut collector,
        histograms,
        ..
    } = scoring;
    // Evidence episodes, and their thresholds: the model's calibration, or
    // without one the input's own replay.
    let window = features_used.window_secs as i64 * 1_000_000;

    let (hits, notes, mut spool, late_rule_events) = match live {
        Some(o) => (o.hits, o.notes, o.spool, o.late),
        None => {
            let (hits, notes) = rules::evaluate_with(&rule_set, &log, &context);
            (hits, notes, None, 0)
        }
    };
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        hits = hits.len(),
        rss_mib = rss_mib(),
        "rules evaluated"
    );

    let suppression = config.suppression as i64 * 1_000_000;
    let entity_days = collector.entity_days()?;
    // The episodes above the threshold: the model's calibration's, or
    // without one the input's own replay's.
    let (mut calibration, alerting_episodes) = match &model {
        Some(m) => {
            collector.use_own_drift(&m.calibration);
            let budget = evidence_config.alert_budget;
            let episodes = collector.episodes_keeping(window, |kind, _, e| {
                m.calibration
                    .kind(kind)
                    .is_some_and(|k| k.alerts(e.peak, budget))
                    .into()
            })?;
            (m.calibration.clone(), episodes)
        }
        None => collector.calibrate_keeping(window, &HitIndex::new(&hits, suppression), |k, _, e| {
            k.alerts(e.peak, evidence_config.alert_budget).into()
        })?,
    };
    calibration.config.alert_budget = evidence_config.alert_budget;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        episodes = alerting_episodes.len(),
        "evidence episodes above the threshold"
    );
    let alerting_episodes = entity_episodes(alerting_episodes);

    let model_version = match (&model, &config.model) {
        (Some(m), Some(p)) => format!(
            "{} ({})",
            config.model_name.clone().unwrap_or_else(|| p.display().to_string()),
            m.metadata.created_at
        ),
        _ => "fitted on the input".into(),
    };
    let alert_cfg = AlertConfig {
        suppression,
        evidence_lines: config.evidence,
        allowlist,
        min_severity: config.min_severity,
        model_version: Some(model_version.clone()),
        baseline_anomalous: model.as_ref().map(|m| m.anomalous.clone()).unwrap_or_default(),
        rollup: rollup_config(config),
        feedback,
        rerank,
        ..AlertConfig::default()
    };
    // The merge's events: from the spool, only those it asks about, unless
    // the report or the evaluation reads them all.
    let (sources_log, mut hosts_log, population_log);
    let logs = match spool.as_mut() {
        Some(spool) if config.report.is_some() || config.labels.is_some() => {
            log = spool.collect(|_, _| true)?;
            EventLogs::whole(&log)
        }
        Some(spool) => {
            let population = calibration
                .population
                .as_ref()
                .zip(model.as_ref().and_then(|m| m.history.accounts()));
            population_log = match population {
                Some((p, accounts)) => {
                    spool.collect(|e, s| loglynx_baseline::population::counts_toward(e, s, accounts, &p.guessed))?
                }
                None => CompactLog::default(),
            };
            let spans = alerts::population_spans(
                &calibration,
                model.as_ref().map(|m| &m.history),
                &population_log,
                window,
                evidence_config.alert_budget,
                suppression,
            );
            let host_spans = alerts::population_host_spans(
                &alerting_episodes,
                &calibration,
                evidence_config.alert_budget,
                &spans,
                window,
                suppression,
            );
            let sources =
                EventLogs::sources_wanted(&hits, &alerting_episodes, &calibration, evidence_config.alert_budget);
            let sources: FxHashSet<&str> = sources.iter().map(String::as_str).collect();
            let in_span = |host: &str, t: Micros| {
                host_spans
                    .get(host)
                    .is_some_and(|v| v.iter().any(|&(a, b)| a <= t && t < b))
            };
            [hosts_log, sources_log] = spool.collect_many(|e, s| {
                [
                    e.host.is_some() && in_span(s.str(e.host), e.timestamp),
                    e.source.is_some() && sources.contains(s.str(e.source)),
                ]
            })?;
            add_first_seen(spool, &mut hosts_log)?;
            tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                hosts = host_spans.len(),
                host_events = hosts_log.len(),
                sources = sources.len(),
                source_events = sources_log.len(),
                population_events = population_log.len(),
                rss_mib = rss_mib(),
                "events read back for the merge"
            );
            EventLogs {
                sources: &sources_log,
                hosts: &hosts_log,
                population: &population_log,
            }
        }
        None => EventLogs::whole(&log),
    };
    // With a model, the rarity of new terms also reads the span and peak
    // of the episodes under the threshold of the users and sources a hit
    // names: the rules' hits, and the population's (which name only what
    // the hosts' events do).
    let episodes = match &model {
        Some(m) => {
            let named = logs.users_and_sources_named(&hits);
            let budget = evidence_config.alert_budget;
            let episodes = collector.episodes_keeping(window, |kind, name, e| {
                if m.calibration.kind(kind).is_some_and(|k| k.alerts(e.peak, budget)) {
                    Keep::Whole
                } else if kind != EntityKind::Host && named.contains(&(kind, name)) {
                    Keep::Span
                } else {
                    Keep::No
                }
            })?;
            entity_episodes(episodes)
        }
        None => alerting_episodes,
    };
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        episodes = episodes.len(),
        "evidence episodes"
    );
    drop(collector);
    // The explained rows the merge can attach: those of entities a hit,
    // an episode or an event it reads names.
    let anomalies = {
        let wanted = logs.anomaly_entities(&hits, &episodes, &calibration, evidence_config.alert_budget);
        let mut kept = Vec::new();
        anomaly_spool.read(|a| {
            if wanted.contains(&(a.entity_kind, a.entity.as_str())) {
                kept.push(a);
            }
        })?;
        kept
    };
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        explained = anomaly_spool.records(),
        read_back = anomalies.len(),
        rss_mib = rss_mib(),
        "explained rows read back for the merge"
    );
    let input = MergeInput {
        hits: &hits,
        anomalies: &anomalies,
        episodes: &episodes,
        calibration: &calibration,
        routine: model.as_ref().map(|m| &m.routine).filter(|r| r.days.is_some()),
        novelty: model.as_ref().map(|m| &m.novelty).filter(|n| !n.fields.is_empty()),
        history: model.as_ref().map(|m| &m.history),
        window,
        rules: &rule_set,
        logs,
        file_names: &file_names,
    };
    let (mut alerts, mut merge_stats) = alerts::merge(&input, &alert_cfg);
    merge_stats.anomalies = anomaly_spool.records() as usize;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "alerts merged");
    evidence::fill(&mut alerts, &sources, &block_starts);
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        alerts = alerts.len(),
        "alerts merged, evidence read"
    );

    match output_format {
        Some(format) => report::write_alerts(&alerts, &config.output, format)?,
        None => crate::sink::write_bulk_file(&alerts, &config.output, &config.alerts_index)?,
    }
    // The alerts file is written first: a failing cluster loses nothing.
    let sent_to_es = match &sink {
        Some(sink) => Some((sink.index().to_owned(), sink.send(&alerts, &config.output)?)),
        None => None,
    };
    if let Some(p) = &config.verdict_template {
        crate::feedback::write_template(p, &alerts)?;
    }
    if let Some(w) = scores_out {
        w.finish()?;
    }
    let scores_sent = match (&sink, &config.scores_index, &config.scores_out) {
        (Some(sink), Some(index), Some(path)) => Some(sink.send_scores(path, index)?),
        _ => None,
    };
    let evaluation = match &config.labels {
        Some(p) => {
            let labels = loglynx_labels::read_labels_file(p).map_err(|e| ScoreError::Labels {
                path: p.display().to_string(),
                source: e,
            })?;
            let mut e = eval::evaluate(&alerts, &log, &labels);
            e.model_alert_allowance = evidence_config.alert_budget * entity_days as f64 / 1000.0;
            if let Some(out) = &config.eval_out {
                write_atomic(out, serde_json::to_string_pretty(&e).expect("plain JSON").as_bytes())?;
            }
            Some(e)
        }
        None => None,
    };
    let outcome = ScoreOutcome {
        sent_to_es,
        scores_sent,
        alerts,
        merge_stats,
        lines,
        events,
        late_events,
        late_rule_events,
        kept_events,
        scored_rows,
        anomalous,
        rule_hits: hits.len(),
        unscored,
        too_small,
        model_skipped,
        notes,
        fitted_on_input: model.is_none() && !model_skipped,
        features: (!sources.is_empty()).then(|| {
            let from_model = model.as_ref().is_some_and(|m| m.features.is_some());
            (features_used, from_model)
        }),
        evaluation,
        input_failures,
        alert_budget: evidence_config.alert_budget,
        entity_days,
        calibration,
        kept: log,
        anomalies,
        histograms,
        model_version,
        rules: rule_set.len(),
    };
    // After the alerts file: a report that cannot be written loses nothing.
    if let Some(p) = &config.report {
        crate::html::write_report(p, &config.inputs, &outcome)?;
    }
    Ok(outcome)
}

/// Copies stdin to a temporary file so evidence lines can be re-read.
fn spool_stdin(sources: &mut [Source]) -> Result<Option<(usize, tempfile::TempPath)>, ScoreError> {
    let Some(i) = sources.iter().position(|s| *s == Source::Stdin) else {
        return Ok(None);
    };
    let spool_error = |e: std::io::Error| ScoreError::Input(format!("spooling stdin: {e}"));
    let mut tmp = tempfile::NamedTempFile::new().map_err(spool_error)?;
    std::io::copy(&mut std::io::stdin().lock(), &mut tmp).map_err(spool_error)?;
    let path = tmp.into_temp_path();
    sources[i] = Source::File(path.to_path_buf());
    Ok(Some((i, path)))
}

/// `; these could not be read in full: …`, or nothing.
pub fn unread_note(failures: &[String]) -> String {
    if failures.is_empty() {
        String::new()
    } else {
        format!("; these could not be read in full: {}", failures.join("; "))
    }
}

/// Adds to `hosts_log` (the events of some hosts over some spans), for
/// each host and source in it, the source's first event on the host when
/// the spool holds one before those: the population asks whether a source
/// is new to the host.
fn add_first_seen(spool: &mut EventSpool, hosts_log: &mut CompactLog) -> Result<(), ScoreError> {
    let mut first: FxHashMap<String, FxHashMap<String, Micros>> = FxHashMap::default();
    for e in hosts_log.events.iter().filter(|e| e.source.is_some()) {
        let by_source = first.entry(hosts_log.strings.str(e.host).to_owned()).or_default();
        let t = by_source
            .entry(hosts_log.strings.str(e.source).to_owned())
            .or_insert(Micros::MAX);
        *t = (*t).min(e.timestamp);
    }
    // Each event that is the earliest of its pair so far, then the earliest.
    let earlier = spool.collect(|e, s| {
        let Some(t) = first.get_mut(s.str(e.host)).and_then(|m| m.get_mut(s.str(e.source))) else {
            return false;
        };
        let earliest = e.timestamp < *t;
        if earliest {
            *t = e.timestamp;
        }
        earliest
    })?;
    let mut taken: FxHashSet<(Sym, Sym)> = FxHashSet::default();
    for e in earlier.events.iter().rev() {
        if taken.insert((e.host, e.source)) {
            hosts_log.push_from(e, &earlier.strings);
        }
    }
    Ok(())
}

/// Scores a table of closed windows, unless an earlier table failed.
fn score_closed(scoring: &mut Scoring, failed: &mut Result<(), ScoreError>, mut table: FeatureTable) {
    if failed.is_ok() {
        let evidence = std::mem::take(&mut table.evidence);
        *failed = scoring.add(FeatureFrame::from_table(table), &evidence);
    }
}

/// The collector's episodes as the merge takes them.
fn entity_episodes(episodes: Vec<(EntityKind, String, Episode)>) -> Vec<EntityEpisode> {
    episodes
        .into_iter()
        .map(|(entity_kind, entity, episode)| EntityEpisode {
            entity_kind,
            entity,
            episode,
        })
        .collect()
}

/// The roll-up's settings from the flags.
fn rollup_config(config: &ScoreConfig) -> RollupConfig {
    RollupConfig {
        min_sources: config.rollup_min_sources,
        period: config
            .rollup_period
            .map(|secs| (secs as i64).saturating_mul(loglynx_features::time::MICROS_PER_SECOND)),
        ..RollupConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        score: ScoreConfig,
    }

    fn config(flags: &[&str]) -> ScoreConfig {
        Flags::parse_from(["loglynx-score", "auth.log"].iter().chain(flags)).score
    }

    fn berlin_baseline() -> Baseline {
        Baseline {
            spec_version: loglynx_features::aggregate::registry::SPEC_VERSION,
            features: Some(FeatureConfig::with_window_in_zone(3600, "Europe/Berlin")),
            sets: Vec::new(),
            metadata: Default::default(),
            history: Default::default(),
            anomalous: Default::default(),
            calibration: Default::default(),
            routine: Default::default(),
            novelty: Default::default(),
            reranker: None,
        }
    }

    /// Monday 2026-01-05 07:30 UTC: 08:30 in Berlin, inside business hours
    /// there and outside them in UTC.
    const MONDAY_0730_UTC: i64 = 1_767_598_200 * 1_000_000;

    #[test]
    fn logs_are_scored_with_the_baselines_time_zone_without_the_flag() {
        let baseline = berlin_baseline();
        let with_model = feature_config(&config(&[]), Some(&baseline)).unwrap();
        assert_eq!(with_model.config.business_hours.time_zone, "Europe/Berlin");
        assert!(!with_model.is_off_hours(MONDAY_0730_UTC));
        let without = feature_config(&config(&[]), None).unwrap();
        assert!(without.is_off_hours(MONDAY_0730_UTC));
        let repeated = feature_config(&config(&["--time-zone", "Europe/Berlin"]), Some(&baseline)).unwrap();
        assert!(!repeated.is_off_hours(MONDAY_0730_UTC));
    }

    #[test]
    fn the_population_learns_when_each_source_was_first_on_the_host_from_the_spool() {
        use loglynx_features::output::compact::CompactBatch;
        use loglynx_features::output::ordered::EventOrder;
        let ev = |secs: i64, line: u64, host: &str, source: &str| {
            let mut e = loglynx_features::event::Event::new(
                secs * 1_000_000,
                loglynx_features::event::Action::Authentication,
                loglynx_features::event::Evidence {
                    file: 0,
                    line,
                    raw: std::borrow::Cow::Borrowed(""),
                },
            );
            e.host = Some(host.to_owned().into());
            e.set_source(source.to_owned().into());
            e
        };
        // a: on web before the span (10, then 20) and in it (100);
        // b: only in it; c: before it on db only.
        let events = [
            ev(10, 1, "web", "a"),
            ev(15, 2, "db", "c"),
            ev(20, 3, "web", "a"),
            ev(100, 4, "web", "a"),
            ev(110, 5, "web", "b"),
            ev(120, 6, "web", "c"),
        ];
        let mut batch = CompactBatch::default();
        for e in &events {
            batch.push(e);
        }
        let mut order = EventOrder::new();
        order.append(batch);
        let mut all = Vec::new();
        order.release(Micros::MAX, |e, _, _| all.push(*e));
        let mut spool = EventSpool::new().unwrap();
        spool.push(&all, order.strings()).unwrap();
        let mut hosts_log = spool.collect(|e, _| e.timestamp >= 100_000_000).unwrap();
        add_first_seen(&mut spool, &mut hosts_log).unwrap();
        let lines: Vec<u64> = hosts_log.events.iter().map(|e| e.line).collect();
        // a's first event on web is added; c's on db is another host's.
        assert_eq!(lines, vec![4, 5, 6, 1]);
    }

    #[test]
    fn a_flag_that_contradicts_the_baseline_is_an_error() {
        let baseline = berlin_baseline();
        let e = feature_config(&config(&["--time-zone", "UTC"]), Some(&baseline)).unwrap_err();
        assert!(matches!(e, ScoreError::Contradicts(_)), "{e}");
        let e = feature_config(&config(&["--window-secs", "600"]), Some(&baseline)).unwrap_err();
        assert!(e.to_string().contains("windows of 3600 s"), "{e}");
    }
}
