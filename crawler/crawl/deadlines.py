"""``function_deadline`` for the workers: one watchdog task per crawl, not a timer per function.

A worker holds one ``Watch`` and runs its loop inside the watch's cancel scope. Around each listing it
arms the watch (``arm``: a clock read and a store) and disarms it after; the watchdog looks every
``tick`` (a tenth of the deadline, at most a second) and cancels the scope of a watch that is overdue.

Invariants: a watch is cancelled only while armed, so the cancellation lands in the listing that
overran, or — when that listing's last answer was already in as it fired — right after it, before the
worker awaits anything else (``fired``: the worker keeps that whole answer and renews the scope). A
listing ends between ``seconds`` and ``seconds + tick`` after it was armed. Why not ``move_on_after``
per function: docs/performance.md (an anyio scope with its timer is 9-10 µs, 4% of a crawl's CPU).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn

import anyio

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MAX_TICK = 1.0  # the watchdog looks at least once a second ...
TICK_SHARE = 0.1  # ... and at least ten times a deadline
MIN_TICK = 0.001


class Watch:
    """One worker's deadline: ``scope`` is what the watchdog cancels, ``due`` when (``inf``: disarmed)."""

    __slots__ = ("_clock", "due", "scope")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.scope = anyio.CancelScope()
        self.due = math.inf

    def renew(self) -> anyio.CancelScope:
        """A fresh scope, disarmed (a cancelled scope cannot be entered again)."""
        self.scope = anyio.CancelScope()
        self.due = math.inf
        return self.scope

    def arm(self, seconds: float) -> None:
        self.due = self._clock() + seconds

    def disarm(self) -> None:
        self.due = math.inf

    @property
    def fired(self) -> bool:
        """Whether the watchdog cancelled this scope (the worker must leave it before its next await)."""
        return self.scope.cancel_called


class Watchdog:
    """Cancels every overdue watch; ``run`` until the crawl's task group is cancelled."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic, sleep: Sleep = anyio.sleep) -> None:
        self.tick = min(MAX_TICK, max(MIN_TICK, seconds * TICK_SHARE))
        self._clock = clock
        self._sleep = sleep
        self._watches: set[Watch] = set()

    def watch(self) -> Watch:
        watch = Watch(self._clock)
        self._watches.add(watch)
        return watch

    def forget(self, watch: Watch) -> None:
        self._watches.discard(watch)

    def __len__(self) -> int:
        """How many watches it looks at (one per running worker)."""
        return len(self._watches)

    def check(self) -> int:
        """Cancel the overdue watches now; how many."""
        now = self._clock()
        overdue = [watch for watch in self._watches if watch.due <= now]
        for watch in overdue:
            watch.due = math.inf  # cancelled once
            watch.scope.cancel()
        return len(overdue)

    async def run(self) -> NoReturn:
        while True:
            await self._sleep(self.tick)
            self.check()
