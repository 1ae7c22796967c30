"""Run a command's event loop on uvloop when it is installed: the same crawl for less CPU per request.

A fast crawl spends most of its CPU in aiohttp and in the event loop's own bookkeeping (timers, ready
callbacks, socket readiness). uvloop, the optional ``uvloop`` extra (``pip install 'fcaudit[uvloop]'``),
is a drop-in event loop on libuv that does that bookkeeping in compiled code; ``bench/crawl_bench.py``
measures what it saves. Nothing else changes: anyio, aiohttp and every await behave the same, so it is
used whenever it can be imported, unless ``FCAUDIT_EVENT_LOOP=asyncio`` asks for the standard loop (to
rule uvloop out while chasing a problem, or to measure the difference).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, TypeVarTuple

import anyio

from crawler.interrupts import held_interrupts

T = TypeVar("T")
Args = TypeVarTuple("Args")

ENV_VAR = "FCAUDIT_EVENT_LOOP"


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def wants_uvloop(env: Mapping[str, str] | None = None) -> bool:
    """uvloop unless the environment asks for ``asyncio`` (or uvloop is not installed)."""
    choice = (os.environ if env is None else env).get(ENV_VAR, "").strip().lower()
    return choice != "asyncio" and uvloop_available()


def run(func: Callable[[*Args], Awaitable[T]], *args: *Args) -> T:
    """``anyio.run`` on the asyncio backend, on uvloop when ``wants_uvloop()``."""
    with held_interrupts():  # importing uvloop (a C extension) must not be cut by a KeyboardInterrupt
        options: dict[str, Any] = {"use_uvloop": True} if wants_uvloop() else {}
    return anyio.run(func, *args, backend="asyncio", backend_options=options)


__all__ = ["ENV_VAR", "run", "uvloop_available", "wants_uvloop"]
