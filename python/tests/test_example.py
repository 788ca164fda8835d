"""The example of the data scientist's loop runs, start to end."""

import pathlib
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "analyst_loop.py"


def test_the_analyst_loop_example_runs(logs, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(logs["quiet"]), str(logs["attack"]), "--year", "2026", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "threshold" in done.stdout and "alerts; the first five" in done.stdout
    assert (out / "baseline.llx").exists() and (out / "baseline.card.md").exists()
    assert (out / "alerts.csv").read_text().count("\n") > 3
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "distribution as a table" in done.stdout
    else:
        assert (out / "scores.png").stat().st_size > 1000
