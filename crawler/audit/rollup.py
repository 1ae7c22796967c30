"""Findings rolled up per function, for people: one row per function with its rules and qualifiers, most
severe first, and the short list to fix first.

The findings files keep one finding per rule and qualifier (``--findings``); a team reads functions.
``rollup`` groups findings by (account, region, service, function); each ``FunctionRollup`` carries the
worst severity, the rules (most severe first), the qualifiers (``None``, a finding about the whole
function, is shown as ``(function)``), the count per severity and the remediation in words of its worst
finding. ``fix_first`` is the head of that list: the functions with a high finding (at most ``limit``),
or, when there is none, the most severe ones. The renderers (table, Markdown, HTML) read these types
only; they are a function of the findings they are given (the report's listed findings, most severe
first, capped by ``[audit] max_findings``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from crawler.audit.catalogue import Severity
from crawler.audit.rules import Finding

WHOLE_FUNCTION: Final = "(function)"
FIX_FIRST: Final = 10


@dataclass(frozen=True, slots=True)
class FunctionRollup:
    account: str
    region: str
    service: str
    function: str
    severity: Severity
    #: rule ids, most severe first, then by id
    rules: tuple[str, ...]
    #: qualifiers with a finding, sorted; ``(function)`` for findings about the whole function
    qualifiers: tuple[str, ...]
    by_severity: Mapping[str, int]
    #: the remediation, in words, of the worst finding
    fix: str
    #: the worst finding's stable id
    worst_id: str

    @property
    def findings(self) -> int:
        return sum(self.by_severity.values())

    @property
    def target(self) -> str:
        return f"{self.service}/{self.function}"


def rollup(findings: Iterable[Finding]) -> list[FunctionRollup]:
    """One row per function, most severe first (then most high findings, most findings, name)."""
    groups: dict[tuple[str, str, str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.key, []).append(f)
    rows = []
    for key, found in groups.items():
        ranked = sorted(found, key=lambda f: (-f.severity, f.rule_id, f.qualifier or ""))
        worst = ranked[0]
        rules = tuple(dict.fromkeys(f.rule_id for f in ranked))
        qualifiers = tuple(sorted({f.qualifier or WHOLE_FUNCTION for f in found}))
        counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for f in found:
            counts[f.severity.label] += 1
        rows.append(
            FunctionRollup(
                *key,
                severity=worst.severity,
                rules=rules,
                qualifiers=qualifiers,
                by_severity=counts,
                fix=worst.fix_summary,
                worst_id=worst.finding_id,
            )
        )
    return sorted(
        rows,
        key=lambda r: (-r.severity, -r.by_severity["high"], -r.findings, r.account, r.region, r.target),
    )


def fix_first(rows: list[FunctionRollup], limit: int = FIX_FIRST) -> list[FunctionRollup]:
    """The functions to fix first: those with a high finding, else the most severe, at most ``limit``."""
    high = [r for r in rows if r.severity == Severity.HIGH]
    return (high or rows)[:limit]
