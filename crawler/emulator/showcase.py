"""The showcase function: one generated function that holds every case the audit must recognise.

A random mix covers the cases only in large accounts; tests and demos use small ones. So every generated
account (unless ``AccountSpec.showcase`` is off) plants, in one function, a config per case: defaults,
each destination ARN kind, cross-region, cross-account, malformed and self-referencing destinations,
the range limits and values beyond them, a missing field, a null ``destinationConfig``, an unknown field
and ``statefulInvocation`` on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crawler.emulator.model import ConfigDict, FunctionEntry, iso

#: (kind, variant, qualifier) -> a destination ARN
DestinationArn = Callable[[str, str, str], str]

EPOCH = 1_546_300_800  # 2019-01-01T00:00:00Z


def _dest(success: str | None, failure: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if success is not None:
        out["onSuccess"] = {"destination": success}
    if failure is not None:
        out["onFailure"] = {"destination": failure}
    return out


def showcase_configs(entry: FunctionEntry, region: str, arn: DestinationArn) -> list[ConfigDict]:
    """The showcase's configs; ``arn(kind, variant, qualifier)`` draws a destination of that kind from
    the function's own config generator (``generator.RecipeBuilder.arn_of``), so the showcase needs no
    import of the generator that calls it."""

    # qualifier → (destinationConfig, retries, age, stateful); None drops the field
    cases: list[tuple[str, Any, int | None, int | None, bool]] = [
        ("LATEST", {}, 3, 86400, False),
        ("1", _dest(arn("mns-topic", "plain", "1"), arn("mns-queue", "plain", "1")), 0, 1, False),
        ("2", _dest(arn("fc2", "plain", "2"), arn("fc3", "plain", "2")), 8, 2592000, True),
        ("3", _dest(arn("eventbridge", "plain", "3"), arn("rocketmq", "plain", "3")), 2, 604800, False),
        ("4", _dest(arn("fc2", "account", "4"), arn("mns-queue", "region", "4")), 5, 3600, False),
        ("5", _dest("not-an-arn", f"acs:mns:{region}::/queues/dlq/messages"), 1, 60, False),
        ("prod", _dest(arn("fc3", "self", "prod"), arn("fc2", "self", "prod")), 3, 86400, True),
        ("staging", _dest(None, arn("mns-queue", "plain", "staging")), 9, 0, False),
        ("canary", None, None, 2592001, False),
        ("blue", _dest("", None), 3, None, False),
    ]
    configs: list[ConfigDict] = []
    for i, (qualifier, dest, retries, age, stateful) in enumerate(cases):
        config: ConfigDict = {
            "service": entry.service,
            "function": entry.name,
            "qualifier": qualifier,
            "createdTime": iso(EPOCH + 86400 * i),
            "lastModifiedTime": iso(EPOCH + 86400 * (i + 30)),
            "destinationConfig": dest,
        }
        if retries is not None:
            config["maxAsyncRetryAttempts"] = retries
        if age is not None:
            config["maxAsyncEventAgeInSeconds"] = age
        config["statefulInvocation"] = stateful
        if qualifier == "canary":
            config["jobConfig"] = {"maxConcurrency": 10}
        configs.append(config)
    return configs
