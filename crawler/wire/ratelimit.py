"""One limiter per endpoint, shared by every worker: a pace (requests/s) and a cap on requests in flight.

FC does not publish its control-plane quota, so by default there is no fixed rate: the limiter finds the
server's pace and stays just under it. It is AIMD, as TCP is, with the clock injected so tests are exact:

* **pacing, not bursts**: requests start one at a time ``1/rate`` apart (a bucket of size one), so even
  a limiter that was idle never fires a burst above the ceiling. Event-loop timers wake up late (about a
  millisecond, more on a busy loop), which at hundreds of requests/s would lose a large share of the
  rate, so a start at most ``LATE_CREDIT`` after its due time keeps the schedule (the next one is due
  ``1/rate`` after the *due* time): a lateness of more than that, such as an idle spell, is not credited;
* **slow start** (no ``--rate``): begin at ``INITIAL_RATE`` and grow exponentially until the first
  throttled answer. Starting unpaced instead would put ``concurrency`` requests in flight against an
  empty quota and have nearly all of them throttled. The rate doubles in well under a second, so two
  things must keep up with it: a start waiting on the pace looks again a round trip later (the due
  time it slept towards was computed from a rate that has grown since), and "is the limiter the
  bottleneck?" is judged over a few round trips, not a fixed quarter second in which the rate has
  already outgrown the requests started. Until the first throttle, a request also starts at once
  while fewer than ``INITIAL_WINDOW`` are in flight (TCP's initial window): one or two chains of
  pages, such as a small region or FC 3.0's region-wide listings, then run at the speed of the round
  trip instead of the 5 requests/s a pace must start from, and a quota sees at most that many extra;
* **multiplicative decrease**: the first throttle halves the rate; later ones cut it to ``DECREASE`` times
  the smaller of the rate and the successful answers per second over the last second, or since slow
  start ended if that reads more (what the server actually admits) — but only for a request sent
  *after* the previous cut: answers to requests sent before it describe the old pace, and cutting
  again for each of them would collapse the rate;
* **additive increase**: each success raises the rate, quickly back to ``RECOVER_TO`` of the level at
  which throttling last happened, then slowly (``PROBE_STEP`` of it per second) above it. A token-bucket
  quota lets a prober run above it until its burst is spent, so the probe must be slow for the overshoot
  to stay small;
* the rate never exceeds the configured ceiling, never drops below ``MIN_RATE``, and grows only while the
  limiter is the bottleneck (requests waiting on the pace): a rate far above what the workers use would
  be a burst waiting to happen.

``AdaptiveRate`` is the pure state machine (every method takes ``now``); ``RateLimiter`` wraps it with a
fair ``anyio.Lock`` for the pace, a semaphore for the in-flight cap, and the injected clock and sleep.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Awaitable, Callable

import anyio

from crawler.log import get_logger

log = get_logger(__name__)

# The constants below were tuned with a seeded simulation of a token-bucket quota (burst = 1 s of
# quota, as the emulator's) over quotas of 1..1000 requests/s, latencies of 2..50 ms and 2, 8 or 32
# workers. For quotas of 10/s and more, throttled answers stay under 5 % of a 30 s run; below that they
# are the same handful per endpoint (most at the start, so a smaller share of a longer run). After the
# first two seconds a 1 s window stays within 1.2 x the quota up to 20 ms of latency (the test's grid),
# and within 1.3 x at 50 ms.
# tests/wire/test_ratelimit.py keeps that simulation as a regression test.
INITIAL_RATE = 5.0  # requests/s at the start of slow start ...
INITIAL_WINDOW = 2  # ... above this many requests in flight (fewer start at once until the first throttle)
SLOW_START_GAIN = 5.0  # requests/s added per success in slow start, so the rate grows as e^(5 t) ...
SLOW_START_PER_RTT = 0.4  # ... but by at most e^0.4 = 1.5 times per round trip (less overshoot)
FIRST_DECREASE = 0.5  # leaving slow start: half the rate at which the first throttle came
DECREASE = 0.8  # later: 0.8 x the smaller of the rate and the accepted (successful) answers/s
RECOVER_TO = 0.9  # grow fast back to 0.9 x the level of the last throttle ...
RECOVER_STEP = 0.10  # ... at 10 % of that level per second,
PROBE_STEP = 0.01  # then probe above it at 1 % of that level per second
MIN_RATE = 0.2
LATE_CREDIT = 0.01  # seconds of lateness a start may make up on the schedule (timer overshoot)
WINDOW = 1.0  # seconds over which start and success rates are measured
SHORT_SPAN = 0.1  # after slow start, the accepted rate is also read over its time since (at least this)
BUSY_WINDOW = 0.25  # growth needs requests waiting on the pace, and half the rate used, this recently ...
SLOW_START_ROUNDS = 4.0  # ... or, in slow start, this many round trips (the rate outgrows a fixed window)
MIN_RECHECK = 0.002  # in slow start a waiting start looks again after a round trip, at least this long


class AdaptiveRate:
    """The pacing and AIMD arithmetic, free of clocks and tasks; times are seconds on one monotonic axis."""

    def __init__(self, ceiling: float | None) -> None:
        if ceiling is not None and not ceiling > 0:
            raise ValueError("ceiling must be > 0")
        self.ceiling = ceiling
        self.rate: float = ceiling if ceiling is not None else INITIAL_RATE
        self.slow_start = ceiling is None
        #: the rate at which throttling last happened (None until it has)
        self.level: float | None = None
        self.cuts = 0
        self._last_start = -math.inf
        self._last_cut = -math.inf
        self._backlogged_at = -math.inf
        self._starts: deque[float] = deque()
        self._successes: deque[float] = deque()
        self._first_start: float | None = None
        self._ramp_end: float | None = None  # when slow start ended (its first throttle)
        self.rtt: float | None = None

    # -- pacing -------------------------------------------------------------------------------------
    def next_start(self, now: float, in_flight: int | None = None) -> float:
        """The earliest time the next request may start (``<= now`` means at once), given how many
        requests are in flight (``None``: not known, so no initial window)."""
        due = self._last_start + 1.0 / self.rate
        if due > now:
            self._backlogged_at = now
            if self.slow_start and in_flight is not None and in_flight < INITIAL_WINDOW:
                return now
            if self.slow_start and self.rtt is not None:
                # the rate may grow with every answer: look again a round trip from now, not at a due
                # time computed from a pace that is already out of date
                return min(due, now + max(self.rtt, MIN_RECHECK))
        return due

    def started(self, now: float) -> None:
        if self._first_start is None:
            self._first_start = now
        due = self._last_start + 1.0 / self.rate
        # on schedule (late by a timer's overshoot at most): keep the schedule, or the rate leaks away
        self._last_start = due if 0.0 <= now - due <= LATE_CREDIT else now
        self._starts.append(now)
        self._prune(now)

    @staticmethod
    def _per_second(times: deque[float], now: float, seconds: float) -> float:
        # times are in order: a binary search, not a walk over up to a second of requests
        return (len(times) - bisect_right(times, now - seconds)) / seconds

    def _recent(self, now: float, seconds: float) -> float:
        """Starts per second over the last ``seconds``."""
        return self._per_second(self._starts, now, seconds)

    def accepted(self, now: float) -> float:
        """Successful answers per second: over the last ``WINDOW`` (or since the first request) or, when
        that is more, over the time since slow start ended (at least ``SHORT_SPAN`` or four requests).

        Within a second of the first throttle the longer span still holds the ramp, when the pace was a
        fraction of the server's: read alone, it put the level near half a bursty quota (700/s with a
        burst of 35: the burst hid the quota until the pace was well past it), and the slow probe above
        the level did not climb back within a short crawl.
        """
        self._prune(now)
        span = WINDOW if self._first_start is None else min(WINDOW, max(now - self._first_start, 0.1))
        whole = self._per_second(self._successes, now, span)
        if self._ramp_end is None:
            return whole
        since = min(WINDOW, max(now - self._ramp_end, SHORT_SPAN, 4.0 / self.rate))
        return max(whole, self._per_second(self._successes, now, since))

    def _prune(self, now: float) -> None:
        while self._starts and self._starts[0] <= now - WINDOW:
            self._starts.popleft()
        while self._successes and self._successes[0] <= now - WINDOW:
            self._successes.popleft()

    # -- feedback -----------------------------------------------------------------------------------
    def throttled(self, now: float, sent_at: float) -> bool:
        """A throttled answer to a request sent at ``sent_at``; True when it cut the rate."""
        if sent_at < self._last_cut:
            return False
        # in slow start the trailing second lags the exponential growth: trust the pace instead
        accepted = 0.0 if self.slow_start else self.accepted(now)
        used = max(MIN_RATE, min(self.rate, accepted)) if accepted > 0 else self.rate
        self.level = used
        factor = FIRST_DECREASE if self.slow_start else DECREASE
        self.rate = max(MIN_RATE, factor * used)
        if self.slow_start:
            self.slow_start, self._ramp_end = False, now
        self._last_cut = now
        self.cuts += 1
        return True

    def succeeded(self, now: float, sent_at: float) -> None:
        """A successful answer: grow, if the limiter (not the workers) is what holds requests back."""
        self._successes.append(now)
        rtt = max(now - sent_at, 1e-4)
        self.rtt = rtt if self.rtt is None else 0.8 * self.rtt + 0.2 * rtt
        if sent_at < self._last_cut:
            return
        ceiling = self.ceiling if self.ceiling is not None else math.inf
        window = BUSY_WINDOW if not self.slow_start or self.rtt is None else SLOW_START_ROUNDS * self.rtt
        busy = max(window, 2.0 / self.rate)
        if (
            self.rate >= ceiling
            or now - self._backlogged_at > busy
            or self._recent(now, busy) < 0.5 * self.rate
        ):
            return
        if self.slow_start:
            grown = self.rate + min(SLOW_START_GAIN, SLOW_START_PER_RTT / self.rtt)
        else:
            level = self.level if self.level is not None else self.rate
            step = RECOVER_STEP if self.rate < RECOVER_TO * level else PROBE_STEP
            grown = self.rate + step * level / self.rate
        self.rate = min(ceiling, grown)


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """The shared limiter of one endpoint: ``sent_at = await limiter.acquire()`` before each request,
    ``limiter.release()`` once its answer is in.

    ``rate`` is the ceiling in requests/s (``None``: no ceiling, find the server's pace); ``concurrency``
    the most requests in flight. Report each answer with ``on_throttled(sent_at)`` or
    ``on_success(sent_at)`` so the pace adapts.
    """

    def __init__(
        self,
        rate: float | None,
        concurrency: int,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
        *,
        name: str = "",
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.core = AdaptiveRate(rate)
        self.concurrency = concurrency
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._in_flight = anyio.Semaphore(concurrency)
        self._pace = anyio.Lock()
        self._running = 0  # requests started and not yet released (those waiting on the pace are not)

    @property
    def rate(self) -> float:
        return self.core.rate

    async def acquire(self) -> float:
        """Wait for a free in-flight slot and then for the pace; returns the start time.

        Neither the slot nor the pace lock yields to the event loop when it is free at once (anyio's
        ``acquire`` always does, a full loop turn per request on the hot path): the request that
        follows is the await that lets other tasks run.
        """
        try:
            self._in_flight.acquire_nowait()
        except anyio.WouldBlock:
            await self._in_flight.acquire()
        try:
            try:
                self._pace.acquire_nowait()
            except anyio.WouldBlock:
                await self._pace.acquire()
            try:
                while True:
                    now = self._clock()
                    due = self.core.next_start(now, self._running)
                    if due <= now:
                        break
                    await self._sleep(due - now)
                self.core.started(now)
            finally:
                self._pace.release()
        except BaseException:
            self._in_flight.release()
            raise
        self._running += 1
        return now

    def release(self) -> None:
        self._running -= 1
        self._in_flight.release()

    def on_throttled(self, sent_at: float | None = None) -> None:
        now = self._clock()
        before = self.core.rate
        if self.core.throttled(now, now if sent_at is None else sent_at):
            log.debug(
                "ratelimit.cut", endpoint=self.name, rate_before=round(before, 3), rate=round(self.rate, 3)
            )

    def on_success(self, sent_at: float | None = None) -> None:
        now = self._clock()
        self.core.succeeded(now, now if sent_at is None else sent_at)
