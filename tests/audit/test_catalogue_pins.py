"""Pins on what each rule says, found unpinned by the mutation run over ``crawler.audit.catalogue``
(issue 18): every finding's exact message and evidence (the fields ``--findings``, the CSV and OCSF
exports and the HTML report carry), and the one-line error of a severity that is not one."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.audit.catalogue import Severity
from crawler.errors import ConfigError
from tests.audit.test_rules_exposure import OSS, audit, function_line
from tests.support.audit_support import arn_queue, batch, config, findings_of

QUEUE = arn_queue()
FAR = arn_queue("far", account="9999999999999999")


def said(found: list[Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [(f.rule_id, f.severity.label, f.message, f.evidence) for f in found]


def test_retries_disabled_names_the_setting_and_what_is_lost() -> None:
    assert said(findings_of(batch(config(retries=0, success=QUEUE)))) == [
        (
            "retries-disabled-no-failure-destination",
            "high",
            "retries are disabled (maxAsyncRetryAttempts=0) and there is no onFailure destination: one "
            "failure loses the event",
            {"maxAsyncRetryAttempts": 0, "onSuccess": QUEUE},
        )
    ]


def test_max_age_too_short_shows_its_arithmetic_and_where_the_attempt_time_came_from() -> None:
    """2 retries: backoff 0.5 + 1 s and 3 attempts of the 60 s fallback = 181.5 s > 100 s."""
    assert said(findings_of(batch(config(retries=2, age=100, failure=QUEUE)))) == [
        (
            "max-age-too-short",
            "medium",
            "maxAsyncEventAgeInSeconds=100 is shorter than the 181.5 s that 2 retries may need (attempts of "
            "up to 60.0 s, the attempt_seconds setting): the event may expire before its retries finish",
            {
                "maxAsyncEventAgeInSeconds": 100,
                "maxAsyncRetryAttempts": 2,
                "requiredSeconds": 181.5,
                "attemptSeconds": 60.0,
                "attemptFrom": "attempt_seconds setting",
            },
        )
    ]


def test_a_cross_account_destination_names_both_accounts() -> None:
    assert said(findings_of(batch(config(failure=FAR)))) == [
        (
            "cross-account-destination",
            "medium",
            "onFailure destination belongs to account 9999999999999999, not 1234567890123456",
            {
                "side": "onFailure",
                "destination": FAR,
                "kind": "mns-queue",
                "destinationAccount": "9999999999999999",
                "functionAccount": "1234567890123456",
            },
        )
    ]


def test_one_destination_for_both_sides_is_named() -> None:
    assert said(findings_of(batch(config(success=QUEUE, failure=QUEUE)))) == [
        (
            "same-destination-both",
            "low",
            "onSuccess and onFailure send to the same destination: failures are mixed with successes",
            {"destination": QUEUE},
        )
    ]


def test_stateful_invocation_off_names_the_policy_pattern() -> None:
    found = findings_of(batch(config(failure=QUEUE, stateful=False)), table={"require_stateful": ["svc"]})
    assert said(found) == [
        (
            "stateful-invocation-off",
            "low",
            "statefulInvocation is off but the policy requires it here (svc/*)",
            {"statefulInvocation": False, "policy": "svc/*"},
        )
    ]


def test_a_pair_error_says_its_code_and_attempts_and_keeps_the_error() -> None:
    error = {"code": "ServerError", "attempts": 3, "http": 500, "message": "boom", "requestId": "r1"}
    assert said(findings_of(batch(status="error", error=error))) == [
        (
            "pair-error",
            "medium",
            "listing the async configs failed (ServerError, 3 attempt(s)): this pair was not audited",
            {"status": "error", "error": error},
        )
    ]


def test_a_pair_error_without_its_details_says_none_of_them() -> None:
    """An error record with no ``error`` object (an older or foreign writer): no '(None, None ...)'."""
    assert said(findings_of(batch(status="error"))) == [
        (
            "pair-error",
            "medium",
            "listing the async configs failed: this pair was not audited",
            {"status": "error", "error": None},
        )
    ]


def test_no_failure_destination_on_an_explicit_config_says_it_has_one() -> None:
    assert said(findings_of(batch(config(success=QUEUE)))) == [
        (
            "no-failure-destination",
            "medium",
            "it has an async config but has no onFailure destination: events that exhaust their 3 retries "
            "are dropped without trace",
            {"maxAsyncRetryAttempts": 3, "onSuccess": QUEUE, "exposure": "unknown"},
        )
    ]


def test_no_failure_destination_on_defaults_with_an_async_trigger_says_why_it_is_listed() -> None:
    _, found = audit(function_line(triggers=[OSS]))
    assert said(found) == [
        (
            "no-failure-destination",
            "medium",
            "a trigger invokes it asynchronously, it runs on platform defaults and has no onFailure "
            "destination: events that exhaust their 3 retries are dropped without trace",
            {"maxAsyncRetryAttempts": 3, "onSuccess": None, "defaults": True, "exposure": "async"},
        )
    ]


def test_no_failure_destination_without_a_retry_count_counts_the_platform_default() -> None:
    """A config that leaves ``maxAsyncRetryAttempts`` out gets FC's default of 3 retries."""
    found = findings_of(batch(config(retries=None, success=QUEUE)))
    assert [(f.message, f.evidence["maxAsyncRetryAttempts"]) for f in found] == [
        (
            "it has an async config but has no onFailure destination: events that exhaust their 3 retries "
            "are dropped without trace",
            3,
        )
    ]


def test_the_unverified_rule_on_defaults_says_what_triggers_would_settle() -> None:
    assert said(findings_of(batch(status="none"))) == [
        (
            "no-failure-destination-unverified",
            "low",
            "runs on platform defaults with no onFailure destination; whether anything invokes it "
            "asynchronously is not known without --triggers: if something does, events that exhaust their "
            "3 retries are dropped without trace",
            {"maxAsyncRetryAttempts": 3, "onSuccess": None, "defaults": True, "exposure": "unknown"},
        )
    ]


@pytest.mark.parametrize("value", ["HIGH", "medium", "Low"])
def test_a_severity_is_read_in_any_case(value: str) -> None:
    assert Severity.parse(value).label == value.lower()


@pytest.mark.parametrize("value", ["severe", 3, None])
def test_a_value_that_is_not_a_severity_is_one_line_naming_the_setting_and_the_choices(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        Severity.parse(value)
    choices = ", ".join(s.label for s in Severity)
    assert str(caught.value) == f"severity: {value!r} is not a severity (one of {choices})"
    with pytest.raises(ConfigError, match=r"^\[audit\] fail_on: "):
        Severity.parse(value, where="[audit] fail_on")
