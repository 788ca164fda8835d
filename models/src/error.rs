//! Error types: invalid hyperparameters ([`ParamError`]), runtime failures
//! while fitting or scoring ([`ModelError`]), model files that cannot be
//! read or written ([`BundleError`]) and what a model that contradicts
//! itself gets wrong ([`Inconsistency`]).

use std::path::PathBuf;

use thiserror::Error;

/// An invalid hyperparameter, reported by the `check()` methods.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParamError {
    #[error("isolation forest: n_trees must be at least 1")]
    NTrees,
    #[error("isolation forest: subsample must be between 2 and {max}, got {got}")]
    Subsample { got: usize, max: usize },
    #[error("k-means: k must be at least 1")]
    K,
    #[error("k-means: k_range must be non-empty with 2 <= start <= end, got {start}..={end}")]
    KRange { start: usize, end: usize },
    #[error("k-means: max_iter must be at least 1")]
    MaxIter,
    #[error("k-means: n_runs must be at least 1")]
    NRuns,
    #[error("k-means: tolerance must be a positive finite number, got {0}")]
    Tolerance(f64),
    #[error("k-means: silhouette_sample must be at least 3, got {0}")]
    SilhouetteSample(usize),
    #[error("k-means fit sample must be at least 1 row")]
    FitSample,
    #[error("contamination must be in (0, 0.5], got {0}")]
    Contamination(f64),
    #[error("threshold must be in [0, 1], got {0}")]
    Threshold(f64),
    #[error("give either a contamination rate or a threshold, not both")]
    ContaminationAndThreshold,
    #[error("{what}: expected {expected} entries (one per feature), got {got}")]
    PerFeatureLength {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("feature spec: {0}")]
    FeatureSpec(String),
    #[error("logistic regression: alpha must be a finite number >= 0, got {0}")]
    Alpha(f64),
    #[error("logistic regression: min_rows ({rows}) must be at least twice min_per_class ({per_class}), which must be at least 1")]
    MinRows { rows: usize, per_class: usize },
}

/// A failure while fitting or scoring.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("invalid parameters: {0}")]
    Param(#[from] ParamError),
    #[error("expected {expected} features (columns), got {got}")]
    FeatureCount { expected: usize, got: usize },
    #[error("no data: {0}")]
    EmptyData(String),
    #[error("too few rows: need at least {needed}, got {got}")]
    TooFewRows { needed: usize, got: usize },
    #[error("non-finite value {value} at row {row}, column {column}")]
    NonFinite { row: usize, column: usize, value: f64 },
    #[error("non-finite value {value} at row {row}, feature `{feature}`")]
    NonFiniteFeature { row: usize, feature: String, value: f64 },
    #[error("columns do not match the model's features: {detail}")]
    Columns {
        /// Human-readable summary naming the offending features.
        detail: String,
        /// Features the model needs that the input lacks.
        missing: Vec<String>,
        /// Input columns the model does not know.
        unexpected: Vec<String>,
        /// Features present but at another position than in training.
        misordered: Vec<String>,
    },
    #[error("k-means failed: {0}")]
    KMeans(String),
}

/// A model file that cannot be written or read.
#[derive(Debug, Error)]
pub enum BundleError {
    /// The I/O error is part of the message, not a separate source, so a
    /// caller printing the error chain shows the reason once.
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("not a loglynx model file (wrong magic bytes)")]
    NotAModel,
    #[error("written by a newer loglynx: format version {found}, this build reads up to {supported}")]
    NewerVersion { found: u16, supported: u16 },
    #[error(
        "written by an older loglynx: format version {found}, this build reads version {supported}; \
         retrain the baseline with this loglynx-train"
    )]
    OlderVersion { found: u16, supported: u16 },
    #[error("unsupported model file: {0}")]
    Unsupported(String),
    #[error("truncated model file: expected {expected} bytes, found {actual}")]
    Truncated { expected: u64, actual: u64 },
    #[error("model file has {extra} unexpected bytes after the payload")]
    TrailingData { extra: u64 },
    #[error("model file is corrupt: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum { stored: u32, computed: u32 },
    #[error("model payload does not decode: {0}")]
    Decode(String),
    #[error("cannot encode model: {0}")]
    Encode(String),
    #[error("model is inconsistent: {0}")]
    Invalid(#[from] Inconsistency),
}

/// A model part that contradicts itself: a corrupt or hand-made file.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Inconsistency {
    #[error("calibration: empty or NaN reference")]
    CalibrationReference,
    #[error("re-ranker: {0}")]
    Reranker(String),
    #[error("calibration: reference not sorted")]
    CalibrationUnsorted,
    #[error("isolation forest: bad tree offsets")]
    TreeOffsets,
    #[error("isolation forest: bad psi, height limit or feature count")]
    ForestShape,
    #[error("isolation forest: tree {0} is empty")]
    EmptyTree(usize),
    #[error("isolation forest: tree {tree} node {node} is malformed")]
    MalformedNode { tree: usize, node: usize },
    #[error("isolation forest: a tree exceeds the height limit")]
    TreeTooDeep,
    #[error("k-means: centroids do not match clusters and features")]
    KMeansShape,
    #[error("k-means: non-finite centroid or distance")]
    KMeansNonFinite,
    #[error("preprocessor: per-feature vectors differ in length")]
    PreprocessorLengths,
    #[error("preprocessor: non-positive scale")]
    PreprocessorScale,
    #[error(transparent)]
    Spec(#[from] ParamError),
    #[error("set `{0}`: parts disagree on the feature count")]
    FeatureCount(String),
    #[error("set `{0}`: k-means feature count differs")]
    KMeansFeatureCount(String),
    #[error("set `{0}`: k-means without its calibration")]
    KMeansCalibration(String),
    #[error("entity kind `{0}` appears twice")]
    DuplicateKind(String),
}
