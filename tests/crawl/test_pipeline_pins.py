"""``crawl.pipeline``'s failure paths, in this process, against the emulator and a server in front of it
that changes one answer (``tests.support.hostile.pipeline``): each test pins the records, counters and
outcome one behaviour leaves — discovery errors, refusals, lanes that stop, deleted functions, listing
bounds, deadlines, duplicates, malformed listings."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler.crawl.job import CrawlJob
from crawler.crawl.runner import open_clients
from crawler.emulator.server import EmulatorThread
from crawler.errors import AccessDeniedError, AuthError
from crawler.store.records import FunctionKey
from crawler.wire.run_stats import RunStats
from tests.support.hostile import HostileServer, Upstream
from tests.support.hostile.pipeline import edited, fc_error, fronted, overriding
from tests.support.pipeline_support import (
    ACCOUNT,
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


shaped = pytest.fixture(name="shaped")(shaped_emulator)


def route(request: web.Request) -> tuple[str, str | None, str | None]:
    """(listing, service, function) of a request: ``services``, ``functions``, ``configs``, ``triggers``."""
    path = request.path.rstrip("/")
    leaf = path.rsplit("/", 1)[1]
    kind = {"services": "services", "functions": "functions", "async-invoke-configs": "configs"}.get(
        leaf, "triggers"
    )
    info = request.match_info
    return kind, info.get("service"), info.get("function")


def error_of(code: str, http: int | None, message: str, attempts: int = 1) -> dict[str, Any]:
    return {"code": code, "http": http, "message": message, "requestId": None, "attempts": attempts}


# -- discovery -------------------------------------------------------------------------------------


async def test_listing_items_without_a_name_are_discovery_errors(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``_bad_item``: a service without a string ``serviceName`` and functions without a
    non-empty ``functionName`` are each one discovery error with literal text; the rest is crawled."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        kind, service, _ = route(request)
        if kind == "services":
            # the nameless service first: the services after it are still listed
            return await edited(up, request, lambda page: page["services"].insert(0, {"serviceName": 7}))
        if (kind, service) == ("functions", "beta"):

            def add(page: dict[str, Any]) -> None:
                page["functions"] += [{"functionName": ""}, {"description": "no name"}]

            return await edited(up, request, add)
        return None

    up = Upstream(shaped.endpoint)
    with HostileServer(overriding(up, override)) as server:
        ran = await run_crawl(crawl_job([target(server.endpoint)]), tmp_path)
    assert ran.functions == SHAPED_FUNCTIONS
    service_error = error_of("ProtocolError", None, "a service in the listing has no string 'serviceName'")
    function_error = error_of("ProtocolError", None, "a function in the listing has no string 'functionName'")
    assert ran.end["discoveryErrors"] == [
        {"account": ACCOUNT, "region": REGION, "service": None, "error": service_error},
        {"account": ACCOUNT, "region": REGION, "service": "beta", "error": function_error},
        {"account": ACCOUNT, "region": REGION, "service": "beta", "error": function_error},
    ]
    assert ran.end["complete"] is False
    assert [(d.service, d.error["code"]) for d in ran.outcome.discovery_errors] == [
        (None, "ProtocolError"),
        ("beta", "ProtocolError"),
        ("beta", "ProtocolError"),
    ]
    assert ran.outcome.refused == ()
    logged = [(e["service"], e["message"]) for e in ran.logged("crawl.discovery_failed")]
    assert logged == [
        (None, service_error["message"]),
        ("beta", function_error["message"]),
        ("beta", function_error["message"]),
    ]
    assert ran.logged("crawl.discovery_failed")[0] == {
        "account": ACCOUNT,
        "region": REGION,
        "service": None,
        "code": "ProtocolError",
        "attempts": 1,
        "message": service_error["message"],
        "log_level": "error",
    }


async def test_services_and_functions_listed_twice_are_crawled_once_and_counted(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins duplicate dropping in discovery: both services listed twice and two functions listed twice
    within one service's listing are each crawled once and counted (``duplicateServicesDropped`` 2,
    ``duplicateFunctionsDropped`` 2); the same name in another service is not a duplicate."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        kind, service, _ = route(request)
        if kind == "services":

            def again(page: dict[str, Any]) -> None:
                page["services"] += [{"serviceName": "alpha"}, {"serviceName": "beta"}]

            return await edited(up, request, again)
        if (kind, service) == ("functions", "alpha"):

            def twice(page: dict[str, Any]) -> None:
                page["functions"] += [{"functionName": "a1"}, {"functionName": "a3", "timeout": 1}]

            return await edited(up, request, twice)
        if (kind, service) == ("functions", "beta"):
            return await edited(up, request, lambda page: page["functions"].append({"functionName": "a1"}))
        return None

    up = Upstream(shaped.endpoint)
    with HostileServer(overriding(up, override)) as server:
        ran = await run_crawl(crawl_job([target(server.endpoint)]), tmp_path)
    assert ran.functions == {**SHAPED_FUNCTIONS, ("beta", "a1"): ("gone", 0, 0, None, None)}
    end = ran.end
    assert (end["duplicateServicesDropped"], end["duplicateFunctionsDropped"]) == (2, 2)
    assert (end["duplicateConfigsDropped"], end["functionsDiscovered"], end["complete"]) == (0, 6, True)
    assert ran.logged("crawl.duplicate_service") == [
        {"account": ACCOUNT, "region": REGION, "service": "alpha", "log_level": "warning"},
        {"account": ACCOUNT, "region": REGION, "service": "beta", "log_level": "warning"},
    ]
    assert sorted(e["function"] for e in ran.logged("crawl.duplicate_function")) == ["a1", "a3"]
    assert ran.logged("crawl.duplicate_function")[0] == {
        "account": ACCOUNT,
        "region": REGION,
        "service": "alpha",
        "function": ran.logged("crawl.duplicate_function")[0]["function"],
        "log_level": "warning",
    }


async def test_a_config_listed_twice_in_one_listing_is_written_once_and_counted(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins duplicate configs: a1's page repeats ``prod`` and names LATEST as ``""`` too (one qualifier):
    the first of each is written, the two later ones dropped and counted, and each drop logged."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        if route(request) == ("configs", "alpha", "a1"):

            def twice(page: dict[str, Any]) -> None:
                page["configs"] += [dict(page["configs"][1]), {"qualifier": "", "maxAsyncRetryAttempts": 7}]

            return await edited(up, request, twice)
        return None

    up = Upstream(shaped.endpoint)
    with HostileServer(overriding(up, override)) as server:
        ran = await run_crawl(crawl_job([target(server.endpoint)]), tmp_path)
    assert ran.functions == SHAPED_FUNCTIONS
    latest = [
        r["config"]
        for r in ran.records
        if r["type"] == "config" and r["function"] == "a1" and r["qualifier"] == "LATEST"
    ]
    assert [c["maxAsyncRetryAttempts"] for c in latest] == [0]
    assert (ran.end["duplicateConfigsDropped"], ran.end["configs"], ran.end["complete"]) == (2, 9, True)
    assert ran.logged("crawl.duplicate_config") == [
        {"service": "alpha", "function": "a1", "log_level": "warning"},
        {"service": "alpha", "function": "a1", "log_level": "warning"},
    ]


async def test_a_service_deleted_before_its_functions_are_listed_is_no_error(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``NotFoundError`` on ListFunctions: the service is simply gone (no discovery error, the run
    complete), the other service is whole."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        if route(request)[:2] == ("functions", "beta"):
            return fc_error(404, "ServiceNotFound", "service beta does not exist")
        return None

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint)]), tmp_path)
    assert ran.functions == {k: v for k, v in SHAPED_FUNCTIONS.items() if k[0] == "alpha"}
    assert (ran.end["complete"], ran.end["discoveryErrors"], ran.end["functionsDiscovered"]) == (True, [], 3)
    assert ran.logged("crawl.service_gone") == [
        {"account": ACCOUNT, "region": REGION, "service": "beta", "log_level": "info"}
    ]


async def test_a_denied_function_listing_is_a_discovery_error_of_that_service_only(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``AccessDeniedError`` on ListFunctions: a discovery error naming the service (FC's code, 403),
    the target not refused, the other service whole."""
    shaped.backend.deny("beta")
    ran = await run_crawl(crawl_job([target(shaped.endpoint)]), tmp_path)
    assert ran.functions == {k: v for k, v in SHAPED_FUNCTIONS.items() if k[0] == "alpha"}
    (found,) = ran.end["discoveryErrors"]
    assert (found["account"], found["region"], found["service"]) == (ACCOUNT, REGION, "beta")
    assert (found["error"]["code"], found["error"]["http"], found["error"]["attempts"]) == (
        "AccessDenied",
        403,
        1,
    )
    assert (ran.outcome.refused, ran.outcome.all_refused, ran.end["aborted"]) == ((), False, None)
    assert ran.end["complete"] is False


async def test_a_failing_service_listing_is_a_discovery_error_not_a_refusal(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ListServices failing after its retries (500 twice): one discovery error with no service,
    attempts 2; the target is not refused and the run has no ``aborted``."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        return fc_error(500, "InternalServerError", "try later") if route(request)[0] == "services" else None

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint)]), tmp_path)
    assert ran.functions == {}
    (found,) = ran.end["discoveryErrors"]
    assert (found["account"], found["region"]) == (ACCOUNT, REGION)
    assert (found["service"], found["error"]["code"], found["error"]["attempts"]) == (
        None,
        "InternalServerError",
        2,
    )
    assert (ran.outcome.refused, ran.outcome.all_refused, ran.end["aborted"]) == ((), False, None)
    assert (ran.end["complete"], ran.end["requests"], ran.end["retries"]) == (False, 2, 1)


async def test_a_denied_service_listing_refuses_the_target(shaped: EmulatorThread, tmp_path: Path) -> None:
    """Pins any 403 on ListServices (here ``AccessDenied``, not a credentials code): the target is refused,
    and with every target refused the end record's ``aborted`` is that refusal."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        return (
            fc_error(403, "AccessDenied", "no ListServices for you")
            if route(request)[0] == "services"
            else None
        )

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint)]), tmp_path)
    (refusal,) = ran.outcome.refused
    assert (refusal.account, refusal.region, type(refusal.error)) == (ACCOUNT, REGION, AccessDeniedError)
    assert ran.outcome.all_refused is True
    assert (ran.end["aborted"]["code"], ran.end["aborted"]["http"]) == ("AccessDenied", 403)
    assert ran.end["aborted"] == ran.end["discoveryErrors"][0]["error"]
    assert ran.end["discoveryErrors"][0]["service"] is None
    assert (ran.end["complete"], ran.functions) == (False, {})


async def test_a_refused_target_stops_alone_and_the_other_target_is_crawled(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins refused credentials on one of two targets: its lane stops after one request (``refused``
    names it, a discovery error with no service), the other target is whole; not every target was
    refused, so no ``aborted``."""
    other = shaped_backend(account="5555", region="cn-beijing")
    with EmulatorThread(other) as second:
        job = crawl_job(
            [target(shaped.endpoint, secret="wrong"), target(second.endpoint, "5555", "cn-beijing")]
        )
        ran = await run_crawl(job, tmp_path)
    assert ran.accounts == {("5555", "cn-beijing")}
    assert ran.functions == SHAPED_FUNCTIONS
    (refusal,) = ran.outcome.refused
    assert (refusal.account, refusal.region, type(refusal.error)) == (ACCOUNT, REGION, AuthError)
    (found,) = ran.end["discoveryErrors"]
    assert (found["account"], found["region"], found["service"], found["error"]["http"]) == (
        ACCOUNT,
        REGION,
        None,
        403,
    )
    assert (ran.outcome.all_refused, ran.end["aborted"], ran.end["complete"]) == (False, None, False)
    assert refusal.error.request_id is not None
    assert ran.logged("crawl.target_refused") == [
        {
            "account": ACCOUNT,
            "region": REGION,
            "code": refusal.error.code,
            "http": 403,
            "request_id": refusal.error.request_id,
            "log_level": "error",
        }
    ]
    assert ran.logged("crawl.discovery_failed") == []  # a refusal is named once, as a refusal
    assert ran.end["apis"] == {f"{ACCOUNT}/{REGION}": "fc2", "5555/cn-beijing": "fc2"}
    assert shaped.stats()["requests"] == 1


async def test_every_target_refused_aborts_with_the_first_refusal(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``all_refused``: one target, wrong secret: nothing crawled, ``aborted`` is the refusal's
    error record, the outcome says every target was refused."""
    ran = await run_crawl(crawl_job([target(shaped.endpoint, secret="wrong")]), tmp_path)
    assert (ran.outcome.all_refused, ran.outcome.complete, ran.functions) == (True, False, {})
    assert ran.end["aborted"] == ran.outcome.refused[0].error.as_record()
    assert ran.end["aborted"]["http"] == 403


async def test_credentials_refused_on_a_config_listing_stop_the_lane_there(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``AuthError`` in a worker: with one worker the function before is written, the refused one
    and every key still queued are dropped unwritten; the target is refused."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        if route(request) == ("configs", "alpha", "a2"):
            return fc_error(403, "SignatureNotMatch", "the signature does not match")
        return None

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint, concurrency=1)]), tmp_path)
    assert ran.functions == {("alpha", "a1"): SHAPED_FUNCTIONS[("alpha", "a1")]}
    (refusal,) = ran.outcome.refused
    assert (type(refusal.error), refusal.error.code) == (AuthError, "SignatureNotMatch")
    assert ran.end["discoveryErrors"][0]["error"]["code"] == "SignatureNotMatch"
    assert len(ran.end["discoveryErrors"]) == 1
    assert ran.end["functionsDiscovered"] == 5


async def test_credentials_refused_on_a_function_listing_stop_the_lane(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``AuthError`` on ListFunctions: the lane stops (refused, one discovery error with no
    service); nothing of the refused service is crawled."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        if route(request)[:2] == ("functions", "beta"):
            return fc_error(403, "InvalidAccessKeyId.NotFound", "no such key")
        return None

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint, concurrency=1)]), tmp_path)
    assert {s for s, _ in ran.functions} <= {"alpha"}
    (refusal,) = ran.outcome.refused
    assert refusal.error.code == "InvalidAccessKeyId.NotFound"
    assert [d["service"] for d in ran.end["discoveryErrors"]] == [None]
    assert ran.outcome.all_refused is True


async def test_a_refused_target_offers_none_of_its_retries(shaped: EmulatorThread, tmp_path: Path) -> None:
    """Pins the stopped-lane check of undiscovered retries: a resumed file's error functions of a target
    whose credentials are refused are not offered (none discovered, one request)."""
    retry = frozenset(FunctionKey(ACCOUNT, REGION, "alpha", f"f{n}") for n in range(3))
    job = CrawlJob((target(shaped.endpoint, secret="wrong"),), settings(), retry=retry)
    ran = await run_crawl(job, tmp_path)
    assert (ran.functions, ran.end["functionsDiscovered"], ran.end["requests"]) == ({}, 0, 1)
    assert ran.outcome.all_refused is True


async def test_a_target_refused_by_several_workers_at_once_is_refused_once(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the first reason kept: every config listing refuses the credentials while five workers are in
    flight; the target is one refusal and one discovery error."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        if route(request)[0] == "configs":
            await asyncio.sleep(0.05)  # let every worker be in flight before the first refusal
            return fc_error(403, "SignatureNotMatch", "the signature does not match")
        return None

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint, concurrency=5)]), tmp_path)
    assert ran.functions == {}
    assert [r.error.code for r in ran.outcome.refused] == ["SignatureNotMatch"]
    assert len(ran.end["discoveryErrors"]) == 1
    assert len(ran.logged("crawl.target_refused")) == 1


async def test_a_lane_has_its_targets_concurrency_of_functions_in_flight(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins a lane's width: a target of concurrency 3 gets exactly three config listings in flight at once
    (workers grow to the width), one of concurrency 1 exactly one. The server holds each listing until
    the width is reached (2 s at most, so a narrower lane shows up as a lower count, not a hang)."""
    flight = {"now": 0, "most": 0, "want": 0}
    held: dict[str, asyncio.Event] = {}

    async def override(request: web.Request) -> web.StreamResponse | None:
        if route(request)[0] != "configs":
            return None
        flight["now"] += 1
        flight["most"] = max(flight["most"], flight["now"])
        reached = held.setdefault("width", asyncio.Event())  # made on the server's loop
        if flight["most"] >= flight["want"]:
            reached.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reached.wait(), 2)
        await asyncio.sleep(0.02)
        flight["now"] -= 1
        return None

    for width in (3, 1):
        flight.update(now=0, most=0, want=width)
        held.clear()
        with fronted(shaped.endpoint, override) as endpoint:
            ran = await run_crawl(crawl_job([target(endpoint, concurrency=width)], concurrency=8), tmp_path)
        assert ran.functions == SHAPED_FUNCTIONS
        assert flight["most"] == width


# -- a function's listing ------------------------------------------------------------------------------


async def test_a_denied_config_listing_is_an_error_record_of_that_function(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``AccessDeniedError`` on one function: an ``error`` record (code, 403, attempts 1, pages 0,
    its timeout kept), the target not refused, every other function whole."""
    shaped.backend.deny("alpha", "a2")
    ran = await run_crawl(crawl_job([target(shaped.endpoint)]), tmp_path)
    assert ran.functions == {**SHAPED_FUNCTIONS, ("alpha", "a2"): ("error", 0, 0, 3.5, "AccessDenied")}
    error = ran.function("alpha", "a2")["error"]
    assert (error["http"], error["attempts"]) == (403, 1)
    assert (ran.outcome.refused, ran.end["discoveryErrors"], ran.end["complete"]) == ((), [], False)
    assert ran.end["functions"] == {"ok": 3, "none": 1, "gone": 0, "error": 1}
    assert ran.end["errorsByCode"] == {"AccessDenied": 1}
    assert ran.logged("crawl.function_failed") == [
        {"service": "alpha", "function": "a2", "code": "AccessDenied", "attempts": 1, "log_level": "warning"}
    ]


async def test_a_function_deleted_during_its_listing_is_gone_with_the_pages_it_had(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``NotFoundError`` in a config listing: ``gone`` with the pages listed before (1 for a3, whose
    second page is refused; 0 for a1), no configs written, not ``neverFound`` (no pair list); the run is
    complete (gone is not an error)."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        where = route(request)
        if where == ("configs", "alpha", "a3") and request.query.get("nextToken"):
            return fc_error(404, "FunctionNotFound", "function a3 does not exist")
        if where == ("configs", "alpha", "a1"):
            return fc_error(404, "ServiceNotFound", "service alpha does not exist")
        return None

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint)], page_size=2), tmp_path)
    assert ran.functions[("alpha", "a3")] == ("gone", 0, 1, 0, None)
    assert ran.functions[("alpha", "a1")] == ("gone", 0, 0, 60, None)
    assert "neverFound" not in ran.function("alpha", "a1")
    assert not {c for c in ran.configs if c[1] in ("a1", "a3")}
    assert (ran.end["complete"], ran.end["functions"]["gone"]) == (True, 2)


async def test_a_pair_deleted_after_its_first_page_is_gone_but_was_found(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``never_found`` only at the first request: a ``--targets`` pair whose second page is 404 is
    ``gone`` without ``neverFound``; one unknown from its first page has it."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        if route(request) == ("configs", "alpha", "a3") and request.query.get("nextToken"):
            return fc_error(404, "FunctionNotFound", "function a3 does not exist")
        return None

    pairs = (FunctionKey(ACCOUNT, REGION, "alpha", "a3"), FunctionKey(ACCOUNT, REGION, "alpha", "zz"))
    with fronted(shaped.endpoint, override) as endpoint:
        job = CrawlJob((target(endpoint),), settings(page_size=2), pairs=pairs)
        ran = await run_crawl(job, tmp_path)
    assert ran.functions == {
        ("alpha", "a3"): ("gone", 0, 1, None, None),
        ("alpha", "zz"): ("gone", 0, 0, None, None),
    }
    assert "neverFound" not in ran.function("alpha", "a3")
    assert ran.function("alpha", "zz")["neverFound"] is True


async def test_max_configs_per_function_ends_a_bigger_listing_as_an_error(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``max_configs_per_function``: exactly the limit (a1: 3 of 3) is whole, one more (a3: 5)
    is an ``error`` with the literal message; nothing of it is written."""
    ran = await run_crawl(crawl_job([target(shaped.endpoint)], max_configs_per_function=3), tmp_path)
    assert ran.functions == {**SHAPED_FUNCTIONS, ("alpha", "a3"): ("error", 0, 1, 0, "ListingLimitExceeded")}
    assert ran.function("alpha", "a3")["error"]["message"] == (
        "more than 3 configs after 1 pages; raise max_configs_per_function if one function really "
        "has that many"
    )
    assert not {c for c in ran.configs if c[1] == "a3"}


async def test_max_function_bytes_bounds_the_answers_of_one_listing(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``max_function_bytes`` at its boundary: a listing of exactly that many bytes is whole, one
    byte more is an ``error`` with the literal message (the bound counts the answers' bytes)."""
    backend = shaped.backend
    for n in range(6, 12):  # a3's one page: over the 1024 bytes the setting allows at least
        backend.put_config("alpha", "a3", f"q{n}", {"maxAsyncRetryAttempts": 1}, "2026-01-01T00:00:00Z")
    (size,) = await _config_page_bytes(shaped)
    assert size > 1024
    ran = await run_crawl(crawl_job([target(shaped.endpoint)], max_function_bytes=size), tmp_path)
    assert ran.functions[("alpha", "a3")] == ("ok", 11, 1, 0, None)
    ran = await run_crawl(crawl_job([target(shaped.endpoint)], max_function_bytes=size - 1), tmp_path)
    assert ran.functions[("alpha", "a3")] == ("error", 0, 1, 0, "ListingLimitExceeded")
    assert ran.function("alpha", "a3")["error"]["message"] == (
        f"the config listing is over {size - 1} bytes after 1 pages; raise max_function_bytes if one "
        "function really has that much"
    )


async def _config_page_bytes(emulator: EmulatorThread, limit: int = 100) -> list[int]:
    """The bytes of each of a3's config pages (``limit`` a page) as the real client reads them."""
    job = crawl_job([target(emulator.endpoint)])
    sizes: list[int] = []
    token: str | None = None
    async with open_clients(job, RunStats()) as clients:
        while True:
            page = await clients[(ACCOUNT, REGION)].list_async_configs(
                "alpha", "a3", limit=limit, next_token=token
            )
            sizes.append(page.size)
            token = page.next_token
            if not token:
                return sizes


async def test_function_deadline_ends_a_stalled_listing_as_an_error(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``function_deadline`` on a config listing: a2's answer stalls, so after 0.3 s it is an
    ``error`` (``FunctionDeadline``, the literal message), while the other functions are whole."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        if route(request) == ("configs", "alpha", "a2"):
            await asyncio.sleep(5)
        return None

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint)], function_deadline=0.3), tmp_path)
    assert ran.functions == {**SHAPED_FUNCTIONS, ("alpha", "a2"): ("error", 0, 0, 3.5, "FunctionDeadline")}
    assert ran.function("alpha", "a2")["error"]["message"] == (
        "the function's listing took longer than function_deadline (0.3 s) after 0 pages; gave up on it"
    )
    assert ran.end["complete"] is False


async def test_max_function_bytes_counts_every_page_of_the_listing(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins that the bytes bound adds up the pages: a3 in two pages (six configs, then five) is whole at
    exactly their sum and an ``error`` after its second page one byte below it."""
    for n in range(6, 12):
        shaped.backend.put_config(
            "alpha", "a3", f"q{n}", {"maxAsyncRetryAttempts": 1}, "2026-01-01T00:00:00Z"
        )
    first, second = await _config_page_bytes(shaped, limit=6)
    assert first < first + second - 1
    assert first + second > 1024
    ran = await run_crawl(
        crawl_job([target(shaped.endpoint)], page_size=6, max_function_bytes=first + second), tmp_path
    )
    assert ran.functions[("alpha", "a3")] == ("ok", 11, 2, 0, None)
    limit = first + second - 1
    ran = await run_crawl(
        crawl_job([target(shaped.endpoint)], page_size=6, max_function_bytes=limit), tmp_path
    )
    assert ran.functions[("alpha", "a3")] == ("error", 0, 2, 0, "ListingLimitExceeded")
    assert ran.function("alpha", "a3")["error"]["message"].startswith(
        f"the config listing is over {limit} bytes after 2 pages"
    )
