"""What the emulator saw, for ``GET /_emulator/stats``: requests by route and outcome, faults, throttling.

Tests and benchmarks judge the crawler by what reached the server — did it stay under the quota, did it
retry the 503s, how many requests did a crawl cost — so the server counts, cheaply (O(1) amortised per
request), and reports the highest number of requests in any sliding 1-second window plus the per-second
series, so a test can look at the windows after a warm-up.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from crawler.emulator.faults import FaultKind

#: the per-second series keeps this many most recent seconds
SERIES_SECONDS: Final = 3600


class ServerStats:
    """Counters mutated only on the server's event loop; ``snapshot()`` is the JSON the endpoint serves."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self.requests = 0
        self.routes: dict[str, dict[str, int]] = {}
        self.faults: dict[str, int] = {kind.value: 0 for kind in FaultKind}
        self.throttled = 0
        self.deleted_functions = 0
        self.deleted_services = 0
        self._window: deque[float] = deque()
        self.max_in_1s = 0
        self._series: list[int] = []
        self._throttled_series: list[int] = []  # throttled answers per second, aligned with _series
        self._series_offset = 0  # the second (since start) that _series[0] counts
        self._first_arrival: float | None = None

    def on_arrival(self) -> None:
        """One request arrived (counted before any decision, so throttled requests count too)."""
        now = self._clock()
        if self._first_arrival is None:
            self._first_arrival = now - self._started
        self.requests += 1
        window = self._window
        window.append(now)
        horizon = now - 1.0
        while window[0] <= horizon:
            window.popleft()
        if len(window) > self.max_in_1s:
            self.max_in_1s = len(window)
        second = int(now - self._started) - self._series_offset
        series = self._series
        if second >= len(series):
            grow = [0] * (second - len(series) + 1)
            series.extend(grow)
            self._throttled_series.extend(grow)
            if len(series) > SERIES_SECONDS:
                drop = len(series) - SERIES_SECONDS
                del series[:drop]
                del self._throttled_series[:drop]
                self._series_offset += drop
                second -= drop
        series[second] += 1

    def on_throttled(self) -> None:
        """A request was over the quota (counted in the latest second of the series)."""
        self.throttled += 1
        if self._throttled_series:
            self._throttled_series[-1] += 1

    def on_outcome(self, route: str, outcome: str) -> None:
        """How one request ended: its HTTP status, or ``reset``/``truncated``/``client-gone``."""
        by_outcome = self.routes.get(route)
        if by_outcome is None:
            by_outcome = self.routes[route] = {}
        by_outcome[outcome] = by_outcome.get(outcome, 0) + 1

    def on_fault(self, kind: FaultKind) -> None:
        self.faults[kind.value] += 1

    def snapshot(self) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for by_outcome in self.routes.values():
            for outcome, n in by_outcome.items():
                outcomes[outcome] = outcomes.get(outcome, 0) + n
        return {
            "requests": self.requests,
            "routes": {route: dict(sorted(v.items())) for route, v in sorted(self.routes.items())},
            "outcomes": dict(sorted(outcomes.items())),
            "faults": dict(self.faults),
            "throttled": self.throttled,
            "deleted": {"functions": self.deleted_functions, "services": self.deleted_services},
            "max_requests_in_1s": self.max_in_1s,
            "per_second": list(self._series),
            "throttled_per_second": list(self._throttled_series),
            "first_arrival_seconds": None if self._first_arrival is None else round(self._first_arrival, 3),
            "per_second_offset": self._series_offset,
            "uptime_seconds": round(self._clock() - self._started, 3),
        }
