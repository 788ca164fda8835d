//! Analysts' verdicts on earlier alerts: the file `loglynx-score
//! --verdict-template` writes and `--feedback` (scoring) and
//! `loglynx-train --feedback` read.
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
use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

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
    /// The judged alert's fingerprint, when the file gives it.
    pub fingerprint: String,
    pub note: String,
    pub analyst: String,
    pub time: String,
    /// Alerts starting at or after this are not matched.
    #[serde(skip)]
    pub expires: Option<Micros>,
    /// The judged alert's first and last event, when the file gives them:
    /// what `loglynx-train --feedback` leaves out of a baseline.
    #[serde(skip)]
    pub span: Option<(Micros, Micros)>,
    /// Where the verdict was read: `file:line`.
    pub at: String,
}

impl Verdict {
    /// Whether an alert about `primary` with `rule_ids`, starting at
    /// `first`, is left out by this verdict.
    pub fn leaves_out(&self, primary: &str, rule_ids: &[String], first: Micros) -> bool {
        self.verdict.suppresses()
            && primary == self.primary
            && rule_ids.iter().all(|r| self.rule_ids.contains(r))
            && self.expires.is_none_or(|e| first < e)
    }
}

/// The verdicts of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Feedback {
    pub verdicts: Vec<Verdict>,
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
pub const COLUMNS: [&str; 13] = [
    "alert_id",
    "fingerprint",
    "primary",
    "rule_ids",
    "severity",
    "title",
    "first_seen",
    "last_seen",
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
    fingerprint: String,
    primary: String,
    rule_ids: RuleIds,
    verdict: String,
    note: String,
    analyst: String,
    time: String,
    expires: String,
    first_seen: String,
    last_seen: String,
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
            let span = match (row.first_seen.trim(), row.last_seen.trim()) {
                ("", _) | (_, "") => None,
                (f, l) => Some((
                    parse_time(f)
                        .ok_or_else(|| bad(line, format!("first_seen `{}` is no RFC 3339 time", f.escape_debug())))?,
                    parse_time(l)
                        .ok_or_else(|| bad(line, format!("last_seen `{}` is no RFC 3339 time", l.escape_debug())))?,
                )),
            };
            verdicts.push(Verdict {
                span,
                verdict,
                primary: row.primary,
                rule_ids,
                alert_id: row.alert_id,
                fingerprint: row.fingerprint,
                note: row.note,
                analyst: row.analyst,
                time: row.time,
                expires,
                at: format!("{}:{line}", path.display()),
            });
        }
        Ok(Feedback { verdicts })
    }

    /// The entity-windows confirmed as attacks: per `true_positive` verdict
    /// with a span, its primary entity (`kind`, `value`) and the span.
    pub fn confirmed_attacks(&self) -> Vec<(&str, &str, Micros, Micros)> {
        self.verdicts
            .iter()
            .filter(|v| v.verdict == VerdictKind::TruePositive)
            .filter_map(|v| {
                let (kind, value) = v.primary.split_once('=')?;
                let (first, last) = v.span?;
                Some((kind, value, first, last))
            })
            .collect()
    }
}
