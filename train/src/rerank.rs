//! Training the supervised re-ranker (`loglynx-train --feedback FILE
//! --alerts FILE`): the verdicts' alerts are read from the alerts file they
//! judged (`loglynx-score -o alerts.ndjson`), matched by alert id or
//! fingerprint, and a [`AlertReranker`] is fitted on them.

use std::io::BufRead;
use std::path::PathBuf;

use loglynx_baseline::rerank::{AlertReranker, Judged, RerankError, ReviewedAlert};
use loglynx_features::aggregate::ValidFeatureConfig;
use loglynx_labels::verdicts::{Feedback, VerdictKind};
use loglynx_models::logistic::LogisticParams;

use crate::TrainError;

/// Reads alerts NDJSON files (one alert per line, as `loglynx-score -o
/// x.ndjson` writes them). A line that is not an alert is an error naming
/// the file and line.
pub fn read_alerts(paths: &[PathBuf]) -> Result<Vec<ReviewedAlert>, TrainError> {
    let mut alerts = Vec::new();
    for p in paths {
        let f = std::fs::File::open(p).map_err(|e| TrainError::Input(format!("--alerts {}: {e}", p.display())))?;
        for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| TrainError::Input(format!("--alerts {}:{}: {e}", p.display(), i + 1)))?;
            if line.trim().is_empty() {
                continue;
            }
            let a: ReviewedAlert = serde_json::from_str(&line).map_err(|e| {
                TrainError::Input(format!(
                    "--alerts {}:{}: not an alert of loglynx-score's NDJSON output: {e}",
                    p.display(),
                    i + 1
                ))
            })?;
            alerts.push(a);
        }
    }
    Ok(alerts)
}

/// The verdicts matched to their alerts (by alert id, else fingerprint),
/// and how many verdicts matched none.
pub fn judged(feedback: &Feedback, alerts: &[ReviewedAlert]) -> (Vec<Judged>, usize) {
    let mut out = Vec::new();
    let mut unmatched = 0;
    for v in &feedback.verdicts {
        let found = alerts.iter().find(|a| a.id == v.alert_id).or_else(|| {
            alerts
                .iter()
                .find(|a| !v.fingerprint.is_empty() && a.fingerprint == v.fingerprint)
        });
        match found {
            Some(a) => out.push(Judged {
                alert: a.clone(),
                true_positive: v.verdict == VerdictKind::TruePositive,
            }),
            None => unmatched += 1,
        }
    }
    (out, unmatched)
}

/// Fits the re-ranker, or says why not (the note for the model card).
pub fn train(
    feedback: &Feedback,
    alerts: &[ReviewedAlert],
    hours: Option<&ValidFeatureConfig>,
) -> Result<(Option<AlertReranker>, String), TrainError> {
    let (judged, unmatched) = judged(feedback, alerts);
    let unmatched_note = if unmatched > 0 {
        format!("; {unmatched} verdicts matched no alert of --alerts")
    } else {
        String::new()
    };
    let params = LogisticParams::default()
        .check()
        .map_err(|e| TrainError::Setting(e.to_string()))?;
    match AlertReranker::fit(&judged, hours, &params) {
        Ok(r) => {
            let note = format!(
                "trained on {} verdicts ({} true_positive, {} other){unmatched_note}",
                judged.len(),
                r.model.positives,
                r.model.negatives
            );
            Ok((Some(r), note))
        }
        Err(RerankError::NotEnough(n)) => Ok((None, format!("not trained: {n}{unmatched_note}"))),
        Err(e) => Err(TrainError::Input(e.to_string())),
    }
}
