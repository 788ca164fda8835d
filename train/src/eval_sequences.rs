//! `loglynx-train eval-sequences`: the labelled session benchmarks (train
//! on normal sessions, score normal and abnormal test sessions).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use loglynx_baseline::fit::{fit_baseline, score_frame};
use loglynx_baseline::{TrainOptions, TrainingMetadata};
use loglynx_models::{KMeansParams, ModelSetConfig, Scaling};

use crate::metrics::{self, Evaluation};
use crate::sequences::Sessions;
use crate::TrainError;

#[derive(Debug, Args)]
pub struct SequenceArgs {
    /// Normal sessions to train on.
    #[arg(long)]
    pub train: PathBuf,
    /// Normal test sessions; without it, --holdout of the training sessions
    /// (every other one by default) are held out as the normal test set.
    #[arg(long)]
    pub test_normal: Option<PathBuf>,
    /// Share of training sessions held out as normal test sessions when
    /// --test-normal is not given.
    #[arg(long, default_value_t = 0.5)]
    pub holdout: f64,
    /// Anomalous test sessions.
    #[arg(long)]
    pub test_abnormal: PathBuf,
    /// Seeds to average over, starting at --seed.
    #[arg(long, default_value_t = 5)]
    pub runs: u64,
    /// First seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the results as JSON here.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// K-means clusters; 0 = one per distinct training session (nearest
    /// normal session); default: chosen by silhouette.
    #[arg(long)]
    pub k: Option<usize>,
    /// Feature scaling: robust, standard or none.
    #[arg(long, default_value = "robust")]
    pub scaling: String,
}

#[derive(Debug, Serialize)]
pub struct SequenceRun {
    pub seed: u64,
    pub model: &'static str,
    #[serde(flatten)]
    pub eval: Evaluation,
}

/// Trains on the normal sessions and scores the normal and abnormal test
/// sessions, once per seed.
pub fn run(args: &SequenceArgs) -> Result<SequenceReport, TrainError> {
    let all_train = Sessions::read(&args.train)?;
    let (train, normal) = match &args.test_normal {
        Some(p) => (all_train, Sessions::read(p)?),
        None => {
            if !(args.holdout > 0.0 && args.holdout < 1.0) {
                return Err(TrainError::Setting("--holdout must be between 0 and 1".into()));
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
    let abnormal = Sessions::read(&args.test_abnormal)?;
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
            other => {
                return Err(TrainError::Setting(format!(
                    "--scaling `{other}`: use robust, standard or none"
                )))
            }
        };
        if let Some(k) = args.k {
            let k = if k == 0 { distinct_sessions } else { k };
            cfg.kmeans = Some(KMeansParams::default().k(Some(k)).seed(seed));
        }
        let opts = TrainOptions {
            config: cfg,
            kinds: None,
        };
        let baseline = fit_baseline(&train_frame, &opts, TrainingMetadata::default())?;
        let (scores, _) = score_frame(&baseline, &test_frame)?;
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
    Ok(SequenceReport {
        train_sessions: train.len(),
        event_types: vocab.len(),
        normal: normal.len(),
        abnormal: abnormal.len(),
        runs,
    })
}

/// What [`run`] measured.
#[derive(Debug, Serialize)]
pub struct SequenceReport {
    pub train_sessions: usize,
    pub event_types: usize,
    pub normal: usize,
    pub abnormal: usize,
    pub runs: Vec<SequenceRun>,
}

impl SequenceReport {
    /// One line per scorer, averaged over the seeds (Markdown).
    pub fn render(&self) -> String {
        let mut s = String::from(
            "| scores | runs | precision | recall | F1 | ROC-AUC | PR-AUC |\n|---|---|---|---|---|---|---|\n",
        );
        for model in ["isolation forest", "k-means distance", "loglynx decision"] {
            let r: Vec<&Evaluation> = self.runs.iter().filter(|x| x.model == model).map(|x| &x.eval).collect();
            let mean = |f: fn(&Evaluation) -> f64| r.iter().map(|e| f(e)).sum::<f64>() / r.len() as f64;
            s += &format!(
                "| {model} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                r.len(),
                mean(|e| e.precision),
                mean(|e| e.recall),
                mean(|e| e.f1),
                mean(|e| e.roc_auc),
                mean(|e| e.pr_auc)
            );
        }
        s
    }
}
