"""loglynx on Spark: the same Rust core, run by Spark's executors.

Four steps, each a Spark DataFrame to the next:

1. :func:`read_events`: log files to normalized events, one task per file
   (a file's lines are read in order, so the lines of one attempt pair as
   in the binaries; ``mapInArrow``).
2. :func:`features`: each event is sent to the bucket of each of its
   entities (user, source, host; ``loglynx.bucket``), the events are
   repartitioned by bucket and sorted back into file order within each
   partition, and every task makes the rows of its buckets' entities.
   Every entity's events are in one partition, so each window is whole
   and the rows are exactly those of one machine. The shuffle moves each
   event once per distinct bucket of its entities (at most three times),
   with only the columns rows are made from.
   Novelty counts from the earliest event of the whole input, which the
   driver computes first (one aggregate).
3. :func:`score`: the baseline bundle is shipped to the executors
   (``SparkContext.addFile``) and every row is scored where it is; no
   shuffle.
4. :func:`train`: a sample of each entity kind's rows (at most
   ``fit_sample``, the binaries' default 262,144) is collected to the
   driver, sorted, and fitted there; the result is the ``.llx`` bundle
   ``loglynx-score --model`` reads.

:func:`alerts` merges rule hits and the baseline's evidence into alerts.
The merge joins what different entities did (a source's failures on many
hosts, a login followed by a first sudo), so it runs in one task over the
given files, which gives exactly the binary's alerts but is not spread
over the cluster.

The package is shipped to the executors by these functions
(:func:`ship_package`: the installed package zipped, ``addPyFile``; its
native module is copied out of the zip where it is imported), and so is
the baseline bundle (``addFile``). The executors' Python needs polars
1.43.x and pyarrow, as the driver's.

On Spark the events' ECS names are written with ``_`` for ``.``
(``host_name``, ``source_ip``, ``log_file_path``): Spark resolves a dot as
a struct field.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from typing import Any, Iterator, Optional, Union

import polars as pl

import loglynx
from loglynx import Baseline, _ll, _paths, _write_atomic

BUCKET = "loglynx.bucket"
FILE = "log.file.path"
LINE = "log.file.line"
TIMESTAMP = "@timestamp"
EVENT_ID = "loglynx.event"


def spark_name(name: str) -> str:
    """A table's column name as a Spark column (``host.name`` → ``host_name``)."""
    return name.replace(".", "_")


def _rust_names(df: pl.DataFrame) -> pl.DataFrame:
    """Spark's column names back to the events table's."""
    names = {spark_name(c): c for c in [*_ll.event_columns().columns, BUCKET, EVENT_ID]}
    return df.rename({c: names[c] for c in df.columns if c in names and names[c] != c})

#: The scores' columns, as ``loglynx-score --scores-out`` writes them.
SCORE_SCHEMA = (
    "entity_kind string, entity string, window_start timestamp, window_end timestamp, "
    "score double, iforest_pct double, kmeans_pct double, cluster long, is_anomaly boolean, "
    "explanation string"
)


_shipped: dict = {}


def ship_package(spark) -> str:
    """Sends this loglynx (its Python files and native module, zipped) to
    the executors of ``spark``'s context, once per context; the zip's path.
    The functions below call it."""
    import zipfile

    sc = spark.sparkContext
    key = id(sc._jsc)
    if key in _shipped:
        return _shipped[key]
    package = os.path.dirname(os.path.abspath(loglynx.__file__))
    native = os.path.abspath(_ll.__file__)
    members = [os.path.join(package, n) for n in sorted(os.listdir(package)) if n.endswith((".py", ".typed"))]
    members.append(native)
    # Named by what it holds: a changed file is a new zip.
    digest = hashlib.sha256()
    for member in members:
        with open(member, "rb") as f:
            digest.update(os.path.basename(member).encode() + b"\0" + f.read())
    path = os.path.join(tempfile.gettempdir(), f"loglynx-{loglynx.__version__}-{digest.hexdigest()[:16]}.zip")
    if not os.path.exists(path):
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for member in members:
                z.write(member, f"loglynx/{os.path.basename(member)}")
        _write_atomic(path, archive.getvalue())
    sc.addPyFile(path)
    _shipped[key] = path
    return path


def _spark_schema(df: pl.DataFrame, extra: Optional[dict[str, Any]] = None):
    """The Spark schema of a polars table (unsigned integers become long)."""
    from pyspark.sql import types as T

    def spark_type(dtype: pl.DataType):
        if dtype == pl.String:
            return T.StringType()
        if dtype == pl.Boolean:
            return T.BooleanType()
        if dtype in (pl.Float64, pl.Float32):
            return T.DoubleType()
        if dtype.is_integer():
            return T.LongType()
        if isinstance(dtype, pl.Datetime):
            return T.TimestampType()
        raise TypeError(f"no Spark type for {dtype}")

    fields = [T.StructField(spark_name(name), spark_type(dtype), True) for name, dtype in df.schema.items()]
    for name, t in (extra or {}).items():
        fields.append(T.StructField(spark_name(name), t, True))
    return T.StructType(fields)


def _to_arrow_batches(df: pl.DataFrame, schema) -> Iterator[Any]:
    """``df`` as Arrow record batches of the Spark schema's Arrow types."""
    from pyspark.sql.pandas.types import to_arrow_schema

    arrow_schema = to_arrow_schema(schema, timezone="UTC")
    df = df.rename({c: spark_name(c) for c in df.columns if spark_name(c) != c})
    table = df.select([f.name for f in schema.fields]).to_arrow().cast(arrow_schema)
    yield from table.to_batches()


def _from_arrow_batches(batches: Iterator[Any]) -> pl.DataFrame:
    import pyarrow as pa

    batches = [b for b in batches if b.num_rows]
    if not batches:
        return pl.DataFrame()
    return pl.from_arrow(pa.Table.from_batches(batches))


def _event_schema(with_bucket: bool = False, only: Optional[list] = None):
    from pyspark.sql import types as T

    columns = _ll.event_columns()
    if only is not None:
        columns = columns.select(only)
    return _spark_schema(columns, {EVENT_ID: T.LongType(), BUCKET: T.LongType()} if with_bucket else None)


def _feature_schema():
    return _spark_schema(_ll.feature_columns())


def _with_types_of(df: pl.DataFrame, like: pl.DataFrame) -> pl.DataFrame:
    """``df`` with the column types of ``like``'s columns: Spark's Arrow
    types back to loglynx's (long → unsigned)."""
    return df.with_columns([pl.col(c).cast(t) for c, t in like.schema.items() if c in df.columns])


def _events_for_rust(df: pl.DataFrame) -> pl.DataFrame:
    return _with_types_of(df, _ll.event_columns())


def read_events(spark, paths, year: Optional[int] = None, format: Optional[str] = None, **options: Any):
    """Log files (paths the executors can open: a shared file system) to a
    Spark DataFrame of normalized events, one task per path argument.
    ``options`` are ``loglynx-features`` flags."""
    files = _paths(paths)
    ship_package(spark)
    argv_tail = loglynx._flags(dict(year=year, format=format, **options))
    schema = _event_schema()

    def decode(batches):
        for batch in batches:
            for path in batch.column("path").to_pylist():
                _, events, _ = _ll.features(["loglynx-features", path, *argv_tail], True)
                if events.height:
                    yield from _to_arrow_batches(events, schema)

    paths_df = spark.createDataFrame([(p,) for p in files], "path string").repartition(len(files))
    return paths_df.mapInArrow(decode, schema)


def features(events, window: str = "1h", time_zone: str = "UTC", buckets: Optional[int] = None, **options: Any):
    """Entity-window feature rows of a Spark DataFrame of events (from
    :func:`read_events`, or any with the events' column names), computed in
    parallel: repartitioned by entity so that every window is whole in one
    partition. ``buckets`` (default: twice the default parallelism) is the
    number of partitions. ``events`` is read twice (its first time, then
    the rows): cache it when it is expensive to make. ``options`` are ``loglynx-features`` flags."""
    from pyspark.sql import functions as F

    spark = events.sparkSession
    ship_package(spark)
    n = buckets or 2 * spark.sparkContext.defaultParallelism
    argv = loglynx._features_argv(["-"], dict(window=window, time_zone=time_zone, **options))
    # Only the columns rows are made from are moved (not the raw line,
    # the command, the process).
    columns = _ll.row_columns()
    routed_schema = _event_schema(with_bucket=True, only=columns)
    rows_schema = _feature_schema()

    def route(batches):
        from pyspark import TaskContext

        # Each event's id, unique in the job: its copies are one event.
        next_id = TaskContext.get().partitionId() << 40
        for batch in batches:
            df = _events_for_rust(_rust_names(_from_arrow_batches(iter([batch]))))
            if df.height:
                df = df.with_columns(pl.int_range(next_id, next_id + df.height, dtype=pl.Int64).alias(EVENT_ID))
                next_id += df.height
                yield from _to_arrow_batches(_ll.route_events(df, n), routed_schema)

    def make_rows(batches):
        df = _rust_names(_from_arrow_batches(batches))
        if not df.height:
            return
        mine = sorted(set(df[BUCKET].to_list()))
        # An event whose entities share a bucket's partition came once per bucket.
        df = df.unique(subset=[EVENT_ID], maintain_order=True).sort([FILE, LINE], maintain_order=True)
        rows = _ll.features_of_events(_events_for_rust(df), argv, first, n, mine)
        if rows.height:
            yield from _to_arrow_batches(rows, rows_schema)

    # Spark keeps timestamps in the session's zone; the events' first
    # instant, in UTC microseconds, whatever that zone is.
    first = events.agg(F.min(F.unix_micros(F.col(spark_name(TIMESTAMP))))).first()[0]
    events = events.select([spark_name(c) for c in columns])
    routed = events.mapInArrow(route, routed_schema)
    grouped = routed.repartition(n, F.col(spark_name(BUCKET)))
    return grouped.mapInArrow(make_rows, rows_schema)


def _ship(spark, baseline: Union[Baseline, str, "os.PathLike[str]"]) -> str:
    """Sends the bundle to every executor; its name for ``SparkFiles.get``."""
    if isinstance(baseline, Baseline):
        data = baseline.to_bytes()
    else:
        with open(os.fspath(baseline), "rb") as f:
            data = f.read()
    name = f"loglynx-{hashlib.sha256(data).hexdigest()[:16]}.llx"
    path = os.path.join(tempfile.gettempdir(), name)
    if not os.path.exists(path):
        _write_atomic(path, data)
    try:
        spark.sparkContext.addFile(path)
    except Exception as e:  # the same bundle shipped before
        if "already" not in str(e).lower():
            raise
    return name


def score(rows, baseline: Union[Baseline, str, "os.PathLike[str]"], **options: Any):
    """Every entity-window of a Spark DataFrame of feature rows scored by the
    baseline on the executors: the columns of ``loglynx-score
    --scores-out``. ``options`` are
    ``loglynx-score`` flags."""
    from pyspark.sql import types as T

    spark = rows.sparkSession
    ship_package(spark)
    name = _ship(spark, baseline)
    schema = T._parse_datatype_string(SCORE_SCHEMA)
    flags = loglynx._flags(options)

    def score_partition(batches):
        from pyspark import SparkFiles

        df = _from_arrow_batches(batches)
        if not df.height:
            return
        model = Baseline.load(SparkFiles.get(name))
        df = _with_types_of(df, _ll.feature_columns())
        _, scores, _ = _ll.score(["loglynx-score", *flags], df, model._inner, True)
        yield from _to_arrow_batches(scores, schema)

    return rows.mapInArrow(score_partition, schema)


def train(
    rows,
    fit_sample: int = 262_144,
    seed: int = 42,
    output: Union[str, "os.PathLike[str]", None] = None,
    **options: Any,
) -> Baseline:
    """Fits a baseline on a Spark DataFrame of feature rows: at most
    ``fit_sample`` rows of each entity kind (Spark's seeded sample) are
    collected to the driver, sorted by kind, entity and window, and fitted
    there as :func:`loglynx.train` fits a table. With ``output``, the bundle
    (and its model card) is saved there."""
    from pyspark.sql import functions as F

    counts = {r["entity_kind"]: r["count"] for r in rows.groupBy("entity_kind").count().collect()}
    parts = []
    for kind, count in sorted(counts.items()):
        part = rows.filter(F.col("entity_kind") == kind)
        if count > fit_sample:
            part = part.sample(withReplacement=False, fraction=min(1.0, 1.1 * fit_sample / count), seed=seed)
            part = part.orderBy(F.rand(seed)).limit(fit_sample)
        parts.append(pl.from_arrow(part.toArrow()))
    sample = pl.concat(parts, how="vertical_relaxed") if parts else _ll.feature_columns()
    sample = _with_types_of(sample, _ll.feature_columns()).sort(["entity_kind", "entity", "window_start"])
    baseline = loglynx.train(sample, seed=seed, quiet=True, **options)
    if output is not None:
        baseline.save(output)
    return baseline


def alerts(spark, paths, baseline: Union[Baseline, str, "os.PathLike[str]", None] = None, **options: Any):
    """The alerts of log files (paths the executors can open), as
    :func:`loglynx.alerts` makes them, in one Spark task (see the module's
    documentation): a Spark DataFrame with one JSON alert per row
    (``alert``), highest priority first (``rank``)."""
    files = _paths(paths)
    ship_package(spark)
    name = _ship(spark, baseline) if baseline is not None else None
    if isinstance(baseline, Baseline):
        model_name = baseline.source
    elif baseline is not None:
        model_name = os.fspath(baseline)
    else:
        model_name = None

    def run(batches):
        import json

        import pyarrow as pa
        from pyspark import SparkFiles

        for _ in batches:
            pass
        model = SparkFiles.get(name) if name else None
        found = loglynx._alerts(files, model, dict(options), False, False, True, model_name)
        yield pa.RecordBatch.from_pydict(
            {"rank": list(range(len(found))), "alert": [json.dumps(a) for a in found]},
            schema=pa.schema([("rank", pa.int64()), ("alert", pa.string())]),
        )

    one = spark.createDataFrame([(0,)], "i long").coalesce(1)
    return one.mapInArrow(run, "rank long, alert string")
