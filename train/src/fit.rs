//! Fitting and scoring a bundle: one [`ModelSet`] per entity kind, its
//! feature spec taken from the feature registry (loglynx tables) or from the
//! table's numeric columns (generic tables).

use loglynx_features::aggregate::registry::{self, EntityKind, ValueKind};
use loglynx_models::{
    Direction, ExplainRows, FeatureSpec, ModelBundle, ModelSet, ModelSetConfig, RowScore, TrainingMetadata, Transform,
};
use serde::{Deserialize, Serialize};

use loglynx_models::ndarray::Array2;

use crate::table::FeatureFrame;

/// Rows below which a kind is not trained (too few to say what is normal).
pub const MIN_ROWS: usize = 2;

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
pub fn spec_for(frame: &FeatureFrame, kind: &str, rows: &[usize]) -> Option<FeatureSpec> {
    let window_secs = frame.window.map(|w| (w / 1_000_000) as u64).unwrap_or(0);
    let (names, transforms, directions): (Vec<String>, Vec<Transform>, Vec<Direction>) = match EntityKind::parse(kind) {
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
        FeatureSpec::new(kind, names)
            .transforms(transforms)
            .directions(directions)
            .window_secs(window_secs),
    )
}

/// Fits one model set per entity kind of `frame`. Kinds with fewer than
/// [`MIN_ROWS`] rows are left out and named in `metadata.notes`.
pub fn fit_bundle(
    frame: &FeatureFrame,
    opts: &TrainOptions,
    metadata: TrainingMetadata,
) -> Result<ModelBundle, String> {
    Ok(fit_sets(frame, opts, metadata, None)?.0)
}

/// [`fit_bundle`], also returning the training rows' own scores as
/// [`score_frame_with`] would, without scoring them a second time.
pub fn fit_bundle_scored(
    frame: &FeatureFrame,
    opts: &TrainOptions,
    metadata: TrainingMetadata,
    explain: ExplainRows,
) -> Result<(ModelBundle, FrameScores), String> {
    let (bundle, scores) = fit_sets(frame, opts, metadata, Some(explain))?;
    let unscored = frame
        .entity_kinds()
        .into_iter()
        .filter(|k| bundle.set(k).is_none())
        .collect();
    Ok((bundle, (scores, unscored)))
}

/// Fits the bundle; with `explain`, also keeps every trained row's score.
fn fit_sets(
    frame: &FeatureFrame,
    opts: &TrainOptions,
    mut metadata: TrainingMetadata,
    explain: Option<ExplainRows>,
) -> Result<(ModelBundle, Vec<(usize, RowScore)>), String> {
    opts.config.check().map_err(|e| e.to_string())?;
    let mut kinds = frame.entity_kinds();
    if let Some(wanted) = &opts.kinds {
        for w in wanted {
            if !kinds.contains(w) {
                return Err(format!(
                    "entity kind `{w}` has no rows in the training data (present: {})",
                    kinds.join(", ")
                ));
            }
        }
        kinds.retain(|k| wanted.contains(k));
    }
    let mut sets = Vec::new();
    let mut skipped = Vec::new();
    let mut scores = Vec::new();
    for kind in kinds {
        match fit_kind(frame, &kind, &opts.config, explain)? {
            KindFit::Fitted { set, rows, scores: s } => {
                metadata.rows_per_set.insert(kind.clone(), rows.len());
                if let Some(s) = s {
                    scores.extend(rows.into_iter().zip(s));
                }
                sets.push(*set);
            }
            KindFit::Skipped(why) => skipped.push(why),
        }
    }
    if sets.is_empty() {
        return Err(format!(
            "nothing to train: every entity kind has too few rows ({})",
            if skipped.is_empty() {
                "no rows".to_owned()
            } else {
                skipped.join(", ")
            }
        ));
    }
    if !skipped.is_empty() {
        metadata.notes.insert("skipped_kinds".into(), skipped.join(", "));
    }
    scores.sort_by_key(|(r, _)| *r);
    let bundle = ModelBundle {
        spec_version: 1,
        sets,
        metadata,
        history: Default::default(),
    };
    Ok((bundle, scores))
}

/// What fitting one entity kind gave.
#[derive(Debug)]
pub enum KindFit {
    /// The kind's model set, the frame rows it was fitted on, and with
    /// `explain` their scores (same order).
    Fitted {
        set: Box<ModelSet>,
        rows: Vec<usize>,
        scores: Option<Vec<RowScore>>,
    },
    /// Not fitted: `kind (why)`, e.g. `host (1 rows)`.
    Skipped(String),
}

/// The training input of one entity kind: its spec, its rows of the frame
/// and their matrix.
#[derive(Debug)]
pub struct KindMatrix {
    pub spec: FeatureSpec,
    pub rows: Vec<usize>,
    pub x: Array2<f64>,
}

/// The training input of one entity kind of `frame`, or why it is not
/// trained (`kind (why)`).
pub fn kind_matrix(frame: &FeatureFrame, kind: &str) -> Result<Result<KindMatrix, String>, String> {
    let rows = frame.rows_of(kind);
    if rows.len() < MIN_ROWS {
        return Ok(Err(format!("{kind} ({} rows)", rows.len())));
    }
    let Some(spec) = spec_for(frame, kind, &rows) else {
        return Ok(Err(format!("{kind} (no feature columns)")));
    };
    let x = frame.matrix(&rows, &spec.feature_names)?;
    Ok(Ok(KindMatrix { spec, rows, x }))
}

/// Fits the model set of one entity kind of `frame` (`config` already
/// checked); with `explain`, also scores its rows.
pub fn fit_kind(
    frame: &FeatureFrame,
    kind: &str,
    config: &ModelSetConfig,
    explain: Option<ExplainRows>,
) -> Result<KindFit, String> {
    let m = match kind_matrix(frame, kind)? {
        Ok(m) => m,
        Err(why) => return Ok(KindFit::Skipped(why)),
    };
    let mut scores = explain.map(|_| Vec::with_capacity(m.rows.len()));
    let set = fit_matrix(kind, &m, config, explain, usize::MAX, |_, s| {
        if let Some(all) = &mut scores {
            all.extend(s);
        }
    })?;
    Ok(KindFit::Fitted {
        set: Box::new(set),
        rows: m.rows,
        scores,
    })
}

/// Fits the model set of one entity kind from its matrix (`config` already
/// checked). With `explain`, its rows' scores go to `each` in row order,
/// `chunk` rows at a time, with the frame rows they belong to.
pub fn fit_matrix(
    kind: &str,
    m: &KindMatrix,
    config: &ModelSetConfig,
    explain: Option<ExplainRows>,
    chunk: usize,
    mut each: impl FnMut(&[usize], Vec<RowScore>),
) -> Result<ModelSet, String> {
    tracing::info!(
        kind,
        rows = m.rows.len(),
        features = m.spec.feature_names.len(),
        rss_mib = loglynx_features::mem::rss_mib(),
        "fitting"
    );
    let spec = m.spec.clone();
    match explain {
        None => ModelSet::fit(m.x.view(), spec, config.clone()),
        Some(explain) => {
            let mut done = 0;
            ModelSet::fit_scored_chunks(m.x.view(), spec, config.clone(), explain, chunk, |s| {
                let rows = &m.rows[done..done + s.len()];
                done += s.len();
                each(rows, s);
            })
        }
    }
    .map_err(|e| format!("{kind}: {e}"))
}

/// `(row index, score)` pairs in row order, and the entity kinds without a model.
pub type FrameScores = (Vec<(usize, RowScore)>, Vec<String>);

/// Scores every row of `frame` whose entity kind the bundle has a model for.
pub fn score_frame(bundle: &ModelBundle, frame: &FeatureFrame) -> Result<FrameScores, String> {
    score_frame_with(bundle, frame, ExplainRows::All)
}

/// [`score_frame`], explaining only the rows `explain` selects.
pub fn score_frame_with(
    bundle: &ModelBundle,
    frame: &FeatureFrame,
    explain: ExplainRows,
) -> Result<FrameScores, String> {
    let mut out = Vec::new();
    let mut unscored = Vec::new();
    for kind in frame.entity_kinds() {
        let rows = frame.rows_of(&kind);
        let Some(set) = bundle.set(&kind) else {
            unscored.push(kind);
            continue;
        };
        let x = model_matrix(set, frame, &rows)?;
        let scores = set.score_with(x.view(), explain).map_err(|e| format!("{kind}: {e}"))?;
        out.extend(rows.into_iter().zip(scores));
    }
    out.sort_by_key(|(r, _)| *r);
    Ok((out, unscored))
}

/// The matrix `set` scores: `rows` of `frame` × the set's features, or an
/// error naming the feature columns the frame lacks.
pub fn model_matrix(set: &ModelSet, frame: &FeatureFrame, rows: &[usize]) -> Result<Array2<f64>, String> {
    let names = &set.spec().feature_names;
    let missing: Vec<&String> = names.iter().filter(|n| frame.column(n).is_none()).collect();
    if !missing.is_empty() {
        return Err(format!(
            "the {} model needs numeric feature columns the input lacks (absent, or holding text): {}",
            set.spec().entity_kind,
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    frame.matrix(rows, names)
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
        let cfg = Arc::new(FeatureConfig::default().check().unwrap());
        let mut agg = Aggregator::new(cfg);
        for h in 0..n_hours {
            for u in 0..20 {
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
        let bundle = fit_bundle(&frame, &TrainOptions::default(), TrainingMetadata::default()).unwrap();
        let kinds: Vec<&str> = bundle.sets.iter().map(|s| s.spec().entity_kind.as_str()).collect();
        assert_eq!(kinds, vec!["user", "source_ip", "host"]);
        let user = bundle.set("user").unwrap().spec();
        assert!(user.feature_names.contains(&"failures".to_owned()));
        assert!(!user.feature_names.contains(&"username_entropy".to_owned()));
        let (scores, unscored) = score_frame(&bundle, &frame).unwrap();
        assert_eq!(scores.len(), frame.len());
        assert!(unscored.is_empty());
    }

    #[test]
    fn fit_bundle_scored_matches_scoring_the_frame_after_fitting() {
        let frame = frame_from_events(24);
        let opts = TrainOptions {
            config: ModelSetConfig {
                kmeans: Some(loglynx_models::KMeansParams::new().k_range(2..=3).n_runs(1)),
                ..ModelSetConfig::default()
            },
            kinds: None,
        };
        let (bundle, (scores, unscored)) =
            fit_bundle_scored(&frame, &opts, TrainingMetadata::default(), ExplainRows::Anomalies).unwrap();
        let again = score_frame_with(&bundle, &frame, ExplainRows::Anomalies).unwrap();
        assert_eq!(scores.len(), frame.len());
        assert_eq!(scores, again.0);
        assert_eq!(unscored, again.1);
    }

    #[test]
    fn unknown_kind_is_refused() {
        let frame = frame_from_events(3);
        let opts = TrainOptions {
            kinds: Some(vec!["nope".into()]),
            ..Default::default()
        };
        assert!(fit_bundle(&frame, &opts, TrainingMetadata::default())
            .unwrap_err()
            .contains("nope"));
    }
}
