//! Pieces shared by the loglynx binaries' command lines: diagnostics,
//! progress, durations and the parsers of format flags. The libraries do not
//! depend on clap, indicatif or tracing-subscriber; this crate does.

mod alloc;
pub mod es;
pub mod features;
pub mod progress;

use std::io::IsTerminal;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loglynx_features::ingest::input::InputFormat;
use loglynx_features::output::TableFormat;

pub use loglynx_features::mem::rss_mib;
pub use loglynx_features::time::{parse_duration, DurationError};

/// `--quiet` and `-v`, shared by the binaries.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Verbosity {
    /// No progress bar and no summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// More diagnostics (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

impl Verbosity {
    /// Starts diagnostics at this level (see [`init_tracing`]).
    pub fn init_tracing(self) {
        init_tracing(self.verbose, self.quiet);
    }
}

/// Diagnostics on stderr: `--quiet` shows errors only, `-v` info, `-vv`
/// debug; the `LOGLYNX_LOG` environment variable (an `EnvFilter`) wins.
pub fn init_tracing(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOGLYNX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// A spinner with a message and the elapsed time on stderr; hidden with
/// `--quiet` or when stderr is not a terminal.
pub fn spinner(quiet: bool, msg: &'static str) -> ProgressBar {
    progress::stage(msg, 0);
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
    bar.set_message(msg);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// The `--format` value parser: `syslog`, `json`, `csv`, `journald` or
/// `audit`, each with its description in `--help`.
pub fn input_format() -> impl TypedValueParser<Value = InputFormat> {
    let values = InputFormat::ALL.map(|f| PossibleValue::new(f.as_str()).help(f.description()));
    PossibleValuesParser::new(values).map(|s| {
        let found = InputFormat::ALL.into_iter().find(|f| f.as_str() == s);
        found.expect("clap accepts only the listed values")
    })
}

/// The `--output-format` value parser: `parquet`, `csv` or `ndjson`.
pub fn table_format() -> impl TypedValueParser<Value = TableFormat> {
    PossibleValuesParser::new(TableFormat::ALL.map(|f| f.as_str())).map(|s| {
        let found = TableFormat::ALL.into_iter().find(|f| f.as_str() == s);
        found.expect("clap accepts only the listed values")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Flags {
        #[arg(long, value_parser = input_format())]
        format: Option<InputFormat>,
        #[arg(long, value_parser = table_format())]
        output_format: Option<TableFormat>,
        #[arg(long, value_parser = parse_duration)]
        window: Option<u64>,
    }

    #[test]
    fn format_flags() {
        use clap::Parser;
        for f in InputFormat::ALL {
            let flags = Flags::try_parse_from(["x", "--format", f.as_str()]).unwrap();
            assert_eq!(flags.format, Some(f));
        }
        for f in TableFormat::ALL {
            let flags = Flags::try_parse_from(["x", "--output-format", f.as_str()]).unwrap();
            assert_eq!(flags.output_format, Some(f));
        }
        assert!(Flags::try_parse_from(["x", "--format", "xml"]).is_err());
        assert!(Flags::try_parse_from(["x", "--output-format", "Csv"]).is_err());
        let flags = Flags::try_parse_from(["x", "--window", "15m"]).unwrap();
        assert_eq!(flags.window, Some(900));
        let err = Flags::try_parse_from(["x", "--window", "1w"]).unwrap_err().to_string();
        assert!(err.contains("`1w`: unit must be s, m, h or d"), "{err}");
    }
}
