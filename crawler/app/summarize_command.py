"""``fcaudit summarize FILE|-``: the audit of an NDJSON file fcaudit wrote, any time after the crawl.

Bad lines are skipped and reported (a warning on stderr and a problem in the report) so one damaged
line never hides the rest; only an input with nothing usable in it (missing, empty, not fcaudit NDJSON)
ends in exit 2. The policy, the threshold, the outputs (``--summary``, ``--findings``, ``--report``,
``--metrics``) and the exit code are ``crawler.app.outputs``: exit 1 when a finding is at or above
``--fail-on`` (or the ``[audit]`` table's ``fail_on``); with ``--strict``, exit 3 when the input is
incomplete (incomplete beats findings, as for ``crawl``). ``--format html`` prints the HTML page on
stdout (``--report FILE`` writes it to a file).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from crawler.app.output_paths import check_files
from crawler.app.outputs import AuditOutputs, AuditTerms, audit_output_paths, exit_code
from crawler.audit.report_model import AuditReport
from crawler.audit.summary import INCOMPLETE_KINDS, Summarizer
from crawler.errors import InputError, UsageError, reading
from crawler.report.render import FORMATS as FORMATS
from crawler.report.render import render, render_brief


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
    source_name = "stdin" if args.input == "-" else args.input
    if args.brief and args.format != "table":
        raise UsageError(f"--brief is a short table; it cannot be combined with --format {args.format}")
    files = check_files(  # before anything is opened (crawler.app.output_paths)
        [("the input", None if args.input == "-" else Path(args.input)), ("--config", args.config)],
        audit_output_paths(args),
        follow_symlinks=args.follow_symlinks,
    )
    terms = AuditTerms.from_args(args)
    with ExitStack() as stack:
        outputs = AuditOutputs(files, stack, args.findings_format, html=args.format == "html")
        source = _open_input(args.input)
        if source is not sys.stdin.buffer:
            stack.callback(source.close)
        summarizer = Summarizer(terms.policy, on_finding=outputs.on_finding)
        summarizer.add_lines(source)
        report = summarizer.report()
        _check_usable(report, args.input)
        _warn(report)
        outputs.write(report, source=source_name)
    width = args.width or (shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80)
    if args.brief:
        full = (
            str(files["--report"]) if "--report" in files else f"fcaudit summarize {shlex.quote(source_name)}"
        )
        text = render_brief(report, width=width, fail_on=terms.fail_on, full=str(full))
    else:
        text = render(report, args.format, width=width, source=source_name, worklist=outputs.worklist)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return exit_code(report, terms.fail_on, complete=report.complete or not args.strict)
