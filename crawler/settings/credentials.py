"""Where the access key comes from: environment variables or an aliyun CLI profile — never a file of ours.

fcaudit reads the same places the Alibaba Cloud tools do, so a machine already set up for the ``aliyun``
CLI or an SDK needs nothing new: the ``ALIBABA_CLOUD_*`` variables (and the older ``ALIBABACLOUD_*`` and
``ALICLOUD_*`` spellings), or a named profile from ``~/.aliyun/config.json`` in mode ``AK`` or
``StsToken``. Order: an explicit profile, then access keys in the environment, then a profile named by
``ALIBABA_CLOUD_PROFILE``. Nothing is picked silently: with none of these the run stops with one line
saying what to set.

The secret and the STS token are held in fields excluded from ``repr`` and are never put into a message:
errors name the variable or the profile, and at most the access key id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from crawler.errors import CredentialsError

#: the spellings of each variable, in the order they are tried (one whole group at a time)
ENV_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"),
    ("ALIBABACLOUD_ACCESS_KEY_ID", "ALIBABACLOUD_ACCESS_KEY_SECRET", "ALIBABACLOUD_SECURITY_TOKEN"),
    ("ALICLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY_SECRET", "ALICLOUD_SECURITY_TOKEN"),
)
PROFILE_ENV_VARS = ("ALIBABA_CLOUD_PROFILE", "ALIBABACLOUD_PROFILE", "ALICLOUD_PROFILE")
SUPPORTED_MODES = ("AK", "StsToken")
HOW_TO = (
    "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
    "(plus ALIBABA_CLOUD_SECURITY_TOKEN for STS), or pass --profile NAME for an aliyun CLI profile"
)


def default_aliyun_config() -> Path:
    return Path.home() / ".aliyun" / "config.json"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key pair, optionally with an STS token. ``repr`` shows the key id and the source only."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    #: where the key came from, for messages: ``env ALIBABA_CLOUD_*``, ``profile 'prod'``, ...
    source: str = field(default="explicit", compare=False)

    def __post_init__(self) -> None:
        _check_value(self.access_key_id, f"the access key id from {self.source}", show=True)
        _check_value(self.access_key_secret, f"the access key secret from {self.source}", show=False)
        if self.security_token is not None:
            _check_value(self.security_token, f"the security token from {self.source}", show=False)

    @property
    def is_sts(self) -> bool:
        return self.security_token is not None


@dataclass(frozen=True, slots=True)
class Profile:
    """One aliyun CLI profile, reduced to what fcaudit uses."""

    name: str
    mode: str
    credentials: Credentials
    region_id: str | None


def _check_value(value: object, what: str, *, show: bool) -> None:
    """Refuse empty values and characters that cannot go into an HTTP header (or would split one)."""
    if not isinstance(value, str) or not value:
        raise CredentialsError(f"{what} is empty; {HOW_TO}")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ord(ch) > 0x7E for ch in value):
        shown = f" ({value!r})" if show else ""
        raise CredentialsError(
            f"{what}{shown} contains whitespace, control or non-ASCII characters; check how it was copied"
        )


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def credentials_from_env_vars(
    env: Mapping[str, str], id_var: str, secret_var: str, token_var: str | None = None
) -> Credentials:
    """A key pair from the named variables (a ``[[targets]]`` entry can name its own)."""
    key_id, secret = _env_value(env, id_var), _env_value(env, secret_var)
    token = _env_value(env, token_var) if token_var else None
    if key_id is None or secret is None or (token_var and token is None):
        wanted = [(id_var, key_id), (secret_var, secret), (token_var, token)]
        missing = [name for name, value in wanted if name and value is None]
        raise CredentialsError(f"environment variable {' and '.join(missing)} is not set (or empty)")
    return Credentials(key_id, secret, token, source=f"env {id_var}")


def credentials_from_env(env: Mapping[str, str]) -> Credentials | None:
    """The first spelling group with an id or a secret set; ``None`` when no group is set at all."""
    for id_var, secret_var, token_var in ENV_GROUPS:
        key_id, secret = _env_value(env, id_var), _env_value(env, secret_var)
        if key_id is None and secret is None:
            continue
        if key_id is None:
            raise CredentialsError(f"{secret_var} is set but {id_var} is not; set both")
        if secret is None:
            raise CredentialsError(f"{id_var} is set but {secret_var} is not; set both")
        token = _env_value(env, token_var)
        return Credentials(key_id, secret, token, source=f"env {id_var.removesuffix('ACCESS_KEY_ID')}*")
    return None


def profile_from_env(env: Mapping[str, str]) -> str | None:
    for name in PROFILE_ENV_VARS:
        value = _env_value(env, name)
        if value is not None:
            return value
    return None


def _read_aliyun_config(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CredentialsError(
            f"aliyun CLI config {path} not found; create the profile with "
            "'aliyun configure --profile NAME' or set ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET"
        ) from None
    except OSError as exc:
        raise CredentialsError(f"cannot read aliyun CLI config {path}: {exc.strerror}") from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CredentialsError(f"aliyun CLI config {path} is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("profiles", []), list):
        raise CredentialsError(f"aliyun CLI config {path} has no 'profiles' list")
    return data


def load_profile(name: str, path: Path | None = None) -> Profile:
    """Read one profile from the aliyun CLI's config; modes other than AK and StsToken are refused."""
    path = path if path is not None else default_aliyun_config()
    data = _read_aliyun_config(path)
    profiles = [p for p in data.get("profiles", []) if isinstance(p, dict)]
    found = next((p for p in profiles if p.get("name") == name), None)
    if found is None:
        names = ", ".join(sorted(str(p.get("name")) for p in profiles)) or "none"
        raise CredentialsError(f"profile {name!r} not found in {path} (profiles there: {names})")
    mode = found.get("mode") or "AK"
    if mode not in SUPPORTED_MODES:
        raise CredentialsError(
            f"profile {name!r} uses mode {mode!s}, which fcaudit does not support yet; "
            "use an AK or StsToken profile, or the ALIBABA_CLOUD_* environment variables"
        )
    source = f"profile {name!r}"
    key_id, secret = found.get("access_key_id"), found.get("access_key_secret")
    if not isinstance(key_id, str) or not key_id.strip():
        raise CredentialsError(f"profile {name!r} in {path} has no access_key_id")
    if not isinstance(secret, str) or not secret.strip():
        raise CredentialsError(f"profile {name!r} in {path} has no access_key_secret")
    token: str | None = None
    if mode == "StsToken":
        raw_token = found.get("sts_token")
        if not isinstance(raw_token, str) or not raw_token.strip():
            raise CredentialsError(f"profile {name!r} in {path} is mode StsToken but has no sts_token")
        token = raw_token.strip()
    region = found.get("region_id")
    return Profile(
        name=name,
        mode=mode,
        credentials=Credentials(key_id.strip(), secret.strip(), token, source=source),
        region_id=region if isinstance(region, str) and region else None,
    )


def resolve_credentials_and_region(
    *, env: Mapping[str, str], profile: str | None, aliyun_config: Path | None = None
) -> tuple[Credentials, str | None]:
    """Explicit profile > environment keys > profile named in the environment; else one clear error.

    With the credentials comes the profile's ``region_id`` (``None`` for keys from the environment)."""
    if not profile:
        from_env = credentials_from_env(env)
        if from_env is not None:
            return from_env, None
        profile = profile_from_env(env)
    if profile:
        loaded = load_profile(profile, aliyun_config)
        return loaded.credentials, loaded.region_id
    raise CredentialsError(f"no credentials found: {HOW_TO}")
