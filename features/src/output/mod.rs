//! Outputs: feature tables and normalized events as Parquet, CSV or NDJSON,
//! always written atomically (temporary file in the target directory, then
//! rename), and escaping of attacker-controlled text for CSV and terminals.
//! [`compact`] is the in-memory event log that detection rules read.

pub mod compact;
pub mod frames;
pub mod ordered;
pub mod spool;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

#[cfg(feature = "parquet")]
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::aggregate::registry::{FEATURES, KEY_COLUMNS};
use crate::aggregate::FeatureTable;
use crate::event::{Event, Micros};

/// A table output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    Parquet,
    Csv,
    Ndjson,
}

impl TableFormat {
    pub const ALL: [TableFormat; 3] = [TableFormat::Parquet, TableFormat::Csv, TableFormat::Ndjson];

    pub fn as_str(self) -> &'static str {
        match self {
            TableFormat::Parquet => "parquet",
            TableFormat::Csv => "csv",
            TableFormat::Ndjson => "ndjson",
        }
    }

    /// The format named by a path's extension (`.parquet`, `.csv`,
    /// `.ndjson`/`.jsonl`/`.json`).
    /// The format `explicit` names, else the one of `path`'s extension; the
    /// error names the path and the option (`flag`) that would settle it.
    pub fn resolve(explicit: Option<TableFormat>, path: &Path, flag: &str) -> Result<TableFormat, OutputError> {
        explicit
            .or_else(|| TableFormat::from_path(path))
            .ok_or_else(|| OutputError::UnknownFormat {
                path: path.to_path_buf(),
                flag: flag.to_owned(),
            })
    }

    pub fn from_path(path: &Path) -> Option<TableFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => Some(TableFormat::Parquet),
            "csv" => Some(TableFormat::Csv),
            "ndjson" | "jsonl" | "json" => Some(TableFormat::Ndjson),
            _ => None,
        }
    }
}

/// Errors writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[cfg(feature = "parquet")]
    #[error("{path}: writing Parquet: {source}")]
    Parquet { path: PathBuf, source: PolarsError },
    /// Parquet was asked for but this build has no Parquet writer.
    #[error("{path}: Parquet output is not built in (loglynx-features without its `parquet` feature); write .csv or .ndjson")]
    ParquetDisabled { path: PathBuf },
    #[error("{path}: cannot tell the format from the extension (.parquet, .csv, .ndjson); {flag}")]
    UnknownFormat { path: PathBuf, flag: String },
    /// Rows could not be spooled ([`spool::RowSpool`]).
    #[error("spooling feature rows in {}: {source} (TMPDIR names the directory)", dir.display())]
    Spool { dir: PathBuf, source: io::Error },
}

#[cfg(not(feature = "parquet"))]
fn parquet_disabled(path: &Path) -> OutputError {
    OutputError::ParquetDisabled {
        path: path.to_path_buf(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file being written; it appears at its path only on [`AtomicFile::commit`].
pub struct AtomicFile {
    path: PathBuf,
    tmp: NamedTempFile,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<Self, OutputError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".loglynx-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(io_err(path))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
        })
    }

    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes to disk and renames into place.
    pub fn commit(self) -> Result<(), OutputError> {
        self.tmp.as_file().sync_all().map_err(io_err(&self.path))?;
        self.tmp.persist(&self.path).map_err(|e| OutputError::Io {
            path: self.path.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let mut f = AtomicFile::create(path)?;
    f.file().write_all(bytes).map_err(io_err(path))?;
    f.commit()
}

/// A CSV field: quoted when needed, a leading `= + - @` (or tab, CR)
/// neutralised with a `'` so spreadsheets do not run it as a formula, and
/// control characters other than tab and line breaks (terminal escape
/// sequences among them) written as `\u{..}`, so `cat` on the file is safe.
pub fn csv_field(s: &str) -> String {
    let s = escape_controls(s, &['\t', '\n', '\r']);
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    };
    if guarded.contains([',', '"', '\n', '\r']) || guarded.starts_with(' ') || guarded.ends_with(' ') {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// Text safe to print on a terminal: control characters (escape sequences
/// among them) become `\u{..}` escapes.
pub fn escape_terminal(s: &str) -> String {
    escape_controls(s, &[])
}

/// [`escape_terminal`] for a message of several lines (a parser's error
/// with its context): line breaks are kept.
pub fn escape_terminal_lines(s: &str) -> String {
    escape_controls(s, &['\n'])
}

/// `s` with its control characters, except those in `keep`, as `\u{..}`.
fn escape_controls(s: &str, keep: &[char]) -> String {
    let escaped = |c: char| c.is_control() && !keep.contains(&c);
    if !s.chars().any(escaped) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if escaped(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(feature = "parquet")]
fn datetime_column(name: &str, values: Vec<Micros>) -> Column {
    Series::new(name.into(), values)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

#[cfg(feature = "parquet")]
/// A Float64 column of `values` with NaN as null (built from a validity
/// bitmap, not an `Option` per value).
fn nan_as_null_column(name: &str, values: &[f64]) -> Column {
    let validity = values.iter().any(|v| v.is_nan()).then(|| {
        let valid = BooleanChunked::from_iter_values(PlSmallStr::EMPTY, values.iter().map(|v| !v.is_nan()));
        let valid = valid.rechunk();
        let bits = valid.downcast_iter().next().expect("one chunk").values().clone();
        bits
    });
    Float64Chunked::from_vec_validity(name.into(), values.to_vec(), validity).into_column()
}

#[cfg(feature = "parquet")]
/// Rows `range` of the feature table as a polars DataFrame (NaN → null).
pub fn feature_dataframe(table: &FeatureTable, range: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
    let r = range.clone();
    let mut cols: Vec<Column> = Vec::with_capacity(4 + FEATURES.len() + 2);
    cols.push(Column::new(
        "entity_kind".into(),
        table.kinds[r.clone()].iter().map(|k| k.as_str()).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "entity".into(),
        table.entities[r.clone()].iter().map(|e| e.as_str()).collect::<Vec<_>>(),
    ));
    cols.push(datetime_column("window_start", table.window_starts[r.clone()].to_vec()));
    cols.push(datetime_column(
        "window_end",
        table.window_starts[r.clone()]
            .iter()
            .map(|s| s + table.window)
            .collect(),
    ));
    for (f, values) in FEATURES.iter().zip(&table.columns) {
        cols.push(nan_as_null_column(f.name, &values[r.clone()]));
    }
    cols.push(Column::new("source_scope".into(), &table.source_scope[r.clone()]));
    cols.push(Column::new(
        "asset_criticality".into(),
        &table.asset_criticality[r.clone()],
    ));
    DataFrame::new(range.len(), cols)
}

#[cfg(feature = "parquet")]
/// Rows per Parquet row group (and per in-memory DataFrame while writing).
const PARQUET_CHUNK: usize = 256 * 1024;

/// Writes a feature table in `format` to `path`, atomically.
pub fn write_features(table: &FeatureTable, path: &Path, format: TableFormat) -> Result<(), OutputError> {
    let mut w = FeatureWriter::create(path, format)?;
    w.write(table)?;
    w.finish()
}

enum FeatureSink {
    #[cfg(feature = "parquet")]
    Parquet(ParquetStream),
    Text(BufWriter<File>, TableFormat, bool),
}

/// A Parquet file written batch by batch; its schema comes from the first
/// batch.
#[cfg(feature = "parquet")]
#[derive(Default)]
pub struct ParquetStream(Option<Box<polars::io::parquet::write::BatchedWriter<File>>>);

#[cfg(feature = "parquet")]
impl ParquetStream {
    /// Writes `df` into `out` (the first batch sets the schema).
    pub fn write(&mut self, out: &mut AtomicFile, df: &DataFrame) -> Result<(), OutputError> {
        let path = out.path().to_path_buf();
        let pq = |source| OutputError::Parquet {
            path: path.clone(),
            source,
        };
        if self.0.is_none() {
            let file = out.file().try_clone().map_err(io_err(&path))?;
            let writer = ParquetWriter::new(file)
                .with_compression(ParquetCompression::Zstd(None))
                .batched(df.schema())
                .map_err(pq)?;
            self.0 = Some(Box::new(writer));
        }
        self.0.as_mut().expect("set above").write_batch(df).map_err(pq)
    }

    /// Ends the file; `empty` gives the (empty) first batch when none came.
    pub fn finish(
        &mut self,
        out: &mut AtomicFile,
        empty: impl FnOnce() -> PolarsResult<DataFrame>,
    ) -> Result<(), OutputError> {
        let path = out.path().to_path_buf();
        let pq = |source| OutputError::Parquet {
            path: path.clone(),
            source,
        };
        if self.0.is_none() {
            let df = empty().map_err(pq)?;
            self.write(out, &df)?;
        }
        self.0.as_mut().expect("set above").finish().map_err(pq)?;
        Ok(())
    }
}

/// Streams a feature table to a file chunk by chunk, atomically: the file
/// appears on [`FeatureWriter::finish`].
pub struct FeatureWriter {
    out: AtomicFile,
    sink: FeatureSink,
}

impl FeatureWriter {
    pub fn create(path: &Path, format: TableFormat) -> Result<Self, OutputError> {
        let mut out = AtomicFile::create(path)?;
        let sink = match format {
            #[cfg(feature = "parquet")]
            TableFormat::Parquet => FeatureSink::Parquet(ParquetStream::default()),
            #[cfg(not(feature = "parquet"))]
            TableFormat::Parquet => return Err(parquet_disabled(path)),
            f => FeatureSink::Text(BufWriter::new(out.file().try_clone().map_err(io_err(path))?), f, false),
        };
        Ok(FeatureWriter { out, sink })
    }

    pub fn write(&mut self, table: &FeatureTable) -> Result<(), OutputError> {
        let path = self.out.path().to_path_buf();
        match &mut self.sink {
            #[cfg(feature = "parquet")]
            FeatureSink::Parquet(stream) => {
                for start in (0..table.len()).step_by(PARQUET_CHUNK) {
                    let range = start..(start + PARQUET_CHUNK).min(table.len());
                    let df = feature_dataframe(table, range).map_err(|source| OutputError::Parquet {
                        path: path.clone(),
                        source,
                    })?;
                    stream.write(&mut self.out, &df)?;
                }
            }
            FeatureSink::Text(w, format, header) => {
                let res = match format {
                    TableFormat::Csv => {
                        if !*header {
                            write_features_csv_header(w).map_err(io_err(&path))?;
                        }
                        write_features_csv_rows(table, w)
                    }
                    _ => write_features_ndjson(table, w),
                };
                res.map_err(io_err(&path))?;
                *header = true;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), OutputError> {
        let path = self.out.path().to_path_buf();
        match &mut self.sink {
            #[cfg(feature = "parquet")]
            FeatureSink::Parquet(stream) => {
                stream.finish(&mut self.out, || feature_dataframe(&FeatureTable::new(0), 0..0))?
            }
            FeatureSink::Text(w, format, header) => {
                if *format == TableFormat::Csv && !*header {
                    write_features_csv_header(w).map_err(io_err(&path))?;
                }
                w.flush().map_err(io_err(&path))?;
            }
        }
        drop(self.sink);
        self.out.commit()
    }
}

/// Writes the feature table as CSV with a header row.
pub fn write_features_csv(table: &FeatureTable, w: &mut dyn Write) -> io::Result<()> {
    write_features_csv_header(w)?;
    write_features_csv_rows(table, w)
}

fn write_features_csv_header(w: &mut dyn Write) -> io::Result<()> {
    let header: Vec<&str> = KEY_COLUMNS
        .iter()
        .copied()
        .chain(FEATURES.iter().map(|f| f.name))
        .chain(crate::aggregate::registry::CONTEXT_COLUMNS.iter().copied())
        .collect();
    writeln!(w, "{}", header.join(","))
}

fn write_features_csv_rows(table: &FeatureTable, w: &mut dyn Write) -> io::Result<()> {
    for i in 0..table.len() {
        let start = table.window_starts[i];
        write!(
            w,
            "{},{},{},{}",
            table.kinds[i],
            csv_field(&table.entities[i]),
            crate::time::format_rfc3339(start),
            crate::time::format_rfc3339(start + table.window)
        )?;
        for col in &table.columns {
            let v = col[i];
            if v.is_nan() {
                write!(w, ",")?;
            } else {
                write!(w, ",{}", number(v))?;
            }
        }
        writeln!(
            w,
            ",{},{}",
            table.source_scope[i].unwrap_or(""),
            table.asset_criticality[i].as_deref().map(csv_field).unwrap_or_default()
        )?;
    }
    Ok(())
}

/// Writes the feature table as one JSON object per line.
pub fn write_features_ndjson(table: &FeatureTable, w: &mut dyn Write) -> io::Result<()> {
    for i in 0..table.len() {
        let mut obj = serde_json::Map::new();
        obj.insert("entity_kind".into(), table.kinds[i].as_str().into());
        obj.insert("entity".into(), table.entities[i].as_str().into());
        obj.insert(
            "window_start".into(),
            crate::time::format_rfc3339(table.window_starts[i]).into(),
        );
        obj.insert(
            "window_end".into(),
            crate::time::format_rfc3339(table.window_starts[i] + table.window).into(),
        );
        for (f, col) in FEATURES.iter().zip(&table.columns) {
            if !col[i].is_nan() {
                obj.insert(f.name.into(), serde_json::json!(col[i]));
            }
        }
        if let Some(s) = table.source_scope[i] {
            obj.insert("source_scope".into(), s.into());
        }
        if let Some(c) = &table.asset_criticality[i] {
            obj.insert("asset_criticality".into(), c.clone().into());
        }
        serde_json::to_writer(&mut *w, &obj)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Normalized events, column-oriented, for `--events-out`.
#[derive(Debug, Default, Clone)]
pub struct EventBatch {
    pub timestamp: Vec<Micros>,
    pub host: Vec<Option<String>>,
    pub source_address: Vec<Option<String>>,
    pub source_ip: Vec<Option<String>>,
    pub source_port: Vec<Option<u32>>,
    pub source_scope: Vec<Option<&'static str>>,
    pub user: Vec<Option<String>>,
    pub target_user: Vec<Option<String>>,
    pub action: Vec<&'static str>,
    pub outcome: Vec<&'static str>,
    pub auth_method: Vec<Option<&'static str>>,
    pub user_invalid: Vec<bool>,
    pub program: Vec<Option<String>>,
    pub pid: Vec<Option<u32>>,
    pub command: Vec<Option<String>>,
    pub repeat: Vec<u32>,
    pub attempts: Vec<u32>,
    pub attempt_line: Vec<&'static str>,
    pub denied: Vec<bool>,
    pub source_unreliable: Vec<bool>,
    pub category: Vec<&'static str>,
    pub file: Vec<u32>,
    pub line: Vec<u64>,
    pub message: Vec<String>,
}

/// Column names of the events output (ECS).
pub const EVENT_COLUMNS: &[&str] = &[
    "@timestamp",
    "host.name",
    "source.address",
    "source.ip",
    "source.port",
    "source.scope",
    "user.name",
    "user.target.name",
    "event.action",
    "event.outcome",
    "loglynx.auth_method",
    "loglynx.user_invalid",
    "process.name",
    "process.pid",
    "process.command_line",
    "loglynx.repeat",
    "loglynx.attempts",
    "loglynx.source_unreliable",
    "event.category",
    "log.file.path",
    "log.file.line",
    "event.original",
    "loglynx.attempt_line",
    "loglynx.denied",
];

impl EventBatch {
    pub fn len(&self) -> usize {
        self.timestamp.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timestamp.is_empty()
    }

    pub fn push(&mut self, ev: &Event<'_>) {
        let s = |c: &Option<std::borrow::Cow<'_, str>>| c.as_deref().map(str::to_owned);
        self.timestamp.push(ev.timestamp);
        self.host.push(s(&ev.host));
        self.source_address.push(s(&ev.source_address));
        self.source_ip.push(ev.source_ip.map(|ip| ip.to_string()));
        self.source_port.push(ev.source_port.map(u32::from));
        self.source_scope.push(
            ev.source_ip
                .map(|ip| crate::aggregate::enrich::IpScope::of(ip).as_str()),
        );
        self.user.push(s(&ev.user));
        self.target_user.push(s(&ev.target_user));
        self.action.push(ev.action.as_str());
        self.outcome.push(ev.outcome.as_str());
        self.auth_method.push(ev.auth_method.map(|m| m.as_str()));
        self.user_invalid.push(ev.user_invalid);
        self.program.push(s(&ev.program));
        self.pid.push(ev.pid);
        self.command.push(s(&ev.command));
        self.repeat.push(ev.repeat);
        self.attempts.push(ev.attempts);
        self.attempt_line.push(ev.attempt_line.as_str());
        self.denied.push(ev.denied);
        self.source_unreliable.push(ev.source_unreliable);
        self.category.push(ev.action.category());
        self.file.push(ev.evidence.file);
        self.line.push(ev.evidence.line);
        self.message.push(ev.evidence.raw.to_string());
    }

    /// The batch as a table with the columns of [`EVENT_COLUMNS`]; `files`
    /// names the file ids.
    #[cfg(feature = "parquet")]
    pub fn dataframe(&self, files: &[String]) -> PolarsResult<DataFrame> {
        let c = EVENT_COLUMNS;
        let cols = vec![
            datetime_column(c[0], self.timestamp.clone()),
            Column::new(c[1].into(), &self.host),
            Column::new(c[2].into(), &self.source_address),
            Column::new(c[3].into(), &self.source_ip),
            Column::new(c[4].into(), &self.source_port),
            Column::new(c[5].into(), &self.source_scope),
            Column::new(c[6].into(), &self.user),
            Column::new(c[7].into(), &self.target_user),
            Column::new(c[8].into(), &self.action),
            Column::new(c[9].into(), &self.outcome),
            Column::new(c[10].into(), &self.auth_method),
            Column::new(c[11].into(), &self.user_invalid),
            Column::new(c[12].into(), &self.program),
            Column::new(c[13].into(), &self.pid),
            Column::new(c[14].into(), &self.command),
            Column::new(c[15].into(), &self.repeat),
            Column::new(c[16].into(), &self.attempts),
            Column::new(c[17].into(), &self.source_unreliable),
            Column::new(c[18].into(), &self.category),
            Column::new(
                c[19].into(),
                self.file
                    .iter()
                    .map(|&f| files[f as usize].as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(c[20].into(), &self.line),
            Column::new(c[21].into(), &self.message),
            Column::new(c[22].into(), &self.attempt_line),
            Column::new(c[23].into(), &self.denied),
        ];
        DataFrame::new(self.len(), cols)
    }

    fn write_csv(&self, files: &[String], w: &mut dyn Write) -> io::Result<()> {
        let opt = |v: &Option<String>| v.as_deref().map(csv_field).unwrap_or_default();
        for i in 0..self.len() {
            writeln!(
                w,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                crate::time::format_rfc3339(self.timestamp[i]),
                opt(&self.host[i]),
                opt(&self.source_address[i]),
                opt(&self.source_ip[i]),
                self.source_port[i].map(|p| p.to_string()).unwrap_or_default(),
                self.source_scope[i].unwrap_or(""),
                opt(&self.user[i]),
                opt(&self.target_user[i]),
                self.action[i],
                self.outcome[i],
                self.auth_method[i].unwrap_or(""),
                self.user_invalid[i],
                opt(&self.program[i]),
                self.pid[i].map(|p| p.to_string()).unwrap_or_default(),
                opt(&self.command[i]),
                self.repeat[i],
                self.attempts[i],
                self.source_unreliable[i],
                self.category[i],
                csv_field(&files[self.file[i] as usize]),
                self.line[i],
                csv_field(&self.message[i]),
                self.attempt_line[i],
                self.denied[i],
            )?;
        }
        Ok(())
    }

    fn write_ndjson(&self, files: &[String], w: &mut dyn Write) -> io::Result<()> {
        use serde_json::{json, Value};
        for i in 0..self.len() {
            let mut v = json!({
                "@timestamp": crate::time::format_rfc3339(self.timestamp[i]),
                "event": {"action": self.action[i], "outcome": self.outcome[i], "category": self.category[i]},
                "log": {"file": {"path": files[self.file[i] as usize], "line": self.line[i]}},
                "event.original": self.message[i],
            });
            let obj = v.as_object_mut().expect("object");
            let mut put = |k: &str, val: Value| {
                if !val.is_null() {
                    obj.insert(k.into(), val);
                }
            };
            put(
                "host",
                self.host[i].as_ref().map(|h| json!({"name": h})).unwrap_or(Value::Null),
            );
            let mut source = serde_json::Map::new();
            if let Some(a) = &self.source_address[i] {
                source.insert("address".into(), a.clone().into());
            }
            if let Some(ip) = &self.source_ip[i] {
                source.insert("ip".into(), ip.clone().into());
            }
            if let Some(p) = self.source_port[i] {
                source.insert("port".into(), p.into());
            }
            if let Some(s) = self.source_scope[i] {
                source.insert("scope".into(), s.into());
            }
            if !source.is_empty() {
                put("source", Value::Object(source));
            }
            let mut user = serde_json::Map::new();
            if let Some(u) = &self.user[i] {
                user.insert("name".into(), u.clone().into());
            }
            if let Some(t) = &self.target_user[i] {
                user.insert("target".into(), json!({"name": t}));
            }
            if !user.is_empty() {
                put("user", Value::Object(user));
            }
            let mut process = serde_json::Map::new();
            if let Some(p) = &self.program[i] {
                process.insert("name".into(), p.clone().into());
            }
            if let Some(p) = self.pid[i] {
                process.insert("pid".into(), p.into());
            }
            if let Some(c) = &self.command[i] {
                process.insert("command_line".into(), c.clone().into());
            }
            if !process.is_empty() {
                put("process", Value::Object(process));
            }
            let mut ll = serde_json::Map::new();
            if let Some(m) = self.auth_method[i] {
                ll.insert("auth_method".into(), m.into());
            }
            if self.user_invalid[i] {
                ll.insert("user_invalid".into(), true.into());
            }
            if self.repeat[i] != 1 {
                ll.insert("repeat".into(), self.repeat[i].into());
            }
            if self.attempt_line[i] != "none" {
                ll.insert("attempt_line".into(), self.attempt_line[i].into());
                ll.insert("attempts".into(), self.attempts[i].into());
            }
            if self.denied[i] {
                ll.insert("denied".into(), true.into());
            }
            if self.source_unreliable[i] {
                ll.insert("source_unreliable".into(), true.into());
            }
            if !ll.is_empty() {
                put("loglynx", Value::Object(ll));
            }
            serde_json::to_writer(&mut *w, &v)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

enum EventSink {
    #[cfg(feature = "parquet")]
    Parquet(ParquetStream),
    Text(BufWriter<File>, TableFormat),
}

/// Streams normalized events to a file, batch by batch, atomically.
pub struct EventWriter {
    out: AtomicFile,
    sink: EventSink,
    files: Vec<String>,
    pub written: u64,
}

impl EventWriter {
    pub fn create(path: &Path, format: TableFormat) -> Result<Self, OutputError> {
        let mut out = AtomicFile::create(path)?;
        let file = out.file().try_clone().map_err(io_err(path))?;
        let sink = match format {
            #[cfg(feature = "parquet")]
            TableFormat::Parquet => EventSink::Parquet(ParquetStream::default()),
            #[cfg(not(feature = "parquet"))]
            TableFormat::Parquet => return Err(parquet_disabled(path)),
            TableFormat::Csv => {
                let mut w = BufWriter::new(file);
                writeln!(w, "{}", EVENT_COLUMNS.join(",")).map_err(io_err(path))?;
                EventSink::Text(w, format)
            }
            TableFormat::Ndjson => EventSink::Text(BufWriter::new(file), format),
        };
        Ok(EventWriter {
            out,
            sink,
            files: Vec::new(),
            written: 0,
        })
    }

    /// Sets the file table that evidence file ids index into.
    pub fn set_files(&mut self, files: Vec<String>) {
        self.files = files;
    }

    pub fn write(&mut self, batch: &EventBatch) -> Result<(), OutputError> {
        let path = self.out.path().to_path_buf();
        match &mut self.sink {
            #[cfg(feature = "parquet")]
            EventSink::Parquet(stream) => {
                let df = batch.dataframe(&self.files).map_err(|source| OutputError::Parquet {
                    path: path.clone(),
                    source,
                })?;
                stream.write(&mut self.out, &df)?;
            }
            EventSink::Text(w, TableFormat::Csv) => batch.write_csv(&self.files, w).map_err(io_err(&path))?,
            EventSink::Text(w, _) => batch.write_ndjson(&self.files, w).map_err(io_err(&path))?,
        }
        self.written += batch.len() as u64;
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64, OutputError> {
        let path = self.out.path().to_path_buf();
        match &mut self.sink {
            #[cfg(feature = "parquet")]
            EventSink::Parquet(stream) => {
                let files = &self.files;
                stream.finish(&mut self.out, || EventBatch::default().dataframe(files))?
            }
            EventSink::Text(w, _) => w.flush().map_err(io_err(&path))?,
        }
        let written = self.written;
        drop(self.sink);
        self.out.commit()?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("alice"), "alice");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+cmd"), "'+cmd");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-2+3"), "'-2+3");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_field("evil\u{1b}[31m\u{7}"), "evil\\u{1b}[31m\\u{7}");
        assert_eq!(csv_field("=x\u{1b}"), "'=x\\u{1b}");
    }

    #[test]
    fn terminal_escapes_control_characters() {
        assert_eq!(escape_terminal("root"), "root");
        assert_eq!(escape_terminal("evil\u{1b}[31m"), "evil\\u{1b}[31m");
        assert_eq!(escape_terminal("a\nb"), "a\\u{a}b");
        assert_eq!(escape_terminal_lines("a\nb\u{1b}[2J\r"), "a\nb\\u{1b}[2J\\u{d}");
    }

    #[test]
    fn numbers_print_plainly() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1.0 / 3.0), "0.333333");
    }

    #[cfg(not(feature = "parquet"))]
    #[test]
    fn parquet_without_the_feature_is_a_clear_error_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        let err = FeatureWriter::create(&path, TableFormat::Parquet).err().unwrap();
        assert!(err.to_string().contains("Parquet output is not built in"), "{err}");
        let err = EventWriter::create(&path, TableFormat::Parquet).err().unwrap();
        assert!(matches!(err, OutputError::ParquetDisabled { .. }), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut f = AtomicFile::create(&path).unwrap();
        f.file().write_all(b"x").unwrap();
        assert!(!path.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }
}
