//! loglynx baseline: the contract between training and scoring.
//!
//! - [`Baseline`] is what `loglynx-train` writes and `loglynx-score`
//!   reads: the feature configuration the models were trained on (window,
//!   time zone, business hours, novelty warm-up), the feature spec version,
//!   one [`ModelSet`](loglynx_models::ModelSet) per entity kind, the
//!   new-term history and the entities already anomalous in the baseline,
//!   behind the models crate's versioned, checksummed file header.
//! - [`frame::FeatureFrame`] reads feature tables (loglynx's own, or any
//!   numeric table) and is the one place where they become the models'
//!   `ndarray` matrix.
//! - [`rerank`]: the supervised re-ranker trained on analysts' verdicts,
//!   kept in the bundle.
//! - [`fit`] fits and scores a frame one entity kind at a time through
//!   [`fit::KindJob`], the per-kind loop training and scoring share.
//! - [`sample`]: each kind's rows sampled as windows close, to fit on an
//!   input too large to hold.

pub mod accumulate;
pub mod baseline;
pub mod fit;
pub mod frame;
pub mod population;
pub mod rerank;
pub mod routine;
pub mod sample;

pub use baseline::{Baseline, BaselineError, TrainingMetadata};
pub use fit::{FitError, KindJob, KindModel, KindOutcome, TrainOptions};
pub use frame::{is_feature_table, FeatureFrame, RowKind, TableError, GENERIC_KIND};
