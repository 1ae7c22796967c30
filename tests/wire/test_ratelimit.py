"""The shared limiter: exact pacing on an injected clock, the in-flight cap, the AIMD arithmetic, and a
seeded simulation of a token-bucket quota that holds the issue's target (few throttles, no overshoot)."""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter, deque
from dataclasses import dataclass

import anyio
import pytest
from anyio.lowlevel import checkpoint
from structlog.testing import capture_logs

from crawler.wire.ratelimit import AdaptiveRate, RateLimiter
from tests.support.limiter_support import slot

pytestmark = pytest.mark.anyio


class FakeClock:
    """Virtual time: ``sleep`` moves the clock instead of waiting."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await checkpoint()


async def test_requests_are_paced_exactly_at_the_ceiling() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, 4, clock, clock.sleep)
    starts = []
    for _ in range(5):
        async with slot(limiter) as sent_at:
            starts.append(sent_at)
    assert starts == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


async def test_an_idle_limiter_does_not_burst() -> None:
    clock = FakeClock()
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
    clock = FakeClock()
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


def test_slow_start_grows_per_success_capped_per_round_trip() -> None:
    core = AdaptiveRate(None)
    assert (core.rate, core.slow_start) == (5.0, True)  # INITIAL_RATE
    busy(core, 10.0, 20)
    core.succeeded(10.0, sent_at=9.99)  # 10 ms round trip: the per-success gain applies
    assert core.rate == pytest.approx(10.0)  # 5/s + SLOW_START_GAIN 5/s per success
    slow = AdaptiveRate(None)
    busy(slow, 10.0, 20)
    slow.succeeded(10.0, sent_at=9.0)  # 1 s round trip: growth limited to e^0.4 per round trip
    assert slow.rate == pytest.approx(5.4)  # 5/s + SLOW_START_PER_RTT 0.4 per 1 s round trip


def test_no_growth_unless_the_limiter_is_the_bottleneck() -> None:
    core = AdaptiveRate(None)
    core.started(0.0)
    core.succeeded(5.0, sent_at=4.99)  # nothing waited on the pace
    assert core.rate == 5.0


def test_first_throttle_halves_later_ones_cut_to_the_accepted_rate() -> None:
    core = AdaptiveRate(None)
    core.rate = 80.0
    assert core.throttled(1.0, sent_at=0.99)
    assert (core.rate, core.level, core.slow_start) == (40.0, 80.0, False)
    assert not core.throttled(1.01, sent_at=0.995)  # sent before the cut: describes the old pace
    assert core.rate == 40.0
    for i in range(25):  # 25 successes in the last second: the server admits about 25/s
        core.succeeded(1.5 + i * 0.02, sent_at=1.49 + i * 0.02)
    rate_before = core.rate
    assert core.throttled(2.1, sent_at=2.05)
    assert core.level == pytest.approx(min(rate_before, 25.0))
    assert core.rate == pytest.approx(20.0)  # DECREASE 0.8 x the accepted 25/s


def test_recovery_is_fast_below_the_last_level_and_slow_above_it() -> None:
    core = AdaptiveRate(None)
    core.slow_start, core.level, core.rate = False, 100.0, 50.0
    busy(core, 5.0, 20)
    core.succeeded(5.0, sent_at=4.99)
    assert core.rate == pytest.approx(50.2)  # + RECOVER_STEP 10 % of 100/s, per 50 requests
    core.rate = 95.0
    core.succeeded(5.0, sent_at=4.99)
    assert core.rate == pytest.approx(95.0 + 1.0 / 95.0)  # + PROBE_STEP 1 % of 100/s, per 95


def test_never_above_the_ceiling_nor_below_the_floor() -> None:
    core = AdaptiveRate(8.0)
    assert (core.rate, core.slow_start) == (8.0, False)
    busy(core, 3.0, 5)
    core.succeeded(3.0, sent_at=2.99)
    assert core.rate == 8.0
    for t in range(1, 60):
        core.throttled(float(t), sent_at=float(t))
    assert core.rate == 0.2  # MIN_RATE
    with pytest.raises(ValueError, match="ceiling"):
        AdaptiveRate(0.0)


def test_a_cut_is_logged() -> None:
    clock = FakeClock(5.0)
    limiter = RateLimiter(None, 4, clock, clock.sleep, name="http://127.0.0.1:1")
    with capture_logs() as logs:
        limiter.on_throttled(4.9)
    assert [e["event"] for e in logs] == ["ratelimit.cut"]
    assert logs[0]["rate"] == pytest.approx(2.5)  # FIRST_DECREASE halves the initial 5/s


# ---- a seeded simulation against a token-bucket quota ----------------------------------------------


@dataclass
class Outcome:
    requests: int
    throttled: int
    max_window: int  # most requests arriving in one whole second, after the first two
    steady: float  # requests/s over seconds 5 to the end
    finished: float | None  # when the ``until``-th success came (None: not within the simulated time)


def simulate(
    quota: float,
    latency: float,
    workers: int,
    ceiling: float | None = None,
    until: int | None = None,
    burst: int | None = None,
) -> Outcome:
    """Virtual-time model of a crawl: ``workers`` always have work, each request goes through the FIFO
    pacer exactly as ``RateLimiter.acquire`` does, the server is a token bucket (burst = 1 s of quota,
    as the emulator's), latency jitters +-30 %, throttled requests are retried with full jitter and the
    server's hint, like ``RetryPolicy``. With ``until`` the crawl ends at that many successes."""
    rng = random.Random(7)
    core = AdaptiveRate(ceiling)
    burst = burst or max(1, math.ceil(quota))
    tokens, stamp = float(burst), 0.0
    events: list[tuple[float, int, str, int, float]] = []
    waiting: deque[int] = deque()
    attempts = dict.fromkeys(range(workers), 1)
    windows: Counter[int] = Counter()
    seq = requests = throttled = successes = in_flight = 0
    finished: float | None = None
    pacer_asleep = False
    duration = 30.0

    def push(at: float, kind: str, worker: int, sent: float = 0.0) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, worker, sent))

    def pace(now: float) -> None:
        nonlocal pacer_asleep, in_flight
        while waiting and not pacer_asleep:
            due = core.next_start(now, in_flight)
            if due > now:
                pacer_asleep = True
                push(due, "wake", -1)
                return
            core.started(now)
            in_flight += 1
            push(now + latency * (0.7 + 0.6 * rng.random()), "answer", waiting.popleft(), now)

    for worker in range(workers):
        push(0.0, "want", worker)
    while events:
        now, _, kind, worker, sent = heapq.heappop(events)
        if now > duration:
            break
        if kind == "want":
            waiting.append(worker)
        elif kind == "wake":
            pacer_asleep = False
        else:
            requests += 1
            in_flight -= 1
            arrival = (sent + now) / 2
            windows[int(arrival)] += 1
            tokens, stamp = min(burst, tokens + (arrival - stamp) * quota), arrival
            if tokens >= 1:
                tokens -= 1
                core.succeeded(now, sent)
                successes += 1
                if successes == until:
                    finished = now
                    break
                attempts[worker] = 1
                push(now, "want", worker)
            else:
                throttled += 1
                core.throttled(now, sent)
                backoff = rng.random() * min(20.0, 0.2 * 2 ** (attempts[worker] - 1))
                attempts[worker] = min(attempts[worker] + 1, 6)
                push(now + max(backoff, (1 - tokens) / quota), "want", worker)
        pace(now)
    later = [windows[s] for s in range(2, int(duration))]
    steady = sum(windows[s] for s in range(5, int(duration))) / (duration - 5)
    return Outcome(requests, throttled, max(later), steady, finished)


@pytest.mark.parametrize(
    ("quota", "latency", "workers"),
    [(10, 0.02, 32), (20, 0.01, 32), (50, 0.005, 32), (50, 0.05, 8), (200, 0.01, 32), (500, 0.002, 32)],
)
def test_without_a_rate_the_limiter_settles_under_the_quota(
    quota: float, latency: float, workers: int
) -> None:
    outcome = simulate(quota, latency, workers)
    assert outcome.throttled < 0.05 * outcome.requests
    assert outcome.max_window <= 1.2 * quota
    assert outcome.steady >= 0.85 * quota  # and it does not leave the quota unused


def test_slow_start_reaches_the_pace_the_workers_allow_within_a_fraction_of_a_short_crawl() -> None:
    # scenario (a) of the benchmark: 2,044 requests, 20 ms, 32 workers and no quota in sight, so the
    # bound is 2,044 x 20 ms / 32 = 1.28 s. Slow start must keep up with its own growth: with its due
    # times slept out at the old pace and its growth judged over a fixed quarter second it took 1.86x
    outcome = simulate(1e6, 0.02, 32, until=2044)
    assert outcome.throttled == 0
    assert outcome.finished is not None
    assert outcome.finished <= 1.75 * 2044 * 0.02 / 32


def test_one_or_two_chains_of_pages_run_at_the_round_trip_not_the_starting_pace() -> None:
    # two chains of 30 pages each (FC 3.0's region-wide listings): 30 round trips of 20 ms is the bound;
    # paced from 5 requests/s they took 0.89 s
    outcome = simulate(1e6, 0.02, 2, until=60)
    assert outcome.finished is not None
    assert outcome.finished <= 1.15 * 30 * 0.02


async def test_until_the_first_throttle_a_small_window_starts_unpaced() -> None:
    clock = FakeClock()
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


def test_in_slow_start_a_waiting_start_looks_again_after_a_round_trip() -> None:
    core = AdaptiveRate(None)
    core.started(10.0)
    core.succeeded(10.02, sent_at=10.0)  # a 20 ms round trip; the pace is 5/s: next due at 10.2
    assert core.next_start(10.03) == pytest.approx(10.03 + 0.02)  # the rate may have grown by then
    core.slow_start = False  # out of slow start the rate grows by small steps: the due time stands
    assert core.next_start(10.03) == pytest.approx(10.0 + 1.0 / core.rate)


def test_a_bursty_quota_is_not_mistaken_for_half_of_itself() -> None:
    # the demo's quota: 700/s with a burst of 35. The burst hides the quota until slow start is well past
    # it; read over the whole ramp, the accepted rate at the second cut put the level near 320/s and the
    # crawl took 10.2 s. Read since the ramp ended, it finds the quota: the bound is 3,110 / 700 = 4.44 s
    outcome = simulate(700, 0.01, 32, until=3110, burst=35)
    assert outcome.finished is not None
    assert outcome.finished <= 1.3 * 3110 / 700
    assert outcome.throttled < 0.01 * outcome.requests


def test_after_slow_start_the_accepted_rate_is_read_since_it_ended_when_that_says_more() -> None:
    core = AdaptiveRate(None)
    core.started(0.0)
    for i in range(10):  # the ramp: 10 answers in half a second
        core.succeeded(0.05 * i, sent_at=0.05 * i - 0.01)
    core.rate = 1600.0  # slow start has run well past the quota, as a burst lets it
    core.throttled(0.5, sent_at=0.49)  # and ends: the pace is halved to 800/s
    for i in range(70):  # then the server admits 700/s
        core.succeeded(0.5 + i / 700, sent_at=0.49 + i / 700)
    assert core.accepted(0.6) == pytest.approx(700, rel=0.02)  # not (10 + 70) / 0.6 = 133/s
    fresh = AdaptiveRate(None)
    fresh.started(0.0)
    for i in range(80):
        fresh.succeeded(i / 100, sent_at=i / 100 - 0.01)
    assert fresh.accepted(0.8) == pytest.approx(100, rel=0.02)  # no ramp ended: the last second


def test_a_ceiling_under_the_quota_is_never_throttled_nor_exceeded() -> None:
    outcome = simulate(100, 0.01, 32, ceiling=40.0)
    assert outcome.throttled == 0
    assert outcome.max_window <= 41
    assert outcome.steady == pytest.approx(40, abs=1)
