//! Helpers for the loglynx integration tests: where the shared real logs
//! are, and the workspace binaries (built on first use when missing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `../shared/datasets` beside the checkout. Panics with a clear message
/// when it is missing, so a test cannot pass vacuously.
pub fn shared_datasets() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets");
    assert!(
        dir.is_dir(),
        "the shared real logs are missing: expected {} (see CONTRIBUTING.md)",
        dir.display()
    );
    dir.canonicalize().expect("canonical path")
}

/// A file under the shared datasets; panics when absent.
pub fn shared(rel: &str) -> PathBuf {
    let p = shared_datasets().join(rel);
    assert!(p.exists(), "missing shared dataset file {}", p.display());
    p
}

fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// Path of a workspace binary in the same profile as this test, built with
/// `cargo build` the first time it is asked for.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--bins", "--workspace"]);
        if profile == "release" {
            cmd.arg("--release");
        }
        let status = cmd
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build of the workspace binaries failed");
    });
    let path = target_dir()
        .join(profile)
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "binary {} not found after build", path.display());
    path
}

/// Where golden files live.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Compares `actual` with the golden file `name`; with `UPDATE_GOLDEN=1`
/// rewrites it instead.
pub fn assert_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).expect("golden dir");
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
    if expected != actual {
        let diff_line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output at line {}:\n expected: {:?}\n   actual: {:?}\n(UPDATE_GOLDEN=1 rewrites it after review)",
            path.display(),
            diff_line + 1,
            expected.lines().nth(diff_line),
            actual.lines().nth(diff_line)
        );
    }
}

/// Splits one CSV line (RFC 4180 quoting, no line breaks inside fields).
pub fn split_csv_line(line: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.trim_end_matches('\r').as_bytes());
    match reader.records().next() {
        Some(Ok(r)) => r.iter().map(str::to_owned).collect(),
        _ => vec![String::new()],
    }
}
