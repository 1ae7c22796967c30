"""Audit findings: what one async-invoke config (or a function on defaults) gets wrong, and why it matters.

``RuleEngine.evaluate`` reads a config once into its *effective* settings (defaults filled in for
unset fields, values checked against the documented ranges, destinations parsed) and judges them with
every enabled rule in the same pass; it returns an ``Evaluation`` (the hits and the settings), and the
fold in ``crawler.audit.fold`` counts exactly those settings, so what is counted and what is judged
cannot disagree. A function with no config is evaluated as an empty config: every field unset, every
platform default. This is the hot path of the audit (once per config), hence one function that records
cheap ``Hit`` tuples; a ``Finding`` (with its evidence and its sentence for people, from the rule's
``Rule`` object in ``crawler.audit.catalogue``) is only built when someone will read it.

The retry schedule ``max-age-too-short`` assumes (documented for throttled invocations, the only one the
FC docs spell out; used for every retry): the first retry 0.5 s after a failure, each later delay
doubling (1 s, 2 s, 4 s, ...), and each of the ``retries + 1`` attempts taking up to ``attempt_seconds``
(60 s by default, your function timeout). Events older than ``maxAsyncEventAgeInSeconds`` are dropped,
so an age below that sum cuts the schedule short.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from crawler.audit.arns import Destination, names_function, parse_arn, parse_destination
from crawler.audit.catalogue import (
    CROSS_ACCOUNT_DESTINATION,
    CROSS_REGION_DESTINATION,
    DEFAULT_SEVERITY,
    DESTINATION_NOT_ALLOWED,
    FC3_MAX_EVENT_AGE,
    MALFORMED_DESTINATION_ARN,
    MAX_AGE_ABOVE_FC3_LIMIT,
    MAX_AGE_TOO_SHORT,
    NO_FAILURE_DESTINATION,
    NO_FAILURE_DESTINATION_UNVERIFIED,
    PAIR_ERROR,
    RETRIES_DISABLED_NO_FAILURE_DESTINATION,
    RULE_BY_ID,
    RULE_IDS,
    RULE_TITLES,
    RULES,
    SAME_DESTINATION_BOTH,
    SELF_DESTINATION,
    STATEFUL_INVOCATION_OFF,
    UNKNOWN_DESTINATION_KIND,
    VALUE_OUT_OF_RANGE,
    Hit,
    Rule,
    Severity,
)
from crawler.audit.policy import (
    FAIL_ON_CHOICES,
    SEVERITY_LABELS,
    AuditPolicy,
    Suppression,
    default_policy,
    glob_matcher,
    policy_from_table,
    resolve_fail_on,
)
from crawler.audit.remediation import fill, summary
from crawler.store.records import quotable

__all__ = [
    "DEFAULT_SEVERITY",
    "FAIL_ON_CHOICES",
    "NO_CONFIG",
    "RULES",
    "RULE_BY_ID",
    "RULE_IDS",
    "RULE_TITLES",
    "SEVERITY_LABELS",
    "AuditPolicy",
    "Evaluation",
    "Finding",
    "Hit",
    "Rule",
    "RuleEngine",
    "Severity",
    "Suppression",
    "default_policy",
    "policy_from_table",
    "resolve_fail_on",
]

DEFAULT_RETRIES = 3
DEFAULT_MAX_AGE = 86_400


def finding_id(
    rule_id: str, account: str, region: str, service: str, function: str, qualifier: str | None
) -> str:
    """``fcaudit-`` and 32 hex digits of SHA-256 over the parts, separated by a byte no name holds;
    a finding about the whole function (no qualifier) hashes an empty qualifier."""
    raw = "\x1f".join((rule_id, account, region, service, function, qualifier or ""))
    return "fcaudit-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    severity: Severity
    account: str
    region: str
    service: str
    function: str
    #: ``None`` for a finding about the whole function (an error, or a function on defaults)
    qualifier: str | None
    message: str
    evidence: Mapping[str, Any]
    #: line of the input (or of the written output, live) that completed this function
    line: int = 0
    #: the config's settings when the finding was made (``current_settings``), for its remediation;
    #: ``None`` when not known (the findings across functions)
    current: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def remediation(self) -> dict[str, Any]:
        """How to fix it, filled in for this function and qualifier (``crawler.audit.remediation``)."""
        return fill(
            self.rule_id,
            self.account,
            self.region,
            self.service,
            self.function,
            self.qualifier,
            self.evidence,
            self.current,
        )

    @property
    def fix_summary(self) -> str:
        """The remediation's summary in words, without its body and commands."""
        return summary(self.rule_id, self.evidence, self.region, self.account)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The function it is about: (account, region, service, function)."""
        return (self.account, self.region, self.service, self.function)

    @property
    def finding_id(self) -> str:
        """Stable across runs: a hash of the rule, account, region, service, function and qualifier
        (findings of one rule on both sides of one config share it: one ticket per rule and target)."""
        return finding_id(
            self.rule_id, self.account, self.region, self.service, self.function, self.qualifier
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.finding_id,
            "ruleId": self.rule_id,
            "severity": self.severity.label,
            "account": self.account,
            "region": self.region,
            "service": self.service,
            "function": self.function,
            "qualifier": self.qualifier,
            "message": self.message,
            "evidence": dict(self.evidence),
            "line": self.line,
            "remediation": self.remediation,
        }


class Evaluation(NamedTuple):
    """``evaluate``'s answer: the hits and the effective settings of one config."""

    hits: list[Hit]
    #: ``None`` when the stored value is invalid (outside the documented range, or of the wrong type)
    retries: int | None
    age: int | None
    stateful: bool | None
    #: ``None`` when unset
    on_success: Destination | None
    on_failure: Destination | None
    #: unset, so the platform default applied
    retries_defaulted: bool
    age_defaulted: bool
    stateful_defaulted: bool


def current_settings(e: Evaluation) -> dict[str, Any]:
    """A config's settings as a body to put back: the effective values (defaults filled in), an invalid
    one left out, the destinations as they are."""
    out: dict[str, Any] = {}
    if e.retries is not None:
        out["maxAsyncRetryAttempts"] = e.retries
    if e.age is not None:
        out["maxAsyncEventAgeInSeconds"] = e.age
    if e.stateful is not None:
        out["statefulInvocation"] = e.stateful
    dc = {
        side: {"destination": d.arn}
        for side, d in (("onSuccess", e.on_success), ("onFailure", e.on_failure))
        if d is not None
    }
    out["destinationConfig"] = dc
    return out


# ``Evaluation(...)`` runs a Python-level ``__new__``; the C constructor skips that frame on the hot path
_new_evaluation: Final = tuple.__new__

#: a function with no async config: every field unset, so every platform default applies
NO_CONFIG: Final[Mapping[str, Any]] = MappingProxyType({})

# each check's hit names its rule by id; the ids as locals of this module keep ``evaluate`` cheap
_NO_FAILURE: Final = NO_FAILURE_DESTINATION.rule_id
_UNVERIFIED: Final = NO_FAILURE_DESTINATION_UNVERIFIED.rule_id
_ABOVE_FC3: Final = MAX_AGE_ABOVE_FC3_LIMIT.rule_id
_NOT_ALLOWED: Final = DESTINATION_NOT_ALLOWED.rule_id
_RETRIES0: Final = RETRIES_DISABLED_NO_FAILURE_DESTINATION.rule_id
_AGE: Final = MAX_AGE_TOO_SHORT.rule_id
_REGION: Final = CROSS_REGION_DESTINATION.rule_id
_ACCOUNT: Final = CROSS_ACCOUNT_DESTINATION.rule_id
_SELF: Final = SELF_DESTINATION.rule_id
_SAME: Final = SAME_DESTINATION_BOTH.rule_id
_MALFORMED: Final = MALFORMED_DESTINATION_ARN.rule_id
_UNKNOWN: Final = UNKNOWN_DESTINATION_KIND.rule_id
_RANGE: Final = VALUE_OUT_OF_RANGE.rule_id
_STATEFUL: Final = STATEFUL_INVOCATION_OFF.rule_id


def _destination(side: object) -> Destination | None:
    """A side (``onSuccess``/``onFailure``) is set when present and not null; whatever its
    ``destination`` holds is then parsed, so an empty or missing one counts as malformed."""
    if side is None:
        return None
    if type(side) is not dict and not isinstance(side, Mapping):
        return parse_destination(side)
    value = side.get("destination")
    return parse_arn(value) if type(value) is str else parse_destination(value)


class RuleEngine:
    """The enabled rules of one policy, with their thresholds precomputed."""

    def __init__(self, policy: AuditPolicy) -> None:
        self.policy = policy
        on = policy.enabled
        self._no_failure = NO_FAILURE_DESTINATION.rule_id in on
        self._unverified = NO_FAILURE_DESTINATION_UNVERIFIED.rule_id in on
        self._above_fc3 = MAX_AGE_ABOVE_FC3_LIMIT.rule_id in on
        self._allowed = [glob_matcher(p) for p in policy.allowed_destinations]
        self._not_allowed = DESTINATION_NOT_ALLOWED.rule_id in on and bool(self._allowed)
        self._retries0 = RETRIES_DISABLED_NO_FAILURE_DESTINATION.rule_id in on
        self._age = MAX_AGE_TOO_SHORT.rule_id in on
        self._region = CROSS_REGION_DESTINATION.rule_id in on
        self._account = CROSS_ACCOUNT_DESTINATION.rule_id in on
        self._self = SELF_DESTINATION.rule_id in on
        self._same = SAME_DESTINATION_BOTH.rule_id in on
        self._malformed = MALFORMED_DESTINATION_ARN.rule_id in on
        self._unknown = UNKNOWN_DESTINATION_KIND.rule_id in on
        self._range = VALUE_OUT_OF_RANGE.rule_id in on
        self._stateful = STATEFUL_INVOCATION_OFF.rule_id in on and bool(policy.require_stateful)
        self.pair_error = PAIR_ERROR.rule_id in on
        self._required = [policy.required_age(n) for n in range(policy.retry_limit + 1)]
        #: the backoff delays alone, for a function whose own timeout sets the attempt length
        self._delays = [policy.required_age(n, attempt_seconds=0.0) for n in range(policy.retry_limit + 1)]
        self._attempt = policy.attempt_seconds
        self._retry_limit, self._age_limit = policy.retry_limit, policy.max_event_age_limit
        self._stateful_globs = [(p, glob_matcher(p)) for p in policy.require_stateful]
        self.severity = {r: policy.severities.get(r, DEFAULT_SEVERITY[r]) for r in RULE_IDS}

    def evaluate(
        self,
        config: Mapping[str, Any],
        account: str,
        region: str,
        service: str,
        function: str,
        defaults: bool = False,
        timeout: float | None = None,
        exposure: str = "unknown",
    ) -> Evaluation:
        """Read one config (``NO_CONFIG`` and ``defaults=True`` for a function without one) into its
        effective settings and run every enabled rule over them. Unknown fields are ignored.

        ``timeout``: the function's own timeout (its record's), the length of one attempt in
        ``max-age-too-short``; ``None``: the policy's ``attempt_seconds``. ``exposure`` (``exposure_of``):
        ``async``, ``timer`` (only timers invoke it asynchronously: their events never reach a
        destination), ``sync`` or ``unknown``; it decides whether a missing failure destination is listed."""
        hits: list[Hit] = []
        raw_r = config.get("maxAsyncRetryAttempts")
        retries: int | None = DEFAULT_RETRIES
        if raw_r is not None and (type(raw_r) is not int or not 0 <= raw_r <= self._retry_limit):
            retries = None
            if self._range:
                hits.append((_RANGE, ("maxAsyncRetryAttempts", quotable(raw_r), [0, self._retry_limit])))
        elif raw_r is not None:
            retries = raw_r
        raw_a = config.get("maxAsyncEventAgeInSeconds")
        age: int | None = DEFAULT_MAX_AGE
        if raw_a is not None and (type(raw_a) is not int or not 1 <= raw_a <= self._age_limit):
            age = None
            if self._range:
                hits.append((_RANGE, ("maxAsyncEventAgeInSeconds", quotable(raw_a), [1, self._age_limit])))
        elif raw_a is not None:
            age = raw_a
        raw_s = config.get("statefulInvocation")
        stateful: bool | None = False if raw_s is None else raw_s if type(raw_s) is bool else None
        if stateful is None and self._range:
            hits.append((_RANGE, ("statefulInvocation", quotable(raw_s), [False, True])))
        success = failure = None
        dc = config.get("destinationConfig")
        if dc is not None:
            if type(dc) is dict or isinstance(dc, Mapping):
                side = dc.get("onSuccess")
                if side is not None:
                    value = side.get("destination") if type(side) is dict else None
                    success = parse_arn(value) if type(value) is str and value else _destination(side)
                side = dc.get("onFailure")
                if side is not None:
                    value = side.get("destination") if type(side) is dict else None
                    failure = parse_arn(value) if type(value) is str and value else _destination(side)
            elif self._range:
                hits.append((_RANGE, ("destinationConfig", "not an object", "an object or null")))
        if failure is None and exposure != "timer":  # a timer's events never reach a destination
            if retries == 0 and self._retries0:
                hits.append((_RETRIES0, (success,)))
            elif not defaults or exposure == "async":
                if self._no_failure:
                    hits.append((_NO_FAILURE, (retries, success, defaults, exposure)))
            elif exposure == "unknown" and self._unverified:
                hits.append((_UNVERIFIED, (retries, success, defaults, exposure)))
        if retries and age is not None and self._age:
            if timeout is None:
                if age < self._required[retries]:
                    hits.append((_AGE, (age, retries, self._required[retries], self._attempt, False)))
            else:
                required = self._delays[retries] + (retries + 1) * timeout
                if age < required:
                    hits.append((_AGE, (age, retries, required, timeout, True)))
        if age is not None and age > FC3_MAX_EVENT_AGE and self._above_fc3:
            hits.append((_ABOVE_FC3, (age,)))
        if stateful is False and self._stateful:
            target = f"{service}/{function}"
            for pattern, match in self._stateful_globs:
                if match(target):
                    hits.append((_STATEFUL, (pattern,)))
                    break
        if success is not None:
            self._check_destination(hits, "onSuccess", success, account, region, service, function)
        if failure is not None:
            self._check_destination(hits, "onFailure", failure, account, region, service, function)
            if success is not None and success.arn == failure.arn and self._same:
                hits.append((_SAME, (failure.arn,)))
        return _new_evaluation(
            Evaluation,
            (hits, retries, age, stateful, success, failure, raw_r is None, raw_a is None, raw_s is None),
        )

    def _check_destination(
        self,
        hits: list[Hit],
        side: str,
        d: Destination,
        account: str,
        region: str,
        service: str,
        function: str,
    ) -> None:
        kind = d.kind
        if kind == "malformed":
            if self._malformed:
                hits.append((_MALFORMED, (side, d)))
            return
        if kind == "unknown" and self._unknown:
            hits.append((_UNKNOWN, (side, d)))
        if d.region != region and self._region:
            hits.append((_REGION, (side, d, region)))
        allowed = True
        if self._allowed:
            allowed = any(match(d.arn) for match in self._allowed)
            if not allowed and self._not_allowed:
                hits.append((_NOT_ALLOWED, (side, d)))
        # an allow-listed destination in another account is a decision, not a finding
        if (
            d.account != account
            and self._account
            and not d.same_account(account)
            and not (allowed and self._allowed)
        ):
            hits.append((_ACCOUNT, (side, d, account)))
        if kind == "fc-function" and self._self and names_function(d, account, region, service, function):
            hits.append((_SELF, (side, d)))

    def check_error(self, error: Mapping[str, Any] | None) -> list[Hit]:
        return [(PAIR_ERROR.rule_id, (error,))] if self.pair_error else []

    def suppression(
        self, rule_id: str, account: str, region: str, service: str, function: str, qualifier: str | None
    ) -> tuple[Suppression | None, Suppression | None]:
        """(the active suppression that accepts this finding, an expired one that would have)."""
        for s in self.policy.suppressions:
            if s.matches(rule_id, account, region, service, function, qualifier):
                return s, None
        for s in self.policy.expired:
            if s.matches(rule_id, account, region, service, function, qualifier):
                return None, s
        return None, None

    def finding(
        self,
        hit: Hit,
        account: str,
        region: str,
        service: str,
        function: str,
        qualifier: str | None,
        line: int,
        expired: Suppression | None = None,
        evaluation: Evaluation | None = None,
    ) -> Finding:
        rule_id, payload = hit
        rule = RULE_BY_ID[rule_id]
        ev = rule.evidence(*payload)
        if expired is not None:
            ev["expiredSuppression"] = {
                "index": expired.index,
                "reason": expired.reason,
                "expired": expired.expires.isoformat() if expired.expires else None,
            }
        return Finding(
            rule_id,
            self.severity[rule_id],
            account,
            region,
            service,
            function,
            qualifier,
            rule.message(ev),
            ev,
            line,
            current_settings(evaluation) if evaluation is not None else None,
        )
