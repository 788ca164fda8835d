//! Logistic regression on named features, fitted with smartcore: the
//! supervised re-ranker's model (analysts' verdicts as labels).
//!
//! Features are standardized before the fit (mean 0, standard deviation 1
//! on the training rows), so the L2 penalty treats them alike and each
//! coefficient reads as "log-odds per standard deviation". smartcore takes
//! its own [`DenseMatrix`]; nothing here touches `ndarray`.
//!
//! ```
//! use loglynx_models::logistic::LogisticParams;
//!
//! // "failures" separates the classes, "noise" does not.
//! let names = vec!["failures".to_string(), "noise".to_string()];
//! let rows: Vec<Vec<f64>> = (0..20).map(|i| vec![(i % 10) as f64, (i % 3) as f64]).collect();
//! let labels: Vec<bool> = (0..20).map(|i| i % 10 >= 5).collect();
//! let model = LogisticParams::default().check()?.fit(names, &rows, &labels)?;
//! assert!(model.probability(&[9.0, 1.0]) > 0.9);
//! assert!(model.probability(&[0.0, 1.0]) < 0.1);
//! # Ok::<(), loglynx_models::ModelError>(())
//! ```

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

use crate::error::{Inconsistency, ModelError, ParamError};

/// Hyperparameters of [`LogisticModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticParams {
    /// L2 penalty on the standardized coefficients (smartcore's `alpha`).
    pub alpha: f64,
    /// Fewest labelled rows to fit on.
    pub min_rows: usize,
    /// Fewest rows of each class to fit on.
    pub min_per_class: usize,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            alpha: 1.0,
            min_rows: 10,
            min_per_class: 3,
        }
    }
}

/// Checked [`LogisticParams`].
#[derive(Debug, Clone)]
pub struct ValidLogisticParams(LogisticParams);

impl LogisticParams {
    pub fn with_alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    pub fn check(self) -> Result<ValidLogisticParams, ParamError> {
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(ParamError::Alpha(self.alpha));
        }
        if self.min_per_class == 0 || self.min_rows < 2 * self.min_per_class {
            return Err(ParamError::MinRows {
                rows: self.min_rows,
                per_class: self.min_per_class,
            });
        }
        Ok(ValidLogisticParams(self))
    }
}

impl ValidLogisticParams {
    pub fn params(&self) -> &LogisticParams {
        &self.0
    }

    /// Whether `positives` and `negatives` are enough to fit on.
    pub fn enough(&self, positives: usize, negatives: usize) -> bool {
        positives + negatives >= self.0.min_rows
            && positives >= self.0.min_per_class
            && negatives >= self.0.min_per_class
    }

    /// Fits on `rows` (one value per name) with `labels` (true = positive).
    pub fn fit(&self, names: Vec<String>, rows: &[Vec<f64>], labels: &[bool]) -> Result<LogisticModel, ModelError> {
        let p = names.len();
        if p == 0 {
            return Err(ModelError::EmptyData("no features".into()));
        }
        if rows.len() != labels.len() {
            return Err(ModelError::EmptyData(format!(
                "{} rows but {} labels",
                rows.len(),
                labels.len()
            )));
        }
        for (i, r) in rows.iter().enumerate() {
            if r.len() != p {
                return Err(ModelError::FeatureCount {
                    expected: p,
                    got: r.len(),
                });
            }
            if let Some((j, &v)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(ModelError::NonFinite {
                    row: i,
                    column: j,
                    value: v,
                });
            }
        }
        let positives = labels.iter().filter(|&&l| l).count();
        let negatives = labels.len() - positives;
        if !self.enough(positives, negatives) {
            return Err(ModelError::TooFewRows {
                needed: self.0.min_rows.max(2 * self.0.min_per_class),
                got: labels.len(),
            });
        }
        let n = rows.len() as f64;
        let mean: Vec<f64> = (0..p).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n).collect();
        let scale: Vec<f64> = (0..p)
            .map(|j| {
                let var = rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
                // A constant column stays 0 after centring; any scale works.
                if var > 0.0 {
                    var.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        let standardized: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().enumerate().map(|(j, v)| (v - mean[j]) / scale[j]).collect())
            .collect();
        let x = DenseMatrix::from_2d_vec(&standardized).map_err(|e| ModelError::EmptyData(e.to_string()))?;
        let y: Vec<i32> = labels.iter().map(|&l| i32::from(l)).collect();
        let params = LogisticRegressionParameters::default().with_alpha(self.0.alpha);
        let fitted = LogisticRegression::fit(&x, &y, params)
            .map_err(|e| ModelError::EmptyData(format!("logistic regression: {e}")))?;
        // Classes are sorted, so the binary model's weights are for class 1.
        let coefficients: Vec<f64> = (0..p).map(|j| *fitted.coefficients().get((0, j))).collect();
        let intercept = *fitted.intercept().get((0, 0));
        let model = LogisticModel {
            names,
            mean,
            scale,
            coefficients,
            intercept,
            alpha: self.0.alpha,
            positives,
            negatives,
        };
        model.validate().map_err(|e| ModelError::EmptyData(e.to_string()))?;
        Ok(model)
    }
}

/// A fitted logistic regression: P(positive | features).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Feature names, in column order.
    pub names: Vec<String>,
    /// Training mean and standard deviation per feature.
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    /// Log-odds per standard deviation of each feature.
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    /// The L2 penalty it was fitted with.
    pub alpha: f64,
    /// Training rows of each class.
    pub positives: usize,
    pub negatives: usize,
}

impl LogisticModel {
    /// The standardized linear predictor (log-odds) of `x`.
    pub fn log_odds(&self, x: &[f64]) -> f64 {
        self.intercept
            + x.iter()
                .zip(&self.mean)
                .zip(&self.scale)
                .zip(&self.coefficients)
                .map(|(((v, m), s), c)| c * (v - m) / s)
                .sum::<f64>()
    }

    /// P(positive | x).
    pub fn probability(&self, x: &[f64]) -> f64 {
        1.0 / (1.0 + (-self.log_odds(x)).exp())
    }

    /// Each feature's share of `x`'s log-odds (coefficient × standardized
    /// value), largest magnitude first.
    pub fn contributions(&self, x: &[f64]) -> Vec<(&str, f64)> {
        largest_first(
            self.names
                .iter()
                .zip(x)
                .enumerate()
                .map(|(j, (n, v))| (n.as_str(), self.coefficients[j] * (v - self.mean[j]) / self.scale[j]))
                .collect(),
        )
    }

    /// Each feature's coefficient (log-odds per standard deviation),
    /// largest magnitude first.
    pub fn weights(&self) -> Vec<(&str, f64)> {
        largest_first(
            self.names
                .iter()
                .map(String::as_str)
                .zip(self.coefficients.iter().copied())
                .collect(),
        )
    }

    /// Lengths agree and every number is finite.
    pub fn validate(&self) -> Result<(), Inconsistency> {
        let p = self.names.len();
        for (what, len) in [
            ("mean", self.mean.len()),
            ("scale", self.scale.len()),
            ("coefficients", self.coefficients.len()),
        ] {
            if len != p {
                return Err(Inconsistency::Reranker(format!(
                    "{what} has {len} entries for {p} features"
                )));
            }
        }
        let finite = self
            .mean
            .iter()
            .chain(&self.coefficients)
            .chain([&self.intercept, &self.alpha])
            .all(|v| v.is_finite());
        if !finite || self.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Inconsistency::Reranker("non-finite or non-positive value".into()));
        }
        Ok(())
    }
}

/// Sorted by magnitude, largest first; ties by name.
fn largest_first(mut v: Vec<(&str, f64)>) -> Vec<(&str, f64)> {
    v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn names() -> Vec<String> {
        vec!["signal".into(), "constant".into()]
    }

    #[test]
    fn separable_classes_get_probabilities_on_the_right_side() {
        let rows: Vec<Vec<f64>> = (0..30).map(|i| vec![i as f64, 5.0]).collect();
        let labels: Vec<bool> = (0..30).map(|i| i >= 15).collect();
        let m = LogisticParams::default()
            .check()
            .unwrap()
            .fit(names(), &rows, &labels)
            .unwrap();
        assert!(m.coefficients[0] > 0.0);
        // A constant column carries no weight.
        assert_abs_diff_eq!(m.coefficients[1], 0.0, epsilon = 1e-9);
        assert!(m.probability(&[29.0, 5.0]) > 0.9);
        assert!(m.probability(&[0.0, 5.0]) < 0.1);
        assert_eq!((m.positives, m.negatives), (15, 15));
        assert_eq!(m.contributions(&[29.0, 5.0])[0].0, "signal");
    }

    #[test]
    fn stronger_penalty_shrinks_the_coefficients() {
        let rows: Vec<Vec<f64>> = (0..30).map(|i| vec![(i % 10) as f64, 1.0]).collect();
        let labels: Vec<bool> = (0..30).map(|i| i % 10 >= 4).collect();
        let fit = |alpha| {
            LogisticParams::default()
                .with_alpha(alpha)
                .check()
                .unwrap()
                .fit(names(), &rows, &labels)
                .unwrap()
        };
        assert!(fit(10.0).coefficients[0].abs() < fit(0.1).coefficients[0].abs());
    }

    #[test]
    fn too_few_of_a_class_is_refused() {
        let rows: Vec<Vec<f64>> = (0..12).map(|i| vec![i as f64, 0.0]).collect();
        let labels: Vec<bool> = (0..12).map(|i| i < 2).collect();
        let err = LogisticParams::default().check().unwrap().fit(names(), &rows, &labels);
        assert!(matches!(err, Err(ModelError::TooFewRows { .. })), "{err:?}");
    }

    #[test]
    fn bad_parameters_and_inconsistent_models_are_refused() {
        assert!(LogisticParams::default().with_alpha(-1.0).check().is_err());
        assert!(LogisticParams::default().with_alpha(f64::NAN).check().is_err());
        let rows: Vec<Vec<f64>> = (0..20).map(|i| vec![i as f64, 0.0]).collect();
        let labels: Vec<bool> = (0..20).map(|i| i >= 10).collect();
        let mut m = LogisticParams::default()
            .check()
            .unwrap()
            .fit(names(), &rows, &labels)
            .unwrap();
        m.scale[0] = 0.0;
        assert!(m.validate().is_err());
        m.scale[0] = 1.0;
        m.coefficients.pop();
        assert!(m.validate().is_err());
    }
}
