"""``slot(limiter)``: one request's turn at a ``RateLimiter`` as a context manager, for tests.

The clients call ``acquire``/``release`` themselves (an async context manager costs more per request);
tests read better with ``async with slot(limiter) as sent_at:``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from crawler.wire.ratelimit import RateLimiter


@asynccontextmanager
async def slot(limiter: RateLimiter) -> AsyncIterator[float]:
    sent_at = await limiter.acquire()
    try:
        yield sent_at
    finally:
        limiter.release()
