//! Baseline file round trip and refusal of damaged, old or incompatible files.

use std::collections::BTreeMap;

use loglynx_baseline::accumulate::{AlertCalibration, EvidenceConfig, KindCalibration};
use loglynx_baseline::{Baseline, BaselineError, TrainingMetadata};
use loglynx_features::aggregate::registry::{EntityKind, SPEC_VERSION};
use loglynx_features::aggregate::FeatureConfig;
use loglynx_models::ndarray::Array2;
use loglynx_models::*;
use loglynx_rules::History;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn features(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, 3), |(_, j)| match j {
        0 => rng.gen_range(0..=3) as f64,
        1 => rng.gen_range(10..=50) as f64,
        _ => rng.gen_range(0.0..1.0),
    })
}

/// Fitted once, shared by the tests.
fn bundle() -> Baseline {
    static BUNDLE: std::sync::OnceLock<Baseline> = std::sync::OnceLock::new();
    BUNDLE.get_or_init(fit_bundle).clone()
}

fn fit_bundle() -> Baseline {
    let names: Vec<String> = ["failures", "events", "off_hours_share"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let spec =
        FeatureSpec::new("user", names.clone()).transforms(vec![Transform::Log1p, Transform::Log1p, Transform::None]);
    let user = ModelSet::fit(features(600, 1).view(), spec, ModelSetConfig::default().with_seed(3)).unwrap();
    let mut spec = FeatureSpec::new("host", names).window_secs(900);
    spec.extra.insert("source".into(), "syslog".into());
    let cfg = ModelSetConfig {
        kmeans: None,
        contamination: Some(0.02),
        ..ModelSetConfig::default()
    };
    let host = ModelSet::fit(features(300, 2).view(), spec, cfg).unwrap();
    Baseline {
        spec_version: SPEC_VERSION,
        features: Some(FeatureConfig::with_window_in_zone(900, "Europe/Berlin")),
        sets: vec![user, host],
        metadata: TrainingMetadata {
            input_files: vec!["features.parquet".into()],
            time_range: Some(("2026-01-01T00:00:00Z".into(), "2026-01-31T23:00:00Z".into())),
            rows_per_set: BTreeMap::from([("user".into(), 600), ("host".into(), 300)]),
            seed: 3,
            loglynx_version: "0.1.0".into(),
            created_at: "2026-02-01T00:00:00Z".into(),
            notes: BTreeMap::from([("by".into(), "test".into())]),
        },
        history: History {
            terms: BTreeMap::from([(
                "user+source".into(),
                ["alice\u{1f}10.0.0.5".to_owned()].into_iter().collect(),
            )]),
        },
        anomalous: BTreeMap::from([(EntityKind::Host, ["jump-01".to_owned()].into_iter().collect())]),
        calibration: AlertCalibration {
            config: EvidenceConfig::default(),
            kinds: vec![KindCalibration {
                entity_kind: EntityKind::User,
                entity_days: 4000,
                episodes: 3,
                top_peaks: vec![9.5, 4.0, 1.25],
                floor: 2.3,
            }],
            self_drift: BTreeMap::from([(EntityKind::Host, BTreeMap::from([("web-01".to_owned(), 3.1)]))]),
            population: Some(loglynx_baseline::population::PopulationCalibration::new(
                &[3, 1],
                900,
                ["root".to_owned()].into_iter().collect(),
            )),
        },
        routine: Default::default(),
        novelty: Default::default(),
        reranker: None,
    }
}

fn saved() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baseline.llx");
    bundle().save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (dir, path, bytes)
}

#[test]
fn round_trip_scores_identically() {
    let b = bundle();
    let (dir, path, bytes) = saved();
    assert_eq!(&bytes[..8], b"LLXMODEL");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), FORMAT_VERSION);
    let loaded = Baseline::load(&path).unwrap();
    assert_eq!(loaded, b);
    let x = features(200, 9);
    for kind in ["user", "host"] {
        let before = b.set(kind).unwrap().score(x.view()).unwrap();
        let after = loaded.set(kind).unwrap().score(x.view()).unwrap();
        assert_eq!(before, after);
    }
    // Only the model file is left: no temporary file.
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("baseline.llx")]);
    // Saving again replaces the file atomically.
    loaded.save(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn wrong_magic_is_not_a_model() {
    let (_d, _p, mut bytes) = saved();
    bytes[0] = b'X';
    let e = Baseline::from_bytes(&bytes).unwrap_err();
    assert!(matches!(e, BaselineError::File(BundleError::NotAModel)), "{e}");
    assert!(e.to_string().contains("not a loglynx model"));
}

#[test]
fn newer_version_is_refused() {
    let (_d, _p, mut bytes) = saved();
    let newer = FORMAT_VERSION + 1;
    bytes[8..10].copy_from_slice(&newer.to_le_bytes());
    let e = Baseline::from_bytes(&bytes).unwrap_err();
    assert!(matches!(
        e,
        BaselineError::File(BundleError::NewerVersion { found, supported }) if found == newer && supported == FORMAT_VERSION
    ));
    assert_eq!(
        e.to_string(),
        format!("written by a newer loglynx: format version {newer}, this build reads up to {FORMAT_VERSION}")
    );
}

#[test]
fn a_bundle_of_the_old_format_is_refused_with_a_retrain_message() {
    // Format version 1 was the untyped bundle (no feature configuration);
    // its payload is never decoded.
    let (_d, _p, bytes) = saved();
    let old = with_header_v1(&bytes[file::HEADER_LEN..]);
    let e = Baseline::from_bytes(&old).unwrap_err();
    assert!(matches!(
        e,
        BaselineError::File(BundleError::OlderVersion { found: 1, supported }) if supported == FORMAT_VERSION
    ));
    let text = e.to_string();
    assert!(text.contains("format version 1"), "{text}");
    assert!(text.contains(&format!("reads version {FORMAT_VERSION}")), "{text}");
    assert!(text.contains("retrain"), "{text}");
}

fn with_header_v1(payload: &[u8]) -> Vec<u8> {
    file::with_header(1, payload)
}

#[test]
fn another_spec_version_loads_but_is_refused_for_scoring_with_both_versions_named() {
    let mut b = bundle();
    b.check_spec_version().unwrap();
    b.spec_version = SPEC_VERSION + 1;
    let loaded = Baseline::from_bytes(&b.to_bytes().unwrap()).unwrap();
    let e = loaded.check_spec_version().unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(&format!("feature spec version {}", SPEC_VERSION + 1)),
        "{text}"
    );
    assert!(text.contains(&format!("computes version {SPEC_VERSION}")), "{text}");
}

#[test]
fn the_feature_configuration_travels_with_the_baseline() {
    let (_d, path, _) = saved();
    let loaded = Baseline::load(&path).unwrap();
    let f = loaded.features.unwrap();
    assert_eq!(f.window_secs, 900);
    assert_eq!(f.business_hours.time_zone, "Europe/Berlin");
    assert!(loaded.anomalous[&EntityKind::Host].contains("jump-01"));
}

#[test]
fn flipped_payload_byte_fails_the_checksum() {
    let (_d, _p, mut bytes) = saved();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x40;
    assert!(matches!(
        Baseline::from_bytes(&bytes),
        Err(BaselineError::File(BundleError::Checksum { .. }))
    ));
}

#[test]
fn truncated_files_are_refused() {
    let (_d, path, bytes) = saved();
    for len in [bytes.len() - 1, bytes.len() / 2, 30, 20, 9] {
        let e = Baseline::from_bytes(&bytes[..len]).unwrap_err();
        assert!(
            matches!(e, BaselineError::File(BundleError::Truncated { .. })),
            "len {len}: {e}"
        );
    }
    std::fs::write(&path, &bytes[..100]).unwrap();
    assert!(matches!(
        Baseline::load(&path),
        Err(BaselineError::File(BundleError::Truncated { .. }))
    ));
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Baseline::from_bytes(&longer),
        Err(BaselineError::File(BundleError::TrailingData { extra: 1 }))
    ));
}

#[test]
fn random_bytes_and_bad_payloads_are_refused() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let noise: Vec<u8> = (0..4096).map(|_| rng.gen()).collect();
    assert!(matches!(
        Baseline::from_bytes(&noise),
        Err(BaselineError::File(BundleError::NotAModel))
    ));
    assert!(matches!(
        Baseline::from_bytes(&[]),
        Err(BaselineError::File(BundleError::NotAModel))
    ));
    // A valid header and checksum over a payload that is not a bundle.
    let payload: Vec<u8> = (0..512).map(|_| rng.gen()).collect();
    let bytes = file::with_header(FORMAT_VERSION, &payload);
    let e = Baseline::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            e,
            BaselineError::File(BundleError::Decode(_)) | BaselineError::Invalid(_)
        ),
        "{e}"
    );
    let missing = Baseline::load("/nonexistent/dir/model.llx").unwrap_err();
    assert!(matches!(missing, BaselineError::File(BundleError::Io { .. })));
}

#[test]
fn missing_model_error_names_the_reason_once() {
    let missing = Baseline::load("/nonexistent/dir/model.llx").unwrap_err();
    let text = missing.to_string();
    assert!(text.starts_with("/nonexistent/dir/model.llx: "), "{text}");
    assert!(
        std::error::Error::source(&missing).is_none(),
        "the reason would print twice in a chain"
    );
}

#[test]
fn duplicate_entity_kinds_are_refused() {
    let mut b = bundle();
    let first = b.sets[0].clone();
    b.sets.push(first);
    assert!(matches!(b.to_bytes(), Err(BaselineError::Invalid(_))));
}

#[test]
fn model_cards_describe_the_sets() {
    let b = bundle();
    let card = b.model_card();
    assert_eq!(card["sets"][0]["entity_kind"], "user");
    assert_eq!(card["sets"][0]["features"][0]["name"], "failures");
    assert_eq!(card["sets"][0]["rows"], 600);
    assert_eq!(card["sets"][1]["kmeans"], serde_json::Value::Null);
    assert_eq!(card["metadata"]["created_at"], "2026-02-01T00:00:00Z");
    assert!(card["sets"][0]["calibration"]["threshold"].as_f64().unwrap() > 0.9);
    let md = b.model_card_markdown();
    for needle in [
        "## Entity kind `user`",
        "## Entity kind `host`",
        "| failures | Log1p | High |",
        "600 training rows",
        "100 trees",
        "contamination 0.02",
        "2026-02-01T00:00:00Z",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<IsolationForest>();
    assert_send_sync::<KMeansDetector>();
    assert_send_sync::<ModelSet>();
    assert_send_sync::<Baseline>();
    assert_send_sync::<Calibration>();
    assert_send_sync::<Preprocessor>();
    assert_send_sync::<Explainer>();
}
