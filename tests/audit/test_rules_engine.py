"""``RuleEngine.evaluate`` and friends called directly, with literal expectations: the effective
settings and the "was it defaulted" flags, the evidence of out-of-range values, how every odd shape of a
destination side is read, the exact max-age boundary, self-destination on either side, the disabled
rules that must stay silent, default severities, a finding's dict and line, and suppressions matched on
every part of the target."""

from __future__ import annotations

from datetime import date
from types import MappingProxyType
from typing import Any

import pytest

from crawler.audit.arns import Destination, parse_destination
from crawler.audit.policy import RULE_IDS, AuditPolicy, Suppression
from crawler.audit.rules import Finding, RuleEngine, Severity

A, R = "1234567890123456", "cn-hangzhou"
QUEUE = f"acs:mns:{R}:{A}:/queues/dlq/messages"
TODAY = date(2024, 5, 1)


def engine(**policy: Any) -> RuleEngine:
    return RuleEngine(AuditPolicy(today=TODAY, **policy))


def evaluate(config: Any, e: RuleEngine | None = None) -> Any:
    return (e or engine()).evaluate(config, A, R, "svc", "fn")


def hits(config: Any, e: RuleEngine | None = None) -> list[Any]:
    return list(evaluate(config, e)[0])


def test_an_empty_config_reads_as_the_platform_defaults_and_says_so() -> None:
    _, retries, age, stateful, success, failure, *flags = evaluate({})
    assert (retries, age, stateful, success, failure) == (3, 86_400, False, None, None)
    assert flags == [True, True, True]
    set_ = {"maxAsyncRetryAttempts": 1, "maxAsyncEventAgeInSeconds": 600, "statefulInvocation": True}
    _, retries, age, stateful, *_, r_default, a_default, s_default = evaluate(set_)
    assert (retries, age, stateful) == (1, 600, True)
    assert (r_default, a_default, s_default) == (False, False, False)


def test_out_of_range_values_name_the_documented_range() -> None:
    found = hits({"maxAsyncRetryAttempts": 9, "maxAsyncEventAgeInSeconds": 0, "statefulInvocation": "yes"})
    assert [h for h in found if h[0] == "value-out-of-range"] == [
        ("value-out-of-range", ("maxAsyncRetryAttempts", 9, [0, 8])),
        ("value-out-of-range", ("maxAsyncEventAgeInSeconds", 0, [1, 2_592_000])),
        ("value-out-of-range", ("statefulInvocation", "yes", [False, True])),
    ]
    assert ("value-out-of-range", ("destinationConfig", "not an object", "an object or null")) in hits(
        {"destinationConfig": ["not", "an", "object"]}
    )


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        ({"destination": QUEUE}, parse_destination(QUEUE)),
        ({"destination": ""}, parse_destination("")),  # set but empty: malformed, not unset
        ({}, parse_destination(None)),  # set without a destination: malformed
        ({"destination": 5}, parse_destination(5)),
        ({"destination": {"arn": QUEUE}}, parse_destination({"arn": QUEUE})),  # an object is not an ARN
        ("junk", parse_destination("junk")),  # the side itself not an object
        (MappingProxyType({"destination": QUEUE}), parse_destination(QUEUE)),  # any mapping will do
    ],
)
def test_each_shape_of_a_destination_side_is_read_the_same_on_both_sides(
    side: Any, expected: Destination
) -> None:
    assert expected.kind in ("mns-queue", "malformed")
    _, _, _, _, success, failure, *_ = evaluate({"destinationConfig": {"onSuccess": side, "onFailure": side}})
    assert success == expected
    assert failure == expected


def test_a_malformed_destination_keeps_the_value_it_was_given() -> None:
    assert parse_destination(None).arn == "None"
    assert parse_destination("junk").arn == "junk"
    _, _, _, _, _, failure, *_ = evaluate({"destinationConfig": {"onFailure": "junk"}})
    assert (failure.kind, failure.arn) == ("malformed", "junk")


def test_any_mapping_is_a_destination_config() -> None:
    dc = MappingProxyType({"onFailure": {"destination": QUEUE}})
    found, *_ = evaluate({"destinationConfig": dc})
    assert [h[0] for h in found] == []


def test_an_age_exactly_the_retry_schedule_is_enough() -> None:
    e = engine(retry_first_delay_seconds=1.0)  # one retry: 1 s of delay + 2 attempts of 60 s = 121 s
    base = {"destinationConfig": {"onFailure": {"destination": QUEUE}}, "maxAsyncRetryAttempts": 1}
    assert hits({**base, "maxAsyncEventAgeInSeconds": 121}, e) == []
    assert hits({**base, "maxAsyncEventAgeInSeconds": 120}, e) == [
        ("max-age-too-short", (120, 1, 121.0, 60.0, False))
    ]


def test_a_function_that_is_its_own_destination_on_either_side() -> None:
    me = f"acs:fc:{R}:{A}:services/svc.LATEST/functions/fn"
    assert [h[0] for h in hits({"destinationConfig": {"onFailure": {"destination": me}}})] == [
        "self-destination"
    ]
    on_success = hits({"destinationConfig": {"onSuccess": {"destination": me}}})
    assert "self-destination" in [h[0] for h in on_success]


def test_disabled_rules_stay_silent() -> None:
    quiet = engine(enabled=RULE_IDS - {"stateful-invocation-off", "pair-error"}, require_stateful=("svc/*",))
    assert [h[0] for h in hits({"destinationConfig": {"onFailure": {"destination": QUEUE}}}, quiet)] == []
    assert quiet.check_error({"code": "ServerError"}) == []
    loud = engine(require_stateful=("svc/*",))
    assert loud.check_error({"code": "ServerError"}) == [("pair-error", ({"code": "ServerError"},))]


def test_default_severities_fill_in_for_rules_the_policy_leaves_out() -> None:
    e = engine(severities={"pair-error": Severity.HIGH})
    assert e.severity["pair-error"] is Severity.HIGH
    assert e.severity["no-failure-destination"] is Severity.MEDIUM
    assert e.severity["self-destination"] is Severity.HIGH
    assert e.severity["cross-region-destination"] is Severity.LOW


def test_a_findings_dict_and_line() -> None:
    e = engine()
    (hit,) = hits({"destinationConfig": {"onFailure": {"destination": "junk"}}})
    made = e.finding(hit, A, R, "svc", "fn", "prod", line=7)
    assert made.line == 7
    assert made.to_dict() == {
        "id": made.finding_id,
        "ruleId": "malformed-destination-arn",
        "severity": "medium",
        "account": A,
        "region": R,
        "service": "svc",
        "function": "fn",
        "qualifier": "prod",
        "message": made.message,
        "evidence": dict(made.evidence),
        "line": 7,
        "remediation": made.remediation,
    }
    assert made.evidence["side"] == "onFailure"
    assert isinstance(made, Finding)


def test_suppressions_match_on_every_part_of_the_target() -> None:
    active = Suppression("accepted", "pair-error", A, R, "svc", "fn", "prod")
    expired = Suppression("was accepted", "pair-error", A, R, "svc", "fn", "prod", expires=date(2024, 1, 1))
    e = engine(suppressions=(active,))
    assert e.suppression("pair-error", A, R, "svc", "fn", "prod") == (active, None)
    assert e.suppression("pair-error", A, "cn-beijing", "svc", "fn", "prod") == (None, None)
    e = engine(expired=(expired,))
    assert e.suppression("pair-error", A, R, "svc", "fn", "prod") == (None, expired)
    for other in (
        ("no-failure-destination", A, R, "svc", "fn", "prod"),
        ("pair-error", "999", R, "svc", "fn", "prod"),
        ("pair-error", A, "cn-beijing", "svc", "fn", "prod"),
        ("pair-error", A, R, "svc", "other", "prod"),
        ("pair-error", A, R, "svc", "fn", "test"),
    ):
        assert e.suppression(*other) == (None, None), other
