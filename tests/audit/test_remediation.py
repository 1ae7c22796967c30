"""Each finding's remediation, filled in for its function and qualifier: the body is the config's
current settings with the fix applied, and the ``aliyun`` commands and the Terraform resource carry
exactly that body (read back with ``shlex`` and ``json``, not by looking for substrings)."""

from __future__ import annotations

import json
import shlex

from crawler.audit.remediation import terraform
from tests.support.audit_support import ACCOUNT, REGION, arn_queue, batch, config, findings_of

QUEUE = arn_queue()


def _body_of(command: str) -> tuple[list[str], object]:
    argv = shlex.split(command)
    return argv, json.loads(argv[argv.index("--body") + 1])


def test_a_missing_failure_destination_is_fixed_on_top_of_the_current_settings() -> None:
    (finding,) = findings_of(batch(config("prod", retries=5, age=7200, success=QUEUE), function="resize"))
    fix = finding.remediation
    assert fix["body"] == {
        "maxAsyncRetryAttempts": 5,
        "maxAsyncEventAgeInSeconds": 7200,
        "statefulInvocation": False,
        "destinationConfig": {
            "onSuccess": {"destination": QUEUE},
            "onFailure": {"destination": f"acs:mns:{REGION}:{ACCOUNT}:/queues/<FAILURE-QUEUE>/messages"},
        },
    }
    fc2, body = _body_of(fix["aliyun"]["fc2"])
    assert fc2[:3] == ["aliyun", "fc-open", "PUT"]
    assert fc2[3] == "/2016-08-15/services/svc.prod/functions/resize/async-invoke-config"
    assert fc2[fc2.index("--region") + 1] == REGION
    assert body == fix["body"]
    fc3, body = _body_of(fix["aliyun"]["fc3"])
    assert fc3[:4] == [
        "aliyun",
        "fc",
        "PUT",
        "/2023-03-30/functions/svc$resize/async-invoke-config?qualifier=prod",
    ]
    assert body == fix["body"]
    tf = fix["terraform"]
    assert tf.startswith('resource "alicloud_fc_function_async_invoke_config" "svc_resize_prod" {')
    for line in (
        'service_name  = "svc"',
        'function_name = "resize"',
        'qualifier     = "prod"',
        "maximum_retry_attempts = 5",
        "maximum_event_age_in_seconds = 7200",
        f'destination = "{QUEUE}"',
    ):
        assert line in tf
    assert finding.to_dict()["remediation"] == fix  # the findings file carries it


def test_each_rule_fills_in_its_own_change() -> None:
    found = {
        f.rule_id: f.remediation
        for f in findings_of(
            batch(config(retries=3, age=100, failure=QUEUE), function="short"),
            batch(config(age=700_000, failure=QUEUE), function="long"),
            batch(config(failure="junk"), function="bad"),
            batch(status="error", error={"code": "AccessDenied"}, function="err"),
        )
    }
    assert found["max-age-too-short"]["body"]["maxAsyncEventAgeInSeconds"] == 244  # 243.5 s, rounded up
    assert found["max-age-above-fc3-limit"]["body"]["maxAsyncEventAgeInSeconds"] == 604_800
    assert (
        found["malformed-destination-arn"]["body"]["destinationConfig"]["onFailure"]["destination"] != "junk"
    )
    assert set(found["pair-error"]) == {"summary"}  # not a config change: words only
    assert "--resume" in found["pair-error"]["summary"]


def test_a_name_that_needs_quoting_stays_one_shell_word() -> None:
    text = terraform("svc", "fn", "LATEST", {"destinationConfig": {"onFailure": {"destination": 'a"b'}}})
    assert 'destination = "a\\"b"' in text
    assert "qualifier" not in text  # LATEST is the resource's default


def test_the_summary_alone_is_the_remediations_own() -> None:
    """``Finding.fix_summary`` (the per-function roll-up's ``fix``) skips the commands, not the words."""
    found = findings_of(
        batch(config(retries=3, age=100, failure=QUEUE), function="short"),
        batch(config(age=700_000, failure=QUEUE), function="long"),
        batch(config(failure="junk"), function="bad"),
        batch(config(retries=0), function="none"),
        batch(status="error", error={"code": "AccessDenied"}, function="err"),
    )
    assert len({f.rule_id for f in found}) >= 5
    for f in found:
        assert f.fix_summary == f.remediation["summary"], f.rule_id
