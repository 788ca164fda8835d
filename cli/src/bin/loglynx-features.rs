//! `loglynx-features`: raw security logs in, per-entity behaviour features
//! out. Flags become a [`FeaturesConfig`]; [`features::run`] does the work.

use std::process::ExitCode;

use clap::Parser;

use loglynx_cli::features::{self, FeaturesConfig, FeaturesOutcome};
use loglynx_cli::Verbosity;
use loglynx_features::output::{escape_terminal, escape_terminal_lines};

const EXAMPLES: &str = "\
Examples:
  loglynx-features /var/log/auth.log -o features.parquet
  loglynx-features 'logs/*.log.gz' --year 2025 --window 15m -o features.csv
  zcat auth.log.gz | loglynx-features - --format syslog -o features.parquet
  loglynx-features events.jsonl --field-map fields.toml --events-out events.parquet
  loglynx-features logins.csv --column-map columns.toml --time-zone Europe/Berlin
  loglynx-gen --events 100000000 -o - | loglynx-features - --allowed-lateness 10m -o features.parquet

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
    #[command(flatten)]
    features: FeaturesConfig,

    #[command(flatten)]
    verbosity: Verbosity,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.verbosity.init_tracing();
    let outcome = match features::run(&cli.features, cli.verbosity.quiet) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("loglynx-features: error: {}", escape_terminal_lines(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    for unread in &outcome.unread {
        eprintln!("loglynx-features: {}", escape_terminal(unread));
    }
    if !cli.verbosity.quiet {
        summary(&cli.features, &outcome);
    }
    let stats = &outcome.stats;
    if cli.features.strict && stats.malformed() > 0 {
        eprintln!("loglynx-features: --strict: {} malformed lines", stats.malformed());
        return ExitCode::from(2);
    }
    if outcome.unread.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn summary(config: &FeaturesConfig, o: &FeaturesOutcome) {
    let stats = &o.stats;
    let name = |f: u32| o.file_names.get(f as usize).cloned().unwrap_or_default();
    eprintln!(
        "loglynx-features: {} files, {} lines, {} events ({:.0} events/s), {} entity-windows → {}",
        o.file_names.len(),
        stats.lines,
        stats.events,
        stats.events as f64 / o.seconds.max(1e-9),
        o.windows,
        config.output.display()
    );
    if stats.excluded > 0 {
        eprintln!("  excluded events left out: {}", stats.excluded);
    }
    if o.late_events > 0 {
        eprintln!(
            "  late events left out: {} (their window had been written; see --allowed-lateness)",
            o.late_events
        );
    }
    if let (Some(n), Some(p)) = (o.events_written, &config.events_out) {
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
    eprintln!("  took {:.2} s", o.seconds);
}

#[test]
fn cli_is_well_formed() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}
