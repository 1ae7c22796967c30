"""Credentials from the environment (three spellings) and from aliyun CLI profiles; never a secret shown."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import orjson
import pytest

from crawler.errors import CredentialsError
from crawler.settings.credentials import Credentials, credentials_from_env_vars
from crawler.settings.identity import profile_source, resolve_source, static_credentials

SECRET = "s3cr3t-VALUE-never-shown"
TOKEN = "sts-TOKEN-never-shown"


def resolve_credentials(
    *, env: Mapping[str, str], profile: str | None, aliyun_config: Path | None = None
) -> Credentials:
    """The static keys ``resolve_source`` finds (no aliyun CLI config unless given)."""
    config = aliyun_config if aliyun_config is not None else Path("/nonexistent/fcaudit/config.json")
    return static_credentials(resolve_source(env=env, profile=profile, aliyun_config=config)[0])


def load_profile(name: str, path: Path) -> tuple[Credentials, str | None]:
    source, region = profile_source(name, aliyun_config=path)
    return static_credentials(source), region


def write_profiles(path: Path, *profiles: dict[str, object], current: str = "default") -> Path:
    path.write_bytes(orjson.dumps({"current": current, "profiles": list(profiles)}))
    return path


def ak_profile(name: str = "default", **extra: object) -> dict[str, object]:
    profile: dict[str, object] = {
        "name": name,
        "mode": "AK",
        "access_key_id": f"AKID-{name}",
        "access_key_secret": SECRET,
        "sts_token": "",
        "region_id": "cn-shanghai",
    }
    profile.update(extra)
    return profile


@pytest.mark.parametrize("prefix", ["ALIBABA_CLOUD_", "ALIBABACLOUD_", "ALICLOUD_"])
def test_each_env_spelling_is_read(prefix: str) -> None:
    env = {f"{prefix}ACCESS_KEY_ID": "AKID1", f"{prefix}ACCESS_KEY_SECRET": SECRET}
    creds = resolve_credentials(env=env, profile=None)
    assert (creds.access_key_id, creds.access_key_secret, creds.security_token) == ("AKID1", SECRET, None)
    assert prefix in creds.source


def test_env_sts_token_is_read_and_first_spelling_wins() -> None:
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "AKID1",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN,
        "ALICLOUD_ACCESS_KEY_ID": "OTHER",
        "ALICLOUD_ACCESS_KEY_SECRET": "other",
    }
    creds = resolve_credentials(env=env, profile=None)
    assert creds.access_key_id == "AKID1"
    assert creds.security_token == TOKEN
    assert creds.is_sts


def test_partial_env_names_the_missing_variable_and_not_the_secret() -> None:
    with pytest.raises(CredentialsError) as caught:
        resolve_credentials(env={"ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}, profile=None)
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in caught.value.message
    assert SECRET not in caught.value.message
    with pytest.raises(CredentialsError, match="ALICLOUD_ACCESS_KEY_SECRET is not"):
        resolve_credentials(env={"ALICLOUD_ACCESS_KEY_ID": "AKID"}, profile=None)


def test_nothing_configured_says_how_to_fix_it_in_one_line() -> None:
    with pytest.raises(CredentialsError) as caught:
        resolve_credentials(env={}, profile=None)
    message = caught.value.message
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in message
    assert "--profile" in message
    assert "\n" not in message


def test_empty_values_count_as_unset() -> None:
    with pytest.raises(CredentialsError, match="no credentials"):
        resolve_credentials(
            env={"ALIBABA_CLOUD_ACCESS_KEY_ID": " ", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ""}, profile=None
        )


def test_repr_and_str_never_show_secret_or_token() -> None:
    creds = Credentials("AKID1", SECRET, TOKEN, source="test")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in text
        assert TOKEN not in text
        assert "AKID1" in text


def test_a_secret_with_a_newline_is_refused_without_echoing_it() -> None:
    with pytest.raises(CredentialsError) as caught:
        Credentials("AKID1", SECRET + "\n", source="env")
    assert SECRET not in caught.value.message


def test_ak_profile(tmp_path: Path) -> None:
    config = write_profiles(tmp_path / "config.json", ak_profile(), ak_profile("prod"))
    creds, region = load_profile("prod", config)
    assert creds.access_key_id == "AKID-prod"
    assert creds.access_key_secret == SECRET
    assert creds.security_token is None
    assert region == "cn-shanghai"
    assert resolve_credentials(env={}, profile="prod", aliyun_config=config).source == "profile 'prod'"


def test_sts_profile(tmp_path: Path) -> None:
    config = write_profiles(tmp_path / "c.json", ak_profile("sts", mode="StsToken", sts_token=TOKEN))
    creds = resolve_credentials(env={}, profile="sts", aliyun_config=config)
    assert creds.security_token == TOKEN


def test_sts_profile_without_token_is_refused(tmp_path: Path) -> None:
    config = write_profiles(tmp_path / "c.json", ak_profile("sts", mode="StsToken", sts_token=""))
    with pytest.raises(CredentialsError, match="sts_token"):
        load_profile("sts", config)


def test_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    config = write_profiles(tmp_path / "c.json", ak_profile(), ak_profile("prod"))
    with pytest.raises(CredentialsError, match=r"'staging' not found .*default, prod"):
        resolve_credentials(env={}, profile="staging", aliyun_config=config)


def test_missing_and_broken_config_files(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="not found"):
        load_profile("default", tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"profiles": [', encoding="utf-8")
    with pytest.raises(CredentialsError, match="not valid JSON"):
        load_profile("default", broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"profiles": 3}', encoding="utf-8")
    with pytest.raises(CredentialsError, match="no 'profiles' list"):
        load_profile("default", wrong)


def test_profile_missing_its_secret(tmp_path: Path) -> None:
    config = write_profiles(tmp_path / "c.json", ak_profile(access_key_secret=""))
    with pytest.raises(CredentialsError, match="no access_key_secret"):
        load_profile("default", config)


def test_explicit_profile_beats_env_keys_and_env_keys_beat_env_profile(tmp_path: Path) -> None:
    config = write_profiles(tmp_path / "c.json", ak_profile(), ak_profile("prod"))
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "ENVKEY",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        "ALIBABA_CLOUD_PROFILE": "default",
    }
    assert resolve_credentials(env=env, profile="prod", aliyun_config=config).access_key_id == "AKID-prod"
    assert resolve_credentials(env=env, profile=None, aliyun_config=config).access_key_id == "ENVKEY"
    only_profile = {"ALIBABA_CLOUD_PROFILE": "prod"}
    assert (
        resolve_credentials(env=only_profile, profile=None, aliyun_config=config).access_key_id == "AKID-prod"
    )


def test_named_env_vars_for_a_target() -> None:
    env = {"PROD_ID": "AKIDP", "PROD_SECRET": SECRET, "PROD_TOKEN": TOKEN}
    creds = credentials_from_env_vars(env, "PROD_ID", "PROD_SECRET", "PROD_TOKEN")
    assert (creds.access_key_id, creds.security_token) == ("AKIDP", TOKEN)
    with pytest.raises(CredentialsError, match="PROD_SECRET"):
        credentials_from_env_vars({"PROD_ID": "x"}, "PROD_ID", "PROD_SECRET")
    with pytest.raises(CredentialsError, match="MISSING_TOKEN"):
        credentials_from_env_vars(env, "PROD_ID", "PROD_SECRET", "MISSING_TOKEN")
