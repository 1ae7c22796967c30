"""STS roles and endpoints as settings: what a role to assume is, each value checked, and where STS is.

``RoleSpec`` and ``StsEndpoint`` (re-exported by ``crawler.settings.identity``) are built only through the
checks here, so a bad role ARN, session name, duration or external id stops the run at start-up with one
line naming the setting, never at the first AssumeRole. The STS endpoint is, first that applies: an
explicit ``sts_endpoint`` (flag or config), ``ALIBABA_CLOUD_STS_ENDPOINT`` (ACK's pod-identity webhook
injects it), a region — a profile's ``sts_region``, else ``ALIBABA_CLOUD_STS_REGION`` — as
``sts.{region}.aliyuncs.com`` (``sts-vpc.{region}.aliyuncs.com`` with
``ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=true``), else ``sts.aliyuncs.com``. Plain http only to loopback (or
with ``insecure_http``), as for FC: an STS request carries a signature or an OIDC token.

Checkers raise ``ValueError`` with what a value must be; callers add where it came from (the flag, the
key, the variable) and choose the error class. No message echoes an external id, nor a value that does
not look like what was wanted (a token pasted where an ARN belongs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from crawler.errors import FatalError
from crawler.settings.endpoints import REGION_RE, check_endpoint

#: a role ARN; the account may be the ``{account}`` placeholder where a setting fills it per target
ROLE_ARN_RE = re.compile(r"acs:ram::(\d{1,32}|\{account\}):role/([A-Za-z0-9._-]{1,64})")
OIDC_PROVIDER_RE = re.compile(r"acs:ram::\d{1,32}:oidc-provider/[A-Za-z0-9._-]{1,128}")
SESSION_NAME_RE = re.compile(r"[A-Za-z0-9.@_-]{2,32}")
EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
ROLE_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
DURATION_MIN, DURATION_MAX, DURATION_DEFAULT = 900, 43_200, 3_600
SESSION_NAME_ENV = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
STS_ENDPOINT_ENV = "ALIBABA_CLOUD_STS_ENDPOINT"
STS_REGION_ENV = "ALIBABA_CLOUD_STS_REGION"
VPC_ENV = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"


@dataclass(frozen=True, slots=True)
class StsEndpoint:
    """Where STS calls go: ``https://sts.aliyuncs.com``, a regional or VPC host, or a loopback http URL."""

    url: str


DEFAULT_STS = StsEndpoint("https://sts.aliyuncs.com")


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """One STS role to assume (AssumeRole, or AssumeRoleWithOIDC with ``external_id`` None)."""

    role_arn: str
    session_name: str
    duration_seconds: int = DURATION_DEFAULT
    #: kept out of ``repr``: not a credential, but a shared secret of the role's trust policy
    external_id: str | None = field(default=None, repr=False)
    sts: StsEndpoint = DEFAULT_STS


def env_true(env: Mapping[str, str], name: str) -> bool:
    """A boolean variable as the SDKs read it: ``true`` in any case is true, anything else false."""
    return env.get(name, "").strip().lower() == "true"


def _shown(value: object, *, arn: bool = False, limit: int = 64) -> str:
    """``, got 'value'`` for a message — only when the value looks like what was wanted: a variable set to
    the wrong thing (a token where an ARN belongs) must not be echoed."""
    if not isinstance(value, str) or len(value) > limit or (arn and not value.startswith("acs:")):
        return " (the value is not shown)" if isinstance(value, str) else ""
    return f", got {value!r}"


def check_role_arn(value: object, *, placeholder: bool = False) -> str:
    """A role ARN ``acs:ram::<account id>:role/<name>`` (``{account}`` as the account where allowed)."""
    shape = "acs:ram::ACCOUNT_ID:role/NAME" + (" (ACCOUNT_ID may be {account})" if placeholder else "")
    match = ROLE_ARN_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None or (match.group(1) == "{account}" and not placeholder):
        raise ValueError(f"a role ARN like {shape}{_shown(value, arn=True, limit=200)}")
    return str(value)


def arn_account(role_arn: str) -> str | None:
    """The account id of a role ARN; ``None`` when it is the ``{account}`` placeholder."""
    match = ROLE_ARN_RE.fullmatch(role_arn)
    account = match.group(1) if match else None
    return None if account in (None, "{account}") else account


def check_session_name(value: object) -> str:
    if not isinstance(value, str) or not SESSION_NAME_RE.fullmatch(value):
        raise ValueError(f"2 to 32 characters from A-Z a-z 0-9 . @ _ -{_shown(value)}")
    return value


def check_duration(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not DURATION_MIN <= value <= DURATION_MAX:
        raise ValueError(f"an integer number of seconds from {DURATION_MIN} to {DURATION_MAX}, got {value!r}")
    return value


def check_external_id(value: object) -> str:
    """2 to 1224 characters of ``[A-Za-z0-9_+=,.@:/-]``; the value is never echoed."""
    if not isinstance(value, str) or not EXTERNAL_ID_RE.fullmatch(value):
        raise ValueError("2 to 1224 characters from A-Z a-z 0-9 _ + = , . @ : / - (value not shown)")
    return value


def check_role_name(value: object) -> str:
    if not isinstance(value, str) or not ROLE_NAME_RE.fullmatch(value):
        raise ValueError(f"a RAM role name: 1 to 64 characters from A-Z a-z 0-9 . _ -{_shown(value)}")
    return value


def check_oidc_provider_arn(value: object) -> str:
    if not isinstance(value, str) or not OIDC_PROVIDER_RE.fullmatch(value):
        shown = _shown(value, arn=True, limit=200)
        raise ValueError(f"an OIDC provider ARN like acs:ram::ACCOUNT_ID:oidc-provider/NAME{shown}")
    return value


def default_session_name(env: Mapping[str, str], clock: Callable[[], float]) -> str:
    """``ALIBABA_CLOUD_ROLE_SESSION_NAME`` (checked) where the SDKs read it, else ``fcaudit-<unix time>``."""
    from_env = env.get(SESSION_NAME_ENV, "").strip()
    if from_env:
        try:
            return check_session_name(from_env)
        except ValueError as exc:
            raise ValueError(f"{SESSION_NAME_ENV} must be {exc}") from None
    return f"fcaudit-{int(clock())}"


def sts_url(value: str, *, insecure_http: bool, where: str, error: type[FatalError]) -> StsEndpoint:
    """An explicit STS endpoint: a URL, or a bare host (``sts-vpc.cn-hangzhou.aliyuncs.com``) as https."""
    url = value.strip()
    if "://" not in url:
        url = f"https://{url}"
    return StsEndpoint(check_endpoint(url, insecure_http=insecure_http, where=where, error=error))


def sts_endpoint(
    env: Mapping[str, str],
    *,
    explicit: str | None = None,
    explicit_where: str = "sts_endpoint",
    profile_region: str | None = None,
    profile_where: str = "sts_region",
    insecure_http: bool = False,
    error: type[FatalError],
) -> StsEndpoint:
    """The STS endpoint, the first that applies (see the module docstring)."""
    if explicit:
        return sts_url(explicit, insecure_http=insecure_http, where=explicit_where, error=error)
    from_env = env.get(STS_ENDPOINT_ENV, "").strip()
    if from_env:
        return sts_url(from_env, insecure_http=insecure_http, where=STS_ENDPOINT_ENV, error=error)
    region, where = profile_region, profile_where
    if not region:
        region, where = env.get(STS_REGION_ENV, "").strip(), STS_REGION_ENV
    if not region:
        return DEFAULT_STS
    if not REGION_RE.fullmatch(region):
        raise error(f"{where}: region {region!r} is not valid (expected a region id like cn-hangzhou)")
    prefix = "sts-vpc" if env_true(env, VPC_ENV) else "sts"
    return StsEndpoint(f"https://{prefix}.{region}.aliyuncs.com")
