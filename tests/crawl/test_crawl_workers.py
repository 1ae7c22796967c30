"""A lane's workers: a busy lane reaches exactly its width of functions in flight, an idle lane costs a
single task, and workers are reused (not a task per function). Shown with a stand-in client and gates,
no clocks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
import pytest

from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import Crawl
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import StaticKeys
from crawler.store.writer import Sink
from crawler.wire.models import ListingClient, Page
from crawler.wire.run_stats import RunStats
from tests.support.crawl_support import OneServiceRegion, read_ndjson

pytestmark = pytest.mark.anyio

CREDS = Credentials("AKIDWORKERS", "workers-secret")


class GatedRegion(OneServiceRegion):
    """``functions`` functions in one service; config listings wait on ``gate`` and count how many are
    in flight at once and which tasks ran them."""

    def __init__(self, functions: int, gate: anyio.Event | None = None) -> None:
        super().__init__([f"fn-{i:03d}" for i in range(functions)])
        self.gate = gate
        self.in_flight = 0
        self.most_in_flight = 0
        self.tasks: set[int] = set()

    async def list_async_configs(
        self, service: str, function: str, *, limit: int, next_token: str | None
    ) -> Page:
        self.tasks.add(id(asyncio.current_task()))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.gate is not None:
            await self.gate.wait()
        else:
            await anyio.lowlevel.checkpoint()
        self.in_flight -= 1
        return Page(({"qualifier": "LATEST", "maxAsyncRetryAttempts": 1},), None, None)


def crawl_of(region: ListingClient, width: int, tmp_path: Path) -> tuple[Crawl, Path]:
    target = Target("1", "cn-hangzhou", "http://127.0.0.1:1", StaticKeys(CREDS), concurrency=width)
    job = CrawlJob((target,), CrawlSettings(concurrency=width))
    out = tmp_path / "out.ndjson"
    return Crawl(job, {("1", "cn-hangzhou"): region}, Sink.open_file(out), stats=RunStats()), out


async def run_closing(crawl: Crawl) -> None:
    try:
        await crawl.run()
    finally:
        await crawl.sink.aclose()


async def test_a_busy_lane_fills_its_width_and_no_more(tmp_path: Path) -> None:
    gate = anyio.Event()
    region = GatedRegion(functions=50, gate=gate)
    crawl, out = crawl_of(region, 8, tmp_path)
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_closing, crawl)
        await anyio.wait_all_tasks_blocked()
        assert region.in_flight == 8  # grown to the lane's width while keys were waiting
        gate.set()
    assert region.most_in_flight == 8
    assert sum(1 for r in read_ndjson(out) if r["type"] == "function") == 50


async def test_workers_are_reused_not_started_per_function(tmp_path: Path) -> None:
    region = GatedRegion(functions=200)
    crawl, _out = crawl_of(region, 4, tmp_path)
    await run_closing(crawl)
    assert len(region.tasks) <= 4  # 200 functions crawled by at most the lane's 4 worker tasks


async def test_an_idle_lane_costs_one_task(tmp_path: Path) -> None:
    listing = anyio.Event()
    region = GatedRegion(functions=5)
    real_list_functions = region.list_functions

    async def slow_discovery(service: str, *, limit: int, next_token: str | None) -> Page:
        await listing.wait()  # the lane has no key yet: it idles
        return await real_list_functions(service, limit=limit, next_token=next_token)

    region.list_functions = slow_discovery  # type: ignore[method-assign]
    crawl, out = crawl_of(region, 32, tmp_path)
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_closing, crawl)
        await anyio.wait_all_tasks_blocked()
        names = [task.get_name() for task in asyncio.all_tasks()]
        assert sum(1 for n in names if n.endswith(("Crawl._lane_workers", "Crawl._worker"))) == 1
        listing.set()
    assert sum(1 for r in read_ndjson(out) if r["type"] == "function") == 5
