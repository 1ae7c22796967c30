"""Pins on ``crawler.audit.rules`` found unpinned by the mutation run over it (issue 18): the settings a
finding carries for its remediation (``current_settings``), the stable finding id, ``evaluate``'s
defaults, the max-age boundary and the longest retry schedule when the function's timeout is known, and
an allow-list that does not turn on a disabled ``destination-not-allowed``."""

from __future__ import annotations

from datetime import date
from typing import Any

from crawler.audit.policy import RULE_IDS, AuditPolicy
from crawler.audit.rules import RuleEngine, current_settings, finding_id

A, R = "1234567890123456", "cn-hangzhou"
QUEUE = f"acs:mns:{R}:{A}:/queues/dlq/messages"
TOPIC = f"acs:mns:{R}:{A}:/topics/done/messages"
TODAY = date(2024, 5, 1)


def engine(**policy: Any) -> RuleEngine:
    return RuleEngine(AuditPolicy(today=TODAY, **policy))


def hits_of(rule_id: str, hits: list[Any]) -> list[Any]:
    return [payload for rid, payload in hits if rid == rule_id]


def test_current_settings_puts_back_every_effective_value_and_both_destinations() -> None:
    config = {
        "maxAsyncRetryAttempts": 2,
        "maxAsyncEventAgeInSeconds": 600,
        "statefulInvocation": True,
        "destinationConfig": {"onSuccess": {"destination": TOPIC}, "onFailure": {"destination": QUEUE}},
    }
    assert current_settings(engine().evaluate(config, A, R, "svc", "fn")) == {
        "maxAsyncRetryAttempts": 2,
        "maxAsyncEventAgeInSeconds": 600,
        "statefulInvocation": True,
        "destinationConfig": {"onSuccess": {"destination": TOPIC}, "onFailure": {"destination": QUEUE}},
    }


def test_current_settings_leaves_out_an_invalid_value_and_fills_in_defaults() -> None:
    config = {"maxAsyncRetryAttempts": "three", "statefulInvocation": "yes"}
    assert current_settings(engine().evaluate(config, A, R, "svc", "fn")) == {
        "maxAsyncEventAgeInSeconds": 86_400,
        "destinationConfig": {},
    }


def test_a_finding_carries_the_settings_of_its_evaluation_and_none_without_one() -> None:
    e = engine()
    evaluation = e.evaluate({"maxAsyncRetryAttempts": 0}, A, R, "svc", "fn")
    [hit] = [h for h in evaluation.hits if h[0] == "retries-disabled-no-failure-destination"]
    with_settings = e.finding(hit, A, R, "svc", "fn", "LATEST", 3, evaluation=evaluation)
    assert with_settings.current == {
        "maxAsyncRetryAttempts": 0,
        "maxAsyncEventAgeInSeconds": 86_400,
        "statefulInvocation": False,
        "destinationConfig": {},
    }
    assert e.finding(hit, A, R, "svc", "fn", "LATEST", 3).current is None


def test_finding_ids_are_stable_across_releases() -> None:
    """Tickets and suppressions key on these: a change of the hashing re-keys every finding."""
    whole = finding_id("no-failure-destination", A, R, "svc", "fn", None)
    assert whole == "fcaudit-def96e061a90904000303283a338aa06"
    assert finding_id("no-failure-destination", A, R, "svc", "fn", "") == whole
    assert finding_id("no-failure-destination", A, R, "svc", "fn", "LATEST") == (
        "fcaudit-00a6ac7b340cfd2cdade2e321c195a8f"
    )


def test_evaluate_defaults_to_an_explicit_config_of_unknown_exposure() -> None:
    """Called without ``defaults``/``exposure``: a config of its own (not platform defaults), so a
    missing failure destination is ``no-failure-destination``, with exposure ``unknown``."""
    hits = engine().evaluate({}, A, R, "svc", "fn").hits
    assert hits_of("no-failure-destination", hits) == [(3, None, False, "unknown")]
    assert hits_of("no-failure-destination-unverified", hits) == []


def test_max_age_equal_to_what_the_function_timeout_needs_is_enough() -> None:
    """2 retries, 2.5 s timeout: backoff 0.5 + 1 s and 3 attempts of 2.5 s = 9 s exactly."""
    e = engine()

    def too_short(age: int) -> list[Any]:
        config = {"maxAsyncRetryAttempts": 2, "maxAsyncEventAgeInSeconds": age}
        return hits_of("max-age-too-short", e.evaluate(config, A, R, "svc", "fn", timeout=2.5).hits)

    assert too_short(9) == []
    assert too_short(8) == [(8, 2, 9.0, 2.5, True)]


def test_the_most_retries_with_a_known_timeout_has_its_backoff() -> None:
    """8 retries (the limit), 1 s timeout: backoff 0.5 × (2⁸ − 1) = 127.5 s and 9 attempts = 136.5 s."""
    config = {"maxAsyncRetryAttempts": 8, "maxAsyncEventAgeInSeconds": 100}
    hits = engine().evaluate(config, A, R, "svc", "fn", timeout=1.0).hits
    assert hits_of("max-age-too-short", hits) == [(100, 8, 136.5, 1.0, True)]


def test_an_allow_list_does_not_enable_a_disabled_destination_not_allowed() -> None:
    e = engine(
        enabled=RULE_IDS - {"destination-not-allowed"},
        allowed_destinations=(f"acs:mns:*:{A}:/queues/approved*",),
    )
    config = {"destinationConfig": {"onFailure": {"destination": QUEUE}}}
    assert hits_of("destination-not-allowed", e.evaluate(config, A, R, "svc", "fn").hits) == []
