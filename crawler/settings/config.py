"""What to crawl and how hard: frozen settings and targets from flags, a TOML file and the environment.

Precedence is flags > config file > environment, and every value is checked once, at start-up, so the
rest of the crawler trusts what it is given. A bad value anywhere stops the run with one line naming the
key (``[crawl] concurrency``, ``[[targets]] #2 regions``, ``--page-size``) and what would be right.

The file (``crawler.settings.config_file``, documented in ``config.example.toml``) has four parts: top-level
defaults for one target (``account``, ``regions``, ``endpoint``, ``profile``), a ``[crawl]`` table of
``CrawlSettings``, an optional ``[[targets]]`` array for many accounts and regions, and an ``[audit]``
table passed through untouched to ``crawler.audit.rules.policy_from_table``. Secrets never go in the file: a
target names the environment variables or the aliyun CLI profile that hold them.

The CLI calls ``resolve_config`` once; ``settings_from`` and ``resolve_targets`` are its parts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from crawler.errors import ConfigError, FatalError, UsageError
from crawler.log import get_logger
from crawler.settings.config_file import SETTING_RULES, check_setting, load_config_file, validate_config
from crawler.settings.credentials import credentials_from_env_vars
from crawler.settings.endpoints import (
    DEFAULT_ENDPOINT,
    FC_REGIONS,
    check_account,
    check_known_region,
    check_region,
    is_template_per_region,
    target_endpoint,
)
from crawler.settings.identity import AssumedRole, CredentialSource, StaticKeys, resolve_source
from crawler.settings.roles import DEFAULT_STS, StsEndpoint, default_session_name, sts_endpoint
from crawler.settings.target_identity import (
    FLAGS,
    ROLE_KEYS,
    TOP_LEVEL,
    Layer,
    check_global_role_keys,
    explicit_sts,
    with_role,
)

__all__ = [
    "ACCOUNT_ENV",
    "REGION_ENV",
    "CrawlSettings",
    "IdentityFlags",
    "RunConfig",
    "Target",
    "check_settings_overrides",
    "load_config_file",
    "resolve_config",
    "resolve_targets",
    "settings_from",
    "validate_config",
]

ACCOUNT_ENV = "ALIBABA_CLOUD_ACCOUNT_ID"
REGION_ENV = "ALIBABA_CLOUD_REGION_ID"
#: an Alibaba Cloud account id (its UID) is 16 digits; anything else is accepted with a warning
ACCOUNT_ID_DIGITS = 16

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """How hard to crawl. Built once per run; the file's ``[crawl]`` table uses the same names."""

    concurrency: int = 32
    rate: float | None = None
    page_size: int = 100
    max_pages: int = 10_000
    max_attempts: int = 6
    backoff_base: float = 0.2
    backoff_cap: float = 20.0
    #: retry tokens per endpoint (botocore's retry quota): a retry costs 5 (10 after a timeout or a lost
    #: connection), a success gives back its last retry's cost or 1
    retry_budget: float = 500.0
    #: seconds an endpoint that fails outright (no connection) is waited for before its targets stop;
    #: 0: no waiting, each failure is retried (and budgeted) as the call's own
    outage_wait: float = 60.0
    #: seconds an endpoint that has never answered (not once, any status) is tried, from its first
    #: request, before its targets stop: an unreachable endpoint costs seconds, not minutes; 0: no limit
    unreachable_after: float = 15.0
    #: the longest wait for a TCP (and TLS) connection to open
    connect_timeout: float = 5.0
    #: the longest silence while reading a response (a stalled server)
    read_timeout: float = 10.0
    #: the per-request deadline: the longest one attempt may take in all, from queueing for a connection
    #: to the last byte of the body (a server trickling bytes under ``read_timeout``)
    total_timeout: float = 20.0
    #: the longest one function's whole listing may take, its pages, retries and waits included; past it
    #: the function ends as an ``error`` (``FunctionDeadline``)
    function_deadline: float = 120.0
    #: the whole run's deadline in seconds (``--deadline``): past it the run takes no new work, lets the
    #: work in flight end within the grace period and ends incomplete, resumable; ``None``: none
    deadline: float | None = None
    max_body_bytes: int = 8 * 1024 * 1024
    #: what one function's config listing may hold before it ends as an ``error`` (ListingLimitExceeded):
    #: its configs (FC keeps one per qualifier: LATEST, versions, aliases) and its answers' bytes
    max_configs_per_function: int = 5_000
    max_function_bytes: int = 8 * 1024 * 1024
    #: the longest ``nextToken`` accepted (FC's are far shorter; a listing remembers only their hashes)
    max_token_length: int = 4096
    insecure_http: bool = False
    #: list each function's triggers and record its async exposure (``--triggers``): one more listing
    #: per function
    triggers: bool = False
    #: STS requests/s of the whole run (AssumeRole, GetCallerIdentity, ...): STS allows 100/s per calling
    #: account, shared with everything else that account does
    sts_rate: float = 20.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            try:
                object.__setattr__(self, f.name, check_setting(f.name, value))
            except ValueError as exc:
                raise ConfigError(f"setting {f.name} must be {exc}, got {value!r}") from None
        if self.backoff_base > self.backoff_cap:
            raise ConfigError(
                f"setting backoff_base ({self.backoff_base:g}) must not exceed backoff_cap "
                f"({self.backoff_cap:g})"
            )


@dataclass(frozen=True, slots=True)
class Target:
    """One (account, region) to crawl, with where to send requests and whose identity signs them."""

    account: str
    region: str
    endpoint: str
    #: where the credentials come from (``crawler.settings.identity``); resolved at run time
    identity: CredentialSource
    #: per-target limits from ``[[targets]]`` or ``--rate``/``--concurrency``; ``None`` = the settings'
    #: where STS GetCallerIdentity asks whose credentials these are, for an identity that is not a role
    #: (a role asks its own STS endpoint): set when the account is unknown
    sts: StsEndpoint = DEFAULT_STS
    rate: float | None = None
    concurrency: int | None = None

    def limits(self, settings: CrawlSettings) -> tuple[float | None, int]:
        """(rate ceiling, concurrency) for this target's limiter."""
        rate = self.rate if self.rate is not None else settings.rate
        return rate, self.concurrency if self.concurrency is not None else settings.concurrency


@dataclass(frozen=True, slots=True)
class RunConfig:
    settings: CrawlSettings
    targets: tuple[Target, ...]
    #: the raw ``[audit]`` table, for ``crawler.audit.rules.policy_from_table``
    audit: Mapping[str, Any] = field(default_factory=dict)
    source: Path | None = None


# ---- resolution ------------------------------------------------------------------------------------


def check_settings_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Setting flags by setting name, checked; UsageError naming the flag when one is wrong."""
    checked: dict[str, Any] = {}
    for name, value in overrides.items():
        flag = "--" + name.replace("_", "-")
        if name not in SETTING_RULES:
            raise UsageError(f"{flag} is not a setting fcaudit knows")
        try:
            checked[name] = check_setting(name, value)
        except ValueError as exc:
            raise UsageError(f"{flag} must be {exc}, got {value!r}") from None
    return checked


def settings_from(
    file: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
) -> CrawlSettings:
    """``CrawlSettings`` from the file's ``[crawl]`` table overridden by flags (only those given)."""
    values: dict[str, Any] = dict((file or {}).get("crawl", {}))
    values.update(check_settings_overrides(overrides or {}))
    try:
        return CrawlSettings(**values)
    except ConfigError as exc:
        raise UsageError(exc.message) from None


def _env_regions(env: Mapping[str, str]) -> list[str]:
    return [r.strip() for r in env.get(REGION_ENV, "").split(",") if r.strip()]


def _warn_unusual_account(account: str, where: str) -> None:
    """An account id that is not 16 digits is most likely a typo (or an alias, or the key id): the crawl
    goes on, since the endpoint decides, but the user hears of it before the first request."""
    if not (len(account) == ACCOUNT_ID_DIGITS and account.isdigit()):
        log.warning(
            "config.unusual_account_id",
            account=account,
            where=where,
            hint=f"an Alibaba Cloud account id is {ACCOUNT_ID_DIGITS} digits (the console's account ID/UID)",
        )


def _pick_regions(
    candidates: Sequence[tuple[object, str]],
    missing: str,
    error: type[FatalError],
    *,
    endpoint: str | None,
    endpoint_where: str,
) -> list[str]:
    """The first non-empty candidate (value, its name for messages), ``"*"`` expanded, each checked.

    With no endpoint of its own (``endpoint`` ``None``) a region must be one fcaudit knows ("did you
    mean"); an endpoint without ``{region}`` reaches one host, so it takes exactly one region."""
    for value, name in candidates:
        if not value:
            continue
        listed = (
            [value] if isinstance(value, str) else [str(v) for v in value] if isinstance(value, list) else []
        )
        regions = list(FC_REGIONS) if listed == ["*"] else listed
        for region in regions:
            if endpoint is None:
                check_known_region(region, name, error)
            else:
                check_region(region, name, error)
        if len(set(regions)) != len(regions):
            raise error(f"{name}: a region is listed twice")
        if len(regions) > 1 and not is_template_per_region(endpoint):
            raise error(
                f"{endpoint_where} {endpoint} has no {{region}}, so the {len(regions)} regions of {name} "
                f"would all be crawled at that one host; give one region, or put {{region}} in the "
                "endpoint (https://{account}.{region}.fc.aliyuncs.com)"
            )
        return regions
    raise error(missing)


#: stands in for an unknown account while an endpoint template is checked (a valid host label)
_ACCOUNT_MARK = "fcaudit-account-placeholder"


def _endpoint_of(
    account: str,
    region: str,
    template: str | None,
    *,
    insecure_http: bool,
    where: str,
    error: type[FatalError],
) -> str:
    """The target's endpoint; with the account unknown, checked with ``{account}`` left in for the run to
    fill in once STS has said whose credentials these are."""
    if account:
        return target_endpoint(
            account, region, template, insecure_http=insecure_http, where=where, error=error
        )
    url = target_endpoint(
        _ACCOUNT_MARK,
        region,
        template or DEFAULT_ENDPOINT,
        insecure_http=insecure_http,
        where=where,
        error=error,
    )
    return url.replace(_ACCOUNT_MARK, "{account}")


def _targets_of(
    account: str,
    regions: Sequence[str],
    template: str | None,
    identity: CredentialSource,
    *,
    insecure_http: bool,
    where: str,
    error: type[FatalError],
    rate: float | None = None,
    concurrency: int | None = None,
    sts: StsEndpoint = DEFAULT_STS,
) -> list[Target]:
    return [
        Target(
            account=account,
            region=region,
            endpoint=_endpoint_of(
                account, region, template, insecure_http=insecure_http, where=where, error=error
            ),
            identity=identity,
            sts=sts,
            rate=rate,
            concurrency=concurrency,
        )
        for region in regions
    ]


@dataclass(frozen=True, slots=True)
class IdentityFlags:
    """The identity flags of a crawl; ``None``: not given."""

    role_arn: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None
    sts_endpoint: str | None = None
    #: ``--ecs-ram-role [ROLE]``: True without a role name
    ecs_ram_role: str | bool | None = None

    def layer(self) -> Layer:
        return Layer({key: getattr(self, key) for key in ROLE_KEYS}, FLAGS, UsageError)


@dataclass(frozen=True, slots=True)
class _Resolution:
    """What every target's resolution shares."""

    env: Mapping[str, str]
    settings: CrawlSettings
    file: Mapping[str, Any]
    profile: str | None
    flags: IdentityFlags
    aliyun_config: Path | None
    #: one session name for the whole run (the default, or ALIBABA_CLOUD_ROLE_SESSION_NAME)
    session_name: str
    clock: Callable[[], float]

    def base(
        self, layers: Sequence[Layer], own_profile: str | None = None
    ) -> tuple[CredentialSource, str | None]:
        """The base source of a target: its own profile, else the flags', else the file's, else the chain."""
        ecs = None if own_profile else self.flags.ecs_ram_role
        file_profile = None if ecs else self.file.get("profile")
        sts, sts_where = explicit_sts(layers)
        return resolve_source(
            env=self.env,
            profile=own_profile or self.profile or file_profile,
            aliyun_config=self.aliyun_config,
            ecs_ram_role=ecs,
            sts=sts,
            sts_where=sts_where,
            insecure_http=self.settings.insecure_http,
            clock=self.clock,
        )


def _single_target(
    r: _Resolution, *, account: str | None, regions: Sequence[str], endpoint: str | None
) -> list[Target]:
    env, file = r.env, r.file
    env_account = env.get(ACCOUNT_ENV, "").strip()
    account_where = "--account"
    account_error: type[FatalError] = UsageError
    if account:
        account = check_account(account, "--account", UsageError)
    elif "account" in file:
        account, account_where, account_error = str(file["account"]), "account", ConfigError
    elif env_account:
        account = check_account(env_account, ACCOUNT_ENV, UsageError)
        account_where = ACCOUNT_ENV
    if account:
        _warn_unusual_account(account, account_where)
    template = endpoint or file.get("endpoint")
    template_where = "--endpoint" if endpoint else "endpoint"
    layers = [r.flags.layer(), Layer(file, TOP_LEVEL, ConfigError)]
    base, profile_region = r.base(layers)
    identity, account = with_role(
        base,
        account or "",
        layers,
        env=env,
        session_name=r.session_name,
        insecure_http=r.settings.insecure_http,
        account_where=account_where,
        account_error=account_error,
    )
    check_global_role_keys(layers, isinstance(identity, AssumedRole))
    who_sts = DEFAULT_STS
    if not account:  # STS GetCallerIdentity will say whose credentials these are, at run time
        explicit, explicit_where = explicit_sts(layers)
        who_sts = sts_endpoint(
            env,
            explicit=explicit,
            explicit_where=explicit_where,
            insecure_http=r.settings.insecure_http,
            error=UsageError,
        )
    chosen = _pick_regions(
        [
            (list(regions), "--region"),
            (file.get("regions"), "regions"),
            (_env_regions(env), REGION_ENV),
            (profile_region, "the profile's region_id"),
        ],
        f"no region: pass --region ID (repeatable), set regions in the config file, or set {REGION_ENV}",
        UsageError,
        endpoint=template,
        endpoint_where=template_where,
    )
    return _targets_of(
        account,
        chosen,
        template,
        identity,
        insecure_http=r.settings.insecure_http,
        where=template_where,
        error=UsageError if endpoint else ConfigError,
        sts=who_sts,
    )


def _file_targets(r: _Resolution, *, given: Mapping[str, Any]) -> list[Target]:
    env, file = r.env, r.file
    targets: list[Target] = []
    with_roles = 0
    for number, entry in enumerate(file["targets"], start=1):
        where = f"[[targets]] #{number}"
        if "account" in entry:
            _warn_unusual_account(str(entry["account"]), f"{where} account")
        layers = [
            r.flags.layer(),
            Layer(entry, f"{where} {{key}}", ConfigError),
            Layer(file, TOP_LEVEL, ConfigError),
        ]
        base: CredentialSource
        if "access_key_id_env" in entry:
            base = StaticKeys(
                credentials_from_env_vars(
                    env,
                    entry["access_key_id_env"],
                    entry["access_key_secret_env"],
                    entry.get("security_token_env"),
                )
            )
            profile_region = None
        else:
            base, profile_region = r.base(layers, entry.get("profile"))
        identity, account = with_role(
            base,
            entry.get("account", ""),
            layers,
            env=env,
            session_name=r.session_name,
            insecure_http=r.settings.insecure_http,
            account_where=f"{where} account",
            account_error=ConfigError,
        )
        if not account:
            raise ConfigError(
                f'{where} has no account, and its credentials do not name one: add account = "ID"'
            )
        with_roles += isinstance(identity, AssumedRole)
        chosen = _pick_regions(
            [
                (entry.get("regions"), f"{where} regions"),
                (file.get("regions"), "regions"),
                (_env_regions(env), REGION_ENV),
                (profile_region, "the profile's region_id"),
            ],
            f"{where} has no regions, and there is no default (top-level regions or {REGION_ENV})",
            ConfigError,
            endpoint=entry.get("endpoint"),
            endpoint_where=f"{where} endpoint",
        )
        targets += _targets_of(
            account,
            chosen,
            entry.get("endpoint"),
            identity,
            insecure_http=r.settings.insecure_http,
            where=f"{where} endpoint",
            error=ConfigError,
            rate=check_setting("rate", given.get("rate", entry.get("rate"))),
            concurrency=given.get("concurrency", entry.get("concurrency")),
        )
    check_global_role_keys([r.flags.layer(), Layer(file, TOP_LEVEL, ConfigError)], with_roles)
    return targets


def resolve_targets(
    *,
    env: Mapping[str, str],
    settings: CrawlSettings,
    file: Mapping[str, Any] | None = None,
    account: str | None = None,
    regions: Sequence[str] = (),
    endpoint: str | None = None,
    profile: str | None = None,
    identity: IdentityFlags | None = None,
    overrides: Mapping[str, Any] | None = None,
    aliyun_config: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[Target, ...]:
    """Every target of the run, identities resolved, endpoints checked, duplicates refused.

    ``account``/``regions``/``endpoint``/``profile``/``identity`` are the flags. ``overrides`` are the
    setting flags that were given: a ``--rate`` or ``--concurrency`` there beats a ``[[targets]]``
    entry's own. ``clock`` gives the default role session name, ``fcaudit-<unix time>``.
    """
    file = file or {}
    now = clock()
    try:
        session_name = default_session_name(env, lambda: now)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    r = _Resolution(
        env=env,
        settings=settings,
        file=file,
        profile=profile,
        flags=identity or IdentityFlags(),
        aliyun_config=aliyun_config,
        session_name=session_name,
        clock=lambda: now,
    )
    if "targets" in file:
        if account or regions or endpoint:
            raise UsageError(
                "--account, --region and --endpoint cannot be combined with [[targets]] in the config file"
            )
        targets = _file_targets(r, given=check_settings_overrides(overrides or {}))
    else:
        targets = _single_target(r, account=account, regions=regions, endpoint=endpoint)
    seen: set[tuple[str, str]] = set()
    for target in targets:
        if (target.account, target.region) in seen:
            raise ConfigError(
                f"account {target.account} region {target.region} is listed twice in [[targets]]"
            )
        seen.add((target.account, target.region))
    return tuple(targets)


def resolve_config(
    *,
    env: Mapping[str, str],
    config_path: Path | str | None = None,
    account: str | None = None,
    regions: Sequence[str] = (),
    endpoint: str | None = None,
    profile: str | None = None,
    identity: IdentityFlags | None = None,
    overrides: Mapping[str, Any] | None = None,
    aliyun_config: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> RunConfig:
    """Everything a crawl needs from flags, the config file and the environment, checked."""
    file = load_config_file(config_path) if config_path is not None else {}
    settings = settings_from(file, overrides)
    targets = resolve_targets(
        env=env,
        settings=settings,
        file=file,
        account=account,
        regions=regions,
        endpoint=endpoint,
        profile=profile,
        identity=identity,
        overrides=overrides,
        aliyun_config=aliyun_config,
        clock=clock,
    )
    return RunConfig(
        settings=settings,
        targets=targets,
        audit=dict(file.get("audit", {})),
        source=Path(config_path) if config_path is not None else None,
    )
