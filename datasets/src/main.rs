//! `loglynx-gen`: writes realistic, labelled authentication logs.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::NaiveDate;
use clap::Parser;
use loglynx_datasets::{generate_to_path, write_assets_file, GeneratorConfig, OutputFormat};

const EXAMPLES: &str = "\
Examples:
  loglynx-gen --events 20000 --days 7 -o auth.log --labels auth.labels.jsonl
  loglynx-gen --events 1000000 --format json -o events.jsonl.gz
  loglynx-gen --no-attacks --days 14 -o baseline.log      (quiet training period)
  loglynx-gen --events 50000 --format csv -o - | head
  loglynx-gen --seed 7 --users 40 --hosts 25 --start 2026-01-05 -o small.log
  loglynx-gen --stealthy --events 50000 -o eval.log --labels eval.labels.jsonl --assets-out assets.csv
  loglynx-gen --stealthy --no-attacks --days 14 -o baseline.log   (quiet period with the routine look-alikes)
  loglynx-gen --stealthy --lookalikes --events 200000 -o eval.log --labels eval.labels.jsonl --assets-out assets.csv
  loglynx-gen --events 100000000 --scan-share 0.8 -o - | loglynx-features - --year 2026 -o f.parquet   (high cardinality, streamed)

The same arguments and seed always give byte-identical output.";

/// Generate realistic, labelled authentication logs (sshd, sudo, cron,
/// useradd) of a simulated organisation, with attack campaigns and
/// harmless noise, deterministically from a seed.
#[derive(Debug, Parser)]
#[command(name = "loglynx-gen", version, about, after_help = EXAMPLES)]
struct Cli {
    /// Approximate number of events to generate.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    events: u64,
    /// Length of the period in days [default: from --events, 7 to 60].
    #[arg(long, value_name = "D")]
    days: Option<u32>,
    /// First day of the period (00:00 UTC).
    #[arg(long, default_value = "2026-03-02", value_name = "YYYY-MM-DD", value_parser = parse_date)]
    start: NaiveDate,
    /// Random seed.
    #[arg(long, default_value_t = 42, value_name = "S")]
    seed: u64,
    /// Number of people [default: scales with events per day].
    #[arg(long, value_name = "N")]
    users: Option<usize>,
    /// Number of hosts, servers and workstations [default: scales with events per day].
    #[arg(long, value_name = "N")]
    hosts: Option<usize>,
    /// No attack campaigns: a quiet baseline period (scanners and benign noise remain).
    #[arg(long)]
    no_attacks: bool,
    /// Also place stealthy attacks built to stay under every per-source rule
    /// threshold (slow spray, credential stuffing, dormant account, lateral
    /// movement, stolen key, concurrent use) and three routine look-alikes
    /// (weekly credential audit, travel, admin hops); with --no-attacks only
    /// the look-alikes. Without it the output is unchanged.
    #[arg(long)]
    stealthy: bool,
    /// Also place three routine patterns that do alert: the security team's
    /// vulnerability scan from 10.0.6.251 (default-credential names on many
    /// servers), an administrator's password rotation (bursts of password
    /// changes) and a new administrator's first week (a new account in the
    /// sudo group, new hosts, first sudo); also with --no-attacks. Without it
    /// the output is unchanged.
    #[arg(long)]
    lookalikes: bool,
    /// Share (0–1) of the background that is not cron made by internet
    /// scanners, each address used once [default: 0.22]; 0.8 makes a
    /// high-cardinality log (about 6 entity-windows per 10 events)
    /// for memory benchmarks.
    #[arg(long, value_name = "SHARE", value_parser = share)]
    scan_share: Option<f64>,
    /// Also write the organisation's hosts as CSV (`host,address,role`) to this file.
    #[arg(long, value_name = "PATH")]
    assets_out: Option<PathBuf>,
    /// Output format [default: from the output file name, else syslog].
    #[arg(long, value_enum)]
    format: Option<OutputFormat>,
    /// Output file; `-` is standard output, a `.gz` name is gzip-compressed.
    #[arg(short, long, default_value = "-", value_name = "PATH")]
    output: PathBuf,
    /// Also write the campaign labels as JSON lines to this file.
    #[arg(long, value_name = "PATH")]
    labels: Option<PathBuf>,
    /// The organisation's time zone, hours east of UTC (office hours are local).
    #[arg(long, default_value_t = 1, value_name = "HOURS", allow_negative_numbers = true)]
    utc_offset: i32,
    /// No summary on standard error.
    #[arg(short, long)]
    quiet: bool,
}

fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a share between 0 and 1")),
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| format!("expected YYYY-MM-DD: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = GeneratorConfig {
        events: cli.events,
        days: cli.days,
        start: cli.start,
        seed: cli.seed,
        users: cli.users,
        hosts: cli.hosts,
        attacks: !cli.no_attacks,
        utc_offset_hours: cli.utc_offset,
        stealthy: cli.stealthy,
        lookalikes: cli.lookalikes,
        scan_share: cli.scan_share,
    };
    let format = cli.format.unwrap_or_else(|| OutputFormat::from_path(&cli.output));
    let began = Instant::now();
    let result = generate_to_path(&cfg, format, &cli.output, cli.labels.as_deref()).and_then(|s| {
        if let Some(path) = &cli.assets_out {
            write_assets_file(&cfg, path)
                .map_err(|e| io::Error::new(e.kind(), format!("assets file {}: {e}", path.display())))?;
        }
        Ok(s)
    });
    match result {
        Ok(s) => {
            if !cli.quiet {
                let labels = cli
                    .labels
                    .as_ref()
                    .map(|p| format!(", labels in {}", p.display()))
                    .unwrap_or_default();
                eprintln!(
                    "loglynx-gen: {} events ({} {} lines) over {} days, {} attack campaigns, {} benign patterns -> {}{} in {:.1}s",
                    s.events,
                    s.lines,
                    format.as_str(),
                    s.days,
                    s.campaigns(),
                    s.benign_patterns(),
                    cli.output.display(),
                    labels,
                    began.elapsed().as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        // A closed pipe (`| head`) is not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loglynx-gen: error: {e}");
            ExitCode::from(2)
        }
    }
}
