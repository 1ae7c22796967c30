"""structlog, configured once per process: readable console lines on a TTY, JSON lines otherwise.

Events are dotted names with key-value data (``crawl.page_fetched``, ``retry.scheduled``). Logs go to
stderr so stdout stays pure NDJSON. A processor drops any value whose key looks like a secret, a second
line of defence behind never logging credentials in the first place.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import orjson
import structlog

LogFormat = Literal["auto", "console", "json"]
_SECRET_KEYS = ("secret", "token", "password", "authorization", "signature")


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(part in key.lower() for part in _SECRET_KEYS) and key != "event":
            event[key] = "[redacted]"
    return event


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode("utf-8")


def configure(level: int = logging.INFO, fmt: LogFormat = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog for this process; safe to call again (tests, the demo)."""
    out = stream if stream is not None else sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
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
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
