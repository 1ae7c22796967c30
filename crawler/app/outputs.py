"""What every command that audits shares: its policy, its fail threshold, its output files, its exit code.

- The policy is the ``[audit]`` table of ``--config``, read one way (``load_policy``): the file parsed and
  checked by ``settings.config_file.load_config_file``, as ``crawl`` reads it, then
  ``audit.policy.policy_from_table``; no file (or no table), the default policy.
- The rules that run: the policy narrowed by ``--rule``/``--exclude-rule``/``--severity``/
  ``--exclude-severity`` (``selected``; a rule left out is neither counted nor listed nor failing).
- The fail threshold is ``--fail-on``, else ``[audit] fail_on``, else never; ``none`` turns a file's
  threshold off (``audit.policy.resolve_fail_on``).
- The outputs: ``--summary`` (JSON, whatever ``--format`` says), ``--findings`` (every finding, streamed
  as it is made and renamed into place whole: NDJSON, or CSV or OCSF JSON by ``--findings-format`` or
  the file's suffix, ``crawler.report.exports``), ``--report`` (self-contained HTML) and
  ``--metrics`` (Prometheus text). The command checks their paths before anything is opened
  (``app.output_paths.check_files``); ``AuditOutputs`` opens them into the command's one ``ExitStack``
  (``--findings`` at once; for each of the others a temporary file is made beside it and removed, so a
  place that cannot take the file is refused before the work, not after) and writes each atomically
  (an existing file's mode kept), with SIGINT/SIGTERM held so a signal never leaves one half-written. A
  failure leaves no half-written findings file behind.
- The exit code (``exit_code``): interrupted (130/143) beats incomplete (3) beats findings at or above
  the threshold (1): an audit of part of the estate is not a verdict.
"""

from __future__ import annotations

import argparse
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from crawler.app.commands import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM
from crawler.app.output_paths import Named
from crawler.audit.policy import (
    FAIL_ON_CHOICES,
    SEVERITY_LABELS,
    AuditPolicy,
    Severity,
    default_policy,
    policy_from_table,
    resolve_fail_on,
)
from crawler.audit.report_model import AuditReport
from crawler.audit.rules import Finding
from crawler.interrupts import held_interrupts
from crawler.report.exports import FINDINGS_FORMATS, FindingsWriter, findings_format
from crawler.report.prometheus import write_metrics
from crawler.report.render import render
from crawler.settings.config_file import load_config_file
from crawler.store.atomic_file import probe_writable, write_atomically

if TYPE_CHECKING:
    from crawler.report.html.worklist import Worklist

__all__ = [
    "AUDIT_OUTPUTS",
    "FAIL_ON_CHOICES",
    "FINDINGS_FORMATS",
    "SEVERITY_LABELS",
    "AuditOutputs",
    "AuditTerms",
    "audit_output_paths",
    "exit_code",
    "load_policy",
    "policy_of",
    "selected",
]

#: the audit outputs, by flag: the same four on every command that audits
AUDIT_OUTPUTS: Final = ("--summary", "--findings", "--report", "--metrics")
#: held while outputs are written (``crawl.shutdown.STOP_SIGNALS``, named here to keep this module light)
_HELD: Final = (signal.SIGINT, signal.SIGTERM)


def policy_of(table: Mapping[str, Any], *, today: date | None = None) -> AuditPolicy:
    """The policy an ``[audit]`` table asks for (the default when there is none)."""
    today = today or date.today()
    return policy_from_table(table, today=today) if table else default_policy(today=today)


def load_policy(config: Path | None, *, today: date | None = None) -> AuditPolicy:
    """The ``[audit]`` table of ``--config``, read as ``crawl`` reads the file (one way for every command)."""
    table = load_config_file(config).get("audit", {}) if config is not None else {}
    return policy_of(table, today=today)


def selected(policy: AuditPolicy, args: argparse.Namespace) -> AuditPolicy:
    """The policy narrowed to the rules ``--rule``/``--exclude-rule``/``--severity``/``--exclude-severity``
    select (every command that audits; a command without the flags keeps the policy as it is)."""
    return policy.select(
        tuple(getattr(args, "rule", None) or ()),
        tuple(getattr(args, "exclude_rule", None) or ()),
        tuple(getattr(args, "severity", None) or ()),
        tuple(getattr(args, "exclude_severity", None) or ()),
    )


@dataclass(frozen=True, slots=True)
class AuditTerms:
    """What a command audits by, and when the audit fails it."""

    policy: AuditPolicy
    fail_on: Severity | None

    @classmethod
    def resolve(cls, fail_on_flag: str | None, policy: AuditPolicy) -> AuditTerms:
        return cls(policy, resolve_fail_on(fail_on_flag, policy))

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> AuditTerms:
        """From ``--config``, the rule selection and ``--fail-on`` (commands whose config holds only the
        ``[audit]`` table)."""
        return cls.resolve(args.fail_on, selected(load_policy(args.config), args))


def audit_output_paths(args: argparse.Namespace) -> list[Named]:
    """The audit outputs the flags name, for ``check_files`` (a flag the command lacks is not given)."""
    return [(flag, getattr(args, flag[2:], None)) for flag in AUDIT_OUTPUTS]


class AuditOutputs:
    """The audit files of one command run, opened into the command's ``ExitStack``.

    ``files``: what ``check_files`` returned (the paths to write, by flag; other flags are ignored).
    ``--findings`` is opened at once (its findings stream in through ``on_finding``); the others are
    written by ``write``. Leaving the stack on an exception discards an unfinished findings file.
    With ``--report`` (or ``html``: the command prints the page) every finding is also kept, compact, for
    the page's worklist (``worklist``), so the page lists each one ``--findings`` would write.
    """

    def __init__(
        self,
        files: Mapping[str, Path],
        stack: ExitStack,
        findings_as: str | None = None,
        *,
        html: bool = False,
    ) -> None:
        paths = {flag: path for flag, path in files.items() if flag in AUDIT_OUTPUTS}
        for flag, path in paths.items():  # a file written at the end: refused now, not after the crawl
            probe_writable(path, what=flag)
        self.summary = paths.get("--summary")
        self.report = paths.get("--report")
        self.metrics = paths.get("--metrics")
        self.findings_path = paths.get("--findings")
        # its own stack inside the command's: ``settle`` closes it (renames the file into place) early
        self._findings_stack = stack.enter_context(ExitStack())
        self.findings: FindingsWriter | None = None
        if self.findings_path is not None:
            fmt = findings_format(self.findings_path, findings_as)
            self.findings = self._findings_stack.enter_context(
                FindingsWriter(self.findings_path, fmt, time_ms=int(time.time() * 1000))
            )
        self.worklist: Worklist | None = None
        if self.report is not None or html:
            from crawler.report.html.worklist import Worklist  # Jinja2 with it: only when asked for

            self.worklist = Worklist()
        self._settled = False

    @property
    def on_finding(self) -> Callable[[Finding], None] | None:
        sinks = [sink.write if isinstance(sink, FindingsWriter) else sink.add for sink in self._sinks()]
        if len(sinks) <= 1:
            return sinks[0] if sinks else None

        def each(finding: Finding) -> None:
            for sink in sinks:
                sink(finding)

        return each

    def _sinks(self) -> list[FindingsWriter | Worklist]:
        return [sink for sink in (self.findings, self.worklist) if sink is not None]

    def write_findings(self, findings: Iterable[Finding]) -> None:
        """For commands that have the findings at the end (``diff``): each into ``--findings`` and the
        worklist."""
        sink = self.on_finding
        if sink is not None:
            for finding in findings:
                sink(finding)

    def settle(self, report: AuditReport) -> None:
        """What monitoring needs even from a run that then fails: the findings file and the metrics."""
        if self._settled:
            return
        self._settled = True
        with held_interrupts(_HELD):
            self._findings_stack.close()
            if self.metrics is not None:
                write_metrics(report, self.metrics)

    def write(self, report: AuditReport, *, source: str | None = None) -> None:
        """Every output asked for; ``source``: where the records came from, named in the HTML page."""
        self.settle(report)
        with held_interrupts(_HELD):
            if self.summary is not None:  # JSON whatever --format says: the file is for machines
                write_atomically(self.summary, render(report, "json").encode("utf-8"), what="--summary")
            if self.report is not None:
                from crawler.report.html.page import write_html  # Jinja2: only when asked for

                write_html(report, self.report, source=source, worklist=self.worklist)


def exit_code(
    report: AuditReport | None,
    fail_on: Severity | None,
    *,
    complete: bool = True,
    interrupted: str | None = None,
) -> int:
    """Interrupted (the signal's name) beats incomplete beats findings at or above ``fail_on``."""
    if interrupted is not None:
        return EXIT_SIGTERM if interrupted == "SIGTERM" else EXIT_SIGINT
    if not complete:
        return EXIT_INCOMPLETE
    if report is not None and report.fails(fail_on):
        return EXIT_FINDINGS
    return EXIT_OK
