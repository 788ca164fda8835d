//! `loglynx-bench`: end-to-end throughput and peak memory of the loglynx
//! binaries on generated data of realistic size. Build everything in release
//! first (`cargo build --release --workspace`); the figures go to
//! BENCHMARKS.md with the exact command.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;

/// Measure loglynx stages on generated logs: wall time, events per second, peak RSS.
#[derive(Debug, Parser)]
#[command(
    name = "loglynx-bench",
    after_help = "Example:\n  cargo build --release --workspace\n  ./target/release/loglynx-bench --events 10000000 --runs 3"
)]
struct Cli {
    /// Events to generate.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where generated data and outputs are kept (reused across runs).
    #[arg(long, default_value = "target/bench-data")]
    data_dir: PathBuf,
    /// Timed runs of each stage (the best and the median are reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Input form to generate and read.
    #[arg(long, default_value = "syslog")]
    format: String,
    /// Stages to measure: features; score (the whole run: parse, features,
    /// baseline fitted on the input, scoring, rules, alerts); train (a
    /// bundle from the log); score-model (the whole run against that bundle).
    #[arg(long, default_value = "features,score", value_delimiter = ',')]
    stages: Vec<String>,
}

struct Measured {
    seconds: f64,
    max_rss_kib: i64,
}

/// Runs a command to completion and reads its peak RSS from wait4's rusage.
fn measure(cmd: &mut Command) -> Result<Measured> {
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("spawn {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter for wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child; status and usage point to live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = start.elapsed().as_secs_f64();
    if rc != pid {
        bail!("wait4 failed for {cmd:?}");
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{cmd:?} failed with status {status}");
    }
    std::mem::forget(child);
    Ok(Measured {
        seconds,
        max_rss_kib: usage.ru_maxrss,
    })
}

fn release_bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("bench binary has no directory")?;
    let p = dir.join(name);
    if !p.exists() {
        bail!(
            "{} not found: run `cargo build --release --workspace` first",
            p.display()
        );
    }
    Ok(p)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loglynx-bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    std::fs::create_dir_all(&cli.data_dir)?;
    let ext = match cli.format.as_str() {
        "syslog" => "log",
        "json" => "jsonl",
        "csv" => "csv",
        other => bail!("unknown format {other}"),
    };
    let log = cli.data_dir.join(format!("gen-{}-seed{}.{ext}", cli.events, cli.seed));
    if !log.exists() {
        eprintln!("generating {} ...", log.display());
        let m = measure(
            Command::new(release_bin("loglynx-gen")?)
                .args(["--events", &cli.events.to_string(), "--seed", &cli.seed.to_string()])
                .args(["--format", &cli.format, "--quiet", "-o"])
                .arg(&log)
                .arg("--labels")
                .arg(log.with_extension("labels.jsonl")),
        )?;
        eprintln!(
            "generated in {:.1} s (peak RSS {} MiB)",
            m.seconds,
            m.max_rss_kib / 1024
        );
    }
    let bytes = std::fs::metadata(&log)?.len();
    let summary = cli.data_dir.join("features-summary.json");
    // The event count comes from a features run's summary.
    measure(
        Command::new(release_bin("loglynx-features")?)
            .arg(&log)
            .args(["--year", "2026", "--quiet", "-o"])
            .arg(cli.data_dir.join("features.parquet"))
            .arg("--summary-out")
            .arg(&summary),
    )?;
    let events = read_events(&summary)?;
    // `train` fits on the benchmark log itself; `score-model` scores it against that bundle.
    let model = cli.data_dir.join(format!("model-{}-seed{}.llx", cli.events, cli.seed));
    let train = || -> Result<Command> {
        let mut c = Command::new(release_bin("loglynx-train")?);
        c.arg(&log).args(["--year", "2026", "--quiet", "-o"]).arg(&model);
        Ok(c)
    };
    println!("| stage | input | events | MB | best s | median s | events/s (best) | MB/s (best) | peak RSS MiB |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for stage in &cli.stages {
        let mut times = Vec::new();
        let mut rss = 0;
        for _ in 0..cli.runs.max(1) {
            let mut cmd = match stage.as_str() {
                "features" => {
                    let mut c = Command::new(release_bin("loglynx-features")?);
                    c.arg(&log)
                        .args(["--year", "2026", "--quiet", "-o"])
                        .arg(cli.data_dir.join("features.parquet"));
                    c
                }
                "score" => {
                    let mut c = Command::new(release_bin("loglynx-score")?);
                    c.arg(&log)
                        .args(["--year", "2026", "--quiet", "-o"])
                        .arg(cli.data_dir.join("alerts.ndjson"));
                    c
                }
                "train" => train()?,
                "score-model" => {
                    if !model.exists() {
                        eprintln!("training {} for score-model ...", model.display());
                        measure(&mut train()?)?;
                    }
                    let mut c = Command::new(release_bin("loglynx-score")?);
                    c.arg(&log)
                        .arg("--model")
                        .arg(&model)
                        .args(["--year", "2026", "--quiet", "-o"])
                        .arg(cli.data_dir.join("alerts-model.ndjson"));
                    c
                }
                other => bail!("unknown stage {other}: use features, score, train or score-model"),
            };
            let m = measure(&mut cmd)?;
            times.push(m.seconds);
            rss = rss.max(m.max_rss_kib);
        }
        times.sort_by(f64::total_cmp);
        let best = times[0];
        let median = times[times.len() / 2];
        println!(
            "| loglynx-{stage} | {} ({}) | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.0} | {} |",
            log.file_name().unwrap().to_string_lossy(),
            cli.format,
            events,
            bytes as f64 / 1e6,
            best,
            median,
            events as f64 / best,
            bytes as f64 / 1e6 / best,
            rss / 1024
        );
    }
    Ok(())
}

fn read_events(summary: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(summary)?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    v["events"].as_u64().context("summary has no events count")
}
