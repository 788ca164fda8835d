//! loglynx training: feature tables in, a model bundle out.
//!
//! [`table::FeatureFrame`] reads loglynx feature tables (Parquet, CSV, or
//! computed in-process from raw logs) and generic numeric tables, and is the
//! one place where they become the models' `ndarray` matrix. [`fit`] builds
//! a [`loglynx_models::ModelSet`] per entity kind with a feature spec taken
//! from the feature registry; [`metrics`] and [`labels`] evaluate scores
//! against ground truth; [`sequences`] reads the labelled session benchmarks.
//!
//! ```
//! use loglynx_train::fit::{fit_bundle, TrainOptions};
//! use loglynx_train::table::{FeatureFrame, GENERIC_KIND};
//!
//! let n = 300;
//! let frame = FeatureFrame {
//!     kinds: vec![GENERIC_KIND.into(); n],
//!     ids: (0..n).map(|i| format!("s{i}").into()).collect(),
//!     window_starts: vec![None; n],
//!     window: None,
//!     names: vec!["x".into(), "y".into()],
//!     columns: vec![(0..n).map(|i| (i % 7) as f64).collect(), (0..n).map(|i| (i % 5) as f64).collect()],
//! };
//! let bundle = fit_bundle(&frame, &TrainOptions::default(), Default::default())?;
//! assert_eq!(bundle.sets.len(), 1);
//! # Ok::<(), String>(())
//! ```

pub mod fit;
pub mod labels;
pub mod metrics;
pub mod sequences;
pub mod table;
