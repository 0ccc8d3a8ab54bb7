"""benchmarks/gil_wait.py runs from any directory and prints one JSON line of figures."""

import json
import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "gil_wait.py"


def test_gil_wait_prints_its_figures(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--pending", "2000", "--nodes", "10", "--cycles", "2",
                           "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    figures = json.loads(line)
    assert figures["pending"] == 2000 and figures["cycles"] == 2
    assert figures["probe_wakeups_per_s"] > 0
    assert 0 <= figures["wait_p50_ms"] <= figures["wait_p99_ms"] <= figures["wait_max_ms"]
