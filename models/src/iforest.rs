//! Isolation forest (Liu, Ting & Zhou, "Isolation Forest", ICDM 2008).
//!
//! Each tree is grown on ψ rows drawn without replacement, to the height
//! limit ⌈log2 ψ⌉; a node splits on a random feature among those that vary
//! in the node, at a uniform random threshold in (min, max]. An external
//! node of `size` rows adds `c(size)` to the path length, and a row's score
//! is `s = 2^(−E[h(x)] / c(ψ))`: close to 1 for anomalies, mostly below 0.5
//! for ordinary rows (the tails of a normal cluster do exceed 0.5, which is
//! why [`crate::calibrate`] turns scores into baseline percentiles).
//!
//! Tree `i` draws from its own ChaCha8 stream `(seed, i)`, so fitting with
//! rayon gives the same forest whatever the number of threads.

use ndarray::{Array1, ArrayView2};
use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Inconsistency, ModelError, ParamError};
use crate::rows::Rows;
use crate::stats::{check_finite, check_ncols};

/// Euler–Mascheroni constant, as in the paper's H(i) ≈ ln(i) + γ.
const EULER_GAMMA: f64 = 0.577_215_664_9;
/// Largest allowed ψ (node indices are stored as u32 within a tree).
const MAX_SUBSAMPLE: usize = 1 << 24;
/// Rows scored together, tree by tree, so one tree stays in cache.
const SCORE_CHUNK: usize = 128;
/// Rows walked down a tree in lockstep (independent chains overlap latency).
const LANES: usize = 8;

/// Average path length of an unsuccessful search in a binary search tree of
/// `n` nodes: `c(n) = 2H(n−1) − 2(n−1)/n` with `H(i) = ln(i) + γ`,
/// `c(2) = 1` and `c(n) = 0` for `n <= 1`.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Hyperparameters of the isolation forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestParams {
    /// Number of trees (paper default 100).
    pub n_trees: usize,
    /// Rows per tree, ψ (paper default 256); `min(subsample, n)` is used.
    pub subsample: usize,
    /// Seed of the per-tree random streams.
    pub seed: u64,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            subsample: 256,
            seed: 0,
        }
    }
}

/// Hyperparameters that passed [`IsolationForestParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestValidParams(IsolationForestParams);

impl IsolationForestParams {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn n_trees(mut self, n_trees: usize) -> Self {
        self.n_trees = n_trees;
        self
    }
    pub fn subsample(mut self, subsample: usize) -> Self {
        self.subsample = subsample;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn check(&self) -> Result<IsolationForestValidParams, ParamError> {
        if self.n_trees == 0 {
            return Err(ParamError::NTrees);
        }
        if !(2..=MAX_SUBSAMPLE).contains(&self.subsample) {
            return Err(ParamError::Subsample {
                got: self.subsample,
                max: MAX_SUBSAMPLE,
            });
        }
        Ok(IsolationForestValidParams(self.clone()))
    }

    /// Checks the parameters, then fits (see [`IsolationForestValidParams::fit`]).
    pub fn fit(&self, x: ArrayView2<f64>) -> Result<IsolationForest, ModelError> {
        self.check()?.fit(x)
    }
}

impl std::ops::Deref for IsolationForestValidParams {
    type Target = IsolationForestParams;
    fn deref(&self) -> &IsolationForestParams {
        &self.0
    }
}

impl IsolationForestValidParams {
    /// Grows the forest on `x` (rows = samples). Needs at least 2 rows, at
    /// least one column and finite values.
    pub fn fit(&self, x: ArrayView2<f64>) -> Result<IsolationForest, ModelError> {
        self.fit_rows(Rows::all(x))
    }

    /// [`fit`](Self::fit) on logical rows (repeats stored once); the same
    /// forest as on the expanded matrix.
    pub(crate) fn fit_rows(&self, x: Rows) -> Result<IsolationForest, ModelError> {
        let (n, d) = (x.len(), x.x.ncols());
        if d == 0 {
            return Err(ModelError::EmptyData(
                "the isolation forest needs at least one feature".into(),
            ));
        }
        if n < 2 {
            return Err(ModelError::TooFewRows { needed: 2, got: n });
        }
        check_finite(&x.x).map_err(|e| x.logical_error(e))?;
        let psi = self.subsample.min(n);
        let height_limit = (psi as f64).log2().ceil() as usize;
        let trees: Vec<Vec<Node>> = (0..self.n_trees)
            .into_par_iter()
            .map(|i| {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(i as u64);
                build_tree(&x, psi, height_limit, &mut rng)
            })
            .collect();
        let mut offsets = Vec::with_capacity(trees.len() + 1);
        offsets.push(0);
        let mut nodes = Vec::with_capacity(trees.iter().map(Vec::len).sum());
        for t in trees {
            nodes.extend(t);
            offsets.push(nodes.len());
        }
        let forest = IsolationForest {
            params: self.0.clone(),
            n_features: d,
            psi,
            height_limit,
            nodes,
            offsets,
        };
        debug_assert_eq!(forest.validate(), Ok(()));
        Ok(forest)
    }
}

/// One tree node. The children of an internal node are adjacent:
/// `x[feature] < value` goes to `left`, otherwise to `left + 1`, so a step
/// is `left + (x[feature] >= value)`, with no branch. A leaf has
/// `feature == n_features`, `left` = itself and `value = depth + c(size)`:
/// scoring pads each row with a NaN column (NaN >= v is false), so a walk
/// that reaches a leaf stays there and every row takes `height_limit` steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Node {
    value: f64,
    feature: u32,
    left: u32,
}

/// A fitted isolation forest: all trees' nodes in one flat vector.
/// Deserializing validates the structure (see [`IsolationForest::validate`]),
/// which scoring relies on to walk the trees without bounds checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ForestParts")]
pub struct IsolationForest {
    params: IsolationForestParams,
    n_features: usize,
    psi: usize,
    height_limit: usize,
    nodes: Vec<Node>,
    /// Tree `t` is `nodes[offsets[t]..offsets[t + 1]]`; indices are relative to its start.
    offsets: Vec<usize>,
}

/// The fields of an [`IsolationForest`] as read, before validation.
#[derive(Deserialize)]
struct ForestParts {
    params: IsolationForestParams,
    n_features: usize,
    psi: usize,
    height_limit: usize,
    nodes: Vec<Node>,
    offsets: Vec<usize>,
}

impl TryFrom<ForestParts> for IsolationForest {
    type Error = Inconsistency;

    fn try_from(p: ForestParts) -> Result<Self, Inconsistency> {
        let forest = IsolationForest {
            params: p.params,
            n_features: p.n_features,
            psi: p.psi,
            height_limit: p.height_limit,
            nodes: p.nodes,
            offsets: p.offsets,
        };
        forest.validate()?;
        Ok(forest)
    }
}

impl IsolationForest {
    pub fn params(&self) -> &IsolationForestParams {
        &self.params
    }
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    pub fn n_trees(&self) -> usize {
        self.offsets.len() - 1
    }
    /// The ψ actually used: `min(subsample, training rows)`.
    pub fn psi(&self) -> usize {
        self.psi
    }
    /// ⌈log2 ψ⌉.
    pub fn height_limit(&self) -> usize {
        self.height_limit
    }
    /// Total number of nodes in all trees.
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    fn is_leaf(&self, n: &Node) -> bool {
        n.feature as usize == self.n_features
    }

    /// Depth (edges from the root) of the deepest leaf of any tree.
    pub fn max_depth(&self) -> usize {
        (0..self.n_trees())
            .map(|t| {
                let tree = self.tree(t);
                let mut max = 0;
                let mut stack = vec![(0usize, 0usize)];
                while let Some((i, depth)) = stack.pop() {
                    let n = tree[i];
                    if self.is_leaf(&n) {
                        max = max.max(depth);
                    } else {
                        stack.push((n.left as usize, depth + 1));
                        stack.push((n.left as usize + 1, depth + 1));
                    }
                }
                max
            })
            .max()
            .unwrap_or(0)
    }

    fn tree(&self, t: usize) -> &[Node] {
        &self.nodes[self.offsets[t]..self.offsets[t + 1]]
    }

    /// Mean path length E[h(x)] of each row over all trees.
    pub fn mean_path_lengths(&self, x: ArrayView2<f64>) -> Result<Array1<f64>, ModelError> {
        check_ncols(&x, self.n_features)?;
        check_finite(&x)?;
        let n = x.nrows();
        let stride = self.n_features + 1;
        let mut out = vec![0.0; n];
        let n_trees = self.n_trees() as f64;
        out.par_chunks_mut(SCORE_CHUNK).enumerate().for_each(|(c, chunk)| {
            let start = c * SCORE_CHUNK;
            // Contiguous copy of the chunk's rows plus the NaN leaf column.
            let mut buf = Vec::with_capacity(chunk.len() * stride);
            for r in start..start + chunk.len() {
                buf.extend(x.row(r).iter().copied());
                buf.push(f64::NAN);
            }
            for t in 0..self.n_trees() {
                let tree = self.tree(t);
                for (g, acc) in chunk.chunks_mut(LANES).enumerate() {
                    let rows = &buf[g * LANES * stride..];
                    let lanes = acc.len();
                    let mut idx = [0u32; LANES];
                    let rows = &rows[..lanes * stride];
                    for _ in 0..self.height_limit {
                        for (l, i) in idx.iter_mut().enumerate().take(lanes) {
                            // SAFETY: every forest is valid (`fit` builds it so, deserializing
                            // runs `validate`): indices start at the root and stay below
                            // tree.len() (internal nodes have left + 1 < len, leaves point at
                            // themselves), and feature <= n_features < stride. `l < lanes`,
                            // so the row lies inside `rows`.
                            *i = unsafe {
                                let n = tree.get_unchecked(*i as usize);
                                n.left + u32::from(*rows.get_unchecked(l * stride + n.feature as usize) >= n.value)
                            };
                        }
                    }
                    for (a, &i) in acc.iter_mut().zip(&idx) {
                        *a += tree[i as usize].value;
                    }
                }
            }
            for acc in chunk.iter_mut() {
                *acc /= n_trees;
            }
        });
        Ok(Array1::from(out))
    }

    /// Anomaly score `2^(−E[h(x)]/c(ψ))` of each row, in (0, 1].
    pub fn score(&self, x: ArrayView2<f64>) -> Result<Array1<f64>, ModelError> {
        let c = average_path_length(self.psi);
        Ok(self.mean_path_lengths(x)?.mapv(|h| 2f64.powf(-h / c)))
    }

    /// Structural checks for a deserialized forest, so that scoring cannot
    /// index out of bounds and every walk ends in a leaf.
    pub(crate) fn validate(&self) -> Result<(), Inconsistency> {
        if self.offsets.len() < 2 || self.offsets[0] != 0 || *self.offsets.last().unwrap() != self.nodes.len() {
            return Err(Inconsistency::TreeOffsets);
        }
        if self.psi < 2 || self.n_features == 0 || self.height_limit != (self.psi as f64).log2().ceil() as usize {
            return Err(Inconsistency::ForestShape);
        }
        // All offsets first: a later one may lie past the end.
        for (t, w) in self.offsets.windows(2).enumerate() {
            if w[0] > w[1] {
                return Err(Inconsistency::TreeOffsets);
            }
            if w[0] == w[1] {
                return Err(Inconsistency::EmptyTree(t));
            }
        }
        for t in 0..self.n_trees() {
            let tree = self.tree(t);
            for (i, n) in tree.iter().enumerate() {
                let ok = if self.is_leaf(n) {
                    n.value.is_finite() && n.left as usize == i
                } else {
                    (n.feature as usize) < self.n_features && n.left as usize > i && (n.left as usize) + 1 < tree.len()
                };
                if !ok {
                    return Err(Inconsistency::MalformedNode { tree: t, node: i });
                }
            }
        }
        if self.max_depth() > self.height_limit {
            return Err(Inconsistency::TreeTooDeep);
        }
        Ok(())
    }
}

/// Grows one tree on ψ rows of `x` drawn without replacement, breadth first.
fn build_tree(x: &Rows, psi: usize, height_limit: usize, rng: &mut ChaCha8Rng) -> Vec<Node> {
    let d = x.x.ncols();
    let picked = index::sample(rng, x.len(), psi);
    // Column-major copy of the sample: cols[f * psi + j].
    let mut cols = vec![0.0; d * psi];
    for (j, r) in picked.iter().enumerate() {
        for (f, &v) in x.row(r).iter().enumerate() {
            cols[f * psi + j] = v;
        }
    }
    let value = |f: usize, row: u32| cols[f * psi + row as usize];
    let mut rows: Vec<u32> = (0..psi as u32).collect();
    let mut nodes = Vec::with_capacity(2 * psi);
    let mut ranges = vec![(0.0, 0.0); d];
    let mut candidates = Vec::with_capacity(d);
    nodes.push(Node {
        value: 0.0,
        feature: 0,
        left: 0,
    });
    // (node index, rows[start..end], depth)
    let mut queue = std::collections::VecDeque::from([(0usize, 0usize, psi, 0usize)]);
    while let Some((me, start, end, depth)) = queue.pop_front() {
        let part = &mut rows[start..end];
        let leaf = Node {
            value: depth as f64 + average_path_length(part.len()),
            feature: d as u32,
            left: me as u32,
        };
        if depth >= height_limit || part.len() <= 1 {
            nodes[me] = leaf;
            continue;
        }
        candidates.clear();
        for (f, range) in ranges.iter_mut().enumerate() {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for &r in part.iter() {
                let v = value(f, r);
                lo = lo.min(v);
                hi = hi.max(v);
            }
            *range = (lo, hi);
            if hi > lo {
                candidates.push(f);
            }
        }
        if candidates.is_empty() {
            // All rows in the node are identical.
            nodes[me] = leaf;
            continue;
        }
        let f = candidates[rng.gen_range(0..candidates.len())];
        let (lo, hi) = ranges[f];
        let u: f64 = rng.gen();
        // Convex combination (no overflow); t in (lo, hi] keeps both sides non-empty.
        let mut t = lo * (1.0 - u) + hi * u;
        if t <= lo || t > hi {
            t = hi;
        }
        // Partition: rows with x[f] < t first.
        let mut split = 0;
        for i in 0..part.len() {
            if value(f, part[i]) < t {
                part.swap(i, split);
                split += 1;
            }
        }
        let left = nodes.len();
        nodes[me] = Node {
            value: t,
            feature: f as u32,
            left: left as u32,
        };
        nodes.push(Node {
            value: 0.0,
            feature: 0,
            left: 0,
        });
        nodes.push(Node {
            value: 0.0,
            feature: 0,
            left: 0,
        });
        queue.push_back((left, start, start + split, depth + 1));
        queue.push_back((left + 1, start + split, end, depth + 1));
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::Array2;
    use rand_distr_free::normal;

    /// Box–Muller normals, to avoid a rand_distr dependency.
    mod rand_distr_free {
        use rand::Rng;
        pub fn normal(rng: &mut impl Rng) -> f64 {
            let u1: f64 = 1.0 - rng.gen::<f64>();
            let u2: f64 = rng.gen();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }

    fn blob_with_outlier() -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut x = Array2::zeros((501, 2));
        for i in 0..500 {
            x[[i, 0]] = 0.1 * normal(&mut rng);
            x[[i, 1]] = 0.1 * normal(&mut rng);
        }
        x[[500, 0]] = 5.0;
        x[[500, 1]] = 5.0;
        x
    }

    #[test]
    fn c_of_n_matches_closed_form() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // 2(ln(n−1) + γ) − 2(n−1)/n, values computed independently.
        assert_abs_diff_eq!(
            average_path_length(3),
            2.0 * (2f64.ln() + EULER_GAMMA) - 4.0 / 3.0,
            epsilon = 1e-12
        );
        assert_abs_diff_eq!(average_path_length(256), 10.244_770_9, epsilon = 1e-6);
        assert_abs_diff_eq!(average_path_length(10), 3.748_880_5, epsilon = 1e-6);
        assert_abs_diff_eq!(average_path_length(1000), 12.969_940_9, epsilon = 1e-6);
        // The approximation tracks the exact harmonic number for large n.
        let n = 5000usize;
        let h_exact: f64 = (1..n).map(|i| 1.0 / i as f64).sum();
        let exact = 2.0 * h_exact - 2.0 * (n - 1) as f64 / n as f64;
        assert_abs_diff_eq!(average_path_length(n), exact, epsilon = 1e-3);
    }

    /// Reference numbers from scikit-learn's IsolationForest (same ψ, trees
    /// and geometry, 10 seeds): far point 0.81–0.86, cluster median ≈ 0.42,
    /// cluster p95 0.55–0.58, 83–87% of cluster points below 0.5. Gaussian
    /// tails do score above 0.5, so "≥ 95% below 0.5" does not hold for the
    /// paper's algorithm; ≥ 95% below 0.6 does.
    #[test]
    fn far_point_isolates() {
        let x = blob_with_outlier();
        for seed in 0..5 {
            let model = IsolationForestParams::new().seed(seed).fit(x.view()).unwrap();
            let s = model.score(x.view()).unwrap();
            let mut cluster: Vec<f64> = s.iter().take(500).cloned().collect();
            cluster.sort_by(f64::total_cmp);
            assert!(s[500] > 0.75, "outlier score {}", s[500]);
            assert!(
                s[500] > cluster[499],
                "outlier {} vs max inlier {}",
                s[500],
                cluster[499]
            );
            assert!(cluster[250] < 0.45, "cluster median {}", cluster[250]);
            let below_06 = cluster.iter().filter(|&&v| v < 0.6).count();
            assert!(below_06 >= 475, "only {below_06} of 500 cluster points below 0.6");
            let below_05 = cluster.iter().filter(|&&v| v < 0.5).count();
            assert!(below_05 >= 400, "only {below_05} of 500 cluster points below 0.5");
        }
    }

    #[test]
    fn seeds_reproduce_and_differ() {
        let x = blob_with_outlier();
        let a = IsolationForestParams::new().seed(1).fit(x.view()).unwrap();
        let b = IsolationForestParams::new().seed(1).fit(x.view()).unwrap();
        let c = IsolationForestParams::new().seed(2).fit(x.view()).unwrap();
        let (sa, sb, sc) = (
            a.score(x.view()).unwrap(),
            b.score(x.view()).unwrap(),
            c.score(x.view()).unwrap(),
        );
        assert_eq!(sa, sb);
        assert_ne!(sa, sc);
    }

    #[test]
    fn thread_count_does_not_change_model() {
        let x = blob_with_outlier();
        let params = IsolationForestParams::new().seed(3).n_trees(64);
        let fit_with = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| params.fit(x.view()).unwrap())
        };
        let one = fit_with(1);
        let two = fit_with(2);
        assert_eq!(one, two);
        let s1 = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| one.score(x.view()));
        assert_eq!(s1.unwrap(), two.score(x.view()).unwrap());
    }

    #[test]
    fn height_limit_respected() {
        let x = blob_with_outlier();
        for (psi, limit) in [(256, 8), (100, 7), (2, 1), (300, 9)] {
            let m = IsolationForestParams::new().subsample(psi).fit(x.view()).unwrap();
            assert_eq!(m.height_limit(), limit);
            assert!(m.max_depth() <= limit);
            assert!(m.max_depth() >= 1);
            assert!(m.validate().is_ok());
        }
        // ψ capped by the row count.
        let m = IsolationForestParams::new()
            .fit(x.slice(ndarray::s![..40, ..]))
            .unwrap();
        assert_eq!(m.psi(), 40);
        assert_eq!(m.height_limit(), 6);
    }

    #[test]
    fn lockstep_walk_matches_a_plain_walk() {
        let x = blob_with_outlier();
        let m = IsolationForestParams::new().seed(8).fit(x.view()).unwrap();
        let fast = m.mean_path_lengths(x.view()).unwrap();
        for (r, row) in x.rows().into_iter().enumerate() {
            let mut total = 0.0;
            for t in 0..m.n_trees() {
                let tree = m.tree(t);
                let mut i = 0;
                while tree[i].feature as usize != m.n_features() {
                    let n = tree[i];
                    i = if row[n.feature as usize] < n.value {
                        n.left as usize
                    } else {
                        n.left as usize + 1
                    };
                }
                total += tree[i].value;
            }
            assert_abs_diff_eq!(fast[r], total / m.n_trees() as f64, epsilon = 1e-12);
        }
    }

    #[test]
    fn leaf_sizes_add_c() {
        // Four identical rows cannot be split: every tree is one leaf of size 4.
        let x = Array2::from_elem((4, 3), 1.5);
        let m = IsolationForestParams::new().n_trees(5).fit(x.view()).unwrap();
        assert_eq!(m.n_nodes(), 5);
        let h = m.mean_path_lengths(x.view()).unwrap();
        assert_abs_diff_eq!(h[0], average_path_length(4), epsilon = 1e-12);
        // E[h] = c(ψ) gives s = 0.5.
        assert_abs_diff_eq!(m.score(x.view()).unwrap()[0], 0.5, epsilon = 1e-12);
    }

    #[test]
    fn constant_columns_are_never_split() {
        let mut x = blob_with_outlier();
        x.column_mut(1).fill(3.0);
        let x3 = ndarray::concatenate![ndarray::Axis(1), x, Array2::from_elem((501, 1), -2.0)];
        let m = IsolationForestParams::new().fit(x3.view()).unwrap();
        assert!(m.nodes.iter().all(|n| n.feature == 3 || n.feature == 0));
        let s = m.score(x3.view()).unwrap();
        assert!(s.iter().all(|v| v.is_finite() && *v > 0.0 && *v <= 1.0));
        assert!(s[500] > 0.6);
    }

    #[test]
    fn a_malformed_forest_cannot_be_deserialized() {
        let x = blob_with_outlier();
        let forest = IsolationForestParams::new().n_trees(5).seed(1).fit(x.view()).unwrap();
        let mut v = serde_json::to_value(&forest).unwrap();
        assert_eq!(serde_json::from_value::<IsolationForest>(v.clone()).unwrap(), forest);
        v["nodes"][0]["left"] = serde_json::json!(1_000_000);
        let err = serde_json::from_value::<IsolationForest>(v.clone()).unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
        v["nodes"][0]["left"] = serde_json::json!(0);
        v["nodes"][0]["feature"] = serde_json::json!(99);
        assert!(serde_json::from_value::<IsolationForest>(v).is_err());
        let bytes = postcard::to_allocvec(&forest).unwrap();
        assert_eq!(postcard::from_bytes::<IsolationForest>(&bytes).unwrap(), forest);
    }

    /// Found by the `bundle` fuzz target: offsets that rise past the end of
    /// the nodes and come back down (first tree `0..len + 5`) were checked
    /// tree by tree, so the first tree was sliced out of bounds (a panic)
    /// before the second tree's offsets were refused.
    #[test]
    fn forest_with_an_offset_past_the_nodes_is_refused_not_a_panic() {
        let x = blob_with_outlier();
        let forest = IsolationForestParams::new().n_trees(2).seed(1).fit(x.view()).unwrap();
        let len = forest.nodes.len();
        for offsets in [vec![0, len + 5, len], vec![0, len, len], vec![0, 0, len]] {
            let mut bad = forest.clone();
            bad.offsets = offsets.clone();
            let bytes = postcard::to_allocvec(&bad).unwrap();
            let err = postcard::from_bytes::<IsolationForest>(&bytes).unwrap_err();
            assert!(!err.to_string().is_empty(), "{offsets:?}");
            assert!(bad.validate().is_err(), "{offsets:?}");
        }
        let mut bad = forest.clone();
        bad.offsets = vec![0, len + 5, len];
        assert_eq!(bad.validate(), Err(Inconsistency::TreeOffsets));
    }

    #[test]
    fn errors() {
        let x = blob_with_outlier();
        let m = IsolationForestParams::new().n_trees(10).fit(x.view()).unwrap();
        let wrong = Array2::<f64>::zeros((3, 5));
        assert!(matches!(
            m.score(wrong.view()),
            Err(ModelError::FeatureCount { expected: 2, got: 5 })
        ));
        let mut bad = Array2::<f64>::zeros((3, 2));
        bad[[1, 1]] = f64::NAN;
        assert!(matches!(
            m.score(bad.view()),
            Err(ModelError::NonFinite { row: 1, column: 1, .. })
        ));
        assert!(matches!(
            IsolationForestParams::new().fit(Array2::zeros((1, 2)).view()),
            Err(ModelError::TooFewRows { needed: 2, got: 1 })
        ));
        assert_eq!(IsolationForestParams::new().n_trees(0).check(), Err(ParamError::NTrees));
        assert!(matches!(
            IsolationForestParams::new().subsample(1).check(),
            Err(ParamError::Subsample { .. })
        ));
        // Zero rows to score is fine.
        assert_eq!(m.score(Array2::zeros((0, 2)).view()).unwrap().len(), 0);
    }

    #[test]
    fn scores_any_layout() {
        let x = blob_with_outlier();
        let m = IsolationForestParams::new().n_trees(20).fit(x.view()).unwrap();
        let t = x.t().to_owned();
        let fortran = t.t();
        assert_eq!(m.score(x.view()).unwrap(), m.score(fortran).unwrap());
    }
}
