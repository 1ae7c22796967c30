"""A seeded, virtual-time model of crawls against a quota, for the rate limiter's regression test.

Nothing sleeps: one event heap orders every start, arrival and answer. The server is the emulator's own
``Quota`` (a token bucket of any burst, or a fixed one-second window counter, with mid-crawl changes) on
the virtual clock, so the simulation and the end-to-end runs meet the same shapes. Each client is one
of ``clients`` endpoints of one account (their limiters joined by a ``SharedQuota``, as the crawl's
are) sharing that quota, or, with ``own_quotas``, each with a quota of its own; every endpoint
has ``workers`` workers that always have work, a pacer that behaves as ``RateLimiter.acquire`` does (one
FIFO queue, a wait of half a ``TIMER_GRAIN`` or less made a whole one, wakes late by up to ``TIMER_LAG``
as event-loop timers do), and retries a throttled request
like ``RetryPolicy`` (full jitter, the server's ``Retry-After`` as a floor). A request reaches the quota
after a uniform arrival jitter; a throttled one is answered at once, an admitted one after the latency
plus a uniform jitter (the emulator throttles on arrival too).

``pacer="adaptive"`` is ``AdaptiveRate`` itself; ``"fixed"`` paces at exactly ``ceiling`` (the best fixed
pace is the highest such pace with under 3% throttled); ``"sdk"`` is the official SDK in a thread pool:
no pacing, a throttle retried after ``rand() * min(2, 0.1 * 2**attempt)`` seconds (bench/sdk_crawl.py).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from crawler.emulator.faults import Quota, QuotaShape
from crawler.wire.ratelimit import TIMER_GRAIN, AdaptiveRate
from crawler.wire.shared_quota import SharedQuota

TIMER_LAG = 0.0005  # a pacer's wake-up is late by up to this (uniform)
THROTTLE_ANSWER = 0.0005  # a throttled request is answered this long after it arrives
WARM_UP = 5.0  # the targets are judged after this many seconds

Pacer = Literal["adaptive", "fixed", "sdk"]


class Core(Protocol):
    rate: float

    def next_start(self, now: float, in_flight: int | None = None) -> float: ...
    def started(self, now: float) -> None: ...
    def throttled(self, now: float, sent_at: float) -> bool: ...
    def succeeded(self, now: float, sent_at: float) -> None: ...


class FixedPace:
    """A pace that never changes: what ``--rate`` would be if it never adapted (the limiter's own
    pacing, lateness credited as it credits it, with its feedback ignored)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._pacing = AdaptiveRate(rate)

    def next_start(self, now: float, in_flight: int | None = None) -> float:
        return self._pacing.next_start(now)

    def started(self, now: float) -> None:
        self._pacing.started(now)

    def throttled(self, now: float, sent_at: float) -> bool:
        return False

    def succeeded(self, now: float, sent_at: float) -> None:
        return None


class Unpaced(FixedPace):
    def __init__(self) -> None:
        self.rate = math.inf

    def next_start(self, now: float, in_flight: int | None = None) -> float:
        return now

    def started(self, now: float) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Shape:
    """The server: a quota of ``quota`` requests/s, its shape, and the network around it."""

    quota: float
    burst: int = 1
    kind: QuotaShape = "bucket"
    changes: tuple[tuple[float, float], ...] = ()
    latency: float = 0.02
    jitter: float = 0.01  # uniform extra latency of an admitted request
    arrival_jitter: float = 0.002  # uniform delay before the quota sees a request
    retry_after: bool = False  # 429s carry Retry-After (whole seconds)
    window: float = 1.0  # a window counter's window, seconds (60: a quota of N calls a minute)
    #: a busy machine (client and server processes descheduled now and then): the mean of an
    #: exponential extra lateness of each pacer wake-up, and of each request's way to the quota
    timer_tail: float = 0.0
    arrival_tail: float = 0.0

    def quota_at(self, t: float) -> float:
        factor = 1.0
        for at, f in self.changes:
            if t >= at:
                factor = f
        return self.quota * factor


@dataclass(frozen=True, slots=True)
class Result:
    requests: int
    throttled: int
    arrivals: tuple[int, ...]  # per whole second, every arrival
    accepted: tuple[int, ...]  # per whole second, the admitted ones
    duration: float
    finished: float | None  # when the ``until``-th success came
    joined: int = 0  # endpoints paced by another's limiter at the end (found to share its quota)

    @property
    def share(self) -> float:
        return self.throttled / self.requests if self.requests else 0.0

    def steady(self, start: float = WARM_UP, end: float | None = None) -> float:
        """Admitted requests/s over the whole seconds from ``start`` to ``end``."""
        lo, hi = math.ceil(start), int(self.duration if end is None else end)
        return sum(self.accepted[lo:hi]) / max(1, hi - lo)

    def arrived(self, start: float = WARM_UP, end: float | None = None) -> float:
        """Arrivals/s (admitted or not) over the whole seconds from ``start`` to ``end``."""
        lo, hi = math.ceil(start), int(self.duration if end is None else end)
        return sum(self.arrivals[lo:hi]) / max(1, hi - lo)

    def peak(self, start: float = WARM_UP) -> int:
        """The most arrivals in one whole second from ``start`` on."""
        return max(self.arrivals[math.ceil(start) : int(self.duration)], default=0)

    def recovery(self, at: float, target: float, burst: int) -> float | None:
        """Seconds from ``at`` to the end of the first whole second whose admitted count is within 10 % of
        ``target`` and whose arrivals are at most 10 % (plus the burst) above it."""
        for second in range(math.ceil(at), int(self.duration)):
            if self.accepted[second] >= 0.9 * target and self.arrivals[second] <= 1.1 * target + burst:
                return second + 1 - at
        return None


def simulate(
    shape: Shape,
    *,
    pacer: Pacer = "adaptive",
    ceiling: float | None = None,
    workers: int = 32,
    clients: int = 1,
    duration: float = 20.0,
    until: int | None = None,
    seed: int = 7,
    make_core: Callable[[float | None], Core] | None = None,
    own_quotas: tuple[float, ...] = (),
) -> Result:
    rng = random.Random(seed)
    now = 0.0
    quotas = [
        Quota(q, shape.burst, shape.kind, shape.changes, clock=lambda: now, window=shape.window)
        for q in own_quotas or [shape.quota]
    ]
    account = SharedQuota() if clients > 1 else None
    cores: list[Core] = []
    for _ in range(clients):
        if pacer == "sdk":
            cores.append(Unpaced())
        elif pacer == "fixed":
            assert ceiling is not None
            cores.append(FixedPace(ceiling / clients))
        else:
            share = None if ceiling is None else ceiling / clients
            cores.append(make_core(share) if make_core is not None else AdaptiveRate(share, account))
    seconds = math.ceil(duration) + 1
    arrivals, accepted = [0] * seconds, [0] * seconds
    events: list[tuple[float, int, int, int, int, float]] = []  # time, seq, kind, client, worker, sent
    waiting: list[deque[int]] = [deque() for _ in range(clients)]
    asleep = [False] * clients
    in_flight = [0] * clients
    attempts: dict[tuple[int, int], int] = {}
    hints: dict[tuple[int, int], float] = {}
    seq = requests = throttled = successes = 0
    finished: float | None = None
    want, wake, arrive, answer = 0, 1, 2, 3

    def push(at: float, kind: int, client: int, worker: int, sent: float = 0.0) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, client, worker, sent))

    def pace(c: int) -> None:
        core, queue = cores[c], waiting[c]
        while queue and not asleep[c]:
            due = core.next_start(now, in_flight[c])
            if due > now:
                asleep[c] = True
                lag = rng.random() * TIMER_LAG
                if shape.timer_tail:  # (no draw otherwise: the other cells keep their sequences)
                    lag += rng.expovariate(1.0 / shape.timer_tail)
                if due - now <= TIMER_GRAIN / 2:  # as RateLimiter.acquire: a grain, not a spin
                    due = now + TIMER_GRAIN
                push(due + lag, wake, c, -1)
                return
            core.started(now)
            in_flight[c] += 1
            way = rng.random() * shape.arrival_jitter
            if shape.arrival_tail:
                way += rng.expovariate(1.0 / shape.arrival_tail)
            push(now + way, arrive, c, queue.popleft(), now)

    for c in range(clients):
        for w in range(workers):
            push(0.0, want, c, w)
    while events:
        now, _, kind, c, w, sent = heapq.heappop(events)
        if now > duration:
            break
        if kind == want:
            waiting[c].append(w)
        elif kind == wake:
            asleep[c] = False
        elif kind == arrive:
            requests += 1
            arrivals[int(now)] += 1
            wait = quotas[c if own_quotas else 0].take()
            if wait is None:
                accepted[int(now)] += 1
                push(now + shape.latency + rng.random() * shape.jitter, answer, c, w, sent)
            else:
                throttled += 1
                hints[(c, w)] = math.ceil(wait) if shape.retry_after else 0.0
                push(now + THROTTLE_ANSWER, answer, c, w, -1.0 - sent)  # a negative sent time: throttled
            continue
        else:  # answer
            in_flight[c] -= 1
            if sent >= 0:
                cores[c].succeeded(now, sent)
                successes += 1
                attempts.pop((c, w), None)
                if successes == until:
                    finished = now
                    break
                push(now, want, c, w)
            else:
                sent_at = -1.0 - sent
                cores[c].throttled(now, sent_at)
                n = attempts.get((c, w), 1)
                if pacer == "sdk":
                    backoff = rng.random() * min(2.0, 0.1 * 2**n)
                else:
                    backoff = max(rng.random() * min(20.0, 0.2 * 2 ** (n - 1)), min(hints[(c, w)], 20.0))
                attempts[(c, w)] = min(n + 1, 6)
                push(now + backoff, want, c, w)
        pace(c)
    joined = sum(isinstance(core, AdaptiveRate) and core.lead is not core for core in cores)
    return Result(requests, throttled, tuple(arrivals), tuple(accepted), duration, finished, joined)


def enough_workers(shape: Shape, clients: int = 1) -> int:
    """32 (fcaudit's default), or enough that the quota, not the round trip, bounds the crawl (as a user
    raises --concurrency for a large quota at a long latency)."""
    return max(32, math.ceil(2.0 * shape.quota * (shape.latency + shape.jitter) / clients))


def best_fixed_pace(shape: Shape, duration: float = 12.0, steps: int = 7) -> float:
    """The highest fixed pace (requests/s) with under 3% of its requests throttled, by bisection."""
    lo, hi = 0.0, shape.quota
    for _ in range(steps):
        mid = (lo + hi) / 2
        if simulate(shape, pacer="fixed", ceiling=mid, duration=duration).share < 0.03:
            lo = mid
        else:
            hi = mid
    return lo
