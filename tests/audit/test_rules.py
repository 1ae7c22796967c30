"""One test per rule, firing and not firing, through the real fold (records in, findings out)."""

from __future__ import annotations

from tests.support.audit_support import ACCOUNT, REGION, arn_queue, batch, config, findings_of, rule_ids

QUEUE = arn_queue()
OTHER_QUEUE = arn_queue("other")


def test_no_failure_destination_fires_without_on_failure() -> None:
    found = findings_of(batch(config(success=QUEUE)))
    assert [f.rule_id for f in found] == ["no-failure-destination"]
    finding = found[0]
    assert (finding.account, finding.region, finding.service, finding.function, finding.qualifier) == (
        ACCOUNT,
        REGION,
        "svc",
        "fn",
        "LATEST",
    )
    assert finding.evidence == {"maxAsyncRetryAttempts": 3, "onSuccess": QUEUE, "exposure": "unknown"}
    assert "dropped without trace" in finding.message


def test_no_failure_destination_quiet_with_on_failure() -> None:
    assert rule_ids(batch(config(failure=QUEUE))) == []


def test_function_without_config_is_audited_on_platform_defaults() -> None:
    # no trigger data: whether anything invokes it asynchronously is unknown, so low and says so
    found = findings_of(batch(status="none"))
    assert [(f.rule_id, f.severity.label) for f in found] == [("no-failure-destination-unverified", "low")]
    assert found[0].qualifier is None
    assert found[0].evidence["defaults"] is True
    assert found[0].evidence["maxAsyncRetryAttempts"] == 3
    assert "platform defaults" in found[0].message
    assert "--triggers" in found[0].message


def test_retries_disabled_without_failure_destination_is_high_and_replaces_the_medium_rule() -> None:
    found = findings_of(batch(config(retries=0)))
    assert [(f.rule_id, f.severity.label) for f in found] == [
        ("retries-disabled-no-failure-destination", "high")
    ]


def test_retries_disabled_with_failure_destination_is_fine() -> None:
    assert rule_ids(batch(config(retries=0, failure=QUEUE))) == []


def test_no_failure_rule_still_fires_for_zero_retries_when_the_high_rule_is_disabled() -> None:
    table = {"disable": ["retries-disabled-no-failure-destination"]}
    assert rule_ids(batch(config(retries=0)), table=table) == ["no-failure-destination"]


def test_max_age_too_short_for_the_retry_schedule() -> None:
    # 3 retries: 0.5 + 1 + 2 s of backoff and 4 attempts of 60 s = 243.5 s
    found = findings_of(batch(config(retries=3, age=240, failure=QUEUE)))
    assert [f.rule_id for f in found] == ["max-age-too-short"]
    assert found[0].evidence == {
        "maxAsyncEventAgeInSeconds": 240,
        "maxAsyncRetryAttempts": 3,
        "requiredSeconds": 243.5,
        "attemptSeconds": 60.0,
        "attemptFrom": "attempt_seconds setting",
    }


def test_max_age_long_enough_or_no_retries_is_fine() -> None:
    assert rule_ids(batch(config(retries=3, age=244, failure=QUEUE))) == []
    assert rule_ids(batch(config(retries=0, age=1, failure=QUEUE))) == []


def test_max_age_threshold_comes_from_the_policy() -> None:
    table = {"thresholds": {"attempt_seconds": 10}}  # 3.5 + 4 * 10 = 43.5 s
    assert rule_ids(batch(config(retries=3, age=60, failure=QUEUE)), table=table) == []
    assert rule_ids(batch(config(retries=3, age=40, failure=QUEUE)), table=table) == ["max-age-too-short"]


def test_cross_region_destination() -> None:
    found = findings_of(batch(config(failure=arn_queue(region="cn-shanghai"))))
    assert [f.rule_id for f in found] == ["cross-region-destination"]
    assert found[0].evidence["destinationRegion"] == "cn-shanghai"
    assert found[0].evidence["functionRegion"] == REGION
    assert rule_ids(batch(config(failure=QUEUE))) == []


def test_cross_account_destination() -> None:
    found = findings_of(batch(config(failure=arn_queue(account="1999999999999999"))))
    assert [f.rule_id for f in found] == ["cross-account-destination"]
    assert found[0].evidence["destinationAccount"] == "1999999999999999"


def test_masked_account_in_arn_matches_as_a_glob() -> None:
    assert rule_ids(batch(config(failure=arn_queue(account="1234***3456")))) == []
    assert rule_ids(batch(config(failure=arn_queue(account="9999***3456")))) == ["cross-account-destination"]


def test_self_destination_fc2_and_fc3_forms() -> None:
    fc2 = f"acs:fc:{REGION}:{ACCOUNT}:services/svc.prod/functions/fn"
    fc3 = f"acs:fc:{REGION}:{ACCOUNT}:functions/fn"
    found = findings_of(batch(config(success=fc2, failure=fc3)))
    assert sorted((f.rule_id, f.evidence["side"]) for f in found) == [
        ("self-destination", "onFailure"),
        ("self-destination", "onSuccess"),
    ]
    assert all(f.severity.label == "high" for f in found)


def test_another_function_or_region_is_not_a_loop() -> None:
    other = f"acs:fc:{REGION}:{ACCOUNT}:services/svc.LATEST/functions/fn-2"
    assert rule_ids(batch(config(failure=other))) == []
    elsewhere = f"acs:fc:cn-beijing:{ACCOUNT}:services/svc/functions/fn"
    assert rule_ids(batch(config(failure=elsewhere))) == ["cross-region-destination"]


def test_same_destination_for_success_and_failure() -> None:
    assert rule_ids(batch(config(success=QUEUE, failure=QUEUE))) == ["same-destination-both"]
    assert rule_ids(batch(config(success=OTHER_QUEUE, failure=QUEUE))) == []


def test_malformed_destination_arn() -> None:
    for bad in (
        "not-an-arn",
        "",
        f"acs:mns:{REGION}::/queues/dlq/messages",
        f"acs:fc:{REGION}:{ACCOUNT}:functions/",
    ):
        found = findings_of(batch(config(failure=bad)))
        assert [f.rule_id for f in found] == ["malformed-destination-arn"], bad
        assert found[0].evidence["reason"]
    assert rule_ids(batch(config(failure=QUEUE))) == []


def test_unknown_destination_kind() -> None:
    oss = f"acs:oss:{REGION}:{ACCOUNT}:bucket/x"
    assert rule_ids(batch(config(failure=oss))) == ["unknown-destination-kind"]
    assert rule_ids(batch(config(failure=QUEUE))) == []


def test_values_outside_the_documented_ranges() -> None:
    cases = [
        (config(retries=9, failure=QUEUE), "maxAsyncRetryAttempts", 9),
        (config(retries=-1, failure=QUEUE), "maxAsyncRetryAttempts", -1),
        (config(retries="3", failure=QUEUE), "maxAsyncRetryAttempts", "3"),
        (config(age=0, failure=QUEUE), "maxAsyncEventAgeInSeconds", 0),
        (config(age=2592001, failure=QUEUE), "maxAsyncEventAgeInSeconds", 2592001),
        (config(stateful="yes", failure=QUEUE), "statefulInvocation", "yes"),
    ]
    for cfg, field, value in cases:
        found = [f for f in findings_of(batch(cfg)) if f.rule_id == "value-out-of-range"]
        assert [(f.evidence["field"], f.evidence["value"]) for f in found] == [(field, value)]
    bad_dc = config()
    bad_dc["destinationConfig"] = "oops"
    assert "value-out-of-range" in rule_ids(batch(bad_dc))


def test_values_at_the_range_limits_are_fine_and_the_age_limit_is_configurable() -> None:
    assert "value-out-of-range" not in rule_ids(batch(config(retries=8, age=2592000, failure=QUEUE)))
    assert "value-out-of-range" not in rule_ids(batch(config(retries=0, age=1, failure=QUEUE)))
    table = {"thresholds": {"max_event_age_limit": 604800}}
    assert rule_ids(batch(config(age=2592000, failure=QUEUE)), table=table) == ["value-out-of-range"]


def test_stateful_invocation_off_where_the_policy_requires_it() -> None:
    table = {"require_stateful": ["svc"]}
    assert rule_ids(batch(config(failure=QUEUE, stateful=False)), table=table) == ["stateful-invocation-off"]
    assert rule_ids(batch(config(failure=QUEUE, stateful=None)), table=table) == ["stateful-invocation-off"]
    assert rule_ids(batch(config(failure=QUEUE, stateful=True)), table=table) == []
    other = batch(config(failure=QUEUE, service="other"), service="other")
    assert rule_ids(other, table=table) == []
    assert rule_ids(batch(config(failure=QUEUE, stateful=False))) == []


def test_stateful_policy_by_function_glob_and_true() -> None:
    assert rule_ids(batch(config(failure=QUEUE)), table={"require_stateful": ["svc/f*"]}) == [
        "stateful-invocation-off"
    ]
    assert rule_ids(batch(config(failure=QUEUE)), table={"require_stateful": ["svc/g*"]}) == []
    assert rule_ids(batch(config(failure=QUEUE)), table={"require_stateful": True}) == [
        "stateful-invocation-off"
    ]


def test_pair_error_is_a_finding_with_the_error_as_evidence() -> None:
    error = {"code": "Timeout", "http": None, "message": "read timeout", "requestId": None, "attempts": 6}
    found = findings_of(batch(status="error", error=error))
    assert [f.rule_id for f in found] == ["pair-error"]
    assert found[0].evidence["error"] == error
    assert found[0].qualifier is None
    assert "not audited" in found[0].message


def test_gone_function_is_no_finding() -> None:
    assert rule_ids(batch(status="gone")) == []


def test_disabled_and_enabled_rule_lists() -> None:
    cfg = config(success=QUEUE)
    assert rule_ids(batch(cfg), table={"disable": ["no-failure-destination"]}) == []
    assert rule_ids(batch(cfg), table={"enable": ["self-destination"]}) == []
    assert rule_ids(batch(cfg), table={"enable": ["no-failure-destination"]}) == ["no-failure-destination"]


def test_severity_override() -> None:
    found = findings_of(batch(config(success=QUEUE)), table={"severity": {"no-failure-destination": "high"}})
    assert [f.severity.label for f in found] == ["high"]
