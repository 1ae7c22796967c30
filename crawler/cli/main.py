"""The ``fcaudit`` command line: parse, dispatch to a subcommand, map errors onto exit codes.

Exit codes: 0 complete with no finding at/above ``--fail-on``; 1 findings at/above it; 2 usage, config,
credential, input or output error (one line on stderr, never a traceback: a full disk is one too); 3 crawl
incomplete; 70 (``EX_SOFTWARE`` of sysexits.h) an unexpected exception, i.e. a bug in fcaudit (one line on
stderr, the traceback in the log at debug level; a crawl still writes its end record when its output is
open); 130/143 when interrupted by SIGINT/SIGTERM (Ctrl-C while fcaudit starts up is 130 too, never a
traceback). Each subcommand's arguments are ``crawler.cli.<name>_flags`` (parsing only) and what it runs
is ``crawler.app.<name>_command``, so this file stays a dispatcher; everything but this module's few
imports happens inside ``main``'s handlers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from crawler import __version__
from crawler.app.commands import (
    COMMAND_HELP,
    COMMANDS,
    DISK_FULL,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SOFTWARE,
    EXIT_USAGE,
)
from crawler.errors import FatalError
from crawler.interrupts import held_interrupts

Handler = Callable[[argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one line and exit 2, with a pointer to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


#: the distributions whose versions ``fcaudit --version`` prints (the runtime dependencies)
VERSIONED: tuple[str, ...] = ("aiohttp", "anyio", "orjson", "structlog", "rich", "jinja2", "uvloop", "shtab")

EPILOG = """shell completion (bash, zsh, fish), generated from these flags:
  bash: fcaudit completion bash > ~/.local/share/bash-completion/completions/fcaudit
  zsh:  fcaudit completion zsh > ~/.zfunc/_fcaudit   (fpath+=~/.zfunc before compinit)
  fish: fcaudit completion fish > ~/.config/fish/completions/fcaudit.fish
then open a new shell. `fcaudit COMMAND --help` lists a command's flags."""


def version_text() -> str:
    """fcaudit's version, Python's, and each dependency's (``not installed`` for an optional one)."""
    import platform
    from importlib import metadata

    parts = []
    for name in VERSIONED:
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} not installed")
    python = f"Python {platform.python_version()} ({platform.python_implementation()}, {sys.platform})"
    return f"fcaudit {__version__}\n{python}\n" + "\n".join(parts)


class VersionAction(argparse.Action):
    """``--version``: the versions, looked up only when asked (``importlib.metadata`` is slow to load)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(
            option_strings, dest=argparse.SUPPRESS, nargs=0, default=argparse.SUPPRESS, help=help
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit(EXIT_OK)


def build_parser(argv: Sequence[str] | None = None) -> OneLineParser:
    """The parser, with the full arguments of the subcommand ``argv`` names (all of them when ``argv``
    is ``None``) and only a one-line stub for the others: importing a subcommand pulls in what it runs
    (the emulator's aiohttp.web, Jinja2, ...), which costs a short crawl a tenth of a second."""
    parser = OneLineParser(
        prog="fcaudit",
        description="Audit Alibaba Cloud Function Compute async-invocation settings account-wide.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=VersionAction, help="print fcaudit's version, Python's and the dependencies'"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    wanted = set(COMMANDS) if argv is None else {next((a for a in argv if a in COMMAND_HELP), "")}
    for name, help_text in COMMAND_HELP.items():
        if name in wanted:
            importlib.import_module(f"crawler.cli.{name}_flags").register(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:  # building the parser imports the subcommand (most of start-up): Ctrl-C there is 130 too
        with held_interrupts():  # ... once its C extensions (orjson, aiohttp) have loaded whole
            parser = build_parser(argv)
        args = parser.parse_args(argv)
        args.argv = list(argv)  # as typed: what a command prints to be run again (crawl's --resume)
        handler: Handler = args.handler
        return handler(args)
    except FatalError as exc:
        print(f"fcaudit: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_SIGINT
    except BrokenPipeError:
        # `fcaudit crawl | head` closed our stdout: not an error of ours.
        return EXIT_OK
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            return internal_error(exc)
        # a full disk under a stream no OutputError names (stdout redirected to a file): still not a bug
        print(f"fcaudit: error: cannot write: {exc.strerror}; free some space and run again", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        return internal_error(exc)


def internal_error(exc: Exception) -> int:
    """An exception nothing expected: one line on stderr, the traceback in the log at debug level, 70."""
    text = " ".join(str(exc).split()) or "(no message)"
    print(
        f"fcaudit: internal error: {type(exc).__name__}: {text[:500]} (a bug in fcaudit: please report it; "
        "the traceback is logged at debug level, -v)",
        file=sys.stderr,
    )
    import structlog  # here, not at the top: start-up imports as little as it can

    if structlog.is_configured():  # unconfigured, structlog would print to stdout (the data stream)
        import traceback

        structlog.get_logger(__name__).debug(
            "cli.internal_error",
            error=type(exc).__name__,
            traceback="".join(traceback.format_exception(exc)),
        )
    return EXIT_SOFTWARE


if __name__ == "__main__":
    raise SystemExit(main())
