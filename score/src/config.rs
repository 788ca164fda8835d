//! [`ScoreConfig`]: the flags of `loglynx-score`.

use std::path::PathBuf;

use clap::Args;

use loglynx_features::ingest::input::InputFormat;
use loglynx_features::output::TableFormat;
use loglynx_rules::Severity;

/// The formats of the alerts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlertsFormat {
    Parquet,
    Csv,
    Ndjson,
    /// Elasticsearch/OpenSearch `_bulk` NDJSON.
    EsBulk,
}

impl AlertsFormat {
    /// The table format, `None` for `es-bulk`.
    pub fn table(self) -> Option<TableFormat> {
        match self {
            AlertsFormat::Parquet => Some(TableFormat::Parquet),
            AlertsFormat::Csv => Some(TableFormat::Csv),
            AlertsFormat::Ndjson => Some(TableFormat::Ndjson),
            AlertsFormat::EsBulk => None,
        }
    }
}

/// What `loglynx-score` is asked to do: its flags.
#[derive(Debug, Clone, Args)]
pub struct ScoreConfig {
    /// Logs (files, directories, globs, `-` for stdin) or feature tables
    /// (.parquet; .csv with an `entity_kind` column or with --id-column).
    #[arg(required_unless_present_any = ["from_es", "send_alerts"])]
    pub inputs: Vec<String>,

    /// Baseline from loglynx-train; without it a baseline is fitted on the input itself.
    #[arg(long)]
    pub model: Option<PathBuf>,

    /// How alerts name the model (`model_version`), when not by the path of
    /// `--model`: a library caller that wrote the bundle to a temporary file
    /// names where it came from.
    #[arg(skip)]
    pub model_name: Option<String>,

    /// Alerts file: .ndjson (default), .csv or .parquet.
    #[arg(short, long, default_value = "alerts.ndjson")]
    pub output: PathBuf,

    /// Also send the alerts to this Elasticsearch or OpenSearch cluster
    /// (`https://host:9200`), after the alerts file is written: `_bulk` in
    /// batches, each alert's fingerprint its document id (a re-run
    /// updates). Credentials from --es-credentials or LOGLYNX_ES_API_KEY,
    /// or LOGLYNX_ES_USERNAME and LOGLYNX_ES_PASSWORD.
    #[arg(long, value_name = "URL")]
    pub to_es: Option<String>,

    /// Index the alerts go to with --to-es (an index template for it is
    /// created when absent).
    #[arg(long, value_name = "NAME", default_value = "loglynx-alerts")]
    pub alerts_index: String,

    /// Also send every entity-window's scores to this index with --to-es,
    /// read back from --scores-out (which must then be .ndjson); each
    /// row's id is a hash of its entity kind, entity and window start, so a
    /// re-run updates instead of adding copies.
    #[arg(long, value_name = "NAME", requires_all = ["to_es", "scores_out"])]
    pub scores_index: Option<String>,

    /// Alerts per `_bulk` request.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub es_batch: usize,

    #[command(flatten)]
    pub es_connection: loglynx_cli::es::EsConnectionArgs,

    #[command(flatten)]
    pub es: loglynx_cli::es::EsSourceArgs,

    /// Format of --output; default from its extension. `es-bulk` writes
    /// the `_bulk` NDJSON of the alerts for --alerts-index, to load later.
    #[arg(long, value_enum)]
    pub output_format: Option<AlertsFormat>,

    /// Send the alerts of an earlier run's NDJSON alerts file to --to-es
    /// and stop (for a run whose cluster failed: its alerts file is kept).
    #[arg(long, value_name = "FILE", requires = "to_es")]
    pub send_alerts: Option<PathBuf>,

    /// Every entity-window's scores (.parquet, .csv or .ndjson); explanations
    /// for anomalous windows and public sources near the threshold.
    #[arg(long)]
    pub scores_out: Option<PathBuf>,

    /// A report for people: .html (one self-contained page: summary,
    /// alerts with evidence, timeline, top entities, score distribution,
    /// roll-ups) or .md (a Markdown summary for tickets and chat).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Analysts' verdicts on earlier alerts (.csv or .ndjson, the columns
    /// of --verdict-template): alerts matching a false_positive or
    /// benign_true_positive verdict's entity and rules are left out and
    /// counted per verdict.
    #[arg(long, value_name = "FILE")]
    pub feedback: Option<PathBuf>,

    /// With a model holding the verdicts' re-ranker (`loglynx-train
    /// --feedback … --alerts …`): alerts whose probability of being a true
    /// positive is below this, and that share a rule with an alert judged
    /// false, are demoted to LOW and listed last, with the reason; 0 only
    /// re-orders.
    #[arg(long, value_name = "P", default_value_t = loglynx_baseline::rerank::DEFAULT_DEMOTE_BELOW, value_parser = probability)]
    pub demote_below: f64,

    /// Write a verdicts file to fill in (.csv): one row per alert with its
    /// id, entity and rules, the verdict left empty.
    #[arg(long, value_name = "FILE")]
    pub verdict_template: Option<PathBuf>,

    /// Directory of rule files (.toml) that add to or override the built-in rules by id.
    #[arg(long)]
    pub rules: Option<PathBuf>,

    /// Exit with code 1 when an alert of this severity or higher is raised.
    #[arg(long, value_parser = clap::value_parser!(Severity))]
    pub fail_on: Option<Severity>,

    /// Drop alerts below this severity.
    #[arg(long, default_value = "low", value_parser = clap::value_parser!(Severity))]
    pub min_severity: Severity,

    /// The organisation's hosts and their addresses (CSV with a header row
    /// naming `host` and `address`): lateral-movement chains link a host to
    /// logins from its address.
    #[arg(long, value_name = "CSV")]
    pub assets: Option<PathBuf>,

    /// Addresses and users whose alerts are dropped (TOML: `networks =
    /// [...]`, `users = [...]`); their events still count. `loglynx-features
    /// --exclude` leaves events out instead.
    #[arg(long)]
    pub allowlist: Option<PathBuf>,

    /// Detections of one entity closer than this merge into one alert (s, m, h, d).
    #[arg(long, default_value = "1h", value_parser = loglynx_cli::parse_duration)]
    pub suppression: u64,

    /// Alerts of internet background noise (brute force or enumeration from
    /// an external source that never logged in, against one host, at most
    /// MEDIUM) needed on one host and period to roll them up into one alert
    /// listing every source; 0 keeps every alert on its own.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub rollup_min_sources: usize,

    /// Period of one roll-up per host (s, m, h, d; from midnight UTC);
    /// default: one roll-up per host for the whole input.
    #[arg(long, value_parser = loglynx_cli::parse_duration, value_name = "DURATION")]
    pub rollup_period: Option<u64>,

    /// Raw log lines of evidence per alert.
    #[arg(long, default_value_t = 5)]
    pub evidence: usize,

    /// Alerts the model may raise on its own per 1,000 entity-days, as
    /// replaying the baseline would give (default: the model's, else 0.2).
    /// The thresholds of accumulated anomaly evidence follow from it.
    #[arg(long, value_name = "ALERTS")]
    pub alert_budget: Option<f64>,

    /// Campaign labels from loglynx-gen: report detection and false alerts
    /// against them and against a naive threshold detector.
    #[arg(long)]
    pub labels: Option<PathBuf>,

    /// Write the --labels evaluation as JSON here.
    #[arg(long)]
    pub eval_out: Option<PathBuf>,

    /// Id column of a generic numeric feature table (the one the model was
    /// trained on with `loglynx-train --id-column`).
    #[arg(long)]
    pub id_column: Option<String>,

    /// Input format (default: detected per file).
    #[arg(long, value_parser = loglynx_cli::input_format())]
    pub format: Option<InputFormat>,

    /// Year of the first line of RFC 3164 files (default: from file times).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=9999))]
    pub year: Option<i32>,

    /// Window length in seconds (default 3600). A model brings its own: a
    /// different value is refused.
    #[arg(long)]
    pub window_secs: Option<u64>,

    /// IANA time zone of business hours (8–18, Monday–Friday; default UTC).
    /// A model brings its own: a different zone is refused.
    #[arg(long)]
    pub time_zone: Option<String>,

    /// With `--model`: how far an input may run back in time. A window is
    /// scored and its memory freed once the input is this far past its end;
    /// an event in a window already scored is late, counted and left out of
    /// the features (the rules still read it).
    #[arg(long, default_value = "5m", value_parser = loglynx_cli::parse_duration)]
    pub allowed_lateness: u64,

    /// Without `--model`: rows per entity kind sampled from the input to fit
    /// the baseline on (an input with fewer is fitted on all of its rows).
    /// The input is read once; every row is spooled to a compressed
    /// temporary file (in TMPDIR) and scored after the fit.
    #[arg(long, default_value_t = loglynx_baseline::sample::DEFAULT_FIT_SAMPLE)]
    pub fit_sample: usize,

    /// How long an entity's partners are remembered for the `new_*`
    /// features (default 30d; 0 for the whole input). A model brings its
    /// own: a different value is refused.
    #[arg(long, value_parser = loglynx_cli::parse_duration)]
    pub novelty_horizon: Option<u64>,

    /// Seed of the baseline fitted when no model is given.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Alerts shown in the terminal summary.
    #[arg(long, default_value_t = 15)]
    pub show: usize,
}

/// A probability, 0 to 1.
fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a probability between 0 and 1")),
    }
}
