//! The Python package's tests (`python/tests`, pytest) against this build's
//! binaries: the package and the command lines must compute the same
//! features, model bytes, scores and alerts, on one machine and on Spark.
//!
//! They need a Python with the built wheel installed, pytest, and for the
//! Spark tests pyspark and Java, named by `LOGLYNX_PYTHON`; without it they
//! say so and pass, unless `LOGLYNX_REQUIRE_PYTHON` is set (`.ci/run` sets
//! both, and `LOGLYNX_REQUIRE_SPARK`, so nothing is skipped there).

use std::path::Path;
use std::process::Command;

use loglynx_tests::bin;

#[test]
fn python_package_agrees_with_the_binaries() {
    let Some(python) = std::env::var_os("LOGLYNX_PYTHON") else {
        assert!(
            std::env::var_os("LOGLYNX_REQUIRE_PYTHON").is_none(),
            "LOGLYNX_REQUIRE_PYTHON is set but LOGLYNX_PYTHON is not"
        );
        eprintln!("skipped: set LOGLYNX_PYTHON to a Python with the loglynx wheel and pytest installed");
        return;
    };
    // The binaries the package is compared with: built for these tests.
    for name in ["loglynx-gen", "loglynx-features", "loglynx-train", "loglynx-score"] {
        assert!(bin(name).exists(), "{} is missing", bin(name).display());
    }
    let bin_dir = bin("loglynx-score").parent().expect("a directory").to_path_buf();
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/tests");
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"])
        .arg(&tests)
        .env("LOGLYNX_BIN_DIR", &bin_dir)
        .output()
        .expect("python starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(out.status.success(), "pytest failed:\n{stdout}\n{stderr}");
    // `-rs` lists skipped tests: the Spark tests skip without Java or pyspark.
    if std::env::var_os("LOGLYNX_REQUIRE_SPARK").is_some() {
        assert!(!stdout.contains("SKIPPED"), "a test was skipped:\n{stdout}");
    }
}
