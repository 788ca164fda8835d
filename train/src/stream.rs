//! Training on raw logs in memory bounded by what is active, not by the
//! history: the logs are read once, windows closing as time passes
//! (`pipeline::run_closing`).
//!
//! 1. Each entity kind's rows are sampled ([`KindSampler`]) and every row is
//!    spooled to disk ([`RowSpool`]) while the rules' events are kept; the
//!    new-term history, novelty, routine and population counts come from
//!    those events as before.
//! 2. One set per kind is fitted on its sample (every row when the input
//!    has no more than the sample).
//! 3. Every spooled window is scored by its kind's set: its evidence goes
//!    to the alert budget's replay, and the entities the set flags are the
//!    baseline's anomalous ones.
//!
//! Windows of attacks analysts confirmed (`--feedback`) are left out of
//! the sample and of the spool.

use std::collections::BTreeMap;

use loglynx_baseline::accumulate::{BaselineCalibrator, EvidenceConfig, HitIndex, DEFAULT_SUPPRESSION};
use loglynx_baseline::fit::SCORE_CHUNK;
use loglynx_baseline::population::{self, PopulationCalibration};
use loglynx_baseline::sample::{check_fit_sample, KindSampler, DEFAULT_FIT_SAMPLE};
use loglynx_baseline::{Baseline, FeatureFrame, KindJob, KindModel, RowKind, TrainingMetadata};
use loglynx_cli::spinner;
use loglynx_features::aggregate::registry::EntityKind;
use loglynx_features::aggregate::registry::SPEC_VERSION;
use loglynx_features::aggregate::FeatureTable;
use loglynx_features::ingest::pipeline::{self, RunConfig};
use loglynx_features::output::spool::RowSpool;
use loglynx_features::output::OutputError;
use loglynx_features::time::format_rfc3339;
use loglynx_labels::verdicts::Feedback;
use loglynx_models::{ExplainRows, ModelSetConfig};

use crate::config::TrainConfig;
use loglynx_rules::{Context, LiveOutcome, LiveRules, Novelty, RuleSet};

use crate::run::{assets_and_rules, ConfirmedAttacks, LoadedInputs, LogsRead};
use crate::TrainError;

/// Default `--allowed-lateness`: five minutes.
const DEFAULT_LATENESS_SECS: u64 = 300;

/// The rows of `table` outside confirmed attacks; how many were left out.
fn without_attacks(table: FeatureTable, attacks: Option<&ConfirmedAttacks<'_>>) -> (FeatureTable, usize) {
    let Some(attacks) = attacks else {
        return (table, 0);
    };
    let keep: Vec<u32> = (0..table.len())
        .filter(|&i| !attacks.covers(table.kinds[i], &table.entities[i], table.window_starts[i]))
        .map(|i| i as u32)
        .collect();
    if keep.len() == table.len() {
        return (table, 0);
    }
    let left_out = table.len() - keep.len();
    (table.reordered(&keep), left_out)
}

/// Trains on raw logs in one pass and a replay (see the module comment). Returns the
/// baseline (without its re-ranker) and the lines, events and files read.
pub fn train_streaming(
    config: &TrainConfig,
    quiet: bool,
    feedback: Option<&Feedback>,
    model_config: ModelSetConfig,
    evidence: EvidenceConfig,
) -> Result<(Baseline, Option<LogsRead>), TrainError> {
    model_config.check().map_err(loglynx_baseline::FitError::from)?;
    let (sources, _es_spool) = crate::run::log_sources(&config.inputs, config)?;
    let features = config.feature_config().check()?;
    let window = features.window();
    let (assets, rules) = assets_and_rules(config)?;
    let lateness_secs = config.allowed_lateness.unwrap_or(DEFAULT_LATENESS_SECS);
    let lateness = pipeline::lateness_micros(lateness_secs).map_err(|e| TrainError::Setting(e.to_string()))?;
    let attacks = feedback.map(|f| ConfirmedAttacks::of(f, window));
    let seed = config.seed.unwrap_or(42);
    let cap = config.fit_sample.unwrap_or(DEFAULT_FIT_SAMPLE);
    check_fit_sample(cap).map_err(|e| TrainError::Setting(e.to_string()))?;

    // Pass 1: sample the rows, keep the rules' events.
    let bar = spinner(quiet, "computing features and sampling");
    let mut sampler = KindSampler::new(cap, seed, window);
    let mut left_out = 0;
    let mut range: Option<(i64, i64)> = None;
    let mut spool = RowSpool::new()?;
    let mut sample = |table: FeatureTable| -> Result<(), OutputError> {
        let (table, out) = without_attacks(table, attacks.as_ref());
        left_out += out;
        for &s in &table.window_starts {
            range = Some(range.map_or((s, s), |(a, b)| (a.min(s), b.max(s))));
        }
        sampler.add(&table);
        spool.push(&table)
    };
    let sampling = RunConfig {
        format: config.format,
        year: config.year,
        collect_compact: Some(rules.events_read()),
        ..RunConfig::new(features.clone())
    };
    // The rules read the events as they come, and every event is spooled
    // for the population's replay.
    let mut live = LiveRules::new(&rules, true)?;
    let mut on_events = |batches, until| live.add(batches, until);
    let result = pipeline::run_closing_with_events(
        &sources,
        &sampling,
        lateness,
        &mut sample,
        &mut on_events,
        |_| Ok(()),
        &|_| bar.tick(),
    )?;
    bar.finish_and_clear();
    if let Some((name, err)) = result.errors().next() {
        return Err(TrainError::Input(format!("{name}: {err}")));
    }
    let mut loaded = LoadedInputs {
        frame: FeatureFrame::default(),
        files: result.file_names(),
        history: Default::default(),
        novelty: Default::default(),
        rarity_replay: Vec::new(),
        routine: Default::default(),
        hits: Vec::new(),
        population: None,
        logs_read: Some((result.stats.lines, result.stats.events, result.files.len())),
    };
    let late = result.aggregator.late_events();
    drop(result);
    let context = Context {
        history: None,
        assets: assets.as_ref(),
    };
    let live = live.finish(&context)?;
    tracing::info!(
        kept_events = live.spool.as_ref().map_or(0, |s| s.events()),
        late_events = late,
        late_rule_events = live.late,
        rss_mib = loglynx_features::mem::rss_mib(),
        "logs read and sampled, rules evaluated"
    );
    let late_rule_events = live.late;
    learn_from_live(&mut loaded, live, &rules, window)?;
    let Some((first, last)) = range else {
        return Err(TrainError::NoRows);
    };

    // The sets, on the samples.
    let bar = spinner(quiet, "fitting models");
    let seen: BTreeMap<EntityKind, u64> = EntityKind::ALL.iter().map(|&k| (k, sampler.seen(k))).collect();
    if let Some(wanted) = &config.kinds {
        let present: Vec<&str> = EntityKind::ALL
            .iter()
            .filter(|k| seen[k] > 0)
            .map(|k| k.as_str())
            .collect();
        if let Some(w) = wanted.iter().find(|w| !present.contains(&w.as_str())) {
            return Err(loglynx_baseline::FitError::NoSuchKind {
                wanted: w.clone(),
                present: present.join(", "),
            }
            .into());
        }
    }
    let mut fitted = sampler.fit(&model_config)?;
    if let Some(wanted) = &config.kinds {
        fitted.sets.retain(|(k, ..)| wanted.iter().any(|w| w == k.as_str()));
    }
    if fitted.sets.is_empty() {
        let why = if fitted.too_small.is_empty() {
            "no rows".to_owned()
        } else {
            fitted.too_small_note()
        };
        return Err(loglynx_baseline::FitError::NothingToTrain(why).into());
    }
    bar.finish_and_clear();
    let mut metadata = TrainingMetadata {
        input_files: loaded.files.clone(),
        time_range: Some((format_rfc3339(first), format_rfc3339(last + window))),
        rows_per_set: Default::default(),
        seed,
        loglynx_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: crate::created_at(),
        notes: Default::default(),
    };
    for (kind, set, rows) in &fitted.sets {
        metadata.rows_per_set.insert(kind.to_string(), *rows as usize);
        if set.n_train_rows() < *rows as usize {
            metadata.notes.insert(
                format!("fit_sample_{kind}"),
                format!(
                    "fitted on a uniform sample of {} of its {rows} rows",
                    set.n_train_rows()
                ),
            );
        }
    }
    if !fitted.too_small.is_empty() {
        metadata.notes.insert("skipped_kinds".into(), fitted.too_small_note());
    }
    if let Some(a) = &attacks {
        if !a.is_empty() {
            metadata.notes.insert(
                "left_out_by_verdicts".into(),
                format!("{left_out} entity-windows of {} alerts judged true_positive", a.len()),
            );
        }
    }
    if late > 0 {
        metadata.notes.insert(
            "late_events".into(),
            format!("{late} events later than the allowed lateness ({lateness_secs} s) left out of the features"),
        );
    }
    if late_rule_events > 0 {
        metadata.notes.insert(
            "late_rule_events".into(),
            format!(
                "{late_rule_events} events later than the allowed lateness ({lateness_secs} s) not read by the windowed \
                 rules"
            ),
        );
    }

    // Every spooled window scored by its kind's set, for the alert
    // budget's replay and the anomalous entities.
    let bar = spinner(quiet, "calibrating on every window");
    let covered = HitIndex::new(&loaded.hits, DEFAULT_SUPPRESSION);
    let calibrator = BaselineCalibrator::new(evidence, &covered, &loaded.rarity_replay, window);
    let mut collector = calibrator.collector(fitted.sets.iter().map(|(_, s, _)| s));
    let mut anomalous: BTreeMap<EntityKind, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut failed = Ok(());
    let score = |table: FeatureTable| {
        if failed.is_err() {
            return;
        }
        let frame = FeatureFrame::from_table(table);
        for (kind, set, _) in &fitted.sets {
            let job = match KindJob::new(&frame, RowKind::Entity(*kind), KindModel::Saved(set)) {
                Ok(Ok(job)) => job,
                Ok(Err(_)) => continue,
                Err(e) => {
                    failed = Err(e);
                    return;
                }
            };
            let ran = job.run(Some(ExplainRows::None), SCORE_CHUNK, |rows, scores| {
                collector.add_rows(&frame, rows.len(), |i| (rows[i], scores[i].score));
                for (&r, s) in rows.iter().zip(&scores) {
                    if s.is_anomaly {
                        anomalous.entry(*kind).or_default().insert(frame.ids[r].to_string());
                    }
                }
            });
            if let Err(e) = ran {
                failed = Err(e);
                return;
            }
        }
    };
    spool.replay(score)?;
    failed?;
    bar.finish_and_clear();
    let mut calibration = calibrator.finish(vec![calibrator.replay(collector)?]);
    if let Some((counts, guessed)) = &loaded.population {
        let host_days = calibration.kind(EntityKind::Host).map_or(0, |k| k.entity_days);
        calibration.population = Some(PopulationCalibration::new(counts, host_days, guessed.clone()));
    }
    let baseline = Baseline {
        spec_version: SPEC_VERSION,
        features: Some(features.config.clone()),
        sets: fitted.sets.into_iter().map(|(_, s, _)| s).collect(),
        metadata,
        history: loaded.history,
        anomalous,
        calibration,
        routine: loaded.routine,
        novelty: loaded.novelty,
        reranker: None,
    };
    Ok((baseline, loaded.logs_read))
}

/// [`crate::run::learn_from_events`] for a run whose rules read the events
/// as they came: the history and novelty from the events of the rules run
/// at the end, the population's baseline from the spooled events it reads.
fn learn_from_live(
    loaded: &mut LoadedInputs,
    mut live: LiveOutcome,
    rules: &RuleSet,
    window: i64,
) -> Result<(), TrainError> {
    let terms = Novelty::baseline_terms(&live.rest_log, rules);
    drop(std::mem::take(&mut live.rest_log));
    let counted = match (terms.0.accounts(), live.spool.as_mut()) {
        (Some(accounts), Some(spool)) => {
            let log = spool.collect(|e, s| population::baseline_reads(e, s, accounts))?;
            Some(population::baseline_counts(&log, window, accounts))
        }
        _ => None,
    };
    loaded.learnt(terms, counted, live.hits, live.span);
    Ok(())
}
