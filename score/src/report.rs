//! Alert and score outputs: NDJSON, CSV and Parquet files (atomic), and the
//! terminal summary (colour on a TTY, attacker text escaped).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use loglynx_baseline::FeatureFrame;
use loglynx_features::output::{csv_field, escape_terminal, AtomicFile, OutputError, ParquetStream, TableFormat};
use loglynx_features::time::format_rfc3339;
use loglynx_models::RowScore;
use polars::prelude::*;

use crate::alerts::Alert;
use crate::rules::Severity;

/// Columns of the flat (CSV, Parquet) alert table.
pub const ALERT_COLUMNS: &[&str] = &[
    "id",
    "fingerprint",
    "severity",
    "risk_score",
    "title",
    "first_seen",
    "last_seen",
    "source_ips",
    "target_hosts",
    "users",
    "events",
    "summary",
    "description",
    "recommended_action",
    "tags",
    "rule_ids",
    "model_version",
    "anomaly_explanation",
    "evidence",
    "members",
    "true_positive_probability",
    "reranked",
];

fn flat(a: &Alert) -> Vec<String> {
    let join = |v: &[String]| v.join("; ");
    vec![
        a.id.clone(),
        a.fingerprint.clone(),
        a.severity.to_string(),
        a.risk_score.to_string(),
        a.title.clone(),
        a.first_seen.clone(),
        a.last_seen.clone(),
        join(&a.source_ips),
        join(&a.target_hosts),
        join(&a.users),
        a.events.to_string(),
        a.summary.clone(),
        a.description.clone(),
        a.recommended_action.clone(),
        join(&a.tags),
        join(&a.rule_ids),
        a.model_version.clone().unwrap_or_default(),
        a.anomalies
            .iter()
            .map(|x| {
                format!(
                    "{} {} {:.4}: {}",
                    x.entity_kind,
                    x.entity,
                    x.score,
                    x.explanation.join("; ")
                )
            })
            .collect::<Vec<_>>()
            .join(" | "),
        a.evidence
            .iter()
            .map(|e| format!("{}:{}: {}", e.file, e.line, e.raw))
            .collect::<Vec<_>>()
            .join(" | "),
        a.members
            .iter()
            .map(|m| format!("{} ({} events)", m.source, m.events))
            .collect::<Vec<_>>()
            .join("; "),
        a.reranked
            .as_ref()
            .map(|r| format!("{:.4}", r.true_positive_probability))
            .unwrap_or_default(),
        a.reranked.as_ref().map(|r| r.explanation.clone()).unwrap_or_default(),
    ]
}

/// Writes alerts to `path` in `format`, atomically.
/// An output that could not be written; names the file.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {source}", path.display())]
pub struct ReportError {
    pub path: PathBuf,
    pub source: WriteFailure,
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteFailure {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

fn at(path: &Path) -> impl FnOnce(WriteFailure) -> ReportError + '_ {
    move |source| ReportError {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the alerts atomically in `format`.
pub fn write_alerts(alerts: &[Alert], path: &Path, format: TableFormat) -> Result<(), ReportError> {
    write_alerts_to(alerts, path, format).map_err(at(path))
}

fn write_alerts_to(alerts: &[Alert], path: &Path, format: TableFormat) -> Result<(), WriteFailure> {
    let mut out = AtomicFile::create(path)?;
    match format {
        TableFormat::Ndjson => {
            let mut w = BufWriter::new(out.file());
            for a in alerts {
                serde_json::to_writer(&mut w, a)?;
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
        TableFormat::Csv => {
            let mut w = BufWriter::new(out.file());
            writeln!(w, "{}", ALERT_COLUMNS.join(","))?;
            for a in alerts {
                let row: Vec<String> = flat(a).iter().map(|f| csv_field(f)).collect();
                writeln!(w, "{}", row.join(","))?;
            }
            w.flush()?;
        }
        TableFormat::Parquet => {
            let rows: Vec<Vec<String>> = alerts.iter().map(flat).collect();
            let cols: Vec<Column> = ALERT_COLUMNS
                .iter()
                .enumerate()
                .map(|(c, name)| match *name {
                    "risk_score" => Column::new(
                        (*name).into(),
                        alerts.iter().map(|a| u32::from(a.risk_score)).collect::<Vec<_>>(),
                    ),
                    "events" => Column::new((*name).into(), alerts.iter().map(|a| a.events).collect::<Vec<_>>()),
                    _ => Column::new((*name).into(), rows.iter().map(|r| r[c].as_str()).collect::<Vec<_>>()),
                })
                .collect();
            let mut df = DataFrame::new(alerts.len(), cols)?;
            ParquetWriter::new(out.file()).finish(&mut df)?;
        }
    }
    out.commit()?;
    Ok(())
}

/// Columns of the scores table.
const SCORE_COLUMNS: &str =
    "entity_kind,entity,window_start,window_end,score,iforest_pct,kmeans_pct,cluster,is_anomaly,explanation";

fn explain(s: &RowScore) -> String {
    s.explanation
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The scores of `scores` (rows of `frame`) as a data frame.
fn scores_dataframe(frame: &FeatureFrame, scores: &[(usize, RowScore)]) -> PolarsResult<DataFrame> {
    let window = frame.window.unwrap_or(0);
    let starts: Vec<Option<i64>> = scores.iter().map(|(r, _)| frame.window_starts[*r]).collect();
    DataFrame::new(
        scores.len(),
        vec![
            Column::new(
                "entity_kind".into(),
                scores.iter().map(|(r, _)| frame.kinds[*r].as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "entity".into(),
                scores.iter().map(|(r, _)| frame.ids[*r].as_str()).collect::<Vec<_>>(),
            ),
            Series::new("window_start".into(), starts.clone())
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column(),
            Series::new(
                "window_end".into(),
                starts.iter().map(|s| s.map(|s| s + window)).collect::<Vec<_>>(),
            )
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            .into_column(),
            Column::new("score".into(), scores.iter().map(|(_, s)| s.score).collect::<Vec<_>>()),
            Column::new(
                "iforest_pct".into(),
                scores.iter().map(|(_, s)| s.iforest_pct).collect::<Vec<_>>(),
            ),
            Column::new(
                "kmeans_pct".into(),
                scores.iter().map(|(_, s)| s.kmeans_pct).collect::<Vec<_>>(),
            ),
            Column::new(
                "cluster".into(),
                scores
                    .iter()
                    .map(|(_, s)| s.cluster.map(|c| c as u32))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "is_anomaly".into(),
                scores.iter().map(|(_, s)| s.is_anomaly).collect::<Vec<_>>(),
            ),
            Column::new(
                "explanation".into(),
                scores.iter().map(|(_, s)| explain(s)).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Streams every scored entity-window to a file (Parquet, CSV or NDJSON)
/// as it is scored; the file appears on [`ScoresWriter::finish`].
pub struct ScoresWriter {
    path: PathBuf,
    out: AtomicFile,
    format: TableFormat,
    parquet: ParquetStream,
    text: Option<BufWriter<std::fs::File>>,
}

impl ScoresWriter {
    pub fn create(path: &Path, format: TableFormat) -> Result<Self, ReportError> {
        Self::create_at(path, format).map_err(at(path))
    }

    fn create_at(path: &Path, format: TableFormat) -> Result<Self, WriteFailure> {
        let mut out = AtomicFile::create(path)?;
        let text = match format {
            TableFormat::Parquet => None,
            _ => {
                let mut w = BufWriter::new(out.file().try_clone()?);
                if format == TableFormat::Csv {
                    writeln!(w, "{SCORE_COLUMNS}")?;
                }
                Some(w)
            }
        };
        Ok(ScoresWriter {
            path: path.to_path_buf(),
            out,
            format,
            parquet: ParquetStream::default(),
            text,
        })
    }

    /// Writes `scores`, rows of `frame`, in the order given.
    pub fn write(&mut self, frame: &FeatureFrame, scores: &[(usize, RowScore)]) -> Result<(), ReportError> {
        let path = self.path.clone();
        self.write_rows(frame, scores).map_err(at(&path))
    }

    fn write_rows(&mut self, frame: &FeatureFrame, scores: &[(usize, RowScore)]) -> Result<(), WriteFailure> {
        let window = frame.window.unwrap_or(0);
        let Some(w) = &mut self.text else {
            if !scores.is_empty() {
                let df = scores_dataframe(frame, scores)?;
                self.parquet.write(&mut self.out, &df)?;
            }
            return Ok(());
        };
        for (r, s) in scores {
            let start = frame.window_starts[*r];
            if self.format == TableFormat::Csv {
                writeln!(
                    w,
                    "{},{},{},{},{:.6},{:.6},{},{},{},{}",
                    frame.kinds[*r],
                    csv_field(&frame.ids[*r]),
                    start.map(format_rfc3339).unwrap_or_default(),
                    start.map(|s| format_rfc3339(s + window)).unwrap_or_default(),
                    s.score,
                    s.iforest_pct,
                    s.kmeans_pct.map(|x| format!("{x:.6}")).unwrap_or_default(),
                    s.cluster.map(|c| c.to_string()).unwrap_or_default(),
                    s.is_anomaly,
                    csv_field(&explain(s))
                )?;
            } else {
                let v = serde_json::json!({
                    "entity_kind": frame.kinds[*r].as_str(),
                    "entity": frame.ids[*r],
                    "window_start": start.map(format_rfc3339),
                    "window_end": start.map(|s| format_rfc3339(s + window)),
                    "score": s.score,
                    "iforest_pct": s.iforest_pct,
                    "kmeans_pct": s.kmeans_pct,
                    "cluster": s.cluster,
                    "is_anomaly": s.is_anomaly,
                    "explanation": s.explanation.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                });
                serde_json::to_writer(&mut *w, &v)?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Result<(), ReportError> {
        let path = self.path.clone();
        self.finish_file().map_err(at(&path))
    }

    fn finish_file(mut self) -> Result<(), WriteFailure> {
        match &mut self.text {
            Some(w) => w.flush()?,
            None => self
                .parquet
                .finish(&mut self.out, || scores_dataframe(&FeatureFrame::default(), &[]))?,
        }
        drop(self.text);
        self.out.commit()?;
        Ok(())
    }
}

fn paint(sev: Severity, text: &str, colour: bool) -> String {
    if !colour {
        return text.to_owned();
    }
    let code = match sev {
        Severity::Critical => "1;35",
        Severity::High => "1;31",
        Severity::Medium => "33",
        Severity::Low => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The terminal summary: alerts by priority, at most `limit` of them.
pub fn render_summary(alerts: &[Alert], limit: usize, colour: bool) -> String {
    let mut s = String::new();
    for a in alerts.iter().take(limit) {
        let head = format!("{:<8} {:>3}", a.severity.to_string(), a.risk_score);
        s.push_str(&format!(
            "{}  {}  {} → {}\n",
            paint(a.severity, &head, colour),
            escape_terminal(&a.title),
            a.first_seen,
            a.last_seen
        ));
        s.push_str(&format!("              {}\n", escape_terminal(&a.summary)));
        if let Some(x) = a.anomalies.first() {
            s.push_str(&format!(
                "              model: {} {} score {:.4}: {}\n",
                x.entity_kind,
                escape_terminal(&x.entity),
                x.score,
                escape_terminal(&x.explanation.join("; "))
            ));
        }
    }
    if alerts.len() > limit {
        s.push_str(&format!(
            "  … and {} more alerts in the output file\n",
            alerts.len() - limit
        ));
    }
    s
}
