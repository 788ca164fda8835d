//! Times isolation forest fit (100 trees, ψ = 256) and scoring on generated
//! data (1,000,000 × 12 by default), on a rayon pool of 2 threads.
//!
//! `cargo run --release -p loglynx-models --example iforest_bench [-- ROWS THREADS]`

use std::time::Instant;

use loglynx_models::ndarray::Array2;
use loglynx_models::IsolationForestParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().map_or(1_000_000, |a| a.parse().expect("ROWS"));
    let threads: usize = args.next().map_or(2, |a| a.parse().expect("THREADS"));
    let cols = 12;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("rayon pool");

    let t = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    // Count-like, ratio-like and continuous columns.
    let x = Array2::from_shape_fn((rows, cols), |(_, j)| match j % 3 {
        0 => (rng.gen::<f64>() * 20.0).floor(),
        1 => rng.gen::<f64>(),
        _ => -(1.0 - rng.gen::<f64>()).ln() * 60.0,
    });
    println!("generate {rows} x {cols}: {:.3} s", t.elapsed().as_secs_f64());

    let params = IsolationForestParams::new().n_trees(100).subsample(256).seed(1);
    let t = Instant::now();
    let model = params.fit(x.view()).expect("fit");
    let fit_s = t.elapsed().as_secs_f64();
    println!(
        "fit ({} trees, psi {}, {} nodes): {:.3} s",
        model.n_trees(),
        model.psi(),
        model.n_nodes(),
        fit_s
    );

    let t = Instant::now();
    let scores = model.score(x.view()).expect("score");
    let score_s = t.elapsed().as_secs_f64();
    println!(
        "score {rows} rows: {score_s:.3} s ({:.2} M rows/s) on {threads} threads",
        rows as f64 / score_s / 1e6
    );
    let mean = scores.sum() / rows as f64;
    let max = scores.iter().cloned().fold(f64::MIN, f64::max);
    println!("mean score {mean:.4}, max {max:.4}");
}
