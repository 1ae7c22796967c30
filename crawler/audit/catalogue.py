"""The rule catalogue: one ``Rule`` object per audit rule, holding everything about it but its check.

A rule's id, default severity, title (docs/rules.md's and the report's one-liner), evidence (built from the
payload its check recorded), message (one sentence, from that evidence) and remediation live together
here, so a rule is read, or added, in one place; the check itself is a branch of the single pass in
``RuleEngine.evaluate`` (``crawler.audit.rules``), which reads a config once for every rule.

Rules run once per config on the hot path and most of their hits are only counted, so a check records a
``Hit``: the rule id and a small tuple whose items are the parameters of that rule's ``evidence``, in
order. The evidence dict and the message are built only when a ``Finding`` is made (listed in the
report, or written to ``--findings``). ``RULES`` is in report order; ids are unique.

To add a rule: a ``Rule`` below (and in ``RULES``), its check in ``RuleEngine.evaluate``, a row in the
rules table of docs/rules.md.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from crawler.audit.arns import Destination
from crawler.audit.remediation import HOW_TO_FIX
from crawler.errors import ConfigError
from crawler.store.records import quotable


class Severity(enum.IntEnum):
    """Ordered: ``Severity.INFO < Severity.LOW < Severity.MEDIUM < Severity.HIGH``."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: object, *, where: str = "severity") -> Severity:
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        names = ", ".join(s.label for s in cls)
        raise ConfigError(f"{where}: {value!r} is not a severity (one of {names})")


#: a check's verdict before it becomes a Finding: (rule id, the arguments of the rule's ``evidence``)
Hit = tuple[str, tuple[Any, ...]]
Evidence = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rule:
    """One audit rule, all of it but its check (see the module docstring)."""

    rule_id: str
    #: the severity unless the policy's ``[audit.severity]`` says otherwise
    severity: Severity
    title: str
    #: the evidence of a finding, from the payload of its ``Hit`` (called as ``evidence(*payload)``)
    evidence: Callable[..., Evidence]
    #: one sentence a person understands, from the evidence
    message: Callable[[Mapping[str, Any]], str]
    #: how to fix it, in general words (each finding's is filled in: ``crawler.audit.remediation``)
    remediation: str = ""


def _arn(d: Destination | None) -> str | None:
    return d.arn if d is not None else None


def _side(side: str, d: Destination) -> Evidence:
    return {"side": side, "destination": d.arn, "kind": d.kind}


def _retries_text(ev: Mapping[str, Any]) -> str:
    n = ev.get("maxAsyncRetryAttempts")
    return f"{n} retries" if n is not None else "retries"


def _no_failure_evidence(
    retries: int | None, success: Destination | None, defaults: bool, exposure: str = "unknown"
) -> Evidence:
    return {
        "maxAsyncRetryAttempts": retries,
        "onSuccess": _arn(success),
        **({"defaults": True} if defaults else {}),
        "exposure": exposure,
    }


def _no_failure_message(ev: Mapping[str, Any]) -> str:
    why = (
        "a trigger invokes it asynchronously, it runs on platform defaults and "
        if ev.get("defaults")
        else "it has an async config but "
    )
    return (
        f"{why}has no onFailure destination: events that exhaust their {_retries_text(ev)} are dropped "
        "without trace"
    )


NO_FAILURE_DESTINATION: Final = Rule(
    "no-failure-destination",
    Severity.MEDIUM,
    "No failure destination where async is in use: exhausted events vanish",
    remediation=HOW_TO_FIX["no-failure-destination"],
    evidence=_no_failure_evidence,
    message=_no_failure_message,
)

NO_FAILURE_DESTINATION_UNVERIFIED: Final = Rule(
    "no-failure-destination-unverified",
    Severity.LOW,
    "On platform defaults, no failure destination, async use not known (run with --triggers)",
    remediation=HOW_TO_FIX["no-failure-destination-unverified"],
    evidence=_no_failure_evidence,
    message=lambda ev: (
        "runs on platform defaults with no onFailure destination; whether anything invokes it "
        "asynchronously is not known without --triggers: if something does, events that exhaust their "
        f"{_retries_text(ev)} are dropped without trace"
    ),
)


def _retries_disabled_evidence(success: Destination | None) -> Evidence:
    return {"maxAsyncRetryAttempts": 0, "onSuccess": _arn(success)}


RETRIES_DISABLED_NO_FAILURE_DESTINATION: Final = Rule(
    "retries-disabled-no-failure-destination",
    Severity.HIGH,
    "Retries disabled and no failure destination: one failure loses the event",
    remediation=HOW_TO_FIX["retries-disabled-no-failure-destination"],
    evidence=_retries_disabled_evidence,
    message=lambda ev: (
        "retries are disabled (maxAsyncRetryAttempts=0) and there is no onFailure destination: "
        "one failure loses the event"
    ),
)


def _max_age_evidence(
    age: int, retries: int, required: float, attempt: float = 60.0, timeout_known: bool = False
) -> Evidence:
    return {
        "maxAsyncEventAgeInSeconds": age,
        "maxAsyncRetryAttempts": retries,
        "requiredSeconds": round(required, 1),
        "attemptSeconds": attempt,
        "attemptFrom": "function timeout" if timeout_known else "attempt_seconds setting",
    }


MAX_AGE_TOO_SHORT: Final = Rule(
    "max-age-too-short",
    Severity.MEDIUM,
    "Max event age shorter than the retry schedule",
    remediation=HOW_TO_FIX["max-age-too-short"],
    evidence=_max_age_evidence,
    message=lambda ev: (
        f"maxAsyncEventAgeInSeconds={ev['maxAsyncEventAgeInSeconds']} is shorter than the "
        f"{ev['requiredSeconds']} s that {_retries_text(ev)} may need (attempts of up to "
        f"{ev['attemptSeconds']} s, the {ev['attemptFrom']}): the event may expire before its retries finish"
    ),
)

#: the largest maxAsyncEventAgeInSeconds the FC 3.0 API reference (PutAsyncInvokeConfig, AsyncConfig) and
#: the newer FC 2.0 pages document; the FC 2.0 ListFunctionAsyncInvokeConfigs page says 2,592,000
FC3_MAX_EVENT_AGE: Final = 604_800


def _above_fc3_evidence(age: int) -> Evidence:
    return {"maxAsyncEventAgeInSeconds": age, "fc3Limit": FC3_MAX_EVENT_AGE}


MAX_AGE_ABOVE_FC3_LIMIT: Final = Rule(
    "max-age-above-fc3-limit",
    Severity.LOW,
    "Max event age above FC 3.0's documented limit (604,800 s)",
    remediation=HOW_TO_FIX["max-age-above-fc3-limit"],
    evidence=_above_fc3_evidence,
    message=lambda ev: (
        f"maxAsyncEventAgeInSeconds={ev['maxAsyncEventAgeInSeconds']} is above {FC3_MAX_EVENT_AGE:,} s, the "
        "limit of the FC 3.0 API and the newer FC 2.0 pages: it may be rejected or capped under FC 3.0"
    ),
)


def _cross_region_evidence(side: str, d: Destination, region: str) -> Evidence:
    return {**_side(side, d), "destinationRegion": d.region, "functionRegion": region}


CROSS_REGION_DESTINATION: Final = Rule(
    "cross-region-destination",
    Severity.LOW,
    "Destination in another region",
    remediation=HOW_TO_FIX["cross-region-destination"],
    evidence=_cross_region_evidence,
    message=lambda ev: (
        f"{ev['side']} destination is in region {ev['destinationRegion']}, "
        f"the function in {ev['functionRegion']}"
    ),
)


def _cross_account_evidence(side: str, d: Destination, account: str) -> Evidence:
    return {**_side(side, d), "destinationAccount": d.account, "functionAccount": account}


CROSS_ACCOUNT_DESTINATION: Final = Rule(
    "cross-account-destination",
    Severity.MEDIUM,
    "Destination in another account",
    remediation=HOW_TO_FIX["cross-account-destination"],
    evidence=_cross_account_evidence,
    message=lambda ev: (
        f"{ev['side']} destination belongs to account {ev['destinationAccount']}, not {ev['functionAccount']}"
    ),
)

SELF_DESTINATION: Final = Rule(
    "self-destination",
    Severity.HIGH,
    "Function is its own destination (a loop)",
    remediation=HOW_TO_FIX["self-destination"],
    evidence=_side,
    message=lambda ev: (
        f"{ev['side']} destination is this function itself: every such event invokes it again (a loop)"
    ),
)


def _same_destination_evidence(arn: str) -> Evidence:
    return {"destination": arn}


SAME_DESTINATION_BOTH: Final = Rule(
    "same-destination-both",
    Severity.LOW,
    "Same destination for success and failure",
    remediation=HOW_TO_FIX["same-destination-both"],
    evidence=_same_destination_evidence,
    message=lambda ev: (
        "onSuccess and onFailure send to the same destination: failures are mixed with successes"
    ),
)


def _malformed_evidence(side: str, d: Destination) -> Evidence:
    return {**_side(side, d), "reason": d.reason}


MALFORMED_DESTINATION_ARN: Final = Rule(
    "malformed-destination-arn",
    Severity.MEDIUM,
    "Destination ARN is malformed",
    remediation=HOW_TO_FIX["malformed-destination-arn"],
    evidence=_malformed_evidence,
    message=lambda ev: f"{ev['side']} destination {ev['destination']!r} is malformed: {ev['reason']}",
)

UNKNOWN_DESTINATION_KIND: Final = Rule(
    "unknown-destination-kind",
    Severity.LOW,
    "Destination of an unknown kind",
    remediation=HOW_TO_FIX["unknown-destination-kind"],
    evidence=_side,
    message=lambda ev: (
        f"{ev['side']} destination {ev['destination']!r} is not a kind FC is known to deliver to"
    ),
)


def _out_of_range_evidence(field: str, value: object, documented: object) -> Evidence:
    """``value`` as stored (already ``quotable``); ``documented``: the range, or what is expected."""
    return {"field": field, "value": value, "range": documented}


VALUE_OUT_OF_RANGE: Final = Rule(
    "value-out-of-range",
    Severity.MEDIUM,
    "Value outside the documented range",
    remediation=HOW_TO_FIX["value-out-of-range"],
    evidence=_out_of_range_evidence,
    message=lambda ev: f"{ev['field']}={ev['value']!r} is outside the documented range {ev['range']}",
)


def _stateful_evidence(pattern: str) -> Evidence:
    return {"statefulInvocation": False, "policy": pattern}


STATEFUL_INVOCATION_OFF: Final = Rule(
    "stateful-invocation-off",
    Severity.LOW,
    "Stateful invocation off where the policy requires it",
    remediation=HOW_TO_FIX["stateful-invocation-off"],
    evidence=_stateful_evidence,
    message=lambda ev: f"statefulInvocation is off but the policy requires it here ({ev['policy']})",
)


def _allowed_evidence(side: str, d: Destination) -> Evidence:
    return _side(side, d)


DESTINATION_NOT_ALLOWED: Final = Rule(
    "destination-not-allowed",
    Severity.MEDIUM,
    "Destination not in the allow-list ([audit] allowed_destinations)",
    remediation=HOW_TO_FIX["destination-not-allowed"],
    evidence=_allowed_evidence,
    message=lambda ev: (
        f"{ev['side']} destination {ev['destination']!r} matches none of [audit] allowed_destinations"
    ),
)


def _dangling_evidence(side: str, d: Destination, target: str) -> Evidence:
    return {**_side(side, d), "target": target}


DANGLING_FC_DESTINATION: Final = Rule(
    "dangling-fc-destination",
    Severity.HIGH,
    "FC destination names a function that does not exist",
    remediation=HOW_TO_FIX["dangling-fc-destination"],
    evidence=_dangling_evidence,
    message=lambda ev: (
        f"{ev['side']} destination is function {ev['target']}, which this crawl of its account and region "
        "(complete) did not find: events sent there are lost"
    ),
)


def _cycle_evidence(side: str, d: Destination, cycle: list[str]) -> Evidence:
    return {**_side(side, d), "cycle": list(cycle)}


DESTINATION_CYCLE: Final = Rule(
    "destination-cycle",
    Severity.HIGH,
    "FC destinations form a loop across functions (A → B → … → A)",
    remediation=HOW_TO_FIX["destination-cycle"],
    evidence=_cycle_evidence,
    message=lambda ev: (
        f"{ev['side']} destination starts a loop through FC destinations: "
        + " → ".join(ev["cycle"])
        + ": an event can invoke these functions forever"
    ),
)


def _qualifier_gap_evidence(qualifier: str, seen_in: str) -> Evidence:
    return {"qualifier": qualifier, "seenIn": seen_in}


QUALIFIER_GAP: Final = Rule(
    "qualifier-gap",
    Severity.MEDIUM,
    "Alias or version without its own config while LATEST has a failure destination",
    remediation=HOW_TO_FIX["qualifier-gap"],
    evidence=_qualifier_gap_evidence,
    message=lambda ev: (
        f"{ev['qualifier']} is invoked ({ev['seenIn']}) but has no async config of its own, so it runs on "
        "platform defaults with no onFailure destination, while LATEST has one: FC does not apply "
        "LATEST's config to a version or alias"
    ),
)


def _pair_error_evidence(error: Mapping[str, Any] | None) -> Evidence:
    return {"status": "error", "error": {k: quotable(v) for k, v in error.items()} if error else None}


def _pair_error_message(ev: Mapping[str, Any]) -> str:
    error = ev.get("error") or {}
    code, attempts = error.get("code"), error.get("attempts")
    # an error record from an older or foreign writer may lack either: say what is known, never "None"
    known = [str(code)] if code else []
    if attempts is not None:
        known.append(f"{attempts} attempt(s)")
    said = f" ({', '.join(known)})" if known else ""
    return f"listing the async configs failed{said}: this pair was not audited"


PAIR_ERROR: Final = Rule(
    "pair-error",
    Severity.MEDIUM,
    "Listing ended in error: this pair was not audited",
    remediation=HOW_TO_FIX["pair-error"],
    evidence=_pair_error_evidence,
    message=_pair_error_message,
)

#: every rule, in report order (the report's per-rule columns follow it)
RULES: Final[tuple[Rule, ...]] = (
    NO_FAILURE_DESTINATION,
    NO_FAILURE_DESTINATION_UNVERIFIED,
    RETRIES_DISABLED_NO_FAILURE_DESTINATION,
    MAX_AGE_TOO_SHORT,
    MAX_AGE_ABOVE_FC3_LIMIT,
    CROSS_REGION_DESTINATION,
    CROSS_ACCOUNT_DESTINATION,
    SELF_DESTINATION,
    SAME_DESTINATION_BOTH,
    MALFORMED_DESTINATION_ARN,
    UNKNOWN_DESTINATION_KIND,
    VALUE_OUT_OF_RANGE,
    STATEFUL_INVOCATION_OFF,
    DESTINATION_NOT_ALLOWED,
    DANGLING_FC_DESTINATION,
    DESTINATION_CYCLE,
    QUALIFIER_GAP,
    PAIR_ERROR,
)
RULE_BY_ID: Final = MappingProxyType({r.rule_id: r for r in RULES})
RULE_IDS: Final = frozenset(RULE_BY_ID)
DEFAULT_SEVERITY: Final = MappingProxyType({r.rule_id: r.severity for r in RULES})
RULE_TITLES: Final = MappingProxyType({r.rule_id: r.title for r in RULES})
