//! `loglynx-features`: raw security logs in, per-entity behaviour features out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use loglynx_cli::init_tracing;
use loglynx_features::aggregate::enrich::{Allowlist, AssetInventory};
use loglynx_features::aggregate::{BusinessHours, FeatureConfig, SpentState};
use loglynx_features::connectors::csv::ColumnMap;
use loglynx_features::connectors::json::FieldMap;
use loglynx_features::ingest::input::{self, InputFormat};
use loglynx_features::ingest::pipeline::{self, RunConfig};
use loglynx_features::output::{self, escape_terminal, escape_terminal_lines, EventWriter, TableFormat};

const EXAMPLES: &str = "\
Examples:
  loglynx-features /var/log/auth.log -o features.parquet
  loglynx-features 'logs/*.log.gz' --year 2025 --window 15m -o features.csv
  zcat auth.log.gz | loglynx-features - --format syslog -o features.parquet
  loglynx-features events.jsonl --field-map fields.toml --events-out events.parquet
  loglynx-features logins.csv --column-map columns.toml --time-zone Europe/Berlin

Exit codes: 0 ok, 2 error (an input could not be read, an output not written,
or --strict found malformed lines). Inputs that fail are reported; the rest
are still processed and written.";

/// Turn raw security logs into per-entity, per-window behaviour features.
#[derive(Debug, Parser)]
#[command(
    name = "loglynx-features",
    version,
    about = "loglynx ingest and features: security log connectors, normalized events, per-entity behaviour features",
    after_help = EXAMPLES
)]
struct Cli {
    /// Input files, directories, globs, or `-` for stdin (gzip is detected).
    #[arg(required = true)]
    inputs: Vec<String>,

    /// Feature table to write.
    #[arg(short, long, default_value = "features.parquet")]
    output: PathBuf,

    /// Format of --output; default from its extension (.parquet, .csv, .ndjson).
    #[arg(long, value_parser = loglynx_cli::table_format())]
    output_format: Option<TableFormat>,

    /// Input format; default: detected per file.
    #[arg(long, value_parser = loglynx_cli::input_format())]
    format: Option<InputFormat>,

    /// Year of the first line of RFC 3164 syslog files (they carry none);
    /// default: inferred from each file's modification time.
    #[arg(long)]
    year: Option<i32>,

    /// Window length: seconds, or a number with s, m, h or d (`15m`, `1h`).
    #[arg(long, default_value = "1h", value_parser = loglynx_cli::parse_duration)]
    window: u64,

    /// Business hours, local time, as START-END (`8-18`).
    #[arg(long, default_value = "8-18")]
    business_hours: String,

    /// Business days, ISO numbers 1 (Monday) to 7, as a range or list (`1-5`, `1,2,3`).
    #[arg(long, default_value = "1-5")]
    business_days: String,

    /// IANA time zone of the business hours.
    #[arg(long, default_value = "UTC")]
    time_zone: String,

    /// TOML field map for JSON inputs that do not use ECS names.
    #[arg(long)]
    field_map: Option<PathBuf>,

    /// TOML column map for CSV inputs.
    #[arg(long)]
    column_map: Option<PathBuf>,

    /// Asset inventory CSV (`host,criticality,owner`).
    #[arg(long)]
    assets: Option<PathBuf>,

    /// Addresses and users whose events are left out of the features
    /// (TOML: `networks = [...]`, `users = [...]`; a vulnerability scanner,
    /// a monitoring account). Unlike loglynx-score's `--allowlist`, which
    /// keeps the events and drops only alerts.
    #[arg(long)]
    exclude: Option<PathBuf>,

    /// Also write the normalized events (.parquet, .csv or .ndjson).
    #[arg(long)]
    events_out: Option<PathBuf>,

    /// Also write the run summary (line and event counts, skipped lines by
    /// reason and program, timing) as JSON.
    #[arg(long)]
    summary_out: Option<PathBuf>,

    /// Treat malformed lines as an error (exit code 2).
    #[arg(long)]
    strict: bool,

    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,

    /// Accepted for a uniform CLI; feature extraction uses no randomness.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// No progress bar and no summary.
    #[arg(short, long)]
    quiet: bool,

    /// More diagnostics (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn parse_range(s: &str, what: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once('-') {
            let a: u32 = a.trim().parse().with_context(|| format!("{what} `{s}`"))?;
            let b: u32 = b.trim().parse().with_context(|| format!("{what} `{s}`"))?;
            if a > b {
                bail!("{what} `{s}`: range {a}-{b} is backwards");
            }
            out.extend(a..=b);
        } else {
            out.push(part.parse().with_context(|| format!("{what} `{s}`"))?);
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loglynx-features: error: {}", escape_terminal_lines(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let started = Instant::now();
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("--threads")?;
    }
    let output_format = TableFormat::resolve(cli.output_format, &cli.output, "use --output-format")?;
    let events_format = match &cli.events_out {
        Some(p) => Some(TableFormat::resolve(None, p, "name it .parquet, .csv or .ndjson")?),
        None => None,
    };
    let (start_hour, end_hour) = match parse_range(&cli.business_hours, "--business-hours")?.as_slice() {
        [a, .., b] => (*a, *b),
        _ => bail!("--business-hours `{}`: use START-END such as 8-18", cli.business_hours),
    };
    let features = FeatureConfig {
        window_secs: cli.window,
        business_hours: BusinessHours {
            start_hour,
            end_hour,
            days: parse_range(&cli.business_days, "--business-days")?,
            time_zone: cli.time_zone.clone(),
        },
        ..FeatureConfig::default()
    }
    .check()?;
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

    let (sources, input_errors) = input::discover(&cli.inputs);
    for e in &input_errors {
        eprintln!("loglynx-features: {}", escape_terminal(&e.to_string()));
    }
    if sources.is_empty() {
        bail!("no readable input");
    }
    let total_bytes: u64 = sources
        .iter()
        .filter_map(|s| match s {
            input::Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            input::Source::Stdin => None,
        })
        .sum();

    let bar = if cli.quiet {
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
        collect_events: events_format.is_some(),
        collect_compact: None,
        window_evidence: false,
    };
    let mut events_writer = match (&cli.events_out, events_format) {
        (Some(p), Some(f)) => {
            let mut w = EventWriter::create(p, f)?;
            w.set_files(sources.iter().map(|s| s.display()).collect());
            Some(w)
        }
        _ => None,
    };
    let progress = |n: u64| bar.inc(n);
    let result = pipeline::run(
        &sources,
        &cfg,
        |batch| match &mut events_writer {
            Some(w) => w.write(batch),
            None => Ok(()),
        },
        &progress,
    )?;
    bar.finish_and_clear();
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        rss_mib = loglynx_cli::rss_mib(),
        "read and aggregated"
    );

    let file_names = result.file_names();
    let result_files = result.files.clone();
    let mut failed = !input_errors.is_empty();
    for (name, err) in result.errors() {
        eprintln!("loglynx-features: {}: {}", escape_terminal(name), escape_terminal(err));
        failed = true;
    }
    let stats = result.stats.clone();
    let windows = result.aggregator.windows();
    // Rows are written in chunks while the aggregation state is freed; a
    // writer thread encodes one chunk while the next is computed.
    let mut writer = output::FeatureWriter::create(&cli.output, output_format)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<loglynx_features::aggregate::FeatureTable>(1);
    let aggregator = result.aggregator;
    let written: Result<u64> = std::thread::scope(|scope| {
        let handle = scope.spawn(move || -> Result<u64> {
            for chunk in rx {
                writer.write(&chunk)?;
            }
            let rows = writer.rows;
            writer.finish()?;
            Ok(rows)
        });
        // The process ends after the table is written.
        aggregator.finish_chunks(256 * 1024, SpentState::KeptUntilExit, |mut chunk| {
            if let Some(inv) = &assets {
                chunk.enrich_assets(inv);
            }
            // A send fails only when the writer stopped on an error, which
            // the join below reports.
            let _ = tx.send(chunk);
        });
        drop(tx);
        handle.join().expect("writer thread")
    });
    let rows = written?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), rows, "features written");
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
            "input_errors": input_errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "lines": stats.lines,
            "events": stats.events,
            "excluded": stats.excluded,
            "invalid_utf8": stats.invalid_utf8,
            "malformed": stats.malformed(),
            "unrecognized_share": stats.unrecognized_share(),
            "skipped": stats.skipped,
            "entity_windows": windows,
            "rows": rows,
            "output": cli.output,
            "events_out": cli.events_out,
            "seconds": elapsed,
        });
        let text = serde_json::to_string_pretty(&summary)?;
        output::write_atomic(path, text.as_bytes())?;
    }
    if !cli.quiet {
        let name = |f: u32| file_names.get(f as usize).cloned().unwrap_or_default();
        eprintln!(
            "loglynx-features: {} files, {} lines, {} events ({:.0} events/s), {} entity-windows → {}",
            file_names.len(),
            stats.lines,
            stats.events,
            stats.events as f64 / elapsed.max(1e-9),
            windows,
            cli.output.display()
        );
        if stats.excluded > 0 {
            eprintln!("  excluded events left out: {}", stats.excluded);
        }
        if let (Some(n), Some(p)) = (events_written, &cli.events_out) {
            eprintln!("  {n} normalized events → {}", p.display());
        }
        let skipped = stats.render(&name);
        if !skipped.is_empty() {
            eprintln!(
                "  lines without an event ({:.1}% of non-blank lines):\n{}",
                100.0 * stats.unrecognized_share(),
                skipped.trim_end()
            );
        }
        eprintln!("  took {elapsed:.2} s");
    }
    if cli.strict && stats.malformed() > 0 {
        eprintln!("loglynx-features: --strict: {} malformed lines", stats.malformed());
        return Ok(ExitCode::from(2));
    }
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("1-5", "x").unwrap(), vec![1, 2, 3, 4, 5]);
        assert_eq!(parse_range("1,3,7", "x").unwrap(), vec![1, 3, 7]);
        assert!(parse_range("5-1", "x").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
