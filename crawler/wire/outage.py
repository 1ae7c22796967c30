"""Riding out an outage: one gate per endpoint that shuts when the endpoint fails outright.

A retry budget alone cannot tell "this call is unlucky" from "the endpoint is gone": during a second of
"connection refused" every worker's retries drain it, and the rest of the queue ends in error. The gate
tells them apart. ``OUTAGE_FAILURES`` lost connections in a row, with no answer of any kind between
them, shut it: the endpoint is down. While it is shut, calls wait in ``admit`` instead of failing; one
of them at a time is let through as a probe, after a growing pause (``backoff_base`` doubling up to
``backoff_cap``, with jitter). Any answer at all (even an error status) from any call opens the gate
and wakes every waiter. A gate that stays shut for ``max_wait`` seconds (``outage_wait``) gives up:
every waiting and later call raises ``EndpointDownError``, and the crawl stops the targets of that
endpoint (the run is then incomplete, and ``--resume`` picks them up).

An endpoint that has never answered is another case: nothing says it ever will (a mistyped host, a
firewall that drops the connection, a port that accepts and never speaks). Its first request starts a
clock of ``unreachable_after`` seconds (15 by default); if no answer of any kind has come when it runs
out, the gate gives up at once — the attempt in flight is cut (``RetryPolicy`` runs each attempt of a
never-answered endpoint under that deadline) and every call raises ``EndpointDownError`` naming the
endpoint, the last cause, the attempts and the time: ``cannot reach URL (cause, N attempts in T s)``.
``unreachable()`` says the same after a run for an endpoint that never answered and failed in any way
(a name that does not resolve ends its calls after two attempts, before the clock runs out).

Invariants: one event loop, no locks; at most one probe in flight; a gate never waits longer than
``max_wait`` from the moment it shut, nor past ``unreachable_after`` from the first request while the
endpoint has never answered; ``max_wait`` 0 disables the outage wait (every failure is the call's),
``unreachable_after`` 0 the give-up of an endpoint that never answered.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Final

import anyio

from crawler.errors import ConnectionLostError, CrawlerError, EndpointDownError
from crawler.log import get_logger

log = get_logger(__name__)

#: lost connections in a row (no answer between them) that mean the endpoint is down, not unlucky
OUTAGE_FAILURES: Final = 5


def cause_of(error: CrawlerError) -> str:
    """An error's message without the route before it and the advice after it: what went wrong."""
    text = error.message
    route, sep, rest = text.partition(": ")
    if sep and route.isidentifier():
        text = rest
    return text.split("; ", 1)[0]


class EndpointGate:
    """Whether one endpoint answers; while it does not, calls wait here rather than fail."""

    def __init__(
        self,
        name: str,
        *,
        max_wait: float,
        base: float,
        cap: float,
        failures: int = OUTAGE_FAILURES,
        unreachable_after: float = 0.0,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.max_wait = max_wait
        self._base = base
        self._cap = cap
        self._threshold = max(1, failures)
        self._rand = rand
        self._sleep = sleep
        self._clock = clock
        self._failures = 0
        self._down_since: float | None = None
        self._probes = 0
        self._probing = False
        self._up: anyio.Event | None = None
        self._gave_up: str | None = None
        self._last_error = ""
        #: how many times the gate shut, and for how long in all (for the logs and tests)
        self.outages = 0
        self.unreachable_after = unreachable_after
        #: whether any answer (any HTTP status) ever came back: then the endpoint exists
        self.answered = False
        #: attempts sent (``sent``), the first one's time, the last failure's time and cause
        self.attempts = 0
        self._first_sent: float | None = None
        self._last_failed: float | None = None
        self._last_cause = ""

    def __repr__(self) -> str:
        return f"EndpointGate({self.name!r}, down={self.down}, gave_up={self._gave_up is not None})"

    @property
    def down(self) -> bool:
        return self._down_since is not None or self._gave_up is not None

    # -- waiting ------------------------------------------------------------------------------------

    async def admit(self) -> bool:
        """Return when a call may be sent: at once while the endpoint is up. While it is down, wait until
        it is back, or return ``True`` to the one caller whose call is the next probe. Raises
        ``EndpointDownError`` once the endpoint has been down for ``max_wait``."""
        while True:
            if self._gave_up is not None:
                raise EndpointDownError(self._gave_up)
            if self._down_since is None:
                return False
            remaining = self._down_since + self.max_wait - self._clock()
            unanswered = self.unanswered_remaining()
            if unanswered is not None and unanswered <= remaining:
                if unanswered <= 0:
                    down = EndpointDownError(self.give_up_unreached())
                    down.attempts = self.attempts
                    raise down
                remaining = unanswered
            if remaining <= 0:
                raise EndpointDownError(self._give_up())
            if not self._probing:
                self._probing = True
                try:
                    await self._sleep(min(self._probe_delay(), remaining))
                except BaseException:
                    self._probing = False
                    raise
                if self._down_since is None or self._gave_up is not None:
                    self._probing = False  # back (or given up) while this caller slept: loop again
                    continue
                return True
            up = self._up
            assert up is not None
            with anyio.move_on_after(remaining):
                await up.wait()

    def _probe_delay(self) -> float:
        """Equal jitter over ``base * 2**n`` capped: probes spread out but never come back at once."""
        step = min(self._cap, self._base * 2.0**self._probes)
        return step * (0.5 + 0.5 * self._rand())

    # -- outcomes -----------------------------------------------------------------------------------

    def sent(self) -> None:
        """An attempt is about to be sent (the first one starts the ``unreachable_after`` clock)."""
        self.attempts += 1
        if self._first_sent is None:
            self._first_sent = self._clock()

    def unanswered_remaining(self) -> float | None:
        """Seconds left before an endpoint that has never answered is given up (may be <= 0); ``None``
        once it has answered, before its first request, or with ``unreachable_after`` 0."""
        if self.answered or self.unreachable_after <= 0 or self._first_sent is None:
            return None
        return self._first_sent + self.unreachable_after - self._clock()

    def unreachable(self) -> str | None:
        """``cannot reach URL (cause, N attempts in T s)`` for an endpoint that never answered and
        failed, else ``None`` (asked at the end of a run)."""
        if self.answered or self._last_failed is None:
            return None
        if self._gave_up is not None and self._gave_up.startswith("cannot reach"):
            return self._gave_up
        return self._unreached_text(self._last_failed)

    def give_up_unreached(self, *, in_flight: bool = False) -> str:
        """The endpoint never answered within ``unreachable_after``: give up for every call.
        ``in_flight``: an attempt was cut waiting for its answer; the cause named is the last failure
        seen, if there was one (what the earlier attempts ran into), else that wait."""
        if self._gave_up is None:
            now = self._clock()
            if not self._last_cause:
                self._last_cause = f"no answer within unreachable_after ({self.unreachable_after:g} s)"
            if in_flight:
                self._last_failed = now
            self._gave_up = self._unreached_text(now)
            log.error(
                "endpoint.unreachable",
                endpoint=self.name,
                attempts=self.attempts,
                seconds=round(now - (self._first_sent or now), 3),
                cause=self._last_cause,
            )
            if self._up is not None:
                self._up.set()  # wake every waiter: each raises
        return self._gave_up

    def _unreached_text(self, until: float) -> str:
        took = until - (self._first_sent if self._first_sent is not None else until)
        attempts = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        return f"cannot reach {self.name} ({self._last_cause or 'no answer'}, {attempts} in {took:.1f} s)"

    def reached(self) -> None:
        """A call got an answer (any status): the endpoint is up."""
        self.answered = True
        self._failures = 0
        if self._down_since is None:
            return
        took = self._clock() - self._down_since
        log.warning("endpoint.back", endpoint=self.name, down_seconds=round(took, 3), probes=self._probes)
        self._down_since = None
        self._probes = 0
        self._probing = False
        if self._up is not None:
            self._up.set()

    def failed(self, error: CrawlerError, *, probe: bool = False) -> bool:
        """A call failed with ``error``; ``probe``: it was the gate's probe. True when the failure is the
        endpoint's outage (it is down now), so the call should wait at the gate and try again."""
        if error.http is not None:  # an answer, however bad: the endpoint is there
            self.reached()
            return False
        if not self.answered:
            self._last_failed = self._clock()
            self._last_cause = cause_of(error)
        if probe:
            self._probing = False
        if not isinstance(error, ConnectionLostError) or self.max_wait <= 0:
            return False
        self._failures += 1
        self._last_error = error.message
        if self._down_since is not None:
            if probe:
                self._probes += 1
            return True
        if self._failures < self._threshold:
            return False
        self._down_since = self._clock()
        self._up = anyio.Event()
        self.outages += 1
        log.warning(
            "endpoint.down",
            endpoint=self.name,
            failures=self._failures,
            wait_seconds=self.max_wait,
            last_error=self._last_error,
        )
        return True

    def abandoned(self) -> None:
        """The probe was cancelled before it had an outcome: the next caller probes."""
        self._probing = False

    def _give_up(self) -> str:
        if self._gave_up is None:
            self._gave_up = (
                f"{self.name} did not answer for {self.max_wait:g}s (outage_wait); last error: "
                f"{self._last_error or 'none'}"
            )
            log.error("endpoint.gave_up", endpoint=self.name, wait_seconds=self.max_wait)
            if self._up is not None:
                self._up.set()  # wake every waiter: each raises
        return self._gave_up
