//! `loglynx-features` as a library call: [`FeaturesConfig`] (its flags) in,
//! the feature table (and optionally the normalized events and a JSON run
//! summary) written, a [`FeaturesOutcome`] back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use loglynx_features::aggregate::enrich::{Allowlist, AssetInventory, EnrichError};
use loglynx_features::aggregate::{BusinessHours, ConfigError, FeatureConfig, FeatureTable, ValidFeatureConfig};
use loglynx_features::connectors::csv::ColumnMap;
use loglynx_features::connectors::json::{ConnectorError, FieldMap};
use loglynx_features::ingest::input::{self, InputFormat};
use loglynx_features::ingest::pipeline::{self, PipelineError, RunConfig};
use loglynx_features::ingest::stats::LineStats;
use loglynx_features::output::{self, EventWriter, OutputError, TableFormat};

/// Why a features run failed.
#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    #[error("{0}")]
    Setting(String),
    #[error("no readable input: {0}")]
    NoInput(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Enrich(#[from] EnrichError),
    #[error(transparent)]
    Map(Box<ConnectorError>),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Es(#[from] crate::es::EsInputError),
}

impl From<ConnectorError> for FeaturesError {
    fn from(e: ConnectorError) -> Self {
        FeaturesError::Map(Box::new(e))
    }
}

/// What a features run read and wrote.
#[derive(Debug)]
pub struct FeaturesOutcome {
    pub file_names: Vec<String>,
    /// Inputs that could not be read in full; the outputs cover the rest.
    pub unread: Vec<String>,
    pub stats: LineStats,
    /// Entity-windows made into rows.
    pub windows: u64,
    /// Events left out because their window had already been written.
    pub late_events: u64,
    pub rows: u64,
    /// With `--events-out`: the events written.
    pub events_written: Option<u64>,
    pub seconds: f64,
}

/// The flags of `loglynx-features`.
#[derive(Debug, Clone, Args)]
pub struct FeaturesConfig {
    /// Input files, directories, globs, or `-` for stdin (gzip is detected).
    #[arg(required_unless_present = "from_es")]
    pub inputs: Vec<String>,

    #[command(flatten)]
    pub es: crate::es::EsSourceArgs,

    #[command(flatten)]
    pub es_connection: crate::es::EsConnectionArgs,

    /// Feature table to write.
    #[arg(short, long, default_value = "features.parquet")]
    pub output: PathBuf,

    /// Format of --output; default from its extension (.parquet, .csv, .ndjson).
    #[arg(long, value_parser = crate::table_format())]
    pub output_format: Option<TableFormat>,

    /// Input format; default: detected per file.
    #[arg(long, value_parser = crate::input_format())]
    pub format: Option<InputFormat>,

    /// Year of the first line of RFC 3164 syslog files (they carry none);
    /// default: inferred from each file's modification time.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=9999))]
    pub year: Option<i32>,

    /// Window length: seconds, or a number with s, m, h or d (`15m`, `1h`).
    #[arg(long, default_value = "1h", value_parser = crate::parse_duration)]
    pub window: u64,

    /// Business hours, local time, as START-END (`8-18`).
    #[arg(long, default_value = "8-18")]
    pub business_hours: String,

    /// Business days, ISO numbers 1 (Monday) to 7, as a range or list (`1-5`, `1,2,3`).
    #[arg(long, default_value = "1-5")]
    pub business_days: String,

    /// IANA time zone of the business hours.
    #[arg(long, default_value = "UTC")]
    pub time_zone: String,

    /// TOML field map for JSON inputs that do not use ECS names.
    #[arg(long)]
    pub field_map: Option<PathBuf>,

    /// TOML column map for CSV inputs.
    #[arg(long)]
    pub column_map: Option<PathBuf>,

    /// Asset inventory CSV (`host,criticality,owner`).
    #[arg(long)]
    pub assets: Option<PathBuf>,

    /// Addresses and users whose events are left out of the features
    /// (TOML: `networks = [...]`, `users = [...]`; a vulnerability scanner,
    /// a monitoring account). Unlike loglynx-score's `--allowlist`, which
    /// keeps the events and drops only alerts.
    #[arg(long)]
    pub exclude: Option<PathBuf>,

    /// Also write the normalized events (.parquet, .csv or .ndjson).
    #[arg(long)]
    pub events_out: Option<PathBuf>,

    /// Also write the run summary (line and event counts, skipped lines by
    /// reason and program, timing) as JSON.
    #[arg(long)]
    pub summary_out: Option<PathBuf>,

    /// Treat malformed lines as an error (exit code 2).
    #[arg(long)]
    pub strict: bool,

    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,

    /// How far an input may run back in time: a window is written and its
    /// memory freed once the input is this far past its end; an event in a
    /// window already written is late, counted and left out of the features
    /// (seconds, or a number with s, m, h or d).
    #[arg(long, default_value = "5m", value_parser = crate::parse_duration)]
    pub allowed_lateness: u64,

    /// How long an entity's partners (addresses, hosts, users) are
    /// remembered for the `new_*` features: one last seen with the entity
    /// longer ago than this counts as new again. Bounds memory on long
    /// inputs; 0 remembers for the whole input.
    #[arg(long, default_value = "30d", value_parser = crate::parse_duration)]
    pub novelty_horizon: u64,

    /// Accepted for a uniform CLI; feature extraction uses no randomness.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// What [`run_collect`] keeps in memory instead of writing files.
#[derive(Debug, Default)]
pub struct Collected {
    /// Every row, in the order `--output` would have them.
    pub table: Option<FeatureTable>,
    /// With `events`: the normalized events, a table a batch, with the
    /// columns of [`output::EVENT_COLUMNS`].
    pub events: Vec<loglynx_features::polars::prelude::DataFrame>,
    /// Keep the events too.
    pub keep_events: bool,
}

/// Reads `config.inputs`, writes the feature table (and events, summary).
pub fn run(cli: &FeaturesConfig, quiet: bool) -> Result<FeaturesOutcome, FeaturesError> {
    run_into(cli, quiet, None)
}

/// Like [`run`], but keeps the rows (and with `collected.keep_events` the
/// events) in `collected` instead of writing `--output` and `--events-out`.
pub fn run_collect(
    cli: &FeaturesConfig,
    quiet: bool,
    collected: &mut Collected,
) -> Result<FeaturesOutcome, FeaturesError> {
    run_into(cli, quiet, Some(collected))
}

fn run_into(
    cli: &FeaturesConfig,
    quiet: bool,
    collected: Option<&mut Collected>,
) -> Result<FeaturesOutcome, FeaturesError> {
    let started = Instant::now();
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| FeaturesError::Setting(format!("--threads: {e}")))?;
    }
    let output_format = TableFormat::resolve(cli.output_format, &cli.output, "use --output-format")?;
    let events_format = match &cli.events_out {
        Some(p) => Some(TableFormat::resolve(None, p, "name it .parquet, .csv or .ndjson")?),
        None => None,
    };
    let features = feature_config(cli)?;
    let field_map = match &cli.field_map {
        Some(p) => FieldMap::from_toml_file(p)?,
        None => FieldMap::default(),
    };
    let column_map = match &cli.column_map {
        Some(p) => ColumnMap::from_toml_file(p)?,
        None => ColumnMap::default(),
    };
    let exclude = match &cli.exclude {
        Some(p) => Allowlist::from_toml_file(p)?,
        None => Allowlist::default(),
    };
    let assets = match &cli.assets {
        Some(p) => Some(AssetInventory::from_csv_file(p)?),
        None => None,
    };

    let (mut sources, input_errors) = input::discover(&cli.inputs);
    let input_errors: Vec<String> = input_errors.iter().map(|e| e.to_string()).collect();
    // Events read from a cluster are spooled to a file read like the others,
    // deleted when this binding goes.
    let _es_spool = crate::es::spool_from_es(&cli.es, &cli.es_connection, "loglynx-features", &mut sources)?;
    if sources.is_empty() {
        return Err(FeaturesError::NoInput(input_errors.join("; ")));
    }
    let total_bytes: u64 = sources
        .iter()
        .filter_map(|s| s.path().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len()))
        .sum();
    crate::progress::stage("reading logs", total_bytes);

    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}")
                .expect("valid template"),
        );
        bar
    };

    let cfg = RunConfig {
        format: cli.format,
        year: cli.year,
        field_map,
        column_map,
        features: Arc::new(features),
        exclude,
        block_size: pipeline::DEFAULT_BLOCK_SIZE,
        collect_events: match &collected {
            Some(c) => c.keep_events,
            None => events_format.is_some(),
        },
        collect_compact: None,
        window_evidence: false,
        table_rows: pipeline::DEFAULT_TABLE_ROWS,
    };
    let file_names: Vec<String> = sources.iter().map(|s| s.display()).collect();
    let mut events_writer = match (&cli.events_out, events_format) {
        _ if collected.is_some() => None,
        (Some(p), Some(f)) => {
            let mut w = EventWriter::create(p, f)?;
            w.set_files(file_names.clone());
            Some(w)
        }
        _ => None,
    };
    let progress = |n: u64| {
        bar.inc(n);
        crate::progress::advance(n);
    };
    let lateness =
        pipeline::lateness_micros(cli.allowed_lateness).map_err(|e| FeaturesError::Setting(e.to_string()))?;
    let mut writer = match collected {
        Some(_) => None,
        None => Some(output::FeatureWriter::create(&cli.output, output_format)?),
    };
    let mut rows = 0u64;
    let mut kept: Option<FeatureTable> = None;
    let mut write = |table: FeatureTable| -> Result<(), OutputError> {
        rows += table.len() as u64;
        match &mut writer {
            Some(w) => w.write(&table),
            None => {
                match &mut kept {
                    Some(k) => k.append(table),
                    None => kept = Some(table),
                }
                Ok(())
            }
        }
    };
    let mut kept_events: Vec<loglynx_features::polars::prelude::DataFrame> = Vec::new();
    // Rows are written in the merge step, which runs while the next batch
    // decodes (a writer thread fed by a bounded channel would block a pool
    // thread that the writer's own parallel work may need). Windows close
    // an hour or so at a time: rows are gathered into larger writes
    // (Parquet row groups).
    const WRITE_ROWS: usize = 256 * 1024;
    let mut pending: Option<FeatureTable> = None;
    let mut on_rows = |mut rows: FeatureTable| -> Result<(), OutputError> {
        if let Some(inv) = &assets {
            rows.enrich_assets(inv);
        }
        match &mut pending {
            Some(p) => p.append(rows),
            None => pending = Some(rows),
        }
        if pending.as_ref().is_some_and(|p| p.len() >= WRITE_ROWS) {
            write(pending.take().expect("checked"))?;
        }
        Ok(())
    };
    let result = pipeline::run_closing(
        &sources,
        &cfg,
        lateness,
        &mut on_rows,
        |batch| match &mut events_writer {
            Some(w) => w.write(batch),
            None if cfg.collect_events => {
                let df = batch.dataframe(&file_names).map_err(|source| OutputError::Parquet {
                    path: "<events>".into(),
                    source,
                })?;
                kept_events.push(df);
                Ok(())
            }
            None => Ok(()),
        },
        &progress,
    )?;
    if let Some(last) = pending.take() {
        write(last)?;
    }
    if let Some(w) = writer {
        w.finish()?;
    }
    if let Some(c) = collected {
        c.table = Some(kept.unwrap_or_else(|| FeatureTable::new(cfg.features.window())));
        c.events = kept_events;
    }
    bar.finish_and_clear();
    let late_events = result.aggregator.late_events();
    if late_events > 0 {
        tracing::warn!(
            late_events,
            allowed_lateness_s = cli.allowed_lateness,
            "events older than the allowed lateness were left out of the features"
        );
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        rss_mib = crate::rss_mib(),
        rows,
        "features written"
    );

    let file_names = result.file_names();
    let result_files = result.files.clone();
    let mut unread = input_errors.clone();
    unread.extend(result.errors().map(|(name, err)| format!("{name}: {err}")));
    let stats = result.stats.clone();
    let windows = rows;
    let events_written = match events_writer {
        Some(w) => Some(w.finish()?),
        None => None,
    };

    let elapsed = started.elapsed().as_secs_f64();
    if let Some(path) = &cli.summary_out {
        let files: Vec<_> = result_files
            .iter()
            .map(|f| {
                serde_json::json!({
                    "path": f.name,
                    "format": f.format.map(|x| x.as_str()),
                    "bytes": f.bytes,
                    "error": f.error,
                })
            })
            .collect();
        let summary = serde_json::json!({
            "files": files,
            "input_errors": input_errors,
            "lines": stats.lines,
            "events": stats.events,
            "excluded": stats.excluded,
            "invalid_utf8": stats.invalid_utf8,
            "malformed": stats.malformed(),
            "unrecognized_share": stats.unrecognized_share(),
            "skipped": stats.skipped,
            "entity_windows": windows,
            "late_events": late_events,
            "allowed_lateness_s": cli.allowed_lateness,
            "rows": rows,
            "output": cli.output,
            "events_out": cli.events_out,
            "seconds": elapsed,
        });
        let text = serde_json::to_string_pretty(&summary).expect("plain JSON");
        output::write_atomic(path, text.as_bytes())?;
    }
    Ok(FeaturesOutcome {
        file_names,
        unread,
        stats,
        windows,
        late_events,
        rows,
        events_written,
        seconds: elapsed,
    })
}

/// How features are computed, from `--window`, `--business-hours`,
/// `--business-days`, `--time-zone` and `--novelty-horizon`.
pub fn feature_config(cli: &FeaturesConfig) -> Result<ValidFeatureConfig, FeaturesError> {
    let (start_hour, end_hour) = match parse_range(&cli.business_hours, "--business-hours")?.as_slice() {
        [a, .., b] => (*a, *b),
        _ => {
            return Err(FeaturesError::Setting(format!(
                "--business-hours `{}`: use START-END such as 8-18",
                cli.business_hours
            )))
        }
    };
    Ok(FeatureConfig {
        window_secs: cli.window,
        business_hours: BusinessHours {
            start_hour,
            end_hour,
            days: parse_range(&cli.business_days, "--business-days")?,
            time_zone: cli.time_zone.clone(),
        },
        novelty_horizon_secs: cli.novelty_horizon,
        ..FeatureConfig::default()
    }
    .check()?)
}

/// `1-5` or `1,3,7` as numbers.
fn parse_range(s: &str, what: &str) -> Result<Vec<u32>, FeaturesError> {
    let bad = |why: &str| FeaturesError::Setting(format!("{what} `{s}`: {why}"));
    let number = |x: &str| x.trim().parse::<u32>().map_err(|e| bad(&e.to_string()));
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once('-') {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(bad(&format!("range {a}-{b} is backwards")));
            }
            out.extend(a..=b);
        } else {
            out.push(number(part)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("1-5", "x").unwrap(), vec![1, 2, 3, 4, 5]);
        assert_eq!(parse_range("1,3,7", "x").unwrap(), vec![1, 3, 7]);
        assert!(parse_range("5-1", "x").is_err());
        assert!(parse_range("a-b", "--business-days")
            .unwrap_err()
            .to_string()
            .contains("--business-days `a-b`"));
    }
}
