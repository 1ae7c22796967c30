"""Destination ARNs of async-invoke configs: what kind of target each one names, and where it lives.

The audit needs three things from a destination ARN: its kind (for the "destinations by kind" table and
the unknown/malformed rules), its region and account (for the cross-region and cross-account rules) and,
for Function Compute targets, the function it names (for the self-destination loop rule). Parsing is
strict about shape and lenient about nothing else, so a typo in a destination shows up as ``malformed``
instead of silently counting as a queue.

Forms (``docs``: shared/reference/fc-api.md):

    MNS queue        acs:mns:{region}:{uid}:/queues/{queue}/messages
    MNS topic        acs:mns:{region}:{uid}:/topics/{topic}/messages
    FC 2.0 function  acs:fc:{region}:{uid}:services/{service}[.{qualifier}]/functions/{function}
    FC 3.0 function  acs:fc:{region}:{uid}:functions/{function}
    EventBridge      acs:eventbridge:{region}:{uid}:eventbus/{bus}[/...]
    RocketMQ         acs:mq:{region}:{uid}:[/]instances/{instance}/topic/{topic}

An ``acs:`` ARN of any other product is ``unknown``; anything else (not a string, not five ``:`` parts,
a known product with a resource of the wrong shape) is ``malformed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Final, Literal

from crawler.store.records import LATEST, shown

DestinationKind = Literal[
    "mns-queue", "mns-topic", "fc-function", "eventbridge", "rocketmq", "unknown", "malformed"
]

#: the counting columns: destination kinds, with FC functions split into their 2.0 and 3.0 forms
KIND_COLUMNS: Final = (
    "mns-queue",
    "mns-topic",
    "fc-function-fc2",
    "fc-function-fc3",
    "eventbridge",
    "rocketmq",
    "unknown",
    "malformed",
)

_REGION = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")
_UID = re.compile(r"[0-9A-Za-z*_-]+")
_NAME = r"[A-Za-z0-9_$.-]+"
_MNS = re.compile(rf"/?(queues|topics)/({_NAME})/messages")
_FC2 = re.compile(rf"services/([A-Za-z0-9_-]+)(?:\.({_NAME}))?/functions/([A-Za-z0-9_$-]+)")
_FC3 = re.compile(rf"functions/([A-Za-z0-9_$-]+)(?::({_NAME}))?")
_EVENTBRIDGE = re.compile(rf"eventbus/({_NAME})(?:/.*)?")
_ROCKETMQ = re.compile(rf"/?instances/({_NAME})/topic/({_NAME})")


@dataclass(frozen=True, slots=True)
class Destination:
    """One parsed destination ARN. ``region``/``account`` are ``None`` when the ARN is malformed."""

    arn: str
    kind: DestinationKind
    region: str | None = None
    account: str | None = None
    #: for ``fc-function``: "fc2" or "fc3"
    form: str | None = None
    #: for ``fc-function``: the service (FC 2.0 form only), function and qualifier it names
    service: str | None = None
    function: str | None = None
    qualifier: str | None = None
    #: for ``malformed``: what is wrong, in words
    reason: str | None = None
    #: position in ``KIND_COLUMNS`` (FC functions split by form), for the summary's counters
    index: int = 0

    def __post_init__(self) -> None:
        column = f"fc-function-{self.form}" if self.kind == "fc-function" else self.kind
        object.__setattr__(self, "index", KIND_COLUMNS.index(column))

    def same_account(self, account: str) -> bool:
        """True when the ARN's uid is ``account``; a masked uid (``1986***743``) matches as a glob."""
        mine = self.account
        if mine is None or mine == account:
            return True
        return "*" in mine and fnmatchcase(account, mine)


def _malformed(arn: str, reason: str) -> Destination:
    return Destination(arn, "malformed", reason=reason)


def parse_destination(value: object) -> Destination:
    """Classify one destination value as found in ``destinationConfig.on*.destination``."""
    if not isinstance(value, str):
        return _malformed(shown(value), f"destination is a {type(value).__name__}, not a string")
    arn = value
    parts = arn.split(":", 4)
    if len(parts) != 5 or parts[0] != "acs":
        return _malformed(arn, "not an ARN of the form acs:{product}:{region}:{uid}:{resource}")
    _, product, region, uid, resource = parts
    if not _REGION.fullmatch(region):
        return _malformed(arn, f"region {region!r} is not a region id")
    if not _UID.fullmatch(uid):
        return _malformed(arn, f"account {uid!r} is not an account id")
    if product == "mns":
        m = _MNS.fullmatch(resource)
        if m is None:
            return _malformed(arn, "MNS resource is not /queues/{name}/messages or /topics/{name}/messages")
        kind: DestinationKind = "mns-queue" if m.group(1) == "queues" else "mns-topic"
        return Destination(arn, kind, region, uid)
    if product == "fc":
        m = _FC2.fullmatch(resource)
        if m is not None:
            return Destination(
                arn, "fc-function", region, uid, "fc2", m.group(1), m.group(3), m.group(2) or LATEST
            )
        m = _FC3.fullmatch(resource)
        if m is not None:
            return Destination(arn, "fc-function", region, uid, "fc3", None, m.group(1), m.group(2) or LATEST)
        return _malformed(arn, "FC resource is not services/{s}[.{q}]/functions/{f} or functions/{f}")
    if product == "eventbridge":
        if _EVENTBRIDGE.fullmatch(resource) is None:
            return _malformed(arn, "EventBridge resource is not eventbus/{bus}")
        return Destination(arn, "eventbridge", region, uid)
    if product == "mq":
        if _ROCKETMQ.fullmatch(resource) is None:
            return _malformed(arn, "RocketMQ resource is not /instances/{instance}/topic/{topic}")
        return Destination(arn, "rocketmq", region, uid)
    if not product or not resource:
        return _malformed(arn, "empty product or resource")
    return Destination(arn, "unknown", region, uid)


#: ``parse_destination`` of an ARN string, remembered: an estate names the same queues and functions again
#: and again, and the rules across functions parse each FC edge once per rule. Bounded, so memory stays flat;
#: ``Destination`` is frozen, so a shared one is safe.
parse_arn = lru_cache(maxsize=8192)(parse_destination)


def names_function(dest: Destination, account: str, region: str, service: str, function: str) -> bool:
    """Does ``dest`` invoke this very function (a loop)? Qualifiers are ignored: any version loops.

    An FC 3.0 ARN names a function without a service; FC 3.0 shows an FC 2.0 function as
    ``{service}${function}``, so both that name and the bare function name count (an assumption).
    """
    if dest.kind != "fc-function" or dest.region != region or not dest.same_account(account):
        return False
    if dest.form == "fc2":
        return dest.service == service and dest.function == function
    return dest.function in (function, f"{service}${function}")
