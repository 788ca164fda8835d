//! Analysts' verdicts applied to a run's alerts (`loglynx-score --feedback
//! FILE`, see [`loglynx_labels::verdicts`] for the file and what a verdict
//! matches), and the template they are written in (`--verdict-template
//! FILE.csv`).

use std::path::Path;

use loglynx_features::output::{csv_field, write_atomic};
pub use loglynx_labels::verdicts::{Feedback, FeedbackError, Verdict, VerdictKind, COLUMNS};
use serde::Serialize;

use crate::alerts::Alert;

/// What one verdict left out in this run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub verdict: Verdict,
    /// The alerts left out: id and title.
    pub alerts: Vec<(String, String)>,
}

/// `alerts` without those a verdict of `feedback` leaves out, and what
/// each verdict left out (the first matching verdict takes an alert).
pub fn apply(feedback: &Feedback, alerts: Vec<Alert>) -> (Vec<Alert>, Vec<Applied>) {
    if feedback.verdicts.is_empty() {
        return (alerts, Vec::new());
    }
    let mut applied: Vec<Applied> = Vec::new();
    // Per verdict, its entry in `applied` (in the order verdicts first apply).
    let mut slot: Vec<Option<usize>> = vec![None; feedback.verdicts.len()];
    let mut kept = Vec::new();
    for a in alerts {
        let Some(i) = feedback
            .verdicts
            .iter()
            .position(|v| v.leaves_out(&a.primary, &a.rule_ids, a.first))
        else {
            kept.push(a);
            continue;
        };
        let j = *slot[i].get_or_insert_with(|| {
            applied.push(Applied {
                verdict: feedback.verdicts[i].clone(),
                alerts: Vec::new(),
            });
            applied.len() - 1
        });
        applied[j].alerts.push((a.id.clone(), a.title.clone()));
    }
    (kept, applied)
}

/// Writes a verdicts template for `alerts` (CSV, verdict left empty).
pub fn write_template(path: &Path, alerts: &[Alert]) -> Result<(), loglynx_features::output::OutputError> {
    let mut s = COLUMNS.join(",");
    s.push('\n');
    for a in alerts {
        let row = [
            a.id.as_str(),
            a.fingerprint.as_str(),
            a.primary.as_str(),
            &a.rule_ids.join(","),
            &a.severity.to_string(),
            a.title.as_str(),
            a.first_seen.as_str(),
            a.last_seen.as_str(),
            "",
            "",
            "",
            "",
            "",
        ];
        s.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        s.push('\n');
    }
    write_atomic(path, s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::alerts::test_alert as alert;

    fn read(name: &str, text: &str) -> Result<Feedback, FeedbackError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        Feedback::read(&p)
    }

    #[test]
    fn a_false_positive_verdict_leaves_out_the_same_entity_with_no_new_rule_until_it_expires() {
        let f = read(
            "v.csv",
            "alert_id,primary,rule_ids,verdict,note,expires\n\
             LLX-1,source=10.50.0.10,\"LLX-SSH-001,LLX-SSH-003\",false_positive,weekly audit scan,2024-04-01\n\
             LLX-2,user=anna,LLX-NEW-001,true_positive,,\n\
             LLX-3,user=bob,LLX-NEW-002,,,\n",
        )
        .unwrap();
        // The unjudged row is skipped.
        assert_eq!(f.verdicts.len(), 2);
        let march = 1_709_510_400_000_000; // 2024-03-04
        let april = 1_712_102_400_000_000; // 2024-04-03
        let alerts = vec![
            alert("source=10.50.0.10", &["LLX-SSH-001"], march),
            alert("source=10.50.0.10", &["LLX-SSH-001", "LLX-SSH-003"], march),
            // Does more than the verdict saw.
            alert("source=10.50.0.10", &["LLX-SSH-001", "LLX-AUTH-004"], march),
            // After the verdict expired.
            alert("source=10.50.0.10", &["LLX-SSH-001"], april),
            // Another entity; a true positive's.
            alert("source=10.50.0.11", &["LLX-SSH-001"], march),
            alert("user=anna", &["LLX-NEW-001"], march),
        ];
        let (kept, applied) = apply(&f, alerts);
        assert_eq!(kept.len(), 4);
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].alerts.len(), 2);
        assert_eq!(applied[0].verdict.note, "weekly audit scan");
        assert_eq!(applied[0].verdict.at.rsplit(':').next(), Some("2"));
    }

    #[test]
    fn ndjson_verdicts_take_rule_lists_and_bad_rows_name_their_line() {
        let f = read(
            "v.ndjson",
            "{\"primary\":\"host=web-01\",\"rule_ids\":[\"LLX-BASE-BKG\",\"LLX-SSH-001\"],\"verdict\":\"benign_true_positive\"}\n\n",
        )
        .unwrap();
        assert_eq!(f.verdicts[0].rule_ids, vec!["LLX-BASE-BKG", "LLX-SSH-001"]);
        assert_eq!(f.verdicts[0].verdict, VerdictKind::BenignTruePositive);
        for (text, want) in [
            (
                "{\"primary\":\"host=a\",\"rule_ids\":\"R\",\"verdict\":\"maybe\"}",
                "v.ndjson:1: verdict `maybe`",
            ),
            (
                "\n{\"rule_ids\":\"R\",\"verdict\":\"false_positive\"}",
                "v.ndjson:2: no `primary`",
            ),
            (
                "{\"primary\":\"host=a\",\"verdict\":\"false_positive\"}",
                "v.ndjson:1: no `rule_ids`",
            ),
            (
                "{\"primary\":\"host=a\",\"rule_ids\":\"R\",\"verdict\":\"false_positive\",\"expires\":\"soon\"}",
                "v.ndjson:1: expires `soon`",
            ),
            ("not json", "v.ndjson:1: "),
        ] {
            let e = read("v.ndjson", text).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert!(read("v.txt", "").unwrap_err().to_string().contains(".csv or .ndjson"));
        let e = read("v.csv", "primary,rule_ids,verdict\nhost=a,R,false_positive,extra\n").unwrap_err();
        assert!(e.to_string().contains("v.csv:2"), "{e}");
    }

    #[test]
    fn the_template_reads_back_once_filled_in() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let mut a = alert("user==cmd|calc", &["LLX-NEW-001", "LLX-BASE-RARE"], 0);
        a.title = "=HYPERLINK(\"x\")".into();
        a.first_seen = "2024-03-04T10:00:00Z".into();
        a.last_seen = "2024-03-04T11:30:00Z".into();
        write_template(&p, &[a.clone()]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        // The formula in the title is defused.
        assert!(text.contains("'=HYPERLINK"), "{text}");
        assert!(read("t.csv", &text).unwrap().verdicts.is_empty());
        let filled = text.replacen(",,,,,", ",false_positive,,,,", 1);
        let f = read("t.csv", &filled).unwrap();
        assert_eq!(f.verdicts.len(), 1);
        assert!(f.confirmed_attacks().is_empty());
        let (kept, applied) = apply(&f, vec![a]);
        assert!(kept.is_empty());
        assert_eq!(applied[0].alerts.len(), 1);
        // Judged an attack instead: its entity and span.
        let f = read("t.csv", &text.replacen(",,,,,", ",true_positive,,,,", 1)).unwrap();
        let march4 = 1_709_510_400_000_000;
        assert_eq!(
            f.confirmed_attacks(),
            vec![("user", "=cmd|calc", march4 + 36_000_000_000, march4 + 41_400_000_000)]
        );
    }
}
