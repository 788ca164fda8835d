//! Analysts' verdicts on earlier alerts (`loglynx-score --feedback FILE`)
//! and the template they are written in (`--verdict-template FILE.csv`).
//!
//! A verdict names an alert's pattern: its `primary` entity (`source=…`,
//! `user=…`, `host=…`) and its `rule_ids`. On later runs an alert about
//! the same entity whose rules the verdict all saw is left out when the
//! verdict is `false_positive` or `benign_true_positive` (real, but fine:
//! the security team's own scanner), until the verdict's `expires`; a
//! `true_positive` leaves it alone. What was left out is counted per
//! verdict in the run summary, the report and `--verdicts-applied`, so
//! nothing disappears silently. An alert that does more than the verdict
//! saw (another rule) is not matched.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};
use loglynx_features::event::Micros;
use loglynx_features::output::{csv_field, write_atomic};
use serde::{Deserialize, Serialize};

use crate::alerts::Alert;

/// An analyst's judgement of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    TruePositive,
    FalsePositive,
    /// Real activity, but expected (an audit scan, a planned change).
    BenignTruePositive,
}

impl VerdictKind {
    fn parse(s: &str) -> Option<VerdictKind> {
        match s.trim() {
            "true_positive" => Some(VerdictKind::TruePositive),
            "false_positive" => Some(VerdictKind::FalsePositive),
            "benign_true_positive" => Some(VerdictKind::BenignTruePositive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::TruePositive => "true_positive",
            VerdictKind::FalsePositive => "false_positive",
            VerdictKind::BenignTruePositive => "benign_true_positive",
        }
    }

    /// Whether alerts matching it are left out.
    pub fn suppresses(self) -> bool {
        self != VerdictKind::TruePositive
    }
}

/// One verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    /// `kind=value` of the alert judged.
    pub primary: String,
    /// The alert's rules, sorted.
    pub rule_ids: Vec<String>,
    pub alert_id: String,
    pub note: String,
    pub analyst: String,
    pub time: String,
    /// Alerts starting at or after this are not matched.
    #[serde(skip)]
    pub expires: Option<Micros>,
    /// Where the verdict was read: `file:line`.
    pub at: String,
}

impl Verdict {
    fn matches(&self, alert: &Alert) -> bool {
        self.verdict.suppresses()
            && alert.primary == self.primary
            && alert.rule_ids.iter().all(|r| self.rule_ids.contains(r))
            && self.expires.is_none_or(|e| alert.first < e)
    }
}

/// The verdicts of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Feedback {
    pub verdicts: Vec<Verdict>,
}

/// What one verdict left out in this run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub verdict: Verdict,
    /// The alerts left out: id and title.
    pub alerts: Vec<(String, String)>,
}

/// A verdicts file that cannot be used; names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {reason}", path.display())]
    Line { path: PathBuf, line: u64, reason: String },
    #[error("{}: a verdicts file is .csv or .ndjson", path.display())]
    Format { path: PathBuf },
}

/// The columns of a verdicts file, in the template's order.
pub const COLUMNS: [&str; 11] = [
    "alert_id",
    "fingerprint",
    "primary",
    "rule_ids",
    "severity",
    "title",
    "verdict",
    "note",
    "analyst",
    "time",
    "expires",
];

/// A verdict's fields as read, before checking.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Row {
    alert_id: String,
    #[allow(dead_code)]
    fingerprint: String,
    primary: String,
    rule_ids: RuleIds,
    verdict: String,
    note: String,
    analyst: String,
    time: String,
    expires: String,
}

/// `rule_ids` as a list (NDJSON) or comma- or semicolon-separated text.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum RuleIds {
    #[default]
    None,
    List(Vec<String>),
    Text(String),
}

impl RuleIds {
    fn ids(self) -> Vec<String> {
        let mut ids: Vec<String> = match self {
            RuleIds::None => Vec::new(),
            RuleIds::List(v) => v,
            RuleIds::Text(s) => s.split([',', ';']).map(|r| r.trim().to_owned()).collect(),
        };
        ids.retain(|r| !r.is_empty());
        ids.sort();
        ids.dedup();
        ids
    }
}

/// `2026-03-09` (midnight UTC) or an RFC 3339 time.
fn parse_time(s: &str) -> Option<Micros> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
}

impl Feedback {
    /// Reads a verdicts file (`.csv` with a header row, or `.ndjson`).
    /// Rows without a verdict (a template not filled in yet) are skipped;
    /// any other bad row is an error naming its line.
    pub fn read(path: &Path) -> Result<Feedback, FeedbackError> {
        let text = std::fs::read_to_string(path).map_err(|source| FeedbackError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let bad = |line: u64, reason: String| FeedbackError::Line {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut rows: Vec<(u64, Row)> = Vec::new();
        match ext.as_deref() {
            Some("csv") => {
                let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
                let headers = r.headers().map_err(|e| bad(1, e.to_string()))?.clone();
                for rec in r.records() {
                    let rec = rec.map_err(|e| bad(e.position().map_or(0, |p| p.line()), e.to_string()))?;
                    let line = rec.position().map_or(0, |p| p.line());
                    let row: Row = rec.deserialize(Some(&headers)).map_err(|e| bad(line, e.to_string()))?;
                    rows.push((line, row));
                }
            }
            Some("ndjson") | Some("jsonl") => {
                for (i, l) in text.lines().enumerate() {
                    if l.trim().is_empty() {
                        continue;
                    }
                    let row: Row = serde_json::from_str(l).map_err(|e| bad(i as u64 + 1, e.to_string()))?;
                    rows.push((i as u64 + 1, row));
                }
            }
            _ => {
                return Err(FeedbackError::Format {
                    path: path.to_path_buf(),
                })
            }
        }
        let mut verdicts = Vec::new();
        for (line, row) in rows {
            if row.verdict.trim().is_empty() {
                continue;
            }
            let verdict = VerdictKind::parse(&row.verdict).ok_or_else(|| {
                bad(
                    line,
                    format!(
                        "verdict `{}` is none of true_positive, false_positive, benign_true_positive",
                        row.verdict.escape_debug()
                    ),
                )
            })?;
            if row
                .primary
                .split_once('=')
                .is_none_or(|(k, v)| k.is_empty() || v.is_empty())
            {
                return Err(bad(
                    line,
                    "no `primary` (kind=value of the alert, as --verdict-template writes it)".into(),
                ));
            }
            let rule_ids = row.rule_ids.ids();
            if rule_ids.is_empty() {
                return Err(bad(line, "no `rule_ids` (the alert's rules)".into()));
            }
            let expires = match row.expires.trim() {
                "" => None,
                e => Some(parse_time(e).ok_or_else(|| {
                    bad(
                        line,
                        format!(
                            "expires `{}` is no date (2026-03-09) or RFC 3339 time",
                            e.escape_debug()
                        ),
                    )
                })?),
            };
            verdicts.push(Verdict {
                verdict,
                primary: row.primary,
                rule_ids,
                alert_id: row.alert_id,
                note: row.note,
                analyst: row.analyst,
                time: row.time,
                expires,
                at: format!("{}:{line}", path.display()),
            });
        }
        Ok(Feedback { verdicts })
    }

    /// `alerts` without those a verdict leaves out, and what each verdict
    /// left out (the first matching verdict takes an alert).
    pub fn apply(&self, alerts: Vec<Alert>) -> (Vec<Alert>, Vec<Applied>) {
        if self.verdicts.is_empty() {
            return (alerts, Vec::new());
        }
        let mut applied: Vec<Applied> = Vec::new();
        let mut kept = Vec::new();
        for a in alerts {
            match self.verdicts.iter().position(|v| v.matches(&a)) {
                Some(i) => {
                    let v = &self.verdicts[i];
                    let entry = match applied.iter().position(|x| x.verdict == *v) {
                        Some(j) => &mut applied[j],
                        None => {
                            applied.push(Applied {
                                verdict: v.clone(),
                                alerts: Vec::new(),
                            });
                            applied.last_mut().expect("just pushed")
                        }
                    };
                    entry.alerts.push((a.id.clone(), a.title.clone()));
                }
                None => kept.push(a),
            }
        }
        (kept, applied)
    }
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
    use crate::rules::Severity;

    fn alert(primary: &str, rules: &[&str], first: Micros) -> Alert {
        Alert {
            id: format!("LLX-{primary}"),
            fingerprint: String::new(),
            primary: primary.into(),
            title: String::new(),
            severity: Severity::Low,
            risk_score: 30,
            first_seen: String::new(),
            last_seen: String::new(),
            source_ips: vec![],
            target_hosts: vec![],
            users: vec![],
            events: 1,
            summary: String::new(),
            description: String::new(),
            recommended_action: String::new(),
            tags: vec![],
            rule_ids: rules.iter().map(|r| r.to_string()).collect(),
            model_version: None,
            anomalies: vec![],
            evidence: vec![],
            detections: 1,
            routine: None,
            windows: vec![],
            members: vec![],
            first,
            last: first,
        }
    }

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
        let (kept, applied) = f.apply(alerts);
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
        write_template(&p, &[a.clone()]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        // The formula in the title is defused.
        assert!(text.contains("'=HYPERLINK"), "{text}");
        assert!(read("t.csv", &text).unwrap().verdicts.is_empty());
        let filled = text.replacen(",,,,,", ",false_positive,,,,", 1);
        let f = read("t.csv", &filled).unwrap();
        assert_eq!(f.verdicts.len(), 1);
        let (kept, applied) = f.apply(vec![a]);
        assert!(kept.is_empty());
        assert_eq!(applied[0].alerts.len(), 1);
    }
}
