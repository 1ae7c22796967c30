"""Access keys and where the aliyun CLI keeps them: environment variables and ~/.aliyun/config.json.

``Credentials`` is one key pair (optionally with an STS token). The ``ALIBABA_CLOUD_*`` variables (and
the older ``ALIBABACLOUD_*`` and ``ALICLOUD_*`` spellings) are read here, a target's own named variables
too, and the aliyun CLI's config file is parsed here; which of these places a run uses, and every other
kind of identity (roles, RRSA, ECS, credentials URI, external process), is ``crawler.settings.identity``.

The secret and the STS token are held in fields excluded from ``repr`` and are never put into a message:
errors name the variable or the profile, and at most the access key id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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
    #: when session credentials stop working (``None``: long-lived keys, or not said)
    expiration: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_value(self.access_key_id, f"the access key id from {self.source}", show=True)
        _check_value(self.access_key_secret, f"the access key secret from {self.source}", show=False)
        if self.security_token is not None:
            _check_value(self.security_token, f"the security token from {self.source}", show=False)

    @property
    def is_sts(self) -> bool:
        return self.security_token is not None


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


def read_aliyun_config(path: Path) -> dict[str, Any]:
    """The aliyun CLI's config file, parsed; one-line errors naming the file when it is unusable."""
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
