//! `--eval`: a baseline's scores against ground-truth labels, per entity kind.

use serde::Serialize;

use loglynx_baseline::fit::score_frame;
use loglynx_baseline::{Baseline, FeatureFrame};

use crate::labels::Labels;
use crate::metrics::{self, Evaluation};
use crate::TrainError;

#[derive(Debug, Serialize)]
pub struct KindEvaluation {
    pub entity_kind: String,
    #[serde(flatten)]
    pub at_threshold: Evaluation,
    pub best_f1: f64,
    pub best_f1_threshold: f64,
}

/// Scores `frame` and compares each entity kind's scores with `labels`.
pub fn evaluate(baseline: &Baseline, frame: &FeatureFrame, labels: &Labels) -> Result<Vec<KindEvaluation>, TrainError> {
    let (scores, _) = score_frame(baseline, frame)?;
    let mut out = Vec::new();
    for set in &baseline.sets {
        let kind = &set.spec().entity_kind;
        let rows: Vec<usize> = scores
            .iter()
            .filter(|(r, _)| frame.kinds[*r].as_str() == kind)
            .map(|(r, _)| *r)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let s: Vec<f64> = scores
            .iter()
            .filter(|(r, _)| frame.kinds[*r].as_str() == kind)
            .map(|(_, s)| s.score)
            .collect();
        let y = labels.for_rows(frame, &rows);
        let (t, f1) = metrics::best_f1_threshold(&s, &y);
        out.push(KindEvaluation {
            entity_kind: kind.clone(),
            at_threshold: metrics::evaluate(&s, &y, set.threshold()),
            best_f1: f1,
            best_f1_threshold: t,
        });
    }
    Ok(out)
}

/// The evaluation as a Markdown table.
pub fn render(report: &[KindEvaluation]) -> String {
    let mut s = String::from("| entity kind | rows | anomalous | precision | recall | F1 | ROC-AUC | PR-AUC | best F1 |\n|---|---|---|---|---|---|---|---|---|\n");
    for k in report {
        let e = &k.at_threshold;
        s += &format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            k.entity_kind, e.rows, e.positives, e.precision, e.recall, e.f1, e.roc_auc, e.pr_auc, k.best_f1
        );
    }
    s
}
