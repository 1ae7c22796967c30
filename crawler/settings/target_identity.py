"""A target's identity: its base credential source, a role on top of it, and the account it settles.

The role settings — ``role_arn``, ``external_id``, ``role_session_name``, ``duration_seconds`` and
``sts_endpoint`` — come in layers, the first that sets a key wins: the flag (``--role-arn``, ...), the
``[[targets]]`` entry, the config file's top level (a default for every entry). ``role_arn`` may hold
``{account}``, filled in with each target's account; a role ARN without it names one account, and a
target of another account is refused (a role's credentials see only its own account's functions). The
account is settled here too: the one given, else the one the credentials name (a role ARN), else ``""``
— unknown, for the run to learn from STS GetCallerIdentity. Given and named accounts must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from crawler.errors import ConfigError, FatalError
from crawler.settings.identity import AssumedRole, CredentialSource, RoleSpec, describe, source_account
from crawler.settings.roles import (
    DURATION_DEFAULT,
    check_duration,
    check_external_id,
    check_role_arn,
    check_session_name,
    sts_endpoint,
)

#: the role settings, by their config key; the flag is ``--`` + the key with dashes
ROLE_KEYS = ("role_arn", "external_id", "role_session_name", "duration_seconds", "sts_endpoint")
T = TypeVar("T")

#: the role settings that mean nothing without a role to assume
ROLE_ONLY_KEYS = ("external_id", "role_session_name", "duration_seconds")


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of role settings: the flags, a ``[[targets]]`` entry or the file's top level."""

    values: Mapping[str, object]
    #: how a key of this layer is named in messages: ``--{flag}``, ``[[targets]] #2 {key}``, ``{key}``
    label: str
    error: type[FatalError]

    def where(self, key: str) -> str:
        return self.label.format(key=key, flag=key.replace("_", "-"))


FLAGS = "--{flag}"
TOP_LEVEL = "{key}"


def pick(key: str, layers: Sequence[Layer]) -> tuple[object, Layer] | None:
    """The first layer that sets ``key`` (``None`` counts as not set), with that layer."""
    for layer in layers:
        value = layer.values.get(key)
        if value is not None:
            return value, layer
    return None


def explicit_sts(layers: Sequence[Layer]) -> tuple[str | None, str]:
    """The ``sts_endpoint`` the layers set (for every STS call of the chain too), and where."""
    found = pick("sts_endpoint", layers)
    if found is None:
        return None, "sts_endpoint"
    value, layer = found
    return str(value), layer.where("sts_endpoint")


def with_role(
    base: CredentialSource,
    account: str,
    layers: Sequence[Layer],
    *,
    env: Mapping[str, str],
    session_name: str,
    insecure_http: bool,
    account_where: str,
    account_error: type[FatalError],
) -> tuple[CredentialSource, str]:
    """The target's identity (``base``, or a role assumed with it) and its account (``""``: unknown)."""
    found = pick("role_arn", layers)
    if found is None:
        for key in ROLE_ONLY_KEYS:
            other = pick(key, layers)
            if other is not None and other[1].label not in (FLAGS, TOP_LEVEL):  # those are checked once
                where = other[1].where(key)
                raise other[1].error(f"{where} needs a role to assume: set role_arn too, or remove {where}")
        identity = base
    else:
        value, layer = found
        where = layer.where("role_arn")
        try:
            role_arn = check_role_arn(value, placeholder=True)
        except ValueError as exc:
            raise layer.error(f"{where} must be {exc}") from None
        if "{account}" in role_arn:
            if not account:
                raise layer.error(
                    f"{where} holds {{account}} but the account is not known: pass --account ID (or set "
                    "account), or write the role's account id into the ARN"
                )
            role_arn = role_arn.replace("{account}", account)
        identity = AssumedRole(base, _role_spec(role_arn, layers, env, session_name, insecure_http))
    owner = source_account(identity)
    if owner and account and owner != account:
        raise account_error(
            f"{account_where} is account {account}, but the credentials ({describe(identity)}) belong to "
            f"account {owner}; use acs:ram::{{account}}:role/NAME to assume a role of the same name in "
            "each account"
        )
    return identity, account or owner or ""


def _role_spec(
    role_arn: str, layers: Sequence[Layer], env: Mapping[str, str], session_name: str, insecure_http: bool
) -> RoleSpec:
    def checked(key: str, check: Callable[[object], T]) -> T | None:
        found = pick(key, layers)
        if found is None:
            return None
        value, layer = found
        try:
            return check(value)
        except ValueError as exc:
            raise layer.error(f"{layer.where(key)} must be {exc}") from None

    duration = checked("duration_seconds", check_duration)
    sts_value, sts_where = explicit_sts(layers)
    sts_layer = pick("sts_endpoint", layers)
    return RoleSpec(
        role_arn=role_arn,
        session_name=checked("role_session_name", check_session_name) or session_name,
        duration_seconds=DURATION_DEFAULT if duration is None else duration,
        external_id=checked("external_id", check_external_id),
        sts=sts_endpoint(
            env,
            explicit=sts_value,
            explicit_where=sts_where,
            insecure_http=insecure_http,
            error=sts_layer[1].error if sts_layer else ConfigError,
        ),
    )


def check_global_role_keys(layers: Sequence[Layer], targets_with_roles: int) -> None:
    """Role-only settings given as flags or top-level defaults while no target assumes a role."""
    if targets_with_roles:
        return
    for layer in layers:
        if layer.label not in (FLAGS, TOP_LEVEL):
            continue
        for key in ROLE_ONLY_KEYS:
            if layer.values.get(key) is not None:
                where = layer.where(key)
                raise layer.error(f"{where} needs a role to assume: set role_arn too, or remove {where}")


__all__ = [
    "FLAGS",
    "ROLE_KEYS",
    "TOP_LEVEL",
    "Layer",
    "check_global_role_keys",
    "explicit_sts",
    "pick",
    "with_role",
]
