//! Labelled log-session sequences (the AIT anomaly-detection benchmark
//! files): each line `session_id,event event event …` becomes an
//! event-count vector, the representation of the published baselines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use loglynx_features::CompactString;

use loglynx_baseline::frame::{FeatureFrame, RowKind};

/// A sessions file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: {reason}", path.display())]
    Line { path: PathBuf, line: usize, reason: String },
}

/// Sessions read from one file: ids and their event-id sequences.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    pub ids: Vec<String>,
    pub events: Vec<Vec<u32>>,
}

impl Sessions {
    pub fn read(path: &Path) -> Result<Sessions, SessionsError> {
        let bad = |line: usize, reason: String| SessionsError::Line {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|source| SessionsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut out = Sessions::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let (id, seq) = line
                .split_once(',')
                .ok_or_else(|| bad(i + 1, "expected `id,events`".into()))?;
            let events = seq
                .split_whitespace()
                .map(|e| {
                    e.parse::<u32>()
                        .map_err(|_| bad(i + 1, format!("event `{e}` is not a number")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.ids.push(id.to_owned());
            out.events.push(events);
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Event ids seen in these sessions.
    pub fn vocabulary(&self) -> BTreeSet<u32> {
        self.events.iter().flatten().copied().collect()
    }

    /// Count vectors over `vocabulary` (columns named `e<ID>`); events
    /// outside it are counted in an `unseen` column.
    pub fn count_frame(&self, vocabulary: &BTreeSet<u32>) -> FeatureFrame {
        let index: std::collections::HashMap<u32, usize> =
            vocabulary.iter().enumerate().map(|(i, &e)| (e, i)).collect();
        let n = vocabulary.len();
        let mut columns = vec![vec![0.0; self.len()]; n + 1];
        for (row, events) in self.events.iter().enumerate() {
            for e in events {
                let c = index.get(e).copied().unwrap_or(n);
                columns[c][row] += 1.0;
            }
        }
        let mut names: Vec<String> = vocabulary.iter().map(|e| format!("e{e}")).collect();
        names.push("unseen".into());
        FeatureFrame {
            kinds: vec![RowKind::Table; self.len()],
            ids: self.ids.iter().map(CompactString::from).collect(),
            window_starts: vec![None; self.len()],
            window: None,
            names,
            columns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_unseen_events() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "a,1 2 2\nb,3\n").unwrap();
        let s = Sessions::read(&p).unwrap();
        let vocab: BTreeSet<u32> = [1, 2].into_iter().collect();
        let f = s.count_frame(&vocab);
        assert_eq!(f.names, vec!["e1", "e2", "unseen"]);
        assert_eq!(f.columns[1], vec![2.0, 0.0]);
        assert_eq!(f.columns[2], vec![0.0, 1.0]);
        std::fs::write(&p, "a,1 x\n").unwrap();
        assert!(Sessions::read(&p).unwrap_err().to_string().contains("line 1"));
    }
}
