"""The ``fcaudit`` console script's entry point: the start-up before the command line, interrupts held.

Python imports a console script's module before it calls the function; had that module been
``crawler.cli.main``, a Ctrl-C while it loads (argparse, typing, the error tree: tens of milliseconds on a
busy machine) would be Python's own ``KeyboardInterrupt`` traceback. From here on Ctrl-C is exit 130;
only the interpreter's own start-up (``site``) comes before this module.

Worse than a traceback: a ``KeyboardInterrupt`` raised while a C extension initialises (orjson's, seen)
can crash the interpreter with SIGSEGV. ``held_interrupts`` holds SIGINT (blocks it, per thread) while
modules load (``crawler.interrupts``); a Ctrl-C that arrived meanwhile is delivered, as
``KeyboardInterrupt``, when the block ends.
"""

from __future__ import annotations

from crawler.interrupts import held_interrupts

EXIT_SIGINT = 130  # crawler.app.commands.EXIT_SIGINT, not imported: importing it is what this guards


def main() -> int:
    try:
        with held_interrupts():
            from crawler.cli.main import main as cli_main
    except KeyboardInterrupt:
        return EXIT_SIGINT
    return cli_main()
