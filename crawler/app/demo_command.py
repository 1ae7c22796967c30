"""``fcaudit demo``: the first run of a new user — a whole crawl and audit in seconds, no account needed.

It serves a seeded emulated account (a few thousand functions, 5-15 ms per request, a request quota
that throttles, a sprinkle of server errors, resets and deleted functions) from this process on a free
loopback port, crawls it with exactly the code ``fcaudit crawl`` runs, writes the NDJSON, the summary
and the findings into one directory, and prints what it found and where the files are. Seeded, so two
runs with the same flags write the same records.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from crawler.app.command_options import add_follow_symlinks
from crawler.app.commands import COMMAND_HELP, EXIT_INCOMPLETE, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM
from crawler.app.output_paths import check_files
from crawler.audit.summary import Summarizer
from crawler.crawl import event_loop as event_loop
from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import CrawlOutcome
from crawler.crawl.progress import ProgressLine
from crawler.crawl.runner import execute
from crawler.emulator.backend import AccountSpec, generate_account
from crawler.emulator.faults import FaultConfig, FaultKind
from crawler.emulator.server import run_emulator
from crawler.errors import UsageError
from crawler.log import configure
from crawler.report.html.page import write_html
from crawler.report.render import FindingsFile, render
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.store.atomic_file import write_atomically
from crawler.store.output_lock import lock_output
from crawler.store.writer import Sink
from crawler.wire.run_stats import RunStats

DEFAULT_FUNCTIONS = 3000
DEFAULT_OUTPUT_DIR = Path("fcaudit-demo")
#: requests/s the emulated account allows, with a small burst: the crawl finds the pace and settles under it
DEMO_QUOTA_RPS = 700.0
DEMO_QUOTA_BURST = 35
#: faults a crawl must ride out (retried) or report (``gone``). No random 503: to the client a 503 is
#: throttling, and the quota already shows how the crawl reacts to that.
DEMO_FAULTS = {
    FaultKind.HTTP_500: 0.005,
    FaultKind.RESET: 0.003,
    FaultKind.TRUNCATED: 0.002,
    FaultKind.DELETE: 0.002,
}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help=COMMAND_HELP["demo"],
        description="Start the FC emulator in-process with a seeded account, crawl it, audit it, "
        "and show the results and the files written.",
    )
    parser.add_argument("--functions", type=int, default=DEFAULT_FUNCTIONS, help="functions in the account")
    parser.add_argument("--seed", type=int, default=1, help="seed of the account and its faults")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="where to write files")
    add_follow_symlinks(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("-q", "--quiet", action="count", default=0)
    parser.set_defaults(handler=run)


#: what the demo writes into --output-dir, by what messages call it
DEMO_FILES: Final = {
    "records": "configs.ndjson",
    "summary": "summary.md",
    "findings": "findings.ndjson",
    "report": "report.html",
}


@dataclass(frozen=True, slots=True)
class DemoFiles:
    """The files the demo writes, checked like every command's outputs (``crawler.app.output_paths``)."""

    records: Path
    summary: Path
    findings: Path
    report: Path

    @classmethod
    def checked(cls, directory: Path, *, follow_symlinks: bool) -> DemoFiles:
        named = [(f"the demo's {what}", directory / name) for what, name in DEMO_FILES.items()]
        paths = check_files((), named, follow_symlinks=follow_symlinks)
        return cls(*(paths[f"the demo's {what}"] for what in DEMO_FILES))


def account_spec(functions: int, seed: int) -> AccountSpec:
    if not 1 <= functions <= 200_000:
        raise UsageError(f"--functions must be between 1 and 200000, got {functions}")
    if seed < 0:
        raise UsageError(f"--seed must be >= 0, got {seed}")
    return AccountSpec(
        seed=seed,
        services=max(1, functions // 60),
        functions=functions,
        distribution="skewed",
        big_functions=min(3, functions),
    )


def demo_faults(seed: int) -> FaultConfig:
    return FaultConfig(
        seed=seed,
        latency_ms=5.0,
        jitter_ms=10.0,
        quota_rps=DEMO_QUOTA_RPS,
        quota_burst=DEMO_QUOTA_BURST,
        rates=DEMO_FAULTS,
    )


def _prepare(directory: Path, *, follow_symlinks: bool) -> DemoFiles:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output-dir {directory}: cannot create it ({exc.strerror})") from None
    return DemoFiles.checked(directory, follow_symlinks=follow_symlinks)


async def crawl_demo(
    spec: AccountSpec, faults: FaultConfig, sink: Sink, summarizer: Summarizer
) -> CrawlOutcome:
    backend = generate_account(spec)
    async with run_emulator(backend, faults) as emulator:
        target = Target(
            account=emulator.account_id,
            region=emulator.region,
            endpoint=emulator.endpoint,
            credentials=Credentials(
                emulator.access_key_id, emulator.access_key_secret, source="the emulator"
            ),
        )
        job = CrawlJob((target,), CrawlSettings())
        stats = RunStats()
        with ProgressLine(stats) as progress:
            return await execute(
                job, sink, stats=stats, on_record=summarizer.add, handle_signals=True, progress=progress
            )


def run(args: argparse.Namespace) -> int:
    configure(logging.WARNING - 10 * int(args.verbose) + 10 * int(args.quiet))
    spec = account_spec(args.functions, args.seed)
    files = _prepare(args.output_dir, follow_symlinks=args.follow_symlinks)
    with lock_output(files.records, "the demo records"):  # two demos into one directory: one refuses
        return _demo(spec, files)


def _demo(spec: AccountSpec, files: DemoFiles) -> int:
    sink = Sink.open_file(files.records)
    findings = FindingsFile(files.findings)
    summarizer = Summarizer(on_finding=findings.write)
    print(
        f"fcaudit demo: an emulated account with {spec.functions:,} functions in {spec.services:,} services, "
        f"5-15 ms per request, a {DEMO_QUOTA_RPS:,.0f} requests/s quota and a few injected faults",
        flush=True,
    )
    with findings:  # every finding, renamed into place once the crawl is over
        outcome = event_loop.run(crawl_demo, spec, demo_faults(spec.seed), sink, summarizer)
    report = summarizer.report()
    width = shutil.get_terminal_size((100, 24)).columns
    print(render(report, "table", width=width).rstrip("\n"))
    write_atomically(files.summary, render(report, "markdown", width=width).encode("utf-8"), what="summary")
    write_html(report, files.report, source=str(files.records))
    end = outcome.end.data
    by_status = end.get("functions", {})
    statuses = ", ".join(f"{n:,} {s}" for s, n in by_status.items())
    print()
    print(
        f"crawled {sum(by_status.values()):,} functions ({statuses}), "
        f"{end.get('configs', 0):,} configs, {end.get('requests', 0):,} requests "
        f"({end.get('throttled', 0):,} throttled, {end.get('retries', 0):,} retried) "
        f"in {end.get('elapsedSeconds', 0):.1f} s"
    )
    print(
        f"records:  {files.records}\nsummary:  {files.summary}\nfindings: {files.findings}\n"
        f"report:   {files.report} (open it in a browser)"
    )
    print(
        "next:     jq -c 'select(.type == \"config\")' "
        f"{files.records} | head   ·   fcaudit summarize {files.records}   ·   "
        "fcaudit crawl --account ID --region REGION --output configs.ndjson"
    )
    if outcome.interrupted is not None:
        return EXIT_SIGTERM if outcome.interrupted.name == "SIGTERM" else EXIT_SIGINT
    return EXIT_OK if outcome.complete else EXIT_INCOMPLETE
