//! Calibration of raw scores against the baseline: a raw score becomes the
//! share of baseline scores below it, so scores of different models compare
//! ("rarer than 99.8% of the baseline").

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Inconsistency, ModelError};
use crate::stats::{quantile_sorted, thin_sorted};

/// Baseline scores kept; larger baselines keep this many evenly spaced quantiles.
pub const MAX_REFERENCE: usize = 100_000;

/// A sorted sample of baseline scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    reference: Vec<f64>,
    n_baseline: usize,
}

impl Calibration {
    /// Keeps all baseline scores (up to [`MAX_REFERENCE`], else that many
    /// evenly spaced quantiles). Errors on an empty slice or on NaN.
    pub fn fit(raw_baseline_scores: &[f64]) -> Result<Calibration, ModelError> {
        if raw_baseline_scores.is_empty() {
            return Err(ModelError::EmptyData("no baseline scores to calibrate on".into()));
        }
        if let Some(row) = raw_baseline_scores.iter().position(|v| v.is_nan()) {
            return Err(ModelError::NonFinite {
                row,
                column: 0,
                value: f64::NAN,
            });
        }
        let mut sorted = raw_baseline_scores.to_vec();
        sorted.par_sort_unstable_by(f64::total_cmp);
        Ok(Calibration {
            reference: thin_sorted(&sorted, MAX_REFERENCE),
            n_baseline: sorted.len(),
        })
    }

    /// Number of baseline scores the calibration was fitted on.
    pub fn n_baseline(&self) -> usize {
        self.n_baseline
    }

    /// The kept sample, ascending.
    pub fn reference(&self) -> &[f64] {
        &self.reference
    }

    /// Share of baseline scores strictly below `raw`, counting ties as half
    /// (mid-rank), in [0, 1]. NaN gives NaN.
    pub fn percentile(&self, raw: f64) -> f64 {
        if raw.is_nan() {
            return f64::NAN;
        }
        let r = &self.reference;
        let below = r.partition_point(|&v| v < raw);
        let not_above = r.partition_point(|&v| v <= raw);
        (below as f64 + 0.5 * (not_above - below) as f64) / r.len() as f64
    }

    /// Raw score at the `1 − rate` quantile of the baseline: about `rate` of
    /// the baseline scores lie above it. `rate` is clamped to [0, 1].
    pub fn threshold_for_contamination(&self, rate: f64) -> f64 {
        quantile_sorted(&self.reference, 1.0 - rate.clamp(0.0, 1.0))
    }

    pub(crate) fn validate(&self) -> Result<(), Inconsistency> {
        if self.reference.is_empty() || self.reference.iter().any(|v| v.is_nan()) {
            return Err(Inconsistency::CalibrationReference);
        }
        if self.reference.windows(2).any(|w| w[0] > w[1]) {
            return Err(Inconsistency::CalibrationUnsorted);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn percentiles_of_extremes_and_ties() {
        let scores: Vec<f64> = (0..1000).map(|i| i as f64 / 10.0).rev().collect();
        let c = Calibration::fit(&scores).unwrap();
        assert_abs_diff_eq!(c.percentile(99.9), 1.0, epsilon = 1e-3);
        assert_abs_diff_eq!(c.percentile(0.0), 0.0, epsilon = 1e-3);
        assert_eq!(c.percentile(1e9), 1.0);
        assert_eq!(c.percentile(-1.0), 0.0);
        assert_abs_diff_eq!(c.percentile(50.0), 0.5005, epsilon = 1e-12);
        // All ties: mid-rank.
        let flat = Calibration::fit(&[2.0; 10]).unwrap();
        assert_abs_diff_eq!(flat.percentile(2.0), 0.5);
        assert_eq!(flat.percentile(2.5), 1.0);
        assert!(c.percentile(f64::NAN).is_nan());
    }

    #[test]
    fn contamination_threshold() {
        let scores: Vec<f64> = (0..=100).map(f64::from).collect();
        let c = Calibration::fit(&scores).unwrap();
        assert_abs_diff_eq!(c.threshold_for_contamination(0.01), 99.0, epsilon = 1e-9);
        assert_abs_diff_eq!(c.threshold_for_contamination(0.5), 50.0, epsilon = 1e-9);
        let above = scores
            .iter()
            .filter(|&&s| s > c.threshold_for_contamination(0.1))
            .count();
        assert_eq!(above, 10);
    }

    #[test]
    fn large_baselines_are_thinned() {
        let scores: Vec<f64> = (0..250_000).map(|i| (i as f64).sqrt()).collect();
        let c = Calibration::fit(&scores).unwrap();
        assert_eq!(c.reference().len(), MAX_REFERENCE);
        assert_eq!(c.n_baseline(), 250_000);
        let q = scores[200_000];
        assert_abs_diff_eq!(c.percentile(q), 0.8, epsilon = 1e-4);
    }

    #[test]
    fn refuses_empty_and_nan() {
        assert!(matches!(Calibration::fit(&[]), Err(ModelError::EmptyData(_))));
        assert!(matches!(
            Calibration::fit(&[1.0, f64::NAN]),
            Err(ModelError::NonFinite { row: 1, .. })
        ));
    }
}
