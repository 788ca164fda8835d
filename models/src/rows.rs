//! Baseline rows with repeats stored once.
//!
//! Entity-windows repeat the same feature vector often (one cron session an
//! hour, one scanner probe): on 10M generated events, 612k of 3.1M rows are
//! distinct. Every model part is a function of the row, so each distinct
//! row is preprocessed and scored once; only fitting's samples and the
//! baseline distributions (calibration, cluster distances) count repeats.

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::error::ModelError;

/// Row `i` of the logical matrix is `x.row(of_row[i])`; without `of_row`,
/// the rows of `x` themselves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub x: ArrayView2<'a, f64>,
    pub of_row: Option<&'a [u32]>,
}

impl<'a> Rows<'a> {
    pub fn all(x: ArrayView2<'a, f64>) -> Self {
        Rows { x, of_row: None }
    }

    /// Logical row count.
    pub fn len(&self) -> usize {
        self.of_row.map_or(self.x.nrows(), <[u32]>::len)
    }

    /// Row of `x` holding logical row `i`.
    pub fn stored(&self, i: usize) -> usize {
        self.of_row.map_or(i, |m| m[i] as usize)
    }

    pub fn row(&self, i: usize) -> ArrayView1<'_, f64> {
        self.x.row(self.stored(i))
    }

    /// A per-stored-row vector as one value per logical row.
    pub fn expand<T: Copy + Send + Sync>(&self, per_stored: &[T]) -> Vec<T> {
        match self.of_row {
            Some(m) => expand(m, per_stored),
            None => per_stored.to_vec(),
        }
    }

    /// `e` naming the caller's row (see [`logical_error`]).
    pub fn logical_error(&self, e: ModelError) -> ModelError {
        match self.of_row {
            Some(m) => logical_error(m, e),
            None => e,
        }
    }
}

/// One value per logical row from one per stored row.
pub(crate) fn expand<T: Copy + Send + Sync>(of_row: &[u32], per_stored: &[T]) -> Vec<T> {
    of_row.par_iter().map(|&k| per_stored[k as usize]).collect()
}

/// `e` with a stored row index replaced by the first logical row stored
/// there, so errors name the caller's row.
pub(crate) fn logical_error(of_row: &[u32], e: ModelError) -> ModelError {
    match e {
        ModelError::NonFinite { row, column, value } => ModelError::NonFinite {
            row: of_row.iter().position(|&k| k as usize == row).unwrap_or(row),
            column,
            value,
        },
        e => e,
    }
}

/// The distinct rows of a matrix (bitwise equal values), in order of first
/// appearance.
#[derive(Debug, Clone)]
pub(crate) struct DistinctRows {
    /// Row of the input where each distinct row first appears.
    pub first: Vec<usize>,
    /// For each input row, its distinct row.
    pub of_row: Vec<u32>,
}

impl DistinctRows {
    pub fn of(x: ArrayView2<f64>) -> DistinctRows {
        DistinctRows::of_hashed(x, row_hash)
    }

    /// Rows sorted by (hash, index) put equal rows side by side, the first
    /// appearance first.
    fn of_hashed(x: ArrayView2<f64>, hash: impl Fn(ArrayView1<f64>) -> u64 + Sync) -> DistinctRows {
        let n = x.nrows();
        assert!(n <= u32::MAX as usize, "more than 2^32 rows");
        let mut by_hash: Vec<(u64, u32)> = (0..n).into_par_iter().map(|i| (hash(x.row(i)), i as u32)).collect();
        by_hash.par_sort_unstable();
        // First taking the rows of one hash for one row, then checking that
        // in row order (the rows are read in order, not at random); rows
        // whose hashes collide are told apart by comparing them.
        let mut head_of = vec![0u32; n];
        for run in by_hash.chunk_by(|a, b| a.0 == b.0) {
            for &(_, i) in run {
                head_of[i as usize] = run[0].1;
            }
        }
        let collided = head_of
            .par_iter()
            .enumerate()
            .any(|(i, &h)| !bits_eq(x.row(i), x.row(h as usize)));
        if collided {
            head_of = first_equal_rows(x, &by_hash);
        }
        drop(by_hash);
        // Distinct rows are numbered in order of first appearance.
        let mut first = Vec::new();
        let mut id_of_head = vec![0u32; n];
        for (i, &head) in head_of.iter().enumerate() {
            if head as usize == i {
                id_of_head[i] = first.len() as u32;
                first.push(i);
            }
        }
        let of_row = head_of.par_iter().map(|&h| id_of_head[h as usize]).collect();
        DistinctRows { first, of_row }
    }
}

/// For each row, the first row bitwise equal to it, from the rows sorted by
/// (hash, index): each run of one hash compares its rows.
fn first_equal_rows(x: ArrayView2<f64>, by_hash: &[(u64, u32)]) -> Vec<u32> {
    let firsts: Vec<(u32, u32)> = by_hash
        .par_chunk_by(|a, b| a.0 == b.0)
        .flat_map_iter(|run| {
            let mut heads: Vec<u32> = Vec::new();
            run.iter().map(move |&(_, i)| {
                let row = x.row(i as usize);
                let head = match heads.iter().find(|&&h| bits_eq(x.row(h as usize), row)) {
                    Some(&h) => h,
                    None => {
                        heads.push(i);
                        i
                    }
                };
                (i, head)
            })
        })
        .collect();
    let mut head_of = vec![0u32; x.nrows()];
    for (i, head) in firsts {
        head_of[i as usize] = head;
    }
    head_of
}

fn row_hash(row: ArrayView1<f64>) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let h = row
        .iter()
        .fold(0u64, |h, v| (h.rotate_left(26) ^ v.to_bits()).wrapping_mul(K));
    h ^ (h >> 29)
}

fn bits_eq(a: ArrayView1<f64>, b: ArrayView1<f64>) -> bool {
    a.iter().zip(b.iter()).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn repeated_rows_are_stored_once_in_first_appearance_order() {
        let x = array![[1.0, 0.0], [2.0, f64::NAN], [1.0, 0.0], [1.0, -0.0], [2.0, f64::NAN]];
        let d = DistinctRows::of(x.view());
        // -0.0 and 0.0 differ bitwise: kept apart (transforms may tell them apart).
        assert_eq!(d.first, vec![0, 1, 3]);
        assert_eq!(d.of_row, vec![0, 1, 0, 2, 1]);
        let stored = x.select(ndarray::Axis(0), &d.first);
        let rows = Rows {
            x: stored.view(),
            of_row: Some(&d.of_row),
        };
        assert_eq!(rows.len(), 5);
        for i in 0..5 {
            assert!(bits_eq(rows.row(i), x.row(i)));
        }
        assert_eq!(rows.expand(&[10, 20, 30]), vec![10, 20, 10, 30, 20]);
    }

    #[test]
    fn rows_whose_hashes_collide_are_still_told_apart() {
        let x = array![[1.0, 0.0], [2.0, 5.0], [1.0, 0.0], [3.0, 3.0], [2.0, 5.0], [3.0, 3.0]];
        let d = DistinctRows::of_hashed(x.view(), |_| 7);
        assert_eq!(d.first, vec![0, 1, 3]);
        assert_eq!(d.of_row, vec![0, 1, 0, 2, 1, 2]);
        // Two hashes, each shared by different rows.
        let d = DistinctRows::of_hashed(x.view(), |r| (r[0] == 2.0) as u64);
        assert_eq!(d.first, vec![0, 1, 3]);
        assert_eq!(d.of_row, vec![0, 1, 0, 2, 1, 2]);
    }

    #[test]
    fn errors_name_the_first_logical_row() {
        let of_row = [0, 0, 1, 1];
        let x = array![[0.0], [f64::INFINITY]];
        let rows = Rows {
            x: x.view(),
            of_row: Some(&of_row),
        };
        let e = rows.logical_error(ModelError::NonFinite {
            row: 1,
            column: 0,
            value: f64::INFINITY,
        });
        assert!(matches!(e, ModelError::NonFinite { row: 2, .. }), "{e:?}");
    }
}
