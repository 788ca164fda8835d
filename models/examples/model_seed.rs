//! Writes small but complete model files, for seeding the `bundle` fuzz
//! target (fuzz/seed.sh): `cargo run -p loglynx-models --example model_seed -- DIR`.
//! Each model is fitted on a few deterministic rows, kept small so that it
//! fits the fuzzer's input size; `DIR/<name>.llx` is the whole file and
//! `DIR/<name>.payload` its postcard payload alone.

use loglynx_models::file::{encode, HEADER_LEN};
use loglynx_models::ndarray::Array2;
use loglynx_models::{FeatureSpec, IsolationForestParams, KMeansParams, ModelSet, ModelSetConfig, Transform};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: model_seed DIR")?);
    std::fs::create_dir_all(&dir)?;
    // Deterministic rows with some spread in every column.
    let x = Array2::from_shape_fn((40, 3), |(i, j)| ((i * 7 + j * 13) % 11) as f64 + j as f64);
    let spec = || {
        FeatureSpec::new("user", vec!["events".into(), "failures".into(), "share".into()]).transforms(vec![
            Transform::Log1p,
            Transform::Log1p,
            Transform::None,
        ])
    };
    let small_forest = IsolationForestParams {
        n_trees: 3,
        subsample: 8,
        seed: 1,
    };
    let configs = [
        (
            "forest_only",
            ModelSetConfig {
                iforest: small_forest.clone(),
                kmeans: None,
                ..ModelSetConfig::default()
            },
        ),
        (
            "forest_and_peers",
            ModelSetConfig {
                iforest: small_forest,
                kmeans: Some(KMeansParams::new().k_range(2..=2).n_runs(1)),
                ..ModelSetConfig::default()
            },
        ),
    ];
    for (name, config) in configs {
        let set = ModelSet::fit(x.view(), spec(), config)?;
        let bytes = encode(&set)?;
        std::fs::write(dir.join(format!("{name}.llx")), &bytes)?;
        std::fs::write(dir.join(format!("{name}.payload")), &bytes[HEADER_LEN..])?;
        println!("{name}: {} bytes", bytes.len());
    }
    Ok(())
}
