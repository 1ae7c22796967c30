"""Where a target's identity comes from, described: frozen credential *sources*, never fetched here.

A ``CredentialSource`` says how credentials are obtained — static keys, a role assumed on top of another
source, an RRSA/OIDC role, the ECS instance RAM role, a credentials URI, an external process — and the
identity stage (``crawler.identity``) turns it into credentials at run time. This module reads the
environment and files only (the aliyun CLI config; the OIDC token file's *path*, never its content): no
network, no subprocess.

``resolve_source`` is the one credentials chain (docs/estates.md, "Identity and roles", has its table):
the first source that applies wins, the ECS role only when asked for, and "no credentials" names every
place looked at. ``profile_source`` reads one aliyun CLI profile of any unattended mode (ChainableRamRoleArn
to any depth, a cycle refused); the modes that need an interactive login are refused saying why.

Invariants: ``describe`` is the one text of a source fit for messages and logs — it never holds a secret,
a session token, OIDC token content, a credentials URI's query string or an external command line. Equal
sources mean the same identity, so the run can share one provider per source (one AssumeRole per base
identity, role and external id).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.errors import CredentialsError
from crawler.settings.credentials import (
    ENV_GROUPS,
    PROFILE_ENV_VARS,
    Credentials,
    credentials_from_env,
    default_aliyun_config,
    profile_from_env,
    read_aliyun_config,
)
from crawler.settings.endpoints import is_loopback_host
from crawler.settings.roles import (
    DEFAULT_STS,
    DURATION_DEFAULT,
    RoleSpec,
    StsEndpoint,
    arn_account,
    check_duration,
    check_external_id,
    check_oidc_provider_arn,
    check_role_arn,
    check_role_name,
    check_session_name,
    default_session_name,
    env_true,
    sts_endpoint,
)

__all__ = [
    "DEFAULT_STS",
    "HOW_TO",
    "AssumedRole",
    "CredentialSource",
    "CredentialsUri",
    "EcsRamRole",
    "ExternalProcess",
    "OidcRole",
    "RoleSpec",
    "StaticKeys",
    "StsEndpoint",
    "describe",
    "profile_source",
    "resolve_source",
    "source_account",
    "static_credentials",
]


@dataclass(frozen=True, slots=True)
class StaticKeys:
    """Keys as given: the environment, an AK or StsToken profile, a target's ``access_key_id_env``."""

    credentials: Credentials


@dataclass(frozen=True, slots=True)
class AssumedRole:
    """A role assumed with the credentials of ``base``: RamRoleArn and ChainableRamRoleArn profiles,
    ``role_arn`` on a target or as a default, ``--role-arn``."""

    base: CredentialSource
    role: RoleSpec


@dataclass(frozen=True, slots=True)
class OidcRole:
    """A role assumed with an OIDC token (RRSA on ACK, or an OIDC profile); the token file is read again
    on every refresh (the kubelet rotates it), never cached."""

    role: RoleSpec
    provider_arn: str
    token_file: Path


@dataclass(frozen=True, slots=True)
class EcsRamRole:
    """The ECS instance RAM role, only when asked for; ``role_name`` None: the metadata server names it."""

    role_name: str | None
    metadata_url: str = "http://100.100.100.200"
    imdsv1_allowed: bool = True


@dataclass(frozen=True, slots=True)
class CredentialsUri:
    """Credentials from a URL (``ALIBABA_CLOUD_CREDENTIALS_URI``, a CredentialsURI profile); its query
    string may hold a secret, so it is kept out of ``repr`` and ``describe``."""

    uri: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ExternalProcess:
    """An External profile's ``process_command`` (JSON credentials on stdout); the command line may hold a
    secret, so it is kept out of ``repr`` and ``describe``."""

    command: str = field(repr=False)
    profile: str


CredentialSource = StaticKeys | AssumedRole | OidcRole | EcsRamRole | CredentialsUri | ExternalProcess


def _uri_without_query(uri: str) -> str:
    """scheme://host[:port]/path of a URI: no user info, query or fragment (they may hold secrets)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return "(an unparsable URI)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "") + parts.path


def describe(source: CredentialSource) -> str:
    """A one-line description of a source, safe for messages and logs (no secret of any kind)."""
    match source:
        case StaticKeys(credentials=creds):
            return f"{creds.source} (access key {creds.access_key_id})"
        case AssumedRole(base=base, role=role):
            extra = ", with an external id" if role.external_id is not None else ""
            return f"role {role.role_arn}{extra} assumed with {describe(base)}"
        case OidcRole(role=role, provider_arn=provider, token_file=token_file):
            return f"OIDC role {role.role_arn} (provider {provider}, token file {token_file})"
        case EcsRamRole(role_name=name):
            named = f"'{name}'" if name else "(named by the metadata server)"
            return f"ECS instance RAM role {named}"
        case CredentialsUri(uri=uri):
            return f"credentials URI {_uri_without_query(uri)}"
        case ExternalProcess(profile=profile):
            return f"profile {profile!r} (External: its process_command)"
    raise AssertionError(f"unknown credential source {type(source).__name__}")  # pragma: no cover


def static_credentials(source: CredentialSource) -> Credentials:
    """The keys of a ``StaticKeys`` source; any other source is refused (until the identity stage can
    obtain them at run time)."""
    if isinstance(source, StaticKeys):
        return source.credentials
    raise CredentialsError(f"{describe(source)}: this kind of credentials is not yet supported by the crawl")


def source_account(source: CredentialSource) -> str | None:
    """The account the source's credentials belong to, when the source itself says (a role's ARN)."""
    if isinstance(source, AssumedRole | OidcRole):
        return arn_account(source.role.role_arn)
    return None


# ---- the resolution chain ---------------------------------------------------------------------------

HOW_TO = (
    "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, pass --profile NAME for an aliyun "
    "CLI profile, or on ECS pass --ecs-ram-role"
)
OIDC_ENV = ("ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE")
CLI_PROFILE_DISABLED_ENV = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"
CREDENTIALS_URI_ENV = "ALIBABA_CLOUD_CREDENTIALS_URI"
ECS_METADATA_ENV = "ALIBABA_CLOUD_ECS_METADATA"
ECS_METADATA_DISABLED_ENV = "ALIBABA_CLOUD_ECS_METADATA_DISABLED"
IMDSV1_DISABLED_ENV = "ALIBABA_CLOUD_IMDSV1_DISABLED"


@dataclass(frozen=True, slots=True)
class _Context:
    """What every step of a resolution shares."""

    env: Mapping[str, str]
    aliyun_config: Path
    #: an explicit STS endpoint (``--sts-endpoint``, ``sts_endpoint``) and where it came from
    sts: str | None
    sts_where: str
    insecure_http: bool
    clock: Callable[[], float]

    def sts_endpoint(self, profile_region: str | None = None, where: str = "sts_region") -> StsEndpoint:
        return sts_endpoint(
            self.env,
            explicit=self.sts,
            explicit_where=self.sts_where,
            profile_region=profile_region,
            profile_where=where,
            insecure_http=self.insecure_http,
            error=CredentialsError,
        )

    def session_name(self, given: object, where: str) -> str:
        try:
            if given:
                return check_session_name(given)
            return default_session_name(self.env, self.clock)
        except ValueError as exc:
            raise CredentialsError(f"{where} must be {exc}") from None

    def ecs_role(self, name: str | None) -> EcsRamRole:
        return EcsRamRole(role_name=name, imdsv1_allowed=not env_true(self.env, IMDSV1_DISABLED_ENV))


def resolve_source(
    *,
    env: Mapping[str, str],
    profile: str | None,
    aliyun_config: Path | None = None,
    ecs_ram_role: str | bool | None = None,
    sts: str | None = None,
    sts_where: str = "--sts-endpoint",
    insecure_http: bool = False,
    clock: Callable[[], float] = time.time,
) -> tuple[CredentialSource, str | None]:
    """The base identity of a target: the first source that applies, with the profile's ``region_id``.

    In order: ``profile`` (``--profile`` or the config file's); ``ecs_ram_role`` (``--ecs-ram-role``:
    True, or a role name); access keys in the environment (three spellings, with an STS token); the
    RRSA/OIDC triple; ``ALIBABA_CLOUD_PROFILE`` (three spellings); the aliyun CLI config's ``current``
    profile (unless ``ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true``); ``ALIBABA_CLOUD_CREDENTIALS_URI``;
    ``ALIBABA_CLOUD_ECS_METADATA`` (unless ``ALIBABA_CLOUD_ECS_METADATA_DISABLED=true``). The ECS role
    is never probed unasked. ``sts``: an explicit STS endpoint, for every role of the chain. With
    none of these, one ``CredentialsError`` naming every place looked at."""
    ctx = _Context(env, aliyun_config or default_aliyun_config(), sts, sts_where, insecure_http, clock)
    if profile and ecs_ram_role:
        raise CredentialsError("--ecs-ram-role and a profile both name the credentials; keep one")
    if profile:
        return profile_source(profile, ctx=ctx)
    if ecs_ram_role:
        name = None if ecs_ram_role is True else str(ecs_ram_role)
        return ctx.ecs_role(_checked(check_role_name, name, "--ecs-ram-role") if name else None), None
    looked = ["--profile (not given)", "--ecs-ram-role (not given)"]
    keys = credentials_from_env(env)
    if keys is not None:
        return StaticKeys(keys), None
    looked.append(f"env {', '.join(group[0] for group in ENV_GROUPS)} (not set)")
    oidc = _oidc_from_env(ctx)
    if oidc is not None:
        return oidc, None
    looked.append(f"env {' + '.join(OIDC_ENV)} for RRSA (not set)")
    named = profile_from_env(env)
    if named:
        return profile_source(named, ctx=ctx)
    looked.append(f"env {', '.join(PROFILE_ENV_VARS)} (not set)")
    current, note = _current_profile(ctx)
    if current is not None:
        return profile_source(current, ctx=ctx)
    looked.append(f"the aliyun CLI's current profile ({note})")
    uri = env.get(CREDENTIALS_URI_ENV, "").strip()
    if uri:
        return _credentials_uri(uri, CREDENTIALS_URI_ENV, ctx), None
    looked.append(f"env {CREDENTIALS_URI_ENV} (not set)")
    ecs = env.get(ECS_METADATA_ENV, "").strip()
    if env_true(env, ECS_METADATA_DISABLED_ENV):
        looked.append(f"the ECS instance RAM role ({ECS_METADATA_DISABLED_ENV}=true)")
    elif ecs:
        return ctx.ecs_role(_checked(check_role_name, ecs, ECS_METADATA_ENV)), None
    else:
        looked.append(f"the ECS instance RAM role (not asked for: set {ECS_METADATA_ENV}=ROLE)")
    raise CredentialsError(f"no credentials found; looked at: {'; '.join(looked)}. To fix: {HOW_TO}")


def _checked(check: Callable[[object], str], value: object, where: str) -> str:
    try:
        return check(value)
    except ValueError as exc:
        raise CredentialsError(f"{where} must be {exc}") from None


def _oidc_from_env(ctx: _Context) -> OidcRole | None:
    """The RRSA triple when all three are set; a partial triple is refused, naming what is missing —
    except ``ALIBABA_CLOUD_ROLE_ARN`` alone, which other tools read for other purposes."""
    values = {name: ctx.env.get(name, "").strip() for name in OIDC_ENV}
    role_arn, provider, token_file = values.values()
    if not provider and not token_file:
        return None
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise CredentialsError(
            f"RRSA needs {', '.join(OIDC_ENV)}; {' and '.join(missing)} not set (on ACK, check that the "
            "pod's service account has the pod-identity.alibabacloud.com/role-name annotation)"
        )
    return _oidc_role(
        role_arn=role_arn,
        provider=provider,
        token_file=token_file,
        session=None,
        duration=None,
        profile_region=None,
        where={"role": OIDC_ENV[0], "provider": OIDC_ENV[1], "token": OIDC_ENV[2], "session": ""},
        ctx=ctx,
    )


def _oidc_role(
    *,
    role_arn: str,
    provider: str,
    token_file: str,
    session: object,
    duration: object,
    profile_region: str | None,
    where: Mapping[str, str],
    ctx: _Context,
) -> OidcRole:
    path = Path(token_file).expanduser()
    if not path.is_file():
        raise CredentialsError(
            f"{where['token']} names {path}, which is not a file; on ACK the pod-identity webhook mounts "
            "the token there (check the annotation and that the pod was recreated)"
        )
    role = RoleSpec(
        role_arn=_checked(check_role_arn, role_arn, where["role"]),
        session_name=ctx.session_name(session, where["session"] or "ALIBABA_CLOUD_ROLE_SESSION_NAME"),
        duration_seconds=_duration(duration, where.get("duration", "")),
        sts=ctx.sts_endpoint(profile_region),
    )
    return OidcRole(role, _checked(check_oidc_provider_arn, provider, where["provider"]), path)


def _duration(value: object, where: str) -> int:
    """A profile's ``expired_seconds`` (0 or absent: the default), checked."""
    if value in (None, 0, ""):
        return DURATION_DEFAULT
    try:
        return check_duration(value)
    except ValueError as exc:
        raise CredentialsError(f"{where} must be {exc}") from None


def _current_profile(ctx: _Context) -> tuple[str | None, str]:
    """The aliyun CLI's ``current`` profile, or why there is none (for the "looked at" line)."""
    if env_true(ctx.env, CLI_PROFILE_DISABLED_ENV):
        return None, f"{CLI_PROFILE_DISABLED_ENV}=true"
    if not ctx.aliyun_config.exists():
        return None, f"{ctx.aliyun_config} not found"
    current = read_aliyun_config(ctx.aliyun_config).get("current")
    if not isinstance(current, str) or not current.strip():
        return None, f"{ctx.aliyun_config} names no current profile"
    return current.strip(), ""


def _credentials_uri(uri: str, where: str, ctx: _Context) -> CredentialsUri:
    """A credentials URI, checked; messages show it without user info, query or fragment."""
    shown = _uri_without_query(uri)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise CredentialsError(f"{where}: {shown} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CredentialsError(f"{where}: {shown} must be an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise CredentialsError(f"{where}: {shown} must not carry a user name or password")
    if parts.scheme == "http" and not ctx.insecure_http and not is_loopback_host(parts.hostname):
        raise CredentialsError(
            f"{where}: plain http to {parts.hostname} would expose the credentials it answers; use https "
            "or a loopback address, or allow it with --insecure-http (insecure_http = true)"
        )
    return CredentialsUri(uri)


# ---- aliyun CLI profiles ----------------------------------------------------------------------------

#: modes refused, and why
REFUSED_MODES = {
    "CloudSSO": "needs an interactive browser login (aliyun configure --mode CloudSSO)",
    "OAuth": "needs an interactive browser login (aliyun configure --mode OAuth)",
    "BearerToken": "holds a bearer token for a few products only, not a signing key",
    "RsaKeyPair": "is deprecated by Alibaba Cloud",
    "RamRoleArnWithRoleName": "is deprecated by Alibaba Cloud",
    "Anonymous": "sends unsigned requests, which FC refuses",
}
INSTEAD = (
    "for unattended audits use an AK, RamRoleArn, ChainableRamRoleArn, OIDC (RRSA), EcsRamRole, External or "
    "CredentialsURI profile"
)


def _infer_mode(found: Mapping[str, Any]) -> str | None:
    """A missing ``mode`` as the aliyun CLI infers it (``AutoModeRecognition``)."""

    def has(*keys: str) -> bool:
        return all(isinstance(found.get(k), str) and found[k].strip() for k in keys)

    if has("access_key_id", "access_key_secret"):
        return "StsToken" if has("sts_token") else "RamRoleArn" if has("ram_role_arn") else "AK"
    if has("private_key", "key_pair_name"):
        return "RsaKeyPair"
    if has("ram_role_name"):
        return "EcsRamRole"
    if has("process_command"):
        return "External"
    if has("oidc_provider_arn", "oidc_token_file", "ram_role_arn"):
        return "OIDC"
    if has("cloud_sso_sign_in_url"):
        return "CloudSSO"
    return None


def profile_source(
    name: str,
    *,
    ctx: _Context | None = None,
    env: Mapping[str, str] | None = None,
    aliyun_config: Path | None = None,
    _chain: tuple[str, ...] = (),
) -> tuple[CredentialSource, str | None]:
    """The source of one aliyun CLI profile, with its ``region_id``; every field checked."""
    if ctx is None:
        ctx = _Context(env or {}, aliyun_config or default_aliyun_config(), None, "", False, time.time)
    path = ctx.aliyun_config
    profiles = [p for p in read_aliyun_config(path).get("profiles", []) if isinstance(p, dict)]
    found = next((p for p in profiles if p.get("name") == name), None)
    if found is None:
        names = ", ".join(sorted(str(p.get("name")) for p in profiles)) or "none"
        raise CredentialsError(f"profile {name!r} not found in {path} (profiles there: {names})")
    label = f"profile {name!r}"
    raw_mode = found.get("mode")
    mode = raw_mode if isinstance(raw_mode, str) and raw_mode else _infer_mode(found)
    if mode is None:
        raise CredentialsError(
            f"{label} in {path} has no mode, and its fields do not tell which; set it with "
            f"'aliyun configure --profile {name} --mode MODE'"
        )

    def text(key: str, *, required: bool = True) -> str | None:
        value = found.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value not in (None, "") and not isinstance(value, str):
            raise CredentialsError(f"{label} in {path}: {key} must be a string")
        if required:
            raise CredentialsError(f"{label} in {path} is mode {mode} but has no {key}")
        return None

    def keys(token: bool) -> StaticKeys:
        key_id, secret = text("access_key_id"), text("access_key_secret")
        sts_token = text("sts_token", required=token)
        return StaticKeys(Credentials(str(key_id), str(secret), sts_token, source=label))

    def role(*, external: bool) -> RoleSpec:
        external_id = text("external_id", required=False) if external else None
        return RoleSpec(
            role_arn=_checked(check_role_arn, text("ram_role_arn"), f"{label} ram_role_arn"),
            session_name=ctx.session_name(found.get("ram_session_name"), f"{label} ram_session_name"),
            duration_seconds=_duration(found.get("expired_seconds"), f"{label} expired_seconds"),
            external_id=(
                _checked(check_external_id, external_id, f"{label} external_id") if external_id else None
            ),
            sts=ctx.sts_endpoint(text("sts_region", required=False), f"{label} sts_region"),
        )

    region = text("region_id", required=False)
    source: CredentialSource
    if mode in ("AK", "StsToken"):
        source = keys(token=mode == "StsToken")
    elif mode == "RamRoleArn":
        source = AssumedRole(keys(token=False), role(external=True))
    elif mode == "ChainableRamRoleArn":
        parent = str(text("source_profile"))
        chain = (*_chain, name)
        if parent in chain:
            loop = " → ".join(f"'{p}'" for p in (*chain[chain.index(parent) :], parent))
            raise CredentialsError(
                f"{label} in {path}: source_profile makes a cycle ({loop}); point one of them at a profile "
                "with its own keys"
            )
        base, parent_region = profile_source(parent, ctx=ctx, _chain=chain)
        source, region = AssumedRole(base, role(external=True)), region or parent_region
    elif mode == "EcsRamRole":
        role_name = text("ram_role_name", required=False)
        source = ctx.ecs_role(
            _checked(check_role_name, role_name, f"{label} ram_role_name") if role_name else None
        )
    elif mode == "OIDC":
        source = _oidc_role(
            role_arn=str(text("ram_role_arn")),
            provider=str(text("oidc_provider_arn")),
            token_file=str(text("oidc_token_file")),
            session=found.get("ram_session_name"),
            duration=found.get("expired_seconds"),
            profile_region=text("sts_region", required=False),
            where={
                "role": f"{label} ram_role_arn",
                "provider": f"{label} oidc_provider_arn",
                "token": f"{label} oidc_token_file",
                "session": f"{label} ram_session_name",
                "duration": f"{label} expired_seconds",
            },
            ctx=ctx,
        )
    elif mode == "External":
        source = ExternalProcess(str(text("process_command")), name)
    elif mode == "CredentialsURI":
        source = _credentials_uri(str(text("credentials_uri")), f"{label} credentials_uri", ctx)
    elif mode in REFUSED_MODES:
        raise CredentialsError(f"{label} uses mode {mode}, which {REFUSED_MODES[mode]}; {INSTEAD}")
    else:
        raise CredentialsError(f"{label} in {path} has an unknown mode {mode!r}; {INSTEAD}")
    return source, region
