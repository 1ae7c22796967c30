"""The shared limiter: exact pacing on an injected clock, the in-flight cap, and the controller's
arithmetic rule by rule (rounds, the tolerated share, the cut from what the server admits, the hold, the
cubic recovery, slow start again). The quota shapes and issue 17's targets are in
test_ratelimit_simulation.py."""

from __future__ import annotations

import math

import anyio
import pytest
from structlog.testing import capture_logs

from crawler.wire import ratelimit
from crawler.wire.ratelimit import AdaptiveRate, RateLimiter
from tests.support.limiter_support import VirtualClock, slot
from tests.support.rate_simulation import Shape, simulate

pytestmark = pytest.mark.anyio


async def test_requests_are_paced_exactly_at_the_ceiling() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(10.0, 4, clock, clock.sleep)
    starts = []
    for _ in range(5):
        async with slot(limiter) as sent_at:
            starts.append(sent_at)
    assert starts == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


async def test_an_idle_limiter_does_not_burst() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(4.0, 8, clock, clock.sleep)
    async with slot(limiter):
        pass
    clock.now = 100.0
    starts = []
    for _ in range(3):
        async with slot(limiter) as sent_at:
            starts.append(sent_at)
    assert starts == pytest.approx([100.0, 100.25, 100.5])


async def test_the_in_flight_cap_holds() -> None:
    limiter = RateLimiter(None, 2)
    limiter.core.rate = 1e9  # pacing out of the way: this test is about the cap
    entered: list[int] = []
    release = anyio.Event()

    async def worker(n: int) -> None:
        async with slot(limiter):
            entered.append(n)
            await release.wait()

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(worker, n)
        await anyio.wait_all_tasks_blocked()
        assert len(entered) == 2
        release.set()
    assert sorted(entered) == [0, 1, 2]


async def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(1.0, 1, clock, clock.sleep)
    await limiter.acquire()
    with anyio.move_on_after(0.01):
        await limiter.acquire()  # blocked on the cap, then cancelled
    limiter.release()
    assert await limiter.acquire() >= 0.0


# ---- the arithmetic -------------------------------------------------------------------------------


def busy(core: AdaptiveRate, now: float, starts: int) -> None:
    """Make ``core`` look like the bottleneck at ``now``: a request waiting, ``starts`` recent starts."""
    for i in range(starts):
        core.started(now - 0.2 + i * 0.2 / starts)
    core.next_start(now - 1e-6)


def past_slow_start(rate: float, level: float) -> AdaptiveRate:
    """A core past slow start at ``rate``, anchored at ``level``, with no round begun."""
    core = AdaptiveRate(None)
    core.slow_start, core.rate, core.level = False, rate, level
    return core


def answer_round(core: AdaptiveRate, start: float, n: int, throttled: int, gap: float = 0.02) -> bool:
    """``n`` answers ``gap`` apart from ``start`` (the last ``throttled`` of them throttled), each sent
    10 ms before it comes; True if one of them cut."""
    cut = False
    for i in range(n):
        t = start + i * gap
        if i >= n - throttled:
            cut = core.throttled(t, sent_at=t - 0.01) or cut
        else:
            core.succeeded(t, sent_at=t - 0.01)
    return cut


def test_slow_start_grows_per_success_capped_per_round_trip() -> None:
    core = AdaptiveRate(None)
    assert (core.rate, core.slow_start) == (5.0, True)  # INITIAL_RATE
    busy(core, 10.0, 20)
    core.succeeded(10.0, sent_at=9.99)  # 10 ms round trip: the per-success gain applies
    assert core.rate == pytest.approx(15.0)  # 5/s + SLOW_START_GAIN 10/s per success
    slow = AdaptiveRate(None)
    busy(slow, 10.0, 20)
    slow.succeeded(10.0, sent_at=9.0)  # 1 s round trip: growth limited to e^0.4 per round trip
    assert slow.rate == pytest.approx(5.4)  # 5/s + SLOW_START_PER_RTT 0.4 per 1 s round trip


def test_no_growth_unless_the_limiter_is_the_bottleneck() -> None:
    core = AdaptiveRate(None)
    core.started(0.0)
    core.succeeded(5.0, sent_at=4.99)  # nothing waited on the pace
    assert core.rate == 5.0


def test_a_round_with_a_high_share_cuts_once_from_the_admitted_pace() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    # ten answers over 0.18 s, three throttled: share 0.3, smoothed 0.25 x 0.3 = 0.075
    assert answer_round(core, 1.0, 10, 3)
    assert core.share == pytest.approx(0.075)
    # admitted: 100 x (1 - 0.3) = 70, or the 7 successes over the last second (7/s): 70; then
    # half the smoothed share below it
    assert core.level == pytest.approx(70.0)
    assert core.rate == pytest.approx(70.0 * (1 - 0.0375))
    assert core.cuts == 1
    assert not core.throttled(1.25, sent_at=1.15)  # sent before the cut: it says nothing of the new pace


def test_a_lone_throttle_is_jitter_and_a_tolerated_share_does_not_cut() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    assert not answer_round(core, 1.0, 10, 1)  # one of ten: smoothed share 0.025, TOLERATED
    assert core.rate == 100.0
    assert answer_round(core, 2.0, 10, 1)  # another: 0.025 + 0.25 x (0.1 - 0.025) = 0.044 > 0.025
    assert core.cuts == 1


def test_a_one_request_bucket_past_its_edge_is_cut_from_the_last_clean_pace() -> None:
    # paced just past a one-request bucket's edge, every other request is throttled: the round reads
    # half the pace admitted, yet the pace of the round before, with no throttle, was admitted whole
    core = past_slow_start(rate=100.0, level=150.0)
    busy(core, 1.0, 25)
    assert not answer_round(core, 1.0, 10, 0)
    assert core._clean == pytest.approx(100.0)
    assert answer_round(core, 1.3, 10, 5)
    assert core.level == pytest.approx(100.0)  # not 50
    assert core.rate == pytest.approx(100.0 * (1 - 0.0625))  # half the smoothed share 0.125


def test_cuts_in_quick_succession_stop_at_half_the_first_ones_anchor() -> None:
    # a quota that fell far below the pace: round after round reads 70% (a run of seven refusals, under
    # a stall's eight)
    core = past_slow_start(rate=100.0, level=100.0)
    assert answer_round(core, 1.0, 10, 7)
    first = core.level
    assert first is not None
    assert first == pytest.approx(50.0)  # an alarm (three throttles, three successes): half at most, MAX_CUT
    for start in (1.3, 1.6):
        assert answer_round(core, start, 10, 7)
    assert core.rate >= 0.5 * first


def test_a_window_counters_refusals_to_the_end_of_its_second_are_a_stall_not_cuts() -> None:
    # a window counter refuses everything to the end of its second, whatever the pace: eight refusals
    # running, then one probe at a time until one is admitted, which resumes at the second's admitted
    core = past_slow_start(rate=100.0, level=100.0)
    for i in range(100):
        core.succeeded(0.1 + i * 0.008, sent_at=0.09 + i * 0.008)  # the window's 100, by 0.9 s
    assert answer_round(core, 1.0, 10, 10)  # the alarm: anchored at 50
    assert core._stalled
    rate = core.rate
    for i in range(20):  # refused probes: no cut, however many
        assert not core.throttled(1.5 + i * 0.01, sent_at=1.5 + i * 0.01 - 0.001)
    assert core.rate == rate
    core.succeeded(2.05, sent_at=2.04)  # the next second's first
    assert not core._stalled


def test_the_probe_above_a_found_edge_waits_until_it_is_paid_for() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    assert answer_round(core, 1.0, 10, 2)  # anchored at 100 x 0.8 = 80: a new edge, no hold
    assert core.level == pytest.approx(80.0)
    assert core._hold == 0.0
    # one more throttle (smoothed share 0.0625): anchored at 78 x 0.9 = 70.2, the edge again (within 15%)
    assert answer_round(core, 2.0, 10, 1)
    assert core.level == pytest.approx(78.0 * 0.9)
    assert core._hold == pytest.approx(1 / 0.01)  # PROBE_SHARE: 100 answers before probing above it


def test_the_cubic_recovery_goes_back_to_the_anchor_then_above_it() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    core._k = 1.0  # from 90/s (1 - CUBIC x K^3): K = 1 s of growth back to the anchor
    core.rate = 90.0
    busy(core, 5.0, 25)
    core._grow(5.0, 0.2)  # 0.2 s of growth: 100 x (1 + 0.1 x (0.2 - 1)^3) = 94.9
    assert core.rate == pytest.approx(100.0 * (1 + 0.1 * (-0.8) ** 3))
    core._grow(5.0, 0.8)  # at K: the anchor, but at most 25% a round
    assert core.rate == pytest.approx(100.0)
    core._grow(5.0, 1.0)  # 1 s past K: 110
    assert core.rate == pytest.approx(110.0)


def test_twice_the_anchor_slow_start_left_without_a_throttle_is_slow_start_again() -> None:
    core = AdaptiveRate(None)
    core.rate = 40.0
    assert answer_round(core, 0.5, 10, 3)  # slow start ends: anchored at 40 / e^0.4 = 26.8
    assert core.level == pytest.approx(40.0 * math.exp(-0.4))
    assert not core.slow_start
    assert core.level is not None
    core.rate = 2.0 * core.level  # grown back to twice it, and not a throttle since
    busy(core, 3.0, 100)
    core._grow(3.0, 0.1)
    assert core.slow_start


def test_never_above_the_ceiling_nor_below_the_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    # rounds of nothing but refusals, second after second: with some admitted between them, as the floor
    # is for (with none, three over half a second are a stall: test_ratelimit_controller_pins.py)
    monkeypatch.setattr(ratelimit, "DRY_RUN", 10**9)
    core = AdaptiveRate(8.0)
    assert (core.rate, core.slow_start) == (8.0, False)
    busy(core, 3.0, 5)
    core.succeeded(3.0, sent_at=2.99)
    assert core.rate == 8.0
    for t in range(1, 200):
        answer_round(core, float(t), 10, 10, gap=0.001)
    assert core.rate == pytest.approx(0.2)  # MIN_RATE
    with pytest.raises(ValueError, match="ceiling"):
        AdaptiveRate(0.0)


def test_a_cut_is_logged() -> None:
    clock = VirtualClock(5.0)
    limiter = RateLimiter(None, 4, clock, clock.sleep, name="http://127.0.0.1:1")
    with capture_logs() as logs:
        for i in range(3):  # an alarm: three throttles in slow start end it at once
            clock.now = 5.0 + i * 0.01
            limiter.on_throttled(clock.now - 0.005)  # each sent on its own, not together by the window
    assert [e["event"] for e in logs] == ["ratelimit.cut"]
    assert logs[0]["rate_before"] == 5.0
    assert logs[0]["rate"] < 5.0


def test_a_stall_is_logged_once() -> None:
    clock = VirtualClock(5.0)
    limiter = RateLimiter(None, 4, clock, clock.sleep, name="http://127.0.0.1:1")
    for i in range(40):  # forty admitted over the second before
        clock.now = 4.0 + i * 0.025
        limiter.on_success(clock.now - 0.01)
    with capture_logs() as logs:
        for i in range(20):  # refusals, each sent on its own: a cut, then eight more over a round trip
            clock.now = 5.0 + i * 0.01
            limiter.on_throttled(clock.now - 0.005)
    assert limiter.on_throttled(5.19) is True  # a throttle now says the endpoint is stalled
    stalls = [e for e in logs if e["event"] == "ratelimit.stall"]
    assert len(stalls) == 1
    assert stalls[0]["endpoint"] == "http://127.0.0.1:1"
    assert stalls[0]["admitted"] == 35.0  # the 35 sent in the second before the stall, (4.1, 5.1]


# ---- short crawls: the start -------------------------------------------------------------------

NO_QUOTA = Shape(1e9, 10**9, latency=0.014, jitter=0.012, arrival_jitter=0.0)  # 20 ms +- 30%


def test_slow_start_reaches_the_pace_the_workers_allow_within_a_fraction_of_a_short_crawl() -> None:
    # 2,044 requests, 20 ms, 32 workers and no quota in sight: the bound is 2,044 x 20 ms / 32 = 1.28 s.
    # Slow start keeps up with its own growth (a waiting start looks again a round trip later)
    outcome = simulate(NO_QUOTA, until=2044, duration=30)
    assert outcome.throttled == 0
    assert outcome.finished is not None
    # (the window grows with each answer, as TCP's does: paced alone from 5/s at e^(10t) it took 1.42 x)
    assert outcome.finished <= 1.25 * 2044 * 0.02 / 32
    longer = simulate(NO_QUOTA, until=20440, duration=60)
    assert longer.finished is not None
    assert longer.finished <= 1.03 * 20440 * 0.02 / 32


def test_one_or_two_chains_of_pages_run_at_the_round_trip_not_the_starting_pace() -> None:
    # two chains of 30 pages each (FC 3.0's region-wide listings): 30 round trips of 20 ms is the bound;
    # paced from 5 requests/s they took 0.89 s
    outcome = simulate(NO_QUOTA, workers=2, until=60, duration=30)
    assert outcome.finished is not None
    assert outcome.finished <= 1.15 * 30 * 0.02


def test_a_bursty_quota_is_not_mistaken_for_half_of_itself() -> None:
    # the demo's quota: 700/s with a burst of 35; the bound is 3,110 / 700 = 4.44 s
    outcome = simulate(Shape(700, 35, latency=0.007, jitter=0.006), until=3110, duration=30)
    assert outcome.finished is not None
    assert outcome.finished <= 1.2 * 3110 / 700
    assert outcome.share < 0.03


async def test_until_the_first_throttle_a_small_window_starts_unpaced() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(None, 8, clock, clock.sleep)
    window = 2  # INITIAL_WINDOW
    starts = [await limiter.acquire() for _ in range(window + 1)]  # none released: all in flight
    assert starts == pytest.approx([0.0, 0.0, 0.2])  # two unpaced, then 1/5 s
    for _ in starts:
        limiter.release()
    limiter.on_throttled(clock.now)  # slow start is over: every start is paced again
    first, second = await limiter.acquire(), await limiter.acquire()
    assert second - first == pytest.approx(1.0 / limiter.rate)
    ceiling = RateLimiter(10.0, 8, clock, clock.sleep)  # a known rate has no slow start, so no window
    first, second = await ceiling.acquire(), await ceiling.acquire()
    assert second - first == pytest.approx(0.1)


def test_until_the_first_throttle_the_window_grows_by_one_request_for_each_answer() -> None:
    core = AdaptiveRate(None)
    assert core.next_start(0.0, in_flight=1) <= 0.0
    core.started(0.0)
    assert core.next_start(0.0, in_flight=2) > 0.0  # the initial window: two
    core.succeeded(0.02, sent_at=0.0)
    core.succeeded(0.021, sent_at=0.0)
    # two answers: four may be in flight at once, whatever the pace
    assert core.next_start(0.03, in_flight=3) == 0.03
    assert core.next_start(0.03, in_flight=4) > 0.03
    core.throttled(0.04, sent_at=0.03)  # a throttle closes it: every start is paced from here
    core.started(0.05)
    assert core.next_start(0.05, in_flight=1) > 0.05


def test_the_first_throttle_after_the_window_grew_takes_the_pace_it_really_sent() -> None:
    # the window, not the pace (still about 5/s), started 40 requests in the last 0.1 s: 400/s is what
    # the cut must be measured from, or a bucket's burst spent by the window reads as a tiny quota
    core = AdaptiveRate(None)
    for i in range(40):
        core.started(0.9025 + i * 0.0025)  # 40 starts in the 0.1 s before the throttle
    for i in range(10):
        core.succeeded(0.95 + i * 0.001, sent_at=0.93)
    rate_before = core.rate
    core.throttled(1.0, sent_at=0.99)
    assert rate_before < 200.0
    assert core.rate == pytest.approx(400.0)
    lone = AdaptiveRate(None)  # the initial window of two has not grown: its throttle leaves the pace
    lone.started(0.0)
    lone.started(0.0)
    lone.throttled(0.02, sent_at=0.0)
    assert lone.rate == 5.0


def test_in_slow_start_a_waiting_start_looks_again_after_a_round_trip() -> None:
    core = AdaptiveRate(None)
    core.started(10.0)
    core.succeeded(10.02, sent_at=10.0)  # a 20 ms round trip; the pace is 5/s: next due at 10.2
    assert core.next_start(10.03) == pytest.approx(10.03 + 0.02)  # the rate may have grown by then
    core.slow_start = False  # out of slow start the rate grows by small steps: the due time stands
    assert core.next_start(10.03) == pytest.approx(10.0 + 1.0 / core.rate)


def test_a_ceiling_under_the_quota_is_never_throttled_nor_exceeded() -> None:
    outcome = simulate(Shape(100, 100, latency=0.01), ceiling=40.0)
    assert outcome.throttled == 0
    assert outcome.peak() <= 41
    assert outcome.steady() == pytest.approx(40, abs=1)
