"""``crawl.pipeline`` driven in this process against the emulator over 127.0.0.1, with literal pins.

Each test crawls a small hand-made account (``shaped_backend``) through the real clients and pins what
the pipeline wrote: the function and config records, and every counter of the end ``run`` record. These
run in-process so that a mutation of the pipeline is seen by them (the CLI tests run it in a child).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from crawler.crawl.job import CrawlJob
from crawler.crawl.selection import NameFilter, Selection
from crawler.emulator.server import EmulatorThread
from crawler.store.records import FunctionKey
from crawler.store.shard import ShardSpec
from tests.support.hostile import HostileServer, Upstream
from tests.support.hostile.pipeline import fc_error, overriding
from tests.support.pipeline_support import (
    ACCOUNT,
    FINISHED,
    REGION,
    SHAPED_FUNCTIONS,
    crawl_job,
    run_crawl,
    settings,
    shaped_backend,
    shaped_emulator,
    target,
)

pytestmark = pytest.mark.anyio

EVERY_CONFIG = {
    ("alpha", "a1", "LATEST"),
    ("alpha", "a1", "prod"),
    ("alpha", "a1", "v1"),
    *(("alpha", "a3", f"q{n}") for n in range(1, 6)),
    ("beta", "b1", "LATEST"),
}


shaped = pytest.fixture(name="shaped")(shaped_emulator)


async def test_a_whole_crawl_writes_every_function_once_and_an_exact_end_record(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the plain crawl: each function once with status, config count, pages and timeout, each config
    once, and every field of the end record (counts, duplicates 0, apis, the injected finish time)."""
    ran = await run_crawl(crawl_job([target(shaped.endpoint)]), tmp_path)
    assert ran.functions == SHAPED_FUNCTIONS
    assert ran.configs == EVERY_CONFIG
    assert ran.accounts == {(ACCOUNT, REGION)}
    end = dict(ran.end)
    assert end.pop("elapsedSeconds") >= 0
    assert end == {
        "type": "run",
        "phase": "end",
        "complete": True,
        "finishedAt": FINISHED,
        "interrupted": None,
        "aborted": None,
        "discoveryErrors": [],
        "duplicateConfigsDropped": 0,
        "duplicateFunctionsDropped": 0,
        "duplicateServicesDropped": 0,
        "resumedFunctions": 0,
        "shard": None,
        "apis": {f"{ACCOUNT}/{REGION}": "fc2"},
        "requests": 8,  # ListServices, 2 x ListFunctions, 5 config listings
        "triggerRequests": 0,
        "triggerErrors": 0,
        "throttled": 0,
        "retries": 0,
        "errorsByCode": {},
        "functionsDiscovered": 5,
        "functions": {"ok": 3, "none": 2, "gone": 0, "error": 0},
        "configs": 9,
        "pages": 5,
    }
    outcome = ran.outcome
    assert (outcome.complete, outcome.interrupted, outcome.refused, outcome.all_refused) == (
        True,
        None,
        (),
        False,
    )
    assert outcome.discovery_errors == ()
    assert outcome.end.data["configs"] == 9


async def test_page_size_decides_the_pages_of_every_listing(shaped: EmulatorThread, tmp_path: Path) -> None:
    """Pins ``page_size``: with 2 a function of five configs takes three pages and one of three takes two;
    the services and function listings page too (requests counts every page)."""
    ran = await run_crawl(crawl_job([target(shaped.endpoint)], page_size=2), tmp_path)
    assert ran.functions == {
        ("alpha", "a1"): ("ok", 3, 2, 60, None),
        ("alpha", "a2"): ("none", 0, 1, 3.5, None),
        ("alpha", "a3"): ("ok", 5, 3, 0, None),
        ("beta", "b1"): ("ok", 1, 1, 900, None),
        ("beta", "b2"): ("none", 0, 1, None, None),
    }
    assert ran.configs == EVERY_CONFIG
    # services: 1 page; alpha's functions: 2 pages, beta's: 1; configs: 2 + 1 + 3 + 1 + 1
    assert (ran.end["requests"], ran.end["pages"], ran.end["complete"]) == (12, 8, True)


async def test_max_pages_turns_a_longer_config_listing_into_an_error(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``max_pages`` on config listings: two pages allowed, the five-config function (three pages of
    two) is an ``error`` (PaginationError) after its two pages; the rest are whole."""
    ran = await run_crawl(crawl_job([target(shaped.endpoint)], page_size=2, max_pages=2), tmp_path)
    assert ran.functions[("alpha", "a3")] == ("error", 0, 2, 0, "PaginationError")
    assert ran.functions[("alpha", "a1")] == ("ok", 3, 2, 60, None)
    assert ran.end["complete"] is False
    assert ran.end["functions"] == {"ok": 2, "none": 2, "gone": 0, "error": 1}
    assert ("alpha", "a3", "q1") not in ran.configs


async def test_service_and_function_filters_decide_what_is_listed_and_offered(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the selection: an excluded service is never listed (no ListFunctions for it), an excluded
    function is not offered (not discovered, no config listing), a ``service/function`` glob works."""
    selection = Selection(
        services=NameFilter(exclude=("beta",)), functions=NameFilter(exclude=("a2", "alpha/a3"))
    )
    job = CrawlJob((target(shaped.endpoint),), settings(), selection=selection)
    ran = await run_crawl(job, tmp_path)
    assert ran.functions == {("alpha", "a1"): ("ok", 3, 1, 60, None)}
    assert (ran.end["requests"], ran.end["functionsDiscovered"], ran.end["complete"]) == (3, 1, True)


async def test_a_shard_crawls_only_the_services_it_owns(shaped: EmulatorThread, tmp_path: Path) -> None:
    """Pins ``job.owns`` on discovery and the end record's ``shard``: each of two shards lists the
    functions of its own services only (which shard owns which is ``ShardSpec``'s, checked by it)."""
    owned: dict[str, int] = {}
    for index in (0, 1):
        spec = ShardSpec(index, 2)
        job = CrawlJob((target(shaped.endpoint),), settings(), shard=spec)
        ran = await run_crawl(job, tmp_path)
        assert ran.end["shard"] == {"index": index, "count": 2}
        services = {service for service, _ in ran.functions}
        assert services == {s for s in ("alpha", "beta") if spec.owns(ACCOUNT, REGION, s)}
        for service in services:
            owned[service] = index
        assert ran.end["functionsDiscovered"] == len(ran.functions)
    assert set(owned) == {"alpha", "beta"}


async def test_a_targets_pair_list_skips_discovery_and_marks_unknown_pairs_never_found(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``--targets`` pairs: no ListServices or ListFunctions, each pair's configs listed, a pair FC
    does not know is ``gone`` with ``neverFound``; a pair the filters exclude is not crawled; no timeout
    (a pair is not listed)."""
    pairs = (
        FunctionKey(ACCOUNT, REGION, "alpha", "a1"),
        FunctionKey(ACCOUNT, REGION, "beta", "nope"),
        FunctionKey(ACCOUNT, REGION, "beta", "b1"),
    )
    selection = Selection(functions=NameFilter(exclude=("beta/b1",)))
    job = CrawlJob((target(shaped.endpoint),), settings(), selection=selection, pairs=pairs)
    ran = await run_crawl(job, tmp_path)
    assert ran.functions == {
        ("alpha", "a1"): ("ok", 3, 1, None, None),
        ("beta", "nope"): ("gone", 0, 0, None, None),
    }
    assert ran.function("beta", "nope")["neverFound"] is True
    assert "neverFound" not in ran.function("alpha", "a1")
    assert (ran.end["requests"], ran.end["functionsDiscovered"], ran.end["complete"]) == (2, 2, True)
    assert ran.logged("crawl.target_not_found") == [
        {
            "account": ACCOUNT,
            "region": REGION,
            "service": "beta",
            "function": "nope",
            "code": "FunctionNotFound",
            "log_level": "warning",
        }
    ]


async def test_a_resumed_crawl_skips_what_the_file_holds_and_retries_its_errors(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``skip`` and ``retry``: a skipped function is discovered (counted) but not crawled and
    ``resumedFunctions`` counts the skip set; an error function discovery lists is crawled once; one it
    no longer lists is offered after discovery (here ``gone``); one of another target or excluded by the
    filters is not."""

    def key(service: str, function: str) -> FunctionKey:
        return FunctionKey(ACCOUNT, REGION, service, function)

    job = CrawlJob(
        (target(shaped.endpoint),),
        settings(),
        selection=Selection(functions=NameFilter(exclude=("beta/filtered-*",))),
        skip=frozenset({key("alpha", "a1"), key("beta", "b2"), key("beta", "old")}),
        retry=frozenset(
            {
                key("alpha", "a3"),
                key("beta", "deleted"),
                key("beta", "filtered-out"),
                FunctionKey("0000", REGION, "beta", "elsewhere"),  # sorted first: skipped, not the end
            }
        ),
    )
    ran = await run_crawl(job, tmp_path)
    assert ran.functions == {
        ("alpha", "a2"): ("none", 0, 1, 3.5, None),
        ("alpha", "a3"): ("ok", 5, 1, 0, None),
        ("beta", "b1"): ("ok", 1, 1, 900, None),
        ("beta", "deleted"): ("gone", 0, 0, None, None),
    }
    assert "neverFound" not in ran.function("beta", "deleted")  # not a --targets pair
    assert ran.end["resumedFunctions"] == 3
    assert ran.end["functionsDiscovered"] == 6  # five listed (two skipped) and the undiscovered retry
    assert ran.end["complete"] is True
    assert ran.logged("crawl.retry_undiscovered") == [
        {"service": "beta", "function": "deleted", "log_level": "info"}
    ]


async def test_page_size_one_pages_every_listing_one_item_at_a_time(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the next token of every listing: with one item a page, services, functions and configs are
    each fetched page by page (a listing that asked for its first page again would repeat its token)."""
    ran = await run_crawl(crawl_job([target(shaped.endpoint)], page_size=1), tmp_path)
    assert ran.functions == {
        ("alpha", "a1"): ("ok", 3, 3, 60, None),
        ("alpha", "a2"): ("none", 0, 1, 3.5, None),
        ("alpha", "a3"): ("ok", 5, 5, 0, None),
        ("beta", "b1"): ("ok", 1, 1, 900, None),
        ("beta", "b2"): ("none", 0, 1, None, None),
    }
    # services 2 pages, functions 3 + 2, configs 3 + 1 + 5 + 1 + 1
    assert (ran.end["requests"], ran.end["pages"], ran.end["configs"]) == (18, 11, 9)


async def test_a_stopped_targets_pairs_are_dropped_and_the_next_targets_are_crawled(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``_send_pairs`` past a stopped target, and its workers draining the keys: 200 pairs of a
    target whose first config listing is refused after 0.3 s (its key buffer of 128 full by then, the
    next pair waiting) are dropped unwritten: one taken, 128 buffered and one waiting were offered, the
    rest skipped; the other target's pairs, after them, are all crawled."""

    async def refuse_slowly(request: web.Request) -> web.StreamResponse | None:
        if request.path.endswith("async-invoke-configs"):
            await asyncio.sleep(0.3)
            return fc_error(403, "SignatureNotMatch", "the signature does not match")
        return None

    other = shaped_backend(account="5555", region="cn-beijing")
    refused = tuple(FunctionKey(ACCOUNT, REGION, "alpha", f"f{n:03d}") for n in range(200))
    wanted = (
        FunctionKey("5555", "cn-beijing", "alpha", "a1"),
        FunctionKey("5555", "cn-beijing", "beta", "b1"),
    )
    up = Upstream(shaped.endpoint)
    with EmulatorThread(other) as second, HostileServer(overriding(up, refuse_slowly)) as server:
        targets = (target(server.endpoint, concurrency=1), target(second.endpoint, "5555", "cn-beijing"))
        job = CrawlJob(targets, settings(), pairs=refused + wanted)
        ran = await run_crawl(job, tmp_path)
    assert ran.functions == {
        ("alpha", "a1"): ("ok", 3, 1, None, None),
        ("beta", "b1"): ("ok", 1, 1, None, None),
    }
    assert ran.accounts == {("5555", "cn-beijing")}
    assert [(r.account, r.region, r.error.code) for r in ran.outcome.refused] == [
        (ACCOUNT, REGION, "SignatureNotMatch")
    ]
    assert ran.end["functionsDiscovered"] == 1 + 128 + 1 + 2


async def test_a_shard_keeps_the_pairs_of_the_services_it_owns(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``job.owns`` on ``--targets`` pairs: shard 0/2 crawls exactly the pairs whose service it owns
    (``ShardSpec.owns`` of account, region and service); the rest are not requested."""
    spec = ShardSpec(0, 2)
    pairs = tuple(FunctionKey(ACCOUNT, REGION, f"svc-{n}", "fn") for n in range(12))
    job = CrawlJob((target(shaped.endpoint),), settings(), pairs=pairs, shard=spec)
    ran = await run_crawl(job, tmp_path)
    owned = {(k.service, k.function) for k in pairs if spec.owns(ACCOUNT, REGION, k.service)}
    assert 0 < len(owned) < 12
    assert set(ran.functions) == owned
    assert ran.end["requests"] == len(owned)


async def test_a_shard_keeps_the_retries_of_the_services_it_owns(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``job.owns`` on a resumed file's undiscovered error functions: shard 0/2 retries exactly those
    of services it owns."""
    spec = ShardSpec(0, 2)
    retry = frozenset(FunctionKey(ACCOUNT, REGION, f"svc-{n}", "fn") for n in range(12))
    job = CrawlJob((target(shaped.endpoint),), settings(), retry=retry, shard=spec)
    ran = await run_crawl(job, tmp_path)
    owned = {(k.service, k.function) for k in retry if spec.owns(ACCOUNT, REGION, k.service)}
    assert 0 < len(owned) < 12
    listed = {(s, f) for s, f in ran.functions if s.startswith("svc-")}
    assert listed == owned


async def test_a_lane_wider_than_the_key_buffer_crawls(shaped: EmulatorThread, tmp_path: Path) -> None:
    """Pins the key buffer of a wide lane (twice its width past ``KEY_BUFFER``, a whole number): a target
    of concurrency 300 crawls the account whole."""
    ran = await run_crawl(crawl_job([target(shaped.endpoint, concurrency=300)]), tmp_path)
    assert (len(ran.functions), ran.end["complete"]) == (5, True)
