"""``fcaudit completion``'s flags (argument parsing only: what runs is ``crawler.app.completion_command``)."""

from __future__ import annotations

import argparse
from typing import Any

from crawler.app import completion_command
from crawler.app.commands import COMMAND_HELP


def full_parser() -> argparse.ArgumentParser:
    """The whole command line, every subcommand built: what the completion script describes."""
    from crawler.cli.main import build_parser  # here: main imports this module by name, at run time

    return build_parser(None)


def register(sub: Any) -> None:
    install = "; ".join(f"{shell}: {how}" for shell, how in completion_command.INSTALL.items())
    parser = sub.add_parser(
        "completion",
        help=COMMAND_HELP["completion"],
        description=f"Print the completion script of SHELL on stdout. Install it with {install}.",
    )
    parser.add_argument("shell", choices=completion_command.SHELLS, metavar="SHELL", help="bash, zsh or fish")
    parser.set_defaults(handler=completion_command.run, full_parser=full_parser)
