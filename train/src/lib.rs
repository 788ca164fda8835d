//! loglynx training: feature tables or raw logs in, a [`Baseline`] file out.
//!
//! [`run`] is what `loglynx-train` does: read the inputs into a
//! [`FeatureFrame`](loglynx_baseline::FeatureFrame) (raw logs go through the
//! features pipeline, which also records the new-term history), fit one
//! model set per entity kind with the shared per-kind loop of
//! [`loglynx_baseline::fit`], mark the entities already anomalous in the
//! baseline, train the verdicts' re-ranker ([`rerank`]) when asked, and
//! save the baseline with its model card. [`evaluate`] and
//! [`labels`] compare scores with ground truth; [`eval_sequences`] runs the
//! labelled session benchmarks read by [`sequences`].
//!
//! [`Baseline`]: loglynx_baseline::Baseline
//!
//! ```
//! use loglynx_baseline::fit::fit_baseline;
//! use loglynx_baseline::{FeatureFrame, RowKind, TrainOptions};
//!
//! let n = 300;
//! let frame = FeatureFrame {
//!     kinds: vec![RowKind::Table; n],
//!     ids: (0..n).map(|i| format!("s{i}").into()).collect(),
//!     window_starts: vec![None; n],
//!     window: None,
//!     names: vec!["x".into(), "y".into()],
//!     columns: vec![(0..n).map(|i| (i % 7) as f64).collect(), (0..n).map(|i| (i % 5) as f64).collect()],
//! };
//! let baseline = fit_baseline(&frame, &TrainOptions::default(), Default::default())?;
//! assert_eq!(baseline.sets.len(), 1);
//! # Ok::<(), loglynx_baseline::FitError>(())
//! ```

pub mod config;
pub mod eval_sequences;
pub mod evaluate;
pub mod labels;
pub mod metrics;
pub mod rerank;
pub mod run;
pub mod sequences;
pub mod stream;

pub use config::TrainConfig;
pub use run::{run, TrainOutcome};

use loglynx_baseline::{BaselineError, FitError, TableError};

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Setting(String),
    #[error(transparent)]
    Es(Box<loglynx_cli::es::EsInputError>),
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Config(#[from] loglynx_features::aggregate::ConfigError),
    #[error(transparent)]
    Pipeline(#[from] loglynx_features::ingest::pipeline::PipelineError),
    #[error(transparent)]
    Sessions(#[from] sequences::SessionsError),
    #[error("the inputs hold no rows to train on")]
    NoRows,
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Rules(#[from] loglynx_rules::RuleError),
    #[error(transparent)]
    Fit(#[from] FitError),
    #[error("writing the baseline: {0}")]
    Baseline(#[from] BaselineError),
    #[error(transparent)]
    Labels(#[from] labels::LabelsError),
    #[error(transparent)]
    Output(#[from] loglynx_features::output::OutputError),
}

impl From<loglynx_cli::es::EsInputError> for TrainError {
    fn from(e: loglynx_cli::es::EsInputError) -> Self {
        TrainError::Es(Box::new(e))
    }
}

/// When the baseline was made, RFC 3339: now, or `SOURCE_DATE_EPOCH`
/// (seconds since 1970, the reproducible-builds convention) when set, so
/// that the same inputs and seed give the same bundle bytes.
pub(crate) fn created_at() -> String {
    let fixed = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    fixed
        .unwrap_or_else(chrono::Utc::now)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
