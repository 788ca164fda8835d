//! `loglynx._loglynx`: the Python package's extension module. Each call
//! parses the same flags as the binary it stands for (`loglynx-features`,
//! `loglynx-train`, `loglynx-score`) and calls the same library function, so
//! a call and a command line with the same settings compute the same
//! thing; the Python side (`loglynx/__init__.py`) turns keyword arguments
//! into those flags. Tables cross to Python as Arrow (pyo3-polars), work
//! runs with the GIL released, and every error is a `LoglynxError` with the
//! command line's message.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use polars::prelude::*;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3_polars::PyDataFrame;

use loglynx_baseline::Baseline;
use loglynx_cli::features::{Collected, FeaturesConfig};
use loglynx_features::ingest::frame;
use loglynx_features::output::{feature_dataframe, EventBatch};
use loglynx_score::config::ScoreConfig;
use loglynx_train::config::TrainConfig;

create_exception!(
    _loglynx,
    LoglynxError,
    PyException,
    "A loglynx call failed; the message is the command line's."
);

fn fail(e: impl std::fmt::Display) -> PyErr {
    LoglynxError::new_err(e.to_string())
}

#[derive(Debug, Parser)]
#[command(name = "loglynx-features")]
struct FeaturesArgs {
    #[command(flatten)]
    config: FeaturesConfig,
}

#[derive(Debug, Parser)]
#[command(name = "loglynx-train")]
struct TrainArgs {
    #[command(flatten)]
    config: TrainConfig,
}

#[derive(Debug, Parser)]
#[command(name = "loglynx-score")]
struct ScoreArgs {
    #[command(flatten)]
    config: ScoreConfig,
}

/// Flags as the binary parses them; a usage error is the binary's message.
fn parse<P: Parser>(argv: Vec<String>) -> PyResult<P> {
    P::try_parse_from(argv).map_err(|e| fail(e.render().to_string().trim_end()))
}

fn temp_dir() -> PyResult<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("loglynx-py")
        .tempdir()
        .map_err(|e| fail(format!("temporary directory (TMPDIR names it): {e}")))
}

fn write_parquet(df: &mut DataFrame, path: &Path) -> PyResult<()> {
    let file = std::fs::File::create(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    ParquetWriter::new(file)
        .finish(df)
        .map_err(|e| fail(format!("{}: writing Parquet: {e}", path.display())))?;
    Ok(())
}

fn read_parquet(path: &Path) -> PyResult<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| fail(format!("{}: reading Parquet: {e}", path.display())))
}

/// An error that names the temporary file a DataFrame went through, with
/// the DataFrame named instead.
fn fail_table(e: impl std::fmt::Display, table_path: &Path) -> PyErr {
    fail(e.to_string().replace(&path_arg(table_path), TABLE_INPUT))
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `loglynx-features` flags → (features, events when asked, the inputs not
/// read in full). Nothing is written: the rows and events stay in memory.
#[pyfunction]
#[pyo3(signature = (argv, keep_events=false))]
fn features(
    py: Python<'_>,
    argv: Vec<String>,
    keep_events: bool,
) -> PyResult<(PyDataFrame, Option<PyDataFrame>, Vec<String>)> {
    let args: FeaturesArgs = parse(argv)?;
    py.detach(move || {
        let mut collected = Collected {
            keep_events,
            ..Collected::default()
        };
        let outcome = loglynx_cli::features::run_collect(&args.config, true, &mut collected).map_err(fail)?;
        let table = collected.table.take().expect("run_collect keeps the table");
        let rows = feature_dataframe(&table, 0..table.len()).map_err(fail)?;
        let events = if keep_events {
            let mut parts = collected.events.into_iter();
            let mut all = match parts.next() {
                Some(df) => df,
                None => EventBatch::default().dataframe(&[]).map_err(fail)?,
            };
            for df in parts {
                all.vstack_mut_owned(df).map_err(fail)?;
            }
            all.rechunk_mut();
            Some(PyDataFrame(all))
        } else {
            None
        };
        Ok((PyDataFrame(rows), events, outcome.unread))
    })
}

/// The feature rows of a table of events (the columns `features` returns
/// as events), computed as `argv`'s `loglynx-features` flags say. With
/// `start` (UTC microseconds), novelty counts from where the whole input
/// starts; with `buckets` and `mine`, only the rows of entities in `mine`
/// are kept (a part of a distributed run).
#[pyfunction]
#[pyo3(signature = (events, argv, start=None, buckets=None, mine=None))]
fn features_of_events(
    py: Python<'_>,
    events: PyDataFrame,
    argv: Vec<String>,
    start: Option<i64>,
    buckets: Option<u32>,
    mine: Option<Vec<u32>>,
) -> PyResult<PyDataFrame> {
    let args: FeaturesArgs = parse(argv)?;
    py.detach(move || {
        let cfg = loglynx_cli::features::feature_config(&args.config).map_err(fail)?;
        let read = frame::events_from_dataframe(&events.0).map_err(fail)?;
        let mut table = frame::features_of_events(&read.events, Arc::new(cfg), start);
        if let (Some(b), Some(mine)) = (buckets, mine) {
            table = frame::rows_in_buckets(&table, &mine, b);
        }
        Ok(PyDataFrame(feature_dataframe(&table, 0..table.len()).map_err(fail)?))
    })
}

/// Each event once per distinct bucket (of `buckets`) of its entities, the
/// bucket in a `loglynx.bucket` column: grouping by it puts every event of
/// an entity where the entity's rows are made.
#[pyfunction]
fn route_events(py: Python<'_>, events: PyDataFrame, buckets: u32) -> PyResult<PyDataFrame> {
    py.detach(move || {
        let read = frame::events_from_dataframe(&events.0).map_err(fail)?;
        let mut rows: Vec<IdxSize> = Vec::with_capacity(read.events.len() * 2);
        let mut bucket: Vec<u32> = Vec::with_capacity(read.events.len() * 2);
        for (i, ev) in read.events.iter().enumerate() {
            for b in frame::event_buckets(ev, buckets) {
                rows.push(i as IdxSize);
                bucket.push(b);
            }
        }
        let idx = IdxCa::from_vec("".into(), rows);
        let mut out = events.0.take(&idx).map_err(fail)?;
        out.with_column(Column::new("loglynx.bucket".into(), bucket))
            .map_err(fail)?;
        Ok(PyDataFrame(out))
    })
}

/// A trained baseline: the bundle's bytes and what they hold.
#[pyclass(module = "loglynx._loglynx", name = "Baseline", frozen)]
struct PyBaseline {
    bytes: Vec<u8>,
    inner: Baseline,
}

impl PyBaseline {
    fn from_bytes(bytes: Vec<u8>) -> Result<PyBaseline, loglynx_baseline::BaselineError> {
        let inner = Baseline::from_bytes(&bytes)?;
        Ok(PyBaseline { bytes, inner })
    }
}

#[pymethods]
impl PyBaseline {
    /// Reads a bundle written by `loglynx-train` or `save`; a corrupt or
    /// incompatible one is refused with the reason.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<PyBaseline> {
        let bytes = std::fs::read(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
        PyBaseline::from_bytes(bytes).map_err(|e| fail(format!("{}: {e}", path.display())))
    }

    /// A bundle from its bytes (`to_bytes`).
    #[staticmethod]
    fn from_bundle(bytes: Vec<u8>) -> PyResult<PyBaseline> {
        PyBaseline::from_bytes(bytes).map_err(fail)
    }

    /// Writes the bundle atomically (temporary file, then rename).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        loglynx_features::output::write_atomic(&path, &self.bytes).map_err(fail)
    }

    /// The bundle's bytes, as `loglynx-train` writes them.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes)
    }

    /// The model card as JSON (`.card.json` beside a trained bundle).
    fn card_json(&self) -> String {
        serde_json::to_string_pretty(&self.inner.model_card()).expect("a card is plain JSON")
    }

    /// The model card as Markdown (`.card.md`).
    fn card_markdown(&self) -> String {
        self.inner.model_card_markdown()
    }
}

/// How a baseline's card names a table handed over from Python.
const TABLE_INPUT: &str = "<DataFrame>";

/// `loglynx-train` flags (without `-o`), plus a feature table to train on
/// → the baseline. Run with `SOURCE_DATE_EPOCH` set, the same inputs and
/// seed give the same bytes as the binary.
#[pyfunction]
#[pyo3(signature = (argv, table=None))]
fn train(py: Python<'_>, mut argv: Vec<String>, table: Option<PyDataFrame>) -> PyResult<PyBaseline> {
    let dir = temp_dir()?;
    let output = dir.path().join("baseline.llx");
    argv.extend(["-o".to_owned(), path_arg(&output)]);
    py.detach(move || {
        let table_path = dir.path().join("features.parquet");
        let from_table = table.is_some();
        if let Some(mut t) = table {
            write_parquet(&mut t.0, &table_path)?;
            argv.push(path_arg(&table_path));
        }
        let args: TrainArgs = parse(argv)?;
        let config = args.config.with_config_file().map_err(fail)?;
        let mut baseline = loglynx_train::run(&config, true)
            .map_err(|e| fail_table(e, &table_path))?
            .baseline;
        drop(dir);
        if from_table {
            // The card names the table, not the temporary file it went through.
            let temp = path_arg(&table_path);
            for f in &mut baseline.metadata.input_files {
                if *f == temp {
                    *f = TABLE_INPUT.to_owned();
                }
            }
        }
        let bytes = baseline.to_bytes().map_err(fail)?;
        Ok(PyBaseline { bytes, inner: baseline })
    })
}

/// `loglynx-score` flags (without `-o` or `--scores-out`), plus a feature
/// table and a baseline → (alerts as NDJSON, every window's scores when
/// asked, the note on inputs not read in full). `model_name` is how alerts name the
/// model (`model_version`) instead of the path it was read from.
#[pyfunction]
#[pyo3(signature = (argv, table=None, baseline=None, scores=false, model_name=None))]
fn score(
    py: Python<'_>,
    mut argv: Vec<String>,
    table: Option<PyDataFrame>,
    baseline: Option<PyRef<'_, PyBaseline>>,
    scores: bool,
    model_name: Option<String>,
) -> PyResult<(String, Option<PyDataFrame>, Option<String>)> {
    let dir = temp_dir()?;
    let alerts_path = dir.path().join("alerts.ndjson");
    let scores_path = dir.path().join("scores.parquet");
    argv.extend(["-o".to_owned(), path_arg(&alerts_path)]);
    if scores {
        argv.extend(["--scores-out".to_owned(), path_arg(&scores_path)]);
    }
    let model = baseline.map(|b| b.bytes.clone());
    py.detach(move || {
        if let Some(bytes) = model {
            let path = dir.path().join("baseline.llx");
            std::fs::write(&path, bytes).map_err(|e| fail(format!("{}: {e}", path.display())))?;
            argv.extend(["--model".to_owned(), path_arg(&path)]);
        }
        let table_path = dir.path().join("features.parquet");
        if let Some(mut t) = table {
            write_parquet(&mut t.0, &table_path)?;
            argv.push(path_arg(&table_path));
        }
        let mut args: ScoreArgs = parse(argv)?;
        args.config.model_name = model_name;
        let outcome = loglynx_score::run(&args.config, true).map_err(|e| fail_table(e, &table_path))?;
        let alerts =
            std::fs::read_to_string(&alerts_path).map_err(|e| fail(format!("{}: {e}", alerts_path.display())))?;
        let scores = if scores {
            Some(PyDataFrame(read_parquet(&scores_path)?))
        } else {
            None
        };
        let unread =
            (!outcome.input_failures.is_empty()).then(|| loglynx_score::run::unread_note(&outcome.input_failures));
        drop(dir);
        Ok((alerts, scores, unread))
    })
}

/// An empty table with the events' columns and types.
#[pyfunction]
fn event_columns() -> PyResult<PyDataFrame> {
    Ok(PyDataFrame(EventBatch::default().dataframe(&[]).map_err(fail)?))
}

/// The events' columns that feature rows are made from.
#[pyfunction]
fn row_columns() -> Vec<&'static str> {
    frame::ROW_COLUMNS.to_vec()
}

/// An empty table with the feature rows' columns and types.
#[pyfunction]
fn feature_columns() -> PyResult<PyDataFrame> {
    let table = loglynx_features::aggregate::FeatureTable::new(3_600_000_000);
    Ok(PyDataFrame(feature_dataframe(&table, 0..0).map_err(fail)?))
}

/// Starts recording progress for `progress()`.
#[pyfunction]
fn watch_progress() {
    loglynx_cli::progress::watch();
}

/// Stops recording progress.
#[pyfunction]
fn unwatch_progress() {
    loglynx_cli::progress::unwatch();
}

/// (stage, bytes done, bytes in the stage; 0 when unknown).
#[pyfunction]
fn progress() -> (&'static str, u64, u64) {
    let s = loglynx_cli::progress::snapshot();
    (s.stage, s.done, s.total)
}

#[pymodule]
fn _loglynx(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Warnings (late events, skipped kinds) go to stderr as the binaries'.
    loglynx_cli::init_tracing(0, false);
    m.add("LoglynxError", m.py().get_type::<LoglynxError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyBaseline>()?;
    m.add_function(wrap_pyfunction!(features, m)?)?;
    m.add_function(wrap_pyfunction!(features_of_events, m)?)?;
    m.add_function(wrap_pyfunction!(route_events, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(event_columns, m)?)?;
    m.add_function(wrap_pyfunction!(feature_columns, m)?)?;
    m.add_function(wrap_pyfunction!(row_columns, m)?)?;
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(watch_progress, m)?)?;
    m.add_function(wrap_pyfunction!(unwatch_progress, m)?)?;
    m.add_function(wrap_pyfunction!(progress, m)?)?;
    Ok(())
}
