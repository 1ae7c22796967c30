"""The ``[audit]`` policy: suppressions (with expiry), overrides, and errors that name the bad key."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from crawler.audit.rules import RULE_IDS, Severity, default_policy, policy_from_table
from crawler.errors import ConfigError
from tests.support.audit_support import TODAY, arn_queue, batch, config, findings_of, run_records, summarize

NO_FAILURE = batch(config(success=arn_queue()), service="legacy-billing")
KEPT = batch(config(success=arn_queue()), service="orders")


def _suppress(**fields: Any) -> dict[str, Any]:
    return {"suppress": [{"reason": "accepted risk", **fields}]}


def test_suppression_by_service_glob_hides_the_finding_and_counts_it() -> None:
    table = _suppress(rule="no-failure-destination", service="legacy-*")
    found = findings_of(NO_FAILURE, KEPT, table=table)
    assert [(f.rule_id, f.service) for f in found] == [("no-failure-destination", "orders")]
    report = summarize(run_records([NO_FAILURE, KEPT]), table)
    assert report.suppressed_by_rule == {"no-failure-destination": 1}
    assert report.totals.suppressed == 1
    assert report.findings_total == 1


def test_suppression_by_function_and_qualifier_glob() -> None:
    two = batch(config("prod", success=arn_queue()), config("1", success=arn_queue()), function="resize")
    found = findings_of(two, table=_suppress(function="res*", qualifier="prod"))
    assert [f.qualifier for f in found] == ["1"]


def test_suppression_of_another_rule_does_not_apply() -> None:
    found = findings_of(NO_FAILURE, table=_suppress(rule="self-destination", service="legacy-*"))
    assert [f.rule_id for f in found] == ["no-failure-destination"]


def test_a_qualifier_glob_does_not_hide_function_level_findings() -> None:
    none = batch(status="none", service="legacy-billing")
    assert [f.rule_id for f in findings_of(none, table=_suppress(qualifier="prod"))] == [
        "no-failure-destination-unverified"
    ]
    assert findings_of(none, table=_suppress()) == []


def test_suppression_applies_through_its_expiry_day() -> None:
    table = _suppress(service="legacy-*", expires=TODAY)
    assert findings_of(NO_FAILURE, table=table) == []


def test_expired_suppression_stops_applying_and_says_so() -> None:
    table = _suppress(service="legacy-*", expires=date(2026, 5, 31))
    found = findings_of(NO_FAILURE, table=table)
    assert [f.rule_id for f in found] == ["no-failure-destination"]
    assert found[0].evidence["expiredSuppression"] == {
        "index": 1,
        "reason": "accepted risk",
        "expired": "2026-05-31",
    }
    report = summarize(run_records([NO_FAILURE]), table)
    expired = [p for p in report.problems if p.kind == "suppression-expired"]
    assert len(expired) == 1
    assert "expired on 2026-05-31" in expired[0].message
    assert "1 finding(s)" in expired[0].message
    assert report.complete  # a policy notice, not a gap in the input


def test_expiry_uses_the_injected_today() -> None:
    table = _suppress(service="legacy-*", expires="2026-06-15")
    early = policy_from_table(table, today=date(2026, 6, 15))
    late = policy_from_table(table, today=date(2026, 6, 16))
    assert len(early.suppressions) == 1
    assert not early.expired
    assert not late.suppressions
    assert len(late.expired) == 1


def test_severity_override_decides_fail_on() -> None:
    report = summarize(run_records([NO_FAILURE]), {"severity": {"no-failure-destination": "low"}})
    assert report.max_severity is Severity.LOW
    assert report.fails(Severity.LOW)
    assert not report.fails(Severity.MEDIUM)
    assert not report.fails(None)


def test_severities_are_ordered() -> None:
    assert Severity.INFO < Severity.LOW < Severity.MEDIUM < Severity.HIGH
    assert Severity.parse("Medium") is Severity.MEDIUM


def test_default_policy_enables_every_rule() -> None:
    assert default_policy(today=TODAY).enabled == RULE_IDS


def test_full_table_is_accepted() -> None:
    table = {
        "enable": sorted(RULE_IDS),
        "disable": ["same-destination-both"],
        "fail_on": "high",
        "require_stateful": ["orders-*", "billing/charge-*"],
        "max_findings": 50,
        "top_destinations": 5,
        "max_services": 1000,
        "severity": {"cross-region-destination": "medium"},
        "thresholds": {
            "retry_first_delay_seconds": 1,
            "retry_backoff_factor": 2.5,
            "attempt_seconds": 30,
            "max_event_age_limit": 604800,
        },
        "suppress": [{"rule": "pair-error", "service": "x", "reason": "flaky", "expires": date(2027, 1, 1)}],
    }
    policy = policy_from_table(table, today=TODAY)
    assert "same-destination-both" not in policy.enabled
    assert policy.fail_on is Severity.HIGH
    assert policy.require_stateful == ("orders-*/*", "billing/charge-*")
    assert policy.severities["cross-region-destination"] is Severity.MEDIUM
    assert policy.max_event_age_limit == 604800
    assert policy.required_age(2) == 1 + 2.5 + 3 * 30
    assert policy.suppressions[0].expires == date(2027, 1, 1)


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"colour": "red"}, "audit.colour"),
        ({"disable": ["no-such-rule"]}, "audit.disable"),
        ({"enable": "self-destination"}, "audit.enable"),
        ({"fail_on": "urgent"}, "audit.fail_on"),
        ({"severity": {"self-destination": "extreme"}}, "audit.severity.self-destination"),
        ({"severity": {"nope": "high"}}, "audit.severity.nope"),
        ({"thresholds": {"attempt_seconds": -1}}, "audit.thresholds.attempt_seconds"),
        ({"thresholds": {"max_event_age_limit": 1.5}}, "audit.thresholds.max_event_age_limit"),
        ({"thresholds": {"speed": 1}}, "audit.thresholds.speed"),
        ({"suppress": {"reason": "x"}}, "audit.suppress"),
        ({"suppress": [{"service": "x"}]}, "audit.suppress[1].reason"),
        ({"suppress": [{"reason": "x", "expires": "soon"}]}, "audit.suppress[1].expires"),
        ({"suppress": [{"reason": "x", "service": ""}]}, "audit.suppress[1].service"),
        ({"suppress": [{"reason": "x", "owner": "me"}]}, "audit.suppress[1].owner"),
        ({"require_stateful": "yes"}, "audit.require_stateful"),
        ({"max_findings": -1}, "audit.max_findings"),
        ({"top_destinations": 0}, "audit.top_destinations"),
    ],
)
def test_bad_table_raises_config_error_naming_the_key(table: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        policy_from_table(table, today=TODAY)
    assert caught.value.message.startswith(named), caught.value.message


def test_the_example_config_audit_table_is_a_valid_policy() -> None:
    """config.example.toml documents the [audit] keys; what it shows must be accepted as it stands."""
    import tomllib
    from pathlib import Path

    example = tomllib.loads((Path(__file__).resolve().parents[2] / "config.example.toml").read_text("utf-8"))
    policy = policy_from_table(example["audit"], today=date(2026, 11, 26))
    assert len(policy.suppressions) == 1
    assert policy.severities["cross-region-destination"] is Severity.LOW
