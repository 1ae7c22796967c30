"""When to try a failed request again, and when to stop: full-jitter backoff and a run-wide retry budget.

Every call fcaudit makes is a read, so a timeout, a reset, a 5xx or a throttle is safe to retry. The
backoff is botocore's full jitter: after the n-th failed attempt wait ``rand() * min(cap, base * 2**(n-1))``
(so with the defaults at most 0.2 s, 0.4 s, 0.8 s, ...), which spreads the retries of many workers that
failed together. A server hint (``Retry-After`` / ``x-acs-retry-after``) is a floor: the wait is
``max(hint, jitter)``, the hint itself clamped to ``cap`` so a hostile or buggy header cannot park a
worker for a day. The shared rate limiter has already slowed the pace on a throttle, so waiting exactly
the hint cannot produce a synchronised volley.

The ``RetryBudget`` stops a failing endpoint from turning into a retry storm: each retry costs one token;
a call that succeeds gives back what its own retries cost (a transient fault is free in the end) or,
when it needed none, ``SUCCESS_REFUND``; tokens are capped at the capacity. Only calls that keep failing
drain it, and once it is empty every retryable failure is final at once (``RetryBudgetExhaustedError``),
until successes refill it. ``AuthError`` and other non-retryable errors are never retried; an error
with an ``attempt_limit`` (a failure that repeats identically: DNS, TLS, an HTML page) gets no more
attempts than that.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from crawler.errors import AuthError, CrawlerError, RetryBudgetExhaustedError, ThrottledError
from crawler.log import get_logger

log = get_logger(__name__)
T = TypeVar("T")

SUCCESS_REFUND = 0.1


@dataclass(slots=True)
class RetryBudget:
    """Run-wide retry tokens (one event loop, so no lock). ``capacity`` 0 disables retries."""

    capacity: float
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise ValueError("retry budget capacity must be >= 0")
        self.tokens = self.capacity

    def try_spend(self, cost: float = 1.0) -> bool:
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def on_success(self, spent: float) -> None:
        """A call ended well after ``spent`` tokens of retries: give them back (or a small refund)."""
        self.tokens = min(self.capacity, self.tokens + (spent if spent > 0 else SUCCESS_REFUND))


class RetryPolicy:
    """Runs one call with retries. ``rand`` returns floats in [0, 1); ``sleep`` waits (both injected)."""

    def __init__(
        self,
        max_attempts: int,
        base: float,
        cap: float,
        budget: RetryBudget,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.max_attempts = max_attempts
        self.base = base
        self.cap = cap
        self.budget = budget
        self._rand = rand
        self._sleep = sleep

    def backoff(self, attempt: int) -> float:
        """The full-jitter wait after the ``attempt``-th failed attempt (1 = the first)."""
        return self._rand() * min(self.cap, self.base * 2.0 ** (attempt - 1))

    def delay(self, attempt: int, error: CrawlerError) -> float:
        """How long to wait after ``attempt`` failed with ``error``: jitter, floored by a server hint."""
        jitter = self.backoff(attempt)
        hint = error.retry_after if isinstance(error, ThrottledError) else None
        if hint is None:
            return jitter
        return max(min(hint, self.cap), jitter)

    def should_retry(self, attempt: int, error: CrawlerError) -> bool:
        limit = self.max_attempts
        if error.attempt_limit is not None:  # a failure that repeats identically (DNS, TLS, HTML)
            limit = min(limit, error.attempt_limit)
        return error.retryable and not isinstance(error, AuthError) and attempt < limit

    async def run(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        on_retry: Callable[[int, CrawlerError, float], None] | None = None,
    ) -> T:
        """Await ``call()`` until it succeeds or its error is final; that error gets ``.attempts`` set.

        ``on_retry(attempt, error, delay)`` runs before each wait (the client counts retries there).
        """
        spent = 0.0
        attempt = 1
        while True:
            try:
                result = await call()
            except CrawlerError as error:
                error.attempts = attempt
                if not self.should_retry(attempt, error):
                    raise
                if not self.budget.try_spend(1.0):
                    raise _budget_exhausted(error, attempt) from error
                spent += 1.0
                wait = self.delay(attempt, error)
                if on_retry is not None:
                    on_retry(attempt, error, wait)
                await self._sleep(wait)
                attempt += 1
            else:
                self.budget.on_success(spent)
                return result


def _budget_exhausted(error: CrawlerError, attempt: int) -> RetryBudgetExhaustedError:
    exhausted = RetryBudgetExhaustedError(
        f"run-wide retry budget spent, not retrying; last error {error.code}: {error.message}"
    )
    exhausted.attempts = attempt
    exhausted.http = error.http
    exhausted.request_id = error.request_id
    return exhausted
