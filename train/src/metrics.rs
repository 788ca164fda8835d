//! Detection quality against labels: precision, recall, F1 at a threshold,
//! ROC-AUC (Mann–Whitney, ties counted half) and PR-AUC (average precision,
//! as scikit-learn's `average_precision_score`).

use serde::Serialize;

/// Quality of scores against binary labels (`true` = anomalous).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evaluation {
    pub rows: usize,
    pub positives: usize,
    pub threshold: f64,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub roc_auc: f64,
    pub pr_auc: f64,
}

/// Evaluates `scores` (higher = more anomalous) against `labels`; a row is
/// flagged when its score is at least `threshold`.
pub fn evaluate(scores: &[f64], labels: &[bool], threshold: f64) -> Evaluation {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let mut tp = 0;
    let mut fp = 0;
    let mut fn_ = 0;
    for (&s, &l) in scores.iter().zip(labels) {
        match (s >= threshold, l) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Evaluation {
        rows: scores.len(),
        positives: labels.iter().filter(|&&l| l).count(),
        threshold,
        true_positives: tp,
        false_positives: fp,
        false_negatives: fn_,
        precision,
        recall,
        f1,
        roc_auc: roc_auc(scores, labels),
        pr_auc: average_precision(scores, labels),
    }
}

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, ties counting one half. NaN without both classes.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut pos, mut neg) = (0usize, 0usize);
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] {
                pos += 1;
                rank_sum += mid_rank;
            } else {
                neg += 1;
            }
        }
        i = j + 1;
    }
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

/// Cumulative `(threshold, true positives, false positives)` when every row
/// scoring at least `threshold` is flagged, for each distinct score from the
/// highest down.
fn descending_counts(scores: &[f64], labels: &[bool]) -> Vec<(f64, usize, usize)> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut out = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            if labels[k] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        out.push((scores[idx[i]], tp, fp));
        i = j + 1;
    }
    out
}

/// Average precision: Σ (Rₙ − Rₙ₋₁) Pₙ over distinct score thresholds,
/// highest first. NaN without positives.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> f64 {
    let total_pos = labels.iter().filter(|&&l| l).count();
    if total_pos == 0 {
        return f64::NAN;
    }
    let mut prev_recall = 0.0;
    let mut ap = 0.0;
    for (_, tp, fp) in descending_counts(scores, labels) {
        let recall = tp as f64 / total_pos as f64;
        ap += (recall - prev_recall) * tp as f64 / (tp + fp) as f64;
        prev_recall = recall;
    }
    ap
}

/// The threshold (among the scores) that maximises F1, with its F1.
pub fn best_f1_threshold(scores: &[f64], labels: &[bool]) -> (f64, f64) {
    let total_pos = labels.iter().filter(|&&l| l).count();
    let mut best = (f64::INFINITY, 0.0);
    for (threshold, tp, fp) in descending_counts(scores, labels) {
        let f1 = if tp == 0 {
            0.0
        } else {
            2.0 * tp as f64 / (tp + fp + total_pos) as f64
        };
        if f1 > best.1 {
            best = (threshold, f1);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn perfect_and_inverted_rankings() {
        let labels = [false, false, true, true];
        assert_abs_diff_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
        assert_abs_diff_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &labels), 0.0);
        assert_abs_diff_eq!(roc_auc(&[0.5, 0.5, 0.5, 0.5], &labels), 0.5);
        assert_abs_diff_eq!(average_precision(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
    }

    #[test]
    fn matches_scikit_learn_on_a_small_case() {
        // sklearn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75
        //          average_precision_score(...) = 0.8333333
        let labels = [false, false, true, true];
        let scores = [0.1, 0.4, 0.35, 0.8];
        assert_abs_diff_eq!(roc_auc(&scores, &labels), 0.75);
        assert_abs_diff_eq!(average_precision(&scores, &labels), 0.833_333_333, epsilon = 1e-9);
    }

    #[test]
    fn threshold_metrics() {
        let e = evaluate(&[0.9, 0.8, 0.7, 0.1], &[true, false, true, true], 0.5);
        assert_eq!((e.true_positives, e.false_positives, e.false_negatives), (2, 1, 1));
        assert_abs_diff_eq!(e.precision, 2.0 / 3.0);
        assert_abs_diff_eq!(e.recall, 2.0 / 3.0);
        assert_abs_diff_eq!(e.f1, 2.0 / 3.0);
        let (t, f1) = best_f1_threshold(&[0.9, 0.8, 0.7, 0.1], &[true, false, true, true]);
        assert_abs_diff_eq!(t, 0.1);
        assert_abs_diff_eq!(f1, 2.0 * 0.75 / 1.75);
    }

    #[test]
    fn one_class_gives_nan_auc() {
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_nan());
        assert!(average_precision(&[0.1, 0.2], &[false, false]).is_nan());
    }
}
