"""The package against the binaries: same features, same model bytes for
the same seed, same scores and alerts; errors with the binaries' messages."""

import json
import os
import threading
import time

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import loglynx
from conftest import run

KEYS = ["entity_kind", "entity", "window_start"]


def test_features_of_logs_are_the_rows_loglynx_features_writes(logs, tmp_path):
    out = tmp_path / "f.parquet"
    run("loglynx-features", logs["quiet"], "--year", 2026, "-o", out, "-q")
    rows = loglynx.features(logs["quiet"], year=2026, quiet=True)
    assert rows.height > 1000
    assert_frame_equal(rows, pl.read_parquet(out))


def test_events_are_those_of_events_out_and_give_the_same_features(logs, tmp_path):
    out, events_out = tmp_path / "f.parquet", tmp_path / "e.parquet"
    run("loglynx-features", logs["attack"], "--year", 2026, "-o", out, "--events-out", events_out, "-q")
    events = loglynx.read_events(logs["attack"], year=2026, quiet=True)
    assert_frame_equal(events, pl.read_parquet(events_out))
    assert {"@timestamp", "host.name", "source.ip", "user.name", "event.action"} <= set(events.columns)
    # Rows made from the events table (as Spark makes them) are the log's rows.
    from_events = loglynx.features(events, quiet=True).sort(KEYS)
    assert_frame_equal(from_events, pl.read_parquet(out).sort(KEYS))
    # pandas users get the same table.
    assert loglynx.features(events.to_pandas(), quiet=True).height == from_events.height


def test_training_on_logs_gives_the_bytes_of_loglynx_train(logs, cli_baseline, tmp_path):
    baseline = loglynx.train(logs["quiet"], year=2026, seed=7, quiet=True)
    assert baseline.to_bytes() == cli_baseline.read_bytes()
    other_seed = loglynx.train(logs["quiet"], year=2026, seed=8, quiet=True)
    assert other_seed.to_bytes() != cli_baseline.read_bytes()


def test_training_on_a_table_fits_the_model_loglynx_train_fits_on_its_file(logs, tmp_path):
    table = tmp_path / "f.parquet"
    run("loglynx-features", logs["quiet"], "--year", 2026, "-o", table, "-q")
    cli = tmp_path / "cli.llx"
    run("loglynx-train", table, "--seed", 3, "--trees", 50, "-o", cli, "-q")
    baseline = loglynx.train(pl.read_parquet(table), seed=3, trees=50, quiet=True)
    ours, theirs = baseline.card(), json.loads(cli.with_suffix(".card.json").read_text())
    assert ours["metadata"]["input_files"] == ["<DataFrame>"]
    ours["metadata"].pop("input_files"), theirs["metadata"].pop("input_files")
    assert ours == theirs
    # Same model: same scores on the attack days.
    attack = loglynx.features(logs["attack"], year=2026, quiet=True)
    assert_frame_equal(baseline.score(attack, quiet=True), loglynx.Baseline.load(cli).score(attack, quiet=True))


def test_scores_are_those_of_scores_out(logs, cli_baseline, tmp_path):
    table, scores_out = tmp_path / "f.parquet", tmp_path / "s.parquet"
    run("loglynx-features", logs["attack"], "--year", 2026, "-o", table, "-q")
    run("loglynx-score", table, "--model", cli_baseline, "--scores-out", scores_out, "-o", tmp_path / "a.ndjson", "-q")
    scores = loglynx.Baseline.load(cli_baseline).score(pl.read_parquet(table), quiet=True)
    assert scores.height == pl.read_parquet(table).height
    assert {"score", "is_anomaly", "explanation"} <= set(scores.columns)
    assert scores["is_anomaly"].sum() > 0
    assert_frame_equal(scores, pl.read_parquet(scores_out))


def test_alerts_are_those_of_loglynx_score(logs, cli_baseline, tmp_path):
    out = tmp_path / "a.ndjson"
    run("loglynx-score", logs["attack"], "--year", 2026, "--model", cli_baseline, "-o", out, "-q")
    expected = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(expected) >= 3
    assert loglynx.alerts(logs["attack"], baseline=cli_baseline, year=2026, quiet=True) == expected
    # A Baseline object is the same model, named by where it was read from.
    found = loglynx.alerts(logs["attack"], baseline=loglynx.Baseline.load(cli_baseline), year=2026, quiet=True)
    assert found == expected
    trained = loglynx.train(logs["quiet"], year=2026, seed=7, quiet=True)
    found = loglynx.alerts(logs["attack"], baseline=trained, year=2026, quiet=True)
    assert [a["fingerprint"] for a in found] == [a["fingerprint"] for a in expected]
    assert {a["model_version"] for a in found if a["model_version"]} == {"<loglynx.train> (2026-01-01T00:00:00Z)"}
    frame = loglynx.alerts(logs["attack"], baseline=cli_baseline, year=2026, as_frame=True, quiet=True)
    assert frame.height == len(expected)


def test_save_load_and_card(cli_baseline, tmp_path):
    baseline = loglynx.Baseline.load(cli_baseline)
    baseline.save(tmp_path / "copy.llx")
    assert (tmp_path / "copy.llx").read_bytes() == cli_baseline.read_bytes()
    assert json.loads((tmp_path / "copy.card.json").read_text()) == baseline.card()
    assert (tmp_path / "copy.card.md").read_text() == baseline.card_markdown()
    card = baseline.card()
    assert len(card["sets"]) == 3 and card["metadata"]["seed"] == 7
    assert "loglynx.Baseline" in repr(baseline)


def test_errors_carry_the_binaries_messages(logs, tmp_path):
    missing = tmp_path / "missing.log"
    cli = run("loglynx-features", missing, "-o", tmp_path / "f.parquet", check=False)
    assert cli.returncode == 2
    with pytest.raises(loglynx.LoglynxError) as err:
        loglynx.features(missing, quiet=True)
    assert str(err.value) in cli.stderr
    assert str(missing) in str(err.value)

    with pytest.raises(loglynx.LoglynxError, match="unit must be s, m, h or d"):
        loglynx.features(logs["attack"], window="1w", quiet=True)

    corrupt = tmp_path / "corrupt.llx"
    corrupt.write_bytes(b"LLX not really a model")
    cli = run("loglynx-score", logs["attack"], "--model", corrupt, "-o", tmp_path / "a.ndjson", check=False)
    assert cli.returncode == 2
    with pytest.raises(loglynx.LoglynxError) as err:
        loglynx.Baseline.load(corrupt)
    # The path, then the binary's reason (not an exception's name inside it).
    assert str(err.value).startswith(f"{corrupt}: ")
    reason = str(err.value).removeprefix(f"{corrupt}: ")
    assert reason in cli.stderr and "LoglynxError" not in reason, reason
    with pytest.raises(loglynx.LoglynxError) as err:
        loglynx.alerts(logs["attack"], baseline=corrupt, quiet=True)
    assert str(err.value) in cli.stderr

    with pytest.raises(loglynx.LoglynxError, match="no column `event.action`"):
        loglynx.features(pl.DataFrame({"@timestamp": [0], "event.outcome": ["success"]}), quiet=True)
    with pytest.raises(TypeError):
        loglynx.features(42)
    with pytest.raises(TypeError, match="exclude"):
        loglynx.features(loglynx.read_events(logs["attack"], year=2026, quiet=True), exclude="x.toml")
    # A table handed over is named as such, not by the file it went through.
    with pytest.raises(loglynx.LoglynxError, match="^<DataFrame>: no id column"):
        loglynx.train(pl.DataFrame({"a": [1.0, 2.0]}), quiet=True)


def test_long_calls_release_the_gil(logs):
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    ticker = threading.Thread(target=tick)
    started = time.monotonic()
    ticker.start()
    try:
        loglynx.train(logs["quiet"], year=2026, seed=7, quiet=True)
    finally:
        stop.set()
        ticker.join()
    took = time.monotonic() - started
    # A thread that held the GIL for the whole call would leave the ticker
    # a single tick; a released GIL lets it tick throughout.
    assert len(ticks) > 20 * took, (len(ticks), took)


def test_progress_reports_the_bytes_read(logs):
    from loglynx import _ll

    _ll.watch_progress()
    try:
        loglynx.features(logs["attack"], year=2026, quiet=True)
        stage, done, total = _ll.progress()
    finally:
        _ll.unwatch_progress()
    size = os.path.getsize(logs["attack"])
    assert (stage, done, total) == ("reading logs", size, size)


def test_a_progress_bar_is_drawn_unless_quiet(logs, capsys, monkeypatch):
    monkeypatch.setattr(loglynx, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(loglynx, "PROGRESS_INTERVAL", 0.001)
    loglynx.train(logs["quiet"], year=2026, seed=7)
    drawn = capsys.readouterr().err
    assert "fitting models" in drawn or "computing features" in drawn, drawn[-500:]
    loglynx.train(logs["quiet"], year=2026, seed=7, quiet=True)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "name, year",
    [("gtkcyber/auth.log", 2018), ("loghub-full/Linux.log", 2005), ("loghub/OpenSSH/OpenSSH_2k.log", 2017)],
)
def test_rows_of_a_public_logs_events_table_are_the_logs_rows(name, year):
    """Real logs this project did not write: the events table carries all
    the rows need (attempts already paired, denied, attempt lines)."""
    from conftest import REPO

    path = REPO.parent / "shared" / "datasets" / name
    events = loglynx.read_events(path, year=year, quiet=True)
    rows = loglynx.features(path, year=year, quiet=True)
    assert events.height > 1000 and rows.height > 100
    assert_frame_equal(loglynx.features(events, quiet=True).sort(KEYS), rows.sort(KEYS))
