"""Many accounts and regions: one crawl over ``[[targets]]`` — two accounts × three regions, one emulator
thread per account with a port per region, one region throttled by a low quota — attributes every record
to its account and region, keeps each account's key to its own endpoints, and gives each endpoint its
own limiter, so only the throttled region is throttled."""

from __future__ import annotations

from itertools import chain
from pathlib import Path

import pytest

from crawler.emulator.faults import FaultConfig
from crawler.settings.config import resolve_config
from crawler.settings.identity import static_credentials
from tests.support.crawl_support import (
    Crawled,
    assert_matches_truth,
    isolated_env,
    read_ndjson,
    run_cli,
)
from tests.support.estate_support import AccountEmulator, RegionSpec, targets_toml

REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing")
THROTTLED = ("1111111111111111", "cn-shanghai")


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def estate(
    account: str, key_seed: int, seeds: tuple[int, int, int], throttled: str | None
) -> AccountEmulator:
    # a burst of 1: the limiter's initial window starts two requests at once and the bucket refuses the
    # second, so the region is throttled however slowly a loaded machine runs the crawl
    quota = FaultConfig(seed=5, quota_rps=25.0, quota_burst=1, latency_ms=1.0, retry_hint="retry-after")
    return AccountEmulator(
        account,
        key_seed,
        [
            RegionSpec(region, seed, faults=quota if region == throttled else None)
            for region, seed in zip(REGIONS, seeds, strict=True)
        ],
    )


def test_two_accounts_three_regions_one_throttled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with (
        estate("1111111111111111", 41, (1, 2, 3), throttled="cn-shanghai") as first,
        estate("2222222222222222", 42, (4, 5, 6), throttled=None) as second,
    ):
        accounts = {"ACCT_A": first, "ACCT_B": second}
        for prefix, emulator in accounts.items():
            for name, value in emulator.env(prefix).items():
                monkeypatch.setenv(name, value)
        config = tmp_path / "estate.toml"
        config.write_text(
            targets_toml(accounts, {THROTTLED: "concurrency = 4\n"}) + "\n[crawl]\nconcurrency = 16\n"
        )
        out = tmp_path / "estate.ndjson"

        code = run_cli(["crawl", "--config", str(config), "--output", str(out), "-q"])

        assert code == 0
        records = read_ndjson(out)
        crawled = Crawled.of(records)
        assert_matches_truth(crawled, chain(first.truth(), second.truth()))
        assert {(k[0], k[1]) for k in crawled.functions} == {
            (a.account_id, r) for a in (first, second) for r in REGIONS
        }
        start, end = crawled.start[0], crawled.end[0]
        assert sorted((t["account"], t["region"]) for t in start["targets"]) == sorted(
            (a.account_id, r) for a in (first, second) for r in REGIONS
        )
        assert end["complete"] is True
        throttled = {(a.account_id, r): a.stats(r)["throttled"] for a in (first, second) for r in REGIONS}
        assert throttled.pop(THROTTLED) > 0  # the quota bit
        assert set(throttled.values()) == {0}  # and nothing else was throttled: a limiter per endpoint
        assert end["throttled"] == first.stats("cn-shanghai")["throttled"]
        requests = sum(a.stats(r)["requests"] for a in (first, second) for r in REGIONS)
        assert end["requests"] == requests


def test_targets_resolve_per_account_keys_regions_and_limits(tmp_path: Path) -> None:
    config = tmp_path / "targets.toml"
    config.write_text(
        """
[[targets]]
account = "1111111111111111"
regions = ["cn-hangzhou", "cn-shanghai"]
endpoint = "https://{account}.{region}.fc.example.test"
access_key_id_env = "A_ID"
access_key_secret_env = "A_SECRET"
rate = 5
concurrency = 2

[[targets]]
account = "2222222222222222"
regions = "*"
access_key_id_env = "B_ID"
access_key_secret_env = "B_SECRET"
security_token_env = "B_TOKEN"
"""
    )
    env = {"A_ID": "ka", "A_SECRET": "sa", "B_ID": "kb", "B_SECRET": "sb", "B_TOKEN": "tb"}
    run = resolve_config(env=env, config_path=config)
    first = [t for t in run.targets if t.account == "1111111111111111"]
    second = [t for t in run.targets if t.account == "2222222222222222"]
    assert [t.region for t in first] == ["cn-hangzhou", "cn-shanghai"]
    assert first[1].endpoint == "https://1111111111111111.cn-shanghai.fc.example.test"
    assert {static_credentials(t.identity).access_key_id for t in first} == {"ka"}
    assert {t.limits(run.settings) for t in first} == {(5.0, 2)}
    assert len(second) >= 19  # "*": every FC region fcaudit knows
    assert {static_credentials(t.identity).access_key_id for t in second} == {"kb"}
    assert {static_credentials(t.identity).security_token for t in second} == {"tb"}
    assert second[0].endpoint == "https://2222222222222222.cn-hangzhou.fc.aliyuncs.com"
    assert {t.limits(run.settings) for t in second} == {(None, 32)}
