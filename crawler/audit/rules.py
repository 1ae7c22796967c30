"""Audit findings: what one async-invoke config (or a function on defaults) gets wrong, and why it matters.

``RuleEngine.evaluate`` reads a config once into its *effective* settings (defaults filled in for
unset fields, values checked against the documented ranges, destinations parsed) and judges them with
every enabled rule in the same pass; it returns the hits and the settings, and the fold in
``crawler.audit.fold`` counts exactly those settings, so what is counted and what is judged cannot
disagree. A function with no config is evaluated as an empty config: every field unset, every platform
default. This is the hot path of the audit (once per config), hence one function with plain tuples.
Rules return cheap ``(rule_id, payload)`` hits; a ``Finding`` (with its evidence and its sentence for
people) is only built when someone will read it.

The retry schedule ``max-age-too-short`` assumes (documented for throttled invocations, the only one the
FC docs spell out; used for every retry): the first retry 0.5 s after a failure, each later delay
doubling (1 s, 2 s, 4 s, ...), and each of the ``retries + 1`` attempts taking up to ``attempt_seconds``
(60 s by default, your function timeout). Events older than ``maxAsyncEventAgeInSeconds`` are dropped,
so an age below that sum cuts the schedule short.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from crawler.audit.arns import Destination, names_function, parse_destination
from crawler.audit.policy import (
    DEFAULT_SEVERITY,
    FAIL_ON_CHOICES,
    RULE_IDS,
    RULE_TITLES,
    RULES,
    SEVERITY_LABELS,
    AuditPolicy,
    RuleInfo,
    Severity,
    Suppression,
    default_policy,
    glob_matcher,
    policy_from_table,
    resolve_fail_on,
)
from crawler.audit.wording import Hit, evidence, message
from crawler.store.records import quotable

__all__ = [
    "DEFAULT_SEVERITY",
    "FAIL_ON_CHOICES",
    "NO_CONFIG",
    "RULES",
    "RULE_IDS",
    "RULE_TITLES",
    "SEVERITY_LABELS",
    "AuditPolicy",
    "Evaluation",
    "Finding",
    "Hit",
    "RuleEngine",
    "RuleInfo",
    "Severity",
    "Suppression",
    "default_policy",
    "policy_from_table",
    "resolve_fail_on",
]

DEFAULT_RETRIES = 3
DEFAULT_MAX_AGE = 86_400


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

    def to_dict(self) -> dict[str, Any]:
        return {
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
        }


#: ``evaluate``'s answer: (hits, retries, age, stateful, onSuccess, onFailure, and whether retries, age
#: and stateful were unset so the default applied). retries/age/stateful are ``None`` when the stored
#: value is invalid (outside the documented range, or of the wrong type); a destination is ``None``
#: when unset.
Evaluation = tuple[
    list[Hit], int | None, int | None, bool | None, Destination | None, Destination | None, bool, bool, bool
]

#: a function with no async config: every field unset, so every platform default applies
NO_CONFIG: Final[Mapping[str, Any]] = MappingProxyType({})

_cached_parse = lru_cache(maxsize=8192)(parse_destination)


def _destination(side: object) -> Destination | None:
    """A side (``onSuccess``/``onFailure``) is set when present and not null; whatever its
    ``destination`` holds is then parsed, so an empty or missing one counts as malformed."""
    if side is None:
        return None
    if type(side) is not dict and not isinstance(side, Mapping):
        return parse_destination(side)
    value = side.get("destination")
    return _cached_parse(value) if type(value) is str else parse_destination(value)


class RuleEngine:
    """The enabled rules of one policy, with their thresholds precomputed."""

    def __init__(self, policy: AuditPolicy) -> None:
        self.policy = policy
        on = policy.enabled
        self._no_failure = "no-failure-destination" in on
        self._retries0 = "retries-disabled-no-failure-destination" in on
        self._age = "max-age-too-short" in on
        self._region = "cross-region-destination" in on
        self._account = "cross-account-destination" in on
        self._self = "self-destination" in on
        self._same = "same-destination-both" in on
        self._malformed = "malformed-destination-arn" in on
        self._unknown = "unknown-destination-kind" in on
        self._range = "value-out-of-range" in on
        self._stateful = "stateful-invocation-off" in on and bool(policy.require_stateful)
        self.pair_error = "pair-error" in on
        self._required = [policy.required_age(n) for n in range(policy.retry_limit + 1)]
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
    ) -> Evaluation:
        """Read one config (``NO_CONFIG`` and ``defaults=True`` for a function without one) into its
        effective settings and run every enabled rule over them. Unknown fields are ignored."""
        hits: list[Hit] = []
        raw_r = config.get("maxAsyncRetryAttempts")
        retries: int | None = DEFAULT_RETRIES
        if raw_r is not None and (type(raw_r) is not int or not 0 <= raw_r <= self._retry_limit):
            retries = None
            if self._range:
                hits.append(
                    ("value-out-of-range", ("maxAsyncRetryAttempts", quotable(raw_r), [0, self._retry_limit]))
                )
        elif raw_r is not None:
            retries = raw_r
        raw_a = config.get("maxAsyncEventAgeInSeconds")
        age: int | None = DEFAULT_MAX_AGE
        if raw_a is not None and (type(raw_a) is not int or not 1 <= raw_a <= self._age_limit):
            age = None
            if self._range:
                hits.append(
                    (
                        "value-out-of-range",
                        ("maxAsyncEventAgeInSeconds", quotable(raw_a), [1, self._age_limit]),
                    )
                )
        elif raw_a is not None:
            age = raw_a
        raw_s = config.get("statefulInvocation")
        stateful: bool | None = False if raw_s is None else raw_s if type(raw_s) is bool else None
        if stateful is None and self._range:
            hits.append(("value-out-of-range", ("statefulInvocation", quotable(raw_s), [False, True])))
        success = failure = None
        dc = config.get("destinationConfig")
        if dc is not None:
            if type(dc) is dict or isinstance(dc, Mapping):
                side = dc.get("onSuccess")
                if side is not None:
                    value = side.get("destination") if type(side) is dict else None
                    success = _cached_parse(value) if type(value) is str and value else _destination(side)
                side = dc.get("onFailure")
                if side is not None:
                    value = side.get("destination") if type(side) is dict else None
                    failure = _cached_parse(value) if type(value) is str and value else _destination(side)
            elif self._range:
                hits.append(
                    ("value-out-of-range", ("destinationConfig", "not an object", "an object or null"))
                )
        if failure is None:
            if retries == 0 and self._retries0:
                hits.append(("retries-disabled-no-failure-destination", (success,)))
            elif self._no_failure:
                hits.append(("no-failure-destination", (retries, success, defaults)))
        if retries and age is not None and age < self._required[retries] and self._age:
            hits.append(("max-age-too-short", (age, retries, self._required[retries])))
        if stateful is False and self._stateful:
            target = f"{service}/{function}"
            for pattern, match in self._stateful_globs:
                if match(target):
                    hits.append(("stateful-invocation-off", (pattern,)))
                    break
        if success is not None:
            self._check_destination(hits, "onSuccess", success, account, region, service, function)
        if failure is not None:
            self._check_destination(hits, "onFailure", failure, account, region, service, function)
            if success is not None and success.arn == failure.arn and self._same:
                hits.append(("same-destination-both", (failure.arn,)))
        return hits, retries, age, stateful, success, failure, raw_r is None, raw_a is None, raw_s is None

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
                hits.append(("malformed-destination-arn", (side, d)))
            return
        if kind == "unknown" and self._unknown:
            hits.append(("unknown-destination-kind", (side, d)))
        if d.region != region and self._region:
            hits.append(("cross-region-destination", (side, d, region)))
        if d.account != account and self._account and not d.same_account(account):
            hits.append(("cross-account-destination", (side, d, account)))
        if kind == "fc-function" and self._self and names_function(d, account, region, service, function):
            hits.append(("self-destination", (side, d)))

    def check_error(self, error: Mapping[str, Any] | None) -> list[Hit]:
        return [("pair-error", (error,))] if self.pair_error else []

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
    ) -> Finding:
        rule_id = hit[0]
        ev = evidence(hit)
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
            message(rule_id, ev),
            ev,
            line,
        )
