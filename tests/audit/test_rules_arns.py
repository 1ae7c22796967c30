"""Destination ARN parsing: every documented form, and the shapes that must count as malformed."""

from __future__ import annotations

import pytest

from crawler.audit.arns import KIND_COLUMNS, names_function, parse_destination

U = "1234567890123456"


@pytest.mark.parametrize(
    ("arn", "kind", "form"),
    [
        (f"acs:mns:cn-hangzhou:{U}:/queues/dlq/messages", "mns-queue", None),
        (f"acs:mns:cn-hangzhou:{U}:/topics/events/messages", "mns-topic", None),
        (f"acs:fc:cn-hangzhou:{U}:services/svc.LATEST/functions/fn", "fc-function", "fc2"),
        (f"acs:fc:cn-hangzhou:{U}:services/svc/functions/fn", "fc-function", "fc2"),
        (f"acs:fc:cn-hangzhou:{U}:functions/fn", "fc-function", "fc3"),
        (f"acs:eventbridge:cn-hangzhou:{U}:eventbus/default", "eventbridge", None),
        (f"acs:mq:cn-hangzhou:{U}:/instances/MQ_INST_1_x/topic/t", "rocketmq", None),
        (f"acs:oss:cn-hangzhou:{U}:bucket/x", "unknown", None),
    ],
)
def test_documented_forms(arn: str, kind: str, form: str | None) -> None:
    d = parse_destination(arn)
    assert (d.kind, d.form, d.region, d.account) == (kind, form, "cn-hangzhou", U)
    assert KIND_COLUMNS[d.index].startswith(kind)


def test_fc2_names_service_function_and_qualifier() -> None:
    d = parse_destination(f"acs:fc:cn-hangzhou:{U}:services/orders-1.prod/functions/resize")
    assert (d.service, d.function, d.qualifier) == ("orders-1", "resize", "prod")
    assert parse_destination(f"acs:fc:cn-hangzhou:{U}:services/s/functions/f").qualifier == "LATEST"


@pytest.mark.parametrize(
    "value",
    [
        "not-an-arn",
        "",
        None,
        42,
        {"destination": "x"},
        f"arn:aws:sqs:us-east-1:{U}:dlq",
        "acs:mns:cn-hangzhou::/queues/dlq/messages",
        f"acs:mns:cn-hangzhou:{U}:/queues//messages",
        f"acs:mns:cn-hangzhou:{U}:/queues/dlq",
        f"acs:fc:cn-hangzhou:{U}:services/svc/functions",
        f"acs:fc:cn-hangzhou:{U}:functions/",
        "acs:eventbridge:::",
        f"acs:eventbridge:cn-hangzhou:{U}:bus/x",
        f"acs:mq:cn-hangzhou:{U}:/instances/i/topics",
        f"acs:mns:CN_HANGZHOU:{U}:/queues/q/messages",
        f"acs::cn-hangzhou:{U}:x",
    ],
)
def test_malformed(value: object) -> None:
    d = parse_destination(value)
    assert d.kind == "malformed"
    assert d.reason
    assert d.region is None
    assert d.account is None


def test_names_function_is_the_loop_check() -> None:
    fc2 = parse_destination(f"acs:fc:cn-hangzhou:{U}:services/svc.1/functions/fn")
    fc3 = parse_destination(f"acs:fc:cn-hangzhou:{U}:functions/svc$fn")
    queue = parse_destination(f"acs:mns:cn-hangzhou:{U}:/queues/fn/messages")
    assert names_function(fc2, U, "cn-hangzhou", "svc", "fn")
    assert names_function(fc3, U, "cn-hangzhou", "svc", "fn")
    assert not names_function(fc2, U, "cn-shanghai", "svc", "fn")
    assert not names_function(fc2, "1999999999999999", "cn-hangzhou", "svc", "fn")
    assert not names_function(fc2, U, "cn-hangzhou", "svc", "fn2")
    assert not names_function(queue, U, "cn-hangzhou", "svc", "fn")
