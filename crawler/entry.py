"""The ``fcaudit`` console script's entry point, and ``held_interrupts`` for the start-up that follows.

Python imports a console script's module before it calls the function; had that module been
``crawler.cli``, a Ctrl-C while it loads (argparse, typing, the error tree: tens of milliseconds on a
busy machine) would be Python's own ``KeyboardInterrupt`` traceback. From here on Ctrl-C is exit 130;
only the interpreter's own start-up (``site``) comes before this module.

Worse than a traceback: a ``KeyboardInterrupt`` raised while a C extension initialises (orjson's, seen)
can crash the interpreter with SIGSEGV. ``held_interrupts`` holds SIGINT (blocks it, per thread) while
modules load; a Ctrl-C that arrived meanwhile is delivered, as ``KeyboardInterrupt``, when the block ends.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

EXIT_SIGINT = 130  # crawler.cli.EXIT_SIGINT, not imported: importing it is what this guards


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


def main() -> int:
    try:
        with held_interrupts():
            from crawler.cli import main as cli_main
    except KeyboardInterrupt:
        return EXIT_SIGINT
    return cli_main()
