//! loglynx scoring: new logs scored against a baseline, detection rules run
//! over their events, and both merged into prioritized, explained alerts.
//!
//! [`run`] is what `loglynx-score` does, given a [`ScoreConfig`]:
//!
//! - `scoring`: feature frames scored one entity kind at a time through
//!   the per-kind loop of [`loglynx_baseline::fit`];
//! - [`rules`]: rules as data (TOML) and their engine;
//! - [`alerts`]: rule hits, anomalous windows and accumulated evidence
//!   merged into alerts, with the population, rarity and routine policies
//!   ([`policy`] holds the detections they make);
//! - [`evidence`]: raw lines behind alerts, re-read by `file:line`;
//! - [`report`]: alert and score outputs, terminal summary;
//! - [`eval`]: detection against labelled campaigns, and a naive baseline.

pub mod alerts;
pub mod config;
pub mod eval;
pub mod evidence;
pub mod feedback;
pub mod html;
pub mod policy;
pub mod report;
pub mod rerank;
pub mod rollup;
pub mod run;
mod scoring;
pub mod sink;
pub use loglynx_rules as rules;
pub use scoring::{ScoreHistogram, HISTOGRAM_BINS};

pub use config::ScoreConfig;
pub use run::{run, ScoreOutcome};

/// Why a scoring run failed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{0}")]
    Setting(String),
    #[error("{0}; drop the flag (the model's setting applies) or retrain")]
    Contradicts(String),
    #[error("cannot use model {path}: {source}")]
    Model {
        path: String,
        source: loglynx_baseline::BaselineError,
    },
    #[error(transparent)]
    Rules(#[from] loglynx_rules::RuleError),
    #[error(transparent)]
    Assets(#[from] loglynx_rules::AssetsError),
    #[error("no readable input: {0}")]
    NoInput(String),
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Config(#[from] loglynx_features::aggregate::ConfigError),
    #[error(transparent)]
    Enrich(#[from] loglynx_features::aggregate::enrich::EnrichError),
    #[error(transparent)]
    Pipeline(#[from] loglynx_features::ingest::pipeline::PipelineError),
    #[error(transparent)]
    Table(#[from] loglynx_baseline::TableError),
    #[error(transparent)]
    Fit(#[from] loglynx_baseline::FitError),
    #[error("the inputs hold no events to score{}", run::unread_note(unread))]
    NothingToScore { unread: Vec<String> },
    #[error("{path}: {source}")]
    Labels { path: String, source: std::io::Error },
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error("--feedback: {0}")]
    Feedback(#[from] feedback::FeedbackError),
    #[error(transparent)]
    Output(#[from] loglynx_features::output::OutputError),
    #[error(transparent)]
    Sink(Box<sink::SinkError>),
    #[error(transparent)]
    Es(Box<loglynx_cli::es::EsInputError>),
}

impl From<sink::SinkError> for ScoreError {
    fn from(e: sink::SinkError) -> Self {
        ScoreError::Sink(Box::new(e))
    }
}

impl From<loglynx_cli::es::EsInputError> for ScoreError {
    fn from(e: loglynx_cli::es::EsInputError) -> Self {
        ScoreError::Es(Box::new(e))
    }
}
