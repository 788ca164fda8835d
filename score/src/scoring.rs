//! [`Scoring`]: feature frames scored one entity kind at a time (against
//! the baseline, or a baseline fitted on the input), keeping what alerts
//! need: the explained rows, every window that adds anomaly evidence, and
//! with `--scores-out` every row's score.

use rayon::prelude::*;

use loglynx_baseline::accumulate::{AccessColumns, EvidenceCollector};
use loglynx_baseline::fit::SCORE_CHUNK;
use loglynx_baseline::sample::FittedSets;
use loglynx_baseline::{Baseline, FeatureFrame, KindJob, KindModel, KindOutcome};
use loglynx_features::aggregate::registry::EntityKind;
use loglynx_features::aggregate::WindowEvidence;
use loglynx_features::output::frames::FrameSpool;
use loglynx_models::{ExplainRows, ModelSetConfig, RowScore};

use crate::alerts::{Anomaly, Driver};
use crate::{report, ScoreError};

/// Scores feature frames (one entity kind at a time, or a whole table) and
/// keeps what alerts need: the explained rows (anomalous, or at least
/// `explain_at`) and the windows that add evidence; with `scores_out`
/// every row's score is written as it comes.
pub(crate) struct Scoring<'m> {
    /// The baseline; without it one is fitted on each frame, unless sets
    /// were fitted on a sample of the input first (`fitted_sets`).
    pub(crate) model: Option<&'m Baseline>,
    pub(crate) fitted_sets: Option<&'m FittedSets>,
    pub(crate) config: ModelSetConfig,
    pub(crate) explain: ExplainRows,
    /// Source rows scored at least this are kept as anomalies, with
    /// explanations, besides the model's own anomalies.
    pub(crate) explain_at: f64,
    /// Windows that add evidence, per entity, and the entity-days.
    pub(crate) evidence: EvidenceCollector,
    /// `--scores-out`.
    pub(crate) scores_out: Option<report::ScoresWriter>,
    /// Kinds fitted on the input.
    pub(crate) fitted: usize,
    /// Kinds too small to fit, `kind (why)`.
    pub(crate) skipped: Vec<String>,
    /// Kinds the model has no set for.
    pub(crate) unscored: Vec<String>,
    /// The explained rows, spooled: the merge reads back those of the
    /// entities it asks about.
    pub(crate) anomalies: FrameSpool<Anomaly>,
    pub(crate) rows: usize,
    pub(crate) anomalous: usize,
    /// Every scored row's score, per entity kind, for the report.
    pub(crate) histograms: Vec<ScoreHistogram>,
}

/// Bins of a [`ScoreHistogram`] over [0, 1].
pub const HISTOGRAM_BINS: usize = 50;

/// How one entity kind's windows scored, and the model's threshold.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScoreHistogram {
    pub kind: String,
    /// Rows per score bin: bin `i` holds scores in `[i, i + 1) / BINS`
    /// (1 in the last).
    pub bins: Vec<u64>,
    pub threshold: Option<f64>,
}

impl ScoreHistogram {
    fn add(&mut self, score: f64) {
        let bin = ((score * HISTOGRAM_BINS as f64) as usize).min(HISTOGRAM_BINS - 1);
        self.bins[bin] += 1;
    }
}

impl Scoring<'_> {
    /// Scores `frame`; `evidence` is its rows' evidence lines, or empty.
    pub(crate) fn add(&mut self, mut frame: FeatureFrame, evidence: &[WindowEvidence]) -> Result<(), ScoreError> {
        let rows = frame.len();
        if rows == 0 {
            return Ok(());
        }
        let kinds = frame.entity_kinds();
        let one_kind = kinds.len() == 1;
        let mut found = Vec::new();
        // Scores to write: those of one kind are written chunk by chunk,
        // in row order; kinds interleaved in a table are sorted first.
        let mut kept = Vec::new();
        // Cloned: the scores' callback borrows `self` while the job runs.
        let config = self.config.clone();
        for kind in kinds {
            let model = match (self.model, self.fitted_sets) {
                (Some(m), _) => match m.set(kind.as_str()) {
                    Some(set) => KindModel::Saved(set),
                    None => {
                        if !self.unscored.iter().any(|k| k == kind.as_str()) {
                            self.unscored.push(kind.to_string());
                        }
                        continue;
                    }
                },
                // Kinds too small to fit were noted when the sets were fitted.
                (None, Some(fitted)) => match fitted.set(kind) {
                    Some(set) => KindModel::Saved(set),
                    None => continue,
                },
                (None, None) => KindModel::Fit(&config),
            };
            // A fitted set's threshold is known once it is fitted.
            let (n_baseline, saved_threshold) = match &model {
                KindModel::Saved(set) => (set.n_train_rows(), Some(set.threshold())),
                KindModel::Fit(_) => (frame.rows_of(kind).len(), None),
            };
            let job = match KindJob::new(&frame, kind, model)? {
                Ok(job) => job,
                Err(why) => {
                    self.unscored.push(kind.to_string());
                    self.skipped.push(why.0);
                    continue;
                }
            };
            if let Some(entity_kind) = kind.entity() {
                self.evidence.begin_kind(entity_kind, n_baseline);
                if let Some(t) = saved_threshold {
                    self.evidence.set_threshold(entity_kind, t);
                }
            }
            // A frame of one kind drops the feature columns once its
            // matrix is made but those saying whether an account got in.
            if one_kind {
                frame.keep_columns(&AccessColumns::names());
            }
            let mut written = Ok(());
            let outcome = job.run(Some(self.explain), SCORE_CHUNK, |rows, s| {
                self.take(&frame, evidence, rows, s, &mut found, &mut kept);
                if one_kind && written.is_ok() {
                    written = self.write_scores(&frame, &mut kept);
                }
            })?;
            written?;
            let threshold = match &outcome {
                KindOutcome::Fitted(set) => Some(set.threshold()),
                KindOutcome::Scored => saved_threshold,
            };
            if let Some(h) = self.histograms.iter_mut().find(|h| h.kind == kind.as_str()) {
                h.threshold = threshold;
            }
            if let KindOutcome::Fitted(set) = outcome {
                self.fitted += 1;
                if let Some(entity_kind) = kind.entity() {
                    self.evidence.set_threshold(entity_kind, set.threshold());
                }
            }
        }
        // Row order, as kinds may interleave in a table.
        found.sort_by_key(|(r, _)| *r);
        let found: Vec<Anomaly> = found.into_iter().map(|(_, a)| a).collect();
        self.anomalies.push(&found)?;
        kept.sort_by_key(|(r, _)| *r);
        self.write_scores(&frame, &mut kept)?;
        self.rows += rows;
        Ok(())
    }

    /// Writes `kept` (rows of `frame`) to `--scores-out` and empties it.
    fn write_scores(&mut self, frame: &FeatureFrame, kept: &mut Vec<(usize, RowScore)>) -> Result<(), ScoreError> {
        if let Some(w) = &mut self.scores_out {
            w.write(frame, kept)?;
        }
        kept.clear();
        Ok(())
    }

    /// Takes the scores of `rows` of `frame`: windows that add evidence
    /// into the collector, explained rows into `found`, every score into
    /// `kept` when the scores are written.
    fn take(
        &mut self,
        frame: &FeatureFrame,
        evidence: &[WindowEvidence],
        rows: &[usize],
        scores: Vec<RowScore>,
        found: &mut Vec<(usize, Anomaly)>,
        kept: &mut Vec<(usize, RowScore)>,
    ) {
        let explain_at = self.explain_at;
        self.anomalous += scores.iter().filter(|s| s.is_anomaly).count();
        // The rows of one call are of one kind (a job scores one kind).
        if let Some(&first) = rows.first() {
            let kind = frame.kinds[first].as_str();
            let h = match self.histograms.iter().position(|h| h.kind == kind) {
                Some(i) => &mut self.histograms[i],
                None => {
                    self.histograms.push(ScoreHistogram {
                        kind: kind.to_owned(),
                        bins: vec![0; HISTOGRAM_BINS],
                        threshold: None,
                    });
                    self.histograms.last_mut().expect("just pushed")
                }
            };
            for s in &scores {
                h.add(s.score);
            }
        }
        self.evidence
            .add_rows(frame, rows.len(), |i| (rows[i], scores[i].score));
        // Made in parallel: explanations are formatted here.
        let anomaly = |r: usize, s: &RowScore| {
            let kind = frame.kinds[r].entity();
            // The model's anomalies, and public-facing sources near its
            // threshold (whose windows accumulate the most often).
            let wanted = s.is_anomaly || (kind == Some(EntityKind::SourceIp) && s.score >= explain_at);
            match (wanted, frame.window_starts[r], kind) {
                (true, Some(start), Some(entity_kind)) => {
                    let anomaly = Anomaly {
                        entity_kind,
                        entity: frame.ids[r].to_string(),
                        window_start: start,
                        window_end: start + frame.window.unwrap_or(0),
                        score: s.score,
                        explanation: if s.explanation.is_empty() {
                            vec![loglynx_models::NO_SINGLE_DRIVER.to_owned()]
                        } else {
                            s.explanation.iter().map(|c| c.to_string()).collect()
                        },
                        drivers: s
                            .explanation
                            .iter()
                            .map(|c| Driver {
                                feature: c.feature.clone(),
                                value: c.value,
                                side: c.side,
                                baseline_bound: c.baseline_bound,
                            })
                            .collect(),
                        flagged: s.is_anomaly,
                        evidence: evidence
                            .get(r)
                            .map(|lines| lines.iter().filter_map(|l| l.get()).collect())
                            .unwrap_or_default(),
                    };
                    Some((r, anomaly))
                }
                _ => None,
            }
        };
        if self.scores_out.is_some() {
            found.par_extend(rows.par_iter().zip(&scores).filter_map(|(&r, s)| anomaly(r, s)));
            kept.extend(rows.iter().copied().zip(scores));
        } else {
            // Consumed in parallel, so they are freed there too.
            found.par_extend(rows.par_iter().zip(scores).filter_map(|(&r, s)| anomaly(r, &s)));
        }
    }
}
