"""Settings and targets from flags, the TOML file and the environment: precedence and one-line refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.errors import ConfigError, CredentialsError, FatalError, UsageError
from crawler.settings.config import (
    CrawlSettings,
    Target,
    load_config_file,
    resolve_config,
    resolve_targets,
    settings_from,
)
from crawler.settings.credentials import Credentials
from crawler.settings.endpoints import FC_REGIONS, check_endpoint
from crawler.settings.identity import StaticKeys, static_credentials

ROOT = Path(__file__).resolve().parents[2]
SECRET = "config-test-secret"
ENV = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "AKENV",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
}


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fcaudit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config_file(toml(tmp_path, text))
    message = caught.value.message
    assert "\n" not in message
    assert "fcaudit.toml" in message
    return message


def profiles(tmp_path: Path) -> Path:
    path = tmp_path / "aliyun.json"
    path.write_bytes(
        orjson.dumps(
            {
                "profiles": [
                    {"name": "prod", "mode": "AK", "access_key_id": "AKPROD", "access_key_secret": SECRET},
                    {
                        "name": "home",
                        "mode": "AK",
                        "access_key_id": "AKHOME",
                        "access_key_secret": SECRET,
                        "region_id": "cn-beijing",
                    },
                ]
            }
        )
    )
    return path


# ---- settings ------------------------------------------------------------------------------------


def test_defaults_match_the_brief() -> None:
    s = CrawlSettings()
    assert (s.concurrency, s.rate, s.page_size, s.max_pages, s.max_attempts) == (32, None, 100, 10000, 6)
    assert (s.backoff_base, s.backoff_cap, s.insecure_http) == (0.2, 20.0, False)


@pytest.mark.parametrize(
    ("key", "value"),
    [("concurrency", 0), ("page_size", 101), ("rate", 0.0), ("max_attempts", 1.5), ("insecure_http", 1)],
)
def test_settings_refuse_impossible_values(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"setting {key} must be"):
        CrawlSettings(**{key: value})


def test_backoff_base_above_cap_is_refused() -> None:
    with pytest.raises(ConfigError, match="backoff_base"):
        CrawlSettings(backoff_base=5.0, backoff_cap=1.0)


def test_flags_override_the_file_and_name_the_flag_when_wrong(tmp_path: Path) -> None:
    file = load_config_file(toml(tmp_path, "[crawl]\nconcurrency = 8\npage_size = 50\nrate = 3\n"))
    settings = settings_from(file, {"concurrency": 4})
    assert (settings.concurrency, settings.page_size, settings.rate) == (4, 50, 3.0)
    assert isinstance(settings.rate, float)
    with pytest.raises(UsageError, match="--page-size must be an integer at least 1 and at most 100"):
        settings_from(file, {"page_size": 0})


# ---- the file: every refusal names the key --------------------------------------------------------


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = refused(tmp_path, 'regoins = ["cn-hangzhou"]\n')
    assert "unknown key 'regoins'" in message
    assert "did you mean 'regions'" in message


def test_unknown_crawl_key(tmp_path: Path) -> None:
    assert "[crawl]: unknown key 'concurency'" in refused(tmp_path, "[crawl]\nconcurency = 3\n")


def test_wrong_types_are_named(tmp_path: Path) -> None:
    assert "[crawl] concurrency must be an integer" in refused(tmp_path, '[crawl]\nconcurrency = "8"\n')
    assert "[crawl] insecure_http must be true or false" in refused(
        tmp_path, '[crawl]\ninsecure_http = "yes"\n'
    )
    assert "account must be a non-empty string" in refused(tmp_path, "account = 1234\n")
    assert "regions must be a non-empty array" in refused(tmp_path, 'regions = "cn-hangzhou"\n')
    assert "[crawl] must be a table" in refused(tmp_path, "crawl = 3\n")
    assert "[audit] must be a table" in refused(tmp_path, "audit = [1]\n")


def test_impossible_values_are_named(tmp_path: Path) -> None:
    assert "[crawl] page_size must be" in refused(tmp_path, "[crawl]\npage_size = 500\n")
    assert "[crawl] rate must be a number greater than 0" in refused(tmp_path, "[crawl]\nrate = -1\n")
    assert "backoff_base" in refused(tmp_path, "[crawl]\nbackoff_base = 30.0\nbackoff_cap = 2.0\n")
    assert "region 'CN_Hangzhou'" in refused(tmp_path, 'regions = ["CN_Hangzhou"]\n')
    assert "lists cn-hangzhou twice" in refused(tmp_path, 'regions = ["cn-hangzhou", "cn-hangzhou"]\n')
    assert "account id 'not an id'" in refused(tmp_path, 'account = "not an id"\n')


def test_target_entries_are_checked(tmp_path: Path) -> None:
    message = refused(tmp_path, '[[targets]]\naccount = "1"\naccess_key_secret = "oops"\n')
    assert "[[targets]] #1" in message
    assert "secrets do not belong" in message
    assert "oops" not in message
    without_account = toml(
        tmp_path, 'regions = "*"\n[[targets]]\naccount = "1"\n[[targets]]\nregions = "*"\n'
    )
    with pytest.raises(ConfigError, match="#2 has no account, and its credentials do not name one"):
        resolve_config(env=ENV, config_path=without_account)
    assert "#1 rate must be" in refused(tmp_path, '[[targets]]\naccount = "1"\nrate = 0\n')
    assert "both access_key_id_env and access_key_secret_env" in refused(
        tmp_path, '[[targets]]\naccount = "1"\naccess_key_id_env = "X"\n'
    )
    assert "both a profile and access key variables" in refused(
        tmp_path,
        '[[targets]]\naccount = "1"\nprofile = "p"\naccess_key_id_env = "X"\naccess_key_secret_env = "Y"\n',
    )
    assert "top-level account conflicts with [[targets]]" in refused(
        tmp_path, 'account = "1"\n[[targets]]\naccount = "2"\n'
    )


def test_not_toml_and_not_there(tmp_path: Path) -> None:
    assert "is not valid TOML" in refused(tmp_path, "[crawl\n")
    with pytest.raises(ConfigError, match="not found"):
        load_config_file(tmp_path / "nowhere.toml")


def test_the_example_file_is_valid_and_resolves(tmp_path: Path) -> None:
    env = {"STAGING_AK_ID": "AKSTAGE", "STAGING_AK_SECRET": SECRET}
    run = resolve_config(env=env, config_path=ROOT / "config.example.toml", aliyun_config=profiles(tmp_path))
    first = [t for t in run.targets if t.account == "1234567890123456"]
    assert [t.region for t in first] == list(FC_REGIONS)
    assert all(
        static_credentials(t.identity).access_key_id == "AKPROD" and t.limits(run.settings) == (10.0, 16)
        for t in first
    )
    staging = [t for t in run.targets if t.account == "6543210987654321"]
    assert [(t.region, static_credentials(t.identity).access_key_id) for t in staging] == [
        ("ap-southeast-1", "AKSTAGE")
    ]
    assert staging[0].limits(run.settings) == (None, 32)
    assert run.settings == CrawlSettings()
    assert run.audit["fail_on"] == "none"  # the [audit] table is passed through to the rules untouched


# ---- targets: precedence flags > file > env -----------------------------------------------------------


def single(**kwargs: Any) -> tuple[Target, ...]:
    kwargs.setdefault("env", ENV)
    kwargs.setdefault("settings", CrawlSettings())
    kwargs.setdefault("aliyun_config", Path("/nonexistent/fcaudit/aliyun.json"))
    return resolve_targets(**kwargs)


def test_account_and_regions_from_env_give_the_public_endpoints() -> None:
    env = {**ENV, "ALIBABA_CLOUD_ACCOUNT_ID": "111", "ALIBABA_CLOUD_REGION_ID": "cn-hangzhou,cn-beijing"}
    targets = single(env=env)
    assert [(t.account, t.region, t.endpoint) for t in targets] == [
        ("111", "cn-hangzhou", "https://111.cn-hangzhou.fc.aliyuncs.com"),
        ("111", "cn-beijing", "https://111.cn-beijing.fc.aliyuncs.com"),
    ]
    assert static_credentials(targets[0].identity).access_key_id == "AKENV"


def test_flags_beat_file_beat_env(tmp_path: Path) -> None:
    env = {**ENV, "ALIBABA_CLOUD_ACCOUNT_ID": "111", "ALIBABA_CLOUD_REGION_ID": "cn-hangzhou"}
    file = load_config_file(toml(tmp_path, 'account = "222"\nregions = ["cn-shanghai"]\n'))
    assert [(t.account, t.region) for t in single(env=env, file=file)] == [("222", "cn-shanghai")]
    flagged = single(env=env, file=file, account="333", regions=["cn-shenzhen"])
    assert [(t.account, t.region) for t in flagged] == [("333", "cn-shenzhen")]


def test_profile_flag_and_its_region(tmp_path: Path) -> None:
    targets = single(env={"ALIBABA_CLOUD_ACCOUNT_ID": "1"}, profile="home", aliyun_config=profiles(tmp_path))
    assert [(t.region, static_credentials(t.identity).access_key_id) for t in targets] == [
        ("cn-beijing", "AKHOME")
    ]


def test_without_an_account_the_endpoint_keeps_its_placeholder() -> None:
    """The account is learnt at run time (STS GetCallerIdentity) when nothing names it."""
    (target,) = single(regions=["cn-hangzhou"])
    assert (target.account, target.endpoint) == ("", "https://{account}.cn-hangzhou.fc.aliyuncs.com")
    (target,) = single(regions=["cn-hangzhou"], endpoint="http://127.0.0.1:9/")
    assert (target.account, target.endpoint) == ("", "http://127.0.0.1:9")
    (target,) = single(
        regions=["cn-hangzhou"], endpoint="https://{account}.{region}-internal.fc.aliyuncs.com"
    )
    assert target.endpoint == "https://{account}.cn-hangzhou-internal.fc.aliyuncs.com"


def test_missing_region_or_credentials_say_how_to_fix() -> None:
    with pytest.raises(UsageError, match=r"no region: pass --region ID.*ALIBABA_CLOUD_REGION_ID"):
        single(account="1")
    with pytest.raises(CredentialsError, match="no credentials found"):
        single(env={}, account="1", regions=["cn-hangzhou"])
    with pytest.raises(UsageError, match="--account: account id"):
        single(account="1 2", regions=["cn-hangzhou"])
    with pytest.raises(UsageError, match="--region"):
        single(account="1", regions=["Hangzhou!"])


def test_explicit_endpoints() -> None:
    (target,) = single(account="1", regions=["cn-hangzhou"], endpoint="http://127.0.0.1:8080/")
    assert target.endpoint == "http://127.0.0.1:8080"
    (target,) = single(
        account="1", regions=["cn-hangzhou"], endpoint="https://{account}.{region}-internal.x.com"
    )
    assert target.endpoint == "https://1.cn-hangzhou-internal.x.com"
    with pytest.raises(UsageError, match=r"plain http to example\.com"):
        single(account="1", regions=["cn-hangzhou"], endpoint="http://example.com")
    insecure = CrawlSettings(insecure_http=True)
    (target,) = single(account="1", regions=["cn-hangzhou"], endpoint="http://example.com", settings=insecure)
    assert target.endpoint == "http://example.com"


@pytest.mark.parametrize(
    "url",
    ["ftp://h", "https://h/path", "https://h?x=1", "https://u:p@h", "https://h:99999", "127.0.0.1:80"],
)
def test_bad_endpoint_urls(url: str) -> None:
    with pytest.raises(FatalError):
        check_endpoint(url, insecure_http=False)


def test_loopback_forms_are_allowed_over_http() -> None:
    for url in ("http://localhost:1", "http://127.0.0.2:1", "http://[::1]:1"):
        assert check_endpoint(url, insecure_http=False) == url


def test_file_targets(tmp_path: Path) -> None:
    file = load_config_file(
        toml(
            tmp_path,
            'regions = ["cn-hangzhou"]\nprofile = "prod"\n'
            '[[targets]]\naccount = "1"\nrate = 5\n'
            '[[targets]]\naccount = "2"\nregions = ["cn-beijing", "cn-shanghai"]\n'
            'access_key_id_env = "B_ID"\naccess_key_secret_env = "B_SECRET"\nendpoint = "https://fc.{region}.example.test"\n',
        )
    )
    env = {"B_ID": "AKB", "B_SECRET": SECRET}
    targets = resolve_targets(env=env, settings=CrawlSettings(), file=file, aliyun_config=profiles(tmp_path))
    assert [(t.account, t.region, static_credentials(t.identity).access_key_id, t.rate) for t in targets] == [
        ("1", "cn-hangzhou", "AKPROD", 5.0),
        ("2", "cn-beijing", "AKB", None),
        ("2", "cn-shanghai", "AKB", None),
    ]
    assert targets[1].endpoint == "https://fc.cn-beijing.example.test"
    flagged = resolve_targets(
        env=env,
        settings=CrawlSettings(),
        file=file,
        aliyun_config=profiles(tmp_path),
        overrides={"rate": 2.0},
    )
    assert {t.rate for t in flagged} == {2.0}
    with pytest.raises(UsageError, match="cannot be combined with"):
        resolve_targets(env=env, settings=CrawlSettings(), file=file, account="3")


def test_duplicate_targets_are_refused(tmp_path: Path) -> None:
    file = load_config_file(
        toml(tmp_path, '[[targets]]\naccount = "1"\nregions = ["cn-hangzhou"]\n[[targets]]\naccount = "1"\n')
    )
    env = {**ENV, "ALIBABA_CLOUD_REGION_ID": "cn-hangzhou"}
    with pytest.raises(ConfigError, match="account 1 region cn-hangzhou is listed twice"):
        resolve_targets(env=env, settings=CrawlSettings(), file=file)


def test_audit_table_is_passed_through_untouched(tmp_path: Path) -> None:
    path = toml(
        tmp_path, 'account = "1"\nregions = ["cn-hangzhou"]\n[audit]\nfail_on = "high"\nanything = [1, 2]\n'
    )
    run = resolve_config(env=ENV, config_path=path)
    assert run.audit == {"fail_on": "high", "anything": [1, 2]}
    assert run.source == path


def test_no_secret_in_any_target_repr(tmp_path: Path) -> None:
    creds = Credentials("AK", SECRET, "sts-secret-token")
    target = Target("1", "cn-hangzhou", "https://x", StaticKeys(creds))
    assert SECRET not in repr(target)
    assert "sts-secret-token" not in repr(target)
