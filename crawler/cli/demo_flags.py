"""``fcaudit demo``'s flags (argument parsing only: what runs is ``crawler.app.demo_command``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.app import demo_command
from crawler.app.commands import COMMAND_HELP
from crawler.cli.shared_flags import add_audit_outputs, add_emulated_role, add_follow_symlinks, add_triggers


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help=COMMAND_HELP["demo"],
        description="Start the FC emulator in-process with a seeded account, crawl it, audit it, "
        "and show the results and the files written (into --output-dir unless a flag names a file).",
    )
    parser.add_argument(
        "--functions", type=int, default=demo_command.DEFAULT_FUNCTIONS, help="functions in the account"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the emulated account: the same seed gives the same services, functions, configs "
        "and findings; the timing (latency jitter, which requests are throttled or fail and are retried) "
        "may differ from run to run (default 1)",
    )
    add_triggers(parser, config_file=False)
    add_emulated_role(parser, what="crawl the account")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=demo_command.DEFAULT_OUTPUT_DIR,
        help="where to write files (default: fcaudit-demo)",
    )
    out = parser.add_argument_group("output (default: in --output-dir; --metrics only when given)")
    out.add_argument("--output", "-o", metavar="FILE", type=Path, help="NDJSON records (configs.ndjson)")
    add_audit_outputs(out)
    add_follow_symlinks(out)
    parser.add_argument(
        "--full",
        action="store_true",
        help="print the full audit table instead of the brief summary (verdict, figures, top findings)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logs (-v warnings such as retries, -vv info, -vvv debug; default: errors)",
    )
    parser.add_argument("-q", "--quiet", action="count", default=0, help="fewer logs, and no progress line")
    parser.add_argument("--no-progress", action="store_true", help="no progress line")
    parser.set_defaults(handler=demo_command.run)
