"""loglynx.spark on Spark local[2] against the binaries on the same logs:
the same feature rows, scores and alerts, and a bundle the binary reads."""

import json
import os
import shutil
import subprocess
import sys

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import loglynx
from conftest import run

if shutil.which("java") is None:
    pytest.skip("Spark needs Java (17 or later), which is not installed here", allow_module_level=True)
pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (the wheel's spark extra)")

from loglynx import spark as llspark  # noqa: E402

KEYS = ["entity_kind", "entity", "window_start"]


def python_without_loglynx(directory) -> str:
    """This Python, with every installed package but loglynx: the executors
    get loglynx only from what `loglynx.spark` ships them."""
    import site
    import stat

    site_dir = directory / "site"
    site_dir.mkdir()
    for packages in site.getsitepackages():
        for entry in os.listdir(packages):
            if entry.startswith(("loglynx", "_loglynx")) or entry.endswith(".pth"):
                continue
            if not (site_dir / entry).exists():
                (site_dir / entry).symlink_to(os.path.join(packages, entry))
    wrapper = directory / "python"
    wrapper.write_text(
        "#!/bin/sh\n"
        # Not the checkout's python/ (which holds loglynx/) as working directory.
        f'cd "{directory}"\n'
        f'PYTHONPATH="{site_dir}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" -S "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    bare = python_without_loglynx(tmp_path_factory.mktemp("workers"))
    check = subprocess.run([bare, "-c", "import polars, pyarrow, pyspark; import loglynx"], capture_output=True, text=True)
    assert "No module named 'loglynx'" in check.stderr, check.stderr
    os.environ["PYSPARK_PYTHON"] = bare
    session = (
        SparkSession.builder.master("local[2]")
        .appName("loglynx-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "Europe/Berlin")
        .getOrCreate()
    )
    yield session
    session.stop()


def to_polars(df) -> pl.DataFrame:
    return pl.from_arrow(df.toArrow())


def same_types(df: pl.DataFrame, like: pl.DataFrame) -> pl.DataFrame:
    return df.select([pl.col(c).cast(t) for c, t in like.schema.items()])


def test_features_on_spark_are_the_rows_of_loglynx_features(spark, logs, tmp_path):
    out = tmp_path / "f.parquet"
    run("loglynx-features", logs["attack"], logs["quiet"], "--year", 2026, "-o", out, "-q")
    expected = pl.read_parquet(out).sort(KEYS)
    events = llspark.read_events(spark, [logs["attack"], logs["quiet"]], year=2026)
    rows = llspark.features(events, buckets=5)
    got = same_types(to_polars(rows), expected).sort(KEYS)
    assert got.height == expected.height > 1000
    assert_frame_equal(got, expected)


def test_scores_and_alerts_on_spark_are_those_of_loglynx_score(spark, logs, cli_baseline, tmp_path):
    scores_out, alerts_out = tmp_path / "s.parquet", tmp_path / "a.ndjson"
    run(
        "loglynx-score", logs["attack"], "--year", 2026, "--model", cli_baseline,
        "--scores-out", scores_out, "-o", alerts_out, "-q",
    )
    expected = pl.read_parquet(scores_out).sort(KEYS)
    rows = llspark.features(llspark.read_events(spark, [logs["attack"]], year=2026))
    scores = to_polars(llspark.score(rows, cli_baseline))
    got = same_types(scores, expected).sort(KEYS)
    assert got["is_anomaly"].sum() > 0
    assert_frame_equal(got, expected)

    alerts = to_polars(llspark.alerts(spark, [logs["attack"]], baseline=cli_baseline, year=2026)).sort("rank")
    expected_alerts = [json.loads(line) for line in alerts_out.read_text().splitlines()]
    assert len(expected_alerts) >= 3
    assert [json.loads(a) for a in alerts["alert"]] == expected_alerts


def test_a_baseline_trained_on_spark_is_a_bundle_loglynx_score_reads(spark, logs, tmp_path):
    table = tmp_path / "f.parquet"
    run("loglynx-features", logs["quiet"], "--year", 2026, "-o", table, "-q")
    rows = llspark.features(llspark.read_events(spark, [logs["quiet"]], year=2026))
    bundle = tmp_path / "spark.llx"
    trained = llspark.train(rows, seed=5, trees=50, output=bundle)
    # Every row fits in the sample: the model the package fits on the same
    # rows, sorted the same way.
    same = loglynx.train(pl.read_parquet(table).sort(KEYS), seed=5, trees=50, quiet=True)
    assert trained.to_bytes() == same.to_bytes()
    assert bundle.read_bytes() == same.to_bytes()
    assert bundle.with_suffix(".card.json").exists()
    done = run("loglynx-score", logs["attack"], "--year", 2026, "--model", bundle, "-o", tmp_path / "a.ndjson")
    assert done.returncode in (0, 1), done.stderr
    # A smaller sample is a sample: fewer rows fitted, still a bundle.
    sampled = llspark.train(rows, fit_sample=500, seed=5, trees=50)
    rows_per_set = sampled.card()["metadata"]["rows_per_set"]
    assert max(rows_per_set.values()) <= 500, rows_per_set
