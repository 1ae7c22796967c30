"""Holding SIGINT/SIGTERM through a block that must not be cut: module loading at start-up, and the
outputs written after a crawl's end record. Shared by the command line, the commands and the event loop.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


@contextmanager
def held_interrupts(signals: Iterable[signal.Signals] = (signal.SIGINT,)) -> Iterator[None]:
    """``signals`` wait until the block ends (where the platform can block signals), in this thread:
    nothing in the block is interrupted by them."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
