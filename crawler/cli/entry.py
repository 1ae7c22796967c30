"""The ``fcaudit`` console script's entry point: the start-up before the command line, interrupts held,
and the way out.

Python imports a console script's module before it calls the function; had that module been
``crawler.cli.main``, a Ctrl-C while it loads (argparse, typing, the error tree: tens of milliseconds on a
busy machine) would be Python's own ``KeyboardInterrupt`` traceback. From here on Ctrl-C is exit 130;
only the interpreter's own start-up (``site``) comes before this module.

Worse than a traceback: a ``KeyboardInterrupt`` raised while a C extension initialises (orjson's, seen)
can crash the interpreter with SIGSEGV. ``held_interrupts`` holds SIGINT (blocks it, per thread) while
modules load (``crawler.interrupts``); a Ctrl-C that arrived meanwhile is delivered, as
``KeyboardInterrupt``, when the block ends.

The way out (``leave``) does what Python's own exit does for a program — waits for its threads, runs the
``atexit`` callbacks, flushes stdout and stderr — and then skips the interpreter's teardown, which frees
every loaded module's objects one by one: 50–90 ms once aiohttp, rich and the audit are loaded, a
twentieth of a short crawl. Every file fcaudit writes is closed (and its records flushed) before the
command returns; a thread still running takes Python's ordinary exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn

from crawler.interrupts import held_interrupts

EXIT_SIGINT = 130  # crawler.app.commands.EXIT_SIGINT, not imported: importing it is what this guards


def main() -> NoReturn:
    """The console script (and ``python -m crawler``): the command line's exit code, then ``leave``."""
    leave(run())


def run() -> int:
    """The command line's exit code; a Ctrl-C while its modules load is 130."""
    try:
        with held_interrupts():
            from crawler.cli.main import main as cli_main
    except KeyboardInterrupt:
        return EXIT_SIGINT
    return cli_main()


def leave(code: int) -> NoReturn:
    """Exit with ``code`` once what the run wrote is out, without the interpreter's teardown.

    A Ctrl-C from here on is held: the outputs are written and the code is the run's own (as a signal
    after a crawl's end record, ``crawler.app.crawl_command``). A non-daemon thread still alive (one
    Python would wait for) or stdout that cannot be flushed (not a closed pipe: a full disk, say) takes
    Python's ordinary exit, which reports it as it always has; so does a run under a profiler or a tracer
    (``python -m cProfile -o F -m crawler``, ``pdb``), which writes its results after the program returns."""
    with held_interrupts():
        if _threads_to_wait_for() or _observed():
            sys.exit(code)
        atexit._run_exitfuncs()  # what an ordinary exit runs (logging.shutdown, coverage, ...); cleared after
        try:
            sys.stdout.flush()
        except BrokenPipeError:  # `fcaudit ... | head`: the reader has gone, as in crawler.cli.main
            pass
        except OSError:
            sys.exit(code)
        with contextlib.suppress(OSError):
            sys.stderr.flush()
        os._exit(code)


def _threads_to_wait_for() -> bool:
    """Whether a thread other than this one is alive and not a daemon: one Python's exit would join."""
    main_thread = threading.main_thread()
    return any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not main_thread)


def _observed() -> bool:
    """Whether a profiler or a tracer watches this thread: ``cProfile`` and ``profile`` write their output,
    and debuggers finish, only when the program's code returns to them."""
    return sys.getprofile() is not None or sys.gettrace() is not None
