"""A role per target: ``role_arn`` on a [[targets]] entry, as a top-level default and as ``--role-arn``
(``{account}`` filled in per account), with its external id, session name, duration and STS endpoint;
the account a role names; every bad value refused in one line naming the setting, never echoing an
external id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.errors import ConfigError, CredentialsError, FatalError, UsageError
from crawler.settings.config import (
    CrawlSettings,
    IdentityFlags,
    Target,
    load_config_file,
    resolve_config,
    resolve_targets,
)
from crawler.settings.credentials import Credentials
from crawler.settings.identity import AssumedRole, EcsRamRole, RoleSpec, StaticKeys, StsEndpoint

ROOT = Path(__file__).resolve().parents[2]
SECRET = "roles-SECRET-never-shown"
EXTERNAL_ID = "ext-ID-never-echoed"
ENV = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKCENTRAL", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}
BASE = StaticKeys(Credentials("AKCENTRAL", SECRET))
NOW = 1700000000
A, B = "1111111111111111", "2222222222222222"
NO_ALIYUN = Path("/nonexistent/fcaudit/aliyun.json")


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "estate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def resolve(tmp_path: Path | None = None, text: str | None = None, **kwargs: Any) -> tuple[Target, ...]:
    kwargs.setdefault("env", ENV)
    kwargs.setdefault("aliyun_config", NO_ALIYUN)
    kwargs.setdefault("clock", lambda: NOW)
    if text is not None:
        assert tmp_path is not None
        return resolve_config(config_path=toml(tmp_path, text), **kwargs).targets
    kwargs.setdefault("settings", CrawlSettings())
    return resolve_targets(**kwargs)


def refused(
    error: type[FatalError], tmp_path: Path | None = None, text: str | None = None, **kwargs: Any
) -> str:
    with pytest.raises(error) as caught:
        resolve(tmp_path, text, **kwargs)
    message = caught.value.message
    assert "\n" not in message
    assert SECRET not in message
    assert EXTERNAL_ID not in message
    return message


def roles(targets: tuple[Target, ...]) -> dict[tuple[str, str], str | None]:
    return {
        (t.account, t.region): t.identity.role.role_arn if isinstance(t.identity, AssumedRole) else None
        for t in targets
    }


def test_a_default_role_with_account_for_every_entry_and_one_of_its_own(tmp_path: Path) -> None:
    text = f"""
regions = ["cn-hangzhou"]
role_arn = "acs:ram::{{account}}:role/fcaudit-audit"
external_id = "{EXTERNAL_ID}"
[[targets]]
account = "{A}"
[[targets]]
account = "{B}"
regions = ["cn-hangzhou", "cn-shanghai"]
role_arn = "acs:ram::{B}:role/legacy"
duration_seconds = 7200
"""
    targets = resolve(tmp_path, text)
    assert roles(targets) == {
        (A, "cn-hangzhou"): f"acs:ram::{A}:role/fcaudit-audit",
        (B, "cn-hangzhou"): f"acs:ram::{B}:role/legacy",
        (B, "cn-shanghai"): f"acs:ram::{B}:role/legacy",
    }
    first = targets[0].identity
    assert first == AssumedRole(
        BASE, RoleSpec(f"acs:ram::{A}:role/fcaudit-audit", f"fcaudit-{NOW}", 3600, EXTERNAL_ID)
    )
    assert isinstance(targets[1].identity, AssumedRole)
    assert targets[1].identity.role.duration_seconds == 7200
    assert targets[1].identity == targets[2].identity  # one identity for every region of the account
    for target in targets:
        assert EXTERNAL_ID not in repr(target)


def test_the_role_arn_flag_beats_the_file_and_fills_each_account(tmp_path: Path) -> None:
    text = f"""
regions = ["cn-hangzhou"]
role_arn = "acs:ram::{{account}}:role/from-file"
[[targets]]
account = "{A}"
[[targets]]
account = "{B}"
role_arn = "acs:ram::{B}:role/own"
"""
    flags = IdentityFlags(role_arn="acs:ram::{account}:role/from-flag", role_session_name="nightly")
    targets = resolve(tmp_path, text, identity=flags)
    assert set(roles(targets).values()) == {f"acs:ram::{A}:role/from-flag", f"acs:ram::{B}:role/from-flag"}
    assert {t.identity.role.session_name for t in targets if isinstance(t.identity, AssumedRole)} == {
        "nightly"
    }


def test_one_session_name_for_the_run_from_the_clock_or_the_environment() -> None:
    flags = IdentityFlags(role_arn=f"acs:ram::{A}:role/r")
    ticks = iter(range(NOW, NOW + 100))
    (target,) = resolve(regions=["cn-hangzhou"], identity=flags, clock=lambda: next(ticks))
    assert isinstance(target.identity, AssumedRole)
    assert target.identity.role.session_name == f"fcaudit-{NOW}"
    env = {**ENV, "ALIBABA_CLOUD_ROLE_SESSION_NAME": "from-env"}
    (target,) = resolve(regions=["cn-hangzhou"], identity=flags, env=env)
    assert isinstance(target.identity, AssumedRole)
    assert target.identity.role.session_name == "from-env"


def test_a_fixed_role_names_the_account_when_none_is_given() -> None:
    (target,) = resolve(regions=["cn-hangzhou"], identity=IdentityFlags(role_arn=f"acs:ram::{A}:role/r"))
    assert (target.account, target.endpoint) == (A, f"https://{A}.cn-hangzhou.fc.aliyuncs.com")


def test_a_fixed_role_of_another_account_is_refused(tmp_path: Path) -> None:
    message = refused(
        UsageError,
        account=B,
        regions=["cn-hangzhou"],
        identity=IdentityFlags(role_arn=f"acs:ram::{A}:role/r"),
    )
    assert f"--account is account {B}, but the credentials" in message
    assert f"belong to account {A}" in message
    assert "acs:ram::{account}:role/NAME" in message
    text = f'regions = ["cn-hangzhou"]\nrole_arn = "acs:ram::{A}:role/r"\n[[targets]]\naccount = "{A}"\n'
    text += f'[[targets]]\naccount = "{B}"\n'
    assert "[[targets]] #2 account is account 2222" in refused(ConfigError, tmp_path, text)


def test_an_account_placeholder_needs_an_account() -> None:
    message = refused(ConfigError, regions=["cn-hangzhou"], file={"role_arn": "acs:ram::{account}:role/r"})
    assert "role_arn holds {account} but the account is not known: pass --account" in message
    message = refused(
        UsageError, regions=["cn-hangzhou"], identity=IdentityFlags(role_arn="acs:ram::{account}:role/r")
    )
    assert message.startswith("--role-arn holds {account}")
    (target,) = resolve(
        account=A, regions=["cn-hangzhou"], identity=IdentityFlags(role_arn="acs:ram::{account}:role/r")
    )
    assert isinstance(target.identity, AssumedRole)
    assert target.identity.role.role_arn == f"acs:ram::{A}:role/r"


def test_an_entry_without_account_takes_its_roles(tmp_path: Path) -> None:
    text = f'regions = ["cn-hangzhou"]\n[[targets]]\nrole_arn = "acs:ram::{A}:role/r"\n'
    (target,) = resolve(tmp_path, text)
    assert target.account == A


def test_a_profile_role_of_another_account_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "aliyun.json"
    config.write_text(
        '{"profiles": [{"name": "p", "mode": "RamRoleArn", "access_key_id": "AK", '
        f'"access_key_secret": "{SECRET}", "ram_role_arn": "acs:ram::{A}:role/r"}}]}}',
        encoding="utf-8",
    )
    assert f"belong to account {A}" in refused(
        UsageError, account=B, regions=["cn-hangzhou"], profile="p", aliyun_config=config
    )
    (target,) = resolve(regions=["cn-hangzhou"], profile="p", aliyun_config=config)
    assert target.account == A


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (IdentityFlags(role_arn="arn:aws:iam::1:role/x"), "--role-arn must be a role ARN like"),
        (
            IdentityFlags(role_arn=f"acs:ram::{A}:role/r", duration_seconds=899),
            "--duration-seconds must be an integer",
        ),
        (IdentityFlags(role_arn=f"acs:ram::{A}:role/r", duration_seconds=43201), "from 900 to 43200"),
        (
            IdentityFlags(role_arn=f"acs:ram::{A}:role/r", role_session_name="x"),
            "--role-session-name must be 2 to 32",
        ),
        (
            IdentityFlags(role_arn=f"acs:ram::{A}:role/r", role_session_name="a" * 33),
            "--role-session-name must be",
        ),
        (
            IdentityFlags(role_arn=f"acs:ram::{A}:role/r", external_id=EXTERNAL_ID + " !"),
            "--external-id must be 2",
        ),
        (IdentityFlags(external_id=EXTERNAL_ID), "--external-id needs a role to assume: set role_arn too"),
        (IdentityFlags(duration_seconds=3600), "--duration-seconds needs a role to assume"),
        (
            IdentityFlags(role_arn=f"acs:ram::{A}:role/r", sts_endpoint="http://sts.example.com"),
            "--sts-endpoint: plain http to sts.example.com",
        ),
        (
            IdentityFlags(role_arn=f"acs:ram::{A}:role/r", sts_endpoint="https://sts.example.com/path"),
            "--sts-endpoint: 'https://sts.example.com/path' must have no path",
        ),
    ],
)
def test_bad_flags_are_refused_naming_the_flag(flags: IdentityFlags, says: str) -> None:
    message = refused(FatalError, regions=["cn-hangzhou"], identity=flags)
    assert says in message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('role_arn = "acs:ram::1:role/"\n', "role_arn must be a role ARN"),
        ("duration_seconds = 600\n", "duration_seconds must be an integer number of seconds from 900"),
        ('duration_seconds = "3600"\n', "duration_seconds must be an integer"),
        ('role_session_name = "no spaces"\n', "role_session_name must be 2 to 32"),
        ('external_id = "a"\n', "external_id must be 2 to 1224 characters"),
        ("sts_endpoint = 3\n", "sts_endpoint must be a non-empty string"),
        ('[[targets]]\naccount = "1"\nrole_arn = "acs:ram:::role/x"\n', "[[targets]] #1 role_arn must be"),
        ('[[targets]]\naccount = "1"\nduration_seconds = 1\n', "[[targets]] #1 duration_seconds must be"),
        ('[[targets]]\naccount = "1"\nrole_arnn = "x"\n', "did you mean 'role_arn'?"),
    ],
)
def test_bad_file_values_are_refused_naming_the_key(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_file(toml(tmp_path, text))
    assert says in caught.value.message
    assert "estate.toml" in caught.value.message
    assert "\n" not in caught.value.message


def test_an_external_id_is_never_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_file(toml(tmp_path, f'external_id = "{EXTERNAL_ID} with spaces"\n'))
    assert EXTERNAL_ID not in caught.value.message


def test_role_only_keys_on_an_entry_without_a_role_are_refused(tmp_path: Path) -> None:
    text = f'regions = ["cn-hangzhou"]\n[[targets]]\naccount = "{A}"\nexternal_id = "{EXTERNAL_ID}"\n'
    assert "[[targets]] #1 external_id needs a role to assume" in refused(ConfigError, tmp_path, text)
    text = f'regions = ["cn-hangzhou"]\nduration_seconds = 1800\n[[targets]]\naccount = "{A}"\n'
    assert refused(ConfigError, tmp_path, text).startswith("duration_seconds needs a role to assume")


def test_a_default_external_id_applies_only_where_a_role_does(tmp_path: Path) -> None:
    text = f"""
regions = ["cn-hangzhou"]
external_id = "{EXTERNAL_ID}"
[[targets]]
account = "{A}"
role_arn = "acs:ram::{A}:role/r"
[[targets]]
account = "{B}"
"""
    first, second = resolve(tmp_path, text)
    assert isinstance(first.identity, AssumedRole)
    assert first.identity.role.external_id == EXTERNAL_ID
    assert second.identity == BASE


@pytest.mark.parametrize(
    ("env", "setting", "url"),
    [
        ({}, None, "https://sts.aliyuncs.com"),
        ({"ALIBABA_CLOUD_STS_REGION": "cn-shanghai"}, None, "https://sts.cn-shanghai.aliyuncs.com"),
        (
            {"ALIBABA_CLOUD_STS_REGION": "cn-shanghai", "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "true"},
            None,
            "https://sts-vpc.cn-shanghai.aliyuncs.com",
        ),
        ({"ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "true"}, None, "https://sts.aliyuncs.com"),  # as the SDKs do
        (
            {
                "ALIBABA_CLOUD_STS_ENDPOINT": "sts-vpc.cn-beijing.aliyuncs.com",
                "ALIBABA_CLOUD_STS_REGION": "cn-shanghai",
            },
            None,
            "https://sts-vpc.cn-beijing.aliyuncs.com",
        ),
        (
            {"ALIBABA_CLOUD_STS_ENDPOINT": "sts.cn-beijing.aliyuncs.com"},
            "http://127.0.0.1:9001/",
            "http://127.0.0.1:9001",
        ),
        ({}, "https://sts.ap-southeast-1.aliyuncs.com", "https://sts.ap-southeast-1.aliyuncs.com"),
    ],
    ids=[
        "default",
        "region",
        "vpc",
        "vpc-without-region",
        "webhook-endpoint",
        "setting-beats-env",
        "setting",
    ],
)
def test_sts_endpoint_forms(env: dict[str, str], setting: str | None, url: str) -> None:
    flags = IdentityFlags(role_arn=f"acs:ram::{A}:role/r", sts_endpoint=setting)
    (target,) = resolve(env={**ENV, **env}, regions=["cn-hangzhou"], identity=flags)
    assert isinstance(target.identity, AssumedRole)
    assert target.identity.role.sts == StsEndpoint(url)


def test_plain_http_sts_with_insecure_http(tmp_path: Path) -> None:
    text = f'regions = ["cn-hangzhou"]\nsts_endpoint = "http://sts.lab"\nrole_arn = "acs:ram::{A}:role/r"\n'
    assert "sts_endpoint: plain http to sts.lab" in refused(ConfigError, tmp_path, text)
    (target,) = resolve(tmp_path, text + "[crawl]\ninsecure_http = true\n")
    assert isinstance(target.identity, AssumedRole)
    assert target.identity.role.sts == StsEndpoint("http://sts.lab")


def test_the_example_estate_loads_with_a_role_per_account() -> None:
    run = resolve_config(
        env=ENV, config_path=ROOT / "examples" / "estate.toml", aliyun_config=NO_ALIYUN, clock=lambda: NOW
    )
    by_account = {t.account: t.identity for t in run.targets}
    assert set(by_account) == {A, B, "3333333333333333"}
    assert by_account[A] == AssumedRole(BASE, RoleSpec(f"acs:ram::{A}:role/fcaudit-audit", f"fcaudit-{NOW}"))
    assert isinstance(by_account["3333333333333333"], AssumedRole)
    assert by_account["3333333333333333"].role.role_arn.endswith(":role/fcaudit-audit-legacy")
    assert len([t for t in run.targets if t.account == B]) >= 19  # regions = "*"


def test_the_ecs_flag_and_a_role_on_top(tmp_path: Path) -> None:
    flags = IdentityFlags(ecs_ram_role="central", role_arn="acs:ram::{account}:role/audit")
    (target,) = resolve(account=A, regions=["cn-hangzhou"], identity=flags)
    assert isinstance(target.identity, AssumedRole)
    assert (
        repr(target.identity.base)
        == "EcsRamRole(role_name='central', metadata_url='http://100.100.100.200', imdsv1_allowed=True)"
    )
    # a file's profile gives way to the flag; an entry's own profile does not
    config = tmp_path / "aliyun.json"
    config.write_text(
        '{"profiles": [{"name": "p", "access_key_id": "AK", "access_key_secret": "s"}]}', "utf-8"
    )
    text = 'regions = ["cn-hangzhou"]\nprofile = "p"\n[[targets]]\naccount = "1"\n'
    (target,) = resolve(tmp_path, text, identity=IdentityFlags(ecs_ram_role=True), aliyun_config=config)
    assert target.identity == EcsRamRole(None)
    message = refused(
        CredentialsError,
        tmp_path,
        text + 'profile = "q"\n',
        identity=IdentityFlags(ecs_ram_role=True),
        aliyun_config=config,
    )
    assert "profile 'q' not found" in message
