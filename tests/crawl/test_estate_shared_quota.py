"""An account whose regions draw on one quota (a bucket of one request): one crawl over two regions,
each served on its own port, every request counted against the account's one bucket, must end
complete and true. The crawl before ``SharedQuota`` did not always: the region whose first listing came
second could lose every token to the other (its ListServices refused six times running, the region
left out, exit 3, in a third of bench/shared_quota.py's runs). How fast such crawls go is measured by
hand with that bench (docs/performance.md); a wall-clock bound here would test the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.emulator.faults import FaultConfig
from tests.support.crawl_support import Crawled, assert_matches_truth, isolated_env, read_ndjson, run_cli
from tests.support.estate_support import AccountEmulator, RegionSpec, targets_toml

_isolated_env = pytest.fixture(autouse=True)(isolated_env)

QUOTA = 40.0


def test_regions_sharing_a_one_request_bucket_are_crawled_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = FaultConfig(
        seed=3, latency_ms=5.0, jitter_ms=5.0, quota_rps=QUOTA, quota_burst=1, retry_hint="retry-after"
    )
    regions = [
        RegionSpec("cn-hangzhou", 1, services=3, functions=80),
        RegionSpec("cn-shanghai", 2, services=3, functions=80),
    ]
    with AccountEmulator("3333333333333333", 43, regions, shared_quota=shared) as account:
        for name, value in account.env("ACCT").items():
            monkeypatch.setenv(name, value)
        config = tmp_path / "shared.toml"
        config.write_text(targets_toml({"ACCT": account}) + "\n[crawl]\nconcurrency = 16\n")
        out = tmp_path / "shared.ndjson"

        code = run_cli(["crawl", "--config", str(config), "--output", str(out), "-q"])

        assert code == 0
        crawled = Crawled.of(read_ndjson(out))
        assert_matches_truth(crawled, account.truth())
        assert crawled.end[0]["complete"] is True
        stats = [account.stats(r.region) for r in regions]
        requests = sum(s["requests"] for s in stats)
        throttled = sum(s["throttled"] for s in stats)
        assert crawled.end[0]["requests"] == requests
        assert throttled < 0.15 * requests
