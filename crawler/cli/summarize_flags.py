"""``fcaudit summarize``'s flags (argument parsing only: what runs is ``crawler.app.summarize_command``)."""

from __future__ import annotations

from typing import Any

from crawler.app import summarize_command
from crawler.app.commands import COMMAND_HELP
from crawler.cli.shared_flags import (
    add_audit_config,
    add_audit_outputs,
    add_brief,
    add_fail_on,
    add_follow_symlinks,
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "summarize",
        help=COMMAND_HELP["summarize"],
        description="Summarise and audit an NDJSON file written by `fcaudit crawl` ('-' reads stdin).",
    )
    parser.add_argument("input", metavar="FILE", help="NDJSON file, or - for stdin")
    parser.add_argument(
        "--format",
        choices=summarize_command.FORMATS,
        default="table",
        help="what is printed (default: table; html prints the page that --report FILE writes)",
    )
    parser.add_argument("--width", type=int, default=None, help="table width (default: terminal, else 80)")
    add_brief(parser)
    add_audit_outputs(parser)
    add_fail_on(parser)
    add_audit_config(parser)
    parser.add_argument("--strict", action="store_true", help="exit 3 when the input is incomplete")
    add_follow_symlinks(parser)
    parser.set_defaults(handler=summarize_command.run)
