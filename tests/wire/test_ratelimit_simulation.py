"""Issue 17's targets, asserted on the seeded virtual-time simulation (tests/support/rate_simulation.py).

Every quota shape the issue names, over quotas of 5..2,000 requests/s, bursts of 1 request to 1 s of
quota and latencies of 2..100 ms with jitter; after the first 5 s of each simulated crawl:

- accepted ≥ 0.9 × quota with a burst of 10 or more (a fixed window lets a whole second through: its
  burst is the quota); with a burst of 1, ≥ 0.8 × quota up to 200 requests/s and above that ≥ 0.9 × the
  best fixed pace (the highest fixed pace with under 3% throttled: at a millisecond or two between
  requests, arrival jitter alone trips a one-request bucket, so no client reaches the quota);
- never below the SDK pool's accepted rate in the same cell;
- throttled < 3% of the requests over the whole crawl;
- no whole second with more than 1.2 × quota + burst arrivals;
- after the quota halves or doubles, within 10% of the new quota in under 5 s;
- ``--rate`` under the quota is held (a ceiling, never a trap).

Where a target is out of reach for any client the cell says so and asserts what is possible instead,
with the arithmetic in docs/performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest

from crawler.emulator.faults import QuotaShape
from tests.support.rate_simulation import Result, Shape, best_fixed_pace, enough_workers, simulate


@dataclass(frozen=True)
class Cell:
    name: str
    shape: Shape
    duration: float = 20.0
    clients: int = 1
    ceiling: float | None = None
    #: the throttled share allowed over the whole crawl; above 3% only where docs/performance.md shows
    #: the arithmetic (a start or a probe that costs a fixed number of throttles, at a low quota)
    throttled: float = 0.03


def bucket(quota: float, burst: int, latency: float, **extra: object) -> Shape:
    return Shape(quota, burst, latency=latency, jitter=latency / 2, **extra)  # type: ignore[arg-type]


CELLS = [
    # at 5/s every probe above the quota costs at least one throttled answer, and holding the pace
    # until the probes are paid for at 2% takes 50 answers (10 s) per throttle: ~2% steady, plus the
    # start's handful; a 100 ms round trip lets slow start overshoot a 5-request burst by a few more
    Cell("5/s burst 1, 20 ms", bucket(5, 1, 0.02), duration=240),
    Cell("5/s burst 5, 100 ms", bucket(5, 5, 0.1), duration=240, throttled=0.05),
    Cell("20/s burst 1, 100 ms", bucket(20, 1, 0.1), duration=60),
    Cell("20/s burst 20, 2 ms", bucket(20, 20, 0.002), duration=240),
    Cell("100/s burst 1, 20 ms", bucket(100, 1, 0.02)),
    Cell("100/s burst 10, 2 ms", bucket(100, 10, 0.002)),
    Cell("100/s burst 100, 100 ms", bucket(100, 100, 0.1), duration=60),
    Cell("200/s burst 1, 50 ms", bucket(200, 1, 0.05)),
    Cell("500/s burst 1, 10 ms", bucket(500, 1, 0.01)),
    Cell("500/s burst 50, 20 ms", bucket(500, 50, 0.02)),
    Cell("500/s burst 500, 2 ms", bucket(500, 500, 0.002)),
    Cell("2,000/s burst 1, 2 ms", bucket(2000, 1, 0.002), duration=20),
    Cell("2,000/s burst 10, 20 ms", bucket(2000, 10, 0.02), duration=12),
    # slow start overshoots a 2,000-request burst 5x before the first throttle can come back a round
    # trip later: ~1,000 throttled answers once, under 3% from a 20 s crawl on
    Cell("2,000/s burst 2,000, 100 ms", bucket(2000, 2000, 0.1), duration=30),
    Cell("window 100/s, 20 ms", bucket(100, 100, 0.02, kind="window"), duration=120),
    Cell("window 1,000/s, 5 ms", bucket(1000, 1000, 0.005, kind="window"), duration=40),
    Cell("200/s burst 20 halves at 10 s, back at 20 s", bucket(200, 20, 0.02, changes=((10, 0.5), (20, 1))),
         duration=30),
    # a one-request bucket at 25/s: every probe above its edge costs 2-3 throttled answers, and finding
    # the doubling within 5 s takes a probe every few seconds: ~3% over a 30 s crawl (the first 10 s
    # of which are at 50/s); under 3% and within 5 s cannot both hold at this quota
    Cell("50/s burst 1 halves at 10 s, back at 20 s", bucket(50, 1, 0.02, changes=((10, 0.5), (20, 1))),
         duration=30, throttled=0.05),
    Cell("2,000/s burst 200 halves at 8 s, back at 14 s",
         bucket(2000, 200, 0.01, changes=((8, 0.5), (14, 1))), duration=20),
    Cell("300/s burst 30 shared by 3 endpoints", bucket(300, 30, 0.02), clients=3),
    Cell("20/s burst 1 shared by 2 endpoints", bucket(20, 1, 0.02), clients=2, duration=120),
    Cell("100/s burst 10, Retry-After", bucket(100, 10, 0.02, retry_after=True)),
    Cell("20/s burst 1, Retry-After", bucket(20, 1, 0.02, retry_after=True), duration=60),
    Cell("100/s burst 1, 5 ms arrival jitter", bucket(100, 1, 0.02, arrival_jitter=0.005)),
    Cell("1,000/s burst 100, 10 ms arrival jitter", bucket(1000, 100, 0.02, arrival_jitter=0.01),
         duration=12),
    Cell("--rate 0.9 x 100/s burst 10", bucket(100, 10, 0.02), ceiling=90),
    Cell("--rate 0.9 x 500/s burst 1", bucket(500, 1, 0.01), ceiling=450),
]  # fmt: skip


def workers(cell: Cell) -> int:
    return enough_workers(cell.shape, cell.clients)


@cache
def run(cell: Cell) -> Result:
    return simulate(
        cell.shape, ceiling=cell.ceiling, clients=cell.clients, duration=cell.duration, workers=workers(cell)
    )


@cache
def pool(cell: Cell) -> Result:
    return simulate(
        cell.shape, pacer="sdk", clients=cell.clients, duration=cell.duration, workers=workers(cell)
    )


@cache
def best(shape: Shape) -> float:
    return best_fixed_pace(shape)


def accepted_goal(cell: Cell) -> float:
    """The accepted rate the cell must reach (before the SDK-pool and ceiling comparisons)."""
    shape = cell.shape
    if shape.burst >= 10 or shape.kind == "window":
        goal = 0.9 * shape.quota
    elif shape.quota <= 200 and best(shape) >= 0.8 * shape.quota:
        goal = 0.8 * shape.quota
    else:  # the quota is out of reach under 3% throttled: 0.9 x the best fixed pace
        goal = 0.9 * best(shape)
    if cell.ceiling is not None:
        goal = min(goal, 0.95 * cell.ceiling)
    return goal


POOL_SLACK = 0.05


def yardstick(cell: Cell) -> float:
    """The SDK pool's accepted rate, or the best fixed pace where the pool's rate costs more than 3%
    throttled (a one-request bucket: no pace under 3% reaches it)."""
    sdk = pool(cell).steady()
    if cell.shape.burst == 1 and pool(cell).share >= 0.03:
        return min(sdk, best(cell.shape))
    return sdk


@pytest.mark.parametrize("cell", [c for c in CELLS if not c.shape.changes], ids=lambda c: c.name)
def test_the_quota_is_found_and_held(cell: Cell) -> None:
    result, shape = run(cell), cell.shape
    steady = result.steady()
    assert steady >= accepted_goal(cell)
    # the pool sits exactly at the quota at the price of 20-90% throttled; a pace with few throttles
    # holds a little below it and probes: "never below" within POOL_SLACK of the quota
    assert steady >= yardstick(cell) - POOL_SLACK * shape.quota or cell.ceiling is not None
    assert result.share < cell.throttled
    assert result.peak() <= 1.2 * shape.quota + shape.burst


def test_a_ceiling_under_the_quota_is_held_not_a_trap() -> None:
    cell = next(c for c in CELLS if c.ceiling == 90)
    result = run(cell)
    assert result.throttled == 0
    assert result.steady() == pytest.approx(90, abs=1)
    assert result.peak() <= 91


@pytest.mark.parametrize("cell", [c for c in CELLS if c.shape.changes], ids=lambda c: c.name)
def test_a_quota_that_halves_then_doubles_is_followed_within_five_seconds(cell: Cell) -> None:
    """Within 10% of the new quota (of the best fixed pace at it, for a one-request bucket) in < 5 s:
    the first whole second whose admitted count is within 10% ends at most 5 s after the change (its
    average is, so the rate was before its end)."""
    result, shape = run(cell), cell.shape
    for at, factor in shape.changes:
        target = shape.quota * factor
        if shape.burst == 1:
            target = min(target, best(Shape(target, 1, latency=shape.latency, jitter=shape.jitter)))
        took = result.recovery(at, target, shape.burst)
        assert took is not None, (at, factor)
        assert took <= 5.0, (at, factor, took)
    assert result.share < cell.throttled
    assert result.peak() <= 1.2 * shape.quota + shape.burst


#: quotas that fall far mid-crawl (another tool starts on the account, an operator lowers the quota):
#: the rate is then several times the quota, every round throttled, the cuts under a second apart
FALLS = [
    Cell("window 100/s falls to a fifth at 10 s", bucket(100, 100, 0.02, kind="window", changes=((10, 0.2),)),
         duration=30),
    Cell("window 1,000/s falls to a tenth at 10 s",
         bucket(1000, 1000, 0.005, kind="window", changes=((10, 0.1),)), duration=30),
    Cell("100/s burst 10 falls to a tenth at 10 s", bucket(100, 10, 0.02, changes=((10, 0.1),)), duration=30),
    Cell("1,000/s burst 100 falls to a fifth at 10 s", bucket(1000, 100, 0.005, changes=((10, 0.2),)),
         duration=30),
    Cell("2,000/s burst 200 falls to a quarter at 10 s", bucket(2000, 200, 0.01, changes=((10, 0.25),)),
         duration=30),
    Cell("100/s burst 1 falls to 0.3 at 10 s", bucket(100, 1, 0.02, changes=((10, 0.3),)), duration=30),
]  # fmt: skip


@pytest.mark.parametrize("cell", FALLS, ids=lambda c: c.name)
def test_a_quota_that_falls_far_is_followed_down_not_overrun(cell: Cell) -> None:
    """From 5 s after the fall: arrivals at most 1.15 x the new quota (a 10/s bucket's burst of 10 adds
    a few a second), the new quota's goal accepted, under 10% throttled (the fall's first seconds, at
    up to 10 x the quota, are not judged), no second above 1.2 x quota + burst. A bottom that held
    while the cuts kept coming under a second apart kept these cells at 1.3-4.4 x the new quota,
    23-77% throttled, to the end."""
    result, shape = run(cell), cell.shape
    ((at, factor),) = shape.changes
    quota = shape.quota * factor
    start = at + 5.0
    arrived = result.arrived(start)
    accepted = result.steady(start)
    assert arrived <= 1.15 * quota
    assert 1.0 - accepted / arrived < 0.10
    burst = min(shape.burst, quota) if shape.kind == "window" else shape.burst
    assert result.peak(start) <= 1.2 * quota + burst
    if shape.burst == 1:
        # a one-request bucket: the descent's throttles count as the cost of a probe at the edge it
        # found, so the pace holds at that edge for a while before it probes (docs/performance.md)
        assert accepted >= 0.7 * quota
    else:
        assert accepted >= 0.9 * quota


#: a quota that falls to a tenth at 5 s and comes back at 15 s (another crawl on the account, then done):
#: (burst, the pace recovered: a burst of 1 holds 0.8-0.9 x its quota, not 0.9-1.0)
COMEBACKS = [pytest.param(10, 100.0, id="burst 10"), pytest.param(1, 85.0, id="burst 1")]


@pytest.mark.parametrize(("burst", "target"), COMEBACKS)
def test_a_quota_that_falls_to_a_tenth_and_comes_back_is_found_again(burst: int, target: float) -> None:
    """Ten seeds: within 18 s of the return, a second admits 0.9 x the recovered pace (and at most 1.1 x
    it plus the burst arrive), under 4.5% throttled over the crawl. At 10/s the edge found twice held
    the next probe for what probing cost at 1%, 100-300 answers, 10-30 s, then again: 4 seeds of 10
    with a burst of 10 and 9 with a burst of 1 never came back within 30 s (6-8% throttled). Far under
    the highest edge found twice, the hold now lasts 10 s at most."""
    shape = Shape(100, burst, changes=((5.0, 0.1), (15.0, 1.0)), latency=0.02, jitter=0.01)
    for seed in range(1, 11):
        result = simulate(shape, duration=45, seed=seed)
        took = result.recovery(15.0, target, burst)
        assert took is not None, seed
        assert took <= 18.0, (seed, took)
        assert result.share < 0.045, seed


#: a quota of N calls a minute (the form of Alibaba's published API quotas): a window counter of 60 s
#: (quota/s, seconds, the most throttled share)
MINUTE_QUOTAS = [pytest.param(10.0, 0.15, id="600 a minute"), pytest.param(100.0, 0.02, id="6,000 a minute")]


@pytest.mark.parametrize(("quota", "throttled"), MINUTE_QUOTAS)
def test_a_minutes_quota_spent_in_seconds_is_waited_out_with_a_probe_a_second(
    quota: float, throttled: float
) -> None:
    """Three minutes, three seeds: every minute's quota is used (what a pace at the quota would get: the
    server decides), and the rest of each minute costs a probe a second, not four. With probes a
    quarter second apart the whole stall long, 27% and 3.5% of the requests were throttled."""
    shape = Shape(quota, int(quota * 60), "window", latency=0.02, jitter=0.01, window=60.0)
    for seed in (1, 2, 3):
        result = simulate(shape, duration=200, seed=seed)
        assert sum(result.accepted[:180]) == pytest.approx(180 * quota, rel=0.01), seed
        assert result.share < throttled, seed


#: the grid's window counter (100/s, 10 ms + 0-10 ms, 32 workers) over a 30 s crawl. A window admits its
#: second's quota at once and then refuses everything to the end of that second, whatever the pace: the
#: limiter that cut to half the last second's admitted and kept sending through it (7461436) had
#: 94-98 refusals in the first second alone, 4.1-7.8% over the crawl (mean 5.5%), 7.0-12.7% over 15 s
WINDOW_CRAWL = Shape(100, 100, "window", latency=0.01, jitter=0.01)


def test_a_window_counters_spent_second_is_waited_out_with_probes_not_paced_through() -> None:
    """A stall: a round trip of refusals and none admitted, so one probe at a time until one is
    admitted, and the pace resumes at what the second before admitted. Ten seeds: under 4% throttled
    each and 3% on average, 0.95 x the quota accepted from 5 s on, no second over 1.2 x quota."""
    results = [simulate(WINDOW_CRAWL, duration=30, seed=seed) for seed in range(1, 11)]
    for seed, result in enumerate(results, 1):
        assert result.share < 0.04, seed
        assert result.steady() >= 0.95 * WINDOW_CRAWL.quota, seed
        assert result.peak() <= 1.2 * WINDOW_CRAWL.quota, seed
    assert sum(result.share for result in results) / len(results) < 0.03


#: a ceiling far above the quota: the limiter starts at it (no slow start), every round throttled
OVER_CEILINGS = [
    Cell("--rate 3 x window 100/s", bucket(100, 100, 0.02, kind="window"), ceiling=300),
    Cell("--rate 10 x 100/s burst 10", bucket(100, 10, 0.02), ceiling=1000),
]


@pytest.mark.parametrize("cell", OVER_CEILINGS, ids=lambda c: c.name)
def test_a_ceiling_far_above_the_quota_is_followed_down_to_it(cell: Cell) -> None:
    """``--rate`` is a ceiling, not a pace to hold: from 5 s on, arrivals at most 1.1 x the quota, under
    10% of them throttled, 0.9 x the quota accepted. The episode's floor held while the cuts kept coming
    kept these at 1.5 x and 1.8 x the quota, 33% and 44% throttled."""
    result, quota = run(cell), cell.shape.quota
    arrived = result.arrived()
    accepted = result.steady()
    assert arrived <= 1.1 * quota
    assert 1.0 - accepted / arrived < 0.10
    assert accepted >= 0.9 * quota


#: the grid's 100/s one-request bucket on a busy 2-core machine (load 5-6), as measured end to end: the
#: pacer's wake-ups late by 0.6 ms median, 4 ms at the 90th percentile (an exponential tail of 1.8 ms
#: mean), each request's way from its start to the quota 1 ms median, 4.4-5.5 ms at the 90th (2.2 ms)
BUSY = Shape(100, 1, latency=0.01, jitter=0.01, arrival_jitter=0.0, timer_tail=0.0018, arrival_tail=0.0022)


def test_on_a_busy_machine_no_pace_reaches_a_one_request_bucket_quota() -> None:
    """Under the measured lateness the best fixed pace with under 3% throttled is 0.57 x quota: the
    0.8 x quota target is out of any client's reach end to end on such a machine (the arithmetic is in
    docs/performance.md)."""
    best_pace = best_fixed_pace(BUSY)
    assert 0.5 * BUSY.quota <= best_pace < 0.8 * BUSY.quota


def test_on_a_busy_machine_a_ceiling_is_still_held() -> None:
    """A late start keeps the schedule, so --rate's pace survives a busy machine's lateness: made up by
    at most a fifth of an interval and the rest dropped (tried), --rate 90 on a 100/s bucket with a
    burst of 10 held 85/s."""
    shape = Shape(
        100, 10, latency=0.01, jitter=0.01, arrival_jitter=0.0, timer_tail=0.0018, arrival_tail=0.0022
    )
    result = simulate(shape, ceiling=90, duration=30)
    assert result.throttled == 0
    assert result.steady() >= 88


def test_on_a_busy_machine_a_halved_quota_is_still_followed() -> None:
    """The grid's halving cell with the measured lateness. Spacing a late start's make-up over the
    starts that follow (so two are never nearly back to back) leaked the pace, the rate drifted above
    what the pacer delivered, and the halved quota was overshot: 7-11% throttled, the halving not
    followed within 5 s (end to end 11-22%). Made up at once: 2.6%, followed in 2 s and 4 s."""
    shape = Shape(
        200, 20, latency=0.01, jitter=0.01, arrival_jitter=0.0, changes=((10, 0.5), (20, 1)),
        timer_tail=0.0018, arrival_tail=0.0022,
    )  # fmt: skip
    result = simulate(shape, duration=30)
    assert result.share < 0.03
    for at, factor in shape.changes:
        took = result.recovery(at, shape.quota * factor, shape.burst)
        assert took is not None, (at, factor)
        assert took <= 5.0, (at, factor, took)


#: one-request buckets shared by the endpoints of one account: (quota, endpoints, seconds, the least
#: accepted share of the quota over ten seeds, the most throttled share over the crawl). Without a
#: SharedQuota (3b34ae0 and before) half the seeds settled at 0.13-0.45 x with up to 20% throttled:
#: each endpoint's share of throttles is the other's rate over the quota, whatever its own, so cuts
#: ratcheted both down. With the verdict's first rules (7461436) the least were 0.86, 0.72 and 0.73,
#: three endpoints 5.7% throttled. Three endpoints stay over issue 17's 3% in some seeds
#: (docs/performance.md, "Endpoints that share a one-request bucket")
SHARED = [
    pytest.param(33.5, 2, 60, 0.88, 0.03, id="33.5/s, 2 endpoints"),
    pytest.param(100, 2, 30, 0.78, 0.025, id="100/s, 2 endpoints"),
    pytest.param(30, 3, 60, 0.8, 0.05, id="30/s, 3 endpoints"),
]


@pytest.mark.parametrize(("quota", "endpoints", "seconds", "least", "throttled"), SHARED)
def test_a_one_request_bucket_shared_by_endpoints_is_held_whatever_their_phases(
    quota: float, endpoints: int, seconds: float, least: float, throttled: float
) -> None:
    """Over ten seeds (the limiters' relative phases): the endpoints are found to share the quota and
    paced as one before their cuts ratchet them down."""
    shape = Shape(quota, 1, latency=0.02, jitter=0.01)
    for seed in range(1, 11):
        result = simulate(shape, clients=endpoints, duration=seconds, seed=seed)
        assert result.steady() >= least * quota, seed
        assert result.share < throttled, seed


@pytest.mark.parametrize(
    ("quota", "endpoints", "ceiling"),
    [
        pytest.param(33.5, 2, 20.0, id="--rate 10 x 2 under 33.5/s"),
        pytest.param(100, 3, 60.0, id="--rate 20 x 3 under 100/s"),
    ],
)
def test_ceilings_that_add_up_under_a_shared_one_request_bucket_are_held(
    quota: float, endpoints: int, ceiling: float
) -> None:
    """--rate never becomes a trap, shared or not: the endpoints' paces begin out of step, so ceilings
    that add up under the quota never collide. In step, every token was fought over, and the runs
    ended at 0.13-0.30 x the quota with 5-14% throttled."""
    shape = Shape(quota, 1, latency=0.02, jitter=0.01)
    for seed in range(1, 11):
        result = simulate(shape, clients=endpoints, duration=30, seed=seed, ceiling=ceiling)
        assert result.throttled == 0, seed
        assert result.steady() >= 0.98 * ceiling, seed


#: endpoints with quotas of their own (one per region, as FC's are): (quotas, burst, shape, --rate over
#: them all, a busy machine's lateness)
OWN = [
    pytest.param((20.0, 300.0), 1, "bucket", None, 0.0, id="20/s and 300/s, burst 1"),
    pytest.param((20.0, 300.0), 10, "bucket", None, 0.0, id="20/s and 300/s, burst 10"),
    pytest.param((5.0, 100.0), 1, "bucket", None, 0.0, id="5/s and 100/s, burst 1"),
    pytest.param((30.0, 30.0, 30.0), 1, "bucket", None, 0.0, id="three at 30/s, burst 1"),
    pytest.param((100.0, 200.0), 0, "window", None, 0.0, id="windows of 100/s and 200/s"),
    pytest.param((40.0, 40.0), 1, "bucket", 80.0, 0.0, id="--rate 40 x 2 at two 40/s quotas"),
    pytest.param((100.0, 100.0), 10, "bucket", None, 0.0, id="two 100/s, burst 10, in step"),
    pytest.param((20.0, 300.0), 1, "bucket", None, 0.002, id="20/s and 300/s, burst 1, busy"),
    pytest.param((40.0, 40.0), 1, "bucket", 80.0, 0.005, id="--rate at two 40/s quotas, busy"),
]


@pytest.mark.parametrize(("quotas", "burst", "kind", "ceiling", "busy"), OWN)
def test_endpoints_with_quotas_of_their_own_are_never_paced_as_one(
    quotas: tuple[float, ...], burst: int, kind: QuotaShape, ceiling: float | None, busy: float
) -> None:
    """A wrong verdict would pace a 300/s region at the pace of a 20/s one: over ten seeds, none."""
    shape = Shape(max(quotas), burst, kind, latency=0.02, jitter=0.01, timer_tail=busy, arrival_tail=busy)
    for seed in range(1, 11):
        result = simulate(
            shape, clients=len(quotas), duration=30, seed=seed, own_quotas=quotas, ceiling=ceiling
        )
        assert result.joined == 0, seed
