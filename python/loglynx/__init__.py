"""loglynx for Python: authentication logs to features, baselines and alerts.

The same Rust core as the ``loglynx-features``, ``loglynx-train`` and
``loglynx-score`` binaries. Every function takes the binary's settings as
keyword arguments (``min_severity="medium"`` is ``--min-severity medium``;
``True`` is a bare flag, a list repeats it), so a call and a command line
with the same settings compute the same thing, and errors carry the
command line's message as :class:`LoglynxError`.

Tables are polars DataFrames (``.to_pandas()`` for pandas), handed over from
Rust as Arrow. Work runs with the GIL released; calls that last show a
progress bar (tqdm; a widget in notebooks) unless ``quiet=True``.

The data scientist's loop::

    import loglynx
    quiet_week = loglynx.features(["logs/week1/"], year=2026)
    baseline = loglynx.train(["logs/week1/"], year=2026, seed=7)
    baseline.card()                       # what it learnt, thresholds
    baseline.save("baseline.llx")         # the bundle loglynx-score reads
    scores = baseline.score(loglynx.features(["logs/attack-day.log"], year=2026))
    alerts = loglynx.alerts(["logs/attack-day.log"], baseline=baseline, year=2026)

``loglynx.spark`` scores and trains on Spark DataFrames.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from typing import Any, Iterable, Optional, Union

import polars as pl


def _write_atomic(path: str, data: Union[str, bytes]) -> None:
    """Writes ``data`` (text as UTF-8) to a temporary file beside ``path``,
    named by this process, then renames it over."""
    partial = f"{path}.{os.getpid()}.tmp"
    try:
        with open(partial, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _extension_from_zip():
    """The extension module when the package is imported from a zip (what
    ``loglynx.spark`` ships to Spark's executors with ``addPyFile``): Python
    cannot load a native module from inside a zip, so it is copied out once
    (into TMPDIR, named by its hash) and loaded from there."""
    import hashlib
    import importlib.util
    import sys
    import tempfile
    import zipfile

    archive = getattr(__loader__, "archive", None)
    if archive is None:
        raise ImportError("loglynx: the extension module loglynx._loglynx is missing")
    with zipfile.ZipFile(archive) as z:
        names = [n for n in z.namelist() if n.startswith("loglynx/_loglynx") and n.endswith((".so", ".pyd"))]
        if not names:
            raise ImportError(f"loglynx: {archive} holds no extension module")
        data = z.read(names[0])
    directory = os.path.join(tempfile.gettempdir(), "loglynx-ext-" + hashlib.sha256(data).hexdigest()[:16])
    target = os.path.join(directory, os.path.basename(names[0]))
    if not os.path.exists(target):
        os.makedirs(directory, exist_ok=True)
        _write_atomic(target, data)
    spec = importlib.util.spec_from_file_location("loglynx._loglynx", target)
    module = importlib.util.module_from_spec(spec)
    sys.modules["loglynx._loglynx"] = module
    spec.loader.exec_module(module)
    return module


try:
    from . import _loglynx as _ll
except ImportError:
    _ll = _extension_from_zip()
LoglynxError = _ll.LoglynxError
__version__ = _ll.__version__

__all__ = [
    "Baseline",
    "LoglynxError",
    "alerts",
    "features",
    "read_events",
    "train",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Seconds a call runs before its progress bar appears, and between updates.
PROGRESS_DELAY = 0.5
PROGRESS_INTERVAL = 0.2
Paths = Union[PathLike, Iterable[PathLike]]


def _paths(paths: Paths) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    out = [os.fspath(p) for p in paths]
    if not out:
        raise LoglynxError("no input given")
    return out


def _flags(options: dict[str, Any]) -> list[str]:
    """Keyword arguments as the binaries' flags (``--kebab-case VALUE``)."""
    argv: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                argv += [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
        else:
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return argv


def _as_polars(table: Any) -> pl.DataFrame:
    if isinstance(table, pl.DataFrame):
        return table
    if isinstance(table, pl.LazyFrame):
        return table.collect()
    if type(table).__module__.startswith("pandas"):
        return pl.from_pandas(table)
    raise TypeError(f"expected a polars or pandas DataFrame, got {type(table).__name__}")


def _is_table(x: Any) -> bool:
    return isinstance(x, (pl.DataFrame, pl.LazyFrame)) or type(x).__module__.startswith("pandas")


def _run(fn, *args, quiet: bool = False):
    """Calls ``fn`` (which releases the GIL) on a worker thread and draws
    its progress until it returns; its exception is raised here."""
    if quiet:
        return fn(*args)
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return fn(*args)
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            result["error"] = e

    _ll.watch_progress()
    worker = threading.Thread(target=work, name="loglynx", daemon=True)
    worker.start()
    bar = None
    shown = ""
    try:
        while worker.is_alive():
            worker.join(PROGRESS_INTERVAL)
            stage, done, total = _ll.progress()
            if not stage:
                continue
            if stage != shown:
                if bar is not None:
                    bar.close()
                shown = stage
                bar = tqdm(
                    desc=stage,
                    total=total or None,
                    unit="B" if total else "it",
                    unit_scale=bool(total),
                    delay=PROGRESS_DELAY,
                    leave=False,
                )
            if total and bar is not None:
                bar.update(done - bar.n)
    finally:
        _ll.unwatch_progress()
        if bar is not None:
            bar.close()
    if "error" in result:
        raise result["error"]
    return result["value"]


def _warn_unread(unread: list[str]) -> None:
    for what in unread:
        warnings.warn(f"loglynx: not read in full: {what}", stacklevel=3)


def _features_argv(paths: list[str], options: dict[str, Any]) -> list[str]:
    return ["loglynx-features", *paths, *_flags(options)]


def read_events(
    paths: Paths,
    format: Optional[str] = None,
    year: Optional[int] = None,
    field_map: Optional[PathLike] = None,
    quiet: bool = False,
    **options: Any,
) -> pl.DataFrame:
    """The normalized events of log files (syslog, journald, audit, JSON/ECS,
    CSV, Windows events; ``format`` forces one), one row per event with ECS
    column names (``@timestamp``, ``host.name``, ``source.ip``,
    ``user.name``, ``event.action``, ``event.outcome``, ...), each attempt
    counted once (``loglynx.attempts``), and the line it came from
    (``log.file.path``, ``log.file.line``, ``event.original``).

    ``options`` are ``loglynx-features`` flags (``column_map=...``,
    ``exclude=...``)."""
    argv = _features_argv(
        _paths(paths), dict(format=format, year=year, field_map=field_map, **options)
    )
    _, events, unread = _run(_ll.features, argv, True, quiet=quiet)
    _warn_unread(unread)
    return events


# What applies to events already read (the others are about reading logs).
_EVENT_TABLE_SETTINGS = {"business_hours", "business_days", "novelty_horizon"}


def features(
    events_or_paths: Any,
    window: str = "1h",
    time_zone: str = "UTC",
    quiet: bool = False,
    **options: Any,
) -> pl.DataFrame:
    """Per entity (user, source, host) and window behaviour features: one row
    per entity-window, in the columns ``loglynx-features`` writes.

    ``events_or_paths`` is logs (paths, directories, globs) or a table of
    events from :func:`read_events`. ``options`` are ``loglynx-features``
    flags (``year=2026``, ``business_hours="8-18"``, ``novelty_horizon="30d"``).
    From logs the rows come in the order the binary writes them; from
    events, by entity kind, entity and window."""
    settings = dict(window=window, time_zone=time_zone, **options)
    if _is_table(events_or_paths):
        unused = set(options) - _EVENT_TABLE_SETTINGS
        if unused:
            raise TypeError(
                f"features of an events table take only {sorted(_EVENT_TABLE_SETTINGS)} besides window and "
                f"time_zone; not {sorted(unused)}"
            )
        argv = _features_argv(["-"], settings)
        return _run(_ll.features_of_events, _as_polars(events_or_paths), argv, quiet=quiet)
    rows, _, unread = _run(
        _ll.features, _features_argv(_paths(events_or_paths), settings), False, quiet=quiet
    )
    _warn_unread(unread)
    return rows


class Baseline:
    """A trained baseline: one model set per entity kind (isolation forest,
    k-means peer groups, calibration, threshold), the rules' history and the
    alert budget, as the ``.llx`` bundle ``loglynx-score --model`` reads."""

    def __init__(self, inner: "_ll.Baseline", source: str = "<loglynx.train>") -> None:
        self._inner = inner
        # How alerts name the model (`model_version`): where it was read
        # from or saved to, as loglynx-score names its --model.
        self.source = source

    @classmethod
    def load(cls, path: PathLike) -> "Baseline":
        """Reads a bundle; a corrupt or incompatible one raises
        :class:`LoglynxError` saying why."""
        return cls(_ll.Baseline.load(os.fspath(path)), os.fspath(path))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Baseline":
        return cls(_ll.Baseline.from_bundle(data), "<bytes>")

    def save(self, path: PathLike) -> None:
        """Writes the bundle (atomically) and its model card beside it
        (``.card.json``, ``.card.md``), as ``loglynx-train -o`` does."""
        path = os.fspath(path)
        self._inner.save(path)
        self.source = path
        stem = os.path.splitext(path)[0]
        _write_atomic(stem + ".card.json", self._inner.card_json())
        _write_atomic(stem + ".card.md", self._inner.card_markdown())

    def to_bytes(self) -> bytes:
        return self._inner.to_bytes()

    def card(self) -> dict[str, Any]:
        """The model card: training data, settings, per-kind rows, features,
        thresholds and score quantiles."""
        return json.loads(self._inner.card_json())

    def card_markdown(self) -> str:
        return self._inner.card_markdown()

    def score(self, features: Any, quiet: bool = False, **options: Any) -> pl.DataFrame:
        """Every entity-window of a feature table scored: ``score`` (0-1),
        the isolation forest's and k-means' calibrated percentiles,
        ``is_anomaly`` against the threshold, and the ``explanation`` of
        anomalous windows. ``options`` are ``loglynx-score`` flags."""
        argv = ["loglynx-score", *_flags(options)]
        _, scores, _ = _run(_ll.score, argv, _as_polars(features), self._inner, True, quiet=quiet)
        return scores

    def __repr__(self) -> str:
        card = self.card()
        meta = card.get("metadata", {})
        return f"<loglynx.Baseline {len(card.get('sets', []))} model sets, created {meta.get('created_at', '?')}>"


def train(
    features_or_paths: Any,
    contamination: Optional[float] = None,
    seed: Optional[int] = None,
    quiet: bool = False,
    **options: Any,
) -> Baseline:
    """Fits a baseline on a quiet period: a feature table (from
    :func:`features`), or logs (which also give the rules' history, the
    routine and the alert budget, as ``loglynx-train`` on logs does).

    ``options`` are ``loglynx-train`` flags (``year=2026``, ``trees=200``,
    ``alert_budget=0.2``, ``kinds=["user", "source_ip"]``). With
    ``SOURCE_DATE_EPOCH`` set, the same inputs and ``seed`` give the bytes
    the binary writes."""
    settings = _flags(dict(contamination=contamination, seed=seed, **options))
    if _is_table(features_or_paths):
        inner = _run(_ll.train, ["loglynx-train", *settings], _as_polars(features_or_paths), quiet=quiet)
    else:
        argv = ["loglynx-train", *_paths(features_or_paths), *settings]
        inner = _run(_ll.train, argv, None, quiet=quiet)
    return Baseline(inner)


def alerts(
    paths: Paths,
    baseline: Union[Baseline, PathLike, None] = None,
    rules: Optional[PathLike] = None,
    as_frame: bool = False,
    with_scores: bool = False,
    quiet: bool = False,
    **options: Any,
) -> Any:
    """Scores logs (or feature tables) and runs the detection rules: the
    alerts ``loglynx-score`` writes, as a list of dicts (``as_frame=True``: a
    DataFrame), highest priority first. ``baseline`` is a :class:`Baseline`
    or a bundle's path; without one a baseline is fitted on the input itself.
    ``rules`` adds rule files. With ``with_scores=True``, returns
    ``(alerts, scores)`` with every entity-window's scores.

    ``options`` are ``loglynx-score`` flags (``year=2026``,
    ``min_severity="medium"``, ``feedback="verdicts.csv"``,
    ``report="report.html"``)."""
    return _alerts(paths, baseline, dict(rules=rules, **options), as_frame, with_scores, quiet)


def _alerts(paths, baseline, settings, as_frame, with_scores, quiet, model_name=None):
    inner = None
    if isinstance(baseline, Baseline):
        inner, model_name = baseline._inner, baseline.source
    elif baseline is not None:
        settings["model"] = baseline
    argv = ["loglynx-score", *_paths(paths), *_flags(settings)]
    text, scores, unread = _run(_ll.score, argv, None, inner, with_scores, model_name, quiet=quiet)
    if unread:
        warnings.warn(f"loglynx: alerts cover the readable inputs only{unread}", stacklevel=3)
    found = [json.loads(line) for line in text.splitlines() if line.strip()]
    if as_frame:
        found = pl.DataFrame(found) if found else pl.DataFrame()
    return (found, scores) if with_scores else found
