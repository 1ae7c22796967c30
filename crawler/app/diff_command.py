"""``fcaudit diff OLD.ndjson NEW.ndjson``: what changed between two audits (``crawler.audit.drift``).

Exit 0 when the diff was made (drift or not), 1 with ``--fail-on-drift`` when anything changed or when
NEW (the later crawl) has a finding at or above the ``--fail-on`` threshold (the flag, else ``--config``'s
``[audit] fail_on``, else never: ``crawler.audit.rules.resolve_fail_on``, as for crawl, summarize and merge),
2 when an input cannot be read (one line naming the file and the line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crawler.app.command_options import add_fail_on
from crawler.app.commands import COMMAND_HELP, EXIT_FINDINGS, EXIT_OK
from crawler.app.summarize_command import load_policy
from crawler.audit.drift import compare, read_side
from crawler.audit.rules import resolve_fail_on
from crawler.report.drift_render import DIFF_FORMATS, render_diff


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "diff",
        help=COMMAND_HELP["diff"],
        description="Compare two NDJSON files written by `fcaudit crawl` (or `fcaudit merge`): configs "
        "added, removed and changed field by field, keyed by account/region/service/function/qualifier, "
        "and audit findings new and resolved.",
    )
    parser.add_argument("old", metavar="OLD.ndjson", type=Path, help="the earlier crawl")
    parser.add_argument("new", metavar="NEW.ndjson", type=Path, help="the later crawl")
    parser.add_argument("--format", choices=DIFF_FORMATS, default="table", help="output format")
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
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML file whose [audit] table decides the findings"
    )
    add_fail_on(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    policy = load_policy(args.config)
    fail_on = resolve_fail_on(args.fail_on, policy)
    old = read_side(args.old, str(args.old), policy, args.ignore_field)
    new = read_side(args.new, str(args.new), policy, args.ignore_field)
    report = compare(old, new)
    sys.stdout.write(render_diff(report, args.format))
    for warning in report.warnings:
        print(f"fcaudit: warning: {warning}", file=sys.stderr)
    audit = new.audit()
    if audit is not None and audit.fails(fail_on):
        return EXIT_FINDINGS
    return EXIT_FINDINGS if args.fail_on_drift and report.drifted else EXIT_OK
