//! [`TrainConfig`]: what `loglynx-train` is asked to do. Every training
//! setting is a flag and a key of `--config FILE.toml` (same names,
//! snake_case), flags winning.

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use loglynx_baseline::FitError;
use loglynx_features::aggregate::FeatureConfig;
use loglynx_features::ingest::input::InputFormat;
use loglynx_models::{Combine, KMeansParams, ModelSetConfig, Scaling};

use crate::TrainError;

/// Training settings; every one can also come from `--config FILE.toml`
/// (same names, snake_case), flags winning.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Feature tables (.parquet, .csv) or raw logs (files, directories, globs, `-`).
    #[arg(required_unless_present = "from_es")]
    #[serde(skip)]
    pub inputs: Vec<String>,

    #[command(flatten)]
    #[serde(skip)]
    pub es: loglynx_cli::es::EsSourceArgs,

    #[command(flatten)]
    #[serde(skip)]
    pub es_connection: loglynx_cli::es::EsConnectionArgs,

    /// Model bundle to write; the model card goes beside it (.card.json, .card.md).
    #[arg(short, long, default_value = "baseline.llx")]
    #[serde(skip)]
    pub output: PathBuf,

    /// TOML file with any of the settings below.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Seed for every random choice (subsamples, splits, k-means starts).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Raw logs: rows per entity kind sampled to fit on (default 262144);
    /// an input with fewer is fitted on all of them. The logs are read
    /// once; every row is spooled to a compressed temporary file (in
    /// TMPDIR) and calibrated on after the fit.
    #[arg(long)]
    pub fit_sample: Option<usize>,

    /// Raw logs: how far an input may run back in time before its windows
    /// close (seconds, or a number with s, m, h or d; default 5m); an event
    /// in a closed window is late and left out of the features.
    #[arg(long, value_parser = loglynx_cli::parse_duration)]
    pub allowed_lateness: Option<u64>,

    /// Raw logs: how long an entity's partners are remembered for the
    /// `new_*` features (default 30d; 0 for the whole input); recorded in
    /// the baseline.
    #[arg(long, value_parser = loglynx_cli::parse_duration)]
    pub novelty_horizon: Option<u64>,

    /// Isolation-forest trees.
    #[arg(long)]
    pub trees: Option<usize>,

    /// Isolation-forest subsample size ψ.
    #[arg(long)]
    pub subsample: Option<usize>,

    /// Number of k-means peer groups; default: chosen by silhouette over --k-min..=--k-max.
    #[arg(long)]
    pub k: Option<usize>,

    /// Smallest k tried by the silhouette search.
    #[arg(long)]
    pub k_min: Option<usize>,

    /// Largest k tried by the silhouette search.
    #[arg(long)]
    pub k_max: Option<usize>,

    /// k-means restarts with different k-means++ seeds, best inertia kept
    /// (scikit-learn's `n_init`); default 1.
    #[arg(long)]
    pub kmeans_runs: Option<usize>,

    /// Train no k-means peer-group model.
    #[arg(long)]
    #[serde(default)]
    pub no_kmeans: bool,

    /// Feature scaling: robust (median/IQR), standard (mean/std) or none.
    #[arg(long)]
    pub scaling: Option<String>,

    /// How model scores combine: max or mean of their calibrated percentiles.
    #[arg(long)]
    pub combine: Option<String>,

    /// Share of baseline windows to flag (sets the alert threshold); default 0.01.
    #[arg(long)]
    pub contamination: Option<f64>,

    /// Model-driven alerts allowed per 1,000 entity-days when the baseline
    /// is replayed (default 0.2): the thresholds of accumulated anomaly
    /// evidence follow from it and are stored in the model.
    #[arg(long, value_name = "ALERTS")]
    pub alert_budget: Option<f64>,

    /// Fixed alert threshold on the combined 0–1 score instead of --contamination.
    #[arg(long)]
    pub threshold: Option<f64>,

    /// Entity kinds to train (user, source_ip, host); default: all present.
    #[arg(long, value_delimiter = ',')]
    pub kinds: Option<Vec<String>>,

    /// Id column of a generic numeric table.
    #[arg(long)]
    pub id_column: Option<String>,

    /// Labels to evaluate against: loglynx-gen campaign labels (JSON lines)
    /// or a CSV of id,label.
    #[arg(long)]
    #[serde(skip)]
    pub eval: Option<PathBuf>,

    /// Data to evaluate on (default: the training data).
    #[arg(long)]
    #[serde(skip)]
    pub eval_input: Vec<String>,

    /// Write the evaluation as JSON here.
    #[arg(long)]
    #[serde(skip)]
    pub eval_out: Option<PathBuf>,

    /// Raw logs: rule files whose new-term history is recorded besides the
    /// built-in rules'.
    #[arg(long)]
    #[serde(skip)]
    pub rules: Option<PathBuf>,

    /// Raw logs: the organisation's hosts and their addresses (CSV with
    /// `host` and `address` columns), for lateral-movement chains in the
    /// baseline's routine.
    #[arg(long, value_name = "CSV")]
    #[serde(skip)]
    pub assets: Option<PathBuf>,

    /// Analysts' verdicts (`loglynx-score --verdict-template`, filled in):
    /// the entity-windows of alerts judged `true_positive` (the alert's
    /// entity, over its first to last event) are left out of the baseline,
    /// so that it does not learn the attack as normal.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub feedback: Option<PathBuf>,

    /// With `--feedback`: the alerts the verdicts judged (`loglynx-score -o
    /// alerts.ndjson`; repeatable). Their features train the supervised
    /// re-ranker kept in the bundle (at least 10 matched verdicts, 3 of
    /// each kind), which scoring uses to order alerts and demote likely
    /// false positives.
    #[arg(long, value_name = "NDJSON", requires = "feedback")]
    #[serde(skip)]
    pub alerts: Vec<PathBuf>,

    /// Raw logs: input format (default: detected per file).
    #[arg(long, value_parser = loglynx_cli::input_format())]
    #[serde(skip)]
    pub format: Option<InputFormat>,

    /// Raw logs: year of the first line of RFC 3164 files.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=9999))]
    #[serde(skip)]
    pub year: Option<i32>,

    /// Window length in seconds (raw logs; a loglynx table brings its own,
    /// which this must match). Recorded in the baseline.
    #[arg(long)]
    pub window_secs: Option<u64>,

    /// IANA time zone of business hours (8–18, Monday–Friday), e.g.
    /// Europe/Berlin. Recorded in the baseline: scoring uses it.
    #[arg(long)]
    pub time_zone: Option<String>,
}

impl TrainConfig {
    /// Fills unset settings from a TOML config.
    pub fn merge(mut self, file: TrainConfig) -> TrainConfig {
        macro_rules! take {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = file.$f; } )* };
        }
        take!(
            seed,
            fit_sample,
            allowed_lateness,
            novelty_horizon,
            trees,
            subsample,
            k,
            k_min,
            k_max,
            kmeans_runs,
            scaling,
            combine,
            contamination,
            alert_budget,
            threshold,
            kinds,
            id_column,
            window_secs,
            time_zone
        );
        self.no_kmeans |= file.no_kmeans;
        self
    }

    /// Fills unset settings from the `--config` file, if one is named.
    pub fn with_config_file(self) -> Result<TrainConfig, TrainError> {
        let Some(path) = &self.config else {
            return Ok(self);
        };
        let fail = |message: String| TrainError::Setting(format!("{}: {message}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let file: TrainConfig = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
        Ok(self.merge(file))
    }

    /// How features are computed from raw logs, as recorded in the baseline.
    pub fn feature_config(&self) -> FeatureConfig {
        let mut f = FeatureConfig::with_window_in_zone(
            self.window_secs.unwrap_or(3600),
            self.time_zone.as_deref().unwrap_or("UTC"),
        );
        if let Some(h) = self.novelty_horizon {
            f.novelty_horizon_secs = h;
        }
        f
    }

    pub fn model_config(&self) -> Result<ModelSetConfig, TrainError> {
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
                    return Err(TrainError::Setting(
                        "--kmeans-runs (kmeans_runs in a config file) must be at least 1".into(),
                    ));
                }
                k = k.n_runs(runs);
            }
            Some(k)
        };
        cfg.scaling = match self.scaling.as_deref() {
            None | Some("robust") => Scaling::Robust,
            Some("standard") => Scaling::Standard,
            Some("none") => Scaling::None,
            Some(other) => {
                return Err(TrainError::Setting(format!(
                    "--scaling `{other}`: use robust, standard or none"
                )))
            }
        };
        cfg.combine = match self.combine.as_deref() {
            None | Some("max") => Combine::Max,
            Some("mean") => Combine::Mean,
            Some(other) => return Err(TrainError::Setting(format!("--combine `{other}`: use max or mean"))),
        };
        cfg.contamination = self.contamination;
        cfg.threshold = self.threshold;
        let cfg = cfg.with_seed(seed);
        cfg.check().map_err(FitError::Param)?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_fills_unset_flags_and_rejects_unknown_keys() {
        let file: TrainConfig = toml::from_str("trees = 50\nseed = 9\nno_kmeans = true\n").unwrap();
        let flags = TrainConfig {
            seed: Some(1),
            ..Default::default()
        };
        let merged = flags.merge(file);
        assert_eq!(merged.seed, Some(1));
        assert_eq!(merged.trees, Some(50));
        assert!(merged.no_kmeans);
        let err = toml::from_str::<TrainConfig>("tres = 50\n").unwrap_err().to_string();
        assert!(err.contains("tres"), "{err}");
    }

    #[test]
    fn kmeans_runs_reaches_the_kmeans_params_and_zero_is_refused() {
        let args = TrainConfig {
            kmeans_runs: Some(3),
            ..Default::default()
        };
        assert_eq!(args.model_config().unwrap().kmeans.unwrap().n_runs, 3);
        let default = TrainConfig::default().model_config().unwrap();
        assert_eq!(default.kmeans.unwrap().n_runs, 1);
        let zero = TrainConfig {
            kmeans_runs: Some(0),
            ..Default::default()
        };
        let err = format!("{:#}", zero.model_config().unwrap_err());
        assert!(err.contains("--kmeans-runs"), "{err}");
    }
}
