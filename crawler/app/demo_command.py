"""``fcaudit demo``: the first run of a new user — a whole crawl and audit in seconds, no account needed.

It serves a seeded emulated account (a few thousand functions, 5-15 ms per request, a request quota
that throttles, a sprinkle of server errors, resets and deleted functions) from this process on a free
loopback port, crawls it with exactly the code ``fcaudit crawl`` runs, writes the NDJSON and the audit
outputs (``--summary`` JSON, ``--findings``, ``--report``; ``--metrics`` when asked: ``crawler.app.outputs``,
as every command that audits) into one directory unless a flag names another file, and prints what it
found and where the files are. Seeded, so two runs with the same flags write the same records.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Final

from crawler.app.output_paths import check_files
from crawler.app.outputs import AUDIT_OUTPUTS, AuditOutputs, exit_code, selected
from crawler.audit.policy import AuditPolicy, default_policy
from crawler.audit.summary import Summarizer
from crawler.crawl import event_loop as event_loop
from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import CrawlOutcome
from crawler.crawl.progress import ProgressLine
from crawler.crawl.runner import execute
from crawler.emulator import AccountSpec, generate_account
from crawler.emulator.faults import FaultConfig, FaultKind
from crawler.emulator.server import run_emulator
from crawler.errors import UsageError
from crawler.log import configure
from crawler.report.render import render
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import StaticKeys
from crawler.store.output_lock import lock_output
from crawler.store.writer import Sink, Subscribers
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


#: what the demo writes into --output-dir unless its flag names another file (``--metrics``: only then)
DEMO_FILES: Final = {
    "--output": "configs.ndjson",
    "--summary": "summary.json",
    "--findings": "findings.ndjson",
    "--report": "report.html",
}


def demo_files(args: argparse.Namespace) -> dict[str, Path]:
    """The files the demo writes, by flag, checked like every command's outputs (``app.output_paths``)."""
    directory: Path = args.output_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output-dir {directory}: cannot create it ({exc.strerror})") from None
    named = [
        (
            flag,
            getattr(args, flag[2:], None) or (directory / DEMO_FILES[flag] if flag in DEMO_FILES else None),
        )
        for flag in ("--output", *AUDIT_OUTPUTS)
    ]
    return check_files((), named, follow_symlinks=args.follow_symlinks)


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


async def crawl_demo(
    spec: AccountSpec, faults: FaultConfig, sink: Sink, triggers: bool = False
) -> CrawlOutcome:
    """Crawl an emulated account into ``sink`` (whose subscribers hear of every record); ``triggers``:
    ``--triggers`` (each function's triggers listed too)."""
    backend = generate_account(spec)
    async with run_emulator(backend, faults) as emulator:
        target = Target(
            account=emulator.account_id,
            region=emulator.region,
            endpoint=emulator.endpoint,
            identity=StaticKeys(
                Credentials(emulator.access_key_id, emulator.access_key_secret, source="the emulator")
            ),
        )
        job = CrawlJob((target,), CrawlSettings(triggers=triggers))
        stats = RunStats()
        with ProgressLine(stats) as progress:
            return await execute(job, sink, stats=stats, handle_signals=True, progress=progress)


def run(args: argparse.Namespace) -> int:
    configure(logging.WARNING - 10 * int(args.verbose) + 10 * int(args.quiet))
    spec = account_spec(args.functions, args.seed)
    files = demo_files(args)
    with ExitStack() as stack:
        stack.enter_context(
            lock_output(files["--output"], "--output")
        )  # two demos into one file: one refuses
        outputs = AuditOutputs(files, stack, args.findings_format)
        policy = selected(default_policy(), args)
        return _demo(spec, files, outputs, triggers=bool(args.triggers), policy=policy)


def _demo(
    spec: AccountSpec,
    files: dict[str, Path],
    outputs: AuditOutputs,
    *,
    triggers: bool = False,
    policy: AuditPolicy | None = None,
) -> int:
    records = files["--output"]
    summarizer = Summarizer(policy, on_finding=outputs.on_finding)
    sink = Sink.open_file(records, subscribers=Subscribers(summarizer))
    print(
        f"fcaudit demo: an emulated account with {spec.functions:,} functions in {spec.services:,} services, "
        f"5-15 ms per request, a {DEMO_QUOTA_RPS:,.0f} requests/s quota and a few injected faults",
        flush=True,
    )
    outcome = event_loop.run(crawl_demo, spec, demo_faults(spec.seed), sink, triggers)
    report = summarizer.report()
    outputs.write(report, source=str(records))
    width = shutil.get_terminal_size((100, 24)).columns
    print(render(report, "table", width=width).rstrip("\n"))
    end = outcome.end.data
    by_status = end.get("functions", {})
    statuses = ", ".join(f"{n:,} {s}" for s, n in by_status.items())
    print()
    listing_triggers = f", {end.get('triggerRequests', 0):,} listing triggers" if triggers else ""
    print(
        f"crawled {sum(by_status.values()):,} functions ({statuses}), "
        f"{end.get('configs', 0):,} configs, {end.get('requests', 0):,} requests "
        f"({end.get('throttled', 0):,} throttled, {end.get('retries', 0):,} retried{listing_triggers}) "
        f"in {end.get('elapsedSeconds', 0):.1f} s"
    )
    shown = {"--output": "records:  ", "--summary": "summary:  ", "--findings": "findings: "}
    shown |= {"--report": "report:   ", "--metrics": "metrics:  "}
    for flag, label in shown.items():
        if flag in files:
            print(f"{label}{files[flag]}" + (" (open it in a browser)" if flag == "--report" else ""))
    print(
        "next:     jq -c 'select(.type == \"config\")' "
        f"{records} | head   ·   fcaudit summarize {records}   ·   "
        "fcaudit crawl --account ID --region REGION --output configs.ndjson"
    )
    interrupted = outcome.interrupted.name if outcome.interrupted is not None else None
    return exit_code(None, None, complete=outcome.complete, interrupted=interrupted)
