//! [`run`]: inputs (feature tables or raw logs) in, a [`Baseline`] file
//! and its model card out.

use std::path::{Path, PathBuf};

use loglynx_baseline::accumulate::{BaselineCalibrator, EvidenceConfig, HitIndex, DEFAULT_SUPPRESSION};
use loglynx_baseline::fit::{fit_baseline_keeping, time_range};
use loglynx_baseline::population::{self, PopulationCalibration};
use loglynx_baseline::routine::Routine;
use loglynx_baseline::{is_feature_table, Baseline, FeatureFrame, TrainOptions, TrainingMetadata};
use loglynx_cli::spinner;
use loglynx_features::aggregate::registry::EntityKind;
use loglynx_features::ingest::input;
use loglynx_features::ingest::pipeline::{self, RunConfig};
use loglynx_features::output::write_atomic;
use loglynx_features::time::MICROS_PER_SECOND;
use loglynx_labels::verdicts::Feedback;
use loglynx_rules::{Assets, Context, History, Novelty, RuleSet};

use crate::config::TrainConfig;
use crate::evaluate::{evaluate, KindEvaluation};
use crate::labels::Labels;
use crate::TrainError;

/// Lines, events and log files read.
pub type LogsRead = (u64, u64, usize);

/// What a training run wrote and found.
#[derive(Debug)]
pub struct TrainOutcome {
    pub baseline: Baseline,
    /// The model card files written beside the baseline.
    pub card_json: PathBuf,
    pub card_md: PathBuf,
    /// Raw-log inputs: lines, events and files read.
    pub logs_read: Option<(u64, u64, usize)>,
    /// With `--eval`: precision, recall, … per entity kind.
    pub evaluation: Option<Vec<KindEvaluation>>,
}

impl TrainOutcome {
    /// The run summary for the terminal: rows, features and threshold of
    /// each model set.
    pub fn summary(&self, output: &Path, seconds: f64) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        if let Some((lines, events, files)) = self.logs_read {
            let _ = writeln!(
                s,
                "loglynx-train: {lines} lines, {events} events from {files} log files"
            );
        }
        let b = &self.baseline;
        for set in &b.sets {
            let _ = writeln!(
                s,
                "  {:<10} {:>8} rows  {:>2} features  threshold {:.4}  baseline alert rate {:.4}",
                set.spec().entity_kind,
                set.n_train_rows(),
                set.spec().feature_names.len(),
                set.threshold(),
                set.baseline_alert_rate()
            );
        }
        let budget = b.calibration.config.alert_budget;
        for k in &b.calibration.kinds {
            let _ = writeln!(
                s,
                "  {:<10} alert budget {budget}/1,000 entity-days: {} entity-days, evidence threshold {:.2} nats, \
                 {} of {} baseline episodes alert on replay",
                k.entity_kind.as_str(),
                k.entity_days,
                k.threshold(budget),
                k.replay_alerts(budget),
                k.episodes
            );
        }
        if let Some(note) = b.metadata.notes.get("skipped_kinds") {
            let _ = writeln!(s, "  not trained (too few rows): {note}");
        }
        if let Some(note) = b.metadata.notes.get("reranker") {
            let _ = writeln!(s, "  re-ranker {note}");
        }
        let _ = writeln!(
            s,
            "loglynx-train: {} model sets → {} (card: {}) in {seconds:.2} s",
            b.sets.len(),
            output.display(),
            self.card_md.display(),
        );
        s
    }
}

/// Inputs read into one frame: tables directly, raw logs through the
/// features pipeline.
pub struct LoadedInputs {
    pub frame: FeatureFrame,
    pub files: Vec<String>,
    /// The new-term history of raw-log inputs.
    pub history: History,
    /// How often raw-log inputs met new terms, and the rarity of each of
    /// their events with a term seen only there.
    pub novelty: Novelty,
    pub rarity_replay: Vec<loglynx_rules::ReplayedTerms>,
    /// The rule-hit patterns of raw-log inputs, and the hits.
    pub routine: Routine,
    pub hits: Vec<loglynx_rules::RuleHit>,
    /// Raw logs: the population statistic of each host-window replayed,
    /// and the names the internet guessed (`loglynx_baseline::population`).
    pub population: Option<(Vec<u32>, std::collections::BTreeSet<String>)>,
    /// Raw logs: lines, events and files read.
    pub logs_read: Option<(u64, u64, usize)>,
}

impl LoadedInputs {
    /// Records what the rules learnt from the baseline's events: the new
    /// terms' history, novelty and replay, the population's counts, and
    /// the hits with their routine over `span` (the events' first and last
    /// time).
    pub(crate) fn learnt(
        &mut self,
        (history, novelty, replay): (History, Novelty, Vec<loglynx_rules::ReplayedTerms>),
        population: Option<(Vec<u32>, std::collections::BTreeSet<String>)>,
        hits: Vec<loglynx_rules::RuleHit>,
        span: Option<(i64, i64)>,
    ) {
        if let Some((first, last)) = span {
            self.routine = Routine::from_hits(&hits, first, last);
        }
        tracing::info!(hits = hits.len(), "baseline history, novelty and routine");
        (self.history, self.novelty, self.rarity_replay) = (history, novelty, replay);
        self.population = population;
        self.hits = hits;
    }
}

/// Reads `inputs` (tables and raw logs) as `config` says.
pub fn load_inputs(inputs: &[String], config: &TrainConfig, quiet: bool) -> Result<LoadedInputs, TrainError> {
    let (tables, logs): (Vec<&String>, Vec<&String>) = inputs
        .iter()
        .partition(|p| is_feature_table(p, config.id_column.as_deref()));
    let mut loaded = LoadedInputs {
        frame: FeatureFrame::default(),
        files: Vec::new(),
        history: History::default(),
        novelty: Novelty::default(),
        rarity_replay: Vec::new(),
        routine: Routine::default(),
        hits: Vec::new(),
        population: None,
        logs_read: None,
    };
    for t in tables {
        loaded
            .frame
            .append(FeatureFrame::read(Path::new(t), config.id_column.as_deref())?);
        loaded.files.push(t.clone());
    }
    if !logs.is_empty() || config.es.from_es.is_some() {
        let logs: Vec<String> = logs.into_iter().cloned().collect();
        let (sources, _es_spool) = log_sources(&logs, config)?;
        let features = config.feature_config().check()?;
        let (assets, rules) = assets_and_rules(config)?;
        let cfg = RunConfig {
            format: config.format,
            year: config.year,
            collect_compact: Some(rules.events_read()),
            ..RunConfig::new(features)
        };
        let bar = spinner(quiet, "computing features");
        let mut result = pipeline::run(&sources, &cfg, |_| Ok(()), &|_| bar.tick())?;
        bar.finish_and_clear();
        if let Some((name, err)) = result.errors().next() {
            return Err(TrainError::Input(format!("{name}: {err}")));
        }
        loaded.files.extend(result.file_names());
        tracing::info!(
            kept_events = result.compact.as_ref().map_or(0, |c| c.len()),
            "logs read"
        );
        loaded.logs_read = Some((result.stats.lines, result.stats.events, result.files.len()));
        if let Some(log) = result.compact.take() {
            let window = config.feature_config().window_secs as i64 * MICROS_PER_SECOND;
            learn_from_events(&mut loaded, &log, &rules, assets.as_ref(), window);
            // The rules' events are done with: freed before the rows are
            // made (computing both side by side is no faster: making rows
            // keeps both cores busy).
            drop(log);
        }
        loaded
            .frame
            .append(FeatureFrame::from_table(result.aggregator.finish()));
    }
    if loaded.frame.is_empty() {
        return Err(TrainError::NoRows);
    }
    Ok(loaded)
}

/// The asset list and the rules training reads the logs' events with,
/// read before the logs so that a bad file fails fast. New-term rules
/// compare later events with the terms of the baseline, and rule hits that
/// recur in it are routine: only the events the rules read are kept.
pub(crate) fn assets_and_rules(config: &TrainConfig) -> Result<(Option<Assets>, RuleSet), TrainError> {
    let assets = match &config.assets {
        Some(p) => Some(Assets::from_csv_file(p).map_err(|e| TrainError::Input(e.to_string()))?),
        None => None,
    };
    let mut rules = RuleSet::builtin();
    if let Some(dir) = &config.rules {
        rules.merge(RuleSet::load_dir(dir)?)?;
    }
    Ok((assets, rules))
}

/// What the rules learn from the baseline's events: the history and
/// novelty of new terms, the rule hits and their routine, the population
/// statistic's counts.
pub(crate) fn learn_from_events(
    loaded: &mut LoadedInputs,
    log: &loglynx_features::output::compact::CompactLog,
    rules: &RuleSet,
    assets: Option<&Assets>,
    window: i64,
) {
    let context = Context { history: None, assets };
    // The population statistic counts the accounts that logged in, as the
    // new-account rule does.
    let ((terms, counted), (hits, _)) = rayon::join(
        || {
            let terms = Novelty::baseline_terms(log, rules);
            let counted = terms.0.accounts().map(|a| population::baseline_counts(log, window, a));
            (terms, counted)
        },
        || loglynx_rules::evaluate_with(rules, log, &context),
    );
    let first = log.events.iter().map(|e| e.timestamp).min();
    let last = log.events.iter().map(|e| e.timestamp).max();
    loaded.learnt(terms, counted, hits, first.zip(last));
}

/// Trains a baseline on `config.inputs`, writes it to `config.output` with
/// its model card, and evaluates it when labels are given.
pub fn run(config: &TrainConfig, quiet: bool) -> Result<TrainOutcome, TrainError> {
    let model_config = config.model_config()?;
    let evidence = EvidenceConfig {
        alert_budget: config
            .alert_budget
            .unwrap_or(loglynx_baseline::accumulate::DEFAULT_ALERT_BUDGET),
        ..EvidenceConfig::default()
    };
    evidence
        .check()
        .map_err(|e| TrainError::Setting(format!("--alert-budget: {e}")))?;
    let started = std::time::Instant::now();
    // Read before the logs, so that a bad verdicts file fails fast.
    let feedback = match &config.feedback {
        Some(p) => Some(Feedback::read(p).map_err(|e| TrainError::Input(format!("--feedback: {e}")))?),
        None => None,
    };
    let reviewed = crate::rerank::read_alerts(&config.alerts)?;
    let (mut baseline, logs_read, frame) = if streams(config) {
        let (baseline, logs_read) =
            crate::stream::train_streaming(config, quiet, feedback.as_ref(), model_config, evidence)?;
        (baseline, logs_read, None)
    } else {
        let (baseline, logs_read, frame) = train_in_memory(config, quiet, feedback.as_ref(), model_config, evidence)?;
        (baseline, logs_read, Some(frame))
    };
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "fitted and calibrated");
    if let (Some(f), false) = (&feedback, reviewed.is_empty()) {
        let hours = baseline.features.clone().map(|c| c.check()).transpose()?;
        let (reranker, note) = crate::rerank::train(f, &reviewed, hours.as_ref())?;
        if reranker.is_none() {
            tracing::warn!("re-ranker {note}");
        }
        baseline.metadata.notes.insert("reranker".into(), note);
        baseline.reranker = reranker;
    }
    baseline.save(&config.output)?;
    let card_json = config.output.with_extension("card.json");
    let card_md = config.output.with_extension("card.md");
    let card = serde_json::to_string_pretty(&baseline.model_card()).expect("a card is plain JSON");
    write_atomic(&card_json, card.as_bytes())?;
    write_atomic(&card_md, baseline.model_card_markdown().as_bytes())?;

    let evaluation = match &config.eval {
        Some(labels_path) => {
            let labels = Labels::read(labels_path)?;
            let report = if config.eval_input.is_empty() {
                evaluate(&baseline, frame.as_ref().expect("--eval trains in memory"), &labels)?
            } else {
                evaluate(
                    &baseline,
                    &load_inputs(&config.eval_input, config, quiet)?.frame,
                    &labels,
                )?
            };
            if let Some(p) = &config.eval_out {
                let json = serde_json::to_string_pretty(&report).expect("an evaluation is plain JSON");
                write_atomic(p, json.as_bytes())?;
            }
            Some(report)
        }
        None => None,
    };
    Ok(TrainOutcome {
        baseline,
        card_json,
        card_md,
        logs_read,
        evaluation,
    })
}

/// The log inputs among `inputs`, and the events of `--from-es` spooled to
/// a file (deleted when the returned path is dropped): the first input
/// that cannot be read is an error.
pub(crate) fn log_sources(
    inputs: &[String],
    config: &TrainConfig,
) -> Result<(Vec<input::Source>, Option<tempfile::TempPath>), TrainError> {
    let (mut sources, errors) = input::discover(inputs);
    if let Some(e) = errors.first() {
        return Err(TrainError::Input(e.to_string()));
    }
    let spool = loglynx_cli::es::spool_from_es(&config.es, &config.es_connection, "loglynx-train", &mut sources)?;
    Ok((sources, spool))
}

/// Whether training reads its inputs as windows close (raw logs only, no
/// `--eval`, which scores the training rows again).
fn streams(config: &TrainConfig) -> bool {
    config.eval.is_none()
        && config
            .inputs
            .iter()
            .all(|p| !is_feature_table(p, config.id_column.as_deref()))
}

/// Trains on inputs held in memory as one frame: feature tables, or logs
/// with `--eval`. Returns the baseline (without its re-ranker), the logs
/// read and the frame.
fn train_in_memory(
    config: &TrainConfig,
    quiet: bool,
    feedback: Option<&Feedback>,
    model_config: loglynx_models::ModelSetConfig,
    evidence: EvidenceConfig,
) -> Result<(Baseline, Option<LogsRead>, FeatureFrame), TrainError> {
    let started = std::time::Instant::now();
    let mut inputs = load_inputs(&config.inputs, config, quiet)?;
    let left_out = feedback.map(|f| leave_out_attacks(&mut inputs.frame, f));
    if inputs.frame.is_empty() {
        return Err(TrainError::NoRows);
    }
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "inputs read");
    let frame = &inputs.frame;
    let features = feature_config_of(config, frame)?;
    let mut metadata = TrainingMetadata {
        input_files: inputs.files.clone(),
        time_range: time_range(frame),
        rows_per_set: Default::default(),
        seed: config.seed.unwrap_or(42),
        loglynx_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: crate::created_at(),
        notes: Default::default(),
    };
    let opts = TrainOptions {
        config: model_config,
        kinds: config.kinds.clone(),
    };
    if let Some((rows, attacks)) = left_out {
        metadata.notes.insert(
            "left_out_by_verdicts".into(),
            format!("{rows} entity-windows of {attacks} alerts judged true_positive"),
        );
    }
    let bar = spinner(quiet, "fitting models");
    // Replayed through the policy: episodes that only corroborate rule hits
    // are not alerts of the model's own.
    let covered = HitIndex::new(&inputs.hits, DEFAULT_SUPPRESSION);
    let window = frame.window.unwrap_or(loglynx_features::time::MICROS_PER_HOUR);
    let calibrator = BaselineCalibrator::new(evidence, &covered, &inputs.rarity_replay, window);
    // Fitting scores the baseline's own rows once: the anomalous entities
    // come from those scores, and each kind's share of the alert budget's
    // calibration is replayed as soon as the kind is fitted.
    let (mut baseline, per_kind) = fit_baseline_keeping(frame, &opts, metadata, |set, verdicts| {
        let replay = calibrator.kind(set, frame, &verdicts);
        let anomalous: Vec<usize> = verdicts.iter().filter(|v| v.is_anomaly).map(|v| v.row).collect();
        (anomalous, replay)
    })?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "fitted");
    bar.finish_and_clear();
    baseline.features = features;
    baseline.history = inputs.history;
    baseline.novelty = inputs.novelty;
    baseline.routine = inputs.routine;
    let (anomalous, replays): (Vec<Vec<usize>>, Vec<_>) = per_kind.into_iter().unzip();
    let replays = replays.into_iter().collect::<Result<Vec<_>, _>>()?;
    baseline.calibration = calibrator.finish(replays);
    if let Some((counts, guessed)) = &inputs.population {
        let host_days = baseline.calibration.kind(EntityKind::Host).map_or(0, |k| k.entity_days);
        baseline.calibration.population = Some(PopulationCalibration::new(counts, host_days, guessed.clone()));
    }
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "alert budget calibrated");
    for row in anomalous.into_iter().flatten() {
        if let Some(kind) = frame.kinds[row].entity() {
            baseline
                .anomalous
                .entry(kind)
                .or_default()
                .insert(frame.ids[row].to_string());
        }
    }
    Ok((baseline, inputs.logs_read, inputs.frame))
}

/// The attacks analysts confirmed (`true_positive` verdicts): their
/// entities' windows are left out of a baseline.
pub(crate) struct ConfirmedAttacks<'f> {
    attacks: Vec<(EntityKind, &'f str, i64, i64)>,
    window: i64,
}

impl<'f> ConfirmedAttacks<'f> {
    pub(crate) fn of(feedback: &'f Feedback, window: i64) -> ConfirmedAttacks<'f> {
        let attacks = feedback
            .confirmed_attacks()
            .into_iter()
            .filter_map(|(field, value, first, last)| Some((EntityKind::of_field(field)?, value, first, last)))
            .collect();
        ConfirmedAttacks { attacks, window }
    }

    pub(crate) fn len(&self) -> usize {
        self.attacks.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.attacks.is_empty()
    }

    /// Whether the window of `kind` `entity` starting at `start` overlaps
    /// a confirmed attack of that entity.
    pub(crate) fn covers(&self, kind: EntityKind, entity: &str, start: i64) -> bool {
        self.attacks
            .iter()
            .any(|&(k, v, first, last)| k == kind && entity == v && start <= last && start + self.window > first)
    }
}

/// Leaves out of `frame` the entity-windows of the attacks `feedback`
/// confirms (each verdict's entity, windows overlapping its alert's span);
/// returns the rows left out and the verdicts that named a span.
fn leave_out_attacks(frame: &mut FeatureFrame, feedback: &Feedback) -> (usize, usize) {
    let attacks = ConfirmedAttacks::of(
        feedback,
        frame.window.unwrap_or(loglynx_features::time::MICROS_PER_HOUR),
    );
    if attacks.is_empty() {
        return (0, 0);
    }
    let before = frame.len();
    let drop: Vec<bool> = (0..frame.len())
        .map(|r| match (frame.kinds[r].entity(), frame.window_starts[r]) {
            (Some(kind), Some(start)) => attacks.covers(kind, &frame.ids[r], start),
            _ => false,
        })
        .collect();
    frame.retain_rows(|r| !drop[r]);
    (before - frame.len(), attacks.len())
}

/// The feature configuration to record: the flags' (or their defaults) for
/// loglynx rows, whose window must match the table's; none for a generic
/// numeric table.
fn feature_config_of(
    config: &TrainConfig,
    frame: &FeatureFrame,
) -> Result<Option<loglynx_features::aggregate::FeatureConfig>, TrainError> {
    if !frame.is_loglynx() {
        return Ok(None);
    }
    let mut features = config.feature_config();
    if let Some(w) = frame.window {
        let table_secs = (w / 1_000_000) as u64;
        match config.window_secs {
            Some(flag) if flag != table_secs => {
                return Err(TrainError::Setting(format!(
                    "--window-secs {flag} contradicts the input's windows of {table_secs} s"
                )))
            }
            _ => features.window_secs = table_secs,
        }
    }
    features.clone().check()?;
    Ok(Some(features))
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_baseline::RowKind;
    use loglynx_features::aggregate::registry::EntityKind;

    fn frame(kind: RowKind, window_secs: Option<i64>) -> FeatureFrame {
        FeatureFrame {
            kinds: vec![kind],
            ids: vec!["alice".into()],
            window_starts: vec![Some(0)],
            window: window_secs.map(|s| s * 1_000_000),
            names: vec!["events".into()],
            columns: vec![vec![1.0]],
        }
    }

    #[test]
    fn the_recorded_features_take_the_tables_window_and_the_flags_zone() {
        let config = TrainConfig {
            time_zone: Some("Europe/Berlin".into()),
            ..Default::default()
        };
        let users = frame(RowKind::Entity(EntityKind::User), Some(900));
        let f = feature_config_of(&config, &users).unwrap().unwrap();
        assert_eq!(f.window_secs, 900);
        assert_eq!(f.business_hours.time_zone, "Europe/Berlin");
        // A generic numeric table has no feature configuration.
        assert!(feature_config_of(&config, &frame(RowKind::Table, None))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_window_flag_that_contradicts_the_tables_windows_is_an_error() {
        let config = TrainConfig {
            window_secs: Some(3600),
            ..Default::default()
        };
        let users = frame(RowKind::Entity(EntityKind::User), Some(900));
        let e = feature_config_of(&config, &users).unwrap_err().to_string();
        assert!(e.contains("--window-secs 3600") && e.contains("900 s"), "{e}");
    }
}
