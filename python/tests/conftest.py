"""Shared fixtures: the loglynx binaries (built by `cargo build`; the
package must agree with them) and generated logs."""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN_DIR = pathlib.Path(os.environ.get("LOGLYNX_BIN_DIR", REPO / "target" / "debug"))
# Fixed so that training is reproducible: the bundle records when it was made.
SOURCE_DATE_EPOCH = "1767225600"


def binary(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build --workspace --bins` or set LOGLYNX_BIN_DIR")
    return str(path)


def run(name: str, *args, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
    done = subprocess.run([binary(name), *map(str, args)], capture_output=True, text=True, env=env)
    if check and done.returncode not in (0, 1):
        raise AssertionError(f"{name} {args}: exit {done.returncode}\n{done.stderr}")
    return done


@pytest.fixture(autouse=True)
def reproducible(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)


@pytest.fixture(scope="session")
def logs(tmp_path_factory) -> dict:
    """A quiet week to train on and two attack days after it, one population."""
    d = tmp_path_factory.mktemp("logs")
    quiet, attack = d / "quiet.log", d / "attack.log"
    run("loglynx-gen", "--no-attacks", "--events", 20000, "--days", 7, "--start", "2026-03-02", "--seed", 7, "-q", "-o", quiet)
    run("loglynx-gen", "--events", 8000, "--days", 2, "--start", "2026-03-09", "--seed", 7, "-q", "-o", attack)
    return {"dir": d, "quiet": quiet, "attack": attack}


@pytest.fixture(scope="session")
def cli_baseline(logs) -> pathlib.Path:
    out = logs["dir"] / "cli.llx"
    run("loglynx-train", logs["quiet"], "--year", 2026, "--seed", 7, "-o", out, "-q")
    return out
