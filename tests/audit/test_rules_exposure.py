"""Issue 15's per-config rules through the real fold, from record lines as the crawl writes them with
``timeout``, ``exposure`` and (with ``--triggers``) ``triggers``: severity by async exposure, the
function's own timeout in ``max-age-too-short``, the FC 3.0 age limit, and the destination allow-list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from crawler.audit.report_model import AuditReport
from crawler.audit.rules import Finding
from crawler.audit.summary import Summarizer
from tests.support.audit_support import ACCOUNT, REGION, arn_queue, config, policy

QUEUE = arn_queue()
FOREIGN = arn_queue("dlq", account="9999999999999999")


def function_line(
    service: str = "svc",
    function: str = "fn",
    configs: Sequence[Mapping[str, Any]] = (),
    *,
    timeout: float | None = None,
    triggers: list[dict[str, str]] | None = None,
    exposure: str | None = None,
) -> list[dict[str, Any]]:
    """A function's records as the crawl writes them (configs, then the function record)."""
    base = {"account": ACCOUNT, "region": REGION, "service": service, "function": function}
    out: list[dict[str, Any]] = [
        {"type": "config", **base, "qualifier": c.get("qualifier", "LATEST"), "config": dict(c)}
        for c in configs
    ]
    record: dict[str, Any] = {
        "type": "function",
        **base,
        "status": "ok" if configs else "none",
        "configs": len(configs),
        "pages": 1,
        "error": None,
        "timeout": timeout,
    }
    if triggers is not None:
        record["triggers"] = triggers
        modes = {t["mode"] for t in triggers}
        record["exposure"] = "async" if "async" in modes else "unknown" if "unknown" in modes else "sync"
    else:
        record["exposure"] = "unknown"
    if exposure is not None:
        record["exposure"] = exposure
    out.append(record)
    return out


def audit(
    *functions: list[dict[str, Any]], table: Mapping[str, Any] | None = None
) -> tuple[AuditReport, list[Finding]]:
    found: list[Finding] = []
    summarizer = Summarizer(policy(table), on_finding=found.append)
    lines: list[dict[str, Any]] = [{"type": "run", "phase": "start", "version": "test"}]
    for records in functions:
        lines += records
    lines.append({"type": "run", "phase": "end", "complete": True})
    summarizer.add_lines(orjson.dumps(line) + b"\n" for line in lines)
    return summarizer.report(), found


def rules(*functions: list[dict[str, Any]], table: Mapping[str, Any] | None = None) -> list[str]:
    return [f.rule_id for f in audit(*functions, table=table)[1]]


OSS = {"name": "on-upload", "type": "oss", "mode": "async"}
HTTP = {"name": "web", "type": "http", "mode": "sync"}
TIMER = {"name": "nightly", "type": "timer", "mode": "async"}


def test_a_function_on_defaults_with_an_async_trigger_is_listed_at_medium() -> None:
    report, found = audit(function_line(triggers=[OSS, HTTP]))
    assert [(f.rule_id, f.severity.label) for f in found] == [("no-failure-destination", "medium")]
    assert found[0].evidence["exposure"] == "async"
    assert "a trigger invokes it asynchronously" in found[0].message
    assert report.totals.exposure == {"async": 1, "timerOnly": 0, "sync": 0, "unknown": 0}


def test_a_function_on_defaults_with_only_sync_triggers_is_counted_not_listed() -> None:
    report, found = audit(function_line(triggers=[HTTP]), function_line(function="bare", triggers=[]))
    assert found == []
    assert report.findings_total == 0
    assert report.totals.on_defaults == report.totals.defaults_not_listed == 2
    assert any("counted, not listed" in note for note in report.notes)


def test_timer_events_never_reach_a_destination_so_none_is_asked_for() -> None:
    # only timers invoke it asynchronously: on defaults, with a config, even with retries off
    found = rules(
        function_line(triggers=[TIMER, HTTP]),
        function_line(function="cfg", configs=[config(retries=0)], triggers=[TIMER]),
    )
    assert found == []
    # a timer and an OSS trigger: the OSS events do reach destinations
    assert rules(function_line(triggers=[TIMER, OSS])) == ["no-failure-destination"]


def test_an_explicit_config_is_judged_whatever_the_triggers_say() -> None:
    # someone designed for async: a config without a failure destination is listed even with no trigger
    assert rules(function_line(configs=[config()], triggers=[HTTP])) == ["no-failure-destination"]
    assert rules(function_line(configs=[config(retries=0)], triggers=[])) == [
        "retries-disabled-no-failure-destination"
    ]


def test_without_trigger_data_defaults_stay_listed_at_low_and_the_report_says_what_triggers_add() -> None:
    report, found = audit(function_line(), function_line(function="g", configs=[config()]))
    assert [(f.rule_id, f.severity.label) for f in found] == [
        ("no-failure-destination-unverified", "low"),
        ("no-failure-destination", "medium"),
    ]
    (note,) = [n for n in report.notes if "--triggers" in n]
    assert "2 function(s) were audited without trigger data" in note
    assert "about 2 more requests" in note


def test_max_age_too_short_uses_the_function_timeout() -> None:
    # 3 retries: 0.5 + 1 + 2 s of backoff; 4 attempts of 10 s = 43.5 s; of 300 s = 1203.5 s
    short = config(retries=3, age=600, failure=QUEUE)
    assert rules(function_line(configs=[short], timeout=10)) == []
    _report, found = audit(function_line(configs=[short], timeout=300))
    assert [f.rule_id for f in found] == ["max-age-too-short"]
    assert found[0].evidence == {
        "maxAsyncEventAgeInSeconds": 600,
        "maxAsyncRetryAttempts": 3,
        "requiredSeconds": 1203.5,
        "attemptSeconds": 300.0,
        "attemptFrom": "function timeout",
    }
    # the timeout unknown (null): the attempt_seconds setting, 60 s: 243.5 s needed, 600 s is enough
    assert rules(function_line(configs=[short], timeout=None)) == []
    assert rules(function_line(configs=[short]), table={"thresholds": {"attempt_seconds": 200}}) == [
        "max-age-too-short"
    ]


def test_an_age_above_fc3s_limit_is_low_and_above_fc2s_is_out_of_range() -> None:
    at_limit = config(age=604_800, failure=QUEUE)
    above = config("prod", age=604_801, failure=QUEUE)
    too_long = config("v2", age=2_592_001, failure=QUEUE)
    _report, found = audit(function_line(configs=[at_limit, above, too_long]))
    assert [(f.rule_id, f.qualifier, f.severity.label) for f in found] == [
        ("max-age-above-fc3-limit", "prod", "low"),
        ("value-out-of-range", "v2", "medium"),
    ]
    assert found[0].evidence == {"maxAsyncEventAgeInSeconds": 604_801, "fc3Limit": 604_800}


def test_the_allow_list_flags_other_destinations_and_clears_allowed_cross_account_ones() -> None:
    cfg = config(success=FOREIGN, failure=arn_queue("unlisted"))
    assert sorted(rules(function_line(configs=[cfg]))) == ["cross-account-destination"]
    table = {"allowed_destinations": ["acs:mns:*:9999999999999999:/queues/*"]}
    report, found = audit(function_line(configs=[cfg]), table=table)
    assert [(f.rule_id, f.evidence["side"]) for f in found] == [("destination-not-allowed", "onFailure")]
    assert report.policy.allowed_destinations == ("acs:mns:*:9999999999999999:/queues/*",)


def test_every_finding_carries_a_stable_id_of_rule_and_target() -> None:
    one = audit(function_line(configs=[config("prod")]))[1][0]
    again = audit(function_line(configs=[config("prod", age=100)], timeout=3))[1][0]
    other = audit(function_line(configs=[config("beta")]))[1][0]
    assert one.finding_id == again.finding_id != other.finding_id
    assert one.finding_id.startswith("fcaudit-")
    assert len(one.finding_id) == 8 + 32
    assert one.to_dict()["id"] == one.finding_id


def test_a_trigger_of_unknown_mode_is_not_called_missing_trigger_data() -> None:
    mystery = {"name": "kafka", "type": "kafka", "mode": "unknown"}
    report, found = audit(function_line(triggers=[mystery, HTTP]))
    assert [f.rule_id for f in found] == [
        "no-failure-destination-unverified"
    ]  # conservative, as without data
    assert not any("without trigger data" in note for note in report.notes)
    assert any("1 function(s) have a trigger whose invocation mode is not known" in n for n in report.notes)
