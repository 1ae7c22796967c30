"""The TOML config file: parsed with tomllib, every key and value checked before anything runs.

Kept apart from ``settings.config`` (which merges file, flags and environment) so the rules a value must
meet live in one table, ``SETTING_RULES``, used for the file's ``[crawl]`` table, the ``[[targets]]``
overrides, the command-line flags and ``CrawlSettings`` itself. Every refusal is one line naming the file
and the key: ``config file f.toml: [crawl] concurrency must be an integer at least 1 ...``. Unknown keys
are refused (with the closest known key as a hint), never ignored: a typo must not silently turn a rate
limit off. A key that looks like a secret gets its own message: secrets never go in this file.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from crawler.errors import ConfigError
from crawler.settings.endpoints import check_account, check_region
from crawler.settings.roles import check_duration, check_external_id, check_role_arn, check_session_name
from crawler.settings.trigger_modes import check_trigger_modes

# name: (kind, low, high, low is exclusive)
SETTING_RULES: dict[str, tuple[str, float, float, bool]] = {
    "concurrency": ("int", 1, 4096, False),
    "rate": ("float", 0, 1e6, True),
    "page_size": ("int", 1, 100, False),
    "max_pages": ("int", 1, 10_000_000, False),
    "max_attempts": ("int", 1, 20, False),
    "backoff_base": ("float", 0, 60, True),
    "backoff_cap": ("float", 0, 3600, True),
    "retry_budget": ("float", 0, 1e6, False),
    "outage_wait": ("float", 0, 86400, False),
    "unreachable_after": ("duration", 0, 86400, False),
    "connect_timeout": ("float", 0, 600, True),
    "read_timeout": ("float", 0, 3600, True),
    "total_timeout": ("float", 0, 86400, True),
    "function_deadline": ("duration", 0, 7 * 86400, True),
    "deadline": ("duration", 0, 30 * 86400, True),
    "max_body_bytes": ("int", 1024, 2**31, False),
    "max_configs_per_function": ("int", 1, 10_000_000, False),
    "max_function_bytes": ("int", 1024, 2**40, False),
    "max_token_length": ("int", 64, 1_048_576, False),
    "insecure_http": ("bool", 0, 0, False),
    "triggers": ("bool", 0, 0, False),
    "sts_rate": ("float", 0, 100, True),
}


#: settings whose absence (``None``) means "no limit"
OPTIONAL_SETTINGS = frozenset({"rate", "deadline"})
_DURATION = re.compile(
    r"(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?"
)
_UNIT_SECONDS = (86400.0, 3600.0, 60.0, 1.0)


def parse_duration(text: str) -> float:
    """Seconds from ``"90"``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or ``"1h30m"``; ``ValueError`` else."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or not text.strip() or not any(match.groups()):
        raise ValueError(text)
    return sum(float(part) * unit for part, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if part)


def rule_text(name: str) -> str:
    kind, low, high, open_low = SETTING_RULES[name]
    if kind == "bool":
        return "true or false"
    if kind == "duration":
        return (
            f"a duration greater than {low:g} s and at most {high / 86400:g} days: seconds (90) or a "
            "number with a unit (90s, 30m, 2h, 1d, 1h30m)"
        )
    noun = "an integer" if kind == "int" else "a number"
    low_text = f"greater than {low:g}" if open_low else f"at least {low:g}"
    return f"{noun} {low_text} and at most {high:g}"


def check_setting(name: str, value: object) -> Any:
    """The value, normalised (ints to float where a float is wanted); ``ValueError`` with the rule if bad."""
    kind, low, high, open_low = SETTING_RULES[name]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError(rule_text(name))
    if name in OPTIONAL_SETTINGS and value is None:
        return None
    if kind == "duration" and isinstance(value, str):
        try:
            value = parse_duration(value)
        except ValueError:
            raise ValueError(rule_text(name)) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(rule_text(name))
    if kind == "int" and not isinstance(value, int):
        raise ValueError(rule_text(name))
    number = float(value)
    too_low = number <= low if open_low else number < low
    if not math.isfinite(number) or too_low or number > high:
        raise ValueError(rule_text(name))
    return value if kind == "int" else number


#: a role to assume, at the top level (the default for every target) or on a [[targets]] entry
_ROLE_KEYS = ("role_arn", "external_id", "role_session_name", "duration_seconds", "sts_endpoint")
_TOP_KEYS = ("account", "regions", "endpoint", "profile", *_ROLE_KEYS, "crawl", "targets", "audit")
_TARGET_KEYS = (
    "account",
    "regions",
    "endpoint",
    "profile",
    *_ROLE_KEYS,
    "access_key_id_env",
    "access_key_secret_env",
    "security_token_env",
    "rate",
    "concurrency",
)
_SECRET_KEYS = ("access_key_id", "access_key_secret", "security_token", "sts_token", "secret", "password")


def _unknown(key: str, where: str, known: Sequence[str]) -> ConfigError:
    if key in _SECRET_KEYS:
        return ConfigError(
            f"{where}: '{key}' refused — secrets do not belong in the config file; name the environment "
            "variables (access_key_id_env, access_key_secret_env) or an aliyun CLI profile (profile) instead"
        )
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f" (known keys: {', '.join(known)})"
    return ConfigError(f"{where}: unknown key '{key}'{hint}")


def _type_name(value: object) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), f"a {type(value).__name__}")


def _want_str(data: Mapping[str, Any], key: str, where: str) -> None:
    if key in data and (not isinstance(data[key], str) or not data[key].strip()):
        raise ConfigError(f"{where}{key} must be a non-empty string, got {_type_name(data[key])}")


def _check_regions(value: object, where: str) -> None:
    if value == "*":
        return
    if not isinstance(value, list) or not value or not all(isinstance(r, str) for r in value):
        raise ConfigError(f'{where}regions must be a non-empty array of region ids or "*"')
    for region in value:
        check_region(region, f"{where}regions")
    duplicates = sorted({r for r in value if value.count(r) > 1})
    if duplicates:
        raise ConfigError(f"{where}regions lists {duplicates[0]} twice")


def _check_crawl_table(table: object, where: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}[crawl] must be a table, got {_type_name(table)}")
    for key, value in table.items():
        if key not in SETTING_RULES:
            raise _unknown(key, f"{where}[crawl]", tuple(SETTING_RULES))
        try:
            check_setting(key, value)
        except ValueError as exc:
            raise ConfigError(f"{where}[crawl] {key} must be {exc}, got {value!r}") from None
    base, cap = table.get("backoff_base", 0.2), table.get("backoff_cap", 20.0)
    if base > cap:
        raise ConfigError(f"{where}[crawl] backoff_base ({base:g}) must not exceed backoff_cap ({cap:g})")


_ROLE_CHECKS: dict[str, Callable[[object], object]] = {
    "role_arn": lambda value: check_role_arn(value, placeholder=True),
    "external_id": check_external_id,
    "role_session_name": check_session_name,
    "duration_seconds": check_duration,
}


def _check_role_keys(data: Mapping[str, Any], where: str) -> None:
    """The role keys of the top level or of one entry (the STS endpoint is checked at resolution, where
    ``insecure_http`` is known)."""
    _want_str(data, "sts_endpoint", where)
    for key, check in _ROLE_CHECKS.items():
        if key in data:
            try:
                check(data[key])
            except ValueError as exc:
                raise ConfigError(f"{where}{key} must be {exc}") from None


def _check_target(entry: object, where: str) -> None:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table, got {_type_name(entry)}")
    for key in entry:
        if key not in _TARGET_KEYS:
            raise _unknown(key, where, _TARGET_KEYS)
    for key in ("account", "endpoint", "profile", "access_key_id_env", "access_key_secret_env"):
        _want_str(entry, key, f"{where} ")
    _want_str(entry, "security_token_env", f"{where} ")
    if "account" in entry:  # without one, its role ARN must name it (checked at resolution)
        check_account(entry["account"], f"{where} account")
    _check_role_keys(entry, f"{where} ")
    if "regions" in entry:
        _check_regions(entry["regions"], f"{where} ")
    has_id, has_secret = "access_key_id_env" in entry, "access_key_secret_env" in entry
    if has_id != has_secret:
        raise ConfigError(f"{where} needs both access_key_id_env and access_key_secret_env, or neither")
    if "security_token_env" in entry and not has_id:
        raise ConfigError(f"{where} security_token_env needs access_key_id_env and access_key_secret_env")
    if has_id and "profile" in entry:
        raise ConfigError(f"{where} names both a profile and access key variables; keep one")
    for key in ("rate", "concurrency"):
        if key in entry:
            try:
                check_setting(key, entry[key])
            except ValueError as exc:
                raise ConfigError(f"{where} {key} must be {exc}, got {entry[key]!r}") from None


def validate_config(data: Mapping[str, Any], label: str = "config") -> None:
    """Check a parsed config file's structure, types and values; ConfigError naming the key if bad."""
    where = f"{label}: "
    for key in data:
        if key not in _TOP_KEYS:
            raise _unknown(key, label, _TOP_KEYS)
    for key in ("account", "endpoint", "profile"):
        _want_str(data, key, where)
    if "account" in data:
        check_account(data["account"], f"{where}account")
    _check_role_keys(data, where)
    if "regions" in data:
        _check_regions(data["regions"], where)
    if "crawl" in data:
        _check_crawl_table(data["crawl"], where)
    if "audit" in data and not isinstance(data["audit"], dict):
        raise ConfigError(f"{where}[audit] must be a table, got {_type_name(data['audit'])}")
    if "trigger_modes" in data.get("audit", {}):  # the crawl classifies triggers with it: checked here
        check_trigger_modes(data["audit"]["trigger_modes"], f"{where}[audit] trigger_modes")
    if "targets" in data:
        targets = data["targets"]
        if not isinstance(targets, list) or not targets:
            raise ConfigError(f"{where}targets must be a non-empty array of tables ([[targets]])")
        for key in ("account", "endpoint"):
            if key in data:
                raise ConfigError(
                    f"{where}top-level {key} conflicts with [[targets]]; move it into each target"
                )
        for number, entry in enumerate(targets, start=1):
            _check_target(entry, f"{where}[[targets]] #{number}")


def load_config_file(path: Path | str) -> dict[str, Any]:
    """Parse and validate a TOML config file; ConfigError naming the file and the key when it is wrong."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    validate_config(data, f"config file {path}")
    return data
