//! Ground truth for `--eval`: which rows of a feature frame are anomalous.
//!
//! Two label files are understood: the campaign labels of `loglynx-gen`
//! (JSON lines; a row is positive when its entity takes part in a malicious
//! campaign and its window overlaps the campaign's span), and a CSV of
//! `id,label` for generic tables (label `1`/`0`, `true`/`false`,
//! `anomaly`/`normal`, `abnormal`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use loglynx_labels::{read_labels_file, CampaignLabel};

use loglynx_baseline::frame::{parse_csv, FeatureFrame, RowKind};
use loglynx_features::aggregate::registry::EntityKind;

/// A labels file that cannot be read; names the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{}: line {line}: {reason}", path.display())]
    Line { path: PathBuf, line: u64, reason: String },
}

/// Labels loaded from a file.
#[derive(Debug, Clone)]
pub enum Labels {
    Campaigns(Vec<CampaignLabel>),
    Ids(HashMap<String, bool>),
}

impl Labels {
    pub fn read(path: &Path) -> Result<Labels, LabelsError> {
        let io = |source| LabelsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bad = |line: u64, reason: String| LabelsError::Line {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(io)?;
        if text.trim_start().starts_with('{') {
            return Ok(Labels::Campaigns(read_labels_file(path).map_err(io)?));
        }
        let records = parse_csv(&text).map_err(|source| LabelsError::Csv {
            path: path.to_path_buf(),
            source,
        })?;
        let mut ids = HashMap::new();
        for rec in records.iter().skip(1) {
            let r = &rec.fields;
            if r.len() == 1 && r[0].trim().is_empty() {
                continue;
            }
            if r.len() < 2 {
                return Err(bad(rec.line, "expected `id,label`".into()));
            }
            let label = match r[1].trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "anomaly" | "abnormal" | "anomalous" | "malicious" => true,
                "0" | "false" | "normal" | "benign" => false,
                other => return Err(bad(rec.line, format!("label `{other}` is not 0/1"))),
            };
            ids.insert(r[0].trim().to_owned(), label);
        }
        Ok(Labels::Ids(ids))
    }

    /// One label per row of `frame` (rows absent from an id file are normal).
    pub fn for_rows(&self, frame: &FeatureFrame, rows: &[usize]) -> Vec<bool> {
        match self {
            Labels::Ids(ids) => rows
                .iter()
                .map(|&r| ids.get(frame.ids[r].as_str()).copied().unwrap_or(false))
                .collect(),
            Labels::Campaigns(campaigns) => {
                let window = frame.window.unwrap_or(3_600_000_000);
                rows.iter()
                    .map(|&r| {
                        let Some(start) = frame.window_starts[r] else {
                            return false;
                        };
                        let end = start + window;
                        campaigns.iter().filter(|c| c.malicious).any(|c| {
                            let members = match frame.kinds[r] {
                                RowKind::Entity(EntityKind::User) => &c.users,
                                RowKind::Entity(EntityKind::SourceIp) => &c.source_ips,
                                RowKind::Entity(EntityKind::Host) => &c.hosts,
                                RowKind::Table => return false,
                            };
                            let (cs, ce) = (c.start.timestamp_micros(), c.end.timestamp_micros());
                            cs < end && ce >= start && members.iter().any(|m| *m == frame.ids[r])
                        })
                    })
                    .collect()
            }
        }
    }
}
