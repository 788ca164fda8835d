//! Feature tables in: loglynx's own (Parquet or CSV from `loglynx-features`,
//! or a [`FeatureTable`] computed in-process) and any numeric table a data
//! scientist brings (an id column plus numeric columns).
//!
//! This is the one place where tabular data becomes the models' matrix type:
//! [`FeatureFrame::matrix`] copies the selected columns, explicitly, into an
//! `ndarray` 0.16 `Array2<f64>` (the version linfa uses). Missing values
//! travel as NaN; the models impute them with the baseline median.

use std::path::{Path, PathBuf};

use loglynx_features::aggregate::registry::EntityKind;
use loglynx_features::aggregate::FeatureTable;
use loglynx_features::connectors::csv::record_line;
use loglynx_features::CompactString;
use loglynx_models::matrix_by_rows;
use loglynx_models::ndarray::Array2;
use polars::prelude::*;
use rayon::prelude::*;

/// Entity kind given to rows of a generic table.
pub const GENERIC_KIND: &str = "table";

/// Errors reading a table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: reading Parquet: {source}")]
    Parquet { path: PathBuf, source: PolarsError },
}

/// A column a matrix needs that the frame does not have.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the table has no column `{0}`")]
pub struct MissingColumn(pub String);

/// What a row of a frame describes: an entity-window of a loglynx feature
/// table, or a row of a generic numeric table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowKind {
    Entity(EntityKind),
    /// A row of a generic numeric table ([`GENERIC_KIND`]).
    Table,
}

impl RowKind {
    /// The name model sets are keyed by: `user`, `source_ip`, `host` or `table`.
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Entity(k) => k.as_str(),
            RowKind::Table => GENERIC_KIND,
        }
    }

    pub fn parse(s: &str) -> Option<RowKind> {
        if s == GENERIC_KIND {
            return Some(RowKind::Table);
        }
        EntityKind::parse(s).map(RowKind::Entity)
    }

    pub fn entity(self) -> Option<EntityKind> {
        match self {
            RowKind::Entity(k) => Some(k),
            RowKind::Table => None,
        }
    }
}

impl std::fmt::Display for RowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Rows of entity-windows (or generic ids) with named numeric columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureFrame {
    /// What each row describes.
    pub kinds: Vec<RowKind>,
    /// Entity or id per row.
    pub ids: Vec<CompactString>,
    /// Window start per row, UTC microseconds (absent in generic tables).
    pub window_starts: Vec<Option<i64>>,
    /// Window length in microseconds, when known.
    pub window: Option<i64>,
    /// Numeric column names.
    pub names: Vec<String>,
    /// One vector per name; NaN = missing.
    pub columns: Vec<Vec<f64>>,
}

impl FeatureFrame {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether this is a loglynx feature table (rows carry entity kinds).
    pub fn is_loglynx(&self) -> bool {
        self.kinds.iter().all(|k| *k != RowKind::Table)
    }

    /// The rows of a [`FeatureTable`] computed in-process.
    pub fn from_feature_table(t: &FeatureTable) -> Self {
        Self::from_table(t.clone())
    }

    /// Like [`FeatureFrame::from_feature_table`], taking the table (no copy
    /// of its columns).
    pub fn from_table(t: FeatureTable) -> Self {
        FeatureFrame {
            kinds: t.kinds.iter().map(|&k| RowKind::Entity(k)).collect(),
            window_starts: t.window_starts.par_iter().map(|&s| Some(s)).collect(),
            window: Some(t.window),
            names: loglynx_features::aggregate::registry::FEATURES
                .iter()
                .map(|f| f.name.to_owned())
                .collect(),
            ids: t.entities,
            columns: t.columns,
        }
    }

    /// Entity kinds present, in first-seen order.
    pub fn entity_kinds(&self) -> Vec<RowKind> {
        let mut out: Vec<RowKind> = Vec::new();
        for k in &self.kinds {
            if !out.contains(k) {
                out.push(*k);
            }
        }
        out
    }

    /// Row indices of one entity kind.
    pub fn rows_of(&self, kind: RowKind) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.kinds[i] == kind).collect()
    }

    /// Drops every column not named in `names`.
    pub fn keep_columns(&mut self, names: &[&str]) {
        let mut c = 0;
        while c < self.names.len() {
            if names.contains(&self.names[c].as_str()) {
                c += 1;
            } else {
                self.names.remove(c);
                self.columns.remove(c);
            }
        }
    }

    /// Column index of a name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Whether a column has a value (not NaN) in any of `rows`.
    pub fn has_values(&self, col: usize, rows: &[usize]) -> bool {
        rows.iter().any(|&r| !self.columns[col][r].is_nan())
    }

    /// The explicit conversion to the models' matrix: `rows` × `names`.
    pub fn matrix(&self, rows: &[usize], names: &[String]) -> Result<Array2<f64>, MissingColumn> {
        let cols: Vec<usize> = names
            .iter()
            .map(|n| self.column(n).ok_or_else(|| MissingColumn(n.clone())))
            .collect::<Result<_, _>>()?;
        Ok(matrix_by_rows(rows.len(), cols.len(), |i, out| {
            for (o, &col) in out.iter_mut().zip(&cols) {
                *o = self.columns[col][rows[i]];
            }
        }))
    }

    /// Keeps the rows `keep` accepts (by index), in order.
    pub fn retain_rows(&mut self, keep: impl Fn(usize) -> bool) {
        let kept: Vec<bool> = (0..self.len()).map(keep).collect();
        fn retain<T>(v: &mut Vec<T>, kept: &[bool]) {
            let mut kept = kept.iter();
            v.retain(|_| kept.next().copied().unwrap_or(false));
        }
        retain(&mut self.kinds, &kept);
        retain(&mut self.ids, &kept);
        retain(&mut self.window_starts, &kept);
        for c in &mut self.columns {
            retain(c, &kept);
        }
    }

    /// Appends another frame's rows; columns are matched by name and a
    /// column missing on one side is NaN there.
    pub fn append(&mut self, other: FeatureFrame) {
        if self.names.is_empty() && self.is_empty() {
            *self = other;
            return;
        }
        if self.window != other.window {
            self.window = None;
        }
        let before = self.len();
        for name in &other.names {
            if self.column(name).is_none() {
                self.names.push(name.clone());
                self.columns.push(vec![f64::NAN; before]);
            }
        }
        for (c, name) in self.names.iter().enumerate() {
            match other.column(name) {
                Some(oc) => self.columns[c].extend_from_slice(&other.columns[oc]),
                None => self.columns[c].extend(std::iter::repeat_n(f64::NAN, other.len())),
            }
        }
        self.kinds.extend(other.kinds);
        self.ids.extend(other.ids);
        self.window_starts.extend(other.window_starts);
    }

    /// Reads a Parquet or CSV table. A loglynx table is recognised by its
    /// `entity_kind` and `entity` columns; any other table needs an id
    /// column (`id_column`, else a column named `id`, else the first
    /// non-numeric column) and uses every other numeric column.
    pub fn read(path: &Path, id_column: Option<&str>) -> Result<FeatureFrame, TableError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let raw = match ext.as_str() {
            "parquet" | "pq" => read_parquet(path)?,
            _ => read_csv(path)?,
        };
        raw.into_frame(path, id_column)
    }
}

/// A column as read, before we know which columns are features.
enum RawColumn {
    Numeric(Vec<f64>),
    Text(Vec<Option<String>>),
    /// Timestamps, UTC microseconds.
    Time(Vec<Option<i64>>),
}

struct RawTable {
    names: Vec<String>,
    columns: Vec<RawColumn>,
    height: usize,
}

fn read_parquet(path: &Path) -> Result<RawTable, TableError> {
    let pq = |source| TableError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|source| TableError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let df = ParquetReader::new(file).finish().map_err(pq)?;
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for col in df.columns() {
        names.push(col.name().to_string());
        let dtype = col.dtype();
        let raw = if dtype.is_primitive_numeric() || dtype == &DataType::Boolean {
            let c = col.cast(&DataType::Float64).map_err(pq)?;
            RawColumn::Numeric(c.f64().map_err(pq)?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        } else if let DataType::Datetime(unit, _) = dtype {
            let per_us = match unit {
                TimeUnit::Nanoseconds => 1_000,
                TimeUnit::Microseconds => 1,
                TimeUnit::Milliseconds => -1_000,
            };
            let c = col.cast(&DataType::Int64).map_err(pq)?;
            RawColumn::Time(
                c.i64()
                    .map_err(pq)?
                    .iter()
                    .map(|v| v.map(|x| if per_us > 0 { x / per_us } else { x * -per_us }))
                    .collect(),
            )
        } else {
            let c = col.cast(&DataType::String).map_err(pq)?;
            RawColumn::Text(c.str().map_err(pq)?.iter().map(|v| v.map(str::to_owned)).collect())
        };
        columns.push(raw);
    }
    Ok(RawTable {
        names,
        columns,
        height: df.height(),
    })
}

/// One CSV record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRecord {
    pub line: u64,
    pub fields: Vec<String>,
}

/// Splits CSV text into records, the header first (RFC 4180: quotes,
/// doubled quotes, line breaks inside quotes; CRLF or LF; blank lines
/// skipped).
pub fn parse_csv(text: &str) -> Result<Vec<CsvRecord>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r?;
            Ok(CsvRecord {
                line: record_line(text.as_bytes(), &r),
                fields: r.iter().map(str::to_owned).collect(),
            })
        })
        .collect()
}

fn read_csv(path: &Path) -> Result<RawTable, TableError> {
    let invalid = |reason: String| TableError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| TableError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut records = parse_csv(&text).map_err(|e| invalid(e.to_string()))?.into_iter();
    let names: Vec<String> = records.next().ok_or_else(|| invalid("empty table".into()))?.fields;
    let records: Vec<CsvRecord> = records
        .filter(|r| !(r.fields.len() == 1 && r.fields[0].trim().is_empty()))
        .collect();
    for r in &records {
        if r.fields.len() != names.len() {
            return Err(invalid(format!(
                "line {}: {} fields, the header has {}",
                r.line,
                r.fields.len(),
                names.len()
            )));
        }
    }
    let rows: Vec<Vec<String>> = records.into_iter().map(|r| r.fields).collect();
    let mut columns = Vec::new();
    for (c, name) in names.iter().enumerate() {
        let values: Vec<&str> = rows.iter().map(|r| r[c].trim()).collect();
        let numeric: Option<Vec<f64>> = values
            .iter()
            .map(|v| {
                if v.is_empty() {
                    Some(f64::NAN)
                } else {
                    v.parse::<f64>().ok()
                }
            })
            .collect();
        let is_time = name == "window_start" || name == "window_end";
        columns.push(match numeric {
            Some(n) if !is_time => RawColumn::Numeric(n),
            _ if is_time => RawColumn::Time(
                values
                    .iter()
                    .map(|v| loglynx_features::connectors::json::parse_timestamp(v))
                    .collect(),
            ),
            _ => RawColumn::Text(values.iter().map(|v| (!v.is_empty()).then(|| v.to_string())).collect()),
        });
    }
    Ok(RawTable {
        names,
        columns,
        height: rows.len(),
    })
}

impl RawTable {
    fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    fn text(&self, i: usize) -> Vec<String> {
        match &self.columns[i] {
            RawColumn::Text(v) => v.iter().map(|s| s.clone().unwrap_or_default()).collect(),
            RawColumn::Numeric(v) => v.iter().map(|x| format!("{x}")).collect(),
            RawColumn::Time(v) => v.iter().map(|t| t.map(|t| t.to_string()).unwrap_or_default()).collect(),
        }
    }

    /// Column `i` as row ids.
    fn ids(&self, i: usize) -> Vec<CompactString> {
        self.text(i).into_iter().map(CompactString::from).collect()
    }

    fn into_frame(self, path: &Path, id_column: Option<&str>) -> Result<FeatureFrame, TableError> {
        let invalid = |reason: String| TableError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let loglynx =
            self.position("entity_kind").is_some() && self.position("entity").is_some() && id_column.is_none();
        let (kinds, ids, id_cols) = if loglynx {
            let k = self.position("entity_kind").expect("checked");
            let e = self.position("entity").expect("checked");
            let kinds = self
                .text(k)
                .iter()
                .map(|k| EntityKind::parse(k).ok_or_else(|| invalid(format!("unknown entity_kind `{k}`"))))
                .collect::<Result<Vec<_>, _>>()?;
            (
                kinds.into_iter().map(RowKind::Entity).collect(),
                self.ids(e),
                vec![k, e],
            )
        } else {
            let id = match id_column {
                Some(name) => self
                    .position(name)
                    .ok_or_else(|| invalid(format!("no id column `{name}` (columns: {})", self.names.join(", "))))?,
                None => self
                    .position("id")
                    .or_else(|| self.columns.iter().position(|c| !matches!(c, RawColumn::Numeric(_))))
                    .ok_or_else(|| invalid("no id column: name one with --id-column".into()))?,
            };
            (vec![RowKind::Table; self.height], self.ids(id), vec![id])
        };
        let window_starts = match self.position("window_start").map(|i| &self.columns[i]) {
            Some(RawColumn::Time(v)) => v.clone(),
            _ => vec![None; self.height],
        };
        let window = match (self.position("window_start"), self.position("window_end")) {
            (Some(s), Some(e)) => match (&self.columns[s], &self.columns[e]) {
                (RawColumn::Time(s), RawColumn::Time(e)) => {
                    s.first().zip(e.first()).and_then(|(s, e)| Some((*e)? - (*s)?))
                }
                _ => None,
            },
            _ => None,
        };
        let mut names = Vec::new();
        let mut columns = Vec::new();
        for (i, (name, col)) in self.names.iter().zip(self.columns).enumerate() {
            if id_cols.contains(&i) {
                continue;
            }
            if let RawColumn::Numeric(v) = col {
                if v.iter().any(|x| x.is_infinite()) {
                    return Err(invalid(format!("column `{name}` holds an infinite value")));
                }
                names.push(name.clone());
                columns.push(v);
            }
        }
        if names.is_empty() {
            return Err(invalid("no numeric columns to train on".into()));
        }
        Ok(FeatureFrame {
            kinds,
            ids,
            window_starts,
            window,
            names,
            columns,
        })
    }
}

/// Whether an input path is a feature table rather than a raw log: Parquet
/// always; CSV when an id column is named or its header has `entity_kind`
/// (a loglynx feature table). Anything else is read as a log.
pub fn is_feature_table(path: &str, id_column: Option<&str>) -> bool {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".parquet") || lower.ends_with(".pq") {
        return true;
    }
    if lower.ends_with(".csv") {
        if id_column.is_some() {
            return true;
        }
        if let Ok(f) = std::fs::File::open(path) {
            let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(f);
            return reader
                .headers()
                .is_ok_and(|h| h.iter().any(|c| c.trim() == "entity_kind"));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_with_quotes_and_breaks() {
        let recs = parse_csv("a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n\n\"multi\nline\",3\n4,5").unwrap();
        let fields: Vec<_> = recs.iter().map(|r| r.fields.clone()).collect();
        assert_eq!(
            fields,
            vec![
                vec!["a", "b"],
                vec!["x,1", "say \"hi\""],
                vec!["multi\nline", "3"],
                vec!["4", "5"]
            ]
        );
        let lines: Vec<_> = recs.iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 2, 4, 6]);
    }

    #[test]
    fn an_unclosed_quote_fails_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("open.csv");
        std::fs::write(&p, "id,x\na,1\n\"b,2\n").unwrap();
        let e = FeatureFrame::read(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("open.csv") && e.contains("line 3: 1 fields, the header has 2"),
            "{e}"
        );
    }

    #[test]
    fn header_detection_reads_quoted_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        std::fs::write(&p, "\"entity_kind\",entity,events\nuser,alice,3\n").unwrap();
        assert!(is_feature_table(p.to_str().unwrap(), None));
        std::fs::write(&p, "time,user\n").unwrap();
        assert!(!is_feature_table(p.to_str().unwrap(), None));
    }

    #[test]
    fn generic_numeric_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "session,e1,e2,label_text\ns1,3,0,x\ns2,1,,y\n").unwrap();
        let f = FeatureFrame::read(&p, None).unwrap();
        assert_eq!(f.ids, vec!["s1", "s2"]);
        assert_eq!(f.names, vec!["e1", "e2"]);
        assert!(f.columns[1][1].is_nan());
        assert!(!f.is_loglynx());
        let m = f.matrix(&[1, 0], &["e1".to_owned()]).unwrap();
        assert_eq!(m.into_raw_vec_and_offset().0, vec![1.0, 3.0]);
    }

    #[test]
    fn bad_tables_name_the_file_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, "id,x\na,1,2\n").unwrap();
        let e = FeatureFrame::read(&p, None).unwrap_err().to_string();
        assert!(e.contains("bad.csv") && e.contains("line 2"), "{e}");
        std::fs::write(&p, "id,x\na,inf\n").unwrap();
        assert!(FeatureFrame::read(&p, None)
            .unwrap_err()
            .to_string()
            .contains("infinite"));
        std::fs::write(&p, "id,name\na,b\n").unwrap();
        assert!(FeatureFrame::read(&p, None)
            .unwrap_err()
            .to_string()
            .contains("no numeric"));
        std::fs::write(&p, "entity_kind,entity,events\nuser,alice,3\n=cmd|calc!A0,bob,1\n").unwrap();
        let e = FeatureFrame::read(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("bad.csv") && e.contains("unknown entity_kind `=cmd|calc!A0`"),
            "{e}"
        );
    }

    #[test]
    fn rows_of_one_kind_share_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        std::fs::write(&p, "entity_kind,entity,events\nuser,alice,3\nhost,web1,1\nuser,bob,2\n").unwrap();
        let f = FeatureFrame::read(&p, None).unwrap();
        assert_eq!(
            f.entity_kinds(),
            vec![RowKind::Entity(EntityKind::User), RowKind::Entity(EntityKind::Host)]
        );
    }

    #[test]
    fn append_matches_columns_by_name() {
        let mut a = FeatureFrame {
            kinds: vec![RowKind::Table],
            ids: vec!["a".into()],
            window_starts: vec![None],
            window: None,
            names: vec!["x".into()],
            columns: vec![vec![1.0]],
        };
        let b = FeatureFrame {
            kinds: vec![RowKind::Table],
            ids: vec!["b".into()],
            window_starts: vec![None],
            window: None,
            names: vec!["y".into(), "x".into()],
            columns: vec![vec![5.0], vec![2.0]],
        };
        a.append(b);
        assert_eq!(a.names, vec!["x", "y"]);
        assert_eq!(a.columns[0], vec![1.0, 2.0]);
        assert!(a.columns[1][0].is_nan());
        assert_eq!(a.columns[1][1], 5.0);
    }
}
