//! One entity kind's complete baseline: preprocessing, isolation forest,
//! optional k-means peer groups, per-model calibration, a combined score
//! with an alert threshold, and explanations.

use std::collections::{BTreeMap, BTreeSet};

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::calibrate::Calibration;
use crate::error::{Inconsistency, ModelError, ParamError};
use crate::explain::{Contribution, Direction, Explainer};
use crate::iforest::{IsolationForest, IsolationForestParams};
use crate::kmeans::{KMeansDetector, KMeansParams};
use crate::preprocess::{PreprocessParams, Preprocessor, Scaling, Transform};
use crate::rows::{expand, logical_error, DistinctRows, Rows};
use crate::stats::{baseline_columns, check_ncols, quantiles_unsorted};

/// Default share of baseline rows above the alert threshold.
pub const DEFAULT_CONTAMINATION: f64 = 0.01;

/// What a feature matrix for one entity kind holds, in column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// e.g. `user`, `source_ip`, `host`.
    pub entity_kind: String,
    pub feature_names: Vec<String>,
    /// One per feature; empty = [`Transform::None`] for all.
    pub transforms: Vec<Transform>,
    /// Length of the aggregation window the features were computed over.
    pub window_secs: u64,
    pub extra: BTreeMap<String, String>,
    /// Explanation direction per feature; empty = [`Direction::High`] for
    /// `Log1p` features (counts), [`Direction::Both`] for the others.
    pub directions: Vec<Direction>,
}

impl FeatureSpec {
    /// A spec with no transforms, default directions and a one-hour window.
    pub fn new(entity_kind: impl Into<String>, feature_names: Vec<String>) -> Self {
        FeatureSpec {
            entity_kind: entity_kind.into(),
            feature_names,
            transforms: Vec::new(),
            window_secs: 3600,
            extra: BTreeMap::new(),
            directions: Vec::new(),
        }
    }
    pub fn transforms(mut self, transforms: Vec<Transform>) -> Self {
        self.transforms = transforms;
        self
    }
    pub fn directions(mut self, directions: Vec<Direction>) -> Self {
        self.directions = directions;
        self
    }
    pub fn window_secs(mut self, secs: u64) -> Self {
        self.window_secs = secs;
        self
    }

    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    pub fn check(&self) -> Result<(), ParamError> {
        if self.entity_kind.is_empty() {
            return Err(ParamError::FeatureSpec("entity_kind is empty".into()));
        }
        if self.feature_names.is_empty() {
            return Err(ParamError::FeatureSpec("no features".into()));
        }
        let mut seen = BTreeSet::new();
        for name in &self.feature_names {
            if !seen.insert(name) {
                return Err(ParamError::FeatureSpec(format!("feature `{name}` appears twice")));
            }
        }
        let d = self.n_features();
        if !self.transforms.is_empty() && self.transforms.len() != d {
            return Err(ParamError::PerFeatureLength {
                what: "transforms",
                expected: d,
                got: self.transforms.len(),
            });
        }
        if !self.directions.is_empty() && self.directions.len() != d {
            return Err(ParamError::PerFeatureLength {
                what: "directions",
                expected: d,
                got: self.directions.len(),
            });
        }
        Ok(())
    }

    /// Transform of feature `j`.
    pub fn transform(&self, j: usize) -> Transform {
        self.transforms.get(j).copied().unwrap_or_default()
    }

    /// Explanation direction of feature `j` (see [`FeatureSpec::directions`]).
    pub fn direction(&self, j: usize) -> Direction {
        match (self.directions.get(j), self.transform(j)) {
            (Some(&d), _) => d,
            (None, Transform::Log1p) => Direction::High,
            (None, Transform::None) => Direction::Both,
        }
    }

    /// Checks that `columns` are exactly the spec's features in order,
    /// naming the missing, unexpected and misordered ones.
    pub fn check_columns(&self, columns: &[String]) -> Result<(), ModelError> {
        if columns == self.feature_names.as_slice() {
            return Ok(());
        }
        let known: BTreeSet<&String> = self.feature_names.iter().collect();
        let given: BTreeSet<&String> = columns.iter().collect();
        let missing: Vec<String> = self
            .feature_names
            .iter()
            .filter(|f| !given.contains(f))
            .cloned()
            .collect();
        let unexpected: Vec<String> = columns.iter().filter(|c| !known.contains(c)).cloned().collect();
        // Common features in each order; those at different ranks are misordered.
        let expected_order: Vec<&String> = self.feature_names.iter().filter(|f| given.contains(f)).collect();
        let given_order: Vec<&String> = columns.iter().filter(|c| known.contains(c)).collect();
        let misordered: Vec<String> = expected_order
            .iter()
            .zip(&given_order)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| (*a).clone())
            .collect();
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing {}", missing.join(", ")));
        }
        if !unexpected.is_empty() {
            parts.push(format!("unexpected {}", unexpected.join(", ")));
        }
        if !misordered.is_empty() {
            parts.push(format!(
                "out of order {} (expected order: {})",
                misordered.join(", "),
                self.feature_names.join(", ")
            ));
        }
        if parts.is_empty() {
            // Same set and order but duplicates in `columns`.
            parts.push(format!(
                "expected {} columns, got {}",
                self.feature_names.len(),
                columns.len()
            ));
        }
        Err(ModelError::Columns {
            detail: parts.join("; "),
            missing,
            unexpected,
            misordered,
        })
    }
}

/// How the calibrated percentiles of the models combine into one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Combine {
    #[default]
    Max,
    Mean,
}

/// Which scored rows get an explanation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ExplainRows {
    #[default]
    All,
    Anomalies,
    /// Anomalies and every row whose combined score is at least this.
    AtLeast(f64),
    None,
}

/// Hyperparameters of a [`ModelSet`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSetConfig {
    pub iforest: IsolationForestParams,
    /// `None` = no peer-group model.
    pub kmeans: Option<KMeansParams>,
    pub scaling: Scaling,
    pub combine: Combine,
    /// Share of baseline rows to flag; [`DEFAULT_CONTAMINATION`] when neither
    /// this nor `threshold` is set.
    pub contamination: Option<f64>,
    /// Fixed alert threshold on the combined score, in [0, 1].
    pub threshold: Option<f64>,
    /// Contributions per explanation.
    pub explain_top_n: usize,
}

impl Default for ModelSetConfig {
    fn default() -> Self {
        ModelSetConfig {
            iforest: IsolationForestParams::default(),
            kmeans: Some(KMeansParams::default()),
            scaling: Scaling::Robust,
            combine: Combine::Max,
            contamination: None,
            threshold: None,
            explain_top_n: 3,
        }
    }
}

impl ModelSetConfig {
    /// Sets the seed of every model.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.iforest.seed = seed;
        if let Some(k) = self.kmeans.as_mut() {
            k.seed = seed;
        }
        self
    }

    pub fn check(&self) -> Result<(), ParamError> {
        self.iforest.check()?;
        if let Some(k) = &self.kmeans {
            k.check()?;
        }
        match (self.contamination, self.threshold) {
            (Some(_), Some(_)) => return Err(ParamError::ContaminationAndThreshold),
            (Some(c), None) if !(c > 0.0 && c <= 0.5) => return Err(ParamError::Contamination(c)),
            (None, Some(t)) if !(0.0..=1.0).contains(&t) => return Err(ParamError::Threshold(t)),
            _ => {}
        }
        Ok(())
    }
}

/// Scores of one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowScore {
    /// Combined calibrated score in [0, 1].
    pub score: f64,
    pub iforest_raw: f64,
    pub iforest_pct: f64,
    pub kmeans_raw: Option<f64>,
    pub kmeans_pct: Option<f64>,
    /// Peer group.
    pub cluster: Option<usize>,
    pub is_anomaly: bool,
    pub explanation: Vec<Contribution>,
}

/// A fitted baseline for one entity kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSet {
    spec: FeatureSpec,
    config: ModelSetConfig,
    preprocessor: Preprocessor,
    iforest: IsolationForest,
    iforest_calibration: Calibration,
    kmeans: Option<KMeansDetector>,
    kmeans_calibration: Option<Calibration>,
    explainer: Explainer,
    threshold: f64,
    n_train_rows: usize,
    baseline_alert_rate: f64,
}

/// Combined scores of a batch, before explanations: one per distinct row.
struct Scored {
    /// The distinct row of each row.
    of_row: Vec<u32>,
    if_raw: Vec<f64>,
    if_pct: Vec<f64>,
    km: Option<(Vec<f64>, Vec<f64>, Vec<usize>)>,
    combined: Vec<f64>,
}

impl ModelSet {
    /// Fits every part on the baseline `x_raw` (columns in `spec` order; NaN
    /// is imputed with the baseline median, ±∞ refused). Needs 2+ rows.
    pub fn fit(x_raw: ArrayView2<f64>, spec: FeatureSpec, config: ModelSetConfig) -> Result<ModelSet, ModelError> {
        Ok(ModelSet::fit_inner(x_raw, spec, config)?.0)
    }

    /// [`ModelSet::fit`], also returning the baseline rows' own scores (the
    /// ones calibration was fitted on, so the baseline is scored once),
    /// explaining the rows `explain` selects.
    pub fn fit_scored(
        x_raw: ArrayView2<f64>,
        spec: FeatureSpec,
        config: ModelSetConfig,
        explain: ExplainRows,
    ) -> Result<(ModelSet, Vec<RowScore>), ModelError> {
        let (set, scored) = ModelSet::fit_inner(x_raw, spec, config)?;
        let rows = set.row_scores(x_raw, &scored, explain, 0..x_raw.nrows())?;
        Ok((set, rows))
    }

    /// [`ModelSet::fit_scored`], handing the scores to `each` in row order,
    /// `chunk` rows at a time, so they never all exist at once.
    pub fn fit_scored_chunks(
        x_raw: ArrayView2<f64>,
        spec: FeatureSpec,
        config: ModelSetConfig,
        explain: ExplainRows,
        chunk: usize,
        mut each: impl FnMut(Vec<RowScore>),
    ) -> Result<ModelSet, ModelError> {
        let (set, scored) = ModelSet::fit_inner(x_raw, spec, config)?;
        let n = x_raw.nrows();
        let mut start = 0;
        while start < n {
            let end = start.saturating_add(chunk.max(1)).min(n);
            each(set.row_scores(x_raw, &scored, explain, start..end)?);
            start = end;
        }
        Ok(set)
    }

    fn fit_inner(
        x_raw: ArrayView2<f64>,
        spec: FeatureSpec,
        config: ModelSetConfig,
    ) -> Result<(ModelSet, Scored), ModelError> {
        config.check()?;
        spec.check()?;
        check_ncols(&x_raw, spec.n_features())?;
        let n = x_raw.nrows();
        if n == 0 {
            return Err(ModelError::EmptyData(format!(
                "no baseline rows for entity kind `{}`",
                spec.entity_kind
            )));
        }
        let named = |e| name_error(e, &spec);
        // The baseline's columns, read once for the preprocessor and the explainer.
        let mut columns = baseline_columns(x_raw);
        let preprocessor = PreprocessParams::new(spec.transforms.clone(), config.scaling)
            .fit_with_columns(x_raw, &mut columns)
            .map_err(named)?;
        let directions: Vec<Direction> = (0..spec.n_features()).map(|j| spec.direction(j)).collect();
        let explainer = Explainer::fit_with_columns(x_raw, &spec.feature_names, &directions, &columns)?;
        drop(columns);
        // Each distinct row is preprocessed and scored once; fitting samples
        // and calibrations count every row.
        let distinct = DistinctRows::of(x_raw);
        let z = preprocessor
            .transform_rows(x_raw, Some(&distinct.first))
            .map_err(named)?;
        let rows = Rows {
            x: z.view(),
            of_row: Some(&distinct.of_row),
        };
        let iforest = config.iforest.check()?.fit_rows(rows).map_err(named)?;
        let if_raw = iforest
            .score(z.view())
            .map_err(|e| named(rows.logical_error(e)))?
            .to_vec();
        let iforest_calibration = Calibration::fit(&rows.expand(&if_raw))?;
        let (kmeans, kmeans_calibration, km_raw) = match &config.kmeans {
            Some(p) => {
                let km = p.check()?.fit_rows(rows).map_err(named)?;
                let (s, c) = km
                    .score_and_assign(z.view())
                    .map_err(|e| named(rows.logical_error(e)))?;
                let cal = Calibration::fit(&rows.expand(s.as_slice().expect("contiguous")))?;
                (Some(km), Some(cal), Some((s.to_vec(), c.to_vec())))
            }
            None => (None, None, None),
        };
        drop(z);
        let mut set = ModelSet {
            spec,
            config,
            preprocessor,
            iforest,
            iforest_calibration,
            kmeans,
            kmeans_calibration,
            explainer,
            threshold: 1.0,
            n_train_rows: n,
            baseline_alert_rate: 0.0,
        };
        let scored = set.calibrated(distinct.of_row, if_raw, km_raw);
        // Every row's combined score; selection reorders it, which the count
        // below does not mind.
        let mut combined = expand(&scored.of_row, &scored.combined);
        set.threshold = match set.config.threshold {
            Some(t) => t,
            None => {
                let q = 1.0 - set.config.contamination.unwrap_or(DEFAULT_CONTAMINATION);
                quantiles_unsorted(&mut combined, &[q])[0]
            }
        };
        set.baseline_alert_rate = combined.iter().filter(|&&s| s > set.threshold).count() as f64 / n as f64;
        Ok((set, scored))
    }

    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }
    pub fn config(&self) -> &ModelSetConfig {
        &self.config
    }
    pub fn preprocessor(&self) -> &Preprocessor {
        &self.preprocessor
    }
    pub fn iforest(&self) -> &IsolationForest {
        &self.iforest
    }
    pub fn iforest_calibration(&self) -> &Calibration {
        &self.iforest_calibration
    }
    pub fn kmeans(&self) -> Option<&KMeansDetector> {
        self.kmeans.as_ref()
    }
    pub fn kmeans_calibration(&self) -> Option<&Calibration> {
        self.kmeans_calibration.as_ref()
    }
    pub fn explainer(&self) -> &Explainer {
        &self.explainer
    }
    /// Alert threshold on the combined score: `score > threshold` alerts.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
    pub fn n_train_rows(&self) -> usize {
        self.n_train_rows
    }
    /// Share of baseline rows above the threshold.
    pub fn baseline_alert_rate(&self) -> f64 {
        self.baseline_alert_rate
    }

    /// Scores the distinct rows `z` (preprocessed) of rows whose distinct
    /// row is `of_row`.
    fn score_preprocessed(&self, z: ArrayView2<f64>, of_row: Vec<u32>) -> Result<Scored, ModelError> {
        let named = |e| logical_error(&of_row, e);
        let if_raw = self.iforest.score(z).map_err(named)?.to_vec();
        let km_raw = match &self.kmeans {
            Some(km) => {
                let (s, c) = km.score_and_assign(z).map_err(named)?;
                Some((s.to_vec(), c.to_vec()))
            }
            None => None,
        };
        Ok(self.calibrated(of_row, if_raw, km_raw))
    }

    /// Percentiles and the combined score from raw model scores.
    fn calibrated(&self, of_row: Vec<u32>, if_raw: Vec<f64>, km_raw: Option<(Vec<f64>, Vec<usize>)>) -> Scored {
        // Two binary searches per row over the baseline's scores: in parallel.
        let if_pct: Vec<f64> = if_raw
            .par_iter()
            .map(|&s| self.iforest_calibration.percentile(s))
            .collect();
        let km = match (km_raw, &self.kmeans_calibration) {
            (Some((s, c)), Some(cal)) => {
                let pct = s.par_iter().map(|&v| cal.percentile(v)).collect();
                Some((s, pct, c))
            }
            _ => None,
        };
        let combined = match &km {
            None => if_pct.clone(),
            Some((_, kp, _)) => if_pct
                .iter()
                .zip(kp)
                .map(|(&a, &b)| match self.config.combine {
                    Combine::Max => a.max(b),
                    Combine::Mean => 0.5 * (a + b),
                })
                .collect(),
        };
        Scored {
            of_row,
            if_raw,
            if_pct,
            km,
            combined,
        }
    }

    /// Scores raw rows (columns in spec order) and explains every row.
    pub fn score(&self, x_raw: ArrayView2<f64>) -> Result<Vec<RowScore>, ModelError> {
        self.score_with(x_raw, ExplainRows::All)
    }

    /// Scores raw rows, explaining only the rows `explain` selects.
    pub fn score_with(&self, x_raw: ArrayView2<f64>, explain: ExplainRows) -> Result<Vec<RowScore>, ModelError> {
        let distinct = DistinctRows::of(x_raw);
        let z = self
            .preprocessor
            .transform_rows(x_raw, Some(&distinct.first))
            .map_err(|e| name_error(e, &self.spec))?;
        let s = self
            .score_preprocessed(z.view(), distinct.of_row)
            .map_err(|e| name_error(e, &self.spec))?;
        drop(z);
        self.row_scores(x_raw, &s, explain, 0..x_raw.nrows())
    }

    /// One [`RowScore`] per row in `range` of `x_raw`, from their scores `s`.
    fn row_scores(
        &self,
        x_raw: ArrayView2<f64>,
        s: &Scored,
        explain: ExplainRows,
        range: std::ops::Range<usize>,
    ) -> Result<Vec<RowScore>, ModelError> {
        let top_n = self.config.explain_top_n;
        // Explaining fails only on a column count, checked once here, so
        // the rows collect straight into their vector.
        check_ncols(&x_raw, self.explainer.features().len())?;
        Ok(range
            .into_par_iter()
            .map(|i| {
                let k = s.of_row[i] as usize;
                let is_anomaly = s.combined[k] > self.threshold;
                let explanation = match explain {
                    ExplainRows::All => true,
                    ExplainRows::Anomalies => is_anomaly,
                    ExplainRows::AtLeast(min) => is_anomaly || s.combined[k] >= min,
                    ExplainRows::None => false,
                };
                let explanation = if explanation {
                    let row: Vec<f64> = x_raw.row(i).to_vec();
                    self.explainer.explain(&row, top_n).expect("column count checked")
                } else {
                    Vec::new()
                };
                RowScore {
                    score: s.combined[k],
                    iforest_raw: s.if_raw[k],
                    iforest_pct: s.if_pct[k],
                    kmeans_raw: s.km.as_ref().map(|km| km.0[k]),
                    kmeans_pct: s.km.as_ref().map(|km| km.1[k]),
                    cluster: s.km.as_ref().map(|km| km.2[k]),
                    is_anomaly,
                    explanation,
                }
            })
            .collect())
    }

    /// A JSON summary for the model card.
    pub fn card(&self) -> serde_json::Value {
        let features: Vec<_> = self
            .explainer
            .features()
            .iter()
            .enumerate()
            .map(|(j, f)| {
                json!({
                    "name": f.name,
                    "transform": format!("{:?}", self.spec.transform(j)),
                    "direction": format!("{:?}", f.direction),
                    "baseline_median": f.median,
                    "baseline_iqr": f.iqr,
                    "baseline_p99": f.p99,
                    "baseline_p1": f.p1,
                })
            })
            .collect();
        let kmeans = self.kmeans.as_ref().map(|km| {
            json!({
                "params": self.config.kmeans,
                "k": km.k(),
                "silhouettes": km.silhouettes(),
                "clusters": km.clusters().iter().map(|c| json!({
                    "size": c.size,
                    "median_distance": c.median_distance,
                    "p95_distance": c.p95_distance,
                })).collect::<Vec<_>>(),
            })
        });
        json!({
            "entity_kind": self.spec.entity_kind,
            "window_secs": self.spec.window_secs,
            "extra": self.spec.extra,
            "rows": self.n_train_rows,
            "features": features,
            "scaling": format!("{:?}", self.config.scaling),
            "iforest": {
                "params": self.config.iforest,
                "psi": self.iforest.psi(),
                "height_limit": self.iforest.height_limit(),
                "nodes": self.iforest.n_nodes(),
            },
            "kmeans": kmeans,
            "calibration": {
                "combine": format!("{:?}", self.config.combine),
                "contamination": self.config.contamination.or(if self.config.threshold.is_none() {
                    Some(DEFAULT_CONTAMINATION)
                } else {
                    None
                }),
                "threshold": self.threshold,
                "baseline_alert_rate": self.baseline_alert_rate,
            },
        })
    }

    pub fn validate(&self) -> Result<(), Inconsistency> {
        let d = self.spec.n_features();
        self.spec.check()?;
        self.preprocessor.validate()?;
        self.iforest.validate()?;
        self.iforest_calibration.validate()?;
        if self.preprocessor.n_features() != d || self.iforest.n_features() != d || self.explainer.features().len() != d
        {
            return Err(Inconsistency::FeatureCount(self.spec.entity_kind.clone()));
        }
        match (&self.kmeans, &self.kmeans_calibration) {
            (Some(km), Some(cal)) => {
                km.validate()?;
                cal.validate()?;
                if km.n_features() != d {
                    return Err(Inconsistency::KMeansFeatureCount(self.spec.entity_kind.clone()));
                }
            }
            (None, None) => {}
            _ => return Err(Inconsistency::KMeansCalibration(self.spec.entity_kind.clone())),
        }
        Ok(())
    }
}

/// Replaces a column index by the feature's name in non-finite errors.
fn name_error(e: ModelError, spec: &FeatureSpec) -> ModelError {
    match e {
        ModelError::NonFinite { row, column, value } if column < spec.n_features() => ModelError::NonFiniteFeature {
            row,
            feature: spec.feature_names[column].clone(),
            value,
        },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn names() -> Vec<String> {
        ["events", "failures", "distinct_hosts", "off_hours_share"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn spec() -> FeatureSpec {
        FeatureSpec::new("user", names()).transforms(vec![
            Transform::Log1p,
            Transform::Log1p,
            Transform::Log1p,
            Transform::None,
        ])
    }

    /// Default config with a cheaper k-means search (tests run unoptimized).
    fn fast_config() -> ModelSetConfig {
        ModelSetConfig {
            kmeans: Some(KMeansParams::new().k_range(2..=4).n_runs(2)),
            ..ModelSetConfig::default()
        }
    }

    /// Quiet users: 20–60 events, 0–2 failures, 1–3 hosts, a low off-hours share.
    pub(crate) fn baseline(n: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, 4), |(_, j)| match j {
            0 => rng.gen_range(20..=60) as f64,
            1 => rng.gen_range(0..=2) as f64,
            2 => rng.gen_range(1..=3) as f64,
            _ => rng.gen_range(0.0..0.2),
        })
    }

    #[test]
    fn a_baseline_of_repeated_rows_fits_what_the_full_matrix_fits() {
        // Small counts repeat, as in entity-windows; one missing value.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut x = Array2::from_shape_fn((3000, 4), |(_, j)| match j {
            0 => rng.gen_range(1..=4) as f64,
            1 => rng.gen_range(0..=1) as f64,
            2 => 1.0,
            _ => [0.0, 0.5, 1.0][rng.gen_range(0..3)],
        });
        x[[7, 1]] = f64::NAN;
        x[[2999, 0]] = 500.0;
        assert!(DistinctRows::of(x.view()).first.len() < 100);
        let config = ModelSetConfig {
            kmeans: Some(KMeansParams::new().k_range(2..=3).n_runs(1).fit_sample(500)),
            ..ModelSetConfig::default()
        }
        .with_seed(5);
        let set = ModelSet::fit(x.view(), spec(), config.clone()).unwrap();
        let z = set.preprocessor().transform(x.view()).unwrap();
        assert_eq!(set.iforest(), &config.iforest.fit(z.view()).unwrap());
        let km = config.kmeans.as_ref().unwrap().fit(z.view()).unwrap();
        assert_eq!(set.kmeans(), Some(&km));
        let if_raw = set.iforest().score(z.view()).unwrap().to_vec();
        assert_eq!(set.iforest_calibration(), &Calibration::fit(&if_raw).unwrap());
        let km_raw = km.score(z.view()).unwrap().to_vec();
        assert_eq!(set.kmeans_calibration(), Some(&Calibration::fit(&km_raw).unwrap()));
        // Scores in a batch with repeats equal scores of rows alone.
        let batch = set.score(x.view()).unwrap();
        for i in [0, 7, 1234, 2999] {
            let alone = set.score(x.slice(ndarray::s![i..i + 1, ..])).unwrap();
            assert_eq!(batch[i], alone[0], "row {i}");
            assert_eq!(batch[i].iforest_raw.to_bits(), if_raw[i].to_bits());
        }
        assert!(batch[2999].is_anomaly);
    }

    #[test]
    fn flags_a_brute_force_row_and_explains_it() {
        let x = baseline(1000, 1);
        let set = ModelSet::fit(x.view(), spec(), ModelSetConfig::default().with_seed(4)).unwrap();
        assert!(
            (set.baseline_alert_rate() - 0.01).abs() < 0.005,
            "{}",
            set.baseline_alert_rate()
        );
        let attack = ndarray::array![[45.0, 300.0, 2.0, 0.1], [40.0, 1.0, 2.0, 0.1]];
        let scores = set.score(attack.view()).unwrap();
        assert!(scores[0].is_anomaly, "{:?}", scores[0]);
        assert!(scores[0].score > 0.99);
        assert_eq!(scores[0].explanation[0].feature, "failures");
        assert!(scores[0].explanation.len() <= 3);
        assert!(!scores[1].is_anomaly, "{:?}", scores[1]);
        assert!(scores[0].cluster.is_some() && scores[0].kmeans_pct.is_some());
        let only = set.score_with(attack.view(), ExplainRows::Anomalies).unwrap();
        assert!(!only[0].explanation.is_empty() && only[1].explanation.is_empty());
    }

    #[test]
    fn fit_scored_returns_what_scoring_the_baseline_again_gives() {
        let x = baseline(600, 5);
        let (set, fitted) =
            ModelSet::fit_scored(x.view(), spec(), fast_config().with_seed(9), ExplainRows::Anomalies).unwrap();
        let again = set.score_with(x.view(), ExplainRows::Anomalies).unwrap();
        assert_eq!(fitted, again);
        assert_eq!(
            set,
            ModelSet::fit(x.view(), spec(), fast_config().with_seed(9)).unwrap()
        );
        let flagged = fitted.iter().filter(|r| r.is_anomaly).count() as f64 / 600.0;
        assert!((flagged - set.baseline_alert_rate()).abs() < 1e-12);
        // In chunks (the last one short): the same scores, in order.
        let mut chunks = Vec::new();
        let chunked = ModelSet::fit_scored_chunks(
            x.view(),
            spec(),
            fast_config().with_seed(9),
            ExplainRows::Anomalies,
            250,
            |c| chunks.push(c),
        )
        .unwrap();
        assert_eq!(chunked, set);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![250, 250, 100]);
        assert_eq!(chunks.concat(), fitted);
    }

    #[test]
    fn combine_and_fixed_threshold() {
        let x = baseline(500, 2);
        let cfg = ModelSetConfig {
            kmeans: None,
            threshold: Some(0.9),
            ..ModelSetConfig::default()
        };
        let set = ModelSet::fit(x.view(), spec(), cfg).unwrap();
        assert_eq!(set.threshold(), 0.9);
        let s = set.score(x.view()).unwrap();
        assert!(s.iter().all(|r| r.kmeans_raw.is_none() && r.score == r.iforest_pct));
        let cfg = ModelSetConfig {
            combine: Combine::Mean,
            ..fast_config()
        };
        let set = ModelSet::fit(x.view(), spec(), cfg).unwrap();
        let r = &set.score(x.slice(ndarray::s![..5, ..])).unwrap()[0];
        assert!((r.score - 0.5 * (r.iforest_pct + r.kmeans_pct.unwrap())).abs() < 1e-12);
    }

    #[test]
    fn missing_values_and_errors_name_features() {
        let mut x = baseline(300, 3);
        x[[5, 3]] = f64::NAN;
        let set = ModelSet::fit(x.view(), spec(), fast_config()).unwrap();
        let row = ndarray::array![[f64::NAN, f64::NAN, f64::NAN, f64::NAN]];
        let s = set.score(row.view()).unwrap();
        assert!(!s[0].is_anomaly && s[0].explanation.is_empty());
        let inf = ndarray::array![[1.0, f64::INFINITY, 1.0, 0.0]];
        match set.score(inf.view()) {
            Err(ModelError::NonFiniteFeature { row: 0, feature, .. }) => assert_eq!(feature, "failures"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            set.score(Array2::zeros((1, 3)).view()),
            Err(ModelError::FeatureCount { expected: 4, got: 3 })
        ));
        let bad = ModelSetConfig {
            contamination: Some(0.01),
            threshold: Some(0.5),
            ..fast_config()
        };
        assert!(matches!(
            ModelSet::fit(x.view(), spec(), bad),
            Err(ModelError::Param(ParamError::ContaminationAndThreshold))
        ));
        let bad = ModelSetConfig {
            contamination: Some(0.0),
            ..fast_config()
        };
        assert!(matches!(
            ModelSet::fit(x.view(), spec(), bad),
            Err(ModelError::Param(ParamError::Contamination(_)))
        ));
    }

    #[test]
    fn check_columns_names_problems() {
        let s = spec();
        assert!(s.check_columns(&names()).is_ok());
        let cols: Vec<String> = ["failures", "events", "distinct_hosts", "source_ips"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        match s.check_columns(&cols) {
            Err(ModelError::Columns {
                missing,
                unexpected,
                misordered,
                detail,
            }) => {
                assert_eq!(missing, vec!["off_hours_share"]);
                assert_eq!(unexpected, vec!["source_ips"]);
                assert_eq!(misordered, vec!["events", "failures"]);
                assert!(detail.contains("missing off_hours_share"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        let dup = FeatureSpec::new("user", vec!["a".into(), "a".into()]);
        assert!(matches!(dup.check(), Err(ParamError::FeatureSpec(_))));
    }

    #[test]
    fn default_directions_follow_transforms() {
        let s = spec();
        assert_eq!(s.direction(1), Direction::High);
        assert_eq!(s.direction(3), Direction::Both);
    }
}
