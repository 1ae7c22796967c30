"""The credentials chain: each source in its place, the first that applies wins, and "no credentials"
names every place it looked — in one line, never with a secret."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from crawler.errors import CredentialsError
from crawler.settings.identity import (
    AssumedRole,
    CredentialSource,
    CredentialsUri,
    EcsRamRole,
    OidcRole,
    StaticKeys,
    StsEndpoint,
    resolve_source,
)

SECRET = "chain-SECRET-never-shown"
TOKEN = "chain-STS-TOKEN-never-shown"
ROLE = "acs:ram::1234567890123456:role/fcaudit-audit"
PROVIDER = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-c1"
KEYS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKENV", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}


def write_config(path: Path, *profiles: dict[str, object], current: str | None = None) -> Path:
    data: dict[str, object] = {"profiles": list(profiles)}
    if current is not None:
        data["current"] = current
    path.write_bytes(orjson.dumps(data))
    return path


def ak(name: str) -> dict[str, object]:
    return {"name": name, "mode": "AK", "access_key_id": f"AK-{name}", "access_key_secret": SECRET}


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "rrsa-token"
    path.write_text("eyJ-OIDC-TOKEN-CONTENT", encoding="utf-8")
    return path


@pytest.fixture
def rrsa(token_file: Path) -> dict[str, str]:
    return {
        "ALIBABA_CLOUD_ROLE_ARN": ROLE,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(token_file),
    }


def resolve(
    env: dict[str, str],
    config: Path,
    profile: str | None = None,
    *,
    ecs_ram_role: str | bool | None = None,
    sts: str | None = None,
    insecure_http: bool = False,
) -> CredentialSource:
    source, _ = resolve_source(
        env=env,
        profile=profile,
        aliyun_config=config,
        ecs_ram_role=ecs_ram_role,
        sts=sts,
        insecure_http=insecure_http,
        clock=lambda: 1700000000,
    )
    return source


def key_id(source: CredentialSource) -> str:
    assert isinstance(source, StaticKeys)
    return source.credentials.access_key_id


def test_profile_flag_beats_everything(tmp_path: Path, rrsa: dict[str, str]) -> None:
    config = write_config(tmp_path / "c.json", ak("flag"), ak("cur"), current="cur")
    env = {
        **KEYS,
        **rrsa,
        "ALIBABA_CLOUD_PROFILE": "cur",
        "ALIBABA_CLOUD_CREDENTIALS_URI": "http://127.0.0.1:1/",
    }
    assert key_id(resolve(env, config, "flag")) == "AK-flag"


def test_env_keys_with_a_token_beat_rrsa(tmp_path: Path, rrsa: dict[str, str]) -> None:
    env = {**KEYS, "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN, **rrsa}
    source = resolve(env, tmp_path / "none.json")
    assert isinstance(source, StaticKeys)
    assert source.credentials.security_token == TOKEN


def test_rrsa_triple_gives_an_oidc_role(tmp_path: Path, rrsa: dict[str, str], token_file: Path) -> None:
    config = write_config(tmp_path / "c.json", ak("cur"), current="cur")
    source = resolve({**rrsa, "ALIBABA_CLOUD_PROFILE": "cur"}, config)
    assert isinstance(source, OidcRole)
    assert (source.provider_arn, source.token_file) == (PROVIDER, token_file)
    assert source.role.role_arn == ROLE
    assert source.role.session_name == "fcaudit-1700000000"
    assert source.role.external_id is None
    assert source.role.sts == StsEndpoint("https://sts.aliyuncs.com")


def test_rrsa_session_name_and_sts_from_the_webhook_variables(tmp_path: Path, rrsa: dict[str, str]) -> None:
    env = {
        **rrsa,
        "ALIBABA_CLOUD_ROLE_SESSION_NAME": "cron-audit",
        "ALIBABA_CLOUD_STS_REGION": "cn-shanghai",
        "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "true",
    }
    source = resolve(env, tmp_path / "none.json")
    assert isinstance(source, OidcRole)
    assert source.role.session_name == "cron-audit"
    assert source.role.sts == StsEndpoint("https://sts-vpc.cn-shanghai.aliyuncs.com")
    env["ALIBABA_CLOUD_STS_ENDPOINT"] = "sts-vpc.cn-beijing.aliyuncs.com"  # ACK's webhook injects a host
    source = resolve(env, tmp_path / "none.json")
    assert isinstance(source, OidcRole)
    assert source.role.sts == StsEndpoint("https://sts-vpc.cn-beijing.aliyuncs.com")


def test_a_partial_rrsa_triple_is_refused_naming_what_is_missing(
    tmp_path: Path, rrsa: dict[str, str]
) -> None:
    del rrsa["ALIBABA_CLOUD_OIDC_TOKEN_FILE"]
    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_OIDC_TOKEN_FILE not set") as caught:
        resolve(rrsa, tmp_path / "none.json")
    assert "pod-identity.alibabacloud.com/role-name" in caught.value.message


def test_a_missing_token_file_is_refused_without_reading_anything(
    tmp_path: Path, rrsa: dict[str, str]
) -> None:
    rrsa["ALIBABA_CLOUD_OIDC_TOKEN_FILE"] = str(tmp_path / "absent")
    with pytest.raises(
        CredentialsError, match=r"ALIBABA_CLOUD_OIDC_TOKEN_FILE names .*absent, which is not a file"
    ):
        resolve(rrsa, tmp_path / "none.json")


def test_a_role_arn_alone_is_not_rrsa(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="no credentials found"):
        resolve({"ALIBABA_CLOUD_ROLE_ARN": ROLE}, tmp_path / "none.json")


def test_rrsa_beats_the_env_profile(tmp_path: Path, rrsa: dict[str, str]) -> None:
    config = write_config(tmp_path / "c.json", ak("named"))
    assert isinstance(resolve({**rrsa, "ALIBABA_CLOUD_PROFILE": "named"}, config), OidcRole)


@pytest.mark.parametrize("variable", ["ALIBABA_CLOUD_PROFILE", "ALIBABACLOUD_PROFILE", "ALICLOUD_PROFILE"])
def test_the_env_profile_beats_the_current_one(tmp_path: Path, variable: str) -> None:
    config = write_config(tmp_path / "c.json", ak("named"), ak("cur"), current="cur")
    assert key_id(resolve({variable: "named"}, config)) == "AK-named"


def test_the_current_profile_of_a_plain_aliyun_configure(tmp_path: Path) -> None:
    """``aliyun configure`` writes one profile and names it current: that is enough."""
    config = write_config(tmp_path / "c.json", ak("default"), current="default")
    source, region = resolve_source(env={}, profile=None, aliyun_config=config)
    assert key_id(source) == "AK-default"
    assert region is None


def test_the_current_profile_can_be_switched_off(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.json", ak("default"), current="default")
    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true"):
        resolve({"ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true"}, config)


def test_a_current_profile_that_is_not_there_is_named(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.json", ak("default"), current="gone")
    with pytest.raises(CredentialsError, match="profile 'gone' not found"):
        resolve({}, config)


def test_the_current_profile_beats_the_credentials_uri(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.json", ak("cur"), current="cur")
    assert key_id(resolve({"ALIBABA_CLOUD_CREDENTIALS_URI": "http://127.0.0.1:9/c"}, config)) == "AK-cur"


def test_the_credentials_uri(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:9/creds?token={TOKEN}"
    env = {"ALIBABA_CLOUD_CREDENTIALS_URI": uri, "ALIBABA_CLOUD_ECS_METADATA": "role"}
    assert resolve(env, tmp_path / "none.json") == CredentialsUri(uri)


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        (f"http://creds.example.com/c?token={TOKEN}", "plain http to creds.example.com"),
        (f"ftp://127.0.0.1/c?token={TOKEN}", "must be an http(s) URL"),
        (f"https://user:{SECRET}@h/c?token={TOKEN}", "must not carry a user name or password"),
    ],
)
def test_a_bad_credentials_uri_is_refused_without_its_secrets(tmp_path: Path, uri: str, says: str) -> None:
    with pytest.raises(CredentialsError, match=r"ALIBABA_CLOUD_CREDENTIALS_URI") as caught:
        resolve({"ALIBABA_CLOUD_CREDENTIALS_URI": uri}, tmp_path / "none.json")
    assert says in caught.value.message
    assert TOKEN not in caught.value.message
    assert SECRET not in caught.value.message


def test_plain_http_credentials_uri_with_insecure_http(tmp_path: Path) -> None:
    uri = "http://creds.internal/c"
    assert resolve({"ALIBABA_CLOUD_CREDENTIALS_URI": uri}, tmp_path / "n.json", insecure_http=True) == (
        CredentialsUri(uri)
    )


def test_the_ecs_role_only_when_asked_by_variable(tmp_path: Path) -> None:
    assert resolve({"ALIBABA_CLOUD_ECS_METADATA": "audit-role"}, tmp_path / "n.json") == EcsRamRole(
        "audit-role"
    )
    source = resolve(
        {"ALIBABA_CLOUD_ECS_METADATA": "audit-role", "ALIBABA_CLOUD_IMDSV1_DISABLED": "true"},
        tmp_path / "n.json",
    )
    assert source == EcsRamRole("audit-role", imdsv1_allowed=False)
    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_ECS_METADATA_DISABLED=true"):
        resolve(
            {"ALIBABA_CLOUD_ECS_METADATA": "audit-role", "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"},
            tmp_path / "n.json",
        )


def test_the_ecs_role_by_flag_beats_env_keys(tmp_path: Path) -> None:
    assert resolve(KEYS, tmp_path / "n.json", ecs_ram_role=True) == EcsRamRole(None)
    assert resolve(KEYS, tmp_path / "n.json", ecs_ram_role="audit") == EcsRamRole("audit")
    with pytest.raises(CredentialsError, match="--ecs-ram-role must be a RAM role name"):
        resolve(KEYS, tmp_path / "n.json", ecs_ram_role="a/b")
    config = write_config(tmp_path / "c.json", ak("p"))
    with pytest.raises(CredentialsError, match="--ecs-ram-role and a profile both"):
        resolve({}, config, "p", ecs_ram_role=True)


def test_no_credentials_names_every_place_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as caught:
        resolve({}, tmp_path / "none.json")
    message = caught.value.message
    assert "\n" not in message
    for place in (
        "--profile",
        "--ecs-ram-role",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABACLOUD_ACCESS_KEY_ID",
        "ALICLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
        "ALIBABA_CLOUD_PROFILE",
        f"{tmp_path / 'none.json'} not found",
        "ALIBABA_CLOUD_CREDENTIALS_URI",
        "ALIBABA_CLOUD_ECS_METADATA",
    ):
        assert place in message, place


def test_an_explicit_sts_endpoint_reaches_every_role_of_the_chain(
    tmp_path: Path, rrsa: dict[str, str]
) -> None:
    source = resolve(
        {**rrsa, "ALIBABA_CLOUD_STS_ENDPOINT": "sts.cn-hangzhou.aliyuncs.com"},
        tmp_path / "n.json",
        sts="http://127.0.0.1:8/",
    )
    assert isinstance(source, OidcRole)
    assert source.role.sts == StsEndpoint("http://127.0.0.1:8")
    with pytest.raises(CredentialsError, match=r"--sts-endpoint: plain http to sts\.example\.com"):
        resolve(rrsa, tmp_path / "n.json", sts="http://sts.example.com")


def test_a_bad_sts_region_is_refused(tmp_path: Path, rrsa: dict[str, str]) -> None:
    env = {**rrsa, "ALIBABA_CLOUD_STS_REGION": "cn-hangzhou.aliyuncs.com@attacker.example/x"}
    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_STS_REGION: region"):
        resolve(env, tmp_path / "n.json")


def test_a_bad_session_name_variable_is_refused(tmp_path: Path, rrsa: dict[str, str]) -> None:
    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_ROLE_SESSION_NAME must be 2 to 32"):
        resolve({**rrsa, "ALIBABA_CLOUD_ROLE_SESSION_NAME": "has space"}, tmp_path / "n.json")


def test_assumed_roles_are_not_a_chain_source_by_themselves(tmp_path: Path) -> None:
    """Env keys with ALIBABA_CLOUD_ROLE_ARN stay keys (as in the SDKs): a role comes from role_arn."""
    source = resolve({**KEYS, "ALIBABA_CLOUD_ROLE_ARN": ROLE}, tmp_path / "n.json")
    assert not isinstance(source, AssumedRole)
    assert key_id(source) == "AKENV"
