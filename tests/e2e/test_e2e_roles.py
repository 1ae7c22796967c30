"""An estate crawled through roles, end to end on the emulator: one base identity in a central account
assumes a read-only role in each member account (STS, the FC gates and the ground truth are the
emulator's own code), over real loopback sockets.

The long test (``test_a_crawl_longer_than_a_session_refreshes_every_role``) is the issue's: 3 accounts x 2
regions, 20-second sessions, a crawl slowed by the emulator's latency to outlast a session — output
equal to the ground truth, every role refreshed at least once, no pair in ``error``, and the end
record's STS counts equal to one AssumeRole per role per refresh (the emulator's own count agrees).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import CrawlOutcome
from crawler.crawl.runner import execute
from crawler.emulator.faults import FaultConfig
from crawler.settings.config import CrawlSettings, Target
from crawler.store.writer import Sink
from crawler.wire.run_stats import RunStats
from tests.support.crawl_support import Crawled, assert_matches_truth, read_ndjson
from tests.support.identity_support import IdentityEstateSpec, member_account
from tests.support.role_estate import role_estate

SETTINGS = CrawlSettings(max_attempts=3, backoff_base=0.01, backoff_cap=0.05)


def crawl(
    targets: tuple[Target, ...], out: Path, settings: CrawlSettings = SETTINGS
) -> tuple[CrawlOutcome, RunStats]:
    stats = RunStats()

    async def main() -> CrawlOutcome:
        return await execute(CrawlJob(targets, settings), Sink.open_file(out), stats=stats)

    return anyio.run(main), stats


def test_every_region_of_an_account_shares_one_assume_role(tmp_path: Path) -> None:
    with role_estate(IdentityEstateSpec(members=3, emulators=False)) as estate:
        out = tmp_path / "out.ndjson"
        outcome, _ = crawl(estate.targets(), out)
        assert outcome.complete, outcome.end.data
        assert_matches_truth(Crawled.of(read_ndjson(out)), estate.truth())
        assert dict(estate.registry.assumed) == {role.arn: 1 for role in estate.roles.values()}
        sts: dict[str, Any] = outcome.end.data["sts"]
    assert sts["assumeRole"] == 3  # 3 accounts x 2 regions: one per role, not per region or request
    assert sts["getCallerIdentity"] == 3  # who am I, once per role
    assert sts.get("refreshes", 0) == 0


@pytest.mark.parametrize("mistake", ["untrusted", "external_id"])
def test_a_refused_role_stops_its_account_only(tmp_path: Path, mistake: str) -> None:
    refused = member_account(1)
    spec = IdentityEstateSpec(
        members=3,
        emulators=False,
        untrusted=frozenset({1}) if mistake == "untrusted" else frozenset(),
        external_id="right-external-id" if mistake == "external_id" else None,
    )
    external = (
        {
            a: ("wrong-external-id" if a == refused else "right-external-id")
            for a in map(member_account, range(3))
        }
        if mistake == "external_id"
        else None
    )
    with role_estate(spec) as estate:
        out = tmp_path / "out.ndjson"
        outcome, _ = crawl(estate.targets(external_ids=external), out)
        served = {key: emu.stats()["requests"] for key, emu in estate.emulators.items()}
        others = [a for a in estate.roles if a != refused]
        truth = list(estate.truth(others))
    assert not outcome.complete
    assert not outcome.all_refused
    assert sorted((r.account, r.region) for r in outcome.refused) == [
        (refused, "cn-hangzhou"),
        (refused, "cn-shanghai"),
    ]
    for refusal in outcome.refused:
        assert refusal.error.code == "NoPermission"
        assert estate.roles[refused].arn in refusal.error.message
        assert "wrong-external-id" not in refusal.error.message
    crawled = Crawled.of(read_ndjson(out))
    assert {k[0] for k in crawled.functions} == set(others)
    assert_matches_truth(crawled, truth)
    assert all(f["status"] != "error" for f in crawled.functions.values())
    # a handful of requests: one AssumeRole for the refused role (shared by both regions), nothing to FC
    assert estate.registry.assumed[estate.roles[refused].arn] == 0  # STS issued it nothing
    assert sum(estate.registry.refused.values()) == 1  # and refused it once, for both regions
    assert outcome.end.data["sts"]["assumeRole"] == 3
    # the refused account's FC endpoints were never asked: its lanes stopped before their first request
    assert {key: n for key, n in served.items() if key[0] == refused} == {
        (refused, "cn-hangzhou"): 0,
        (refused, "cn-shanghai"): 0,
    }
    assert all(n > 0 for key, n in served.items() if key[0] != refused)


@pytest.mark.slow
def test_a_crawl_longer_than_a_session_refreshes_every_role(tmp_path: Path) -> None:
    """The issue's end-to-end test (the suite's one long test, about 25 s)."""
    spec = IdentityEstateSpec(members=3, session_seconds=20, emulators=False)
    faults = FaultConfig(latency_ms=380)
    with role_estate(spec, services=3, functions=60, faults=faults) as estate:
        out = tmp_path / "out.ndjson"
        started = time.monotonic()
        outcome, _ = crawl(estate.targets(concurrency=1), out)
        elapsed = time.monotonic() - started
        crawled = Crawled.of(read_ndjson(out))
        assumed = dict(estate.registry.assumed)
        truth = list(estate.truth())
    assert elapsed > 21, f"the crawl took {elapsed:.1f} s: it must outlast a 20-second session"
    assert outcome.complete, outcome.end.data
    assert_matches_truth(crawled, truth)
    assert all(f["status"] != "error" for f in crawled.functions.values())
    assert set(assumed) == {role.arn for role in estate.roles.values()}
    assert all(n >= 2 for n in assumed.values()), f"a role was never refreshed: {assumed}"
    sts = outcome.end.data["sts"]
    assert sts["assumeRole"] == sum(assumed.values())  # our count is STS's count
    assert sts["refreshes"] == sts["assumeRole"] - 3  # one AssumeRole per role, then one per refresh
    # per role, one refresh per two thirds of a session at most: not per region or per request
    assert max(assumed.values()) <= 1 + int(elapsed / (20 * 2 / 3)) + 1
