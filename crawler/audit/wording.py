"""How a finding reads: its evidence, built from the compact payload a rule recorded, and its sentence.

Rules run once per config on the hot path and most of their hits are only counted, so a rule records a
small tuple (``Hit``: rule id and payload) and the evidence dict and the message are built here only
when a ``Finding`` is actually made (listed in the report, or written to ``--findings``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crawler.audit.arns import Destination
from crawler.store.records import quotable

#: a rule's verdict before it becomes a Finding: (rule id, rule-specific payload)
Hit = tuple[str, tuple[Any, ...]]


def _arn(d: Destination | None) -> str | None:
    return d.arn if d is not None else None


def _side(p: tuple[Any, ...]) -> dict[str, Any]:
    side, d = p[0], p[1]
    return {"side": side, "destination": d.arn, "kind": d.kind}


_EVIDENCE: dict[str, Callable[[tuple[Any, ...]], dict[str, Any]]] = {
    "no-failure-destination": lambda p: {
        "maxAsyncRetryAttempts": p[0],
        "onSuccess": _arn(p[1]),
        **({"defaults": True} if p[2] else {}),
    },
    "retries-disabled-no-failure-destination": lambda p: {
        "maxAsyncRetryAttempts": 0,
        "onSuccess": _arn(p[0]),
    },
    "max-age-too-short": lambda p: {
        "maxAsyncEventAgeInSeconds": p[0],
        "maxAsyncRetryAttempts": p[1],
        "requiredSeconds": round(p[2], 1),
    },
    "cross-region-destination": lambda p: {
        **_side(p),
        "destinationRegion": p[1].region,
        "functionRegion": p[2],
    },
    "cross-account-destination": lambda p: {
        **_side(p),
        "destinationAccount": p[1].account,
        "functionAccount": p[2],
    },
    "self-destination": _side,
    "same-destination-both": lambda p: {"destination": p[0]},
    "malformed-destination-arn": lambda p: {**_side(p), "reason": p[1].reason},
    "unknown-destination-kind": _side,
    "value-out-of-range": lambda p: {"field": p[0], "value": p[1], "range": p[2]},
    "stateful-invocation-off": lambda p: {"statefulInvocation": False, "policy": p[0]},
    "pair-error": lambda p: {
        "status": "error",
        "error": {k: quotable(v) for k, v in p[0].items()} if p[0] else None,
    },
}


def evidence(hit: Hit) -> dict[str, Any]:
    return _EVIDENCE[hit[0]](hit[1])


def _retries_text(ev: Mapping[str, Any]) -> str:
    n = ev.get("maxAsyncRetryAttempts")
    return f"{n} retries" if n is not None else "retries"


_MESSAGES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "no-failure-destination": lambda ev: (
        ("runs on platform defaults and " if ev.get("defaults") else "")
        + f"has no onFailure destination: events that exhaust their {_retries_text(ev)} are dropped "
        "without trace"
    ),
    "retries-disabled-no-failure-destination": lambda ev: (
        "retries are disabled (maxAsyncRetryAttempts=0) and there is no onFailure destination: "
        "one failure loses the event"
    ),
    "max-age-too-short": lambda ev: (
        f"maxAsyncEventAgeInSeconds={ev['maxAsyncEventAgeInSeconds']} is shorter than the "
        f"{ev['requiredSeconds']} s that {_retries_text(ev)} need: later retries never run"
    ),
    "cross-region-destination": lambda ev: (
        f"{ev['side']} destination is in region {ev['destinationRegion']}, "
        f"the function in {ev['functionRegion']}"
    ),
    "cross-account-destination": lambda ev: (
        f"{ev['side']} destination belongs to account {ev['destinationAccount']}, not {ev['functionAccount']}"
    ),
    "self-destination": lambda ev: (
        f"{ev['side']} destination is this function itself: every such event invokes it again (a loop)"
    ),
    "same-destination-both": lambda ev: (
        "onSuccess and onFailure send to the same destination: failures are mixed with successes"
    ),
    "malformed-destination-arn": lambda ev: (
        f"{ev['side']} destination {ev['destination']!r} is malformed: {ev['reason']}"
    ),
    "unknown-destination-kind": lambda ev: (
        f"{ev['side']} destination {ev['destination']!r} is not a kind FC is known to deliver to"
    ),
    "value-out-of-range": lambda ev: (
        f"{ev['field']}={ev['value']!r} is outside the documented range {ev['range']}"
    ),
    "stateful-invocation-off": lambda ev: (
        f"statefulInvocation is off but the policy requires it here ({ev['policy']})"
    ),
    "pair-error": lambda ev: (
        f"listing the async configs failed ({(ev.get('error') or {}).get('code')}, "
        f"{(ev.get('error') or {}).get('attempts')} attempt(s)): this pair was not audited"
    ),
}


def message(rule_id: str, evidence: Mapping[str, Any]) -> str:
    """One sentence a person understands, from the rule and its evidence."""
    return _MESSAGES[rule_id](evidence)
