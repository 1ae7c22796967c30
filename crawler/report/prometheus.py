"""The run's figures for monitoring, in the Prometheus text format, for node_exporter's textfile collector.

A nightly ``fcaudit crawl --metrics /var/lib/node_exporter/textfile/fcaudit.prom`` leaves one small file
that node_exporter serves with its own metrics, so alerts can say "the audit found high-severity
findings", "the audit is incomplete" or "no complete audit for 2 days". The file is replaced atomically
(``crawler.store.atomic_file``): the collector never reads half of it.

Naming follows the Prometheus conventions: the ``fcaudit_`` prefix, base units (seconds), ``_seconds``
for durations and timestamps, ``_total`` for counters, snake_case label names. Counts of *what the
audit saw* (functions, configs, findings) are gauges: each run replaces them. What the crawl *did*
(requests, throttled responses, retries) are counters that start from zero with every run, like a
process that restarts; ``increase()`` and ``rate()`` handle that reset.

``fcaudit_last_success_timestamp_seconds`` is when the last *complete* audit finished. An incomplete
run does not advance it, and keeps the previous file's value so the alert on its age keeps working
(the file is rewritten each run, and a missing series would look like "never").

The exposition is written here (about forty lines) rather than with ``prometheus_client``: that would
add a runtime dependency for one static file; the tests parse our output with its official parser.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from crawler import __version__
from crawler.audit.report_model import RULE_ORDER, AuditReport, RunInfo
from crawler.store.atomic_file import write_atomically

PREFIX: Final = "fcaudit_"
LAST_SUCCESS: Final = "fcaudit_last_success_timestamp_seconds"
_LAST_SUCCESS_LINE: Final = re.compile(rf"^{LAST_SUCCESS}\s+(\S+)\s*$", re.MULTILINE)
_COVERAGE: Final = (
    ("both", "both"),
    ("successOnly", "success_only"),
    ("failureOnly", "failure_only"),
    ("none", "none"),
)
_RUN_COUNTERS: Final = (
    ("requests", "requests_total", "API requests sent, retries included"),
    ("throttled", "throttled_responses_total", "Responses that throttled the crawl (429/503, Throttling*)"),
    ("retries", "retries_total", "Requests retried after a retryable error"),
)

Kind = Literal["gauge", "counter"]
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Family:
    """One metric: its full sample name (``_total`` included for counters), type, help and samples."""

    name: str
    kind: Kind
    help: str
    samples: tuple[tuple[Labels, float], ...]


def _one(name: str, kind: Kind, help_text: str, value: float) -> Family:
    return Family(PREFIX + name, kind, help_text, (((), value),))


def _by(name: str, label: str, help_text: str, values: Iterable[tuple[str, float]]) -> Family:
    return Family(PREFIX + name, "gauge", help_text, tuple((((label, k),), v) for k, v in values))


def _finished_at(run: RunInfo) -> float | None:
    value = (run.end or {}).get("finishedAt")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def _run_number(run: RunInfo, key: str) -> float | None:
    value = (run.end or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _run_families(
    report: AuditReport, previous_success: float | None, now: Callable[[], float]
) -> list[Family]:
    ends = [run for run in report.runs if run.end is not None]
    out = [
        _one(
            "run_complete",
            "gauge",
            "1 if the audit is complete (every pair listed, the run ended), else 0",
            float(report.complete),
        )
    ]
    for key, name, help_text in _RUN_COUNTERS:
        values = [v for v in (_run_number(run, key) for run in ends) if v is not None]
        if values:
            out.append(_one(name, "counter", help_text, sum(values)))
    durations = [v for v in (_run_number(run, "elapsedSeconds") for run in ends) if v is not None]
    if durations:
        out.append(_one("run_duration_seconds", "gauge", "How long the crawl took", sum(durations)))
    finished = [t for t in (_finished_at(run) for run in ends) if t is not None]
    if finished:
        out.append(
            _one(
                "last_run_timestamp_seconds", "gauge", "When the last run finished (Unix time)", max(finished)
            )
        )
    success = (max(finished) if finished else now()) if report.complete else previous_success
    if success is not None:
        out.append(
            _one(
                "last_success_timestamp_seconds",
                "gauge",
                "When the last complete audit finished (Unix time)",
                success,
            )
        )
    return out


def families(
    report: AuditReport, *, previous_success: float | None = None, now: Callable[[], float] = time.time
) -> list[Family]:
    """Every metric of ``report``. ``previous_success``: the last success timestamp already published,
    kept when this audit is incomplete. ``now``: the time of a complete audit whose run record does not
    say when it finished."""
    t = report.totals
    severities = report.policy.severities
    rules = RULE_ORDER
    return [
        Family(
            PREFIX + "build_info",
            "gauge",
            "fcaudit version that wrote this file",
            (((("version", __version__),), 1.0),),
        ),
        *_run_families(report, previous_success, now),
        _one("accounts", "gauge", "Accounts audited", len(report.accounts)),
        _one("regions", "gauge", "Regions audited", len(report.regions)),
        _one("services", "gauge", "Services found", report.services_total),
        _by(
            "functions",
            "status",
            "Functions by how their listing ended (ok, none: no config, gone, error)",
            t.functions_by_status.items(),
        ),
        _one(
            "functions_on_defaults",
            "gauge",
            "Functions with no async config (platform defaults apply)",
            t.on_defaults,
        ),
        _by("configs", "qualifier_kind", "Async-invoke configs by qualifier kind", t.qualifiers.items()),
        _by(
            "destination_coverage",
            "coverage",
            "Settings (configs and functions on defaults) by destinations set",
            ((name, t.destination_coverage[key]) for key, name in _COVERAGE),
        ),
        Family(
            PREFIX + "findings",
            "gauge",
            "Audit findings by rule and severity (suppressed ones excluded)",
            tuple(
                ((("rule", r), ("severity", severities[r].label)), float(t.findings_by_rule[r]))
                for r in rules
            ),
        ),
        _by(
            "findings_suppressed",
            "rule",
            "Findings accepted by a suppression in the policy",
            ((r, report.suppressed_by_rule.get(r, 0)) for r in rules),
        ),
        _one(
            "input_problems",
            "gauge",
            "Problems with the input records (malformed lines, missing run records, ...)",
            report.problems_total,
        ),
    ]


# --- the text format ----------------------------------------------------------------------------------
def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and value == int(value) and abs(value) < 2**53):
        return str(int(value))
    return repr(float(value))


def exposition(metrics: Iterable[Family]) -> str:
    """Prometheus text format 0.0.4: ``# HELP``, ``# TYPE``, then the samples of each family."""
    lines = []
    for family in metrics:
        lines.append(f"# HELP {family.name} {_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            inner = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels)
            lines.append(
                f"{family.name}{{{inner}}} {_number(value)}" if labels else f"{family.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def render_metrics(
    report: AuditReport, *, previous_success: float | None = None, now: Callable[[], float] = time.time
) -> str:
    return exposition(families(report, previous_success=previous_success, now=now))


def read_last_success(path: Path) -> float | None:
    """The last success timestamp an earlier run published in ``path`` (``None`` if none, or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _LAST_SUCCESS_LINE.search(text)
    if match is None:
        return None
    try:
        value = float(match.group(1))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def write_metrics(report: AuditReport, path: Path, *, now: Callable[[], float] = time.time) -> None:
    """Replace ``path`` with the report's metrics, keeping the last success time of an earlier run."""
    text = render_metrics(report, previous_success=read_last_success(path), now=now)
    write_atomically(path, text.encode("utf-8"), what="--metrics")
