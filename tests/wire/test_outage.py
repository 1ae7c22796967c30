"""The outage gate with an injected clock and sleep: an endpoint that fails outright makes calls wait (no
attempt, no token spent) until a probe gets through, and gives up after ``max_wait``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from crawler.errors import ConnectionLostError, CrawlerError, EndpointDownError, ServerError
from crawler.wire.outage import EndpointGate
from crawler.wire.retry import TIMEOUT_RETRY_COST, RetryBudget, RetryPolicy

pytestmark = pytest.mark.anyio


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()

    def clock(self) -> float:
        return self.now


def gated(t: FakeTime, *, max_wait: float = 60.0, attempts: int = 3) -> RetryPolicy:
    gate = EndpointGate(
        "http://x",
        max_wait=max_wait,
        base=0.2,
        cap=2.0,
        failures=2,
        rand=lambda: 0.5,
        sleep=t.sleep,
        clock=t.clock,
    )
    return RetryPolicy(attempts, 0.2, 20.0, RetryBudget(500.0), lambda: 0.5, t.sleep, gate=gate)


def outcomes(*items: CrawlerError | str) -> Callable[[], Awaitable[str]]:
    queue = list(items)

    async def call() -> str:
        item = queue.pop(0)
        if isinstance(item, CrawlerError):
            raise item
        return item

    return call


def refused() -> ConnectionLostError:
    return ConnectionLostError("ListServices: connection lost (ClientConnectorError)")


async def test_an_outage_costs_no_attempt_and_no_token() -> None:
    t = FakeTime()
    policy = gated(t, attempts=3)
    # two refusals shut the gate; six probes fail; the seventh gets through: far more than 3 attempts
    result = await policy.run(outcomes(*(refused() for _ in range(8)), "ok"))
    assert result == "ok"
    assert policy.gate is not None
    assert not policy.gate.down
    assert policy.gate.outages == 1
    assert policy.budget.tokens == 500.0  # the one ordinary retry's cost came back with the success
    # one ordinary backoff, then probes backing off (equal jitter at 0.5: 0.75 of 0.2, 0.4, 0.8, 1.6, 2.0)
    assert t.sleeps == pytest.approx([0.1, 0.15, 0.3, 0.6, 1.2, 1.5, 1.5, 1.5])


async def test_an_endpoint_down_past_max_wait_gives_up_for_good() -> None:
    t = FakeTime()
    policy = gated(t, max_wait=3.0)
    with pytest.raises(EndpointDownError) as caught:
        await policy.run(outcomes(*(refused() for _ in range(50))))
    assert "did not answer for 3s" in caught.value.message
    assert "connection lost" in caught.value.message
    assert t.now == pytest.approx(0.1 + 3.0)  # waited exactly the bound after the gate shut
    with pytest.raises(EndpointDownError):  # later calls fail at once, without a request
        await policy.run(outcomes())


async def test_an_answer_of_any_kind_opens_the_gate() -> None:
    t = FakeTime()
    policy = gated(t)
    error = ServerError("boom", code="InternalServerError", http=500)
    assert await policy.run(outcomes(refused(), refused(), error, "ok")) == "ok"
    assert policy.gate is not None
    assert not policy.gate.down
    assert policy.budget.tokens == 500.0 - TIMEOUT_RETRY_COST  # the 500 was an ordinary retry


async def test_waiters_wake_when_the_probe_gets_through() -> None:
    t = FakeTime()
    policy = gated(t)
    gate = policy.gate
    assert gate is not None
    for _ in range(2):
        gate.failed(refused())
    assert gate.down
    results: list[str] = []

    async def waiter() -> None:
        results.append(await policy.run(outcomes("ok")))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(waiter)
    assert results == ["ok"] * 5
    assert len(t.sleeps) == 1  # one probe; the other four waited for it, not each their own pause


async def test_max_wait_zero_turns_the_gate_off() -> None:
    t = FakeTime()
    policy = gated(t, max_wait=0.0, attempts=3)
    with pytest.raises(ConnectionLostError) as caught:
        await policy.run(outcomes(refused(), refused(), refused(), "never"))
    assert caught.value.attempts == 3
