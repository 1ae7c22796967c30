"""aliyun CLI profile modes: each one becomes its credential source, a missing mode is inferred as the CLI
does, chains of source_profile resolve at any depth and a cycle is refused naming it; the modes that need
an interactive login are refused with one line saying why. No message holds a secret."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import orjson
import pytest

from crawler.errors import CredentialsError
from crawler.settings.credentials import Credentials
from crawler.settings.identity import (
    AssumedRole,
    CredentialSource,
    CredentialsUri,
    EcsRamRole,
    ExternalProcess,
    OidcRole,
    RoleSpec,
    StaticKeys,
    StsEndpoint,
    profile_source,
    resolve_source,
)

SECRET = "profile-SECRET-never-shown"
TOKEN = "profile-STS-TOKEN-never-shown"
EXTERNAL_ID = "ext-ID-never-echoed"
ROLE_A = "acs:ram::1111111111111111:role/hop-a"
ROLE_B = "acs:ram::2222222222222222:role/hop-b"
NOW = 1700000000


def write(tmp_path: Path, *profiles: Mapping[str, object], current: str = "") -> Path:
    path = tmp_path / "config.json"
    path.write_bytes(orjson.dumps({"current": current, "profiles": list(profiles)}))
    return path


def keys(name: str, **extra: object) -> dict[str, object]:
    return {"name": name, "mode": "AK", "access_key_id": f"AK-{name}", "access_key_secret": SECRET, **extra}


def load(path: Path, name: str, env: dict[str, str] | None = None) -> tuple[CredentialSource, str | None]:
    return resolve_source(env=env or {}, profile=name, aliyun_config=path, clock=lambda: NOW)


def refused(path: Path, name: str) -> str:
    with pytest.raises(CredentialsError) as caught:
        load(path, name)
    message = caught.value.message
    assert "\n" not in message
    for secret in (SECRET, TOKEN, EXTERNAL_ID):
        assert secret not in message
    return message


def test_ak_and_sts_token(tmp_path: Path) -> None:
    path = write(tmp_path, keys("ak"), keys("sts", mode="StsToken", sts_token=TOKEN, region_id="cn-beijing"))
    assert load(path, "ak") == (StaticKeys(Credentials("AK-ak", SECRET)), None)
    assert load(path, "sts") == (StaticKeys(Credentials("AK-sts", SECRET, TOKEN)), "cn-beijing")


def test_ram_role_arn(tmp_path: Path) -> None:
    profile = keys(
        "role",
        mode="RamRoleArn",
        ram_role_arn=ROLE_A,
        ram_session_name="ops",
        expired_seconds=1800,
        external_id=EXTERNAL_ID,
        sts_region="cn-shanghai",
    )
    source, _ = load(write(tmp_path, profile), "role")
    assert source == AssumedRole(
        StaticKeys(Credentials("AK-role", SECRET)),
        RoleSpec(ROLE_A, "ops", 1800, EXTERNAL_ID, StsEndpoint("https://sts.cn-shanghai.aliyuncs.com")),
    )
    assert EXTERNAL_ID not in repr(source)


def test_ram_role_arn_defaults(tmp_path: Path) -> None:
    profile = keys("role", mode="RamRoleArn", ram_role_arn=ROLE_A, ram_session_name="", expired_seconds=0)
    source, _ = load(write(tmp_path, profile), "role")
    assert isinstance(source, AssumedRole)
    assert source.role == RoleSpec(
        ROLE_A, f"fcaudit-{NOW}", 3600, None, StsEndpoint("https://sts.aliyuncs.com")
    )


def test_chainable_ram_role_arn_two_deep(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"name": "top", "mode": "ChainableRamRoleArn", "source_profile": "middle", "ram_role_arn": ROLE_B},
        {"name": "middle", "mode": "ChainableRamRoleArn", "source_profile": "base", "ram_role_arn": ROLE_A},
        keys("base", region_id="cn-hangzhou"),
    )
    source, region = load(path, "top")
    base = StaticKeys(Credentials("AK-base", SECRET))
    assert isinstance(source, AssumedRole)
    assert source.role.role_arn == ROLE_B
    assert source.base == AssumedRole(base, RoleSpec(ROLE_A, f"fcaudit-{NOW}"))
    assert region == "cn-hangzhou"  # the first region along the chain


def test_a_source_profile_cycle_is_refused_naming_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"name": "a", "mode": "ChainableRamRoleArn", "source_profile": "b", "ram_role_arn": ROLE_A},
        {"name": "b", "mode": "ChainableRamRoleArn", "source_profile": "c", "ram_role_arn": ROLE_A},
        {"name": "c", "mode": "ChainableRamRoleArn", "source_profile": "b", "ram_role_arn": ROLE_A},
    )
    assert "cycle ('b' → 'c' → 'b')" in refused(path, "a")
    selfish = write(
        tmp_path,
        {"name": "me", "mode": "ChainableRamRoleArn", "source_profile": "me", "ram_role_arn": ROLE_A},
    )
    assert "cycle ('me' → 'me')" in refused(selfish, "me")


def test_a_chain_to_a_missing_profile(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"name": "a", "mode": "ChainableRamRoleArn", "source_profile": "gone", "ram_role_arn": ROLE_A},
    )
    assert "profile 'gone' not found" in refused(path, "a")
    no_source = write(tmp_path, {"name": "a", "mode": "ChainableRamRoleArn", "ram_role_arn": ROLE_A})
    assert "mode ChainableRamRoleArn but has no source_profile" in refused(no_source, "a")


def test_ecs_ram_role(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"name": "named", "mode": "EcsRamRole", "ram_role_name": "audit"},
        {"name": "asked", "mode": "EcsRamRole", "ram_role_name": ""},
    )
    assert load(path, "named")[0] == EcsRamRole("audit")
    assert load(path, "asked", {"ALIBABA_CLOUD_IMDSV1_DISABLED": "TRUE"})[0] == EcsRamRole(
        None, imdsv1_allowed=False
    )


def test_oidc(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("oidc-token-content", encoding="utf-8")
    profile = {
        "name": "oidc",
        "mode": "OIDC",
        "ram_role_arn": ROLE_A,
        "oidc_provider_arn": "acs:ram::1111111111111111:oidc-provider/ack",
        "oidc_token_file": str(token),
        "ram_session_name": "pod",
        "sts_region": "cn-shanghai",
    }
    source, _ = load(write(tmp_path, profile), "oidc", {"ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "true"})
    assert source == OidcRole(
        RoleSpec(ROLE_A, "pod", sts=StsEndpoint("https://sts-vpc.cn-shanghai.aliyuncs.com")),
        "acs:ram::1111111111111111:oidc-provider/ack",
        token,
    )


def test_external(tmp_path: Path) -> None:
    command = f"/usr/local/bin/get-creds --secret {SECRET}"
    source, _ = load(write(tmp_path, {"name": "ext", "mode": "External", "process_command": command}), "ext")
    assert source == ExternalProcess(command, "ext")
    assert SECRET not in repr(source)


def test_credentials_uri(tmp_path: Path) -> None:
    uri = f"http://localhost:8080/creds?auth={TOKEN}"
    path = write(tmp_path, {"name": "uri", "mode": "CredentialsURI", "credentials_uri": uri})
    assert load(path, "uri")[0] == CredentialsUri(uri)
    remote = write(
        tmp_path, {"name": "uri", "mode": "CredentialsURI", "credentials_uri": f"http://h/c?a={TOKEN}"}
    )
    assert "profile 'uri' credentials_uri: plain http to h" in refused(remote, "uri")


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("CloudSSO", "interactive browser login"),
        ("OAuth", "interactive browser login"),
        ("BearerToken", "not a signing key"),
        ("RsaKeyPair", "deprecated"),
    ],
)
def test_modes_that_cannot_run_unattended_are_refused_saying_why(tmp_path: Path, mode: str, why: str) -> None:
    message = refused(write(tmp_path, keys("x", mode=mode, sts_token=TOKEN)), "x")
    assert f"profile 'x' uses mode {mode}, which" in message
    assert why in message
    assert "RamRoleArn" in message  # what to use instead


def test_an_unknown_mode(tmp_path: Path) -> None:
    assert "unknown mode 'Magic'" in refused(write(tmp_path, keys("x", mode="Magic")), "x")


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"access_key_id": "AK", "access_key_secret": SECRET}, StaticKeys),
        ({"access_key_id": "AK", "access_key_secret": SECRET, "sts_token": TOKEN}, StaticKeys),
        ({"access_key_id": "AK", "access_key_secret": SECRET, "ram_role_arn": ROLE_A}, AssumedRole),
        ({"ram_role_name": "audit"}, EcsRamRole),
        ({"process_command": "get-creds"}, ExternalProcess),
    ],
    ids=["AK", "StsToken", "RamRoleArn", "EcsRamRole", "External"],
)
def test_a_missing_mode_is_inferred_as_the_cli_does(
    tmp_path: Path, fields: dict[str, object], kind: type
) -> None:
    source, _ = profile_source("x", aliyun_config=write(tmp_path, {"name": "x", **fields}))
    assert isinstance(source, kind)
    if "sts_token" in fields:
        assert isinstance(source, StaticKeys)
        assert source.credentials.security_token == TOKEN


def test_a_missing_mode_is_refused_when_nothing_tells(tmp_path: Path) -> None:
    assert "has no mode, and its fields do not tell which" in refused(write(tmp_path, {"name": "x"}), "x")
    sso = write(tmp_path, {"name": "x", "cloud_sso_sign_in_url": "https://signin.example/"})
    assert "uses mode CloudSSO" in refused(sso, "x")


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"ram_role_arn": "arn:aws:iam::1:role/x"}, "profile 'r' ram_role_arn must be a role ARN"),
        ({"ram_role_arn": "acs:ram::{account}:role/x"}, "must be a role ARN"),
        ({"ram_role_arn": ROLE_A, "expired_seconds": 60}, "profile 'r' expired_seconds must be an integer"),
        ({"ram_role_arn": ROLE_A, "ram_session_name": "a b"}, "profile 'r' ram_session_name must be 2 to 32"),
        ({"ram_role_arn": ROLE_A, "external_id": "x"}, "profile 'r' external_id must be 2 to 1224"),
        ({"ram_role_arn": ROLE_A, "sts_region": "../evil"}, "profile 'r' sts_region: region"),
        ({}, "mode RamRoleArn but has no ram_role_arn"),
    ],
)
def test_bad_role_fields_are_refused_naming_the_field(
    tmp_path: Path, extra: dict[str, object], says: str
) -> None:
    assert says in refused(write(tmp_path, keys("r", mode="RamRoleArn", **extra)), "r")


def test_an_oidc_profile_without_its_token_file(tmp_path: Path) -> None:
    profile = {
        "name": "o",
        "mode": "OIDC",
        "ram_role_arn": ROLE_A,
        "oidc_provider_arn": "acs:ram::1:oidc-provider/p",
        "oidc_token_file": str(tmp_path / "gone"),
    }
    assert "profile 'o' oidc_token_file names" in refused(write(tmp_path, profile), "o")
