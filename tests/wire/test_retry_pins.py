"""Retry arithmetic pinned to literal values: what one retried call costs the run-wide budget, what a
success gives back, that the wait the retry loop sleeps honours the server's hint, and the words a bad
setting is refused with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from crawler.errors import CrawlerError, NameNotResolvedError, ServerError, ThrottledError
from crawler.wire.retry import RetryBudget, RetryPolicy

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def failing_then(*errors: CrawlerError) -> Callable[[], Awaitable[str]]:
    queue = list(errors)

    async def call() -> str:
        if queue:
            raise queue.pop(0)
        return "ok"

    return call


async def test_a_call_that_needed_one_retry_costs_the_budget_nothing_in_the_end() -> None:
    budget = RetryBudget(10.0)
    assert budget.try_spend(5.0)  # others drained half of it: the refund is not hidden by the cap
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(3, 0.2, 20.0, budget, lambda: 0.5, sleep)
    call = failing_then(ServerError("boom", code="InternalServerError", http=500))
    assert await policy.run(call) == "ok"
    assert budget.tokens == 5.0
    assert sleeps == [0.1]


def test_a_success_gives_back_what_its_last_retry_cost_or_one_token() -> None:
    budget = RetryBudget(10.0)
    assert budget.try_spend(3.0)
    budget.on_success(1.0)
    assert budget.tokens == 8.0
    budget.on_success(0.0)  # needed no retry: the refund of one token
    assert budget.tokens == 9.0


async def test_the_loop_sleeps_the_servers_hint_when_it_is_longer_than_the_jitter() -> None:
    sleeps: list[float] = []
    told: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(3, 0.2, 20.0, RetryBudget(10.0), lambda: 0.0, sleep)
    throttled = ThrottledError("slow down", code="Throttling", http=429, retry_after=1.5)
    call = failing_then(throttled)
    await policy.run(call, on_retry=lambda _attempt, _error, wait: told.append(wait))
    assert sleeps == [1.5]
    assert told == [1.5]


def test_bad_settings_are_refused_in_words() -> None:
    with pytest.raises(ValueError, match=r"^retry budget capacity must be >= 0$"):
        RetryBudget(-1.0)
    with pytest.raises(ValueError, match=r"^max_attempts must be >= 1$"):
        RetryPolicy(0, 0.2, 20.0, RetryBudget(1.0))


async def test_a_failure_that_repeats_identically_gets_its_own_attempt_limit() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(6, 0.2, 20.0, RetryBudget(100.0), lambda: 0.5, sleep)
    call = failing_then(*(NameNotResolvedError("no such host") for _ in range(6)))
    with pytest.raises(NameNotResolvedError) as caught:
        await policy.run(call)
    assert caught.value.attempts == 2  # tried once more, not six times
    assert sleeps == [0.1]
    call = failing_then(*(ServerError("boom", code="InternalServerError", http=500) for _ in range(6)))
    with pytest.raises(ServerError) as other:
        await policy.run(call)
    assert other.value.attempts == 6  # an error without a limit of its own gets max_attempts
