"""When to try a failed request again, and when to stop: full-jitter backoff, a retry quota per endpoint,
and waiting out an endpoint that is down.

Every call fcaudit makes is a read, so a timeout, a reset, a 5xx or a throttle is safe to retry. The
backoff is botocore's full jitter: after the n-th failed attempt wait ``rand() * min(cap, base * 2**(n-1))``
(so with the defaults at most 0.2 s, 0.4 s, 0.8 s, ...), which spreads the retries of many workers that
failed together. A server hint (``Retry-After`` / ``x-acs-retry-after``) is a floor: the wait is
``max(hint, jitter)``, the hint itself clamped to ``cap`` so a hostile or buggy header cannot park a
worker for a day. The shared rate limiter has already slowed the pace on a throttle, so waiting exactly
the hint cannot produce a synchronised volley.

The ``RetryBudget`` is botocore's retry quota, one per endpoint (``retry_budget`` tokens, 500 by
default): a retry costs ``RETRY_COST`` (5) tokens, or ``TIMEOUT_RETRY_COST`` (10) after a timeout or a
lost connection; a call that succeeds gives back what its last retry cost, or ``SUCCESS_REFUND`` (1)
when it needed none; tokens are capped at the capacity. Only calls that keep failing drain it, and once
it is empty every retryable failure is final at once (``RetryBudgetExhaustedError``) until successes
refill it. ``AuthError`` and other non-retryable errors are never retried; an error with an
``attempt_limit`` (a failure that repeats identically: DNS, TLS, an HTML page) gets no more attempts
than that.

A stall is the endpoint's too: a throttle answered while the endpoint's limiter is stalled (the server
admits nothing, whatever the pace: ``crawler.wire.ratelimit``) is marked ``stalled`` and costs the call
neither an attempt nor a token (at most ``MAX_STALL_REFUSALS`` times): it queues for the limiter's next
probe, after the server's hint.

An outage is another matter: when the endpoint fails outright (``crawler.wire.outage.EndpointGate``: several
lost connections in a row, no answer between), a failure is the endpoint's, not the call's. It costs
neither an attempt nor a token: the call waits at the gate until a probe gets through, then tries
again. A gate that stays shut for ``outage_wait`` seconds raises ``EndpointDownError`` instead.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from crawler.errors import (
    AuthError,
    ConnectionLostError,
    CrawlerError,
    EndpointDownError,
    RequestTimeoutError,
    RetryBudgetExhaustedError,
    ThrottledError,
)
from crawler.log import get_logger
from crawler.wire.outage import EndpointGate

log = get_logger(__name__)
T = TypeVar("T")

#: botocore's retry quota (botocore/retries/standard.py): what a retry costs, what a success gives back
RETRY_COST = 5.0
TIMEOUT_RETRY_COST = 10.0
SUCCESS_REFUND = 1.0
#: how many failures the endpoint's outage may take from one call (a gate flapping shut and open for
#: ever cannot keep a call alive for ever)
MAX_OUTAGE_FAILURES = 100
#: and how many refusals the endpoint's stall may (a server that admits nothing, ``wire.ratelimit``)
MAX_STALL_REFUSALS = 100


def retry_cost(error: CrawlerError) -> float:
    """Tokens one retry after ``error`` costs: a timeout or a lost connection costs double."""
    return TIMEOUT_RETRY_COST if isinstance(error, RequestTimeoutError | ConnectionLostError) else RETRY_COST


@dataclass(slots=True)
class RetryBudget:
    """One endpoint's retry tokens (one event loop, so no lock). ``capacity`` 0 disables retries."""

    capacity: float
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise ValueError("retry budget capacity must be >= 0")
        self.tokens = self.capacity

    def try_spend(self, cost: float = RETRY_COST) -> bool:
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def on_success(self, last_cost: float) -> None:
        """A call ended well; ``last_cost`` is what its last retry cost (0: it needed none). Like
        botocore, give that back, or ``SUCCESS_REFUND`` for a call that needed no retry."""
        self.tokens = min(self.capacity, self.tokens + (last_cost if last_cost > 0 else SUCCESS_REFUND))


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
        *,
        gate: EndpointGate | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.max_attempts = max_attempts
        self.base = base
        self.cap = cap
        self.budget = budget
        #: the endpoint's outage gate (``None``: every failure is the call's own)
        self.gate = gate
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
        With a gate, each attempt first waits while the endpoint is down (``EndpointDownError`` once it
        has been down for ``outage_wait``), and a failure the gate puts down to the outage is retried
        after the wait without counting as an attempt or costing a token. So is a throttle answered
        while the endpoint's limiter is stalled (``ThrottledError.stalled``): the limiter's probes
        pace the retry.
        """
        gate = self.gate
        last_cost = 0.0
        attempt = 1
        outage_failures = stall_refusals = 0
        while True:
            probe = await gate.admit() if gate is not None else False
            try:
                result = await self._attempt(call, gate)
            except EndpointDownError:
                raise
            except CrawlerError as error:
                error.attempts = attempt
                outage = gate is not None and gate.failed(error, probe=probe)
                if outage and error.retryable and outage_failures < MAX_OUTAGE_FAILURES:
                    outage_failures += 1  # the endpoint's failure, not this call's: wait at the gate
                    continue
                if (
                    isinstance(error, ThrottledError)
                    and error.stalled
                    and stall_refusals < MAX_STALL_REFUSALS
                ):
                    # the endpoint's refusal, not this call's: its limiter sends one probe at a time until
                    # the server admits one, so the call queues for the next (after the server's hint)
                    stall_refusals += 1
                    if error.retry_after is not None:
                        await self._sleep(min(error.retry_after, self.cap))
                    continue
                if not self.should_retry(attempt, error):
                    raise
                cost = retry_cost(error)
                if not self.budget.try_spend(cost):
                    raise _budget_exhausted(error, attempt) from error
                last_cost = cost
                wait = self.delay(attempt, error)
                if gate is not None:
                    unanswered = gate.unanswered_remaining()
                    if unanswered is not None and unanswered <= wait:  # given up while we would wait
                        await self._sleep(max(0.0, unanswered))
                        raise _unreached(gate, in_flight=False) from error
                if on_retry is not None:
                    on_retry(attempt, error, wait)
                await self._sleep(wait)
                attempt += 1
            except BaseException:
                if probe and gate is not None:
                    gate.abandoned()  # cancelled mid-probe: another caller probes next
                raise
            else:
                if gate is not None:
                    gate.reached()
                self.budget.on_success(last_cost)
                return result

    async def _attempt(self, call: Callable[[], Awaitable[T]], gate: EndpointGate | None) -> T:
        """One attempt; while the endpoint has never answered, cut at its ``unreachable_after``."""
        if gate is None:
            return await call()
        gate.sent()
        remaining = gate.unanswered_remaining()
        if remaining is None:
            return await call()
        with anyio.move_on_after(max(0.0, remaining)):
            return await call()
        raise _unreached(gate, in_flight=True)


def _unreached(gate: EndpointGate, *, in_flight: bool) -> EndpointDownError:
    error = EndpointDownError(gate.give_up_unreached(in_flight=in_flight))
    error.attempts = gate.attempts
    return error


def _budget_exhausted(error: CrawlerError, attempt: int) -> RetryBudgetExhaustedError:
    exhausted = RetryBudgetExhaustedError(
        f"the endpoint's retry quota (retry_budget) is spent, not retrying; last error {error.code}: "
        f"{error.message}"
    )
    exhausted.attempts = attempt
    exhausted.http = error.http
    exhausted.request_id = error.request_id
    return exhausted
