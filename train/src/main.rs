//! `loglynx-train`: fit isolation-forest and k-means baselines on behaviour
//! features (or raw logs) and save them as a checksummed model bundle with a
//! model card.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

use loglynx_cli::{init_tracing, spinner};
use loglynx_features::aggregate::FeatureConfig;
use loglynx_features::ingest::input::{self, InputFormat};
use loglynx_features::ingest::pipeline::{self, RunConfig};
use loglynx_features::output::{escape_terminal_lines, write_atomic};
use loglynx_models::{Combine, ExplainRows, KMeansParams, ModelBundle, ModelSetConfig, Scaling, TrainingMetadata};
use loglynx_rules::{History, RuleSet};
use loglynx_train::fit::{fit_bundle, score_frame, score_frame_with, time_range, TrainOptions};
use loglynx_train::labels::Labels;
use loglynx_train::metrics::{self, Evaluation};
use loglynx_train::sequences::Sessions;
use loglynx_train::table::{is_feature_table, FeatureFrame};

const EXAMPLES: &str = "\
Examples:
  loglynx-train features.parquet -o baseline.llx
  loglynx-train /var/log/auth.log.1 /var/log/auth.log.2.gz --year 2025 -o baseline.llx
  loglynx-train quiet-week.log -o baseline.llx --eval-input attack-week.log --eval labels.jsonl
  loglynx-train sessions.csv --id-column session -o sessions.llx --no-kmeans
  loglynx-train baseline.parquet --config train.toml -o baseline.llx
  loglynx-train inspect baseline.llx
  loglynx-train eval-sequences --train hadoop_train --test-normal hadoop_test_normal --test-abnormal hadoop_test_abnormal

Inputs ending in .parquet, and .csv files with an entity_kind column (or with
--id-column), are feature tables; anything else is read as raw logs and goes
through the features stage in-process.

Exit codes: 0 ok, 2 error.";

/// Fit isolation-forest and k-means baselines and save them with a model card.
#[derive(Debug, Parser)]
#[command(name = "loglynx-train", version, about, after_help = EXAMPLES, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    train: TrainArgs,

    /// No progress bar and no summary.
    #[arg(short, long, global = true)]
    quiet: bool,

    /// More diagnostics (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the model card of a bundle (and check the file).
    Inspect {
        /// The model bundle.
        model: PathBuf,
        /// Print the card as JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate on labelled session sequences (`id,event event …` lines):
    /// train on normal sessions, score normal and abnormal test sessions.
    EvalSequences(SequenceArgs),
}

#[derive(Debug, Args)]
struct SequenceArgs {
    /// Normal sessions to train on.
    #[arg(long)]
    train: PathBuf,
    /// Normal test sessions; without it, --holdout of the training sessions
    /// (every other one by default) are held out as the normal test set.
    #[arg(long)]
    test_normal: Option<PathBuf>,
    /// Share of training sessions held out as normal test sessions when
    /// --test-normal is not given.
    #[arg(long, default_value_t = 0.5)]
    holdout: f64,
    /// Anomalous test sessions.
    #[arg(long)]
    test_abnormal: PathBuf,
    /// Seeds to average over, starting at --seed.
    #[arg(long, default_value_t = 5)]
    runs: u64,
    /// First seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Write the results as JSON here.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// K-means clusters; 0 = one per distinct training session (nearest
    /// normal session); default: chosen by silhouette.
    #[arg(long)]
    k: Option<usize>,
    /// Feature scaling: robust, standard or none.
    #[arg(long, default_value = "robust")]
    scaling: String,
}

/// Training settings; every one can also come from `--config FILE.toml`
/// (same names, snake_case), flags winning.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainArgs {
    /// Feature tables (.parquet, .csv) or raw logs (files, directories, globs, `-`).
    #[arg(required = true)]
    #[serde(skip)]
    inputs: Vec<String>,

    /// Model bundle to write; the model card goes beside it (.card.json, .card.md).
    #[arg(short, long, default_value = "baseline.llx")]
    #[serde(skip)]
    output: PathBuf,

    /// TOML file with any of the settings below.
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,

    /// Seed for every random choice (subsamples, splits, k-means starts).
    #[arg(long)]
    seed: Option<u64>,

    /// Isolation-forest trees.
    #[arg(long)]
    trees: Option<usize>,

    /// Isolation-forest subsample size ψ.
    #[arg(long)]
    subsample: Option<usize>,

    /// Number of k-means peer groups; default: chosen by silhouette over --k-min..=--k-max.
    #[arg(long)]
    k: Option<usize>,

    /// Smallest k tried by the silhouette search.
    #[arg(long)]
    k_min: Option<usize>,

    /// Largest k tried by the silhouette search.
    #[arg(long)]
    k_max: Option<usize>,

    /// k-means restarts with different k-means++ seeds, best inertia kept
    /// (scikit-learn's `n_init`); default 1.
    #[arg(long)]
    kmeans_runs: Option<usize>,

    /// Train no k-means peer-group model.
    #[arg(long)]
    #[serde(default)]
    no_kmeans: bool,

    /// Feature scaling: robust (median/IQR), standard (mean/std) or none.
    #[arg(long)]
    scaling: Option<String>,

    /// How model scores combine: max or mean of their calibrated percentiles.
    #[arg(long)]
    combine: Option<String>,

    /// Share of baseline windows to flag (sets the alert threshold); default 0.01.
    #[arg(long)]
    contamination: Option<f64>,

    /// Fixed alert threshold on the combined 0–1 score instead of --contamination.
    #[arg(long)]
    threshold: Option<f64>,

    /// Entity kinds to train (user, source_ip, host); default: all present.
    #[arg(long, value_delimiter = ',')]
    kinds: Option<Vec<String>>,

    /// Id column of a generic numeric table.
    #[arg(long)]
    id_column: Option<String>,

    /// Labels to evaluate against: loglynx-gen campaign labels (JSON lines)
    /// or a CSV of id,label.
    #[arg(long)]
    #[serde(skip)]
    eval: Option<PathBuf>,

    /// Data to evaluate on (default: the training data).
    #[arg(long)]
    #[serde(skip)]
    eval_input: Vec<String>,

    /// Write the evaluation as JSON here.
    #[arg(long)]
    #[serde(skip)]
    eval_out: Option<PathBuf>,

    /// Raw logs: rule files whose new-term history is recorded besides the
    /// built-in rules'.
    #[arg(long)]
    #[serde(skip)]
    rules: Option<PathBuf>,

    /// Raw logs: input format (default: detected per file).
    #[arg(long, value_parser = loglynx_cli::input_format())]
    #[serde(skip)]
    format: Option<InputFormat>,

    /// Raw logs: year of the first line of RFC 3164 files.
    #[arg(long)]
    #[serde(skip)]
    year: Option<i32>,

    /// Raw logs: window length in seconds.
    #[arg(long)]
    window_secs: Option<u64>,

    /// Raw logs: IANA time zone of business hours (8–18, Monday–Friday).
    #[arg(long)]
    time_zone: Option<String>,
}

impl TrainArgs {
    /// Fills unset settings from a TOML config.
    fn merge(mut self, file: TrainArgs) -> TrainArgs {
        macro_rules! take {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = file.$f; } )* };
        }
        take!(
            seed,
            trees,
            subsample,
            k,
            k_min,
            k_max,
            kmeans_runs,
            scaling,
            combine,
            contamination,
            threshold,
            kinds,
            id_column,
            window_secs,
            time_zone
        );
        self.no_kmeans |= file.no_kmeans;
        self
    }

    fn model_config(&self) -> Result<ModelSetConfig> {
        let seed = self.seed.unwrap_or(42);
        let mut cfg = ModelSetConfig::default();
        if let Some(t) = self.trees {
            cfg.iforest = cfg.iforest.n_trees(t);
        }
        if let Some(s) = self.subsample {
            cfg.iforest = cfg.iforest.subsample(s);
        }
        cfg.kmeans = if self.no_kmeans {
            None
        } else {
            let mut k = KMeansParams::default().k(self.k);
            let start = self.k_min.unwrap_or(*k.k_range.start());
            let end = self.k_max.unwrap_or(*k.k_range.end());
            k = k.k_range(start..=end);
            if let Some(runs) = self.kmeans_runs {
                if runs == 0 {
                    bail!("--kmeans-runs (kmeans_runs in a config file) must be at least 1");
                }
                k = k.n_runs(runs);
            }
            Some(k)
        };
        cfg.scaling = match self.scaling.as_deref() {
            None | Some("robust") => Scaling::Robust,
            Some("standard") => Scaling::Standard,
            Some("none") => Scaling::None,
            Some(other) => bail!("--scaling `{other}`: use robust, standard or none"),
        };
        cfg.combine = match self.combine.as_deref() {
            None | Some("max") => Combine::Max,
            Some("mean") => Combine::Mean,
            Some(other) => bail!("--combine `{other}`: use max or mean"),
        };
        cfg.contamination = self.contamination;
        cfg.threshold = self.threshold;
        let cfg = cfg.with_seed(seed);
        cfg.check().context("invalid training parameters")?;
        Ok(cfg)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.quiet);
    let result = match cli.command {
        Some(Command::Inspect { model, json }) => inspect(&model, json),
        Some(Command::EvalSequences(args)) => eval_sequences(args, cli.quiet),
        None => train(cli.train, cli.quiet),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loglynx-train: error: {}", escape_terminal_lines(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn inspect(model: &Path, json: bool) -> Result<()> {
    let bundle = ModelBundle::load(model).with_context(|| format!("cannot load model {}", model.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&bundle.model_card())?);
    } else {
        print!("{}", bundle.model_card_markdown());
    }
    Ok(())
}

/// Reads inputs into one frame: tables directly, raw logs through the
/// features pipeline.
/// The new-term history of raw-log inputs (terms key → values seen).
type Terms = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

fn load_frame(inputs: &[String], args: &TrainArgs, quiet: bool) -> Result<(FeatureFrame, Vec<String>, Terms)> {
    let (tables, logs): (Vec<&String>, Vec<&String>) = inputs
        .iter()
        .partition(|p| is_feature_table(p, args.id_column.as_deref()));
    let mut frame = FeatureFrame::default();
    let mut files = Vec::new();
    let mut terms = Terms::new();
    for t in tables {
        let f = FeatureFrame::read(Path::new(t), args.id_column.as_deref())?;
        files.push(t.clone());
        frame.append(f);
    }
    if !logs.is_empty() {
        let logs: Vec<String> = logs.into_iter().cloned().collect();
        let (sources, errors) = input::discover(&logs);
        if let Some(e) = errors.first() {
            bail!("{e}");
        }
        let features = FeatureConfig::with_window_in_zone(
            args.window_secs.unwrap_or(3600),
            args.time_zone.as_deref().unwrap_or("UTC"),
        )
        .check()?;
        // New-term rules compare later events with the terms of this
        // baseline; only the events they read are kept.
        let mut rules = RuleSet::builtin();
        if let Some(dir) = &args.rules {
            rules.merge(RuleSet::load_dir(dir)?);
        }
        let cfg = RunConfig {
            format: args.format,
            year: args.year,
            collect_compact: Some(rules.history_events()),
            ..RunConfig::new(features)
        };
        let bar = spinner(quiet, "computing features");
        let result = pipeline::run(&sources, &cfg, |_| Ok(()), &|_| bar.tick())?;
        bar.finish_and_clear();
        if let Some((name, err)) = result.errors().next() {
            bail!("{name}: {err}");
        }
        files.extend(result.file_names());
        if let Some(log) = &result.compact {
            terms = History::from_log(log, &rules).terms;
        }
        if !quiet {
            eprintln!(
                "loglynx-train: {} lines, {} events from {} log files",
                result.stats.lines,
                result.stats.events,
                result.files.len()
            );
        }
        frame.append(FeatureFrame::from_table(result.aggregator.finish()));
    }
    if frame.is_empty() {
        bail!("the inputs hold no rows to train on");
    }
    Ok((frame, files, terms))
}

fn train(args: TrainArgs, quiet: bool) -> Result<()> {
    let started = Instant::now();
    let args = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            let file: TrainArgs = toml::from_str(&text).with_context(|| format!("{}", p.display()))?;
            args.merge(file)
        }
        None => args,
    };
    let config = args.model_config()?;
    let (frame, files, terms) = load_frame(&args.inputs, &args, quiet)?;
    let seed = args.seed.unwrap_or(42);
    let metadata = TrainingMetadata {
        input_files: files,
        time_range: time_range(&frame),
        rows_per_set: Default::default(),
        seed,
        loglynx_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        notes: Default::default(),
    };
    let opts = TrainOptions {
        config,
        kinds: args.kinds.clone(),
    };
    let bar = spinner(quiet, "fitting models");
    let mut bundle = fit_bundle(&frame, &opts, metadata).map_err(anyhow::Error::msg)?;
    bundle.history = terms;
    // Entities the model already finds unusual in the baseline (a jump host,
    // a busy service account): unusual is their normal, so anomalies of
    // theirs alone do not alert later.
    let (baseline_scores, _) = score_frame_with(&bundle, &frame, ExplainRows::None).map_err(anyhow::Error::msg)?;
    for (row, s) in &baseline_scores {
        if s.is_anomaly {
            bundle
                .history
                .entry(format!(
                    "{}{}",
                    loglynx_rules::BASELINE_ANOMALOUS_PREFIX,
                    frame.kinds[*row]
                ))
                .or_default()
                .insert(frame.ids[*row].to_string());
        }
    }
    bar.finish_and_clear();
    bundle
        .save(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let card_json = args.output.with_extension("card.json");
    let card_md = args.output.with_extension("card.md");
    write_atomic(
        &card_json,
        serde_json::to_string_pretty(&bundle.model_card())?.as_bytes(),
    )?;
    write_atomic(&card_md, bundle.model_card_markdown().as_bytes())?;

    if let Some(labels_path) = &args.eval {
        let labels = Labels::read(labels_path).map_err(anyhow::Error::msg)?;
        let eval_frame = if args.eval_input.is_empty() {
            frame.clone()
        } else {
            load_frame(&args.eval_input, &args, quiet)?.0
        };
        let report = evaluate(&bundle, &eval_frame, &labels)?;
        print_evaluation(&report);
        if let Some(p) = &args.eval_out {
            write_atomic(p, serde_json::to_string_pretty(&report)?.as_bytes())?;
        }
    }
    if !quiet {
        for set in &bundle.sets {
            eprintln!(
                "  {:<10} {:>8} rows  {:>2} features  threshold {:.4}  baseline alert rate {:.4}",
                set.spec().entity_kind,
                set.n_train_rows(),
                set.spec().feature_names.len(),
                set.threshold(),
                set.baseline_alert_rate()
            );
        }
        if let Some(note) = bundle.metadata.notes.get("skipped_kinds") {
            eprintln!("  not trained (too few rows): {note}");
        }
        eprintln!(
            "loglynx-train: {} model sets → {} (card: {}) in {:.2} s",
            bundle.sets.len(),
            args.output.display(),
            card_md.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct KindEvaluation {
    entity_kind: String,
    #[serde(flatten)]
    at_threshold: Evaluation,
    best_f1: f64,
    best_f1_threshold: f64,
}

fn evaluate(bundle: &ModelBundle, frame: &FeatureFrame, labels: &Labels) -> Result<Vec<KindEvaluation>> {
    let (scores, _) = score_frame(bundle, frame).map_err(anyhow::Error::msg)?;
    let mut out = Vec::new();
    for set in &bundle.sets {
        let kind = &set.spec().entity_kind;
        let rows: Vec<usize> = scores
            .iter()
            .filter(|(r, _)| *frame.kinds[*r] == **kind)
            .map(|(r, _)| *r)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let s: Vec<f64> = scores
            .iter()
            .filter(|(r, _)| *frame.kinds[*r] == **kind)
            .map(|(_, s)| s.score)
            .collect();
        let y = labels.for_rows(frame, &rows);
        let (t, f1) = metrics::best_f1_threshold(&s, &y);
        out.push(KindEvaluation {
            entity_kind: kind.clone(),
            at_threshold: metrics::evaluate(&s, &y, set.threshold()),
            best_f1: f1,
            best_f1_threshold: t,
        });
    }
    Ok(out)
}

fn print_evaluation(report: &[KindEvaluation]) {
    println!("| entity kind | rows | anomalous | precision | recall | F1 | ROC-AUC | PR-AUC | best F1 |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for k in report {
        let e = &k.at_threshold;
        println!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            k.entity_kind, e.rows, e.positives, e.precision, e.recall, e.f1, e.roc_auc, e.pr_auc, k.best_f1
        );
    }
}

#[derive(Debug, Serialize)]
struct SequenceRun {
    seed: u64,
    model: &'static str,
    #[serde(flatten)]
    eval: Evaluation,
}

fn eval_sequences(args: SequenceArgs, quiet: bool) -> Result<()> {
    let all_train = Sessions::read(&args.train).map_err(anyhow::Error::msg)?;
    let (train, normal) = match &args.test_normal {
        Some(p) => (all_train, Sessions::read(p).map_err(anyhow::Error::msg)?),
        None => {
            if !(args.holdout > 0.0 && args.holdout < 1.0) {
                bail!("--holdout must be between 0 and 1");
            }
            // Deterministic interleaved split: session i goes to the test set
            // when the running share of held-out sessions is below --holdout.
            let (mut tr, mut te) = (Sessions::default(), Sessions::default());
            for (i, (id, ev)) in all_train.ids.into_iter().zip(all_train.events).enumerate() {
                if (te.len() as f64) < args.holdout * (i + 1) as f64 {
                    te.ids.push(id);
                    te.events.push(ev);
                } else {
                    tr.ids.push(id);
                    tr.events.push(ev);
                }
            }
            (tr, te)
        }
    };
    let abnormal = Sessions::read(&args.test_abnormal).map_err(anyhow::Error::msg)?;
    let vocab = train.vocabulary();
    let train_frame = train.count_frame(&vocab);
    let mut test_frame = normal.count_frame(&vocab);
    test_frame.append(abnormal.count_frame(&vocab));
    let labels: Vec<bool> = (0..test_frame.len()).map(|i| i >= normal.len()).collect();
    let distinct_sessions = {
        let mut seen: Vec<Vec<u64>> = (0..train_frame.len())
            .map(|r| train_frame.columns.iter().map(|c| c[r].to_bits()).collect())
            .collect();
        seen.sort();
        seen.dedup();
        seen.len()
    };
    let mut runs = Vec::new();
    for seed in args.seed..args.seed + args.runs.max(1) {
        let mut cfg = ModelSetConfig::default().with_seed(seed);
        cfg.scaling = match args.scaling.as_str() {
            "robust" => Scaling::Robust,
            "standard" => Scaling::Standard,
            "none" => Scaling::None,
            other => bail!("--scaling `{other}`: use robust, standard or none"),
        };
        if let Some(k) = args.k {
            let k = if k == 0 { distinct_sessions } else { k };
            cfg.kmeans = Some(KMeansParams::default().k(Some(k)).seed(seed));
        }
        let opts = TrainOptions {
            config: cfg,
            kinds: None,
        };
        let bundle = fit_bundle(&train_frame, &opts, TrainingMetadata::default()).map_err(anyhow::Error::msg)?;
        let (scores, _) = score_frame(&bundle, &test_frame).map_err(anyhow::Error::msg)?;
        let iforest: Vec<f64> = scores.iter().map(|(_, r)| r.iforest_raw).collect();
        let kmeans: Vec<f64> = scores.iter().map(|(_, r)| r.kmeans_raw.unwrap_or(0.0)).collect();
        let flags: Vec<f64> = scores.iter().map(|(_, r)| f64::from(u8::from(r.is_anomaly))).collect();
        for (model, raw) in [("isolation forest", &iforest), ("k-means distance", &kmeans)] {
            let (t, _) = metrics::best_f1_threshold(raw, &labels);
            runs.push(SequenceRun {
                seed,
                model,
                eval: metrics::evaluate(raw, &labels, t),
            });
        }
        // The model's own decision: both models, threshold from 1% contamination.
        let mut decision = metrics::evaluate(&flags, &labels, 0.5);
        let combined: Vec<f64> = scores.iter().map(|(_, r)| r.score).collect();
        decision.roc_auc = metrics::roc_auc(&combined, &labels);
        decision.pr_auc = metrics::average_precision(&combined, &labels);
        runs.push(SequenceRun {
            seed,
            model: "loglynx decision",
            eval: decision,
        });
    }
    if !quiet {
        eprintln!(
            "train {} sessions ({} event types), test {} normal + {} abnormal",
            train.len(),
            vocab.len(),
            normal.len(),
            abnormal.len()
        );
    }
    println!("| scores | runs | precision | recall | F1 | ROC-AUC | PR-AUC |");
    println!("|---|---|---|---|---|---|---|");
    for model in ["isolation forest", "k-means distance", "loglynx decision"] {
        let r: Vec<&Evaluation> = runs.iter().filter(|x| x.model == model).map(|x| &x.eval).collect();
        let mean = |f: fn(&Evaluation) -> f64| r.iter().map(|e| f(e)).sum::<f64>() / r.len() as f64;
        println!(
            "| {model} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            r.len(),
            mean(|e| e.precision),
            mean(|e| e.recall),
            mean(|e| e.f1),
            mean(|e| e.roc_auc),
            mean(|e| e.pr_auc)
        );
    }
    if let Some(p) = &args.output {
        write_atomic(p, serde_json::to_string_pretty(&runs)?.as_bytes())?;
    }
    Ok(())
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
    fn config_file_fills_unset_flags_and_rejects_unknown_keys() {
        let file: TrainArgs = toml::from_str("trees = 50\nseed = 9\nno_kmeans = true\n").unwrap();
        let flags = TrainArgs {
            seed: Some(1),
            ..Default::default()
        };
        let merged = flags.merge(file);
        assert_eq!(merged.seed, Some(1));
        assert_eq!(merged.trees, Some(50));
        assert!(merged.no_kmeans);
        let err = toml::from_str::<TrainArgs>("tres = 50\n").unwrap_err().to_string();
        assert!(err.contains("tres"), "{err}");
    }

    #[test]
    fn kmeans_runs_reaches_the_kmeans_params_and_zero_is_refused() {
        let args = TrainArgs {
            kmeans_runs: Some(3),
            ..Default::default()
        };
        assert_eq!(args.model_config().unwrap().kmeans.unwrap().n_runs, 3);
        let default = TrainArgs::default().model_config().unwrap();
        assert_eq!(default.kmeans.unwrap().n_runs, 1);
        let zero = TrainArgs {
            kmeans_runs: Some(0),
            ..Default::default()
        };
        let err = format!("{:#}", zero.model_config().unwrap_err());
        assert!(err.contains("--kmeans-runs"), "{err}");
    }
}
