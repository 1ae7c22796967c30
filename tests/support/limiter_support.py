"""For the limiter's tests: ``slot(limiter)``, one request's turn at a ``RateLimiter`` as a context
manager, and ``VirtualClock``, the clock and sleep to build one on.

The clients call ``acquire``/``release`` themselves (an async context manager costs more per request);
tests read better with ``async with slot(limiter) as sent_at:``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio.lowlevel import checkpoint

from crawler.wire.ratelimit import RateLimiter


class VirtualClock:
    """Virtual time: ``sleep`` moves the clock by exactly what it is asked (and lets other tasks run)
    instead of waiting; ``waits`` records every wait asked for."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await checkpoint()


@asynccontextmanager
async def slot(limiter: RateLimiter) -> AsyncIterator[float]:
    sent_at = await limiter.acquire()
    try:
        yield sent_at
    finally:
        limiter.release()
