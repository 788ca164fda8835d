//! Per-feature preprocessing fitted on the baseline and saved with the model:
//! missing-value imputation, an optional `log1p` transform, then scaling.
//!
//! Missing values: NaN is replaced by the feature's baseline median (of the
//! raw, non-NaN values; 0 when the baseline has none), so a missing value
//! never looks unusual. ±∞ is refused as an error.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Inconsistency, ModelError, ParamError};
use crate::stats::{baseline_columns, check_ncols, matrix_by_rows, mean_std, BaselineColumn, QuantileParts};

/// Per-feature transform applied before scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Transform {
    #[default]
    None,
    /// `ln(1 + max(x, 0))`, for counts: negative values clamp to 0.
    Log1p,
}

impl Transform {
    #[inline]
    pub fn apply(self, v: f64) -> f64 {
        match self {
            Transform::None => v,
            Transform::Log1p => v.max(0.0).ln_1p(),
        }
    }
}

/// Scaling applied after the transform, fitted per feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Scaling {
    /// `(x − median) / IQR`; an IQR of 0 falls back to the standard
    /// deviation, then to 1.
    #[default]
    Robust,
    /// `(x − mean) / std`; a std of 0 falls back to 1.
    Standard,
    None,
}

/// Preprocessing hyperparameters. An empty `transforms` means
/// [`Transform::None`] for every feature.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PreprocessParams {
    pub transforms: Vec<Transform>,
    pub scaling: Scaling,
}

impl PreprocessParams {
    pub fn new(transforms: Vec<Transform>, scaling: Scaling) -> Self {
        Self { transforms, scaling }
    }

    /// Fits medians and scales on the baseline `x` (NaN allowed, ±∞ not).
    pub fn fit(&self, x: ArrayView2<f64>) -> Result<Preprocessor, ModelError> {
        let transforms = self.checked_transforms(x)?;
        Ok(self.fit_columns(transforms, &mut baseline_columns(x)))
    }

    /// [`PreprocessParams::fit`] from the columns of `x`, read already
    /// (their values may be reordered).
    pub(crate) fn fit_with_columns(
        &self,
        x: ArrayView2<f64>,
        columns: &mut [BaselineColumn],
    ) -> Result<Preprocessor, ModelError> {
        let transforms = self.checked_transforms(x)?;
        Ok(self.fit_columns(transforms, columns))
    }

    /// One transform per column of the baseline `x`, after checking it.
    fn checked_transforms(&self, x: ArrayView2<f64>) -> Result<Vec<Transform>, ModelError> {
        let (n, d) = x.dim();
        let transforms = if self.transforms.is_empty() {
            vec![Transform::None; d]
        } else if self.transforms.len() == d {
            self.transforms.clone()
        } else {
            return Err(ParamError::PerFeatureLength {
                what: "transforms",
                expected: d,
                got: self.transforms.len(),
            }
            .into());
        };
        if n == 0 {
            return Err(ModelError::EmptyData("no baseline rows to fit the preprocessor".into()));
        }
        check_no_infinity(&x)?;
        Ok(transforms)
    }

    fn fit_columns(&self, transforms: Vec<Transform>, columns: &mut [BaselineColumn]) -> Preprocessor {
        // Columns are independent: (fill, center, scale) of each in parallel.
        let stats: Vec<(f64, f64, f64)> = columns
            .par_iter_mut()
            .zip(&transforms)
            .map(|(column, &f)| {
                if column.values.is_empty() {
                    return (0.0, 0.0, 1.0);
                }
                // The transformed values, in the raw values' sorted order
                // (the transform is monotone): their mean and std are
                // summed in that order.
                let sorted_t = |raw: &mut Vec<f64>| {
                    raw.sort_unstable_by(f64::total_cmp);
                    raw.iter().map(|&v| f.apply(v)).collect::<Vec<f64>>()
                };
                // Quantiles in BASELINE_QUANTILES order: median, q25, q75.
                let q = &column.quantiles;
                match self.scaling {
                    Scaling::None => (q[0].value(), 0.0, 1.0),
                    Scaling::Robust => {
                        // Quantiles of the transformed values are those of
                        // the transformed order statistics.
                        let t = |p: QuantileParts| p.mapped(|v| f.apply(v));
                        let iqr = t(q[2]) - t(q[1]);
                        let s = if iqr > 0.0 {
                            iqr
                        } else {
                            positive_or_one(mean_std(&sorted_t(&mut column.values)).1)
                        };
                        (q[0].value(), t(q[0]), s)
                    }
                    Scaling::Standard => {
                        let fill = q[0].value();
                        let (m, s) = mean_std(&sorted_t(&mut column.values));
                        (fill, m, positive_or_one(s))
                    }
                }
            })
            .collect();
        let fill = stats.iter().map(|s| s.0).collect();
        let center = stats.iter().map(|s| s.1).collect();
        let scale = stats.iter().map(|s| s.2).collect();
        Preprocessor {
            transforms,
            scaling: self.scaling,
            fill,
            center,
            scale,
        }
    }
}

fn positive_or_one(s: f64) -> f64 {
    if s > 0.0 && s.is_finite() {
        s
    } else {
        1.0
    }
}

fn check_no_infinity(x: &ArrayView2<f64>) -> Result<(), ModelError> {
    for (row, r) in x.rows().into_iter().enumerate() {
        for (column, &value) in r.iter().enumerate() {
            if value.is_infinite() {
                return Err(ModelError::NonFinite { row, column, value });
            }
        }
    }
    Ok(())
}

/// Fitted preprocessing: impute NaN, transform, scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    transforms: Vec<Transform>,
    scaling: Scaling,
    fill: Vec<f64>,
    center: Vec<f64>,
    scale: Vec<f64>,
}

impl Preprocessor {
    pub fn n_features(&self) -> usize {
        self.transforms.len()
    }
    pub fn transforms(&self) -> &[Transform] {
        &self.transforms
    }
    pub fn scaling(&self) -> Scaling {
        self.scaling
    }
    /// Raw baseline medians that replace NaN.
    pub fn fill_values(&self) -> &[f64] {
        &self.fill
    }
    /// Per-feature center (median or mean of the transformed baseline).
    pub fn center(&self) -> &[f64] {
        &self.center
    }
    /// Per-feature divisor (IQR, std or 1).
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Preprocesses one value of feature `j`.
    #[inline]
    pub fn transform_value(&self, j: usize, v: f64) -> f64 {
        let v = if v.is_nan() { self.fill[j] } else { v };
        (self.transforms[j].apply(v) - self.center[j]) / self.scale[j]
    }

    /// Preprocesses a matrix (rows in parallel). Errors on a wrong column
    /// count or an infinite value.
    pub fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ModelError> {
        self.transform_rows(x, None)
    }

    /// Preprocesses the rows `rows` of `x` (all rows for `None`), in that
    /// order.
    pub(crate) fn transform_rows(&self, x: ArrayView2<f64>, rows: Option<&[usize]>) -> Result<Array2<f64>, ModelError> {
        let d = self.n_features();
        check_ncols(&x, d)?;
        check_no_infinity(&x)?;
        let n = rows.map_or(x.nrows(), <[usize]>::len);
        Ok(matrix_by_rows(n, d, |i, dst| {
            let row = x.row(rows.map_or(i, |r| r[i]));
            for (j, (o, &v)) in dst.iter_mut().zip(row.iter()).enumerate() {
                *o = self.transform_value(j, v);
            }
        }))
    }

    pub(crate) fn validate(&self) -> Result<(), Inconsistency> {
        let d = self.transforms.len();
        if self.fill.len() != d || self.center.len() != d || self.scale.len() != d {
            return Err(Inconsistency::PreprocessorLengths);
        }
        if self.scale.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(Inconsistency::PreprocessorScale);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    #[test]
    fn robust_scaling_uses_median_and_iqr() {
        let x = array![[1.0], [2.0], [3.0], [4.0], [5.0]];
        let p = PreprocessParams::new(vec![], Scaling::Robust).fit(x.view()).unwrap();
        assert_abs_diff_eq!(p.center()[0], 3.0);
        assert_abs_diff_eq!(p.scale()[0], 2.0);
        let t = p.transform(array![[3.0], [7.0]].view()).unwrap();
        assert_abs_diff_eq!(t[[0, 0]], 0.0);
        assert_abs_diff_eq!(t[[1, 0]], 2.0);
    }

    #[test]
    fn zero_iqr_falls_back_to_std_then_one() {
        // IQR 0 but one outlier: std of [0,0,0,0,0,0,0,10].
        let x = array![
            [0.0, 4.0],
            [0.0, 4.0],
            [0.0, 4.0],
            [0.0, 4.0],
            [0.0, 4.0],
            [0.0, 4.0],
            [0.0, 4.0],
            [10.0, 4.0]
        ];
        let p = PreprocessParams::new(vec![], Scaling::Robust).fit(x.view()).unwrap();
        let (_, std) = mean_std(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0]);
        assert_abs_diff_eq!(p.scale()[0], std, epsilon = 1e-12);
        assert_abs_diff_eq!(p.scale()[1], 1.0);
        let t = p.transform(x.view()).unwrap();
        assert!(t.iter().all(|v| v.is_finite()));
        assert_abs_diff_eq!(t[[0, 1]], 0.0);
    }

    #[test]
    fn log1p_clamps_negatives_and_standard_scaling() {
        let x = array![[-5.0, 1.0], [0.0, 2.0], [(1f64).exp() - 1.0, 3.0]];
        let p = PreprocessParams::new(vec![Transform::Log1p, Transform::None], Scaling::None)
            .fit(x.view())
            .unwrap();
        let t = p.transform(x.view()).unwrap();
        assert_abs_diff_eq!(t[[0, 0]], 0.0);
        assert_abs_diff_eq!(t[[1, 0]], 0.0);
        assert_abs_diff_eq!(t[[2, 0]], 1.0, epsilon = 1e-12);
        let s = PreprocessParams::new(vec![], Scaling::Standard).fit(x.view()).unwrap();
        let t = s.transform(x.view()).unwrap();
        assert_abs_diff_eq!(t.column(1).sum(), 0.0, epsilon = 1e-12);
        assert_abs_diff_eq!(t[[2, 1]], 1.0 / (2.0f64 / 3.0).sqrt(), epsilon = 1e-12);
    }

    #[test]
    fn nan_is_imputed_with_the_baseline_median() {
        let x = array![[1.0, f64::NAN], [2.0, f64::NAN], [9.0, f64::NAN], [f64::NAN, f64::NAN]];
        let p = PreprocessParams::new(vec![], Scaling::Robust).fit(x.view()).unwrap();
        assert_eq!(p.fill_values(), &[2.0, 0.0]);
        let t = p.transform(array![[f64::NAN, f64::NAN]].view()).unwrap();
        assert_abs_diff_eq!(t[[0, 0]], 0.0);
        assert_abs_diff_eq!(t[[0, 1]], 0.0);
    }

    #[test]
    fn errors() {
        let x = array![[1.0, 2.0], [3.0, 4.0]];
        let bad = PreprocessParams::new(vec![Transform::Log1p], Scaling::Robust).fit(x.view());
        assert!(matches!(
            bad,
            Err(ModelError::Param(ParamError::PerFeatureLength {
                expected: 2,
                got: 1,
                ..
            }))
        ));
        let p = PreprocessParams::default().fit(x.view()).unwrap();
        assert!(matches!(
            p.transform(array![[1.0]].view()),
            Err(ModelError::FeatureCount { expected: 2, got: 1 })
        ));
        assert!(matches!(
            p.transform(array![[1.0, f64::INFINITY]].view()),
            Err(ModelError::NonFinite { row: 0, column: 1, .. })
        ));
        assert!(matches!(
            PreprocessParams::default().fit(Array2::zeros((0, 2)).view()),
            Err(ModelError::EmptyData(_))
        ));
    }
}
