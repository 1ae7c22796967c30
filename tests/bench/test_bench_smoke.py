"""The crawl benchmark runs end to end on a tiny account, and its arithmetic is right. No timed assertions:
speed is measured by hand with ``python -m bench.crawl_bench``; here we only check that the harness works
(every client crawled the same account with the same requests) and that medians, extrapolation and the
target checks compute what they claim."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench._harness import REPO, RunResult, median, run_child
from bench.crawl_bench import (
    FCAUDIT,
    FCAUDIT_AUTO,
    SCENARIOS,
    SDK_LOOP,
    SDK_POOL,
    Outcome,
    _scale_subset,
    render,
    verdicts,
)


def result(client: str, wall: float, requests: int = 1000, **changes: float) -> RunResult:
    fields: dict[str, float] = {
        "throttled": 0,
        "cpu": 0.2,
        "peak_rss": 60 * 2**20,
        "server_cpu": 0.1,
        "functions": 900,
        "configs": 1500,
    }
    fields.update(changes)
    return RunResult(
        client=client,
        wall=wall,
        requests=requests,
        throttled=int(fields["throttled"]),
        cpu=fields["cpu"],
        peak_rss=int(fields["peak_rss"]),
        server_cpu=fields["server_cpu"],
        functions=int(fields["functions"]),
        configs=int(fields["configs"]),
    )


def rows_of(table: str) -> dict[str, list[str]]:
    """Markdown table rows by client name (the first cell)."""
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("client",):
            rows[cells[0]] = cells
    return rows


def test_the_harness_runs_every_client_on_a_tiny_account() -> None:
    pytest.importorskip("fc2")
    pytest.importorskip("psutil")
    done = subprocess.run(
        [sys.executable, "-m", "bench.crawl_bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)  # the table, for whoever runs pytest -s
    rows = rows_of(done.stdout)
    assert set(rows) == {FCAUDIT, FCAUDIT_AUTO, SDK_LOOP, SDK_POOL}
    functions = {client: int(cells[1].replace(",", "")) for client, cells in rows.items()}
    requests = {client: int(cells[4].replace(",", "")) for client, cells in rows.items()}
    # the same account crawled four ways: the same functions found every time ...
    assert len(set(functions.values())) == 1
    assert functions[FCAUDIT] >= 20
    # ... with the same requests over FC 2.0, and a few region-wide pages over FC 3.0
    fc3_requests = requests.pop(FCAUDIT_AUTO)
    assert len(set(requests.values())) == 1
    assert requests[FCAUDIT] > functions[FCAUDIT]
    assert fc3_requests < functions[FCAUDIT]


def test_each_figure_is_the_median_of_the_runs() -> None:
    runs = [result(FCAUDIT, w, cpu=c) for w, c in ((3.0, 0.5), (1.0, 0.1), (2.0, 0.3))]
    m = median(runs)
    assert (m.wall, m.cpu, m.walls) == (2.0, 0.3, (3.0, 1.0, 2.0))
    assert m.noise == pytest.approx(0.5)  # half the 1..3 s spread, relative to 2 s
    assert m.cpu_per_1k == pytest.approx(0.3)


def test_a_partial_sdk_loop_is_scaled_to_the_whole_account() -> None:
    rows = _scale_subset(
        [
            result(FCAUDIT, 2.0, 10000, functions=9000),
            result(SDK_LOOP, 4.0, 1000, functions=900),
            result(SDK_POOL, 8.0, 12000, functions=9000, throttled=2000),  # retried throttles: not the base
        ]
    )
    loop = rows[1]
    assert loop.scale == pytest.approx(10.0)
    assert loop.full_wall == pytest.approx(40.0)
    assert loop.full_requests == 10000
    assert rows[2].scale == 1.0  # a run over the whole account is left alone
    whole = _scale_subset(
        [result(FCAUDIT, 2.0, 1000), result(SDK_LOOP, 9.0, 1000), result(SDK_POOL, 3.0, 1700, throttled=700)]
    )
    assert [r.scale for r in whole] == [1.0, 1.0, 1.0]  # every run covered every function: nothing scaled
    text = render(Outcome(SCENARIOS["b"][0], tuple(rows), None, 1.0, "test"))
    assert rows_of(text)[SDK_LOOP + "*"][10] == "20.0×"  # 40 s (scaled) against fcaudit's 2 s
    assert "scaled ×10.00" in text


def test_targets_are_checked_against_the_issue() -> None:
    a = Outcome(
        SCENARIOS["a"][0],
        (result(FCAUDIT, 1.0), result(FCAUDIT_AUTO, 0.5, 40), result(SDK_LOOP, 45.0), result(SDK_POOL, 3.0)),
        None,
        0.9,
        "test",
    )
    c = Outcome(SCENARIOS["c"][0], (result(FCAUDIT, 11.0, 2000, throttled=120),), None, 10.0, "test")
    d_small, d_big = SCENARIOS["d"]
    d1 = Outcome(d_small, (result(FCAUDIT, 5.0, peak_rss=100 * 2**20),), None, None, "")
    d2 = Outcome(d_big, (result(FCAUDIT, 50.0, peak_rss=130 * 2**20),), None, None, "")
    found = verdicts([a, c, d1, d2])
    assert found == [
        "- met: (a) ≥ 40× the SDK loop: 45.0×",
        "- MISSED: (a) ≥ 4× the SDK pool: 3.0×",
        "- met: (a) with --api auto ≥ 40× the loop: 90.0× the loop, 6.0× the pool",
        "- met: (a) with --api auto ≥ 4× the pool: 90.0× the loop, 6.0× the pool",
        "- met: (c) wall ≤ 1.15 × requests ÷ quota: 1.10×",
        "- MISSED: (c) throttled < 5 %: 6.0%",
        "- met: (d) peak RSS ≤ 150 MB at 100,000 functions: 130 MB",
        "- MISSED: (d) ≤ 1.2× the 10,000-function figure: 1.30×",
    ]


def test_a_child_is_measured_alone_not_with_the_parent_it_was_forked_from() -> None:
    ballast = bytearray(256 * 2**20)  # this process is large now; a child forked from it must not look so
    ballast[:: 2**12] = b"1" * len(ballast[:: 2**12])
    code = "x = bytearray(64 * 2**20); x[::4096] = b'1' * len(x[::4096])"
    usage = run_child(
        [sys.executable, "-c", code], env={}, stdout=subprocess.DEVNULL, stderr=None, timeout=60
    )
    assert usage.exit_code == 0
    assert 64 * 2**20 <= usage.peak_rss < 200 * 2**20  # its own 64 MB and an interpreter, not 256 MB
    assert usage.cpu > 0
    del ballast
