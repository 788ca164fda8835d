"""Spark local[N] against the binaries on the same log and cores.

Generates a log with loglynx-gen, cuts it into --files files at line
boundaries, trains a baseline on it, then times, --runs times each and
alternating:

- features: `loglynx-features FILES -o f.parquet` against
  `loglynx.spark.features(read_events(FILES))` written as Parquet;
- scoring: `loglynx-score f.parquet --model b.llx --scores-out s.parquet`
  against `loglynx.spark.score(spark.read.parquet(f.parquet), b.llx)`
  written as Parquet.

Wall seconds and events per second are printed as a Markdown table. Needs
release binaries (--bin-dir) and the package built with
`maturin build --release` installed with pyspark.

    python bench/spark_vs_cli.py --events 1000000 --files 4 --runs 2 \\
        --bin-dir target/release --data-dir /tmp/spark-bench
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import time


def sh(*args: str) -> None:
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--files", type=int, default=4)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    p.add_argument("--bin-dir", type=pathlib.Path, default=pathlib.Path("target/release"))
    p.add_argument("--data-dir", type=pathlib.Path, default=pathlib.Path("/tmp/loglynx-spark-bench"))
    a = p.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ["SOURCE_DATE_EPOCH"] = "1767225600"
    b = lambda name: str(a.bin_dir / name)  # noqa: E731
    d = a.data_dir
    d.mkdir(parents=True, exist_ok=True)

    log = d / "all.log"
    if not log.exists():
        sh(b("loglynx-gen"), "--events", str(a.events), "--seed", "42", "-q", "-o", str(log))
    lines = log.read_text().splitlines(keepends=True)
    files = []
    per = (len(lines) + a.files - 1) // a.files
    for i in range(a.files):
        f = d / f"part{i}.log"
        if not f.exists():
            f.write_text("".join(lines[i * per : (i + 1) * per]))
        files.append(str(f))
    events = len(lines)
    model = d / "b.llx"
    if not model.exists():
        sh(b("loglynx-train"), *files, "--year", "2026", "-q", "-o", str(model))

    from pyspark.sql import SparkSession

    import loglynx.spark as llspark

    spark = (
        SparkSession.builder.master(f"local[{a.cores}]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.shuffle.partitions", str(2 * a.cores))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    def cli_features():
        sh(b("loglynx-features"), *files, "--year", "2026", "-q", "-o", str(d / "f.parquet"))

    def spark_features():
        out = d / "spark-f.parquet"
        shutil.rmtree(out, ignore_errors=True)
        rows = llspark.features(llspark.read_events(spark, files, year=2026))
        rows.write.parquet(str(out))

    def cli_score():
        sh(
            b("loglynx-score"), str(d / "f.parquet"), "--model", str(model), "-q",
            "--scores-out", str(d / "s.parquet"), "-o", str(d / "a.ndjson"),
        )

    def spark_score():
        out = d / "spark-s.parquet"
        shutil.rmtree(out, ignore_errors=True)
        llspark.score(spark.read.parquet(str(d / "f.parquet")), model).write.parquet(str(out))

    cli_features()  # the table the scoring runs read
    spark_features()  # warm: the JVM, the workers
    times = {k: [] for k in ("cli_features", "spark_features", "cli_score", "spark_score")}
    for _ in range(a.runs):
        for name, fn in (
            ("cli_features", cli_features),
            ("spark_features", spark_features),
            ("cli_score", cli_score),
            ("spark_score", spark_score),
        ):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    rows = spark.read.parquet(str(d / "f.parquet")).count()
    print(f"{events} events, {rows} entity-windows, {a.files} files, local[{a.cores}], {a.runs} runs\n")
    print("| stage | engine | wall s | events/s |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        stage, engine = name.split("_")[1], "binary" if name.startswith("cli") else "Spark"
        lo, hi = min(ts), max(ts)
        print(f"| {stage} | {engine} | {lo:.2f}–{hi:.2f} | {events / hi:,.0f}–{events / lo:,.0f} |")
    spark.stop()


if __name__ == "__main__":
    main()
