"""A stuck target must not hold up the others: each target has its own lane (key stream, workers,
listers). Shown without clocks: one target's config listings block until every other target's
functions are written — which can only happen if the others never wait behind it — and a shard
keeps exactly the services it owns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest

from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import Crawl
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import StaticKeys
from crawler.store.records import FunctionRecord, Written
from crawler.store.shard import ShardSpec
from crawler.store.writer import Sink, Subscribers
from crawler.wire.models import ListingClient, Page
from crawler.wire.run_stats import RunStats
from tests.support.crawl_support import read_ndjson

pytestmark = pytest.mark.anyio

CREDS = Credentials("AKIDLANES", "lanes-secret")


class FakeRegion:
    """A region of a few services and functions, one config each; ``gate`` (if set) holds every config
    listing until it is opened. A stand-in handed to the pipeline through its constructor."""

    def __init__(self, services: int, functions: int, gate: anyio.Event | None = None) -> None:
        self.services = [f"svc-{i:02d}" for i in range(services)]
        self.functions = [f"fn-{i:03d}" for i in range(functions)]
        self.gate = gate
        self.waiting = 0

    async def list_services(self, *, limit: int, next_token: str | None) -> Page:
        return Page(tuple({"serviceName": s} for s in self.services), None, None)

    async def list_functions(self, service: str, *, limit: int, next_token: str | None) -> Page:
        return Page(tuple({"functionName": f} for f in self.functions), None, None)

    async def list_triggers(self, service: str, function: str, *, limit: int, next_token: str | None) -> Page:
        return Page((), None, None)

    async def list_async_configs(
        self, service: str, function: str, *, limit: int, next_token: str | None
    ) -> Page:
        if self.gate is not None:
            self.waiting += 1
            await self.gate.wait()
        config = {"service": service, "function": function, "qualifier": "LATEST", "maxAsyncRetryAttempts": 1}
        return Page((config,), None, None)


def target(account: str, region: str, concurrency: int | None = None) -> Target:
    return Target(account, region, "http://127.0.0.1:1", StaticKeys(CREDS), concurrency=concurrency)


async def test_a_stuck_target_does_not_hold_up_the_others(tmp_path: Path) -> None:
    gate = anyio.Event()
    stuck = FakeRegion(services=2, functions=40, gate=gate)  # 80 keys: more than every buffer and worker
    others = {("2", "cn-hangzhou"): FakeRegion(3, 10), ("2", "cn-beijing"): FakeRegion(2, 15)}
    clients: dict[tuple[str, str], ListingClient] = {("1", "cn-shanghai"): stuck, **others}
    expected = {key: len(r.services) * len(r.functions) for key, r in others.items()}
    done: Counter[tuple[str, str]] = Counter()

    class Done:
        def add(self, written: Written) -> None:
            record = written.record
            if isinstance(record, FunctionRecord):
                done[(record.key.account, record.key.region)] += 1
                if all(done[key] == n for key, n in expected.items()):
                    gate.set()  # every other target finished while the stuck one was still stuck

    job = CrawlJob(
        (target("1", "cn-shanghai", concurrency=2), target("2", "cn-hangzhou"), target("2", "cn-beijing")),
        CrawlSettings(concurrency=8),
    )
    sink = Sink.open_file(tmp_path / "out.ndjson", subscribers=Subscribers(Done()))
    with anyio.fail_after(20):
        try:
            outcome = await Crawl(job, clients, sink, stats=RunStats()).run()
        finally:
            await sink.aclose()
    assert outcome.complete
    assert done[("1", "cn-shanghai")] == 80
    assert stuck.waiting == 80
    assert stuck.waiting > 0


async def test_a_shard_keeps_exactly_the_services_it_owns(tmp_path: Path) -> None:
    regions = {("1", "cn-hangzhou"): FakeRegion(12, 2), ("1", "cn-beijing"): FakeRegion(9, 2)}
    targets = (target("1", "cn-hangzhou"), target("1", "cn-beijing"))
    seen: Counter[tuple[str, str, str]] = Counter()
    for index in range(3):
        spec = ShardSpec(index, 3)
        out = tmp_path / f"shard-{index}.ndjson"
        sink = Sink.open_file(out)
        try:
            await Crawl(
                CrawlJob(targets, CrawlSettings(), shard=spec), dict(regions), sink, stats=RunStats()
            ).run()
        finally:
            await sink.aclose()
        records = read_ndjson(out)
        owned = {(r["account"], r["region"], r["service"]) for r in records if r["type"] == "function"}
        assert all(spec.owns(*key) for key in owned)
        assert records[-1]["shard"] == {"index": index, "count": 3}
        seen.update(owned)
    every = {(a, r, s) for (a, r), region in regions.items() for s in region.services}
    assert set(seen) == every
    assert set(seen.values()) == {1}  # each service in exactly one shard
