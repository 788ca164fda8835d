//! Per-row explanations: which raw features deviate most from the baseline.
//!
//! The robust deviation of feature `j` is `|value − median| / scale` with
//! `scale = max(IQR, 0.5·|p99 − median|, 1e-6)`: the floor keeps sparse
//! counts (IQR 0) from ranking a value inside the baseline's p99 as extreme.
//! With [`Direction::High`] (the default: counts, where an unusually low
//! value is no security signal) only values above the median count.

use std::fmt;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, ParamError};
use crate::stats::{baseline_columns, check_ncols, BaselineColumn};

const SCALE_FLOOR_REL: f64 = 0.5;
const SCALE_FLOOR_ABS: f64 = 1e-6;

/// Which deviations from the baseline median explain an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Direction {
    /// Only values above the median.
    #[default]
    High,
    /// Values above or below the median.
    Both,
}

/// Baseline statistics of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    pub name: String,
    pub median: f64,
    pub iqr: f64,
    pub p99: f64,
    pub direction: Direction,
}

impl FeatureStats {
    /// Divisor of the robust deviation.
    pub fn scale(&self) -> f64 {
        self.iqr
            .max(SCALE_FLOOR_REL * (self.p99 - self.median).abs())
            .max(SCALE_FLOOR_ABS)
    }

    /// Robust deviation of `value` in the feature's direction (0 when it is
    /// not anomalous in that direction, or NaN).
    pub fn deviation(&self, value: f64) -> f64 {
        if value.is_nan() {
            return 0.0;
        }
        let delta = match self.direction {
            Direction::High => (value - self.median).max(0.0),
            Direction::Both => (value - self.median).abs(),
        };
        delta / self.scale()
    }
}

/// One feature's part in a row's explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub feature: String,
    pub value: f64,
    pub baseline_median: f64,
    pub baseline_p99: f64,
    /// Robust deviation, in baseline scales (see the module docs).
    pub deviation: f64,
}

impl fmt::Display for Contribution {
    /// `failures = 27 (baseline p99 = 2)`; a value below the median is
    /// shown against the median instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value < self.baseline_median {
            write!(
                f,
                "{} = {} (baseline median = {})",
                self.feature,
                num(self.value),
                num(self.baseline_median)
            )
        } else {
            write!(
                f,
                "{} = {} (baseline p99 = {})",
                self.feature,
                num(self.value),
                num(self.baseline_p99)
            )
        }
    }
}

/// Short human form of a number: integers without decimals, others with at
/// most 3 decimals (scientific notation for tiny or huge values).
fn num(v: f64) -> String {
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e15 {
        format!("{v:.0}")
    } else if a != 0.0 && !(1e-3..1e15).contains(&a) {
        format!("{v:.2e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Baseline statistics of every feature, to explain scored rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explainer {
    features: Vec<FeatureStats>,
}

impl Explainer {
    /// Fits median, IQR and p99 of each raw column (NaN ignored), with
    /// [`Direction::High`] for every feature.
    pub fn fit(x_raw: ArrayView2<f64>, names: &[String]) -> Result<Explainer, ModelError> {
        Self::fit_with_directions(x_raw, names, &[])
    }

    /// As [`Explainer::fit`], with one direction per feature (empty = all High).
    pub fn fit_with_directions(
        x_raw: ArrayView2<f64>,
        names: &[String],
        directions: &[Direction],
    ) -> Result<Explainer, ModelError> {
        Self::check_baseline(x_raw, names, directions)?;
        Ok(Self::from_columns(names, directions, &baseline_columns(x_raw)))
    }

    /// [`Explainer::fit_with_directions`] from the columns of `x_raw`, read
    /// already.
    pub(crate) fn fit_with_columns(
        x_raw: ArrayView2<f64>,
        names: &[String],
        directions: &[Direction],
        columns: &[BaselineColumn],
    ) -> Result<Explainer, ModelError> {
        Self::check_baseline(x_raw, names, directions)?;
        Ok(Self::from_columns(names, directions, columns))
    }

    fn check_baseline(x_raw: ArrayView2<f64>, names: &[String], directions: &[Direction]) -> Result<(), ModelError> {
        check_ncols(&x_raw, names.len())?;
        if !directions.is_empty() && directions.len() != names.len() {
            return Err(ParamError::PerFeatureLength {
                what: "directions",
                expected: names.len(),
                got: directions.len(),
            }
            .into());
        }
        if x_raw.nrows() == 0 {
            return Err(ModelError::EmptyData("no baseline rows to fit the explainer".into()));
        }
        Ok(())
    }

    fn from_columns(names: &[String], directions: &[Direction], columns: &[BaselineColumn]) -> Explainer {
        let features = columns
            .iter()
            .enumerate()
            .map(|(j, c)| {
                // Quantiles in BASELINE_QUANTILES order: median, q25, q75, p99.
                let q = |i: usize| c.quantiles.get(i).map_or(0.0, |p| p.value());
                FeatureStats {
                    name: names[j].clone(),
                    median: q(0),
                    iqr: q(2) - q(1),
                    p99: q(3),
                    direction: directions.get(j).copied().unwrap_or_default(),
                }
            })
            .collect();
        Explainer { features }
    }

    pub fn features(&self) -> &[FeatureStats] {
        &self.features
    }

    /// The `top_n` features with the largest positive deviation, largest
    /// first (ties in feature order). Features not deviating in their
    /// direction are left out, so the list may be shorter.
    pub fn explain(&self, row_raw: &[f64], top_n: usize) -> Result<Vec<Contribution>, ModelError> {
        if row_raw.len() != self.features.len() {
            return Err(ModelError::FeatureCount {
                expected: self.features.len(),
                got: row_raw.len(),
            });
        }
        let mut devs: Vec<(usize, f64)> = row_raw
            .iter()
            .zip(&self.features)
            .map(|(&v, s)| s.deviation(v))
            .enumerate()
            .filter(|&(_, d)| d > 0.0)
            .collect();
        devs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(devs
            .into_iter()
            .take(top_n)
            .map(|(j, deviation)| {
                let s = &self.features[j];
                Contribution {
                    feature: s.name.clone(),
                    value: row_raw[j],
                    baseline_median: s.median,
                    baseline_p99: s.p99,
                    deviation,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::Array2;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// 200 rows: failures in 0..=2, events 10..=29, success_ratio 0.8..0.99.
    fn baseline() -> Array2<f64> {
        Array2::from_shape_fn((200, 3), |(i, j)| match j {
            0 => (i % 3) as f64,
            1 => 10.0 + (i % 20) as f64,
            _ => 0.8 + (i % 20) as f64 / 100.0,
        })
    }

    #[test]
    fn names_the_inflated_feature() {
        let e = Explainer::fit_with_directions(
            baseline().view(),
            &names(&["failures", "events", "success_ratio"]),
            &[Direction::High, Direction::High, Direction::Both],
        )
        .unwrap();
        let c = e.explain(&[27.0, 20.0, 0.9], 3).unwrap();
        assert_eq!(c[0].feature, "failures");
        assert_abs_diff_eq!(c[0].baseline_p99, 2.0);
        assert_eq!(c[0].to_string(), "failures = 27 (baseline p99 = 2)");
        assert!(c.len() <= 3);
        // A ratio far below the median is reported with Direction::Both.
        let c = e.explain(&[1.0, 19.0, 0.1], 1).unwrap();
        assert_eq!(c[0].feature, "success_ratio");
        assert_eq!(c[0].to_string(), "success_ratio = 0.1 (baseline median = 0.895)");
    }

    #[test]
    fn low_counts_are_not_drivers() {
        let e = Explainer::fit(baseline().view(), &names(&["failures", "events", "success_ratio"])).unwrap();
        let c = e.explain(&[0.0, 0.0, 0.0], 3).unwrap();
        assert!(c.is_empty(), "{c:?}");
        // NaN is never a driver.
        let c = e.explain(&[f64::NAN, 40.0, 0.9], 3).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].feature, "events");
    }

    #[test]
    fn sparse_counts_use_the_p99_floor() {
        // 97% zeros, a few 1..3: IQR 0.
        let x = Array2::from_shape_fn((100, 1), |(i, _)| if i < 97 { 0.0 } else { (i - 96) as f64 });
        let e = Explainer::fit(x.view(), &names(&["sudo_failures"])).unwrap();
        let s = &e.features()[0];
        assert_eq!(s.iqr, 0.0);
        assert_abs_diff_eq!(s.scale(), 0.5 * s.p99, epsilon = 1e-12);
        assert!(s.deviation(s.p99) <= 2.0 + 1e-12);
    }

    #[test]
    fn errors_and_formatting() {
        let e = Explainer::fit(baseline().view(), &names(&["a", "b", "c"])).unwrap();
        assert!(matches!(
            e.explain(&[1.0], 3),
            Err(ModelError::FeatureCount { expected: 3, got: 1 })
        ));
        assert!(matches!(
            Explainer::fit(baseline().view(), &names(&["a"])),
            Err(ModelError::FeatureCount { expected: 1, got: 3 })
        ));
        assert_eq!(num(3600.0), "3600");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(2.0 / 3.0), "0.667");
        assert_eq!(num(1e-5), "1.00e-5");
    }
}
