"""Throttling with no ``--rate``: against a quota of Q requests/s the adaptive limiter finds the pace and
stays under it — throttled answers under 5% of all requests, no second above 1.2 × Q after the first two
seconds — and the output is still exactly the ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig
from tests.support.crawl_support import (
    Crawled,
    assert_matches_truth,
    clean_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)
from tests.support.fixtures import EmulatorFactory

QUOTA = 100.0


def test_the_crawl_settles_under_an_unknown_quota(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env(monkeypatch, tmp_path)
    # ~620 requests at 100/s: a crawl of six seconds or more, so at least three whole seconds are judged
    # after the first two (300 functions ended inside four seconds once the limiter found the quota at
    # once, and the judged span was empty or one second)
    spec = AccountSpec(seed=41, services=4, functions=600, big_functions=1)
    faults = FaultConfig(seed=1, latency_ms=3.0, quota_rps=QUOTA, quota_burst=10)
    emulator = emulator_factory(spec, faults)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"

    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "--concurrency", "32", "-q"]) == 0

    stats = emulator.stats()
    assert stats["throttled"] > 0  # the quota was met: the limiter had something to find
    assert stats["throttled"] < 0.05 * stats["requests"]
    seconds = stats["per_second"][2:-1]  # after the first two seconds; the last one is partial
    assert len(seconds) >= 3, f"the crawl was too short to judge: {stats['per_second']}"
    assert max(seconds) <= 1.2 * QUOTA, seconds
    assert_matches_truth(Crawled.of(read_ndjson(out)), emulator.backend.truth_records())
