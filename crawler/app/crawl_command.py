"""``fcaudit crawl``: flags → a checked plan → the crawl → the summary → an exit code.

Everything a user can get wrong is checked before the first request (flag values, the config file,
credentials, the targets file, the output path — opening it is the check — and a ``--baseline`` file),
so a typo costs a second, not a half-finished crawl. ``--output`` is locked (``crawler.store.output_lock``)
before it is read for ``--resume`` or written, and released on every way out of ``run``.

Records go to stdout or ``--output``; logs and the progress line go to stderr; the summary goes to
whichever of stdout/stderr is *not* carrying the records, so stdout stays pure NDJSON when it is the data
stream. With ``--baseline`` the drift from that crawl (``fcaudit diff``) follows the summary, in the same
format.

Exit codes (``crawler.cli.main``): 0 complete and no finding at/above ``--fail-on``; 1 such findings (or,
with ``--fail-on-drift``, any drift from the baseline); 2 bad input, every target's credentials refused
(nothing could be crawled), an output locked by another run or an output that cannot be written (a full
disk); 3 incomplete (a pair ended in ``error``, a listing failed, a target was refused — named last on
stderr — or its endpoint stayed down, or the ``--deadline`` passed); 70 an internal error (a bug);
130/143 interrupted by SIGINT/SIGTERM (the file can be resumed). A signal after the end record waits for
the outputs (``crawl_and_finish``).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from crawler.app.commands import EXIT_FINDINGS, EXIT_OK
from crawler.app.output_paths import check_files
from crawler.app.outputs import (
    AuditOutputs,
    AuditTerms,
    audit_output_paths,
    exit_code,
    policy_of,
    selected,
)
from crawler.audit.report_model import AuditReport
from crawler.audit.rules import AuditPolicy, Finding, Severity
from crawler.audit.summary import Summarizer
from crawler.crawl import event_loop as event_loop
from crawler.crawl.job import CrawlJob, expand_pairs, job_fingerprint
from crawler.crawl.pipeline import DEFAULT_GRACE_SECONDS as DEFAULT_GRACE_SECONDS
from crawler.crawl.pipeline import CrawlOutcome, Refusal
from crawler.crawl.progress import ProgressLine
from crawler.crawl.runner import execute
from crawler.crawl.selection import NameFilter, Selection, read_targets_file
from crawler.crawl.shutdown import STOP_SIGNALS
from crawler.errors import AuthError, IdentityError, OutputError, UsageError
from crawler.interrupts import held_interrupts
from crawler.log import LogFormat, configure, get_logger
from crawler.report.render import TEXT_FORMATS as TEXT_FORMATS
from crawler.report.render import render, render_brief
from crawler.settings.config import IdentityFlags, resolve_config
from crawler.settings.identity import StaticKeys, describe
from crawler.settings.trigger_modes import check_trigger_modes, effective_modes
from crawler.store.atomic_file import RUN_AGAIN
from crawler.store.output_lock import lock_output
from crawler.store.shard import ShardSpec
from crawler.store.writer import ResumeState, Sink, Subscribers, check_resume, scan_for_resume
from crawler.wire.fc3_listing import API_CHOICES as API_CHOICES
from crawler.wire.run_stats import RunStats

if TYPE_CHECKING:  # --baseline and --report load their modules (and Jinja2) only when given
    from crawler.audit.drift import DriftSide

log = get_logger(__name__)


def configure_logging(args: argparse.Namespace) -> None:
    level = logging.INFO - 10 * int(args.verbose) + 10 * int(args.quiet)
    fmt: LogFormat = args.log_format
    configure(max(logging.DEBUG, min(level, logging.CRITICAL)), fmt)


@dataclass(frozen=True, slots=True)
class CrawlPlan:
    """Everything checked, the outputs open: nothing left that a user could have got wrong. What was
    opened (the lock, ``--findings``) is in the ``ExitStack`` given to ``build_plan``."""

    job: CrawlJob
    sink: Sink
    policy: AuditPolicy
    fail_on: Severity | None
    resume: ResumeState | None
    summarizer: Summarizer
    to_stdout: bool
    summary_format: str
    #: ``--summary``, ``--findings`` (streamed while the crawl runs), ``--report``, ``--metrics``
    outputs: AuditOutputs
    grace: float
    #: ``--baseline``: the earlier crawl, and this one as it is written
    baseline: DriftSide | None = None
    drift: DriftSide | None = None
    fail_on_drift: bool = False
    #: the run's counters; a subscriber of the sink from the start, so a resumed file's records count too
    stats: RunStats = field(default_factory=RunStats)
    #: the progress line (on a terminal): off with --no-progress or -q
    progress: bool = True
    #: ``--brief``: the short summary instead of the full table
    brief: bool = False
    #: the command line as typed (after ``fcaudit``), for the command that resumes an interrupted run
    argv: tuple[str, ...] = ()


def subscribers_of(summarizer: Summarizer, drift: DriftSide | None, stats: RunStats) -> Subscribers:
    """Who hears of each record the writer accepts (and of a resumed file's records): the run statistics
    (first: counting cannot fail, so the end record counts what was written even if another one does),
    the live summary, the drift's new side when there is one."""
    return Subscribers(stats, summarizer) if drift is None else Subscribers(stats, summarizer, drift)


def _finding_sinks(
    drift: DriftSide | None, to_file: Callable[[Finding], None] | None
) -> Callable[[Finding], None] | None:
    """Every finding as it is made: to the drift's new side and to ``--findings``, when asked for."""
    sinks = [f for f in (drift.keep if drift else None, to_file) if f]
    if not sinks:
        return None
    if len(sinks) == 1:
        return sinks[0]

    def both(finding: Finding) -> None:
        for sink in sinks:
            sink(finding)

    return both


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    given = {
        "concurrency": args.concurrency,
        "rate": args.rate,
        "page_size": args.page_size,
        "deadline": args.deadline,
        "connect_timeout": args.connect_timeout,
        "unreachable_after": args.unreachable_after,
    }
    overrides = {name: value for name, value in given.items() if value is not None}
    if args.insecure_http:
        overrides["insecure_http"] = True
    if args.triggers:
        overrides["triggers"] = True
    return overrides


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(
        services=NameFilter(tuple(args.service), tuple(args.exclude_service)),
        functions=NameFilter(tuple(args.function), tuple(args.exclude_function)),
    )


def build_plan(args: argparse.Namespace, env: Mapping[str, str], stack: ExitStack) -> CrawlPlan:
    """Check every input and open the outputs into ``stack`` (the lock on ``--output`` first, then
    ``--findings``); raises a ``FatalError`` naming the first problem."""
    if not (math.isfinite(args.grace) and args.grace >= 0):
        raise UsageError(f"--grace must be a number of seconds >= 0, got {args.grace}")
    if args.force_resume and not args.resume:
        raise UsageError("--force-resume only makes sense with --resume")
    if args.resume_skip_errors and not args.resume:
        raise UsageError("--resume-skip-errors only makes sense with --resume")
    to_stdout = args.output == "-"
    if args.resume and to_stdout:
        raise UsageError("--resume needs --output FILE (there is nothing to resume on stdout)")
    if args.brief and args.format != "table":
        raise UsageError(f"--brief is a short table; it cannot be combined with --format {args.format}")
    if args.fail_on_drift and args.baseline is None:
        raise UsageError("--fail-on-drift needs --baseline FILE (the crawl to compare with)")
    shard = ShardSpec.parse(args.shard) if args.shard is not None else None
    # before anything is opened: no output is an input or another output, nor a link (app.output_paths)
    files = check_files(
        [("--config", args.config), ("--targets", args.targets), ("--baseline", args.baseline)],
        [("--output", None if to_stdout else Path(args.output)), *audit_output_paths(args)],
        follow_symlinks=args.follow_symlinks,
    )
    config = resolve_config(
        env=env,
        config_path=args.config,
        account=args.account,
        regions=tuple(args.region),
        endpoint=args.endpoint,
        profile=args.profile,
        identity=IdentityFlags(
            role_arn=args.role_arn,
            external_id=args.external_id,
            role_session_name=args.role_session_name,
            duration_seconds=args.duration_seconds,
            sts_endpoint=args.sts_endpoint,
            ecs_ram_role=args.ecs_ram_role,
        ),
        overrides=_overrides(args),
    )
    selection = _selection(args)
    pairs = None
    source = None
    if args.targets is not None:
        source = f"--targets {args.targets}"
        pairs = expand_pairs(read_targets_file(args.targets), config.targets, source)
    terms = AuditTerms.resolve(args.fail_on, selected(policy_of(config.audit), args))
    policy = terms.policy
    job = CrawlJob(
        config.targets,
        config.settings,
        selection,
        pairs,
        source,
        shard=shard,
        api=args.api,
        trigger_modes=effective_modes(check_trigger_modes(config.audit.get("trigger_modes", {}))),
    )
    baseline = drift = None
    if args.baseline is not None:  # read now: a bad baseline costs a second, not a crawl
        from crawler.audit.drift import DriftSide, read_side

        baseline = read_side(args.baseline, f"--baseline {args.baseline}", policy)
        drift = DriftSide("this crawl", policy, audit=False)
    output = files.get("--output")
    if output is not None and output.is_dir():
        raise UsageError(f"--output {output} is a directory; name a file")
    # one writer per file: locked before the file is read for --resume or anything is written; the
    # stack releases it on every way out, and discards an unfinished --findings on an exception
    if output is not None:
        stack.enter_context(lock_output(output, "--output"))
    outputs = AuditOutputs(files, stack, args.findings_format)
    resume: ResumeState | None = None
    summarizer = Summarizer(policy, on_finding=_finding_sinks(drift, outputs.on_finding))
    stats = RunStats()
    subscribers = subscribers_of(summarizer, drift, stats)
    if output is None:
        sink = Sink.to_stdout(subscribers=subscribers)
    else:
        if args.resume:  # the file's records reach the subscribers through the scan
            resume = scan_for_resume(output, subscribers, retry_errors=not args.resume_skip_errors)
            if resume is not None:
                check_resume(resume, job_fingerprint(job), force=args.force_resume)
                job = replace(job, skip=resume.finished, retry=resume.retry)
            else:
                log.info("resume.nothing_to_resume", path=str(output))
        sink = Sink.open_file(
            output, truncate_to=resume.keep_bytes if resume is not None else None, subscribers=subscribers
        )
    return CrawlPlan(
        job=job,
        sink=sink,
        policy=policy,
        fail_on=terms.fail_on,
        resume=resume,
        summarizer=summarizer,
        to_stdout=to_stdout,
        summary_format=args.format,
        outputs=outputs,
        grace=args.grace,
        baseline=baseline,
        drift=drift,
        fail_on_drift=args.fail_on_drift,
        stats=stats,
        progress=not args.no_progress and not args.quiet,
        brief=args.brief,
        argv=tuple(getattr(args, "argv", ()) or ()),
    )


def _log_resume(resume: ResumeState | None) -> None:
    if resume is None:
        return
    log.info(
        "resume.continuing",
        path=str(resume.path),
        finished=len(resume.finished),
        retrying=resume.retrying,
        dropped_bytes=resume.dropped_bytes,
    )


async def crawl_plan(
    plan: CrawlPlan, *, signals: AsyncIterator[signal.Signals] | None = None
) -> CrawlOutcome:
    """The crawl; ``signals``: the command's receiver (``crawl_and_finish``), else the crawl opens one."""
    _log_resume(plan.resume)  # the stats already count the file's records (the scan published them)
    with ProgressLine(plan.stats, enabled=plan.progress) as progress:
        return await execute(
            plan.job,
            plan.sink,
            stats=plan.stats,
            resumed=plan.resume is not None,
            handle_signals=True,
            progress=progress,
            grace=plan.grace,
            signals=signals,
        )


async def crawl_and_finish(plan: CrawlPlan) -> int:
    """The crawl, then its outputs, under one signal receiver that stays open from the first request to
    the last output, so SIGTERM never meets its default handler (death, nothing written).

    During the crawl a signal stops it gently (``crawl.shutdown``). Once the end record is written, the
    stop signals are held (blocked) while ``finish`` writes the summary, findings, report and metrics: a
    fraction of a second, and nothing in it is interrupted — a blocking write to a pipe that a signal cuts
    short loses the rest of its data in Python's buffered I/O. Held signals then reach the receiver and
    are let go: the outputs are whole and the exit code is the run's own."""
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        try:
            outcome = await crawl_plan(plan, signals=signals)
        except OutputError as exc:
            if plan.sink.failed or plan.to_stdout:  # the records' own failure says what to do
                raise
            # another output failed during the crawl (--findings on a full disk): the records are whole
            raise OutputError(
                f"{_cause(exc)}; the records written so far in {plan.sink.name} are whole: free some space "
                "and continue the crawl with --resume"
            ) from None
        try:
            with held_interrupts(STOP_SIGNALS):
                code = finish(plan, outcome)
                sys.stdout.flush()  # inside the hold: the summary may be on stdout
                sys.stderr.flush()
                return code
        except OutputError as exc:
            if plan.to_stdout:
                raise
            raise OutputError(
                f"{_cause(exc)}; the crawl's records in {plan.sink.name} are whole: free some space, and "
                f"`fcaudit summarize {plan.sink.name}` (with --summary, --findings, --report or --metrics) "
                "writes it without crawling again"
            ) from None


def _cause(exc: OutputError) -> str:
    """An output error without its generic advice, which the crawl replaces with its own."""
    return exc.message.removesuffix(f"; {RUN_AGAIN}")


def refusal_text(plan: CrawlPlan, refusal: Refusal) -> str:
    """One refused target on one line: which key, where, and what the API said (never the secret)."""
    exc, account, region = refusal.error, refusal.account, refusal.region
    # the plan's job has the accounts as given: one left unknown ("") was filled in at run time
    identity = next(
        (t.identity for t in plan.job.targets if t.region == region and t.account in (account, "")), None
    )
    where = f"account {account or '(unknown)'}, region {region}"
    if isinstance(exc, IdentityError):  # said whose credentials, and why they could not be used
        return f"{exc.message} [{where}]"
    if identity is None or not isinstance(identity, StaticKeys):
        who = describe(identity) if identity is not None else "?"
        return f"the API refused the credentials of {who} ({where}): {exc.code}: {exc.message}"
    key_id = identity.credentials.access_key_id
    if key_id in exc.message:  # the client already named the key and what to check
        return f"{exc.message} [{where}]"
    return (
        f"the API refused access key {key_id} ({where}): {exc.code}: {exc.message}; check the key id, "
        "its secret, its RAM policy and, for STS, the token"
    )


def auth_failure(plan: CrawlPlan, outcome: CrawlOutcome) -> AuthError:
    """Every target refused: one line naming each (which key, where, what the API said)."""
    first = outcome.refused[0].error
    texts = [refusal_text(plan, refusal) for refusal in outcome.refused]
    message = "; ".join(texts) + " (nothing could be crawled; the run was stopped)"
    return AuthError(message, code=first.code, http=first.http or 403, request_id=first.request_id)


def report_refusals(plan: CrawlPlan, outcome: CrawlOutcome) -> None:
    """Some targets refused, others crawled: name each refused one, last on stderr."""
    for refusal in outcome.refused:
        print(f"fcaudit: refused: {refusal_text(plan, refusal)}", file=sys.stderr)


def full_report(plan: CrawlPlan) -> str | None:
    """Where the whole audit is, for ``--brief``: the ``--report`` page, or the command that prints it."""
    if plan.outputs.report is not None:
        return str(plan.outputs.report)
    return None if plan.to_stdout else f"fcaudit summarize {shlex.quote(plan.sink.name)}"


def resume_command(plan: CrawlPlan) -> str | None:
    """The exact command that continues this crawl (``--resume`` added), or ``None`` when the records
    went to stdout (nothing to resume)."""
    if plan.to_stdout:
        return None
    argv = list(plan.argv) or ["crawl", "-o", plan.sink.name]
    if "--resume" not in argv:
        argv.append("--resume")
    return shlex.join(["fcaudit", *argv])


def report_stopped(plan: CrawlPlan, outcome: CrawlOutcome, why: str) -> None:
    """A run stopped before its end (a signal, ``--deadline``): the counts and how to go on, on stderr,
    instead of the audit of part of the estate."""
    stats = plan.stats
    errors = stats.functions_by_status.get("error", 0)
    print(
        f"fcaudit: {why} after {stats.elapsed():.0f} s: {stats.functions_done:,} functions done of "
        f"{stats.functions_discovered:,} discovered so far, {stats.configs:,} configs, {errors:,} in error",
        file=sys.stderr,
    )
    command = resume_command(plan)
    if command is None:
        print(
            "fcaudit: the records went to stdout: run again with -o FILE to be able to resume",
            file=sys.stderr,
        )
    else:
        print(f"fcaudit: the records in {plan.sink.name} are whole; to go on: {command}", file=sys.stderr)


def report_unreachable(outcome: CrawlOutcome) -> None:
    """Each endpoint that never answered, last on stderr: what, why, how many attempts, how long."""
    for text in outcome.unreachable:
        print(f"fcaudit: error: {text}", file=sys.stderr)


def finish(plan: CrawlPlan, outcome: CrawlOutcome, *, summary_stream: TextIO | None = None) -> int:
    """Print and write the summary, then decide the exit code.

    The audit table is printed only when it says something: not after an interrupt (the counts and the
    command that resumes instead) and not when no function was reached at all (each endpoint that never
    answered is named last on stderr instead). The files asked for are written either way."""
    report = plan.summarizer.report()
    # every finding of the records written, even when stopping, and the metrics: before refused
    # credentials stop us, for monitoring must see those too
    plan.outputs.settle(report)
    if outcome.all_refused:
        raise auth_failure(plan, outcome)
    stopped = outcome.interrupted.name if outcome.interrupted is not None else None
    if stopped is None and outcome.end.data.get("interrupted") == "deadline":
        stopped = "the --deadline"
    nothing_reached = bool(outcome.unreachable) and report.totals.functions == 0
    stream = summary_stream or (sys.stderr if plan.to_stdout else sys.stdout)
    if outcome.interrupted is None and not nothing_reached:
        width = shutil.get_terminal_size((100, 24)).columns
        if plan.brief:
            text = render_brief(report, width=width, fail_on=plan.fail_on, full=full_report(plan))
        else:
            text = render(report, plan.summary_format, width=width)  # type: ignore[arg-type]
        print(text, file=stream, end="" if text.endswith("\n") else "\n")
    plan.outputs.write(report, source=None if plan.to_stdout else plan.sink.name)
    code = crawl_exit_code(outcome, report, plan.fail_on)
    if stopped is not None:
        report_stopped(plan, outcome, f"stopped by {stopped}")
    if plan.baseline is not None and plan.drift is not None:
        from crawler.audit.drift import compare
        from crawler.report.drift_render import DIFF_FORMATS, render_diff

        drift = compare(plan.baseline, plan.drift)
        fmt = plan.summary_format if plan.summary_format in DIFF_FORMATS else "table"
        print(render_diff(drift, fmt), file=stream, end="")  # type: ignore[arg-type]
        if plan.fail_on_drift and drift.drifted and code == EXIT_OK:
            code = EXIT_FINDINGS
    report_refusals(plan, outcome)
    report_unreachable(outcome)
    return code


def crawl_exit_code(outcome: CrawlOutcome, report: AuditReport, fail_on: Severity | None) -> int:
    """Interrupted beats incomplete beats findings (``crawler.app.outputs.exit_code``)."""
    interrupted = outcome.interrupted.name if outcome.interrupted is not None else None
    return exit_code(report, fail_on, complete=outcome.complete, interrupted=interrupted)


def run(args: argparse.Namespace) -> int:
    configure_logging(args)
    with ExitStack() as stack:  # the lock and the outputs: closed on every way out, in reverse order
        plan = build_plan(args, os.environ, stack)
        return event_loop.run(crawl_and_finish, plan)  # uvloop when installed
