//! `loglynx-train`: fit isolation-forest and k-means baselines on behaviour
//! features (or raw logs) and save them as a checksummed baseline with a
//! model card. Flags become a [`TrainConfig`]; [`loglynx_train::run`] does
//! the work.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use loglynx_baseline::Baseline;
use loglynx_cli::Verbosity;
use loglynx_features::output::{escape_terminal_lines, write_atomic};
use loglynx_train::eval_sequences::{self, SequenceArgs};
use loglynx_train::{evaluate, TrainConfig};

const EXAMPLES: &str = "\
Examples:
  loglynx-train features.parquet -o baseline.llx
  loglynx-train /var/log/auth.log.1 /var/log/auth.log.2.gz --year 2025 -o baseline.llx
  loglynx-train quiet-week.log --time-zone Europe/Berlin -o baseline.llx   # scoring uses Berlin hours too
  loglynx-train quiet-week.log -o baseline.llx --eval-input attack-week.log --eval labels.jsonl
  loglynx-train quiet-week.log --feedback verdicts.csv --alerts alerts.ndjson -o baseline.llx   # + the verdicts' re-ranker
  loglynx-train sessions.csv --id-column session -o sessions.llx --no-kmeans
  loglynx-train baseline.parquet --config train.toml -o baseline.llx
  loglynx-train inspect baseline.llx
  loglynx-train eval-sequences --train hadoop_train --test-normal hadoop_test_normal --test-abnormal hadoop_test_abnormal

Inputs ending in .parquet, and .csv files with an entity_kind column (or with
--id-column), are feature tables; anything else is read as raw logs and goes
through the features stage in-process.

Exit codes: 0 ok, 2 error.";

/// Fit isolation-forest and k-means baselines and save them with a model card.
#[derive(Debug, Parser)]
#[command(name = "loglynx-train", version, about, after_help = EXAMPLES, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    train: TrainConfig,

    #[command(flatten)]
    verbosity: Verbosity,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the model card of a baseline (and check the file).
    Inspect {
        /// The baseline file.
        model: PathBuf,
        /// Print the card as JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate on labelled session sequences (`id,event event …` lines):
    /// train on normal sessions, score normal and abnormal test sessions.
    EvalSequences(SequenceArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.verbosity.init_tracing();
    let result = match cli.command {
        Some(Command::Inspect { model, json }) => inspect(&model, json),
        Some(Command::EvalSequences(args)) => sequences(&args, cli.verbosity.quiet),
        None => train(cli.train, cli.verbosity.quiet),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loglynx-train: error: {}", escape_terminal_lines(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn inspect(model: &Path, json: bool) -> Result<()> {
    let baseline = Baseline::load(model).with_context(|| format!("cannot load model {}", model.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&baseline.model_card())?);
    } else {
        print!("{}", baseline.model_card_markdown());
    }
    Ok(())
}

fn train(config: TrainConfig, quiet: bool) -> Result<()> {
    let started = Instant::now();
    let config = config.with_config_file()?;
    let outcome = loglynx_train::run(&config, quiet)?;
    if let Some(report) = &outcome.evaluation {
        print!("{}", evaluate::render(report));
    }
    if quiet {
        return Ok(());
    }
    eprint!("{}", outcome.summary(&config.output, started.elapsed().as_secs_f64()));
    Ok(())
}

fn sequences(args: &SequenceArgs, quiet: bool) -> Result<()> {
    let report = eval_sequences::run(args)?;
    if !quiet {
        eprintln!(
            "train {} sessions ({} event types), test {} normal + {} abnormal",
            report.train_sessions, report.event_types, report.normal, report.abnormal
        );
    }
    print!("{}", report.render());
    if let Some(p) = &args.output {
        write_atomic(p, serde_json::to_string_pretty(&report.runs)?.as_bytes())?;
    }
    Ok(())
}

#[test]
fn cli_is_well_formed() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}
