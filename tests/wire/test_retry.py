"""Full-jitter backoff with exact delays (random and sleep injected), hints, attempts, the retry quota
(botocore's costs) and the outage gate that makes an endpoint's failures wait instead of fail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import pytest

from crawler.errors import (
    AuthError,
    ConnectionLostError,
    CrawlerError,
    NotFoundError,
    ProtocolError,
    RetryBudgetExhaustedError,
    ServerError,
    ThrottledError,
)
from crawler.wire.retry import RETRY_COST, SUCCESS_REFUND, TIMEOUT_RETRY_COST, RetryBudget, RetryPolicy

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def randoms(values: Iterable[float]) -> Callable[[], float]:
    it = iter(values)
    return lambda: next(it)


def policy(
    rec: Recorder, rand: Callable[[], float] = lambda: 0.5, *, attempts: int = 6, budget: float = 100.0
) -> RetryPolicy:
    return RetryPolicy(attempts, 0.2, 20.0, RetryBudget(budget), rand, rec.sleep)


def server_error(request_id: str = "req-1") -> ServerError:
    return ServerError("boom", code="InternalServerError", http=500, request_id=request_id)


def scripted(*outcomes: CrawlerError | str) -> Callable[[], Awaitable[str]]:
    queue = list(outcomes)

    async def call() -> str:
        outcome = queue.pop(0)
        if isinstance(outcome, CrawlerError):
            raise outcome
        return outcome

    return call


def test_full_jitter_backoff_is_exact() -> None:
    rec = Recorder()
    p = policy(rec)
    assert [p.backoff(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
    capped = RetryPolicy(10, 1.0, 5.0, RetryBudget(1), lambda: 0.5, rec.sleep)
    assert [capped.backoff(n) for n in (3, 4, 9)] == pytest.approx([2.0, 2.5, 2.5])
    assert RetryPolicy(3, 0.2, 20.0, RetryBudget(1), lambda: 0.0, rec.sleep).backoff(5) == 0.0


def test_server_hint_is_a_floor_clamped_to_the_cap() -> None:
    p = policy(Recorder())

    def throttled(hint: float | None) -> ThrottledError:
        return ThrottledError("slow down", code="ResourceExhausted", http=429, retry_after=hint)

    assert p.delay(1, throttled(3.0)) == 3.0  # jitter 0.1 < hint
    assert p.delay(6, throttled(0.5)) == pytest.approx(3.2)  # jitter 3.2 > hint
    assert p.delay(1, throttled(86400.0)) == 20.0  # a day-long hint is clamped to the cap
    assert p.delay(2, throttled(None)) == pytest.approx(0.2)
    assert p.delay(1, server_error()) == pytest.approx(0.1)


async def test_retries_until_success_with_exact_sleeps() -> None:
    rec = Recorder()
    p = policy(rec, randoms([0.5, 0.75]))
    seen: list[tuple[int, str, float]] = []
    result = await p.run(
        scripted(server_error(), ConnectionLostError("reset"), "page"),
        on_retry=lambda n, e, d: seen.append((n, e.code, d)),
    )
    assert result == "page"
    assert rec.sleeps == pytest.approx([0.1, 0.3])  # 0.5 x 0.2, then 0.75 x 0.4
    assert [(n, code) for n, code, _ in seen] == [(1, "InternalServerError"), (2, "ConnectionLost")]


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("gone", code="FunctionNotFound", http=404),
        AuthError("no", code="SignatureNotMatch", http=403),
        ProtocolError("wrong shape"),
    ],
)
async def test_final_errors_are_not_retried(error: CrawlerError) -> None:
    rec = Recorder()
    with pytest.raises(type(error)) as caught:
        await policy(rec).run(scripted(error, "never"))
    assert caught.value.attempts == 1
    assert rec.sleeps == []


async def test_last_attempt_raises_with_attempts_set() -> None:
    rec = Recorder()
    with pytest.raises(ServerError) as caught:
        await policy(rec, attempts=3).run(scripted(server_error(), server_error(), server_error("last")))
    assert caught.value.attempts == 3
    assert caught.value.request_id == "last"
    assert rec.sleeps == pytest.approx([0.1, 0.2])


async def test_budget_stops_a_retry_storm() -> None:
    rec = Recorder()
    p = policy(rec, budget=2 * RETRY_COST)
    with pytest.raises(RetryBudgetExhaustedError) as caught:
        await p.run(scripted(*(server_error(f"r{i}") for i in range(6))))
    exhausted = caught.value
    assert exhausted.attempts == 3
    assert (exhausted.http, exhausted.request_id) == (500, "r2")
    assert "InternalServerError" in exhausted.message
    assert isinstance(exhausted.__cause__, ServerError)
    assert len(rec.sleeps) == 2
    # once spent, the next failing call is final at its first failure
    with pytest.raises(RetryBudgetExhaustedError) as again:
        await p.run(scripted(server_error()))
    assert again.value.attempts == 1


async def test_a_recovered_call_gives_its_last_retry_back_like_botocore() -> None:
    rec = Recorder()
    p = policy(rec, budget=500.0)
    await p.run(scripted(server_error(), server_error(), "ok"))
    assert p.budget.tokens == 500.0 - RETRY_COST  # two retries spent, the last one's cost given back
    await p.run(scripted(ConnectionLostError("refused"), "ok"))
    assert p.budget.tokens == 500.0 - RETRY_COST  # a lost connection costs double, and comes back double
    p.budget.tokens = 1.0
    await p.run(scripted("ok"))
    assert p.budget.tokens == pytest.approx(1.0 + SUCCESS_REFUND)


async def test_a_timeout_or_lost_connection_costs_double() -> None:
    rec = Recorder()
    p = policy(rec, budget=TIMEOUT_RETRY_COST + RETRY_COST)
    with pytest.raises(RetryBudgetExhaustedError) as caught:
        await p.run(scripted(ConnectionLostError("a"), ConnectionLostError("b"), "never"))
    assert caught.value.attempts == 2
    assert p.budget.tokens == RETRY_COST


def test_budget_arithmetic() -> None:
    budget = RetryBudget(2 * RETRY_COST)
    assert budget.try_spend()
    assert budget.try_spend()
    assert not budget.try_spend()
    budget.on_success(50.0)
    assert budget.tokens == 2 * RETRY_COST  # capped at the capacity
    assert not RetryBudget(0.0).try_spend()
    with pytest.raises(ValueError, match="capacity"):
        RetryBudget(-1.0)


def stalled_throttle(request_id: str = "t-1", retry_after: float | None = None) -> ThrottledError:
    error = ThrottledError("slow down", code="ResourceExhausted", http=429, request_id=request_id)
    error.retry_after, error.stalled = retry_after, True
    return error


async def test_a_refusal_while_the_endpoint_is_stalled_costs_no_attempt_nor_token() -> None:
    # the endpoint's limiter sends one probe at a time while the server admits nothing: its refusals
    # are the endpoint's, and a call that met them used to run out of attempts (and the budget) in a
    # drought, ending the crawl incomplete
    rec = Recorder()
    p = policy(rec, attempts=2, budget=RETRY_COST)
    result = await p.run(scripted(*(stalled_throttle(f"t{i}") for i in range(10)), "page"))
    assert result == "page"
    assert rec.sleeps == []  # the limiter paces the next probe; no backoff of the call's own
    assert p.budget.tokens == RETRY_COST  # nothing spent (and a call that needed no retry gives back 1,
    # capped at the capacity)


async def test_a_stalled_refusals_hint_is_waited_capped_and_an_ordinary_throttle_still_counts() -> None:
    rec = Recorder()
    p = policy(rec, attempts=2)
    plain = ThrottledError("slow down", code="ResourceExhausted", http=429, request_id="plain")
    with pytest.raises(ThrottledError) as caught:
        await p.run(scripted(stalled_throttle(retry_after=45.0), plain, stalled_throttle(), plain))
    assert caught.value.request_id == "plain"
    assert caught.value.attempts == 2  # the two ordinary throttles were the call's two attempts
    assert rec.sleeps == pytest.approx([20.0, 0.1])  # the hint, clamped to the cap; one backoff


async def test_a_stall_may_take_a_hundred_refusals_from_one_call_then_they_count() -> None:
    rec = Recorder()
    p = policy(rec, attempts=2)
    with pytest.raises(ThrottledError) as caught:
        await p.run(scripted(*(stalled_throttle(f"t{i}") for i in range(102)), "never"))
    assert caught.value.request_id == "t101"  # 100 free, then two attempts
    assert caught.value.attempts == 2
