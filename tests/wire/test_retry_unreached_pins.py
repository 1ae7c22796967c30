"""``RetryPolicy`` with a real ``EndpointGate`` for an endpoint that has never answered (mutation run,
issue 18; until now only the e2e test, in a child process, took these paths): an attempt in flight is cut
at ``unreachable_after`` and the call fails at once with ``EndpointDownError`` naming the endpoint, the
cause and the attempts; a retry whose wait would outlast the give-up waits only until it and fails the
same way (at exactly the give-up too)."""

from __future__ import annotations

import re
import time

import anyio
import pytest

from crawler.errors import ConnectionLostError, EndpointDownError
from crawler.wire.outage import EndpointGate
from crawler.wire.retry import RetryBudget, RetryPolicy

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_an_attempt_with_no_answer_is_cut_at_unreachable_after() -> None:
    gate = EndpointGate("http://192.0.2.1:9", max_wait=30.0, base=0.1, cap=1.0, unreachable_after=0.05)
    policy = RetryPolicy(3, 0.01, 0.02, RetryBudget(100.0), gate=gate)

    async def never_answered() -> None:
        await anyio.sleep(60)

    started = time.monotonic()
    with anyio.fail_after(5), pytest.raises(EndpointDownError) as caught:
        await policy.run(never_answered)
    assert time.monotonic() - started < 0.8  # cut at 0.05 s, not after a second or more
    message = caught.value.message
    assert re.fullmatch(
        r"cannot reach http://192\.0\.2\.1:9 \(no answer within unreachable_after \(0\.05 s\), "
        r"1 attempt in 0\.\d s\)",
        message,
    )
    assert caught.value.attempts == 1
    # the cut attempt is the endpoint's last failure: the end of the run names it too
    assert gate.unreachable() == message


async def test_a_retry_that_would_outlast_the_give_up_waits_only_until_it() -> None:
    now = [0.0]
    gate = EndpointGate(
        "http://192.0.2.1:9", max_wait=0.0, base=0.1, cap=1.0, unreachable_after=10.0, clock=lambda: now[0]
    )
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    # the backoff after the first failure is 0.5 x min(5, 1) = 0.5 s: exactly what is left of the 10 s
    policy = RetryPolicy(3, 1.0, 5.0, RetryBudget(100.0), rand=lambda: 0.5, sleep=sleep, gate=gate)

    async def refused() -> None:
        now[0] += 9.5  # the connection attempt took 9.5 s
        raise ConnectionLostError("ListServices: connection refused; check the endpoint")

    with pytest.raises(EndpointDownError) as caught:
        await policy.run(refused)
    assert slept == [0.5]  # waited out the give-up, no more, and never tried again
    assert caught.value.message == "cannot reach http://192.0.2.1:9 (connection refused, 1 attempt in 10.0 s)"
    assert caught.value.attempts == 1
    assert isinstance(caught.value.__cause__, ConnectionLostError)
