//! Small numeric helpers shared by the modules.

use ndarray::ArrayView2;

use crate::error::ModelError;

/// Quantile `q` in [0, 1] of an ascending slice, linear interpolation between
/// order statistics (R type 7). NaN for an empty slice.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let frac = pos - lo as f64;
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}

/// The values sorted ascending, NaN dropped.
pub(crate) fn sorted_without_nan(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// `m` evenly spaced quantiles (0, 1/(m-1), ..., 1) of an ascending slice;
/// the slice itself when it has at most `m` values.
pub(crate) fn thin_sorted(sorted: &[f64], m: usize) -> Vec<f64> {
    if sorted.len() <= m {
        return sorted.to_vec();
    }
    if m == 1 {
        return vec![quantile_sorted(sorted, 0.5)];
    }
    (0..m)
        .map(|i| quantile_sorted(sorted, i as f64 / (m - 1) as f64))
        .collect()
}

/// Mean and population standard deviation; (0, 0) for an empty slice.
pub(crate) fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Error for the first non-finite value in row-major order.
pub(crate) fn check_finite(x: &ArrayView2<f64>) -> Result<(), ModelError> {
    for (row, r) in x.rows().into_iter().enumerate() {
        for (column, &value) in r.iter().enumerate() {
            if !value.is_finite() {
                return Err(ModelError::NonFinite { row, column, value });
            }
        }
    }
    Ok(())
}

/// Error unless `x` has `expected` columns.
pub(crate) fn check_ncols(x: &ArrayView2<f64>, expected: usize) -> Result<(), ModelError> {
    if x.ncols() != expected {
        return Err(ModelError::FeatureCount {
            expected,
            got: x.ncols(),
        });
    }
    Ok(())
}

/// Squared Euclidean distance.
#[inline]
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_relative_eq!(quantile_sorted(&v, 0.5), 3.0);
        assert_relative_eq!(quantile_sorted(&v, 0.25), 2.0);
        assert_relative_eq!(quantile_sorted(&v, 0.9), 4.6);
        assert_relative_eq!(quantile_sorted(&v, 0.0), 1.0);
        assert_relative_eq!(quantile_sorted(&v, 1.0), 5.0);
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }

    #[test]
    fn thinning_keeps_extremes() {
        let v: Vec<f64> = (0..1001).map(f64::from).collect();
        let t = thin_sorted(&v, 11);
        assert_eq!(t.len(), 11);
        assert_relative_eq!(t[0], 0.0);
        assert_relative_eq!(t[5], 500.0);
        assert_relative_eq!(t[10], 1000.0);
    }
}
