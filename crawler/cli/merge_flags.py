"""``fcaudit merge``'s flags (argument parsing only: what runs is ``crawler.app.merge_command``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.app import merge_command
from crawler.app.commands import COMMAND_HELP
from crawler.cli.shared_flags import add_audit_config, add_audit_outputs, add_fail_on, add_follow_symlinks


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "merge",
        help=COMMAND_HELP["merge"],
        usage="fcaudit merge -o OUT SHARD... [options]",
        description="Check that the files are all N shards of one run (each K once, each finished, same "
        "run fingerprint), write them into OUT as one crawl, and print its audit summary.",
    )
    parser.add_argument("shards", metavar="SHARD", type=Path, nargs="+", help="every shard's NDJSON file")
    parser.add_argument("--output", "-o", metavar="OUT", help="the merged NDJSON file to write (required)")
    parser.add_argument(
        "--format",
        choices=merge_command.FORMATS,
        default="table",
        help="the summary printed (default: table; html prints the page that --report FILE writes)",
    )
    add_audit_outputs(parser)
    add_fail_on(parser)
    add_audit_config(parser)
    add_follow_symlinks(parser)
    parser.set_defaults(handler=merge_command.run)
