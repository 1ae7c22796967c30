"""A replaced ``error`` record counts for nothing: a file where a function's ``error`` record is later
replaced by another record of that function (``--resume``) summarizes exactly as the same file without
that ``error`` record, including the state the roll-ups and the rules across functions keep (the
functions with findings, the qualifiers triggers name). Plain examples of what the property test in
test_summary_props.py found by chance."""

from __future__ import annotations

from typing import Any

import orjson

from crawler.audit.report_model import AuditReport
from tests.support.audit_support import summarize_lines

A, R = "1234567890123456", "cn-hangzhou"
NO_DESTINATION: dict[str, Any] = {"maxAsyncRetryAttempts": 3}
FAILURE_QUEUE = {"destinationConfig": {"onFailure": {"destination": f"acs:mns:{R}:{A}:/queues/q/messages"}}}


def start(line: int) -> dict[str, Any]:
    return {"type": "run", "phase": "start", "targets": [{"account": A, "region": R}], "n": line}


def end() -> dict[str, Any]:
    return {"type": "run", "phase": "end", "complete": True}


def config(function: str, config: dict[str, Any], qualifier: str = "LATEST") -> dict[str, Any]:
    return {
        "type": "config",
        "account": A,
        "region": R,
        "service": "s",
        "function": function,
        "qualifier": qualifier,
        "config": config,
    }


def function(name: str, status: str, configs: int = 0, **extra: Any) -> dict[str, Any]:
    record = {
        "type": "function",
        "account": A,
        "region": R,
        "service": "s",
        "function": name,
        "status": status,
        "configs": configs,
        "pages": 1,
        "error": {"code": "Timeout", "attempts": 3} if status == "error" else None,
    }
    return {**record, **extra}


def summary(records: list[dict[str, Any]]) -> AuditReport:
    return summarize_lines([orjson.dumps(r) + b"\n" for r in records])


def without_lines(report: AuditReport) -> Any:
    """The report without line numbers and the line count (removing a line moves them)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: strip(v) for k, v in value.items() if k not in {"line", "lines", "startLine", "endLine"}
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(report.to_dict())


ERROR = function("f", "error")


def test_a_replaced_error_leaves_a_function_flagged_by_an_earlier_crawl_flagged() -> None:
    # crawl 1 finds f without a failure destination; crawl 2 (--resume) hits an error on f, then its
    # answer: f fixed, nothing to find. f's finding from crawl 1 still counts, and so does f
    crawl = [
        start(1),
        config("f", NO_DESTINATION),
        function("f", "ok", 1),
        end(),
        start(5),
        ERROR,
        config("f", FAILURE_QUEUE),
        function("f", "ok", 1),
        end(),
    ]
    whole, counted = summary(crawl), summary([r for r in crawl if r is not ERROR])
    assert counted.functions_with_findings == 1
    assert whole.findings_total == counted.findings_total == 1
    assert whole.functions_with_findings == 1
    assert without_lines(whole) == without_lines(counted)


def test_a_replaced_error_after_a_flagged_record_of_the_same_crawl_keeps_it_flagged() -> None:
    # the shape hypothesis found: ok (with a finding), error, gone, all in one crawl
    crawl = [start(1), config("f", NO_DESTINATION), function("f", "ok", 1), ERROR, function("f", "gone")]
    whole, counted = summary(crawl), summary([r for r in crawl if r is not ERROR])
    assert whole.functions_with_findings == counted.functions_with_findings == 1
    assert without_lines(whole) == without_lines(counted)


def test_a_replaced_error_takes_back_the_qualifiers_its_triggers_named() -> None:
    # f's LATEST has a failure destination; only the replaced error record names a trigger on "prod"
    trigger = {"name": "t", "type": "http", "mode": "async"}
    error = function("f", "error", triggers=[{**trigger, "qualifier": "prod"}])
    crawl = [
        start(1),
        error,
        config("f", FAILURE_QUEUE),
        function("f", "ok", 1, triggers=[trigger], exposure="async"),
        end(),
    ]
    whole, counted = summary(crawl), summary([r for r in crawl if r is not error])
    assert counted.totals.findings_by_rule["qualifier-gap"] == 0
    assert whole.totals.findings_by_rule["qualifier-gap"] == 0
    assert without_lines(whole) == without_lines(counted)
