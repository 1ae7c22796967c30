"""``fcaudit summarize FILE|-``: the audit of an NDJSON file fcaudit wrote, any time after the crawl.

Bad lines are skipped and reported (a warning on stderr and a problem in the report) so one damaged
line never hides the rest; only an input with nothing usable in it (missing, empty, not fcaudit NDJSON)
ends in exit 2. Exit 1 when a finding is at or above ``--fail-on`` (or the ``[audit]`` table's
``fail_on``); with ``--strict``, exit 3 when the input is incomplete. ``--format html`` prints the
self-contained HTML page; ``--metrics FILE`` writes the figures for node_exporter's textfile collector.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tomllib
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import IO, Any

from crawler.app.command_options import add_fail_on, add_follow_symlinks
from crawler.app.commands import COMMAND_HELP, EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK
from crawler.app.output_paths import check_files
from crawler.audit.report_model import AuditReport
from crawler.audit.rules import AuditPolicy, default_policy, policy_from_table, resolve_fail_on
from crawler.audit.summary import INCOMPLETE_KINDS, Summarizer
from crawler.errors import ConfigError, InputError, reading
from crawler.report.prometheus import write_metrics
from crawler.report.render import FORMATS, FindingsFile, render
from crawler.store.atomic_file import write_atomically


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "summarize",
        help=COMMAND_HELP["summarize"],
        description="Summarise and audit an NDJSON file written by `fcaudit crawl` ('-' reads stdin).",
    )
    parser.add_argument("input", metavar="FILE", help="NDJSON file, or - for stdin")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--width", type=int, default=None, help="table width (default: terminal, else 80)")
    parser.add_argument("--findings", type=Path, metavar="FILE", help="write every finding here as NDJSON")
    parser.add_argument("--summary", type=Path, metavar="FILE", help="also write the report here as JSON")
    parser.add_argument(
        "--metrics", type=Path, metavar="FILE", help="write Prometheus metrics here (node_exporter textfile)"
    )
    add_fail_on(parser)
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML file; only its [audit] table is read"
    )
    parser.add_argument("--strict", action="store_true", help="exit 3 when the input is incomplete")
    add_follow_symlinks(parser)
    parser.set_defaults(handler=run)


def load_policy(path: Path | None, *, today: date | None = None) -> AuditPolicy:
    """The ``[audit]`` table of a TOML config file (other tables are not ours to judge)."""
    today = today or date.today()
    if path is None:
        return default_policy(today=today)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return policy_from_table(data.get("audit", {}), today=today)


def _open_input(name: str) -> IO[bytes]:
    if name == "-":
        return sys.stdin.buffer
    with reading(name):
        return Path(name).open("rb")


def _check_usable(report: AuditReport, name: str) -> None:
    if any(report.records.values()):
        return
    if report.lines == 0:
        raise InputError(f"{name} is empty: nothing to summarise")
    first = next((str(p) for p in report.problems if p.kind in INCOMPLETE_KINDS), "no records")
    raise InputError(f"{name} holds no fcaudit records ({first}); is it an NDJSON file from fcaudit crawl?")


def _warn(report: AuditReport) -> None:
    for problem in report.problems:
        print(f"fcaudit: warning: {problem}", file=sys.stderr)
    if report.problems_total > len(report.problems):
        print(
            f"fcaudit: warning: ... and {report.problems_total - len(report.problems)} more", file=sys.stderr
        )
    if not report.complete:
        print("fcaudit: warning: the input is incomplete; the summary covers what it holds", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    files = check_files(  # before anything is opened (crawler.app.output_paths)
        [("the input", None if args.input == "-" else Path(args.input)), ("--config", args.config)],
        [("--findings", args.findings), ("--summary", args.summary), ("--metrics", args.metrics)],
        follow_symlinks=args.follow_symlinks,
    )
    policy = load_policy(args.config)
    threshold = resolve_fail_on(args.fail_on, policy)
    with ExitStack() as stack:
        source = _open_input(args.input)
        if source is not sys.stdin.buffer:
            stack.callback(source.close)
        sink = stack.enter_context(FindingsFile(files["--findings"])) if "--findings" in files else None
        summarizer = Summarizer(policy, on_finding=sink.write if sink else None)
        summarizer.add_lines(source)
        report = summarizer.report()
        _check_usable(report, args.input)
    _warn(report)
    if "--summary" in files:
        write_atomically(files["--summary"], render(report, "json").encode("utf-8"), what="--summary")
    if "--metrics" in files:
        write_metrics(report, files["--metrics"])
    width = args.width or (shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80)
    text = render(report, args.format, width=width, source="stdin" if args.input == "-" else args.input)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if report.fails(threshold):
        return EXIT_FINDINGS
    if args.strict and not report.complete:
        return EXIT_INCOMPLETE
    return EXIT_OK
