"""The streaming summary: one fold over records, live during a crawl or later over an NDJSON file.

Both ways fold the same thing, a decoded record (a dict) and its line number. Live, the summarizer is a
subscriber of the writer (``crawler.store.writer``): ``add`` receives each record the writer accepted
with the very dict its line was serialised from (``records.Written``), already a valid record, so it is
neither rebuilt nor checked again. ``add_lines`` decodes each line with orjson and never builds a
dataclass, handling a well-formed config or function line inline (the same checks as ``_fold_obj``,
which takes every other line). From there one path: ``_config``/``_function`` group the records and
``AuditFold`` counts and judges them. So the live summary *is* the summary of the written file (a
property test holds it to that, through the writer).

A function's findings depend on all its configs, and its configs come right before its ``function``
record (a ``FunctionBatch``), so configs wait in ``pending`` until that record arrives; configs of
another function in between, or no record at all, make them orphans (reported, not counted). Memory is
one function's configs plus the bounded fold (``crawler.audit.fold``).

The last record of a function wins: a function that ended in ``error`` and was crawled again by
``--resume`` counts once, as its later record says (``AuditFold.retract``); the ``pair-error`` finding of
a replaced record is never listed nor sent to ``on_finding``. Findings of ``error`` records reach
``on_finding`` when they are final: at ``settle()`` (which ``report()`` calls) or a later start record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from crawler.audit.crossref import complete_targets
from crawler.audit.fold import OTHER_SERVICES, PROBLEM_CAPACITY, AuditFold, FindingSink, PendingConfig
from crawler.audit.report_model import (
    CONFIGS,
    FINDINGS,
    FN,
    AuditReport,
    DestinationCount,
    Figures,
    Problem,
    RunInfo,
    ServiceFigures,
    add_rows,
    new_row,
)
from crawler.audit.rules import AuditPolicy, RuleEngine, Severity, default_policy
from crawler.errors import InputError
from crawler.store.records import (
    FUNCTION_STATUSES,
    ConfigRecord,
    FunctionRecord,
    Written,
    from_dict,
    too_deep,
    too_deep_message,
)

#: problems that mean the input does not hold the whole truth
INCOMPLETE_KINDS: Final = frozenset(
    {
        "malformed-line",
        "truncated",
        "invalid-record",
        "unknown-record-type",
        "orphan-configs",
        "config-count-mismatch",
        "run-missing-end",
        "run-missing-start",
        "run-incomplete",
        "no-run-records",
    }
)
_NOT_FOLLOWED = "are not followed by their function record"
_OTHERS = "are followed by another function's record"
_TRUNCATED = "have no function record (input truncated?)"

Key = tuple[str, str, str, str]


class Summarizer:
    """Fold records into an ``AuditReport``. ``add`` for live records, ``add_lines`` for a file."""

    def __init__(
        self,
        policy: AuditPolicy | None = None,
        *,
        on_finding: FindingSink | None = None,
    ) -> None:
        self.policy = policy if policy is not None else default_policy()
        self.engine = RuleEngine(self.policy)
        self.on_finding = on_finding
        self.lines = 0
        self._fold = AuditFold(self.engine, on_finding)
        self._pending: list[PendingConfig] = []
        self._pending_key: Key | None = None

    # --- feeding ------------------------------------------------------------------------------------
    def add(self, written: Written) -> None:
        """One record the writer accepted (a ``RecordSubscriber``): its line's dict, valid by construction
        (built from a record, or parsed and validated by the writer's resume scan), folded as it is."""
        self.lines += 1
        n = self.lines
        record, obj = written.record, written.line
        if isinstance(record, ConfigRecord):
            k = record.key
            self._config((k.account, k.region, k.service, k.function), (n, record.qualifier, record.config))
        elif isinstance(record, FunctionRecord):
            self._function(obj, n)
        else:
            self._fold.run(obj, n)

    def add_dict(self, obj: Any) -> None:
        """One line's record already parsed from JSON but not checked, with the same checks as
        ``add_lines`` (``fcaudit merge`` feeds the merged lines this way)."""
        self.lines += 1
        self._fold_obj(obj, self.lines)

    def add_lines(self, lines: Iterable[bytes | str]) -> None:
        """Lines as read from an NDJSON file (keep their newlines: a last line without one that does
        not parse is reported as truncated)."""
        loads = orjson.loads
        fold_obj, valid_function = self._fold_obj, self._valid_function
        n = self.lines
        for raw in lines:
            n += 1
            try:
                obj = loads(raw)
            except orjson.JSONDecodeError as exc:
                self.lines = n
                self._bad_line(raw, n, exc.msg)
                continue
            # the common cases inline (a valid config or function line); anything else via _fold_obj
            try:
                kind = obj["type"]
                if kind == "config":
                    a, r, s, f = obj["account"], obj["region"], obj["service"], obj["function"]
                    q, c = obj["qualifier"], obj["config"]
                    if (
                        type(a) is str
                        and type(r) is str
                        and type(s) is str
                        and type(f) is str
                        and type(q) is str
                        and type(c) is dict
                    ):
                        key = (a, r, s, f)
                        if self._pending_key != key and self._pending:
                            self._end_run(_NOT_FOLLOWED)
                        self._pending_key = key
                        self._pending.append((n, q, c))
                        continue
                elif kind == "function" and valid_function(obj):
                    self._function(obj, n)
                    continue
            except (KeyError, TypeError):
                pass
            if too_deep(raw, obj):  # the slow path (run records, odd lines): whatever it keeps stays writable
                self._fold.problem("invalid-record", f"{too_deep_message()}: skipped", n)
                continue
            fold_obj(obj, n)
        self.lines = n

    def _bad_line(self, raw: bytes | str, n: int, why: str) -> None:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            return
        if not text.endswith("\n"):
            self._fold.problem("truncated", f"the input ends in the middle of a record ({why})", n)
        else:
            self._fold.problem("malformed-line", f"not valid JSON ({why}): skipped", n)

    def _fold_obj(self, obj: Any, n: int) -> None:
        if type(obj) is not dict:
            self._invalid(obj, n)
            return
        kind = obj.get("type")
        if kind == "config":
            a, r, s, f = obj.get("account"), obj.get("region"), obj.get("service"), obj.get("function")
            q, c = obj.get("qualifier"), obj.get("config")
            if not (
                isinstance(a, str)
                and isinstance(r, str)
                and isinstance(s, str)
                and isinstance(f, str)
                and isinstance(q, str)
                and (type(c) is dict or isinstance(c, Mapping))
            ):
                self._invalid(obj, n)
                return
            self._config((a, r, s, f), (n, q, c))
        elif kind == "function":
            if not self._valid_function(obj):
                self._invalid(obj, n)
                return
            self._function(obj, n)
        elif kind == "run" and obj.get("phase") in ("start", "end"):
            self._fold.run(obj, n)
        else:
            self._invalid(obj, n)

    @staticmethod
    def _valid_function(obj: Mapping[str, Any]) -> bool:
        """The checks of ``records.from_dict`` for a ``function`` record, without building it; except
        that ``pages`` (which the audit does not use) may be missing, as in the emulator's truth."""
        configs, pages, error = obj.get("configs"), obj.get("pages", 0), obj.get("error")
        return (
            type(configs) is int
            and configs >= 0
            and type(pages) is int
            and pages >= 0
            and obj.get("status") in FUNCTION_STATUSES
            and (error is None or type(error) is dict or isinstance(error, Mapping))
            and isinstance(obj.get("account"), str)
            and isinstance(obj.get("region"), str)
            and isinstance(obj.get("service"), str)
            and isinstance(obj.get("function"), str)
        )

    def _invalid(self, obj: Any, n: int) -> None:
        """Skip a record that is JSON but not a record; the message is the strict parser's own."""
        try:
            from_dict(obj, n)
            message = "record does not match its type's shape"
        except InputError as exc:
            message = exc.message.split(": ", 1)[1] if exc.message.startswith("line ") else exc.message
        is_unknown = isinstance(obj, dict) and obj.get("type") not in ("config", "function", "run")
        self._fold.problem(
            "unknown-record-type" if is_unknown else "invalid-record", f"{message}: skipped", n
        )

    # --- grouping configs with their function record ------------------------------------------------
    def _config(self, key: Key, pending: PendingConfig) -> None:
        if self._pending and self._pending_key != key:
            self._end_run(_NOT_FOLLOWED)
        self._pending_key = key
        self._pending.append(pending)

    def _end_run(self, why: str) -> None:
        """The pending run of configs ended without its function record (or a stream ended)."""
        run, key = self._pending, self._pending_key
        self._pending, self._pending_key = [], None
        if run and key is not None:
            self._fold.orphans(run, key, why)

    def _function(self, fn: Mapping[str, Any], n: int) -> None:
        run, key = self._pending, self._pending_key
        self._pending, self._pending_key = [], None
        if run and key != (fn["account"], fn["region"], fn["service"], fn["function"]):
            assert key is not None
            self._fold.orphans(run, key, _OTHERS)
            run = []
        self._fold.group(run, fn, n)

    # --- reporting ---------------------------------------------------------------------------------
    def settle(self) -> None:
        """The input is over: send the findings of the ``error`` records that were not replaced."""
        self._fold.settle()

    def report(self) -> AuditReport:
        """The report as of now (``settle`` first); the summarizer can keep folding afterwards."""
        self.settle()
        fold = self._fold.copy()  # the orphans below are of this report only: folding may go on
        if self._pending and self._pending_key is not None:
            fold.orphans(self._pending, self._pending_key, _TRUNCATED)
        return build_report(fold, self.lines, self.policy)


def _run_problems(runs: list[RunInfo]) -> list[Problem]:
    if not runs:
        return [Problem("no-run-records", "no run records: cannot tell whether this input is whole")]
    problems = []
    for run in runs:
        if run.end is None:
            problems.append(
                Problem("run-missing-end", "this run has no end record: input incomplete", run.start_line)
            )
        elif run.start is None:
            problems.append(Problem("run-missing-start", "this run end has no start record", run.end_line))
    return problems


def _notes(fold: AuditFold, totals: Figures) -> list[str]:
    notes = []
    untriggered = fold.untriggered
    unverified = totals.findings_by_rule.get("no-failure-destination-unverified", 0)
    if untriggered:
        notes.append(
            f"{untriggered:,} function(s) were audited without trigger data (a crawl without --triggers): a "
            "missing failure destination is listed where a config exists; on platform defaults it is listed "
            f"at low (no-failure-destination-unverified: {unverified:,}). With --triggers (one ListTriggers "
            f"request per function, about {untriggered:,} more requests) fcaudit lists it only where a "
            "trigger invokes the function asynchronously and counts the rest."
        )
    unknown_mode = totals.exposure["unknown"] - untriggered
    if unknown_mode > 0:
        notes.append(
            f"{unknown_mode:,} function(s) have a trigger whose invocation mode is not known, or triggers "
            "that could not be listed: judged as if they had none listed ([audit] trigger_modes can "
            "settle a type)."
        )
    if totals.defaults_not_listed:
        notes.append(
            f"{totals.defaults_not_listed:,} function(s) on platform defaults have no async trigger (sync "
            "triggers only, or only timers, whose events never reach a destination): counted, not listed."
        )
    unchecked = fold.xref.unchecked(complete_targets(fold.runs))
    if unchecked:
        notes.append(
            f"{unchecked:,} FC destination(s) name a function in an account and region this input did not "
            "crawl completely: not checked for dangling-fc-destination."
        )
    return notes


def build_report(fold: AuditFold, lines: int, policy: AuditPolicy) -> AuditReport:
    fold.cross_findings(count=True)
    totals = new_row()
    services = []
    for (account, region, service), row in sorted(fold.rows.items()):
        add_rows(totals, row)
        services.append(ServiceFigures(account, region, service, Figures.from_row(row)))
    if fold.other is not None:
        add_rows(totals, fold.other)
        services.append(ServiceFigures(*OTHER_SERVICES, Figures.from_row(fold.other)))
    findings = [f for severity in sorted(Severity, reverse=True) for f in fold.listed(severity)]
    runs = [RunInfo(s, e, sl, el) for s, e, sl, el in fold.runs]
    extra = _run_problems(runs)
    for sup in policy.expired:
        hits = fold.expired_hits.get(sup.index, 0)
        extra.append(
            Problem(
                "suppression-expired",
                f"{sup.describe()} expired on {sup.expires}: it no longer applies; "
                f"{hits} finding(s) it matched are reported again",
            )
        )
    if fold.other is not None:
        extra.append(
            Problem("services-truncated", f"more than {policy.max_services} services: the rest are one row")
        )
    by_kind = dict(fold.problems_by_kind)
    for p in extra:
        by_kind[p.kind] = by_kind.get(p.kind, 0) + 1
    problems = sorted([*fold.problems, *extra], key=lambda p: (p.line is None, p.line or 0))
    ranked = sorted(fold.dests.items(), key=lambda kv: (-kv[1], kv[0]))[: policy.top_destinations]
    complete = (
        bool(runs) and all(r.complete for r in runs) and not any(k in INCOMPLETE_KINDS for k in by_kind)
    )
    return AuditReport(
        complete=complete,
        lines=lines,
        records={
            "config": totals[CONFIGS] + fold.records["orphan-config"],
            "function": sum(totals[FN : FN + 4]),
            "run": fold.records["run"],
        },
        accounts=tuple(sorted(fold.accounts)),
        regions=tuple(sorted(fold.regions)),
        services_total=len(fold.rows),
        totals=Figures.from_row(totals),
        services=tuple(services),
        services_truncated=fold.other is not None,
        error_codes=dict(sorted(fold.error_codes.items())),
        top_destinations=tuple(DestinationCount(arn, fold.dest_kinds[arn], n) for arn, n in ranked),
        destinations_distinct=len(fold.dests),
        destinations_exact=fold.dests_pruned == 0,
        findings=tuple(findings[: policy.max_findings]),
        findings_total=sum(totals[FINDINGS : FINDINGS + 4]),
        suppressed_by_rule=dict(sorted(fold.suppressed.items())),
        problems=tuple(problems[:PROBLEM_CAPACITY]),
        problems_total=sum(by_kind.values()),
        problems_by_kind=dict(sorted(by_kind.items())),
        runs=tuple(runs),
        policy=policy,
        notes=tuple(_notes(fold, Figures.from_row(totals))),
        functions_with_findings=fold.flagged_count,
    )
