"""``fcaudit merge -o OUT SHARD...``: one file and one audit from the shards of a run.

The checks and the copy are ``crawler.store.merge``; the audit is of the merged file, folded while it is
written (the same report ``fcaudit summarize OUT`` gives). The policy, the threshold, the outputs
(``--summary``, ``--findings``, ``--report``, ``--metrics``) and the exit code are ``crawler.app.outputs``,
as for ``crawl``: 0; 1 when a finding is at or above the threshold; 2 when a shard is missing,
unfinished, doubled or from another run (one line, nothing written), or without ``-o`` (the old
``fcaudit merge OUT SHARD...`` form is refused with a hint); 3 when every shard is there but one of
them was incomplete.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path

from crawler.app.output_paths import check_files
from crawler.app.outputs import AuditOutputs, AuditTerms, audit_output_paths, exit_code
from crawler.audit.summary import Summarizer
from crawler.errors import UsageError
from crawler.report.render import FORMATS as FORMATS
from crawler.report.render import render
from crawler.store.merge import merge_shards


def _merged_file(args: argparse.Namespace) -> Path:
    if args.output is not None:
        return Path(args.output)
    raise UsageError(
        "merge names the merged file with -o: `fcaudit merge -o OUT SHARD...` (the old form "
        "`fcaudit merge OUT SHARD...` is gone: put -o before OUT)"
    )


def run(args: argparse.Namespace) -> int:
    merged = _merged_file(args)
    files = check_files(  # before anything is opened (crawler.app.output_paths)
        [*(("the shard file", shard) for shard in args.shards), ("--config", args.config)],
        [("--output", merged), *audit_output_paths(args)],
        follow_symlinks=args.follow_symlinks,
    )
    output = files["--output"]
    terms = AuditTerms.from_args(args)
    with ExitStack() as stack:
        outputs = AuditOutputs(files, stack, args.findings_format, html=args.format == "html")
        summarizer = Summarizer(terms.policy, on_finding=outputs.on_finding)
        count, end = merge_shards(args.shards, output, on_record=summarizer.add_dict)
        report = summarizer.report()
        outputs.write(report, source=str(output))
    width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
    text = render(report, args.format, width=width, worklist=outputs.worklist)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    print(f"fcaudit: merged {count} shards into {output}", file=sys.stderr)
    complete = end["complete"] is True
    if not complete:
        print(f"fcaudit: warning: {output} is incomplete: a shard's crawl was", file=sys.stderr)
    return exit_code(report, terms.fail_on, complete=complete)
