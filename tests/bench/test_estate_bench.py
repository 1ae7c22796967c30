"""The FC 2.0 / FC 3.0 benchmark runs end to end on a tiny account (no timed assertions: the figures are
read by hand from ``python -m bench.estate_bench``): both crawls finish and write the same counts, and
FC 3.0 needs fewer requests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_estate_bench_runs_quick() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.estate_bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {
        line.split("|")[1].strip(): line.split("|")
        for line in done.stdout.splitlines()
        if line.startswith("| fc")
    }
    assert set(rows) == {"fc2", "fc3"}
    fc2_requests, fc3_requests = int(rows["fc2"][2]), int(rows["fc3"][2])
    assert fc3_requests < fc2_requests
    assert rows["fc2"][5:7] == rows["fc3"][5:7]  # configs and functions
