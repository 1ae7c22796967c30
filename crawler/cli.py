"""The ``fcaudit`` command line: parse, dispatch to a subcommand, map errors onto exit codes.

Exit codes: 0 complete with no finding at/above ``--fail-on``; 1 findings at/above it; 2 usage, config,
credential or input error (one line on stderr, never a traceback); 3 crawl incomplete; 130/143 when
interrupted by SIGINT/SIGTERM. Each subcommand lives in ``crawler.commands.<name>`` and registers its
own arguments, so this file stays a dispatcher.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from crawler import __version__
from crawler.errors import FatalError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

COMMANDS = ("crawl", "summarize", "demo", "emulator", "diff", "merge")
Handler = Callable[[argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one line and exit 2, with a pointer to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="fcaudit",
        description="Audit Alibaba Cloud Function Compute async-invocation settings account-wide.",
    )
    parser.add_argument("--version", action="version", version=f"fcaudit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"crawler.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except FatalError as exc:
        print(f"fcaudit: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_SIGINT
    except BrokenPipeError:
        # `fcaudit crawl | head` closed our stdout: not an error of ours.
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
