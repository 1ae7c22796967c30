"""``fcaudit diff``'s flags (argument parsing only: what runs is ``crawler.app.diff_command``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.app import diff_command
from crawler.app.commands import COMMAND_HELP
from crawler.cli.shared_flags import add_audit_config, add_audit_outputs, add_fail_on, add_follow_symlinks


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "diff",
        help=COMMAND_HELP["diff"],
        description="Compare two NDJSON files written by `fcaudit crawl` (or `fcaudit merge`): configs "
        "added, removed and changed field by field, keyed by account/region/service/function/qualifier, "
        "and audit findings new and resolved. The audit outputs (--summary, --findings, --report, "
        "--metrics) are NEW's audit.",
    )
    parser.add_argument("old", metavar="OLD.ndjson", type=Path, help="the earlier crawl")
    parser.add_argument("new", metavar="NEW.ndjson", type=Path, help="the later crawl")
    parser.add_argument(
        "--format", choices=diff_command.DIFF_FORMATS, default="table", help="output format (default: table)"
    )
    parser.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when any config or finding changed"
    )
    parser.add_argument(
        "--ignore-field",
        action="append",
        default=[],
        metavar="FIELD",
        help="leave this config field out of the comparison (dotted for nested, e.g. lastModifiedTime); "
        "repeatable",
    )
    add_audit_outputs(parser, whose="NEW's audit")
    add_audit_config(parser)
    add_fail_on(parser)
    add_follow_symlinks(parser)
    parser.set_defaults(handler=diff_command.run)
