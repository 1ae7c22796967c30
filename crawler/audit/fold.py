"""The resolved part of the summary fold: counters per service, findings, problems, runs.

``crawler.audit.summary`` decides *when* a function's configs are complete (its ``function`` record arrived)
and hands the whole group here; this module decides *what* they count for. Everything in it is either a
sum (counters) or a bounded list ordered by input line (listed findings per severity, problems, runs).

Memory: one fixed-size ``list[int]`` per service (``ROW_SIZE`` ints, about 0.5 KB), capped at the
policy's ``max_services`` (beyond it, one ``(other services)`` row); destination counts exact up to
``DEST_CAPACITY`` distinct ARNs and then pruned to the most referenced (the report says so); the
``max_findings`` most severe findings kept for listing (all are counted, per rule and severity, and all
go to ``on_finding``); problems kept up to ``PROBLEM_CAPACITY``. Bounded, except what grows with what is
unusual (one ``ErrorMark`` per function whose last record so far is ``error``) and what the rules across
functions need (``crawler.audit.crossref``: one 64-bit hash per function and per version/alias config
in a compact table, 13.5-27 bytes each, and about 100 bytes per FC-function destination); the same
table holds whether each function has a finding (its FLAGGED flag: ``functions_with_findings`` counts a
function once however many records of it the input holds).

The last record of a function wins within one crawl (one ``run`` start record): ``--resume`` crawls a
function that ended in ``error`` again and appends its new records, so a file may hold an ``error``
record and, later, the same function's real answer. Everything an ``error`` record (without configs, as
fcaudit writes them) adds — its status count, its error code, its ``pair-error`` finding, its function's
place in ``flagged`` if it put it there, the trigger qualifiers it was first to name — is kept in an
``ErrorMark`` and taken back (``retract``) when a later record of that function arrives, so the fold is
as if the replaced record had never been there. So that the listed findings stay those of the records
that count, a mark's finding is not put in ``retained``: it is listed from the mark at report time, and
sent to ``on_finding`` once it is final (a later start record, or ``settle`` when the input is over). A
start record makes the earlier marks final.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import orjson

from crawler.audit.arns import Destination, names_function
from crawler.audit.crossref import FLAGGED, CrossHit, CrossRef, complete_targets
from crawler.audit.report_model import (
    AGE,
    AGE_BOUNDS,
    AGE_DEFAULTED,
    CONFIGS,
    COVERAGE,
    CROSS_ACCOUNT,
    CROSS_REGION,
    DEFAULTS,
    DEFAULTS_NOT_LISTED,
    EXPOSURE,
    FINDINGS,
    FN,
    KIND,
    QUAL,
    RETRY,
    RETRY_DEFAULTED,
    RULE,
    RULE_ORDER,
    STATEFUL,
    STATEFUL_DEFAULTED,
    SUPPRESSED,
    Problem,
    new_row,
)
from crawler.audit.rules import NO_CONFIG, Evaluation, Finding, Hit, RuleEngine
from crawler.store.records import LATEST, shown

OTHER_SERVICES: Final = ("*", "*", "(other services)")
DEST_CAPACITY: Final = 10_000
ERROR_CODE_CAPACITY: Final = 1_000
PROBLEM_CAPACITY: Final = 100
RUN_CAPACITY: Final = 1_000
_STATUS_INDEX: Final = {"ok": 0, "none": 1, "gone": 2, "error": 3}

#: a pending config: (line, qualifier as recorded, the config object)
PendingConfig = tuple[int, str, Mapping[str, Any]]
FindingSink = Callable[[Finding], None]
Key = tuple[str, str, str, str]


#: ``exposure_of``'s answers, in ``EXPOSURE_KEYS`` order
_EXPOSURE_INDEX: Final = {"async": 0, "timer": 1, "sync": 2, "unknown": 3}


def exposure_of(fn: Mapping[str, Any]) -> str:
    """The function record's async exposure as the rules read it: ``async`` (a trigger other than a
    timer invokes it asynchronously), ``timer`` (only timers do: FC never sends their events to a
    destination), ``sync`` (its triggers were listed and none invokes asynchronously) or ``unknown``
    (no trigger data: a crawl without ``--triggers``, or a trigger whose mode is not known)."""
    exposure = fn.get("exposure")
    if exposure == "sync":
        return "sync"
    if exposure != "async":
        return "unknown"
    triggers = fn.get("triggers")
    if isinstance(triggers, list):
        modes = [t for t in triggers if isinstance(t, Mapping) and t.get("mode") == "async"]
        if modes and all(t.get("type") == "timer" for t in modes):
            return "timer"
    return "async"


def timeout_of(fn: Mapping[str, Any]) -> float | None:
    """The function's own timeout in seconds, when its record has a usable one."""
    timeout = fn.get("timeout")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    return None


def orjson_key(evidence: Mapping[str, Any]) -> str:
    """A finding's evidence as one comparable string (which loop, which destination)."""
    return orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _bump(counter: dict[Any, int], key: Any, n: int = 1) -> None:
    counter[key] = counter.get(key, 0) + n


def _drop(counter: dict[Any, int], key: Any) -> None:
    """Take one back; a count that reaches 0 is removed (as if it had never been counted)."""
    n = counter.get(key, 0) - 1
    if n > 0:
        counter[key] = n
    else:
        counter.pop(key, None)


@dataclass(slots=True)
class ErrorMark:
    """What one ``error`` function record added to the fold, to take it back if a later record of the
    same function replaces it."""

    key: Key
    line: int
    #: the ``error_codes`` entry it counted in (its code, or ``(other)`` past the capacity)
    code: str
    #: the ``pair-error`` rule it hit, if any; suppressed: counted as suppressed, not as a finding
    rule: str | None = None
    suppressed: bool = False
    expired: int | None = None
    finding: Finding | None = None
    emitted: bool = False
    #: it made its function one with a finding (``flagged``): no earlier record of the function had one
    flagged: bool = False
    #: the trigger qualifiers it was the first to name (``CrossRef.trigger_qualifiers``)
    triggers: tuple[tuple[str, str, str, str, str], ...] = ()


def _discovery_text(failed: object) -> str:
    """One failed listing of an end record's ``discoveryErrors``, named: which target, which listing, what
    went wrong (a whole target when its ListServices failed or it was stopped)."""
    if not isinstance(failed, Mapping):
        return "a listing failed (its entry in the end record is not an object)"

    def text(value: object) -> str:
        return value if isinstance(value, str) else shown(value)

    service = failed.get("service")
    raw_error = failed.get("error")
    error: Mapping[str, Any] = raw_error if isinstance(raw_error, Mapping) else {}
    what = f"ListFunctions of service {text(service)}" if service else "ListServices (the whole target)"
    why = f"{text(error.get('code'))}: {text(error.get('message'))}"
    return f"account {text(failed.get('account'))} region {text(failed.get('region'))}: {what} failed: {why}"


class AuditFold:
    """Counters and bounded lists; ``group`` folds in one finished function."""

    def __init__(self, engine: RuleEngine, on_finding: FindingSink | None = None) -> None:
        self.engine = engine
        self.on_finding = on_finding
        self.cap = engine.policy.max_findings
        self.max_services = engine.policy.max_services
        self.check_suppressions = bool(engine.policy.suppressions or engine.policy.expired)
        #: each rule's row column, and its severity
        self.rule_column = {rule_id: RULE + i for i, rule_id in enumerate(RULE_ORDER)}
        self.severity = engine.severity
        self.rows: dict[tuple[str, str, str], list[int]] = {}
        self.other: list[int] | None = None
        self.accounts: set[str] = set()
        self.regions: set[str] = set()
        self.error_codes: dict[str, int] = {}
        self.dests: dict[str, int] = {}
        self.dest_kinds: dict[str, str] = {}
        #: 0 while destination counts are exact; else the largest count ever pruned (an error bound)
        self.dests_pruned = 0
        self.suppressed: dict[str, int] = {}
        self.expired_hits: dict[int, int] = {}
        #: findings kept for the report, per severity in input order; the report lists the ``cap`` most
        #: severe, so a severity closes once it and the ones above it hold ``cap`` (``keep``)
        self.retained: list[list[Finding]] = [[], [], [], []]
        self.closed = [False, False, False, False]
        self.problems: list[Problem] = []
        self.problems_by_kind: dict[str, int] = {}
        #: records counted outside the rows: configs that never met their function record, run records
        self.records: dict[str, int] = {"orphan-config": 0, "run": 0}
        #: [start data, end data, start line, end line]
        self.runs: list[list[Any]] = []
        #: functions whose last record (in this crawl) is ``error``: replaced if another record follows
        self.errors: dict[Key, ErrorMark] = {}
        self.xref = CrossRef()
        #: functions (ok/none) whose record has no trigger list (a crawl without --triggers)
        self.untriggered = 0
        #: functions with at least one finding (not suppressed): their FLAGGED flag in ``xref.keys``
        self.flagged_count = 0
        #: cross-function findings already sent to ``on_finding``
        self.cross_sent: set[tuple[str, Key, str | None, str]] = set()
        #: the findings of ``error`` records that can no longer be replaced, per severity, in line order
        #: (only the first ``cap`` of each can ever be listed)
        self.final_errors: list[list[Finding]] = [[], [], [], []]

    # --- rows -------------------------------------------------------------------------------------
    def row(self, account: str, region: str, service: str) -> list[int]:
        key = (account, region, service)
        row = self.rows.get(key)
        if row is not None:
            return row
        self.accounts.add(account)
        self.regions.add(region)
        if len(self.rows) < self.max_services:
            row = self.rows[key] = new_row()
            return row
        if self.other is None:
            self.other = new_row()
        return self.other

    # --- one finished function ---------------------------------------------------------------------
    def group(self, configs: Sequence[PendingConfig], fn: Mapping[str, Any], line: int) -> None:
        account, region, service, function = fn["account"], fn["region"], fn["service"], fn["function"]
        status = fn["status"]
        key = (account, region, service, function)
        if self.errors:
            replaced = self.errors.pop(key, None)
            if replaced is not None:  # the last record wins: this one replaces an earlier error
                self.retract(replaced)
        row = self.row(account, region, service)
        row[FN + _STATUS_INDEX[status]] += 1
        found_before = row[FINDINGS] + row[FINDINGS + 1] + row[FINDINGS + 2] + row[FINDINGS + 3]
        engine = self.engine
        evaluate, count, emit = engine.evaluate, self.count, self.emit
        exposure, timeout = exposure_of(fn), timeout_of(fn)
        xref = self.xref
        # the function's flags go to xref once, at the end (xref.fold_function), its configs' with them
        triggers = fn.get("triggers")
        new_triggers = xref.add_triggers(key, line, triggers) if triggers and status != "gone" else ()
        latest_failure, qualified = False, []
        if status in ("ok", "none"):
            row[EXPOSURE + _EXPOSURE_INDEX[exposure]] += 1
            if fn.get("triggers") is None:
                self.untriggered += 1
        for cline, qualifier, config in configs:
            q = qualifier or LATEST
            row[QUAL + (0 if q == LATEST else 1 if q.isdigit() else 2)] += 1
            named_service = config.get("service")
            if named_service is None:
                named_service = config.get("serviceName")
            named_function = config.get("function")
            if named_function is None:
                named_function = config.get("functionName")
            if (named_service is not None and named_service != service) or (
                named_function is not None and named_function != function
            ):
                self.identity_mismatch(named_service, named_function, service, function, cline)
            evaluation = evaluate(config, account, region, service, function, False, timeout, exposure)
            count(row, evaluation, account, region)
            success, failure = evaluation[4], evaluation[5]
            if q != LATEST:
                qualified.append(hash((account, region, service, function, q)))
            elif failure is not None:
                latest_failure = True
            if success is not None and success.kind == "fc-function":
                self.fc_edge("onSuccess", success, key, q, cline)
            if failure is not None and failure.kind == "fc-function":
                self.fc_edge("onFailure", failure, key, q, cline)
            if evaluation.hits:
                emit(evaluation.hits, row, account, region, service, function, q, cline, evaluation)
        row[CONFIGS] += len(configs)
        if status == "none" and not configs:
            row[DEFAULTS] += 1
            evaluation = evaluate(NO_CONFIG, account, region, service, function, True, timeout, exposure)
            count(row, evaluation, account, region)
            if exposure in ("sync", "timer"):  # no async trigger: counted, not listed
                row[DEFAULTS_NOT_LISTED] += 1
            if evaluation.hits:
                emit(evaluation.hits, row, account, region, service, function, None, line, evaluation)
        mark = None
        if status == "error":
            error = fn.get("error")
            code = str(error.get("code")) if error else "unknown"
            if code not in self.error_codes and len(self.error_codes) >= ERROR_CODE_CAPACITY:
                code = "(other)"
            _bump(self.error_codes, code)
            mark = ErrorMark(key, line, code, triggers=new_triggers)
            for hit in engine.check_error(error):
                self.error_hit(mark, hit, row)
            if configs:  # not a record fcaudit writes (its errors have no configs): nothing to replace
                self.finalize(mark)
            else:
                self.errors[key] = mark
        found = row[FINDINGS] + row[FINDINGS + 1] + row[FINDINGS + 2] + row[FINDINGS + 3] > found_before
        old = xref.fold_function(
            hash(key), status == "gone", latest_failure=latest_failure, flagged=found, qualified=qualified
        )
        if found and not old & FLAGGED:
            self.flagged_count += 1
            if mark is not None and not configs:
                # retract takes f's FLAGGED back only if this record set it: an earlier record of f
                # (an earlier crawl, or this one before the error) may have flagged it
                mark.flagged = True
        declared = fn["configs"]
        if declared != len(configs):
            self.problem(
                "config-count-mismatch",
                f"{service}/{function}: function record says {declared} configs, {len(configs)} precede it",
                line,
            )
        elif status == "none" and configs:
            self.problem(
                "config-count-mismatch", f"{service}/{function}: status 'none' but has configs", line
            )

    def fc_edge(self, side: str, d: Destination, key: Key, qualifier: str, line: int) -> None:
        """An FC function destination, for the rules across functions (a self-loop is not an edge)."""
        account, region, service, function = key
        if not names_function(d, account, region, service, function):
            self.xref.add_edge((account, region, service, function, qualifier), side, d, line)

    def error_hit(self, mark: ErrorMark, hit: Hit, row: list[int]) -> None:
        """Count an ``error`` record's ``pair-error`` hit into the row; its finding stays on the mark."""
        account, region, service, function = mark.key
        rule_id = hit[0]
        mark.rule = rule_id
        expired = None
        if self.check_suppressions:
            active, expired = self.engine.suppression(rule_id, account, region, service, function, None)
            if active is not None:
                mark.suppressed = True
                row[SUPPRESSED] += 1
                _bump(self.suppressed, rule_id)
                return
            if expired is not None:
                mark.expired = expired.index
                _bump(self.expired_hits, expired.index)
        row[self.rule_column[rule_id]] += 1
        row[FINDINGS + self.severity[rule_id]] += 1
        mark.finding = self.engine.finding(hit, account, region, service, function, None, mark.line, expired)

    def retract(self, mark: ErrorMark) -> None:
        """Take back everything an ``error`` record added (a later record of its function replaced it)."""
        account, region, service, _function = mark.key
        if mark.flagged and self.xref.keys.update(hash(mark.key), 0, FLAGGED) & FLAGGED:
            self.flagged_count -= 1
        self.xref.retract_triggers(mark.triggers)
        row = self.rows.get((account, region, service), self.other)
        if row is None:
            return
        row[FN + _STATUS_INDEX["error"]] -= 1
        _drop(self.error_codes, mark.code)
        if mark.rule is None:
            return
        if mark.suppressed:
            row[SUPPRESSED] -= 1
            _drop(self.suppressed, mark.rule)
            return
        row[self.rule_column[mark.rule]] -= 1
        row[FINDINGS + self.severity[mark.rule]] -= 1
        if mark.expired is not None:
            _drop(self.expired_hits, mark.expired)

    def finalize(self, mark: ErrorMark) -> None:
        """An ``error`` record that can no longer be replaced: its finding is listed and sent."""
        finding = mark.finding
        if finding is None:
            return
        kept = self.final_errors[finding.severity]
        if len(kept) < self.cap or finding.line < kept[-1].line:
            kept.insert(bisect_left([f.line for f in kept], finding.line), finding)
            del kept[self.cap :]
        self.send(mark)

    def send(self, mark: ErrorMark) -> None:
        if mark.finding is not None and self.on_finding is not None and not mark.emitted:
            mark.emitted = True
            self.on_finding(mark.finding)

    def settle(self) -> None:
        """The input is over (for now): send the pending ``error`` findings and the cross-function
        findings to ``on_finding``."""
        for mark in sorted(self.errors.values(), key=lambda m: m.line):
            self.send(mark)
        self.send_cross()

    # --- the cross-function rules (crawler.audit.crossref), judged once the input is over -----------
    def cross_hits(self) -> list[CrossHit]:
        on = self.engine.policy.enabled
        return self.xref.hits(
            complete_targets(self.runs),
            dangling="dangling-fc-destination" in on,
            cycle="destination-cycle" in on,
            gap="qualifier-gap" in on,
        )

    def cross_findings(self, count: bool) -> list[Finding]:
        """The cross-function findings of the input so far (suppressions applied). ``count``: fold them
        into the rows and the listed findings too (done on the report's copy of the fold, once)."""
        engine = self.engine
        out = []
        for ch in self.cross_hits():
            account, region, service, function = ch.key
            rule_id = ch.hit[0]
            row = self.row(account, region, service) if count else None
            expired = None
            if self.check_suppressions:
                active, expired = engine.suppression(
                    rule_id, account, region, service, function, ch.qualifier
                )
                if active is not None:
                    if row is not None:
                        row[SUPPRESSED] += 1
                        _bump(self.suppressed, rule_id)
                    continue
            finding = engine.finding(
                ch.hit, account, region, service, function, ch.qualifier, ch.line, expired
            )
            out.append(finding)
            if row is not None:
                if expired is not None:
                    _bump(self.expired_hits, expired.index)
                if not self.xref.keys.update(hash(ch.key), FLAGGED) & FLAGGED:
                    self.flagged_count += 1
                row[self.rule_column[rule_id]] += 1
                row[FINDINGS + finding.severity] += 1
                if not self.closed[finding.severity]:
                    self.keep(finding.severity, finding)
        return out

    def send_cross(self) -> None:
        """Send the cross-function findings not sent yet to ``on_finding`` (the input is over for now)."""
        if self.on_finding is None:
            return
        for finding in self.cross_findings(count=False):
            mark = (finding.rule_id, finding.key, finding.qualifier, orjson_key(finding.evidence))
            if mark not in self.cross_sent:
                self.cross_sent.add(mark)
                self.on_finding(finding)

    def listed(self, severity: int) -> list[Finding]:
        """The findings of a severity that can be listed, in line order: the retained ones and those of
        ``error`` records (final, and pending)."""
        errors = [*self.final_errors[severity]]
        errors += [m.finding for m in self.errors.values() if m.finding and m.finding.severity == severity]
        if not errors:
            return self.retained[severity]
        return sorted([*self.retained[severity], *errors], key=lambda f: f.line)

    def identity_mismatch(
        self, named_service: object, named_function: object, service: str, function: str, line: int
    ) -> None:
        """A config names its pair (``service``/``function`` or ``serviceName``/``functionName``)
        differently from the record that carries it."""
        self.problem(
            "config-identity-mismatch",
            f"config names {shown(named_service)}/{shown(named_function)}, "
            f"its record {service!r}/{function!r}",
            line,
        )

    def count(self, row: list[int], evaluation: Evaluation, account: str, region: str) -> None:
        """Count one qualifier's effective settings into its service's row."""
        _hits, r, a, st, success, failure, r_unset, a_unset, st_unset = evaluation
        row[RETRY + (9 if r is None else r)] += 1
        row[AGE + (7 if a is None else bisect_left(AGE_BOUNDS, a))] += 1
        row[STATEFUL + (0 if st else 2 if st is None else 1)] += 1
        if r_unset:
            row[RETRY_DEFAULTED] += 1
        if a_unset:
            row[AGE_DEFAULTED] += 1
        if st_unset:
            row[STATEFUL_DEFAULTED] += 1
        if success is None:
            row[COVERAGE + (3 if failure is None else 2)] += 1
        else:
            row[COVERAGE + (1 if failure is None else 0)] += 1
            self.count_destination(row, success, account, region)
        if failure is not None:
            self.count_destination(row, failure, account, region)

    def count_destination(self, row: list[int], d: Destination, account: str, region: str) -> None:
        row[KIND + d.index] += 1
        dests = self.dests
        n = dests.get(d.arn)
        if n is None:
            self.new_destination(d)
        else:
            dests[d.arn] = n + 1
        if d.region is not None:
            if d.region != region:
                row[CROSS_REGION] += 1
            if d.account != account and not d.same_account(account):
                row[CROSS_ACCOUNT] += 1

    def new_destination(self, d: Destination) -> None:
        self.dests[d.arn] = 1
        self.dest_kinds[d.arn] = d.kind
        if len(self.dests) > 2 * DEST_CAPACITY:
            self.prune_destinations()

    def prune_destinations(self) -> None:
        ranked = sorted(self.dests.items(), key=lambda kv: (-kv[1], kv[0]))
        self.dests_pruned = max(self.dests_pruned, ranked[DEST_CAPACITY][1])
        self.dests = dict(ranked[:DEST_CAPACITY])
        self.dest_kinds = {arn: self.dest_kinds[arn] for arn in self.dests}

    def emit(
        self,
        hits: list[Hit],
        row: list[int],
        account: str,
        region: str,
        service: str,
        function: str,
        qualifier: str | None,
        line: int,
        evaluation: Evaluation | None = None,
    ) -> None:
        if self.check_suppressions or self.on_finding is not None:
            self.emit_slow(hits, row, account, region, service, function, qualifier, line, evaluation)
            return
        rule_column, severity_of, closed = self.rule_column, self.severity, self.closed
        for hit in hits:
            rule_id = hit[0]
            row[rule_column[rule_id]] += 1
            severity = severity_of[rule_id]
            row[FINDINGS + severity] += 1
            if not closed[severity]:
                self.keep(
                    severity,
                    self.engine.finding(
                        hit, account, region, service, function, qualifier, line, None, evaluation
                    ),
                )

    def emit_slow(
        self,
        hits: list[Hit],
        row: list[int],
        account: str,
        region: str,
        service: str,
        function: str,
        qualifier: str | None,
        line: int,
        evaluation: Evaluation | None = None,
    ) -> None:
        """``emit`` with suppressions to apply and a sink to feed."""
        engine = self.engine
        for hit in hits:
            rule_id = hit[0]
            active, expired = engine.suppression(rule_id, account, region, service, function, qualifier)
            if active is not None:
                row[SUPPRESSED] += 1
                _bump(self.suppressed, rule_id)
                continue
            if expired is not None:
                _bump(self.expired_hits, expired.index)
            row[self.rule_column[rule_id]] += 1
            severity = self.severity[rule_id]
            row[FINDINGS + severity] += 1
            if not self.closed[severity] or self.on_finding is not None:
                finding = engine.finding(
                    hit, account, region, service, function, qualifier, line, expired, evaluation
                )
                if not self.closed[severity]:
                    self.keep(severity, finding)
                if self.on_finding is not None:
                    self.on_finding(finding)

    def keep(self, severity: int, finding: Finding) -> None:
        kept = self.retained[severity]
        above = sum(len(self.retained[s]) for s in range(severity + 1, 4))
        if len(kept) + above < self.cap:
            kept.append(finding)
        else:
            self.closed[severity] = True

    # --- problems, orphans, runs -------------------------------------------------------------------
    def problem(self, kind: str, message: str, line: int) -> None:
        _bump(self.problems_by_kind, kind)
        self.problems.append(Problem(kind, message, line))
        if len(self.problems) > 2 * PROBLEM_CAPACITY:
            self.trim_problems()

    def trim_problems(self) -> None:
        self.problems.sort(key=lambda p: p.line or 0)
        del self.problems[PROBLEM_CAPACITY:]

    def orphans(self, configs: Sequence[PendingConfig], key: tuple[str, ...], why: str) -> None:
        """Configs that never met their function record: reported at the first one's line, not counted."""
        self.records["orphan-config"] += len(configs)
        self.problem(
            "orphan-configs",
            f"{len(configs)} config(s) of {key[2]}/{key[3]} {why}: not counted",
            configs[0][0],
        )

    def run(self, obj: Mapping[str, Any], line: int) -> None:
        self.records["run"] += 1
        data = {k: v for k, v in obj.items() if k not in ("type", "phase")}
        runs = self.runs
        if obj["phase"] == "start":  # a crawl of its own begins: its records replace nothing before it
            self.finalize_errors()
            if len(runs) < RUN_CAPACITY:
                runs.append([data, None, line, None])
            return
        if runs and runs[-1][0] is not None and runs[-1][1] is None:
            runs[-1][1], runs[-1][3] = data, line
        elif len(runs) < RUN_CAPACITY:
            runs.append([None, data, None, line])
        if data.get("complete") is False:
            self.problem("run-incomplete", "the crawl that wrote this input ended incomplete", line)
        for failed in data.get("discoveryErrors") or ():
            self.problem("discovery-failed", _discovery_text(failed), line)

    def finalize_errors(self) -> None:
        """A new crawl starts: the ``error`` records before it can no longer be replaced."""
        for mark in sorted(self.errors.values(), key=lambda m: m.line):
            self.finalize(mark)
        self.errors.clear()

    @property
    def flagged(self) -> set[int]:
        """The hashes of the functions with a finding (a scan of the table: for tests and debugging)."""
        return set(self.xref.keys.hashes(FLAGGED))

    # --- copying -----------------------------------------------------------------------------------
    def copy(self) -> AuditFold:
        """An independent twin: folding into either leaves the other as it was."""
        twin = AuditFold(self.engine, self.on_finding)
        twin.rows = {key: list(row) for key, row in self.rows.items()}
        twin.other = None if self.other is None else list(self.other)
        twin.accounts, twin.regions = set(self.accounts), set(self.regions)
        twin.error_codes = dict(self.error_codes)
        twin.dests, twin.dest_kinds = dict(self.dests), dict(self.dest_kinds)
        twin.dests_pruned = self.dests_pruned
        twin.suppressed, twin.expired_hits = dict(self.suppressed), dict(self.expired_hits)
        twin.retained = [list(kept) for kept in self.retained]
        twin.closed = list(self.closed)
        twin.problems, twin.problems_by_kind = list(self.problems), dict(self.problems_by_kind)
        twin.records = dict(self.records)
        twin.runs = [list(run) for run in self.runs]
        twin.errors = {key: replace(mark) for key, mark in self.errors.items()}
        twin.final_errors = [list(kept) for kept in self.final_errors]
        twin.xref = self.xref.copy()
        twin.untriggered = self.untriggered
        twin.flagged_count = self.flagged_count
        twin.cross_sent = set(self.cross_sent)
        return twin
