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
    budget.on_success(0.5)  # any cost is given back exactly, even one under a token
    assert budget.tokens == 9.5


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


class StubGate:
    """An outage gate that puts every failure down to the outage and never makes anyone wait."""

    def __init__(self, probe: bool) -> None:
        self.probe = probe
        self.abandoned_calls = 0

    async def admit(self) -> bool:
        return self.probe

    def failed(self, error: CrawlerError, *, probe: bool) -> bool:
        return True

    def reached(self) -> None:
        pass

    def abandoned(self) -> None:
        self.abandoned_calls += 1

    def sent(self) -> None:
        pass

    def unanswered_remaining(self) -> float | None:
        return None  # as if it had answered: no give-up clock


async def test_one_call_takes_at_most_a_hundred_outage_failures_then_counts_attempts() -> None:
    calls: list[int] = []

    async def call() -> str:
        calls.append(1)
        raise ServerError("boom", code="InternalServerError", http=500)

    async def sleep(seconds: float) -> None:
        pass

    gate = StubGate(probe=False)
    policy = RetryPolicy(3, 0.2, 20.0, RetryBudget(100.0), lambda: 0.5, sleep, gate=gate)  # type: ignore[arg-type]
    with pytest.raises(ServerError) as caught:
        await policy.run(call)
    assert len(calls) == 103  # 100 put down to the outage, then 3 attempts of its own
    assert caught.value.attempts == 3


class Cancelled(BaseException):
    pass


@pytest.mark.parametrize(("probe", "abandoned"), [(True, 1), (False, 0)])
async def test_a_call_cancelled_while_probing_hands_the_probe_on(probe: bool, abandoned: int) -> None:
    async def call() -> str:
        raise Cancelled

    gate = StubGate(probe=probe)
    policy = RetryPolicy(3, 0.2, 20.0, RetryBudget(100.0), gate=gate)  # type: ignore[arg-type]
    with pytest.raises(Cancelled):
        await policy.run(call)
    assert gate.abandoned_calls == abandoned
