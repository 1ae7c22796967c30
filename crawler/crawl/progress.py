"""A live progress line on stderr while a crawl runs — only when stderr is a terminal.

An unattended nightly job (stderr a file or a pipe) gets nothing extra: its stderr carries the
structured logs alone. On a terminal the line shows functions done of those discovered so far,
configs, errors, the request rate over the last few seconds and throttled responses. It reads the
run's ``RunStats`` from the event loop (one refresh task), never from another thread.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TextIO

import anyio
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from crawler.wire.run_stats import RunStats

REFRESH_SECONDS = 0.25
RATE_WINDOW_SECONDS = 3.0


class RequestRate:
    """Requests per second over a sliding window of samples."""

    def __init__(self, window: float = RATE_WINDOW_SECONDS) -> None:
        self._window = window
        self._samples: deque[tuple[float, int]] = deque()

    def sample(self, now: float, requests: int) -> float:
        self._samples.append((now, requests))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.popleft()
        first_t, first_n = self._samples[0]
        span = now - first_t
        return (requests - first_n) / span if span > 0 else 0.0


def describe(stats: RunStats, rate: float) -> str:
    """The progress figures as one line of text (also what the tests read)."""
    errors = stats.functions_by_status.get("error", 0)
    elapsed = int(stats.elapsed())
    return (
        f"functions {stats.functions_done:,}/{stats.functions_discovered:,}"
        f" · configs {stats.configs:,} · errors {errors:,}"
        f" · {rate:,.0f} req/s · throttled {stats.throttled:,}"
        f" · {elapsed // 60:02d}:{elapsed % 60:02d}"
    )


class ProgressLine:
    """``with ProgressLine(stats) as p:`` shows the line (if stderr is a TTY) while ``p.refresh_forever()``
    runs in the crawl's task group; leaving the block erases it."""

    def __init__(
        self,
        stats: RunStats,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._stats = stats
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self._clock = clock
        self._sleep = sleep
        self._rate = RequestRate()
        self._live: Live | None = None

    def renderable(self) -> Group:
        rate = self._rate.sample(self._clock(), self._stats.requests)
        total = max(self._stats.functions_discovered, 1)
        bar = ProgressBar(total=total, completed=min(self._stats.functions_done, total), width=30)
        grid = Table.grid(padding=(0, 1))
        grid.add_row(bar, Text(describe(self._stats, rate)))
        return Group(grid)

    def __enter__(self) -> ProgressLine:
        if self.enabled:
            console = Console(file=self._stream, stderr=True)
            self._live = Live(
                self.renderable(),
                console=console,
                auto_refresh=False,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    async def refresh_forever(self) -> None:
        """Redraw the line every ``REFRESH_SECONDS`` until cancelled (run it in the crawl's task group)."""
        if self._live is None:
            return
        while True:
            await self._sleep(REFRESH_SECONDS)
            self._live.update(self.renderable(), refresh=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
