"""What the audit checks and how loudly: the ``[audit]`` policy over the rules of ``crawler.audit.catalogue``.

Kept apart from the rule logic (``crawler.audit.rules``) so the config file can be validated — every key
named on error — without touching the fold. Every name here is re-exported by ``crawler.audit.rules``,
which is the public home of the audit's interface.

The ``[audit]`` table (all keys optional)::

    [audit]
    enable = ["..."]             # only these rules run (default: all)
    disable = ["same-destination-both"]
    fail_on = "high"             # default for --fail-on (info|low|medium|high|none)
    require_stateful = ["orders-*", "billing/charge-*"]   # or true: every function
    allowed_destinations = ["acs:mns:*:1234567890123456:/queues/*"]   # approved destination globs
    max_findings = 1000          # findings listed in the report, most severe first (all are counted)
    top_destinations = 10
    max_services = 100000        # per-service rows kept; beyond, one "(other services)" row

    [audit.severity]
    cross-region-destination = "medium"

    [audit.thresholds]
    retry_first_delay_seconds = 0.5
    retry_backoff_factor = 2.0
    attempt_seconds = 60
    max_event_age_limit = 2592000

    [[audit.suppress]]
    rule = "no-failure-destination"   # glob; default "*"
    service = "legacy-*"              # account/region/service/function/qualifier globs; default "*"
    reason = "decommissioned in Q3"   # required
    expires = 2026-09-30              # optional; applies through that day
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from fnmatch import translate
from types import MappingProxyType
from typing import Any, Final

from crawler.audit.catalogue import DEFAULT_SEVERITY as DEFAULT_SEVERITY
from crawler.audit.catalogue import RULE_IDS as RULE_IDS
from crawler.audit.catalogue import Severity as Severity
from crawler.errors import ConfigError

#: the severities as flags and config files spell them, least severe first
SEVERITY_LABELS: Final = tuple(s.label for s in Severity)
#: what ``--fail-on`` (and ``[audit] fail_on``) accept on every command: a severity, or ``none``
FAIL_ON_CHOICES: Final = (*SEVERITY_LABELS, "none")

Matcher = Callable[[str], bool]


def glob_matcher(pattern: str) -> Matcher:
    """A case-sensitive shell-glob matcher; ``*`` matches everything without a regex."""
    if pattern == "*":
        return lambda _s: True
    compiled = re.compile(translate(pattern))
    return lambda s: compiled.match(s) is not None


@dataclass(frozen=True, slots=True)
class Suppression:
    """Accepted findings: every glob must match the finding's rule and target; ``expires`` inclusive."""

    reason: str
    rule: str = "*"
    account: str = "*"
    region: str = "*"
    service: str = "*"
    function: str = "*"
    qualifier: str = "*"
    expires: date | None = None
    #: position in the config file (1-based), for messages
    index: int = 0
    _matchers: tuple[Matcher, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = (self.rule, self.account, self.region, self.service, self.function, self.qualifier)
        object.__setattr__(self, "_matchers", tuple(glob_matcher(p) for p in patterns))

    def matches(
        self, rule_id: str, account: str, region: str, service: str, function: str, qualifier: str | None
    ) -> bool:
        m = self._matchers
        return (
            m[0](rule_id)
            and m[3](service)
            and m[4](function)
            and m[1](account)
            and m[2](region)
            and (m[5](qualifier) if qualifier is not None else self.qualifier == "*")
        )

    def describe(self) -> str:
        globs = [
            f"{name}={value!r}"
            for name, value in (
                ("rule", self.rule),
                ("account", self.account),
                ("region", self.region),
                ("service", self.service),
                ("function", self.function),
                ("qualifier", self.qualifier),
            )
            if value != "*"
        ]
        return f"suppression #{self.index} ({', '.join(globs) or 'everything'}; reason: {self.reason!r})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "rule": self.rule,
            "account": self.account,
            "region": self.region,
            "service": self.service,
            "function": self.function,
            "qualifier": self.qualifier,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }


@dataclass(frozen=True, slots=True)
class AuditPolicy:
    """Everything configurable about the audit. Build with ``default_policy`` or ``policy_from_table``."""

    enabled: frozenset[str] = RULE_IDS
    severities: Mapping[str, Severity] = field(default_factory=lambda: DEFAULT_SEVERITY)
    suppressions: tuple[Suppression, ...] = ()
    #: suppressions whose expiry date has passed: they no longer apply, and the report says so
    expired: tuple[Suppression, ...] = ()
    #: "service/function" globs where statefulInvocation must be on (empty: the rule never fires)
    require_stateful: tuple[str, ...] = ()
    #: destination ARN globs that are approved (empty: no allow-list, ``destination-not-allowed`` never
    #: fires); a cross-account destination that matches one is not a ``cross-account-destination``
    allowed_destinations: tuple[str, ...] = ()
    fail_on: Severity | None = None
    retry_first_delay_seconds: float = 0.5
    retry_backoff_factor: float = 2.0
    attempt_seconds: float = 60.0
    retry_limit: int = 8
    max_event_age_limit: int = 2_592_000
    max_findings: int = 1_000
    top_destinations: int = 10
    max_services: int = 100_000
    today: date = field(default_factory=date.today)

    def required_age(self, retries: int, attempt_seconds: float | None = None) -> float:
        """Seconds the retry schedule needs: ``retries`` backoff delays plus ``retries + 1`` attempts of
        ``attempt_seconds`` each (default: the policy's, the fallback when a function's timeout is not
        known)."""
        delays = sum(self.retry_first_delay_seconds * self.retry_backoff_factor**i for i in range(retries))
        attempt = self.attempt_seconds if attempt_seconds is None else attempt_seconds
        return delays + (retries + 1) * attempt

    def select(
        self,
        rules: tuple[str, ...] = (),
        exclude_rules: tuple[str, ...] = (),
        severities: tuple[str, ...] = (),
        exclude_severities: tuple[str, ...] = (),
    ) -> AuditPolicy:
        """The policy with only the selected rules enabled (``--rule``/``--exclude-rule`` globs over rule
        ids, ``--severity``/``--exclude-severity`` over the rules' severities under this policy). A rule
        left out is not run at all: not counted, not listed, not written, never failing the run. A glob
        that names no rule is refused (a typo would silently select nothing)."""
        for flag, globs in (("--rule", rules), ("--exclude-rule", exclude_rules)):
            for pattern in globs:
                if not any(glob_matcher(pattern)(r) for r in RULE_IDS):
                    raise ConfigError(f"{flag} {pattern!r} matches no rule (see fcaudit rules)")
        chosen = set(self.enabled)
        if rules:
            chosen = {r for r in chosen if any(glob_matcher(p)(r) for p in rules)}
        chosen = {r for r in chosen if not any(glob_matcher(p)(r) for p in exclude_rules)}

        def label(rule_id: str) -> str:
            return self.severities.get(rule_id, DEFAULT_SEVERITY[rule_id]).label

        if severities:
            chosen = {r for r in chosen if label(r) in severities}
        chosen = {r for r in chosen if label(r) not in exclude_severities}
        return replace(self, enabled=frozenset(chosen))

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": sorted(self.enabled),
            "severities": {k: v.label for k, v in sorted(self.severities.items())},
            "suppressions": [s.to_dict() for s in self.suppressions],
            "expiredSuppressions": [s.to_dict() for s in self.expired],
            "requireStateful": list(self.require_stateful),
            "allowedDestinations": list(self.allowed_destinations),
            "retryFirstDelaySeconds": self.retry_first_delay_seconds,
            "retryBackoffFactor": self.retry_backoff_factor,
            "attemptSeconds": self.attempt_seconds,
            "maxEventAgeLimit": self.max_event_age_limit,
            "today": self.today.isoformat(),
        }


def resolve_fail_on(flag: str | None, policy: AuditPolicy) -> Severity | None:
    """The findings gate of every command that audits: ``--fail-on``, else the ``[audit]`` table's
    ``fail_on`` (already in ``policy``), else never (``None``). ``--fail-on none`` turns a file's gate
    off."""
    if flag is None:
        return policy.fail_on
    if flag == "none":
        return None
    return Severity.parse(flag, where="--fail-on")


def default_policy(*, today: date | None = None) -> AuditPolicy:
    return AuditPolicy(today=today or date.today())


_TOP_KEYS: Final = frozenset(
    {
        "enable",
        "disable",
        "fail_on",
        "require_stateful",
        "allowed_destinations",
        "max_findings",
        "top_destinations",
        "max_services",
        "severity",
        "thresholds",
        "suppress",
        "trigger_modes",  # read by the crawl (crawler.settings.trigger_modes), checked with the file
    }
)
_THRESHOLD_KEYS: Final = {
    "retry_first_delay_seconds": (0.0, 3600.0),
    "retry_backoff_factor": (1.0, 10.0),
    "attempt_seconds": (0.0, 86400.0),
    "max_event_age_limit": (1, 31_536_000),
}
_SUPPRESS_KEYS: Final = frozenset(
    {"rule", "account", "region", "service", "function", "qualifier", "reason", "expires"}
)


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"{where}: key {key!r} is not a string")
    return value


def _check_keys(table: Mapping[str, Any], allowed: frozenset[str] | Mapping[str, Any], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _rule_list(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of rule ids")
    for rule_id in value:
        if rule_id not in RULE_IDS:
            raise ConfigError(f"{where}: unknown rule {rule_id!r} (known: {', '.join(sorted(RULE_IDS))})")
    return frozenset(value)


def _positive_int(value: object, where: str, lo: int = 1, hi: int = 10_000_000) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{where} must be an integer from {lo} to {hi}, got {value!r}")
    return value


def _glob(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty glob string")
    return value


def _expiry(value: object, where: str) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{where} must be a date (2026-09-30), got {value!r}")


def _suppression(raw: object, index: int) -> Suppression:
    where = f"audit.suppress[{index}]"
    table = _table(raw, where)
    _check_keys(table, _SUPPRESS_KEYS, where)
    reason = table.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{where}.reason is required: say why these findings are accepted")
    globs = {k: _glob(table[k], f"{where}.{k}") for k in _SUPPRESS_KEYS - {"reason", "expires"} if k in table}
    expires = _expiry(table["expires"], f"{where}.expires") if "expires" in table else None
    return Suppression(
        reason=reason.strip(),
        rule=globs.get("rule", "*"),
        account=globs.get("account", "*"),
        region=globs.get("region", "*"),
        service=globs.get("service", "*"),
        function=globs.get("function", "*"),
        qualifier=globs.get("qualifier", "*"),
        expires=expires,
        index=index,
    )


def _stateful(value: object) -> tuple[str, ...]:
    if value is True:
        return ("*/*",)
    if value is False:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError("audit.require_stateful must be true, false or a list of service[/function] globs")
    return tuple(v if "/" in v else f"{v}/*" for v in value)


def _allowed(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(
            "audit.allowed_destinations must be a list of destination ARN globs "
            '(for example ["acs:mns:*:1234567890123456:/queues/*"])'
        )
    return tuple(value)


def policy_from_table(table: Mapping[str, Any], *, today: date) -> AuditPolicy:
    """Build the policy from the config file's ``[audit]`` table; ``ConfigError`` names the bad key."""
    table = _table(table, "audit")
    _check_keys(table, _TOP_KEYS, "audit")
    enabled = _rule_list(table["enable"], "audit.enable") if "enable" in table else RULE_IDS
    if "disable" in table:
        enabled = enabled - _rule_list(table["disable"], "audit.disable")
    severities = dict(DEFAULT_SEVERITY)
    overrides = _table(table.get("severity", {}), "audit.severity")
    for rule_id, value in overrides.items():
        if rule_id not in RULE_IDS:
            raise ConfigError(
                f"audit.severity.{rule_id}: unknown rule (known: {', '.join(sorted(RULE_IDS))})"
            )
        severities[rule_id] = Severity.parse(value, where=f"audit.severity.{rule_id}")
    thresholds = _table(table.get("thresholds", {}), "audit.thresholds")
    _check_keys(thresholds, _THRESHOLD_KEYS, "audit.thresholds")
    numbers: dict[str, float] = {}
    for key, (lo, hi) in _THRESHOLD_KEYS.items():
        if key not in thresholds:
            continue
        value = thresholds[key]
        kind = int if isinstance(lo, int) and isinstance(hi, int) else (int, float)
        if not isinstance(value, kind) or isinstance(value, bool) or not lo <= value <= hi:
            raise ConfigError(f"audit.thresholds.{key} must be a number from {lo} to {hi}, got {value!r}")
        numbers[key] = value
    base = AuditPolicy()
    raw_suppress = table.get("suppress", [])
    if not isinstance(raw_suppress, list):
        raise ConfigError("audit.suppress must be an array of tables ([[audit.suppress]])")
    all_suppressions = [_suppression(raw, i) for i, raw in enumerate(raw_suppress, start=1)]
    fail_on = None
    if "fail_on" in table and table["fail_on"] != "none":
        fail_on = Severity.parse(table["fail_on"], where="audit.fail_on")
    return AuditPolicy(
        enabled=frozenset(enabled),
        severities=MappingProxyType(severities),
        suppressions=tuple(s for s in all_suppressions if s.expires is None or s.expires >= today),
        expired=tuple(s for s in all_suppressions if s.expires is not None and s.expires < today),
        require_stateful=_stateful(table.get("require_stateful", False)),
        allowed_destinations=_allowed(table.get("allowed_destinations", [])),
        fail_on=fail_on,
        max_findings=_positive_int(table.get("max_findings", 1_000), "audit.max_findings", 0),
        top_destinations=_positive_int(table.get("top_destinations", 10), "audit.top_destinations", 1, 1000),
        max_services=_positive_int(table.get("max_services", 100_000), "audit.max_services"),
        today=today,
        retry_first_delay_seconds=numbers.get("retry_first_delay_seconds", base.retry_first_delay_seconds),
        retry_backoff_factor=numbers.get("retry_backoff_factor", base.retry_backoff_factor),
        attempt_seconds=numbers.get("attempt_seconds", base.attempt_seconds),
        max_event_age_limit=int(numbers.get("max_event_age_limit", base.max_event_age_limit)),
    )
