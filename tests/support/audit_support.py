"""Small builders for audit tests: records in the crawler's shapes, and a one-function summary."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from crawler.audit.report_model import AuditReport
from crawler.audit.rules import AuditPolicy, Finding, policy_from_table
from crawler.audit.summary import Summarizer
from crawler.store.records import (
    ConfigRecord,
    FunctionBatch,
    FunctionKey,
    FunctionRecord,
    FunctionStatus,
    Record,
    RunRecord,
    Written,
    to_bytes,
)

ACCOUNT = "1234567890123456"
REGION = "cn-hangzhou"
TODAY = date(2026, 6, 1)


def arn_queue(name: str = "dlq", region: str = REGION, account: str = ACCOUNT) -> str:
    return f"acs:mns:{region}:{account}:/queues/{name}/messages"


def key(service: str = "svc", function: str = "fn") -> FunctionKey:
    return FunctionKey(ACCOUNT, REGION, service, function)


def config(
    qualifier: str = "LATEST",
    *,
    retries: object = 3,
    age: object = 86400,
    success: str | None = None,
    failure: str | None = None,
    stateful: object = False,
    service: str | None = None,
    function: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A config as the API returns it; ``None`` for retries/age/stateful leaves the field out, and
    ``batch`` fills in the pair's names unless they are given here."""
    out: dict[str, Any] = {"qualifier": qualifier}
    if service is not None:
        out["service"] = service
    if function is not None:
        out["function"] = function
    if retries is not None:
        out["maxAsyncRetryAttempts"] = retries
    if age is not None:
        out["maxAsyncEventAgeInSeconds"] = age
    if stateful is not None:
        out["statefulInvocation"] = stateful
    dc: dict[str, Any] = {}
    if success is not None:
        dc["onSuccess"] = {"destination": success}
    if failure is not None:
        dc["onFailure"] = {"destination": failure}
    out["destinationConfig"] = dc
    out.update(extra)
    return out


def batch(
    *configs: Mapping[str, Any],
    service: str = "svc",
    function: str = "fn",
    status: FunctionStatus | None = None,
    error: Mapping[str, Any] | None = None,
) -> FunctionBatch:
    k = key(service, function)
    named = []
    for c in configs:
        c = dict(c)
        if "service" not in c and "serviceName" not in c:
            c["service"] = service
        if "function" not in c and "functionName" not in c:
            c["function"] = function
        named.append(c)
    records = tuple(ConfigRecord(k, str(c.get("qualifier", "LATEST")), c) for c in named)
    final = status or ("ok" if configs else "none")
    return FunctionBatch(records, FunctionRecord(k, final, len(configs), 1, error))


def run_records(batches: Iterable[FunctionBatch], *, end: bool = True) -> list[Record]:
    out: list[Record] = [RunRecord("start", {"version": "test"})]
    for b in batches:
        out.extend(b.configs)
        out.append(b.function)
    if end:
        out.append(RunRecord("end", {"complete": True}))
    return out


def lines_of(records: Iterable[Record]) -> list[bytes]:
    return [to_bytes(r) for r in records]


def policy(table: Mapping[str, Any] | None = None, today: date = TODAY) -> AuditPolicy:
    return policy_from_table(table or {}, today=today)


def summarize(
    records: Iterable[Record], table: Mapping[str, Any] | None = None, today: date = TODAY
) -> AuditReport:
    summarizer = Summarizer(policy(table, today))
    for record in records:
        summarizer.add(Written.of(record))
    return summarizer.report()


def summarize_lines(lines: Iterable[bytes], policy: AuditPolicy | None = None) -> AuditReport:
    """Summarise an NDJSON input given as lines (with their newlines), as ``fcaudit summarize`` does."""
    summarizer = Summarizer(policy)
    summarizer.add_lines(lines)
    return summarizer.report()


def findings_of(*batches: FunctionBatch, table: Mapping[str, Any] | None = None) -> list[Finding]:
    """Every finding (not just the listed ones) of these batches, via the streaming sink."""
    found: list[Finding] = []
    summarizer = Summarizer(policy(table), on_finding=found.append)
    for record in run_records(batches):
        summarizer.add(Written.of(record))
    summarizer.report()
    return found


def rule_ids(*batches: FunctionBatch, table: Mapping[str, Any] | None = None) -> list[str]:
    return [f.rule_id for f in findings_of(*batches, table=table)]
