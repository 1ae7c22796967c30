"""A live progress line on stderr while a crawl runs — only when stderr is a terminal, and not with
``--no-progress`` or ``-q``.

An unattended nightly job (stderr a file or a pipe) gets nothing extra: its stderr carries the
structured logs alone. On a terminal the line shows functions done of those discovered so far,
configs, errors (failed attempts, as they happen), retries, throttled answers, the request rate over the
last few seconds and the time so far, and a bar when there is room. It is one line that always fits the
terminal (figures that do not fit are left out, least important first, and it is never wider than the
terminal less one column, so it cannot wrap), and it never shares a line with a log message: it is the
status line of ``crawler.log.StatusStream``, which clears it before a log line and draws it again after.
It reads the run's ``RunStats`` from the event loop (one refresh task), never from another thread.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, TextIO

import anyio

from crawler.log import StatusStream, status_stream
from crawler.wire.run_stats import RunStats

REFRESH_SECONDS = 0.25
RATE_WINDOW_SECONDS = 3.0
#: the bar's widest and narrowest (narrower than this, no bar at all)
BAR_WIDTH: Final = 20
MIN_BAR_WIDTH: Final = 8
SEPARATOR: Final = " · "


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


def figures(stats: RunStats, rate: float) -> list[str]:
    """The progress figures, most important first (the line leaves out the last ones when narrow)."""
    errors = max(stats.failed_requests, stats.functions_by_status.get("error", 0))
    elapsed = int(stats.elapsed())
    return [
        f"functions {stats.functions_done:,}/{stats.functions_discovered:,}",
        f"errors {errors:,}",
        f"retries {stats.retries:,}",
        f"configs {stats.configs:,}",
        f"throttled {stats.throttled:,}",
        f"{rate:,.0f} req/s",
        f"{elapsed // 60:02d}:{elapsed % 60:02d}",
    ]


def describe(stats: RunStats, rate: float) -> str:
    """Every progress figure as one line of text (what the tests read)."""
    return SEPARATOR.join(figures(stats, rate))


def bar(done: int, total: int, width: int) -> str:
    filled = width * min(done, total) // max(total, 1)
    return "━" * filled + "─" * (width - filled)


def fitted(stats: RunStats, rate: float, columns: int) -> str:
    """The line for a terminal ``columns`` wide: at most ``columns - 1`` characters (a line as wide as
    the terminal wraps on some), the figures that fit, and a bar if there is room."""
    room = max(columns - 1, 1)
    shown = figures(stats, rate)
    while len(shown) > 1 and len(SEPARATOR.join(shown)) > room:
        shown.pop()
    text = SEPARATOR.join(shown)[:room]
    width = min(BAR_WIDTH, room - len(text) - 1)
    if width >= MIN_BAR_WIDTH:
        text = f"{bar(stats.functions_done, stats.functions_discovered, width)} {text}"
    return text


class ProgressLine:
    """``with ProgressLine(stats) as p:`` shows the line (if stderr is a TTY and ``enabled`` is not
    ``False``) while ``p.refresh_forever()`` runs in the crawl's task group; leaving the block erases it."""

    def __init__(
        self,
        stats: RunStats,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        columns: Callable[[], int] | None = None,
    ) -> None:
        self._stats = stats
        raw = stream if stream is not None else sys.stderr
        self._stream: StatusStream = status_stream(raw)
        tty = self._stream.isatty()
        self.enabled = tty if enabled is None else (enabled and tty)
        self._clock = clock
        self._sleep = sleep
        self._columns = columns or (lambda: shutil.get_terminal_size((80, 24)).columns)
        self._rate = RequestRate()
        self._shown = False

    def line(self) -> str:
        rate = self._rate.sample(self._clock(), self._stats.requests)
        return fitted(self._stats, rate, self._columns())

    def draw(self) -> None:
        if self.enabled:
            self._stream.set_status(self.line())
            self._shown = True

    def __enter__(self) -> ProgressLine:
        self.draw()
        return self

    async def refresh_forever(self) -> None:
        """Redraw the line every ``REFRESH_SECONDS`` until cancelled (run it in the crawl's task group)."""
        if not self.enabled:
            return
        while True:
            await self._sleep(REFRESH_SECONDS)
            self.draw()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._shown:
            self._stream.clear_status()
            self._shown = False
