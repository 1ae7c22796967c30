"""What the HTML report shows below its headline, as plain data: the rules and their counts, the worklist
(every finding, grouped per function, as the JSON document of ``crawler.report.html.worklist``), findings
grouped by severity and rule (the listing a reader without JavaScript, or on paper, gets), the
per-service table, the pairs and listings that ended in error — and the whole ``ReportView``.

The template (``templates/report.html.j2``) only lays this out; every decision about what to
show — which figures lead, how findings group, which services come first — is made here and in
``crawler.report.html.overview``, in Python, where it is typed and tested. Values from the input (names,
messages, evidence) are carried as plain strings and escaped by the template engine, never assembled
into markup here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from crawler.audit.catalogue import RULE_BY_ID
from crawler.audit.report_model import AuditReport, ServiceFigures
from crawler.audit.rollup import FunctionRollup, fix_first, rollup
from crawler.audit.rules import DEFAULT_MAX_AGE, DEFAULT_RETRIES, RULE_TITLES, Finding, Severity
from crawler.report.html.charts import Chart, StackedBar
from crawler.report.html.overview import Headline, RunView, charts, headline, number, run_view
from crawler.report.html.worklist import RuleInfo, Worklist, evidence_value

#: how much the HTML lists (everything is counted; ``--findings FILE`` writes every finding)
LISTED_PER_RULE: Final = 200
LISTED_SERVICES: Final = 1_000
LISTED_PROBLEMS: Final = 100
#: severities whose listing by rule starts unfolded: none, the worklist is the way in (every listing
#: opens with a click, and all open for printing)
OPEN_SEVERITIES: Final = frozenset[str]()
#: a table longer than this starts folded (``<details>``); its summary says how many rows it holds
FOLD_ROWS: Final = 25


# --- the view's parts -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FindingView:
    account: str
    region: str
    service: str
    function: str
    qualifier: str
    message: str
    evidence: tuple[tuple[str, str], ...]
    line: int
    #: the remediation filled in: the change in words, and the FC 2.0 ``aliyun`` command ("" if none)
    fix: str = ""
    fix_command: str = ""


@dataclass(frozen=True, slots=True)
class RuleGroup:
    rule_id: str
    severity: str
    title: str
    count: int
    suppressed: int
    findings: tuple[FindingView, ...]
    #: what to do about it (``None``: not written for this rule)
    remediation: str | None = None

    @property
    def unlisted(self) -> int:
        return max(0, self.count - len(self.findings))


@dataclass(frozen=True, slots=True)
class SeverityGroup:
    severity: str
    count: int
    rules: tuple[RuleGroup, ...]
    open: bool


@dataclass(frozen=True, slots=True)
class ServiceRow:
    account: str
    region: str
    service: str
    functions: int
    configs: int
    defaults: int
    errors: int
    high: int
    medium: int
    low: int
    info: int

    @property
    def findings(self) -> int:
        return self.high + self.medium + self.low + self.info


@dataclass(frozen=True, slots=True)
class ErrorPair:
    account: str
    region: str
    service: str
    function: str
    code: str
    http: str
    attempts: str
    message: str
    request_id: str


@dataclass(frozen=True, slots=True)
class ReportView:
    title: str
    complete: bool
    source: str | None
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    runs: tuple[RunView, ...]
    headline: tuple[Headline, ...]
    charts: tuple[Chart, ...]
    coverage: StackedBar
    rules: tuple[RuleGroup, ...]
    severities: tuple[SeverityGroup, ...]
    findings_total: int
    findings_listed: int
    #: the worklist's JSON document (safe inside ``<script type="application/json">``)
    worklist_data: str
    #: findings in the worklist, and the functions they belong to
    worklist_findings: int
    worklist_functions: int
    any_remediation: bool
    listed_per_rule: int
    fold_rows: int
    #: the functions to fix first (``crawler.audit.rollup``, over the report's listed findings)
    fix_first: tuple[FunctionRollup, ...]
    suppressed: int
    services: tuple[ServiceRow, ...]
    services_total: int
    services_truncated: bool
    several_targets: bool
    error_total: int
    error_codes: tuple[tuple[str, str], ...]
    error_pairs: tuple[ErrorPair, ...]
    discovery_failures: tuple[ErrorPair, ...]
    destinations: tuple[tuple[str, str, str], ...]
    destinations_exact: bool
    problems: tuple[str, ...]
    problems_total: int
    defaults_note: str


# --- building it ------------------------------------------------------------------------------------
def _finding_view(f: Finding) -> FindingView:
    remediation = f.remediation
    return FindingView(
        account=f.account,
        region=f.region,
        service=f.service,
        function=f.function,
        qualifier=f.qualifier or "",
        message=f.message,
        evidence=tuple((k, evidence_value(v)) for k, v in f.evidence.items()),
        line=f.line,
        fix=remediation["summary"],
        fix_command=remediation.get("aliyun", {}).get("fc2", ""),
    )


def _severities(report: AuditReport) -> tuple[tuple[RuleGroup, ...], tuple[SeverityGroup, ...]]:
    listed: dict[str, list[FindingView]] = {}
    for f in report.findings:
        kept = listed.setdefault(f.rule_id, [])
        if len(kept) < LISTED_PER_RULE:
            kept.append(_finding_view(f))
    severities = report.policy.severities
    ids = set(report.findings_by_rule) | set(report.suppressed_by_rule) | set(listed)
    rules = tuple(
        RuleGroup(
            rule_id=r,
            severity=severities[r].label,
            title=RULE_TITLES.get(r, r),
            count=report.totals.findings_by_rule.get(r, 0),
            suppressed=report.suppressed_by_rule.get(r, 0),
            findings=tuple(listed.get(r, ())),
            remediation=RULE_BY_ID[r].remediation if r in RULE_BY_ID else None,
        )
        for r in sorted(ids, key=lambda r: (-severities[r], -report.totals.findings_by_rule.get(r, 0), r))
    )
    groups = []
    for severity in sorted(Severity, reverse=True):
        mine = tuple(g for g in rules if severities[g.rule_id] == severity and g.count)
        count = report.totals.findings_by_severity[severity.label]
        if count or mine:
            groups.append(SeverityGroup(severity.label, count, mine, severity.label in OPEN_SEVERITIES))
    return rules, tuple(groups)


def _service_row(s: ServiceFigures) -> ServiceRow:
    f = s.figures
    by = f.findings_by_severity
    return ServiceRow(
        account=s.account,
        region=s.region,
        service=s.service,
        functions=f.functions,
        configs=f.configs,
        defaults=f.on_defaults,
        errors=f.functions_by_status["error"],
        high=by["high"],
        medium=by["medium"],
        low=by["low"],
        info=by["info"],
    )


def _ranked(report: AuditReport) -> tuple[ServiceRow, ...]:
    rows = [_service_row(s) for s in report.services]
    rows.sort(key=lambda r: (-r.high, -r.medium, -r.low, -r.info, -r.errors, -r.functions, r.service))
    return tuple(rows[:LISTED_SERVICES])


def _error_pair(account: str, region: str, service: str, function: str, error: object) -> ErrorPair:
    e = error if isinstance(error, Mapping) else {}

    def text(name: str) -> str:
        value = e.get(name)
        return "-" if value is None else str(value)

    return ErrorPair(
        account,
        region,
        service,
        function,
        text("code"),
        text("http"),
        text("attempts"),
        text("message"),
        text("requestId"),
    )


def _errors(report: AuditReport) -> tuple[tuple[ErrorPair, ...], tuple[ErrorPair, ...]]:
    pairs = tuple(
        _error_pair(f.account, f.region, f.service, f.function, f.evidence.get("error"))
        for f in report.findings
        if f.rule_id == "pair-error"
    )
    failures = []
    for run in report.runs:
        listed = (run.end or {}).get("discoveryErrors")
        for d in listed if isinstance(listed, list) else ():
            if isinstance(d, Mapping):
                service = d.get("service")
                failures.append(
                    _error_pair(
                        str(d.get("account", "?")),
                        str(d.get("region", "?")),
                        "(listing services)" if service is None else str(service),
                        "(listing functions)" if service is not None else "",
                        d.get("error"),
                    )
                )
    return pairs, tuple(failures)


def build_view(
    report: AuditReport, *, source: str | None = None, worklist: Worklist | None = None
) -> ReportView:
    """``worklist``: every finding, collected while the audit ran; without it the page's worklist holds
    the findings the report listed (``max_findings``), and says so when that is not all of them."""
    t = report.totals
    chart_list, coverage = charts(t)
    rules, severities = _severities(report)
    if worklist is None:
        worklist = Worklist.of(report.findings, complete=len(report.findings) >= report.findings_total)
    infos = {g.rule_id: RuleInfo(g.title, g.remediation) for g in rules}
    services = _ranked(report)
    pairs, failures = _errors(report)
    scope = ", ".join(report.accounts[:3]) + (" …" if len(report.accounts) > 3 else "")
    return ReportView(
        title=f"fcaudit audit — {scope}" if scope else "fcaudit audit",
        complete=report.complete,
        source=source,
        accounts=report.accounts,
        regions=report.regions,
        runs=tuple(run_view(i, run) for i, run in enumerate(report.runs, start=1)),
        headline=headline(report),
        charts=chart_list,
        coverage=coverage,
        rules=rules,
        severities=severities,
        findings_total=report.findings_total,
        findings_listed=sum(len(g.findings) for g in rules),
        worklist_data=worklist.to_json(infos, report.findings_total),
        worklist_findings=len(worklist),
        worklist_functions=worklist.functions,
        any_remediation=any(g.remediation for g in rules),
        listed_per_rule=LISTED_PER_RULE,
        fold_rows=FOLD_ROWS,
        fix_first=tuple(fix_first(rollup(report.findings))),
        suppressed=t.suppressed,
        services=services,
        services_total=len(report.services),
        services_truncated=report.services_truncated or len(report.services) > len(services),
        several_targets=len(report.accounts) > 1 or len(report.regions) > 1,
        error_total=t.functions_by_status["error"],
        error_codes=tuple((code, number(n)) for code, n in report.error_codes.items()),
        error_pairs=pairs,
        discovery_failures=failures,
        destinations=tuple((d.destination, d.kind, number(d.count)) for d in report.top_destinations),
        destinations_exact=report.destinations_exact,
        problems=tuple(str(p) for p in report.problems[:LISTED_PROBLEMS]),
        problems_total=report.problems_total,
        defaults_note=(
            f"{number(t.on_defaults)} functions have no async config and are counted under the platform "
            f"defaults ({DEFAULT_RETRIES} retries, {number(DEFAULT_MAX_AGE)} s, no destinations)."
        ),
    )
