"""``fcaudit demo``: the first run of a new user — a whole crawl and audit in seconds, no account needed.

It serves a seeded emulated account (a few thousand functions, 5-15 ms per request, a request quota
that throttles, a sprinkle of server errors, resets and deleted functions) from this process on a free
loopback port, crawls it with exactly the code ``fcaudit crawl`` runs, writes the NDJSON and the audit
outputs (``--summary`` JSON, ``--findings``, ``--report``; ``--metrics`` when asked: ``crawler.app.outputs``,
as every command that audits) into one directory unless a flag names another file, and prints what it
found and where the files are. Seeded, so two runs with the same flags write the same records.

``--role`` runs the crawl the way an estate is audited (``crawler.app.emulated_role``): the emulator also
serves STS, with a RAM user in a central account and, in the demo account, a read-only role that trusts
it with an external id; the crawl is handed only the user's keys and the role, assumes it (AssumeRole)
and signs every FC request with the session credentials, which the demo account accepts for itself
only. ``--session-seconds`` makes those sessions short, so the crawl refreshes them as it goes.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from crawler.app.emulated_role import RoleFlags, role_flags, through_role
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
from crawler.emulator.server import run_emulator, run_identity
from crawler.errors import UsageError
from crawler.log import configure
from crawler.report.render import BRIEF_LINES, render, render_brief
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import CredentialSource, StaticKeys
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


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What a demo crawl did: its outcome and, with ``--role``, what the emulator's STS answered."""

    outcome: CrawlOutcome
    sts: dict[str, Any] = field(default_factory=dict)


async def crawl_demo(
    spec: AccountSpec,
    faults: FaultConfig,
    sink: Sink,
    triggers: bool = False,
    progress: bool = True,
    through: RoleFlags | None = None,
) -> DemoRun:
    """Crawl an emulated account into ``sink`` (whose subscribers hear of every record); ``triggers``:
    ``--triggers`` (each function's triggers listed too); ``progress``: the progress line on a terminal
    (off with ``--no-progress`` or ``-q``); ``through``: ``--role``."""
    backend = generate_account(spec)
    role = through.build(backend.account_id, spec.seed) if through is not None else None
    async with AsyncExitStack() as stack:
        registry = role.registry if role is not None else None
        emulator = await stack.enter_async_context(run_emulator(backend, faults, identity=registry))
        identity: CredentialSource = StaticKeys(
            Credentials(emulator.access_key_id, emulator.access_key_secret, source="the emulator")
        )
        if role is not None:
            sts = await stack.enter_async_context(run_identity(role.registry))
            identity = through_role(role, sts.sts_endpoint)
            lifetime = role.registry.session_seconds
            print(
                f"through a role: {role.role.arn}"
                + (f", {lifetime:g} s sessions" if lifetime is not None else ""),
                flush=True,
            )
        target = Target(
            account=emulator.account_id, region=emulator.region, endpoint=emulator.endpoint, identity=identity
        )
        job = CrawlJob((target,), CrawlSettings(triggers=triggers))
        stats = RunStats()
        with ProgressLine(stats, enabled=progress) as line:
            outcome = await execute(job, sink, stats=stats, handle_signals=True, progress=line)
        return DemoRun(outcome, role.registry.snapshot() if role is not None else {})


def run(args: argparse.Namespace) -> int:
    # errors only by default: the retries of the demo's injected faults are its point, not news
    configure(
        max(
            logging.DEBUG,
            min(logging.ERROR - 10 * int(args.verbose) + 10 * int(args.quiet), logging.CRITICAL),
        )
    )
    spec = account_spec(args.functions, args.seed)
    through = role_flags(bool(args.role), args.session_seconds)
    files = demo_files(args)
    with ExitStack() as stack:
        stack.enter_context(
            lock_output(files["--output"], "--output")
        )  # two demos into one file: one refuses
        outputs = AuditOutputs(files, stack, args.findings_format)
        policy = selected(default_policy(), args)
        progress = not args.no_progress and not args.quiet
        return _demo(
            spec,
            files,
            outputs,
            triggers=bool(args.triggers),
            policy=policy,
            full=args.full,
            progress=progress,
            through=through,
        )


#: the lines the demo prints besides the brief summary (its first line, the crawl's figures, the files,
#: what to try next): the brief gets what is left of ``BRIEF_LINES``
DEMO_OWN_LINES: Final = 4
#: with ``--role``: the role line before the crawl and what STS answered after it
ROLE_LINES: Final = 2


def _demo(
    spec: AccountSpec,
    files: dict[str, Path],
    outputs: AuditOutputs,
    *,
    triggers: bool = False,
    policy: AuditPolicy | None = None,
    full: bool = False,
    progress: bool = True,
    through: RoleFlags | None = None,
) -> int:
    records = files["--output"]
    summarizer = Summarizer(policy, on_finding=outputs.on_finding)
    sink = Sink.open_file(records, subscribers=Subscribers(summarizer))
    print(  # what DEMO_FAULTS and demo_faults() set up, said in one line that fits 80 columns
        f"fcaudit demo: {spec.functions:,} emulated functions, a {DEMO_QUOTA_RPS:,.0f} req/s quota, "
        "injected faults",
        flush=True,
    )
    run = event_loop.run(crawl_demo, spec, demo_faults(spec.seed), sink, triggers, progress, through)
    outcome = run.outcome
    report = summarizer.report()
    outputs.write(report, source=str(records))
    width = shutil.get_terminal_size((100, 24)).columns
    where = (
        f"{files['--report']} (open it in a browser)"
        if "--report" in files
        else f"fcaudit summarize {records}"
    )
    if full:
        print(render(report, "table", width=width).rstrip("\n"))
    else:
        budget = BRIEF_LINES - DEMO_OWN_LINES - (ROLE_LINES if through is not None else 0)
        print(render_brief(report, width=width, full=where, lines=budget).rstrip("\n"))
    end = outcome.end.data
    by_status = end.get("functions", {})
    listing_triggers = f", {end.get('triggerRequests', 0):,} listing triggers" if triggers else ""
    print(
        f"crawled {sum(by_status.values()):,} functions, {end.get('configs', 0):,} configs, "
        f"{end.get('requests', 0):,} requests ({end.get('throttled', 0):,} throttled, "
        f"{end.get('retries', 0):,} retried{listing_triggers}) in {end.get('elapsedSeconds', 0):.1f} s"
    )
    if through is not None:
        print(through_role_line(run.sts, end.get("sts", {})))
    if all(path.parent == records.parent for path in files.values()):
        print(f"files: {', '.join(path.name for path in files.values())} in {records.parent}")
    else:
        print(f"files: {', '.join(str(path) for path in files.values())}")
    print(f"next: fcaudit summarize {records}  ·  fcaudit crawl --account ID --region REGION -o audit.ndjson")
    interrupted = outcome.interrupted.name if outcome.interrupted is not None else None
    return exit_code(None, None, complete=outcome.complete, interrupted=interrupted)


def through_role_line(served: dict[str, Any], counted: dict[str, Any]) -> str:
    """``--role``'s summary: the STS calls the emulator answered (its own count), refreshes included."""
    calls = served.get("calls", {})
    assumed = int(calls.get("AssumeRole", 0))
    refreshes = f" ({assumed - 1:,} refreshes)" if assumed > 1 else ""
    refused = sum(served.get("refused", {}).values())
    return (
        f"STS answered {assumed:,} AssumeRole{refreshes}, "
        f"{int(calls.get('GetCallerIdentity', 0)):,} GetCallerIdentity"
        + (f", {refused:,} refused" if refused else "")
        + f"; {int(counted.get('requests', 0)):,} STS requests"
    )
