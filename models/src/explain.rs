//! Per-row explanations: which raw features lie outside the baseline's
//! range, and which way.
//!
//! A feature drives an explanation only when its value is outside the
//! baseline's range: above its p99 ("unusually high"), or, with
//! [`Direction::Both`], below its p1 ("unusually low"). With
//! [`Direction::High`] (the default: counts, where an unusually low value
//! is no security signal) low values never drive. A value inside the range
//! did not make the row unusual on its own, so it is not shown; a row
//! unusual only by its combination of features has no drivers.
//!
//! Drivers are ranked by their robust deviation `|value − median| / scale`
//! with `scale = max(IQR, 0.5·|bound − median|, 1e-6)`, `bound` the p99 or
//! p1 passed: the floor keeps sparse counts (IQR 0) from ranking every
//! value as extreme.

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
    pub p1: f64,
    pub direction: Direction,
}

/// What an anomaly without drivers is explained by.
pub const NO_SINGLE_DRIVER: &str = "no single feature outside its baseline range: the combination is unusual";

/// Which side of the baseline's range a driver is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Above the baseline's p99.
    High,
    /// Below the baseline's p1.
    Low,
}

impl FeatureStats {
    /// The side of the baseline's range `value` is outside of, in the
    /// feature's direction, with its robust deviation (see the module
    /// docs); `None` inside the range, or NaN.
    pub fn driver(&self, value: f64) -> Option<(Side, f64)> {
        let (side, bound) = if value > self.p99 && value > self.median {
            (Side::High, self.p99)
        } else if self.direction == Direction::Both && value < self.p1 && value < self.median {
            (Side::Low, self.p1)
        } else {
            return None;
        };
        let scale = self
            .iqr
            .max(SCALE_FLOOR_REL * (bound - self.median).abs())
            .max(SCALE_FLOOR_ABS);
        Some((side, (value - self.median).abs() / scale))
    }
}

/// One feature's part in a row's explanation: a value outside the
/// baseline's range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub feature: String,
    pub value: f64,
    pub side: Side,
    pub baseline_median: f64,
    /// The bound passed: the baseline's p99 ([`Side::High`]) or p1
    /// ([`Side::Low`]).
    pub baseline_bound: f64,
    /// Robust deviation, in baseline scales (see the module docs).
    pub deviation: f64,
}

impl fmt::Display for Contribution {
    /// `failures = 27, unusually high (baseline p99 = 2)` or
    /// `success_ratio = 0.1, unusually low (baseline p1 = 0.6)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (how, quantile) = match self.side {
            Side::High => ("high", "p99"),
            Side::Low => ("low", "p1"),
        };
        write!(
            f,
            "{} = {}, unusually {how} (baseline {quantile} = {})",
            self.feature,
            num(self.value),
            num(self.baseline_bound)
        )
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
    /// Fits median, IQR, p1 and p99 of each raw column (NaN ignored), with
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
                // Quantiles in BASELINE_QUANTILES order: median, q25, q75, p99, p1.
                let q = |i: usize| c.quantiles.get(i).map_or(0.0, |p| p.value());
                FeatureStats {
                    name: names[j].clone(),
                    median: q(0),
                    iqr: q(2) - q(1),
                    p99: q(3),
                    p1: q(4),
                    direction: directions.get(j).copied().unwrap_or_default(),
                }
            })
            .collect();
        Explainer { features }
    }

    pub fn features(&self) -> &[FeatureStats] {
        &self.features
    }

    /// The `top_n` features outside the baseline's range in their
    /// direction, the largest deviation first (ties in feature order); the
    /// list may be shorter, or empty.
    pub fn explain(&self, row_raw: &[f64], top_n: usize) -> Result<Vec<Contribution>, ModelError> {
        if row_raw.len() != self.features.len() {
            return Err(ModelError::FeatureCount {
                expected: self.features.len(),
                got: row_raw.len(),
            });
        }
        let mut devs: Vec<(usize, Side, f64)> = row_raw
            .iter()
            .zip(&self.features)
            .enumerate()
            .filter_map(|(j, (&v, s))| s.driver(v).map(|(side, d)| (j, side, d)))
            .collect();
        devs.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        Ok(devs
            .into_iter()
            .take(top_n)
            .map(|(j, side, deviation)| {
                let s = &self.features[j];
                Contribution {
                    feature: s.name.clone(),
                    value: row_raw[j],
                    side,
                    baseline_median: s.median,
                    baseline_bound: match side {
                        Side::High => s.p99,
                        Side::Low => s.p1,
                    },
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
        // Events 20 and the ratio 0.9 are inside the baseline's range.
        let c = e.explain(&[27.0, 20.0, 0.9], 3).unwrap();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].feature, "failures");
        assert_eq!(c[0].side, Side::High);
        assert_abs_diff_eq!(c[0].baseline_bound, 2.0);
        assert_eq!(c[0].to_string(), "failures = 27, unusually high (baseline p99 = 2)");
        // A ratio far below the baseline is reported with Direction::Both,
        // against the baseline's p1.
        let c = e.explain(&[1.0, 19.0, 0.1], 3).unwrap();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].side, Side::Low);
        assert_eq!(
            c[0].to_string(),
            "success_ratio = 0.1, unusually low (baseline p1 = 0.8)"
        );
    }

    /// Issue 18: `distinct_users = 2 (baseline p99 = 7.46)` was given as
    /// the reason a host was unusual.
    #[test]
    fn a_value_inside_the_baseline_range_is_never_a_driver_nor_printed_against_p99() {
        // distinct_users 1..=8, median 4.5.
        let x = Array2::from_shape_fn((200, 2), |(i, j)| if j == 0 { (1 + i % 8) as f64 } else { 0.5 });
        let e = Explainer::fit_with_directions(
            x.view(),
            &names(&["distinct_users", "ratio"]),
            &[Direction::High, Direction::Both],
        )
        .unwrap();
        for v in [1.0, 2.0, 6.0, 8.0] {
            assert!(e.explain(&[v, 0.5], 3).unwrap().is_empty(), "{v}");
        }
        let c = e.explain(&[9.0, 0.5], 3).unwrap();
        assert_eq!(
            c[0].to_string(),
            "distinct_users = 9, unusually high (baseline p99 = 8)"
        );
        // Below the range: only a feature read both ways, and never
        // against the p99.
        assert!(e.explain(&[0.0, 0.5], 3).unwrap().is_empty());
        let c = e.explain(&[4.0, 0.2], 3).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].to_string(), "ratio = 0.2, unusually low (baseline p1 = 0.5)");
        assert!(!c[0].to_string().contains("p99"));
    }

    #[test]
    fn low_counts_are_not_drivers() {
        let e = Explainer::fit(baseline().view(), &names(&["failures", "events", "success_ratio"])).unwrap();
        let c = e.explain(&[0.0, 0.0, 0.0], 3).unwrap();
        assert!(c.is_empty(), "{c:?}");
        // NaN is never a driver.
        let c = e.explain(&[f64::NAN, 40.0, 0.9], 3).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].feature, "events");
    }

    #[test]
    fn sparse_counts_use_the_p99_floor() {
        // 97% zeros, a few 1..3: IQR 0.
        let x = Array2::from_shape_fn((100, 1), |(i, _)| if i < 97 { 0.0 } else { (i - 96) as f64 });
        let e = Explainer::fit(x.view(), &names(&["sudo_failures"])).unwrap();
        let s = &e.features()[0];
        assert_eq!(s.iqr, 0.0);
        assert_eq!(s.driver(s.p99), None);
        let (side, d) = s.driver(2.0 * s.p99).unwrap();
        assert_eq!(side, Side::High);
        // (2·p99 − median 0) / (0.5·p99).
        assert_abs_diff_eq!(d, 4.0, epsilon = 1e-12);
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
