//! Fits the isolation forest on a train matrix and scores a test matrix once
//! per seed, for `bench/iforest_parity.py` (parity and speed against
//! scikit-learn).
//!
//! A matrix `NAME.f64` is raw little-endian f64, row-major, with its shape in
//! `NAME.json`: `{"rows": R, "cols": C}`. For each seed one JSON line goes to
//! stdout: `{"seed", "threads", "rows", "cols", "fit_s", "score_s",
//! "scores_path"}`; with `--out-dir` the scores are written there as raw f64 LE
//! (`scores_seed{S}.f64`), otherwise `scores_path` is null. Times cover `fit`
//! and `score` only, not file I/O.
//!
//! ```text
//! cargo run --release -p loglynx-models --example iforest_parity -- \
//!     --train X.f64 [--test Y.f64] [--seeds 0,1,2] [--trees 100] \
//!     [--subsample 256] [--threads N] [--out-dir DIR]
//! ```
//!
//! `--test` defaults to the train matrix; `--threads` defaults to rayon's
//! default (one per core).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use loglynx_models::ndarray::Array2;
use loglynx_models::IsolationForestParams;

struct Args {
    train: PathBuf,
    test: Option<PathBuf>,
    seeds: Vec<u64>,
    trees: usize,
    subsample: usize,
    threads: Option<usize>,
    out_dir: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        train: PathBuf::new(),
        test: None,
        seeds: vec![0],
        trees: 100,
        subsample: 256,
        threads: None,
        out_dir: None,
    };
    let mut train = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--train" => train = Some(PathBuf::from(value()?)),
            "--test" => args.test = Some(PathBuf::from(value()?)),
            "--seeds" => {
                args.seeds = value()?
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--seeds {s:?}: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--trees" => args.trees = value()?.parse().map_err(|e| format!("--trees: {e}"))?,
            "--subsample" => args.subsample = value()?.parse().map_err(|e| format!("--subsample: {e}"))?,
            "--threads" => args.threads = Some(value()?.parse().map_err(|e| format!("--threads: {e}"))?),
            "--out-dir" => args.out_dir = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    args.train = train.ok_or("--train is required")?;
    Ok(args)
}

/// Reads `path` (raw f64 LE, row-major) with its shape from the `.json` sidecar.
fn read_matrix(path: &Path) -> Result<Array2<f64>, String> {
    let sidecar = path.with_extension("json");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sidecar).map_err(|e| format!("{}: {e}", sidecar.display()))?)
            .map_err(|e| format!("{}: {e}", sidecar.display()))?;
    let dim = |k: &str| {
        meta[k]
            .as_u64()
            .map(|v| v as usize)
            .ok_or_else(|| format!("{}: missing {k:?}", sidecar.display()))
    };
    let (rows, cols) = (dim("rows")?, dim("cols")?);
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() != rows * cols * 8 {
        return Err(format!(
            "{}: {} bytes, expected {rows} x {cols} x 8",
            path.display(),
            bytes.len()
        ));
    }
    let data = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    Array2::from_shape_vec((rows, cols), data).map_err(|e| e.to_string())
}

fn run(args: &Args) -> Result<(), String> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| e.to_string())?;
    }
    let train = read_matrix(&args.train)?;
    let test = match &args.test {
        Some(p) => Some(read_matrix(p)?),
        None => None,
    };
    let test = test.as_ref().unwrap_or(&train);
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    for &seed in &args.seeds {
        let params = IsolationForestParams::new()
            .n_trees(args.trees)
            .subsample(args.subsample)
            .seed(seed);
        let t = Instant::now();
        let model = params.fit(train.view()).map_err(|e| e.to_string())?;
        let fit_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let scores = model.score(test.view()).map_err(|e| e.to_string())?;
        let score_s = t.elapsed().as_secs_f64();
        let scores_path = match &args.out_dir {
            Some(dir) => {
                let p = dir.join(format!("scores_seed{seed}.f64"));
                let bytes: Vec<u8> = scores.iter().flat_map(|v| v.to_le_bytes()).collect();
                std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
                Some(p.display().to_string())
            }
            None => None,
        };
        let line = serde_json::json!({
            "seed": seed,
            "threads": rayon::current_num_threads(),
            "rows": test.nrows(),
            "cols": test.ncols(),
            "fit_s": fit_s,
            "score_s": score_s,
            "scores_path": scores_path,
        });
        println!("{line}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!(
                "usage: iforest_parity --train X.f64 [--test Y.f64] [--seeds 0,1,..] [--trees N] \
                 [--subsample N] [--threads N] [--out-dir DIR]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
