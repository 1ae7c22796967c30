"""Audit findings: what one async-invoke config (or a function on defaults) gets wrong, and why it matters.

A config is first read into its *effective* settings (``read_settings``: defaults filled in, values
checked against the documented ranges, destinations parsed), then every enabled rule looks at those
settings. The fold in ``crawler.summary`` counts the same settings, so what is counted and what is judged
can never disagree. Rules return cheap ``(rule_id, evidence)`` hits; a ``Finding`` (with its sentence
for people) is only built when someone will read it.

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
from typing import Any, NamedTuple

from crawler.arns import Destination, names_function, parse_destination
from crawler.audit_policy import (
    DEFAULT_SEVERITY,
    RULE_IDS,
    RULES,
    AuditPolicy,
    RuleInfo,
    Severity,
    Suppression,
    default_policy,
    glob_matcher,
    policy_from_table,
)
from crawler.finding_text import Hit, evidence, message

__all__ = [
    "DEFAULT_SEVERITY",
    "RULES",
    "RULE_IDS",
    "AuditPolicy",
    "Finding",
    "Hit",
    "RuleEngine",
    "RuleInfo",
    "Settings",
    "Severity",
    "Suppression",
    "default_policy",
    "policy_from_table",
    "read_settings",
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


class Settings(NamedTuple):
    """The effective async settings of one qualifier. ``None`` where the stored value is invalid."""

    retries: int | None
    retries_raw: object
    retries_defaulted: bool
    age: int | None
    age_raw: object
    age_defaulted: bool
    stateful: bool | None
    stateful_raw: object
    stateful_defaulted: bool
    success: Destination | None
    failure: Destination | None
    destination_config_invalid: bool
    #: some value is outside its documented range (or of the wrong type)
    invalid: bool


#: what a function with no async config runs on
DEFAULT_SETTINGS = Settings(
    DEFAULT_RETRIES, None, True, DEFAULT_MAX_AGE, None, True, False, None, True, None, None, False, False
)

_cached_parse = lru_cache(maxsize=8192)(parse_destination)
#: ``Settings(*values)`` without the generated ``__new__`` wrapper: this runs once per config
_new_settings = tuple.__new__


def _destination(side: object) -> Destination | None:
    """A side (``onSuccess``/``onFailure``) is set when present and not null; whatever its
    ``destination`` holds is then parsed, so an empty or missing one counts as malformed."""
    if side is None:
        return None
    if type(side) is not dict and not isinstance(side, Mapping):
        return parse_destination(side)
    value = side.get("destination")
    return _cached_parse(value) if type(value) is str else parse_destination(value)


def read_settings(config: Mapping[str, Any], retry_limit: int = 8, age_limit: int = 2_592_000) -> Settings:
    """Effective settings of one config as the API returned it; unknown fields are ignored here."""
    raw_r = config.get("maxAsyncRetryAttempts")
    if raw_r is None:
        retries: int | None = DEFAULT_RETRIES
    elif type(raw_r) is int and 0 <= raw_r <= retry_limit:
        retries = raw_r
    else:
        retries = None
    raw_a = config.get("maxAsyncEventAgeInSeconds")
    if raw_a is None:
        age: int | None = DEFAULT_MAX_AGE
    elif type(raw_a) is int and 1 <= raw_a <= age_limit:
        age = raw_a
    else:
        age = None
    raw_s = config.get("statefulInvocation")
    stateful = False if raw_s is None else (raw_s if type(raw_s) is bool else None)
    dc = config.get("destinationConfig")
    success = failure = None
    dc_invalid = False
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
        else:
            dc_invalid = True
    invalid = retries is None or age is None or stateful is None or dc_invalid
    return _new_settings(
        Settings,
        (
            retries,
            raw_r,
            raw_r is None,
            age,
            raw_a,
            raw_a is None,
            stateful,
            raw_s,
            raw_s is None,
            success,
            failure,
            dc_invalid,
            invalid,
        ),
    )


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
        self._stateful_globs = [(p, glob_matcher(p)) for p in policy.require_stateful]
        self.severity = {r: policy.severities.get(r, DEFAULT_SEVERITY[r]) for r in RULE_IDS}

    def read(self, config: Mapping[str, Any]) -> Settings:
        return read_settings(config, self.policy.retry_limit, self.policy.max_event_age_limit)

    def check(
        self, s: Settings, account: str, region: str, service: str, function: str, defaults: bool
    ) -> list[Hit]:
        """Every enabled rule over one qualifier's settings (``defaults``: the function has no config)."""
        hits: list[Hit] = []
        retries, age, success, failure = s.retries, s.age, s.success, s.failure
        if failure is None:
            if retries == 0 and self._retries0:
                hits.append(("retries-disabled-no-failure-destination", (success,)))
            elif self._no_failure:
                hits.append(("no-failure-destination", (retries, success, defaults)))
        if retries and age is not None and age < self._required[retries] and self._age:
            hits.append(("max-age-too-short", (age, retries, self._required[retries])))
        if s.invalid and self._range:
            self._check_ranges(s, hits)
        if s.stateful is False and self._stateful:
            target = f"{service}/{function}"
            for pattern, match in self._stateful_globs:
                if match(target):
                    hits.append(("stateful-invocation-off", (pattern,)))
                    break
        for side, d in (("onSuccess", success), ("onFailure", failure)):
            if d is None:
                continue
            kind = d.kind
            if kind == "malformed":
                if self._malformed:
                    hits.append(("malformed-destination-arn", (side, d)))
                continue
            if kind == "unknown" and self._unknown:
                hits.append(("unknown-destination-kind", (side, d)))
            if d.region != region and self._region:
                hits.append(("cross-region-destination", (side, d, region)))
            if d.account != account and self._account and not d.same_account(account):
                hits.append(("cross-account-destination", (side, d, account)))
            if kind == "fc-function" and self._self and names_function(d, account, region, service, function):
                hits.append(("self-destination", (side, d)))
        if success is not None and failure is not None and success.arn == failure.arn and self._same:
            hits.append(("same-destination-both", (failure.arn,)))
        return hits

    def _check_ranges(self, s: Settings, hits: list[Hit]) -> None:
        if s.retries is None:
            hits.append(
                ("value-out-of-range", ("maxAsyncRetryAttempts", s.retries_raw, [0, self.policy.retry_limit]))
            )
        if s.age is None:
            limit = self.policy.max_event_age_limit
            hits.append(("value-out-of-range", ("maxAsyncEventAgeInSeconds", s.age_raw, [1, limit])))
        if s.stateful is None:
            hits.append(("value-out-of-range", ("statefulInvocation", s.stateful_raw, [False, True])))
        if s.destination_config_invalid:
            hits.append(("value-out-of-range", ("destinationConfig", "not an object", "an object or null")))

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
