//! Small numeric helpers shared by the modules.

use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;

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

/// Rows filled per parallel task by [`matrix_by_rows`].
const FILL_CHUNK_ROWS: usize = 4096;

/// An `n`×`d` matrix whose row `i` is written by `fill(i, row)`, rows in
/// parallel.
pub fn matrix_by_rows(n: usize, d: usize, fill: impl Fn(usize, &mut [f64]) + Sync) -> Array2<f64> {
    let mut out = vec![0.0; n * d];
    if d > 0 {
        out.par_chunks_mut(FILL_CHUNK_ROWS * d)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (k, row) in chunk.chunks_mut(d).enumerate() {
                    fill(c * FILL_CHUNK_ROWS + k, row);
                }
            });
    }
    Array2::from_shape_vec((n, d), out).expect("shape matches the buffer")
}

/// For each quantile in `qs`, the two order statistics of `values`
/// (NaN-free) that [`quantile_sorted`] interpolates between, and the
/// fraction: found by selecting only those order statistics (see
/// [`select_ranks`]) instead of a sort. Reorders `values`; empty `values`
/// give NaN.
pub(crate) fn quantile_parts(values: &mut [f64], qs: &[f64]) -> Vec<QuantileParts> {
    let n = values.len();
    if n <= 1 {
        let v = values.first().copied().unwrap_or(f64::NAN);
        return vec![
            QuantileParts {
                lo: v,
                hi: None,
                frac: 0.0
            };
            qs.len()
        ];
    }
    let at: Vec<(usize, usize, f64)> = qs
        .iter()
        .map(|&q| {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            (lo, (lo + 1).min(n - 1), pos - lo as f64)
        })
        .collect();
    let mut ranks: Vec<usize> = at.iter().flat_map(|&(lo, hi, _)| [lo, hi]).collect();
    ranks.sort_unstable();
    ranks.dedup();
    let mut stats = vec![f64::NAN; ranks.len()];
    select_ranks(values, 0, &ranks, &mut stats);
    let stat = |r: usize| stats[ranks.binary_search(&r).expect("every rank was selected")];
    at.iter()
        .map(|&(lo, hi, frac)| QuantileParts {
            lo: stat(lo),
            hi: Some(stat(hi)),
            frac,
        })
        .collect()
}

/// A quantile as the two order statistics around it and the fraction
/// between them; `hi` is `None` for a single value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuantileParts {
    pub lo: f64,
    pub hi: Option<f64>,
    pub frac: f64,
}

impl QuantileParts {
    /// The quantile of the values mapped by the monotone `f`, with the
    /// arithmetic of [`quantile_sorted`].
    pub fn mapped(self, f: impl Fn(f64) -> f64) -> f64 {
        let lo = f(self.lo);
        match self.hi {
            Some(hi) => lo + (f(hi) - lo) * self.frac,
            None => lo,
        }
    }

    pub fn value(self) -> f64 {
        self.mapped(|v| v)
    }
}

/// Selects the order statistics `ranks` (ascending, distinct, offset by
/// `offset` into `values`) into `out`: the middle rank first, then the
/// lower ranks in the part below it and the higher ones in the part above,
/// so each value is looked at about log(ranks) times; a rank right after a
/// selected one is the minimum of the rest (select's fast path).
fn select_ranks(values: &mut [f64], offset: usize, ranks: &[usize], out: &mut [f64]) {
    if ranks.is_empty() {
        return;
    }
    let mid = ranks.len() / 2;
    let r = ranks[mid] - offset;
    let (below, v, above) = values.select_nth_unstable_by(r, f64::total_cmp);
    out[mid] = *v;
    let (out_below, rest) = out.split_at_mut(mid);
    select_ranks(below, offset, &ranks[..mid], out_below);
    select_ranks(above, offset + r + 1, &ranks[mid + 1..], &mut rest[1..]);
}

/// [`quantile_sorted`] of the sorted `values` (NaN-free), by selection
/// (see [`quantile_parts`]).
pub(crate) fn quantiles_unsorted(values: &mut [f64], qs: &[f64]) -> Vec<f64> {
    quantile_parts(values, qs)
        .into_iter()
        .map(QuantileParts::value)
        .collect()
}

/// The quantiles whose order statistics [`baseline_columns`] selects: the
/// median, the quartiles, p99 and p1.
pub(crate) const BASELINE_QUANTILES: [f64; 5] = [0.5, 0.25, 0.75, 0.99, 0.01];

/// One baseline column, read once for the preprocessor and the explainer.
#[derive(Debug, Clone)]
pub(crate) struct BaselineColumn {
    /// The column's values but NaN, in no particular order.
    pub values: Vec<f64>,
    /// Parts of [`BASELINE_QUANTILES`], in that order; empty without values.
    pub quantiles: Vec<QuantileParts>,
}

/// The columns of `x`, with their quantiles. Each thread copies a group
/// of columns in one row-major pass (a column of a row-major matrix is a
/// cache miss per value).
pub(crate) fn baseline_columns(x: ArrayView2<f64>) -> Vec<BaselineColumn> {
    let mut columns: Vec<Vec<f64>> = (0..x.ncols()).map(|_| Vec::with_capacity(x.nrows())).collect();
    let per_group = x.ncols().div_ceil(rayon::current_num_threads()).max(1);
    columns.par_chunks_mut(per_group).enumerate().for_each(|(g, group)| {
        let from = g * per_group;
        for row in x.slice(s![.., from..from + group.len()]).rows() {
            for (c, &v) in group.iter_mut().zip(row.iter()) {
                if !v.is_nan() {
                    c.push(v);
                }
            }
        }
    });
    columns
        .into_par_iter()
        .map(|mut values| {
            let quantiles = if values.is_empty() {
                Vec::new()
            } else {
                quantile_parts(&mut values, &BASELINE_QUANTILES)
            };
            BaselineColumn { values, quantiles }
        })
        .collect()
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
    fn quantiles_by_selection_equal_quantiles_of_the_sorted_values() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let qs = [0.5, 0.25, 0.75, 0.99, 0.0, 1.0, 0.1];
        for n in [0, 1, 2, 3, 10, 101, 5000] {
            // Many ties (small counts) and signed zeros, as in feature columns.
            let values: Vec<f64> = (0..n)
                .map(|i| match i % 4 {
                    0 => f64::from(rng.gen_range(0..5)),
                    1 => -0.0,
                    _ => rng.gen_range(-3.0..1e6),
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            let mut v = values.clone();
            let got = quantiles_unsorted(&mut v, &qs);
            for (q, g) in qs.iter().zip(got) {
                let want = quantile_sorted(&sorted, *q);
                assert!(
                    want.to_bits() == g.to_bits() || (want.is_nan() && g.is_nan()),
                    "n={n} q={q}: {g} != {want}"
                );
            }
        }
    }

    #[test]
    fn baseline_columns_hold_each_column_without_nan_in_row_order() {
        // Five columns: groups of columns per thread do not divide evenly.
        let x = Array2::from_shape_fn((7, 5), |(i, j)| {
            if (i + j) % 4 == 0 {
                f64::NAN
            } else {
                (i * 10 + j) as f64
            }
        });
        let columns = baseline_columns(x.view());
        assert_eq!(columns.len(), 5);
        for (j, c) in columns.iter().enumerate() {
            let mut want: Vec<f64> = x.column(j).iter().copied().filter(|v| !v.is_nan()).collect();
            let mut got = c.values.clone();
            // Quantile selection reorders the values.
            want.sort_by(f64::total_cmp);
            got.sort_by(f64::total_cmp);
            assert_eq!(got, want, "column {j}");
            assert_eq!(c.quantiles.len(), BASELINE_QUANTILES.len());
        }
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
