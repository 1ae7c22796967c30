"""The audit's answer as data: figures, findings and problems, frozen, with one JSON shape.

Renderers (table, JSON, Markdown, HTML and Prometheus metrics) read only this module's types,
never the fold's internals, so a new output format is a function of ``AuditReport`` and nothing else.
``AuditReport.to_dict()`` *is* the versioned JSON schema (``schemaVersion``); bump the version whenever a
key changes meaning or disappears (adding keys is compatible).

The fold counts into one flat ``list[int]`` per service (the ``ROW_*`` layout below): compact, and cheap
to add up into totals. ``Figures.from_row`` turns a row into named figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from crawler.audit.arns import KIND_COLUMNS
from crawler.audit.catalogue import RULES, Severity
from crawler.audit.policy import AuditPolicy
from crawler.audit.rules import Finding

SCHEMA_VERSION: Final = 1

# --- the row layout: one list[int] per service --------------------------------------------------
STATUSES: Final = ("ok", "none", "gone", "error")
QUALIFIER_KINDS: Final = ("latest", "version", "alias")
RETRY_KEYS: Final = (*(str(n) for n in range(9)), "outOfRange")
#: upper bounds (inclusive, seconds) of the max-event-age buckets; above the last one: "longer"
AGE_BOUNDS: Final = (60, 600, 3600, 21_600, 86_400, 604_800)
AGE_KEYS: Final = ("upTo1m", "upTo10m", "upTo1h", "upTo6h", "upTo1d", "upTo7d", "longer", "outOfRange")
AGE_LABELS: Final = ("≤ 1 min", "≤ 10 min", "≤ 1 h", "≤ 6 h", "≤ 1 day", "≤ 7 days", "longer", "out of range")
COVERAGE_KEYS: Final = ("both", "successOnly", "failureOnly", "none")
#: destination kinds as counted (FC functions split by form), in ``crawler.audit.arns.KIND_COLUMNS`` order
KIND_KEYS: Final = tuple(column.removeprefix("fc-function-") for column in KIND_COLUMNS)
STATEFUL_KEYS: Final = ("on", "off", "invalid")
#: functions (``ok``/``none``) by async exposure: a non-timer trigger invokes them asynchronously, only
#: timers do, triggers listed and none does, no trigger data (``crawler.audit.fold.exposure_of``)
EXPOSURE_KEYS: Final = ("async", "timerOnly", "sync", "unknown")

FN: Final = 0  # + index in STATUSES
CONFIGS: Final = 4
QUAL: Final = 5  # + index in QUALIFIER_KINDS
DEFAULTS: Final = 8  # functions with no config, counted under the platform defaults
RETRY: Final = 9  # + attempts (0..8); +9: out of range
RETRY_DEFAULTED: Final = 19
AGE: Final = 20  # + bucket (0..6); +7: out of range
AGE_DEFAULTED: Final = 28
COVERAGE: Final = 29  # + index in COVERAGE_KEYS
KIND: Final = 33  # + index in KIND_KEYS
CROSS_REGION: Final = 41
CROSS_ACCOUNT: Final = 42
STATEFUL: Final = 43  # + index in STATEFUL_KEYS
STATEFUL_DEFAULTED: Final = 46
EXPOSURE: Final = 47  # + index in EXPOSURE_KEYS
#: functions on defaults whose missing failure destination is counted, not listed (no async trigger)
DEFAULTS_NOT_LISTED: Final = 51
FINDINGS: Final = 52  # + Severity value
SUPPRESSED: Final = 56
RULE_ORDER: Final = tuple(r.rule_id for r in RULES)
RULE: Final = 57  # + index in RULE_ORDER: findings per rule
ROW_SIZE: Final = RULE + len(RULE_ORDER)


def new_row() -> list[int]:
    return [0] * ROW_SIZE


def add_rows(into: list[int], row: Sequence[int]) -> None:
    for i, v in enumerate(row):
        into[i] += v


@dataclass(frozen=True, slots=True)
class Figures:
    """The counted answer for one scope (everything, or one service)."""

    functions: int
    functions_by_status: Mapping[str, int]
    configs: int
    qualifiers: Mapping[str, int]
    units: int
    on_defaults: int
    retry_attempts: Mapping[str, int]
    retry_attempts_defaulted: int
    max_event_age: Mapping[str, int]
    max_event_age_defaulted: int
    destination_coverage: Mapping[str, int]
    destinations_by_kind: Mapping[str, int]
    cross_region: int
    cross_account: int
    stateful: Mapping[str, int]
    stateful_defaulted: int
    exposure: Mapping[str, int]
    defaults_not_listed: int
    findings_by_severity: Mapping[str, int]
    findings_by_rule: Mapping[str, int]
    suppressed: int

    @classmethod
    def from_row(cls, row: Sequence[int]) -> Figures:
        kinds = dict(zip(KIND_KEYS, row[KIND : KIND + 8], strict=True))
        return cls(
            functions=sum(row[FN : FN + 4]),
            functions_by_status=dict(zip(STATUSES, row[FN : FN + 4], strict=True)),
            configs=row[CONFIGS],
            qualifiers=dict(zip(QUALIFIER_KINDS, row[QUAL : QUAL + 3], strict=True)),
            units=row[CONFIGS] + row[DEFAULTS],
            on_defaults=row[DEFAULTS],
            retry_attempts=dict(zip(RETRY_KEYS, row[RETRY : RETRY + 10], strict=True)),
            retry_attempts_defaulted=row[RETRY_DEFAULTED],
            max_event_age=dict(zip(AGE_KEYS, row[AGE : AGE + 8], strict=True)),
            max_event_age_defaulted=row[AGE_DEFAULTED],
            destination_coverage=dict(zip(COVERAGE_KEYS, row[COVERAGE : COVERAGE + 4], strict=True)),
            destinations_by_kind=kinds,
            cross_region=row[CROSS_REGION],
            cross_account=row[CROSS_ACCOUNT],
            stateful=dict(zip(STATEFUL_KEYS, row[STATEFUL : STATEFUL + 3], strict=True)),
            stateful_defaulted=row[STATEFUL_DEFAULTED],
            exposure=dict(zip(EXPOSURE_KEYS, row[EXPOSURE : EXPOSURE + 4], strict=True)),
            defaults_not_listed=row[DEFAULTS_NOT_LISTED],
            findings_by_severity={s.label: row[FINDINGS + s.value] for s in Severity},
            findings_by_rule=dict(zip(RULE_ORDER, row[RULE:], strict=True)),
            suppressed=row[SUPPRESSED],
        )

    def to_dict(self) -> dict[str, Any]:
        kinds = self.destinations_by_kind
        return {
            "functions": self.functions,
            "functionsByStatus": dict(self.functions_by_status),
            "configs": self.configs,
            "qualifiers": dict(self.qualifiers),
            "units": self.units,
            "onDefaults": self.on_defaults,
            "retryAttempts": dict(self.retry_attempts),
            "retryAttemptsDefaulted": self.retry_attempts_defaulted,
            "maxEventAge": dict(self.max_event_age),
            "maxEventAgeDefaulted": self.max_event_age_defaulted,
            "destinationCoverage": dict(self.destination_coverage),
            "destinationsByKind": {
                "mns-queue": kinds["mns-queue"],
                "mns-topic": kinds["mns-topic"],
                "fc-function": kinds["fc2"] + kinds["fc3"],
                "eventbridge": kinds["eventbridge"],
                "rocketmq": kinds["rocketmq"],
                "unknown": kinds["unknown"],
                "malformed": kinds["malformed"],
            },
            "fcFunctionForms": {"fc2": kinds["fc2"], "fc3": kinds["fc3"]},
            "crossRegion": self.cross_region,
            "crossAccount": self.cross_account,
            "statefulInvocation": dict(self.stateful),
            "statefulInvocationDefaulted": self.stateful_defaulted,
            "asyncExposure": dict(self.exposure),
            "onDefaultsNotListed": self.defaults_not_listed,
            "findingsBySeverity": dict(self.findings_by_severity),
            "findingsByRule": dict(self.findings_by_rule),
            "suppressed": self.suppressed,
        }


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    account: str
    region: str
    service: str
    figures: Figures

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "service": self.service,
            **self.figures.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with the input (or the policy) that the reader of the report must know."""

    kind: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One crawl run as its ``run`` records tell it: start and end data, either may be missing."""

    start: Mapping[str, Any] | None
    end: Mapping[str, Any] | None
    start_line: int | None
    end_line: int | None

    @property
    def complete(self) -> bool:
        return self.start is not None and self.end is not None and self.end.get("complete") is not False

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": dict(self.start) if self.start is not None else None,
            "end": dict(self.end) if self.end is not None else None,
            "startLine": self.start_line,
            "endLine": self.end_line,
            "complete": self.complete,
        }


@dataclass(frozen=True, slots=True)
class DestinationCount:
    destination: str
    kind: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"destination": self.destination, "kind": self.kind, "count": self.count}


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Everything ``fcaudit`` knows after folding a run: render it, write it, or fail on it."""

    complete: bool
    lines: int
    records: Mapping[str, int]
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    services_total: int
    totals: Figures
    services: tuple[ServiceFigures, ...]
    services_truncated: bool
    error_codes: Mapping[str, int]
    top_destinations: tuple[DestinationCount, ...]
    destinations_distinct: int
    destinations_exact: bool
    findings: tuple[Finding, ...]
    findings_total: int
    suppressed_by_rule: Mapping[str, int]
    problems: tuple[Problem, ...]
    problems_total: int
    problems_by_kind: Mapping[str, int]
    runs: tuple[RunInfo, ...]
    policy: AuditPolicy
    #: sentences the reader needs beside the figures (what ``--triggers`` would add, what a rule could
    #: not judge)
    notes: tuple[str, ...] = ()
    #: functions with at least one finding (listed or not)
    functions_with_findings: int = 0
    schema_version: int = field(default=SCHEMA_VERSION)

    @property
    def findings_by_rule(self) -> Mapping[str, int]:
        """Rules that found something, with their counts."""
        return {rule: n for rule, n in self.totals.findings_by_rule.items() if n}

    @property
    def max_severity(self) -> Severity | None:
        present = [s for s in Severity if self.totals.findings_by_severity[s.label]]
        return max(present) if present else None

    def fails(self, threshold: Severity | None) -> bool:
        """True when a finding at or above ``threshold`` exists (``None``: never)."""
        worst = self.max_severity
        return threshold is not None and worst is not None and worst >= threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemaVersion": self.schema_version,
            "complete": self.complete,
            "lines": self.lines,
            "records": dict(self.records),
            "runs": [r.to_dict() for r in self.runs],
            "accounts": list(self.accounts),
            "regions": list(self.regions),
            "services": self.services_total,
            "totals": self.totals.to_dict(),
            "errorCodes": dict(self.error_codes),
            "destinations": {
                "distinct": self.destinations_distinct,
                "exact": self.destinations_exact,
                "top": [d.to_dict() for d in self.top_destinations],
            },
            "findings": {
                "total": self.findings_total,
                "bySeverity": dict(self.totals.findings_by_severity),
                "byRule": dict(self.totals.findings_by_rule),
                "suppressedByRule": dict(self.suppressed_by_rule),
                "functions": self.functions_with_findings,
                "listed": len(self.findings),
                "items": [f.to_dict() for f in self.findings],
            },
            "notes": list(self.notes),
            "perService": [s.to_dict() for s in self.services],
            "perServiceTruncated": self.services_truncated,
            "problems": {
                "total": self.problems_total,
                "byKind": dict(self.problems_by_kind),
                "listed": len(self.problems),
                "items": [p.to_dict() for p in self.problems],
            },
            "policy": self.policy.to_dict(),
        }
