"""``function_deadline`` kept by one watchdog (``crawler.crawl.deadlines``): it cancels only an armed,
overdue watch, once; a worker whose watch fired hands on what it held and goes on in a fresh scope; and a
listing whose last answer came in as the watch fired is kept whole, with the next function untouched.
Shown with a stand-in client and a clock the test moves (the watchdog's own ticks never see it move)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from crawler.crawl.deadlines import MAX_TICK, MIN_TICK, Watchdog
from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import Crawl
from crawler.errors import AuthError
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import StaticKeys
from crawler.store.writer import Sink
from crawler.wire.models import Page
from crawler.wire.run_stats import RunStats
from tests.support.crawl_support import OneServiceRegion, read_ndjson
from tests.support.limiter_support import VirtualClock

pytestmark = pytest.mark.anyio

CREDS = Credentials("AKIDDEADLINES", "deadlines-secret")


def test_the_watchdog_looks_ten_times_a_deadline_at_most_once_a_second() -> None:
    assert Watchdog(120.0).tick == MAX_TICK == 1.0
    assert Watchdog(0.3).tick == pytest.approx(0.03)
    assert Watchdog(0.0).tick == MIN_TICK  # (a zero deadline does not spin the loop)


async def test_only_an_armed_overdue_watch_is_cancelled_and_only_once() -> None:
    clock = VirtualClock(1000.0)
    watchdog = Watchdog(10.0, clock)
    armed, idle, later = watchdog.watch(), watchdog.watch(), watchdog.watch()
    armed.arm(10.0)
    later.arm(20.0)
    clock.now += 9.99
    assert watchdog.check() == 0
    clock.now += 0.01
    assert watchdog.check() == 1
    assert armed.fired
    assert not idle.fired
    assert not later.fired
    assert armed.due == math.inf
    assert watchdog.check() == 0  # cancelled once
    armed.renew()
    assert not armed.fired
    watchdog.forget(later)
    clock.now += 100
    assert watchdog.check() == 0  # a forgotten watch is not looked at
    armed.arm(1.0)
    armed.disarm()
    clock.now += 100
    assert watchdog.check() == 0


class Region(OneServiceRegion):
    """One service of ``functions`` functions; the listing of ``stall`` waits on ``gate`` (and then
    raises ``refusal``, if one is set)."""

    def __init__(self, functions: int, stall: str, refusal: AuthError | None = None) -> None:
        super().__init__([f"fn-{i:03d}" for i in range(functions)])
        self.stall = stall
        self.refusal = refusal
        self.gate = anyio.Event()
        self.waiting = anyio.Event()
        self.listed: list[str] = []

    async def list_async_configs(
        self, service: str, function: str, *, limit: int, next_token: str | None
    ) -> Page:
        if function == self.stall:
            self.waiting.set()
            await self.gate.wait()
            if self.refusal is not None:
                raise self.refusal
        else:
            await anyio.lowlevel.checkpoint()
        self.listed.append(function)
        return Page(({"qualifier": "LATEST", "maxAsyncRetryAttempts": 1},), None, None)


def one_worker_crawl(region: Region, clock: VirtualClock, tmp_path: Path) -> tuple[Crawl, Path]:
    target = Target("1", "cn-hangzhou", "http://127.0.0.1:1", StaticKeys(CREDS), concurrency=1)
    job = CrawlJob((target,), CrawlSettings(concurrency=1, function_deadline=10.0))
    out = tmp_path / "out.ndjson"
    sink = Sink.open_file(out)
    return Crawl(job, {("1", "cn-hangzhou"): region}, sink, stats=RunStats(), clock=clock), out


async def crawl_while(crawl: Crawl, region: Region, step: Callable[[], None]) -> None:
    async def run() -> None:
        try:
            await crawl.run()
        finally:
            await crawl.sink.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(5):  # (a crawl that never lists the stalled function fails, not hangs)
            await region.waiting.wait()
        step()


def open_as_it_fires(crawl: Crawl, region: Region, clock: VirtualClock) -> Callable[[], None]:
    """The stalled listing's answer comes in the very step its watch fires (past its 10 s deadline)."""

    def step() -> None:
        region.gate.set()
        clock.now += 10.0
        assert crawl.watchdog.check() == 1

    return step


def functions_of(out: Path) -> dict[str, dict[str, object]]:
    return {r["function"]: r for r in read_ndjson(out) if r["type"] == "function"}


async def test_a_listing_past_its_deadline_is_an_error_and_the_worker_goes_on(tmp_path: Path) -> None:
    clock = VirtualClock(1000.0)
    region = Region(5, stall="fn-001")
    crawl, out = one_worker_crawl(region, clock, tmp_path)

    def overrun() -> None:
        clock.now += 10.0
        assert crawl.watchdog.check() == 1

    await crawl_while(crawl, region, overrun)
    functions = functions_of(out)
    assert functions["fn-001"]["status"] == "error"
    error = functions["fn-001"]["error"]
    assert isinstance(error, dict)
    assert error["code"] == "FunctionDeadline"
    assert error["message"] == (
        "the function's listing took longer than function_deadline (10 s) after 0 pages; gave up on it"
    )
    assert len(crawl.watchdog) == 0  # the worker's watch went with it
    # the one worker went on in a fresh scope: every other function is whole
    assert {f: r["status"] for f, r in functions.items() if f != "fn-001"} == dict.fromkeys(
        ["fn-000", "fn-002", "fn-003", "fn-004"], "ok"
    )
    assert region.listed == ["fn-000", "fn-002", "fn-003", "fn-004"]


async def test_a_listing_whose_answer_came_as_the_watch_fired_is_kept_whole(tmp_path: Path) -> None:
    """The gate opens and the watch fires in one step: the listing's last await is already done, so
    anyio cancels it at the worker's next await. The worker must leave its scope before it awaits again,
    or the next function (well within its deadline) is cut short in its place."""
    clock = VirtualClock(1000.0)
    region = Region(4, stall="fn-001")
    crawl, out = one_worker_crawl(region, clock, tmp_path)

    await crawl_while(crawl, region, open_as_it_fires(crawl, region, clock))
    functions = functions_of(out)
    assert {f: r["status"] for f, r in functions.items()} == dict.fromkeys(
        ["fn-000", "fn-001", "fn-002", "fn-003"], "ok"
    )
    assert region.listed == ["fn-000", "fn-001", "fn-002", "fn-003"]


async def test_a_refusal_that_came_as_the_watch_fired_stops_the_target_and_nothing_else(
    tmp_path: Path,
) -> None:
    """The stalled listing's answer is a refusal of the credentials, in the step its watch fires: the
    target stops as for any refusal (the function is not written, the keys after it are dropped for
    --resume), with no deadline error, and the worker ends cleanly."""
    clock = VirtualClock(1000.0)
    refusal = AuthError("InvalidAccessKeyId: the key is unknown", http=403, code="InvalidAccessKeyId")
    region = Region(4, stall="fn-001", refusal=refusal)
    crawl, out = one_worker_crawl(region, clock, tmp_path)

    await crawl_while(crawl, region, open_as_it_fires(crawl, region, clock))
    records = read_ndjson(out)
    assert {f: r["status"] for f, r in functions_of(out).items()} == {"fn-000": "ok"}
    end = records[-1]
    assert end["type"] == "run"
    assert end["complete"] is False
    assert [e["error"]["code"] for e in end["discoveryErrors"]] == ["InvalidAccessKeyId"]
    assert region.listed == ["fn-000"]
    assert len(crawl.watchdog) == 0
