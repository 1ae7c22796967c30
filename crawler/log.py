"""structlog, configured once per process: readable console lines on a TTY, JSON lines otherwise.

Events are dotted names with key-value data (``crawl.page_fetched``, ``retry.scheduled``). Logs go to
stderr so stdout stays pure NDJSON. A processor drops any value whose key looks like a secret, a second
line of defence behind never logging credentials in the first place.

Colour only where it can be seen and is wanted: the console renderer colours its lines when the stream
is a terminal and ``NO_COLOR`` is not set (https://no-color.org), never otherwise (``colour_wanted``,
which every coloured output of fcaudit asks).

stderr is shared with one *status line* (the crawl's progress line): ``StatusStream`` wraps it so that a
log line never lands on the status line. Writing a log line first clears the status line, and once the
log line is complete the status line is drawn again below it. The status line is set and cleared through
``status_stream()`` (``crawl.progress``); one event loop writes both, so no lock is needed.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TextIO

import orjson
import structlog

LogFormat = Literal["auto", "console", "json"]
_SECRET_KEYS = ("secret", "token", "password", "authorization", "signature")
#: carriage return, then erase the whole line: what clears the status line (VT100, every terminal)
CLEAR_LINE = "\r\x1b[2K"


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(part in key.lower() for part in _SECRET_KEYS) and key != "event":
            event[key] = "[redacted]"
    return event


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode("utf-8")


def colour_wanted(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Whether text written to ``stream`` may be coloured: a terminal, and ``NO_COLOR`` unset or empty."""
    env = os.environ if env is None else env
    return not env.get("NO_COLOR") and _isatty(stream)


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or a bare stream
        return False


class StatusStream:
    """A text stream (stderr) whose last line may be a status line that log lines never share."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._status = ""
        self._drawn = False  # the status line is on screen, the cursor at its end

    def isatty(self) -> bool:
        return _isatty(self.stream)

    def write(self, text: str) -> int:
        if self._drawn:
            self.stream.write(CLEAR_LINE)
            self._drawn = False
        written = self.stream.write(text)
        if self._status and text.endswith("\n"):
            self.stream.write(self._status)
            self._drawn = True
        return written

    def flush(self) -> None:
        self.stream.flush()

    def set_status(self, text: str) -> None:
        """Draw ``text`` as the status line (no newline), replacing the one drawn."""
        self.stream.write(CLEAR_LINE + text)
        self.stream.flush()
        self._status, self._drawn = text, True

    def clear_status(self) -> None:
        """Erase the status line; later writes go where it was."""
        if self._drawn:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
        self._status, self._drawn = "", False


_status: StatusStream | None = None


def status_stream(stream: TextIO | None = None) -> StatusStream:
    """The ``StatusStream`` over ``stream`` (default stderr) that the logs write to, made once per
    stream: the logs and the progress line must go through the same one."""
    global _status
    target = stream if stream is not None else sys.stderr
    if _status is None or _status.stream is not target:
        _status = StatusStream(target)
    return _status


def configure(level: int = logging.INFO, fmt: LogFormat = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog for this process; safe to call again (tests, the demo)."""
    raw = stream if stream is not None else sys.stderr
    out = status_stream(raw)
    use_console = fmt == "console" or (fmt == "auto" and _isatty(raw))
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=colour_wanted(raw))
        if use_console
        else structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
