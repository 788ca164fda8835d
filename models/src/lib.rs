//! loglynx baselines: models trained on a quiet period of per-entity
//! behaviour features, then used to score new windows.
//!
//! Input is a dense matrix (`ndarray` 0.16, re-exported as
//! [`ndarray`]): rows are entity-windows, columns the features named in a
//! [`FeatureSpec`]. NaN marks a missing value and is imputed with the
//! feature's baseline median; ±∞ is an error.
//!
//! - [`iforest`]: isolation forest (Liu, Ting & Zhou 2008).
//! - [`kmeans`]: k-means peer groups (linfa-clustering), distance scores.
//! - [`preprocess`]: per-feature `log1p` and robust/standard scaling.
//! - [`calibrate`]: raw scores → share of the baseline below them.
//! - [`explain`]: which features drive an anomaly.
//! - [`logistic`]: logistic regression (smartcore) for the verdicts' re-ranker.
//! - [`detector`]: [`ModelSet`], all of the above for one entity kind.
//! - [`file`]: the versioned, checksummed model file container.
//!
//! Parameters follow linfa's habit: a `Params` struct with builder setters,
//! `check()` for [`ParamError`]s, `fit` to a model that scores.
//!
//! ```
//! use loglynx_models::ndarray::{array, Array2};
//! use loglynx_models::{FeatureSpec, ModelSet, ModelSetConfig, Transform};
//!
//! // A quiet baseline: 200 users with 0–2 failures and 20–39 events an hour.
//! let x = Array2::from_shape_fn((200, 2), |(i, j)| if j == 0 { (i % 3) as f64 } else { 20.0 + (i % 20) as f64 });
//! let spec = FeatureSpec::new("user", vec!["failures".into(), "events".into()])
//!     .transforms(vec![Transform::Log1p, Transform::Log1p]);
//! let set = ModelSet::fit(x.view(), spec, ModelSetConfig::default().with_seed(7))?;
//!
//! let scores = set.score(array![[1.0, 25.0], [250.0, 30.0]].view())?;
//! assert!(!scores[0].is_anomaly);
//! assert!(scores[1].is_anomaly);
//! assert_eq!(scores[1].explanation[0].to_string(), "failures = 250, unusually high (baseline p99 = 2)");
//! # Ok::<(), loglynx_models::ModelError>(())
//! ```

pub mod calibrate;
pub mod detector;
pub mod error;
pub mod explain;
pub mod file;
pub mod iforest;
pub mod kmeans;
pub mod logistic;
pub mod preprocess;
mod rows;
mod stats;

pub use ndarray;

pub use calibrate::Calibration;
pub use detector::{Combine, ExplainRows, FeatureSpec, ModelSet, ModelSetConfig, RowScore, DEFAULT_CONTAMINATION};
pub use error::{BundleError, Inconsistency, ModelError, ParamError};
pub use explain::{Contribution, Direction, Explainer, FeatureStats, Side, NO_SINGLE_DRIVER};
pub use file::{FORMAT_VERSION, MAGIC};
pub use iforest::{average_path_length, IsolationForest, IsolationForestParams, IsolationForestValidParams};
pub use kmeans::{ClusterStats, KMeansDetector, KMeansParams, KMeansValidParams};
pub use preprocess::{PreprocessParams, Preprocessor, Scaling, Transform};
pub use stats::matrix_by_rows;
