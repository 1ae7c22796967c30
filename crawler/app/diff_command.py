"""``fcaudit diff OLD.ndjson NEW.ndjson``: what changed between two audits (``crawler.audit.drift``).

The policy, the threshold, the outputs and the exit code are ``crawler.app.outputs``, as for every
command that audits; what is audited is NEW (the later crawl): ``--summary``, ``--findings``,
``--report`` and ``--metrics`` are NEW's audit. Exit 0 when the diff was made (drift or not), 1 when
NEW has a finding at or above the threshold (``--fail-on``, else ``[audit] fail_on``, else never) or,
with ``--fail-on-drift``, when anything changed; 2 when an input cannot be read (one line naming the
file and the line).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

from crawler.app.commands import EXIT_FINDINGS, EXIT_OK
from crawler.app.output_paths import check_files
from crawler.app.outputs import AuditOutputs, AuditTerms, audit_output_paths, exit_code
from crawler.audit.drift import compare, read_side
from crawler.report.drift_render import DIFF_FORMATS as DIFF_FORMATS
from crawler.report.drift_render import render_diff


def run(args: argparse.Namespace) -> int:
    files = check_files(  # before anything is opened (crawler.app.output_paths)
        [("OLD", args.old), ("NEW", args.new), ("--config", args.config)],
        audit_output_paths(args),
        follow_symlinks=args.follow_symlinks,
    )
    terms = AuditTerms.from_args(args)
    with ExitStack() as stack:
        outputs = AuditOutputs(files, stack, args.findings_format)
        old = read_side(args.old, str(args.old), terms.policy, args.ignore_field)
        new = read_side(args.new, str(args.new), terms.policy, args.ignore_field)
        report = compare(old, new)
        audit = new.audit()
        if audit is not None:
            outputs.write_findings(new.findings.values())
            outputs.write(audit, source=str(args.new))
    sys.stdout.write(render_diff(report, args.format))
    for warning in report.warnings:
        print(f"fcaudit: warning: {warning}", file=sys.stderr)
    code = exit_code(audit, terms.fail_on)
    if code == EXIT_OK and args.fail_on_drift and report.drifted:
        return EXIT_FINDINGS
    return code
