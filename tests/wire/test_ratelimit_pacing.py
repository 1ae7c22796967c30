"""The pace survives late timers: a wake-up a little after its due time keeps the schedule (the rate
would otherwise leak away at hundreds of requests/s), while a long idle spell still earns no burst."""

from __future__ import annotations

import itertools

import anyio
import pytest
from anyio.lowlevel import checkpoint

from crawler.wire.ratelimit import AdaptiveRate, RateLimiter
from tests.support.limiter_support import slot

pytestmark = pytest.mark.anyio


class LateClock:
    """Virtual time whose ``sleep`` always overshoots by ``late`` seconds, as event-loop timers do."""

    def __init__(self, late: float) -> None:
        self.now = 0.0
        self.late = late

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.late
        await checkpoint()


async def test_late_wake_ups_do_not_slow_the_pace() -> None:
    clock = LateClock(late=0.001)
    limiter = RateLimiter(500.0, 4, clock, clock.sleep)  # one start every 2 ms
    starts = []
    for _ in range(101):
        async with slot(limiter) as sent_at:
            starts.append(sent_at)
    # 100 intervals of 2 ms, each wake-up 1 ms late: the schedule holds (0.2 s plus one overshoot);
    # restarting the interval from each late start would have taken 0.3 s, a third of the rate lost
    assert starts[-1] == pytest.approx(0.2 + 0.001, abs=1e-3)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.002 - 0.001 - 1e-9  # never two starts closer than an interval minus the lag


async def test_lateness_beyond_the_credit_is_not_made_up() -> None:
    clock = LateClock(late=0.05)  # far later than LATE_CREDIT: a stalled loop, not timer jitter
    limiter = RateLimiter(100.0, 4, clock, clock.sleep)
    starts = []
    for _ in range(4):
        async with slot(limiter) as sent_at:
            starts.append(sent_at)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([0.01 + 0.05] * 3)  # each interval counted from the actual start


def test_the_credit_only_covers_a_start_just_after_its_due_time() -> None:
    core = AdaptiveRate(10.0)
    core.started(1.0)
    core.started(1.105)  # 5 ms late, within LATE_CREDIT (10 ms): the schedule is kept
    assert core.next_start(1.15) == pytest.approx(1.2)
    core.started(5.0)  # after an idle spell: no credit, the next start is a full interval away
    assert core.next_start(5.0) == pytest.approx(5.1)


async def test_concurrent_waiters_share_one_schedule() -> None:
    clock = LateClock(late=0.0005)
    limiter = RateLimiter(1000.0, 8, clock, clock.sleep)
    starts: list[float] = []

    async def worker() -> None:
        for _ in range(25):
            async with slot(limiter) as sent_at:
                starts.append(sent_at)
                await checkpoint()

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(worker)
    assert len(starts) == 200
    assert max(starts) == pytest.approx(0.199, abs=2e-3)  # 1,000 starts/s held over 200 starts


async def test_a_free_slot_is_taken_without_a_turn_of_the_event_loop() -> None:
    limiter = RateLimiter(1000.0, 2)
    others_ran: list[bool] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: _mark(others_ran))
        await limiter.acquire()  # free slot, free pace: nothing to wait for, so no yield
        assert others_ran == []
        limiter.release()
    assert others_ran == [True]


async def _mark(ran: list[bool]) -> None:
    ran.append(True)


def test_recent_starts_are_counted_over_the_window() -> None:
    core = AdaptiveRate(None)
    for i in range(100):
        core.started(10.0 + i * 0.01)  # 100 starts over 10.00 .. 10.99
    assert core._recent(10.99, 0.25) == pytest.approx(25 / 0.25)  # 10.75 .. 10.99 (10.74 excluded)
    assert core._recent(10.99, 0.001) == pytest.approx(1 / 0.001)
