//! Peer groups by k-means (linfa-clustering), scored by the distance to the
//! nearest centroid relative to that cluster's spread in training.
//!
//! Score of a row = `d(x, nearest centroid) / (p95 of that cluster's training
//! distances + 1e-9)`: about 1 at the edge of the cluster's usual spread, so a
//! tight peer group flags smaller departures than a loose one. The 1e-9 keeps
//! a cluster of identical rows finite (inputs are expected to be scaled, so
//! distances are of order 1).
//!
//! With `k: None`, k is chosen by the mean silhouette over `k_range`, on a
//! seeded subsample of at most `silhouette_sample` rows (the silhouette is
//! O(n²)). Clusters that end up empty (duplicate rows) are dropped, so the
//! fitted k may be smaller than asked; data whose rows are all equal gives one
//! cluster.

use std::ops::RangeInclusive;

use linfa::prelude::*;
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::index;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Inconsistency, ModelError, ParamError};
use crate::rows::Rows;
use crate::stats::{check_finite, check_ncols, quantile_sorted, sq_dist, thin_sorted};

/// Added to a cluster's p95 distance in the score's denominator.
pub const SCORE_EPSILON: f64 = 1e-9;
/// Training distances kept per cluster for reference (evenly spaced quantiles).
pub const REFERENCE_CAP: usize = 1000;
const CHUNK_ROWS: usize = 2048;
/// Stream reserved for drawing the silhouette subsample.
const SUBSAMPLE_STREAM: u64 = u64::MAX;
/// Stream reserved for drawing the fitting sample.
const FIT_SAMPLE_STREAM: u64 = u64::MAX - 1;

/// K-means hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    /// Number of clusters; `None` chooses it by silhouette over `k_range`.
    pub k: Option<usize>,
    pub k_range: RangeInclusive<usize>,
    pub seed: u64,
    pub max_iter: u64,
    pub tolerance: f64,
    /// Restarts with different initial centroids (best inertia kept). One by
    /// default, as scikit-learn's `n_init="auto"` with k-means++ (since 1.4):
    /// k-means++ seeding makes restarts rarely change the result, and each
    /// costs a whole fit.
    pub n_runs: usize,
    /// Rows used to compute silhouettes when choosing k.
    pub silhouette_sample: usize,
    /// Rows k-means itself is fitted on (a seeded sample beyond this);
    /// cluster statistics still use every row.
    #[serde(default = "default_fit_sample")]
    pub fit_sample: usize,
}

fn default_fit_sample() -> usize {
    100_000
}

impl Default for KMeansParams {
    fn default() -> Self {
        Self {
            k: None,
            k_range: 2..=8,
            seed: 0,
            max_iter: 300,
            tolerance: 1e-4,
            n_runs: 1,
            silhouette_sample: 2000,
            fit_sample: default_fit_sample(),
        }
    }
}

/// K-means hyperparameters that passed [`KMeansParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams(KMeansParams);

impl std::ops::Deref for KMeansValidParams {
    type Target = KMeansParams;
    fn deref(&self) -> &KMeansParams {
        &self.0
    }
}

impl KMeansParams {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn k(mut self, k: Option<usize>) -> Self {
        self.k = k;
        self
    }
    pub fn k_range(mut self, k_range: RangeInclusive<usize>) -> Self {
        self.k_range = k_range;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    pub fn max_iter(mut self, max_iter: u64) -> Self {
        self.max_iter = max_iter;
        self
    }
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }
    pub fn n_runs(mut self, n_runs: usize) -> Self {
        self.n_runs = n_runs;
        self
    }
    pub fn silhouette_sample(mut self, rows: usize) -> Self {
        self.silhouette_sample = rows;
        self
    }
    pub fn fit_sample(mut self, rows: usize) -> Self {
        self.fit_sample = rows;
        self
    }

    pub fn check(&self) -> Result<KMeansValidParams, ParamError> {
        if self.k == Some(0) {
            return Err(ParamError::K);
        }
        let (start, end) = (*self.k_range.start(), *self.k_range.end());
        if self.k.is_none() && (start < 2 || start > end) {
            return Err(ParamError::KRange { start, end });
        }
        if self.max_iter == 0 {
            return Err(ParamError::MaxIter);
        }
        if self.n_runs == 0 {
            return Err(ParamError::NRuns);
        }
        if !(self.tolerance > 0.0 && self.tolerance.is_finite()) {
            return Err(ParamError::Tolerance(self.tolerance));
        }
        if self.fit_sample == 0 {
            return Err(ParamError::FitSample);
        }
        if self.k.is_none() && self.silhouette_sample < 3 {
            return Err(ParamError::SilhouetteSample(self.silhouette_sample));
        }
        Ok(KMeansValidParams(self.clone()))
    }

    /// Checks the parameters, then fits (see [`KMeansValidParams::fit`]).
    pub fn fit(&self, x: ArrayView2<f64>) -> Result<KMeansDetector, ModelError> {
        self.check()?.fit(x)
    }
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

impl KMeansValidParams {
    /// Fits centroids on `x` (finite values). An explicit `k` larger than
    /// the number of rows is an error.
    pub fn fit(&self, x: ArrayView2<f64>) -> Result<KMeansDetector, ModelError> {
        self.fit_rows(Rows::all(x))
    }

    /// [`fit`](Self::fit) on logical rows (repeats stored once); the same
    /// model as on the expanded matrix.
    pub(crate) fn fit_rows(&self, rows: Rows) -> Result<KMeansDetector, ModelError> {
        let (n, d) = (rows.len(), rows.x.ncols());
        if n == 0 || d == 0 {
            return Err(ModelError::EmptyData(
                "k-means needs at least one row and one feature".into(),
            ));
        }
        let x = rows.x;
        check_finite(&x).map_err(|e| rows.logical_error(e))?;
        let all_equal = x.rows().into_iter().all(|r| r == x.row(0));
        let mut silhouettes = Vec::new();
        let k = match self.k {
            Some(k) if k > n => return Err(ModelError::TooFewRows { needed: k, got: n }),
            Some(k) => k,
            None if all_equal => 1,
            None => {
                silhouettes = self.silhouettes(&rows)?;
                // Best silhouette; the smaller k on ties. None valid: one cluster.
                silhouettes
                    .iter()
                    .fold(None, |best: Option<(usize, f64)>, &(k, s)| match best {
                        Some((_, bs)) if bs >= s => best,
                        _ => Some((k, s)),
                    })
                    .map_or(1, |(k, _)| k)
            }
        };
        let centroids = if all_equal {
            x.row(0).insert_axis(Axis(0)).to_owned()
        } else if n > self.fit_sample.max(k) {
            let mut picked =
                index::sample(&mut rng_for(self.seed, FIT_SAMPLE_STREAM), n, self.fit_sample.max(k)).into_vec();
            picked.sort_unstable();
            self.run_kmeans(select(&rows, &picked).view(), k, k as u64)?
        } else if rows.of_row.is_some() {
            self.run_kmeans(select(&rows, &(0..n).collect::<Vec<_>>()).view(), k, k as u64)?
        } else {
            self.run_kmeans(x, k, k as u64)?
        };
        Ok(KMeansDetector::from_centroids(centroids, &rows, silhouettes, k))
    }

    fn run_kmeans(&self, x: ArrayView2<f64>, k: usize, stream: u64) -> Result<Array2<f64>, ModelError> {
        let model = KMeans::params_with_rng(k, rng_for(self.seed, stream))
            .max_n_iterations(self.max_iter)
            .tolerance(self.tolerance)
            .n_runs(self.n_runs)
            .fit(&DatasetBase::from(x))
            .map_err(|e| ModelError::KMeans(e.to_string()))?;
        Ok(model.centroids().to_owned())
    }

    /// Mean silhouette for each k of the range that fits the subsample.
    fn silhouettes(&self, x: &Rows) -> Result<Vec<(usize, f64)>, ModelError> {
        let n = x.len();
        let m = n.min(self.silhouette_sample);
        let mut picked = index::sample(&mut rng_for(self.seed, SUBSAMPLE_STREAM), n, m).into_vec();
        picked.sort_unstable();
        let sample = select(x, &picked);
        let dist = pairwise_distances(&sample);
        let mut out = Vec::new();
        for k in self.k_range.clone().filter(|&k| k < m) {
            let centroids = self.run_kmeans(sample.view(), k, k as u64)?;
            let labels = nearest(&centroids, &sample.view()).0;
            if let Some(s) = silhouette(&dist, m, &labels, k) {
                out.push((k, s));
            }
        }
        Ok(out)
    }
}

/// The logical rows `picked` of `x`, in that order.
fn select(x: &Rows, picked: &[usize]) -> Array2<f64> {
    let stored: Vec<usize> = picked.iter().map(|&i| x.stored(i)).collect();
    x.x.select(Axis(0), &stored)
}

/// Row-major m×m Euclidean distances.
fn pairwise_distances(x: &Array2<f64>) -> Vec<f64> {
    let m = x.nrows();
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let mut out = vec![0.0; m * m];
    out.par_chunks_mut(m.max(1)).enumerate().for_each(|(i, row)| {
        for (j, o) in row.iter_mut().enumerate() {
            *o = sq_dist(&rows[i], &rows[j]).sqrt();
        }
    });
    out
}

/// Mean silhouette (Rousseeuw 1987); `None` with fewer than two non-empty
/// clusters. A point alone in its cluster counts 0.
fn silhouette(dist: &[f64], m: usize, labels: &[usize], k: usize) -> Option<f64> {
    let mut sizes = vec![0usize; k];
    labels.iter().for_each(|&l| sizes[l] += 1);
    if sizes.iter().filter(|&&s| s > 0).count() < 2 {
        return None;
    }
    let per_point: Vec<f64> = (0..m)
        .into_par_iter()
        .map(|i| {
            let own = labels[i];
            if sizes[own] <= 1 {
                return 0.0;
            }
            let mut sums = vec![0.0; k];
            for (j, &l) in labels.iter().enumerate() {
                sums[l] += dist[i * m + j];
            }
            let a = sums[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && sizes[c] > 0)
                .map(|c| sums[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let denom = a.max(b);
            if denom > 0.0 {
                (b - a) / denom
            } else {
                0.0
            }
        })
        .collect();
    Some(per_point.iter().sum::<f64>() / m as f64)
}

/// Nearest centroid and Euclidean distance for each row (rows in parallel).
fn nearest(centroids: &Array2<f64>, x: &ArrayView2<f64>) -> (Vec<usize>, Vec<f64>) {
    let flat: Vec<f64> = centroids.iter().copied().collect();
    nearest_flat(&flat, centroids.ncols(), x)
}

fn nearest_flat(centroids: &[f64], d: usize, x: &ArrayView2<f64>) -> (Vec<usize>, Vec<f64>) {
    let n = x.nrows();
    let mut pairs = vec![(0usize, 0.0f64); n];
    pairs.par_chunks_mut(CHUNK_ROWS).enumerate().for_each(|(c, chunk)| {
        let mut row = vec![0.0; d];
        for (k, out) in chunk.iter_mut().enumerate() {
            row.iter_mut()
                .zip(x.row(c * CHUNK_ROWS + k).iter())
                .for_each(|(o, v)| *o = *v);
            let mut best = (0, f64::INFINITY);
            for (ci, cen) in centroids.chunks_exact(d).enumerate() {
                let dd = sq_dist(&row, cen);
                if dd < best.1 {
                    best = (ci, dd);
                }
            }
            *out = (best.0, best.1.sqrt());
        }
    });
    pairs.into_iter().unzip()
}

/// Training-distance summary of one cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterStats {
    /// Training rows assigned to the cluster.
    pub size: usize,
    pub median_distance: f64,
    pub p95_distance: f64,
    /// Sorted training distances (at most [`REFERENCE_CAP`] evenly spaced quantiles).
    pub reference: Vec<f64>,
}

/// Fitted k-means peer groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansDetector {
    n_features: usize,
    /// Row-major k × n_features.
    centroids: Vec<f64>,
    clusters: Vec<ClusterStats>,
    /// k asked for or chosen (before empty clusters were dropped).
    k_requested: usize,
    /// Mean silhouette per k tried, when k was chosen automatically.
    silhouettes: Vec<(usize, f64)>,
}

impl KMeansDetector {
    fn from_centroids(centroids: Array2<f64>, rows: &Rows, silhouettes: Vec<(usize, f64)>, k: usize) -> Self {
        let d = rows.x.ncols();
        let (labels, dists) = nearest(&centroids, &rows.x);
        let (labels, dists) = (rows.expand(&labels), rows.expand(&dists));
        let mut per_cluster: Vec<Vec<f64>> = vec![Vec::new(); centroids.nrows()];
        for (&l, &dd) in labels.iter().zip(&dists) {
            per_cluster[l].push(dd);
        }
        let mut flat = Vec::new();
        let mut clusters = Vec::new();
        for (c, mut ds) in per_cluster.into_iter().enumerate() {
            if ds.is_empty() {
                continue;
            }
            ds.par_sort_unstable_by(f64::total_cmp);
            flat.extend(centroids.row(c).iter().copied());
            clusters.push(ClusterStats {
                size: ds.len(),
                median_distance: quantile_sorted(&ds, 0.5),
                p95_distance: quantile_sorted(&ds, 0.95),
                reference: thin_sorted(&ds, REFERENCE_CAP),
            });
        }
        KMeansDetector {
            n_features: d,
            centroids: flat,
            clusters,
            k_requested: k,
            silhouettes,
        }
    }

    /// Number of (non-empty) clusters.
    pub fn k(&self) -> usize {
        self.clusters.len()
    }
    pub fn k_requested(&self) -> usize {
        self.k_requested
    }
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Centroid of cluster `c`.
    pub fn centroid(&self, c: usize) -> &[f64] {
        &self.centroids[c * self.n_features..(c + 1) * self.n_features]
    }
    pub fn clusters(&self) -> &[ClusterStats] {
        &self.clusters
    }
    /// `(k, mean silhouette)` for each k tried (empty when k was given).
    pub fn silhouettes(&self) -> &[(usize, f64)] {
        &self.silhouettes
    }

    fn nearest(&self, x: &ArrayView2<f64>) -> Result<(Vec<usize>, Vec<f64>), ModelError> {
        check_ncols(x, self.n_features)?;
        check_finite(x)?;
        Ok(nearest_flat(&self.centroids, self.n_features, x))
    }

    /// Peer group (nearest centroid) of each row.
    pub fn assign(&self, x: ArrayView2<f64>) -> Result<Array1<usize>, ModelError> {
        Ok(Array1::from(self.nearest(&x)?.0))
    }

    /// Anomaly score of each row (see the module docs).
    pub fn score(&self, x: ArrayView2<f64>) -> Result<Array1<f64>, ModelError> {
        Ok(self.score_and_assign(x)?.0)
    }

    /// Scores and peer groups together (one pass).
    pub fn score_and_assign(&self, x: ArrayView2<f64>) -> Result<(Array1<f64>, Array1<usize>), ModelError> {
        let (labels, dists) = self.nearest(&x)?;
        let scores = labels
            .iter()
            .zip(&dists)
            .map(|(&l, &d)| d / (self.clusters[l].p95_distance + SCORE_EPSILON))
            .collect();
        Ok((scores, Array1::from(labels)))
    }

    pub(crate) fn validate(&self) -> Result<(), Inconsistency> {
        if self.n_features == 0
            || self.clusters.is_empty()
            || self.centroids.len() != self.clusters.len() * self.n_features
        {
            return Err(Inconsistency::KMeansShape);
        }
        if self.centroids.iter().any(|v| !v.is_finite())
            || self
                .clusters
                .iter()
                .any(|c| c.p95_distance.is_nan() || c.p95_distance < 0.0)
        {
            return Err(Inconsistency::KMeansNonFinite);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::Rng;

    /// Three tight blobs of 150 points in 2-D.
    fn blobs() -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let centers = [(0.0, 0.0), (10.0, 0.0), (5.0, 9.0)];
        Array2::from_shape_fn((450, 2), |(i, j)| {
            let c = centers[i % 3];
            let base = if j == 0 { c.0 } else { c.1 };
            base + rng.gen_range(-1.0..1.0)
        })
    }

    #[test]
    fn silhouette_picks_three_blobs() {
        let x = blobs();
        let m = KMeansParams::new().seed(5).fit(x.view()).unwrap();
        assert_eq!(m.k(), 3, "silhouettes: {:?}", m.silhouettes());
        assert_eq!(m.silhouettes().len(), 7);
        // Peer groups follow the blobs.
        let a = m.assign(x.view()).unwrap();
        for i in 3..450 {
            assert_eq!(a[i], a[i % 3]);
        }
        assert!(a[0] != a[1] && a[1] != a[2] && a[0] != a[2]);
    }

    #[test]
    fn far_point_scores_above_all_training_rows() {
        let x = blobs();
        let m = KMeansParams::new().k(Some(3)).seed(1).fit(x.view()).unwrap();
        let train = m.score(x.view()).unwrap();
        let max_train = train.iter().cloned().fold(f64::MIN, f64::max);
        let far = m.score(array![[30.0, 30.0]].view()).unwrap();
        assert!(far[0] > max_train, "{} <= {max_train}", far[0]);
        // About 5% of training rows exceed their cluster's p95.
        let over = train.iter().filter(|&&s| s > 1.0).count();
        assert!((10..=35).contains(&over), "{over}");
    }

    #[test]
    fn deterministic_for_a_seed() {
        let x = blobs();
        let a = KMeansParams::new().seed(9).fit(x.view()).unwrap();
        let b = KMeansParams::new().seed(9).fit(x.view()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn degenerate_data_does_not_panic() {
        let same = Array2::from_elem((20, 3), 2.0);
        let m = KMeansParams::new().fit(same.view()).unwrap();
        assert_eq!(m.k(), 1);
        assert_eq!(m.score(same.view()).unwrap()[0], 0.0);
        assert!(m.score(array![[2.0, 2.0, 3.0]].view()).unwrap()[0] > 1e6);
        // Explicit k on identical rows: duplicate centroids are dropped.
        let m = KMeansParams::new().k(Some(3)).fit(same.view()).unwrap();
        assert_eq!(m.k(), 1);
        // Two distinct rows only.
        let two = array![[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]];
        let m = KMeansParams::new().fit(two.view()).unwrap();
        assert!(m.k() <= 2);
        // Fewer rows than k.
        assert!(matches!(
            KMeansParams::new().k(Some(5)).fit(two.view()),
            Err(ModelError::TooFewRows { needed: 5, got: 4 })
        ));
        // A single row with automatic k.
        let m = KMeansParams::new().fit(array![[1.0, 2.0]].view()).unwrap();
        assert_eq!(m.k(), 1);
        assert!(matches!(
            KMeansParams::new().fit(Array2::zeros((0, 2)).view()),
            Err(ModelError::EmptyData(_))
        ));
    }

    #[test]
    fn params_and_feature_count() {
        assert_eq!(KMeansParams::new().k(Some(0)).check(), Err(ParamError::K));
        assert!(matches!(
            KMeansParams::new().k_range(1..=3).check(),
            Err(ParamError::KRange { .. })
        ));
        assert!(matches!(
            KMeansParams::new().tolerance(0.0).check(),
            Err(ParamError::Tolerance(_))
        ));
        let m = KMeansParams::new().k(Some(2)).fit(blobs().view()).unwrap();
        assert!(matches!(
            m.assign(array![[1.0]].view()),
            Err(ModelError::FeatureCount { expected: 2, got: 1 })
        ));
    }
}
