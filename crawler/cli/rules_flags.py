"""``fcaudit rules``'s flags (argument parsing only: what runs is ``crawler.app.rules_command``)."""

from __future__ import annotations

from typing import Any

from crawler.app import rules_command
from crawler.app.commands import COMMAND_HELP
from crawler.cli.shared_flags import add_audit_config


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "rules",
        help=COMMAND_HELP["rules"],
        description="List every audit rule with its severity (as the [audit] table of --config sets it), "
        "what it checks, why it matters and how to fix it.",
    )
    parser.add_argument(
        "--format", choices=rules_command.FORMATS, default="table", help="what is printed (default: table)"
    )
    parser.add_argument("--width", type=int, default=None, help="table width (default: terminal, else 80)")
    add_audit_config(parser)
    parser.set_defaults(handler=rules_command.run)
