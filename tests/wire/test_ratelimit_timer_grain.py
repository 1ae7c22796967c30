"""A wait of half a timer grain or less is not asked for: uvloop turns ``sleep(d)`` with ``d`` under half a
millisecond into an immediate wake-up, so a pacer that asks for one spins through the event loop until
the due time passes (at ``--rate 2000`` it burnt 0.4 ms of CPU per start and held only ~1,000 starts/s).
Such a wait is a whole ``TIMER_GRAIN``; the late start that follows is made up by the pacing credit."""

from __future__ import annotations

import anyio
import pytest

from crawler.wire.ratelimit import TIMER_GRAIN, RateLimiter
from tests.support.limiter_support import VirtualClock

pytestmark = pytest.mark.anyio


async def test_no_wait_shorter_than_a_timer_grain_and_the_pace_holds() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(2000.0, 32, clock, clock.sleep)  # one start every 0.5 ms
    starts = []
    for _ in range(201):
        starts.append(await limiter.acquire())
        limiter.release()
    assert min(clock.waits) > TIMER_GRAIN / 2  # uvloop rounds these to 1 ms, not to 0
    # 200 intervals of 0.5 ms: the starts a longer wait makes late are made up, the pace is kept
    assert starts[-1] == pytest.approx(0.1, abs=0.0015)


@pytest.mark.parametrize("anyio_backend", [pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop")])
async def test_the_pacer_does_not_spin_on_uvloop() -> None:
    pytest.importorskip("uvloop")
    waits = 0

    async def sleep(seconds: float) -> None:
        nonlocal waits
        waits += 1
        await anyio.sleep(seconds)

    limiter = RateLimiter(2000.0, 32, sleep=sleep)
    starts = 0
    with anyio.move_on_after(0.2):
        while True:
            await limiter.acquire()
            limiter.release()
            starts += 1
    # spinning, the pacer woke about 50 times a start (58 in this test's 0.2 s on a loaded machine)
    assert starts > 0
    assert waits / starts <= 2.0
