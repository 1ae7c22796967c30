"""The top of the HTML report: the run (targets, when, how long, complete or not), the headline figures
and the charts of the settings, as plain data for the template.

``run`` records come from files anyone may have edited, so every field read from them is checked for
its type and shown as missing when it is wrong, never trusted. Formatting (thousands separators,
durations, timestamps) is decided here so the page reads the same wherever it is opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from crawler.audit.report_model import AGE_KEYS, AGE_LABELS, RETRY_KEYS, AuditReport, Figures, RunInfo
from crawler.audit.rules import Severity
from crawler.report.html.charts import (
    Category,
    Chart,
    StackedBar,
    column_chart,
    row_chart,
    share,
    stacked_bar,
)

_KINDS: Final = (
    ("mns-queue", "MNS queue", "tone-plain"),
    ("mns-topic", "MNS topic", "tone-plain"),
    ("fc2", "FC function (2.0)", "tone-plain"),
    ("fc3", "FC function (3.0)", "tone-plain"),
    ("eventbridge", "EventBridge", "tone-plain"),
    ("rocketmq", "RocketMQ", "tone-plain"),
    ("unknown", "unknown", "tone-warn"),
    ("malformed", "malformed", "tone-bad"),
)
_COVERAGE: Final = (
    ("both", "success and failure", "tone-good"),
    ("failureOnly", "failure only", "tone-plain"),
    ("successOnly", "success only", "tone-warn"),
    ("none", "none", "tone-bad"),
)


def number(n: int) -> str:
    return f"{n:,}"


def duration(seconds: float) -> str:
    """``0.4 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 07 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def timestamp(value: object) -> str:
    """An ISO timestamp from a run record, readable (UTC shown as such); anything else as it is."""
    if not isinstance(value, str):
        return "unknown"
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.tzinfo is not None and when.utcoffset() == UTC.utcoffset(None):
        return when.strftime("%Y-%m-%d %H:%M:%S UTC")
    return when.isoformat(sep=" ")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Headline:
    key: str
    label: str
    value: str
    note: str
    tone: str


@dataclass(frozen=True, slots=True)
class RunView:
    number: int
    targets: tuple[str, ...]
    started: str
    finished: str
    duration: str
    state: str
    complete: bool
    requests: str
    throttled: str
    retries: str
    notes: tuple[str, ...]


def _targets(start: Mapping[str, Any] | None) -> tuple[str, ...]:
    targets = start.get("targets") if start is not None else None
    if not isinstance(targets, list):
        return ()
    out = []
    for t in targets:
        if isinstance(t, Mapping):
            where = f"{t.get('account', '?')} / {t.get('region', '?')}"
            endpoint = t.get("endpoint")
            out.append(f"{where} ({endpoint})" if isinstance(endpoint, str) else where)
    return tuple(out)


def run_view(n: int, run: RunInfo) -> RunView:
    start, end = run.start or {}, run.end or {}
    elapsed = _float(end.get("elapsedSeconds"))
    notes: list[str] = []
    if run.end is None:
        state = "unfinished: no end record"
    elif run.start is None:
        state = "no start record"
    elif isinstance(end.get("interrupted"), str):
        state = f"interrupted ({end['interrupted']})"
    else:
        state = "complete" if run.complete else "incomplete"
    aborted = end.get("aborted")
    if isinstance(aborted, Mapping):
        notes.append(f"stopped: {aborted.get('code')}: {aborted.get('message')}")
    discovery = end.get("discoveryErrors")
    if isinstance(discovery, list) and discovery:
        notes.append(f"{len(discovery)} listing(s) of services or functions failed")
    resumed = _int(end.get("resumedFunctions"))
    if resumed:
        notes.append(f"resumed: {number(resumed)} functions came from an earlier attempt")

    def counter(name: str) -> str:
        value = _int(end.get(name))
        return number(value) if value is not None else "-"

    return RunView(
        number=n,
        targets=_targets(run.start),
        started=timestamp(start.get("startedAt")),
        finished=timestamp(end.get("finishedAt")),
        duration=duration(elapsed) if elapsed is not None else "-",
        state=state,
        complete=run.complete,
        requests=counter("requests"),
        throttled=counter("throttled"),
        retries=counter("retries"),
        notes=tuple(notes),
    )


def _joined(parts: Mapping[str, int], names: Sequence[tuple[str, str]]) -> str:
    return " · ".join(f"{label} {number(parts[key])}" for key, label in names)


def headline(report: AuditReport) -> tuple[Headline, ...]:
    t = report.totals
    worst = report.max_severity
    no_failure = t.destination_coverage["none"] + t.destination_coverage["successOnly"]
    errors = t.functions_by_status["error"]
    sev = [(s.label, s.label) for s in sorted(Severity, reverse=True)]
    return (
        Headline(
            "status",
            "Audit",
            "complete" if report.complete else "incomplete",
            "every pair listed and the run ended" if report.complete else "see the problems and errors below",
            "tone-good" if report.complete else "tone-bad",
        ),
        Headline(
            "scope",
            "Accounts / regions / services",
            " / ".join(number(n) for n in (len(report.accounts), len(report.regions), report.services_total)),
            f"{number(len(report.runs))} run(s), {number(report.lines)} lines",
            "tone-plain",
        ),
        Headline(
            "functions",
            "Functions",
            number(t.functions),
            _joined(t.functions_by_status, [(s, s) for s in t.functions_by_status]),
            "tone-plain",
        ),
        Headline(
            "configs",
            "Async configs",
            number(t.configs),
            _joined(t.qualifiers, [("latest", "LATEST"), ("version", "versions"), ("alias", "aliases")]),
            "tone-plain",
        ),
        Headline(
            "findings",
            "Findings",
            number(report.findings_total),
            _joined(t.findings_by_severity, sev),
            "tone-bad"
            if worst is not None and worst >= Severity.HIGH
            else "tone-warn"
            if worst
            else "tone-good",
        ),
        Headline(
            "no-failure-destination",
            "Without a failure destination",
            number(no_failure),
            f"{share(no_failure, t.units)} of {number(t.units)} settings: exhausted events are dropped",
            "tone-bad" if no_failure else "tone-good",
        ),
        Headline(
            "defaults",
            "Functions on platform defaults",
            number(t.on_defaults),
            "no async config: 3 retries, 1 day, no destinations",
            "tone-warn" if t.on_defaults else "tone-good",
        ),
        Headline(
            "errors",
            "Pairs that ended in error",
            number(errors),
            "not audited: their configs are unknown" if errors else "every pair was listed",
            "tone-bad" if errors else "tone-good",
        ),
    )


def charts(t: Figures) -> tuple[tuple[Chart, ...], StackedBar]:
    retry_labels = [*RETRY_KEYS[:9], "invalid"]
    retries = column_chart(
        "chart-retries",
        "Retry attempts (maxAsyncRetryAttempts)",
        f"{number(t.units)} settings; {number(t.retry_attempts_defaulted)} unset, counted as the default 3; "
        "invalid: outside 0–8",
        [
            Category(label, t.retry_attempts[key], "tone-bad" if key in ("0", "outOfRange") else "tone-plain")
            for key, label in zip(RETRY_KEYS, retry_labels, strict=True)
        ],
    )
    age_labels = [*AGE_LABELS[:-1], "invalid"]
    ages = column_chart(
        "chart-ages",
        "Max event age (maxAsyncEventAgeInSeconds)",
        f"{number(t.max_event_age_defaulted)} unset, counted as the default 1 day; "
        "invalid: outside the documented range",
        [
            Category(label, t.max_event_age[key], "tone-bad" if key == "outOfRange" else "tone-plain")
            for key, label in zip(AGE_KEYS, age_labels, strict=True)
        ],
    )
    kinds = row_chart(
        "chart-kinds",
        "Destinations by kind",
        f"{number(sum(t.destinations_by_kind.values()))} destinations (onSuccess and onFailure) · "
        f"{number(t.cross_region)} in another region · {number(t.cross_account)} in another account",
        [Category(label, t.destinations_by_kind[key], tone) for key, label, tone in _KINDS],
    )
    coverage = stacked_bar(
        "chart-coverage",
        "Destination coverage",
        "which outcomes of an async invocation are delivered somewhere",
        [Category(label, t.destination_coverage[key], tone) for key, label, tone in _COVERAGE],
    )
    return (retries, ages, kinds), coverage
