"""``fcaudit merge OUT.ndjson SHARD.ndjson...``: one file and one summary from the shards of a run.

The checks and the copy are ``crawler.store.merge``; the summary is the audit of the merged file, folded while
it is written (the same report ``fcaudit summarize OUT.ndjson`` gives). Exit codes as for ``crawl``: 0,
1 when a finding is at or above ``--fail-on``, 2 when a shard is missing, unfinished, doubled or from
another run (one line, nothing written), 3 when every shard is there but one of them was incomplete.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from crawler.app.command_options import add_fail_on, add_follow_symlinks
from crawler.app.commands import COMMAND_HELP, EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK
from crawler.app.output_paths import check_files
from crawler.app.summarize_command import load_policy
from crawler.audit.rules import resolve_fail_on
from crawler.audit.summary import Summarizer
from crawler.report.render import FORMATS, render
from crawler.store.atomic_file import write_atomically
from crawler.store.merge import merge_shards


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "merge",
        help=COMMAND_HELP["merge"],
        description="Check that the files are all N shards of one run (each K once, each finished, same "
        "run fingerprint), write them into OUT as one crawl, and print its audit summary.",
    )
    parser.add_argument("output", metavar="OUT.ndjson", type=Path, help="the merged file to write")
    parser.add_argument("shards", metavar="SHARD.ndjson", type=Path, nargs="+", help="every shard's file")
    parser.add_argument("--format", choices=FORMATS, default="table", help="summary format")
    parser.add_argument("--summary", metavar="FILE", type=Path, help="also write the summary to FILE")
    add_fail_on(parser)
    add_follow_symlinks(parser)
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML file; its [audit] table is used")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    files = check_files(  # before anything is opened (crawler.app.output_paths)
        [*(("the shard file", shard) for shard in args.shards), ("--config", args.config)],
        [("the merged file", args.output), ("--summary", args.summary)],
        follow_symlinks=args.follow_symlinks,
    )
    output = files["the merged file"]
    policy = load_policy(args.config)
    fail_on = resolve_fail_on(args.fail_on, policy)
    summarizer = Summarizer(policy)
    count, end = merge_shards(args.shards, output, on_record=summarizer.add_dict)
    report = summarizer.report()
    width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
    text = render(report, args.format, width=width)
    text = text if text.endswith("\n") else text + "\n"
    sys.stdout.write(text)
    if "--summary" in files:
        write_atomically(files["--summary"], text.encode(), what="--summary")
    print(f"fcaudit: merged {count} shards into {output}", file=sys.stderr)
    if end["complete"] is not True:
        print(f"fcaudit: warning: {output} is incomplete: a shard's crawl was", file=sys.stderr)
        return EXIT_INCOMPLETE
    if report.fails(fail_on):
        return EXIT_FINDINGS
    return EXIT_OK
