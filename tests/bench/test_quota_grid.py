"""The quota-shape grid's arithmetic (bench/_quota_grid.py): what it reads from the emulator's stats and
how it judges a run against issue 17's targets, and how it notes when each client ends. No timed runs of
the grid here: those are by hand."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench import _quota_grid
from bench._quota_grid import POOL, RATE, Cell, CellOutcome, Run, bound, judge, render, targets
from bench.crawl_bench import grid_choice


def stats(arrivals: list[int], throttled: list[int], first: float = 0.4) -> dict[str, object]:
    return {
        "per_second": arrivals,
        "throttled_per_second": throttled,
        "first_arrival_seconds": first,
        "requests": sum(arrivals),
        "throttled": sum(throttled),
    }


def test_steady_is_from_five_seconds_after_the_first_request_to_the_last_whole_second() -> None:
    cell = Cell("t", "test", 100, 10)
    arrivals = [50, 120, 110, 100, 100, 100, 98, 101, 99, 100, 30]
    throttled = [0, 20, 10, 0, 0, 0, 1, 1, 0, 0, 0]
    run = judge(cell, "fcaudit", stats(arrivals, throttled), wall=10.0, cpu=1.0, rate=None)
    # first request at 0.4 s: seconds 6..9 (ceil(5.4) = 6; the last, partial, second left out)
    assert run.steady == pytest.approx((97 + 100 + 99 + 100) / 4)
    assert run.peak == 101
    assert run.share == pytest.approx(32 / sum(arrivals))


def test_a_shared_quota_is_judged_while_every_client_shares_it() -> None:
    """Two crawls on one quota: once the first ends (at 10.3 s on the emulator's clock) the one left has
    the quota to itself for a tail; the steady rate and the peak are of seconds 6..9, all shared."""
    cell = Cell("s", "shared", 200, 20, clients=2)
    arrivals = [150, 205, 200, 200, 200, 200, 199, 201, 200, 204, 150, 110, 40]
    throttled = [0, 5, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0]
    shared = judge(cell, "fcaudit", stats(arrivals, throttled), 12.5, 2.0, None, until=10.3)
    assert shared.steady == pytest.approx((199 + 200 + 200 + 202) / 4)
    assert shared.peak == 204
    whole = judge(cell, "fcaudit", stats(arrivals, throttled), 12.5, 2.0, None)
    assert whole.steady == pytest.approx((199 + 200 + 200 + 202 + 150 + 110) / 6)  # the tail's drag


def test_a_change_is_followed_when_a_whole_second_is_within_ten_percent() -> None:
    cell = Cell("h", "halves", 100, 10, changes=((3.0, 0.5),))
    arrivals = [100, 100, 100, 100, 70, 52, 50, 50, 10]
    throttled = [0, 0, 0, 50, 20, 4, 0, 0, 0]
    run = judge(cell, "fcaudit", stats(arrivals, throttled, first=0.0), wall=8.0, cpu=1.0, rate=None)
    # second 3: 50 admitted but 100 arrived (over 1.1 x 50 + 10); second 4: 50 of 70; second 5: 48 of 52
    assert run.recovery[0] == pytest.approx(3.0)


def test_a_rate_run_follows_a_change_to_its_ceiling_when_that_is_lower() -> None:
    cell = Cell("h", "doubles", 100, 10, changes=((3.0, 2.0),))
    arrivals = [90, 90, 90, 90, 178, 179, 180, 10]  # --rate 180 under a quota that doubles to 200 at 3 s
    throttled = [0] * 8
    run = judge(cell, RATE, stats(arrivals, throttled, first=0.0), wall=7.0, cpu=1.0, rate=180.0)
    # within 10% of 180, not of 200 (which a ceiling of 180 can only just reach): second 4 (of 3..4)
    assert run.recovery[0] == pytest.approx(2.0)
    default = judge(
        cell, "fcaudit", stats([100] * 4 + [170] * 3 + [10], throttled, first=0.0), 7.0, 1.0, None
    )
    assert default.recovery[0] is None  # 170 < 0.9 x 200: the default run is held to the quota


def test_targets_say_met_or_missed_with_the_figures() -> None:
    cell = Cell("b", "burst 10", 100, 10)
    good = Run("fcaudit", 16.0, 1500, 15, 2.0, steady=95.0, peak=105)
    pool = Run(POOL, 16.0, 3000, 1500, 3.0, steady=100.0, peak=200)
    outcome = CellOutcome(cell, (good, pool))
    verdicts = dict((label.split(" ")[0], ok) for label, ok in targets(outcome, good))
    assert verdicts == {"accepted": True, "≥": False, "throttled": True, "peak": True}
    capped = Run(RATE, 16.0, 1500, 0, 2.0, steady=89.0, peak=90, rate=90.0)
    labels = [label for label, ok in targets(CellOutcome(cell, (capped,)), capped) if ok]
    assert any("0.9×--rate" in label for label in labels)  # --rate 90 is a ceiling: 0.9 x 90 is enough
    assert "MISSED: ≥ SDK pool 100/s" in render([outcome])


def test_the_sdk_pool_is_matched_within_a_request_per_second() -> None:
    """Both at the quota, the steady rates differ by a few tenths of a percent either way (whole requests
    counted per second): that is a tie, not fcaudit below the pool; half a percent of the quota more is
    a miss."""
    cell = Cell("b", "burst 50", 500, 50)
    pool = Run(POOL, 16.0, 8600, 1200, 3.0, steady=500.22, peak=660)
    tied = Run("fcaudit", 16.0, 7500, 90, 2.0, steady=499.5, peak=510)
    assert ("≥ SDK pool 500/s", True) in targets(CellOutcome(cell, (tied, pool)), tied)
    below = Run("fcaudit", 16.0, 7500, 90, 2.0, steady=497.6, peak=510)
    assert ("≥ SDK pool 500/s", False) in targets(CellOutcome(cell, (below, pool)), below)


def test_a_rate_run_is_held_to_its_ceiling_not_to_the_sdk_pool() -> None:
    """--rate below the quota is a ceiling, never a trap: the run must stay at it (0.9 x --rate), but a
    pool that sits at the quota is out of reach for a client capped under it."""
    cell = Cell("b", "burst 10", 100, 10)
    pool = Run(POOL, 16.0, 3000, 1500, 3.0, steady=99.0, peak=200)
    held = Run(RATE, 16.0, 1500, 0, 2.0, steady=88.0, peak=90, rate=90.0)
    verdicts = {label: ok for label, ok in targets(CellOutcome(cell, (held, pool)), held)}
    assert verdicts == {
        "accepted 88/s ≥ 0.9×--rate 90/s": True,
        "throttled 0.0% < 3%": True,
        "peak 1 s 90 ≤ 130": True,
    }
    trapped = Run(RATE, 16.0, 1500, 0, 2.0, steady=70.0, peak=75, rate=90.0)
    assert ("accepted 70/s ≥ 0.9×--rate 90/s", False) in targets(CellOutcome(cell, (trapped, pool)), trapped)
    # a one-request bucket: 0.9 x --rate, or the burst-1 rule (0.8 x quota up to 200/s), whichever is less
    strict = Cell("b1", "burst 1", 100, 1)
    paced = Run(RATE, 16.0, 1500, 10, 2.0, steady=80.5, peak=85, rate=90.0)
    label, ok = targets(CellOutcome(strict, (paced, pool)), paced)[0]
    assert (label, ok) == ("accepted 80/s ≥ 0.9×--rate 90/s or 0.8×quota", True)
    # the default run is still held to the SDK pool
    default = Run("fcaudit", 16.0, 1500, 15, 2.0, steady=95.0, peak=105)
    assert ("≥ SDK pool 99/s", False) in targets(CellOutcome(cell, (default, pool)), default)


def test_the_bound_follows_a_changing_quota() -> None:
    cell = Cell("h", "halves", 100, 10, changes=((10.0, 0.5),))
    run = Run("fcaudit", 20.0, 1500, 0, 1.0, steady=None, peak=None)
    assert bound(cell, run) == pytest.approx(10.0 + 500 / 50, abs=0.02)


def test_each_child_is_noted_when_it_ends_not_when_those_before_it_have() -> None:
    # the first child outlives the second: waiting for them in turn noted the second's end 0.8 s late,
    # and a shared quota's steady span ran into the tail the first crawl had to itself
    slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.9)"])
    quick = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    started = time.monotonic()
    (slow_end, _), (quick_end, quick_cpu) = _quota_grid.wait_each([slow, quick])
    assert quick_end - started < 0.6 < slow_end - started
    assert (slow.returncode, quick.returncode) == (0, 3)
    assert quick_cpu > 0  # the child's own CPU, from wait4


def test_the_grid_takes_only_the_clients_and_cells_asked_for() -> None:
    cells, clients = grid_choice(["win-100", "b1-5"], ["sdk-pool", "fcaudit"])
    assert cells == ["win-100", "b1-5"]
    assert clients == (_quota_grid.DEFAULT, _quota_grid.POOL)  # the grid's order, not the flags'
    assert grid_choice(None, None) == (None, _quota_grid.CLIENTS)


@pytest.mark.parametrize(
    ("cells", "only", "says"),
    [
        (["win-1000"], None, "--cells win-1000: no such grid cell"),
        (None, ["sdk-loop"], "--only sdk-loop: the grid runs"),
    ],
)
def test_an_unknown_grid_cell_or_client_is_named(
    cells: list[str] | None, only: list[str] | None, says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        grid_choice(cells, only)
