//! Fitting and scoring a baseline, one model set per entity kind: the feature
//! spec of each kind comes from the feature registry (loglynx tables) or
//! from the table's numeric columns (generic tables). [`KindJob`] is the
//! one per-kind loop that `loglynx-train` and `loglynx-score` share ([`KindJob`]).

use loglynx_features::aggregate::registry::{self, ValueKind, SPEC_VERSION};
use loglynx_models::ndarray::Array2;
use loglynx_models::{
    Direction, ExplainRows, FeatureSpec, ModelError, ModelSet, ModelSetConfig, ParamError, RowScore, Transform,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::baseline::{Baseline, TrainingMetadata};
use crate::frame::{FeatureFrame, MissingColumn, RowKind};

/// Rows below which a kind is not trained (too few to say what is normal).
pub const MIN_ROWS: usize = 2;

/// Why fitting or scoring a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("invalid training parameters: {0}")]
    Param(#[from] ParamError),
    #[error("entity kind `{wanted}` has no rows in the training data (present: {present})")]
    NoSuchKind { wanted: String, present: String },
    #[error("nothing to train: every entity kind has too few rows, at least {MIN_ROWS} per kind are needed ({0})")]
    NothingToTrain(String),
    #[error("{kind}: {source}")]
    Model { kind: String, source: ModelError },
    #[error(
        "the {kind} model needs numeric feature columns the input lacks (absent, or holding text): {}",
        missing.join(", ")
    )]
    MissingColumns { kind: String, missing: Vec<String> },
    #[error(transparent)]
    Column(#[from] MissingColumn),
}

/// What to train.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Hyperparameters shared by every entity kind.
    pub config: ModelSetConfig,
    /// Entity kinds to train; `None` = every kind in the data.
    pub kinds: Option<Vec<String>>,
}

/// The feature spec of one entity kind in `frame`, or `None` when no column
/// applies.
pub fn spec_for(frame: &FeatureFrame, kind: RowKind, rows: &[usize]) -> Option<FeatureSpec> {
    let window_secs = frame.window.map(|w| (w / 1_000_000) as u64).unwrap_or(0);
    let (names, transforms, directions): (Vec<String>, Vec<Transform>, Vec<Direction>) = match kind.entity() {
        Some(k) => registry::features_for(k)
            .filter(|f| frame.column(f.name).is_some_and(|c| frame.has_values(c, rows)))
            .map(|f| {
                let t = if f.value == ValueKind::Count {
                    Transform::Log1p
                } else {
                    Transform::None
                };
                let d = if f.value == ValueKind::Seconds {
                    Direction::Both
                } else {
                    Direction::High
                };
                (f.name.to_owned(), t, d)
            })
            .fold((vec![], vec![], vec![]), |mut acc, (n, t, d)| {
                acc.0.push(n);
                acc.1.push(t);
                acc.2.push(d);
                acc
            }),
        None => {
            let mut names = Vec::new();
            let mut transforms = Vec::new();
            for (c, name) in frame.names.iter().enumerate() {
                if !frame.has_values(c, rows) {
                    continue;
                }
                let counts = rows.iter().all(|&r| {
                    let v = frame.columns[c][r];
                    v.is_nan() || (v >= 0.0 && v.fract() == 0.0)
                });
                names.push(name.clone());
                transforms.push(if counts { Transform::Log1p } else { Transform::None });
            }
            let n = names.len();
            (names, transforms, vec![Direction::High; n])
        }
    };
    if names.is_empty() {
        return None;
    }
    Some(
        FeatureSpec::new(kind.as_str(), names)
            .transforms(transforms)
            .directions(directions)
            .window_secs(window_secs),
    )
}

/// The model an entity kind is scored with.
#[derive(Debug, Clone, Copy)]
pub enum KindModel<'a> {
    /// A set of a saved baseline.
    Saved(&'a ModelSet),
    /// A set fitted on the kind's rows first (`config` already checked).
    Fit(&'a ModelSetConfig),
}

/// What [`KindJob::run`] did with one entity kind.
#[derive(Debug)]
pub enum KindOutcome {
    /// Scored against the saved set.
    Scored,
    /// A set was fitted on the rows (and, with scores wanted, they were scored).
    Fitted(Box<ModelSet>),
}

/// Rows scored at a time: their scores and explanations are all that is
/// alive besides the kind's matrix.
pub const SCORE_CHUNK: usize = 1 << 18;

/// Why a kind is not fitted: `kind (why)`, e.g. `host (1 row)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TooLittle(pub String);

/// `1 row`, `0 rows`, `3 rows`.
pub fn rows_note(n: usize) -> String {
    format!("{n} row{}", if n == 1 { "" } else { "s" })
}

/// One entity kind's rows of a frame, as the models' matrix, ready to be
/// fitted or scored: the one per-kind loop that training and scoring share.
/// The job owns its matrix, so the caller may drop the frame's feature
/// columns between [`KindJob::new`] and [`KindJob::run`].
#[derive(Debug)]
pub struct KindJob<'m> {
    kind: RowKind,
    model: KindModel<'m>,
    spec: FeatureSpec,
    rows: Vec<usize>,
    x: Array2<f64>,
}

impl<'m> KindJob<'m> {
    /// The job of `kind`'s rows of `frame`, or `Ok(Err(_))` when there is
    /// too little to fit a set.
    pub fn new(frame: &FeatureFrame, kind: RowKind, model: KindModel<'m>) -> Result<Result<Self, TooLittle>, FitError> {
        let rows = frame.rows_of(kind);
        let (spec, x) = match model {
            KindModel::Saved(set) => (set.spec().clone(), model_matrix(set, frame, &rows)?),
            KindModel::Fit(_) => {
                if rows.len() < MIN_ROWS {
                    return Ok(Err(TooLittle(format!("{kind} ({})", rows_note(rows.len())))));
                }
                let Some(spec) = spec_for(frame, kind, &rows) else {
                    return Ok(Err(TooLittle(format!("{kind} (no feature columns)"))));
                };
                let x = frame.matrix(&rows, &spec.feature_names)?;
                (spec, x)
            }
        };
        Ok(Ok(KindJob {
            kind,
            model,
            spec,
            rows,
            x,
        }))
    }

    /// Fits (for [`KindModel::Fit`]) and scores the rows. With `explain`,
    /// each chunk of at most `chunk` rows' scores goes to `each` with the
    /// frame rows they belong to, in row order; without it a fitted set
    /// scores nothing.
    pub fn run(
        self,
        explain: Option<ExplainRows>,
        chunk: usize,
        mut each: impl FnMut(&[usize], Vec<RowScore>),
    ) -> Result<KindOutcome, FitError> {
        let KindJob {
            kind,
            model,
            spec,
            rows,
            x,
        } = self;
        let model_error = |source| FitError::Model {
            kind: kind.to_string(),
            source,
        };
        match model {
            KindModel::Saved(set) => {
                let explain = explain.unwrap_or(ExplainRows::None);
                // Rows score independently against a saved model.
                for (c, x) in x.axis_chunks_iter(loglynx_models::ndarray::Axis(0), chunk).enumerate() {
                    let s = set.score_with(x, explain).map_err(model_error)?;
                    each(&rows[c * chunk..][..s.len()], s);
                }
                Ok(KindOutcome::Scored)
            }
            KindModel::Fit(config) => {
                tracing::info!(
                    kind = kind.as_str(),
                    rows = rows.len(),
                    features = spec.feature_names.len(),
                    rss_mib = loglynx_features::mem::rss_mib(),
                    "fitting"
                );
                let set = match explain {
                    None => ModelSet::fit(x.view(), spec, config.clone()),
                    // Fitting scores every row once already: those scores are the output.
                    Some(explain) => {
                        let mut done = 0;
                        ModelSet::fit_scored_chunks(x.view(), spec, config.clone(), explain, chunk, |s| {
                            let r = &rows[done..done + s.len()];
                            done += s.len();
                            each(r, s);
                        })
                    }
                }
                .map_err(model_error)?;
                Ok(KindOutcome::Fitted(Box::new(set)))
            }
        }
    }
}

/// Fits one model set per entity kind of `frame` into a baseline (feature
/// configuration, history and anomalous entities left for the caller).
/// Kinds with fewer than [`MIN_ROWS`] rows are left out and named in
/// `metadata.notes`.
pub fn fit_baseline(
    frame: &FeatureFrame,
    opts: &TrainOptions,
    metadata: TrainingMetadata,
) -> Result<Baseline, FitError> {
    Ok(fit_sets(frame, opts, metadata, None, |_, _, _| ())?.0)
}

/// [`fit_baseline`], also returning the training rows' own scores as
/// [`score_frame_with`] would, without scoring them a second time.
pub fn fit_baseline_scored(
    frame: &FeatureFrame,
    opts: &TrainOptions,
    metadata: TrainingMetadata,
    explain: ExplainRows,
) -> Result<(Baseline, FrameScores), FitError> {
    let (baseline, per_kind) = fit_sets(frame, opts, metadata, Some(explain), |_, rows, s| {
        rows.iter().copied().zip(s).collect::<Vec<_>>()
    })?;
    let mut scores: Vec<(usize, RowScore)> = per_kind.into_iter().flatten().collect();
    // Each kind's scores are in row order; the kinds' rows interleave.
    scores.sort_by_key(|(r, _)| *r);
    let unscored = frame
        .entity_kinds()
        .into_iter()
        .filter(|k| baseline.set(k.as_str()).is_none())
        .map(|k| k.to_string())
        .collect();
    Ok((baseline, (scores, unscored)))
}

/// A training row's own score and whether it is anomalous: what
/// [`fit_baseline_verdicts`] keeps of each [`RowScore`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowVerdict {
    pub row: usize,
    pub score: f64,
    pub is_anomaly: bool,
}

/// [`fit_baseline_scored`] without explanations, keeping of each training
/// row only its [`RowVerdict`] (in row order): a fraction of the memory.
pub fn fit_baseline_verdicts(
    frame: &FeatureFrame,
    opts: &TrainOptions,
    metadata: TrainingMetadata,
) -> Result<(Baseline, Vec<RowVerdict>), FitError> {
    let (baseline, per_kind) = fit_baseline_keeping(frame, opts, metadata, |_, verdicts| verdicts)?;
    let mut verdicts: Vec<RowVerdict> = per_kind.into_iter().flatten().collect();
    verdicts.sort_by_key(|v| v.row);
    Ok((baseline, verdicts))
}

/// Fits a baseline; `keep` turns each fitted kind's set and its rows'
/// [`RowVerdict`]s (in row order) into what the caller keeps of the kind,
/// in the task that fitted it. The kept values come back in kind order.
pub fn fit_baseline_keeping<T: Send>(
    frame: &FeatureFrame,
    opts: &TrainOptions,
    metadata: TrainingMetadata,
    keep: impl Fn(&ModelSet, Vec<RowVerdict>) -> T + Sync,
) -> Result<(Baseline, Vec<T>), FitError> {
    fit_sets(frame, opts, metadata, Some(ExplainRows::None), |set, rows, s| {
        let verdicts = rows
            .iter()
            .zip(s)
            .map(|(&row, s)| RowVerdict {
                row,
                score: s.score,
                is_anomaly: s.is_anomaly,
            })
            .collect();
        keep(set, verdicts)
    })
}

/// One kind fitted: its set, its row count and what `keep` made of it; or
/// why it was skipped.
type KindFit<T> = Result<(ModelSet, usize, T), TooLittle>;

/// Fits the model sets, the entity kinds side by side (each fit leaves
/// part of the cores idle; the models do not depend on the threads). What
/// `keep` makes of each fitted kind's set, rows and scores comes back per
/// fitted kind, in kind order.
fn fit_sets<T: Send>(
    frame: &FeatureFrame,
    opts: &TrainOptions,
    mut metadata: TrainingMetadata,
    explain: Option<ExplainRows>,
    keep: impl Fn(&ModelSet, &[usize], Vec<RowScore>) -> T + Sync,
) -> Result<(Baseline, Vec<T>), FitError> {
    opts.config.check()?;
    let mut kinds = frame.entity_kinds();
    if let Some(wanted) = &opts.kinds {
        for w in wanted {
            if !kinds.iter().any(|k| k.as_str() == w) {
                return Err(FitError::NoSuchKind {
                    wanted: w.clone(),
                    present: kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        kinds.retain(|k| wanted.iter().any(|w| w == k.as_str()));
    }
    // Each kind builds its matrix in its own task, so a kind's matrix
    // exists only while it is fitted.
    let fitted: Vec<Result<KindFit<T>, FitError>> = kinds
        .par_iter()
        .map(|&kind| {
            let job = match KindJob::new(frame, kind, KindModel::Fit(&opts.config))? {
                Ok(job) => job,
                Err(why) => return Ok(Err(why)),
            };
            let n = job.rows.len();
            // One call with every row (no chunks); none without `explain`.
            let mut scored = None;
            match job.run(explain, usize::MAX, |rows, s| scored = Some((rows.to_vec(), s)))? {
                KindOutcome::Fitted(set) => {
                    let (rows, scores) = scored.unwrap_or_default();
                    let kept = keep(&set, &rows, scores);
                    Ok(Ok((*set, n, kept)))
                }
                KindOutcome::Scored => unreachable!("a fitted kind's outcome is its set"),
            }
        })
        .collect();
    let mut sets = Vec::new();
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for (kind, outcome) in kinds.iter().zip(fitted) {
        match outcome? {
            Ok((set, n, k)) => {
                metadata.rows_per_set.insert(kind.to_string(), n);
                sets.push(set);
                kept.push(k);
            }
            Err(why) => skipped.push(why.0),
        }
    }
    if sets.is_empty() {
        return Err(FitError::NothingToTrain(if skipped.is_empty() {
            "no rows".to_owned()
        } else {
            skipped.join(", ")
        }));
    }
    if !skipped.is_empty() {
        metadata.notes.insert("skipped_kinds".into(), skipped.join(", "));
    }
    let baseline = Baseline {
        spec_version: SPEC_VERSION,
        features: None,
        sets,
        metadata,
        history: Default::default(),
        anomalous: Default::default(),
        calibration: Default::default(),
        routine: Default::default(),
        novelty: Default::default(),
        reranker: None,
    };
    Ok((baseline, kept))
}

/// `(row index, score)` pairs in row order, and the entity kinds without a model.
pub type FrameScores = (Vec<(usize, RowScore)>, Vec<String>);

/// Scores every row of `frame` whose entity kind the baseline has a model for.
pub fn score_frame(baseline: &Baseline, frame: &FeatureFrame) -> Result<FrameScores, FitError> {
    score_frame_with(baseline, frame, ExplainRows::All)
}

/// [`score_frame`], explaining only the rows `explain` selects.
pub fn score_frame_with(
    baseline: &Baseline,
    frame: &FeatureFrame,
    explain: ExplainRows,
) -> Result<FrameScores, FitError> {
    let mut out = Vec::new();
    let mut unscored = Vec::new();
    for kind in frame.entity_kinds() {
        let Some(set) = baseline.set(kind.as_str()) else {
            unscored.push(kind.to_string());
            continue;
        };
        let job = KindJob::new(frame, kind, KindModel::Saved(set))?.expect("a saved set needs no fitting");
        job.run(Some(explain), usize::MAX, |rows, s| {
            out.extend(rows.iter().copied().zip(s))
        })?;
    }
    out.sort_by_key(|(r, _)| *r);
    Ok((out, unscored))
}

/// The matrix `set` scores: `rows` of `frame` × the set's features, or an
/// error naming the feature columns the frame lacks.
pub fn model_matrix(set: &ModelSet, frame: &FeatureFrame, rows: &[usize]) -> Result<Array2<f64>, FitError> {
    let names = &set.spec().feature_names;
    let missing: Vec<String> = names.iter().filter(|n| frame.column(n).is_none()).cloned().collect();
    if !missing.is_empty() {
        return Err(FitError::MissingColumns {
            kind: set.spec().entity_kind.clone(),
            missing,
        });
    }
    Ok(frame.matrix(rows, names)?)
}

/// Time range of the frame's windows as RFC 3339 strings.
pub fn time_range(frame: &FeatureFrame) -> Option<(String, String)> {
    let starts = frame.window_starts.iter().flatten();
    let min = starts.clone().min()?;
    let max = starts.max()?;
    let end = max + frame.window.unwrap_or(0);
    Some((
        loglynx_features::time::format_rfc3339(*min),
        loglynx_features::time::format_rfc3339(end),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_features::aggregate::{Aggregator, FeatureConfig};
    use loglynx_features::event::{Action, Event, Evidence, Outcome};
    use std::borrow::Cow;
    use std::sync::Arc;

    fn frame_from_events(n_hours: i64) -> FeatureFrame {
        frame_of(n_hours, 20)
    }

    /// `n_users` users logging in from their own address to one host,
    /// every hour for `n_hours` hours.
    fn frame_of(n_hours: i64, n_users: i64) -> FeatureFrame {
        let cfg = Arc::new(FeatureConfig::default().check().unwrap());
        let mut agg = Aggregator::new(cfg);
        for h in 0..n_hours {
            for u in 0..n_users {
                let t = (1_700_000_000 + h * 3600 + u * 7) * 1_000_000;
                let mut ev = Event::new(
                    t,
                    Action::Authentication,
                    Evidence {
                        file: 0,
                        line: 1,
                        raw: Cow::Borrowed(""),
                    },
                );
                ev.outcome = Outcome::Success;
                let user = format!("user{u}");
                ev.user = Some(Cow::Owned(user));
                ev.host = Some(Cow::Borrowed("web-01"));
                ev.set_source(Cow::Owned(format!("10.0.0.{u}")));
                agg.add(&ev);
            }
        }
        FeatureFrame::from_feature_table(&agg.finish())
    }

    #[test]
    fn one_set_per_kind_with_registry_features() {
        let frame = frame_from_events(24);
        let baseline = fit_baseline(&frame, &TrainOptions::default(), TrainingMetadata::default()).unwrap();
        let kinds: Vec<&str> = baseline.sets.iter().map(|s| s.spec().entity_kind.as_str()).collect();
        assert_eq!(kinds, vec!["user", "source_ip", "host"]);
        let user = baseline.set("user").unwrap().spec();
        assert!(user.feature_names.contains(&"failures".to_owned()));
        assert!(!user.feature_names.contains(&"username_entropy".to_owned()));
        let (scores, unscored) = score_frame(&baseline, &frame).unwrap();
        assert_eq!(scores.len(), frame.len());
        assert!(unscored.is_empty());
    }

    #[test]
    fn fit_baseline_scored_matches_scoring_the_frame_after_fitting() {
        let frame = frame_from_events(24);
        let opts = TrainOptions {
            config: ModelSetConfig {
                kmeans: Some(loglynx_models::KMeansParams::new().k_range(2..=3).n_runs(1)),
                ..ModelSetConfig::default()
            },
            kinds: None,
        };
        let (baseline, (scores, unscored)) =
            fit_baseline_scored(&frame, &opts, TrainingMetadata::default(), ExplainRows::Anomalies).unwrap();
        let again = score_frame_with(&baseline, &frame, ExplainRows::Anomalies).unwrap();
        assert_eq!(scores.len(), frame.len());
        assert_eq!(scores, again.0);
        assert_eq!(unscored, again.1);
        // Training keeps only each row's score and verdict, the same.
        let (_, verdicts) = fit_baseline_verdicts(&frame, &opts, TrainingMetadata::default()).unwrap();
        let kept: Vec<(usize, f64, bool)> = scores.iter().map(|(r, s)| (*r, s.score, s.is_anomaly)).collect();
        let verdicts: Vec<(usize, f64, bool)> = verdicts.iter().map(|v| (v.row, v.score, v.is_anomaly)).collect();
        assert_eq!(verdicts, kept);
        assert_eq!(verdicts.len(), frame.len());
    }

    #[test]
    fn calibrating_kind_by_kind_in_the_fit_equals_one_collector_over_every_kind() {
        use crate::accumulate::{BaselineCalibrator, EvidenceCollector, EvidenceConfig, HitIndex};
        let frame = frame_of(48, 12);
        let opts = TrainOptions::default();
        let (_, verdicts) = fit_baseline_verdicts(&frame, &opts, TrainingMetadata::default()).unwrap();
        let config = EvidenceConfig::default();
        let covered = HitIndex::default();
        let window = frame.window.unwrap();
        let calibrator = BaselineCalibrator::new(config, &covered, &[], window);
        let (baseline, parts) = fit_baseline_keeping(&frame, &opts, TrainingMetadata::default(), |set, v| {
            calibrator.kind(set, &frame, &v).unwrap()
        })
        .unwrap();
        let by_kind = calibrator.finish(parts);
        let mut all = EvidenceCollector::new(config);
        for set in &baseline.sets {
            let kind = loglynx_features::aggregate::registry::EntityKind::parse(&set.spec().entity_kind).unwrap();
            all.begin_kind(kind, set.n_train_rows());
            all.set_threshold(kind, set.threshold());
        }
        all.add_rows(&frame, verdicts.len(), |i| (verdicts[i].row, verdicts[i].score));
        let (whole, _) = all.calibrate(window, &covered).unwrap();
        assert_eq!(by_kind.kinds.len(), 3);
        assert_eq!(by_kind, whole);
    }

    #[test]
    fn too_small_kinds_are_skipped_and_named_with_the_minimum() {
        // One hour of 3 users: 3 user and 3 source rows, 1 host row.
        let baseline = fit_baseline(&frame_of(1, 3), &TrainOptions::default(), TrainingMetadata::default()).unwrap();
        let kinds: Vec<&str> = baseline.sets.iter().map(|s| s.spec().entity_kind.as_str()).collect();
        assert_eq!(kinds, vec!["user", "source_ip"]);
        assert_eq!(baseline.metadata.notes["skipped_kinds"], "host (1 row)");

        let e = fit_baseline(&frame_of(1, 1), &TrainOptions::default(), TrainingMetadata::default()).unwrap_err();
        assert!(matches!(e, FitError::NothingToTrain(_)), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "nothing to train: every entity kind has too few rows, at least {MIN_ROWS} per kind are needed \
                 (user (1 row), source_ip (1 row), host (1 row))"
            )
        );
    }

    #[test]
    fn unknown_kind_is_refused() {
        let frame = frame_from_events(3);
        let opts = TrainOptions {
            kinds: Some(vec!["nope".into()]),
            ..Default::default()
        };
        assert!(fit_baseline(&frame, &opts, TrainingMetadata::default())
            .unwrap_err()
            .to_string()
            .contains("nope"));
    }
}
