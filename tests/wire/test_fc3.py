"""FC 3.0: the emulator's ARN building and the crawler's ARN parsing agree on every generated config; the
FC 3.0 routes page, filter and refuse a wrong ACS3 signature over a real socket; and a crawl through
FC 3.0 writes the same configs as a crawl through FC 2.0."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import orjson
import pytest

from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import Crawl
from crawler.emulator import AccountSpec, Backend, generate_account
from crawler.emulator.faults import FaultConfig
from crawler.emulator.fc3_routes import fc3_config
from crawler.emulator.server import EmulatorThread
from crawler.errors import AuthError, NotFoundError, ProtocolError
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import StaticKeys
from crawler.store.writer import Sink
from crawler.wire.credential_provider import StaticProvider
from crawler.wire.fc2_client import FcClient
from crawler.wire.fc3_client import Fc3Client, parse_function_arn, record_config, split_function_name
from crawler.wire.fc3_listing import AutoListing, Fc3Listing
from crawler.wire.models import ClientOptions, ListingClient, Page
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.run_stats import RunStats
from crawler.wire.transport import Transport, open_session
from tests.support.crawl_support import Crawled, assert_matches_truth, read_ndjson
from tests.support.fixtures import EmulatorFactory

pytestmark = pytest.mark.anyio

FC3_ACCOUNT = AccountSpec(seed=17, services=5, functions=60, big_functions=2)
SETTINGS = CrawlSettings(concurrency=8, max_attempts=2, backoff_base=0.01, backoff_cap=0.05)


def test_arn_forms_and_names() -> None:
    arn = "acs:fc:cn-hangzhou:123:functions/orders-0001$resize-00002"
    assert parse_function_arn(arn) == ("cn-hangzhou", "123", "orders-0001", "resize-00002", "LATEST")
    for suffix in ("/prod", ":prod", "/aliases/prod"):
        assert parse_function_arn(arn + suffix)[4] == "prod"
    assert parse_function_arn(arn + "/versions/3")[4] == "3"
    assert parse_function_arn("acs:fc:cn-hangzhou:123:functions/native") == (
        "cn-hangzhou",
        "123",
        "",
        "native",
        "LATEST",
    )
    assert split_function_name("a$b$c") == ("a", "b$c")
    for bad in ("acs:fc:cn-hangzhou:123:services/s.LATEST/functions/f", "acs:fc:r:a:functions/", "x"):
        with pytest.raises(ProtocolError):
            parse_function_arn(bad)
    with pytest.raises(ProtocolError, match="not of account 999"):
        record_config({"functionArn": arn}, account="999", region="cn-hangzhou")


def fc2_as_fc3_maps_it(config: dict[str, Any], service: str, function: str) -> dict[str, Any]:
    """An FC 2.0 config as an FC 3.0 crawl records it: the documented differences applied."""
    out: dict[str, Any] = {
        "service": service,
        "function": function,
        "qualifier": config.get("qualifier") or "LATEST",  # not the crawler's own normalising
    }
    out.update(
        (k, v)
        for k, v in config.items()
        if k not in ("service", "serviceName", "function", "functionName", "qualifier")
    )
    return out


def test_every_generated_config_survives_the_round_trip_through_fc3() -> None:
    backend = generate_account(FC3_ACCOUNT)
    exact = 0
    total = 0
    for record in backend.truth_records():
        if record["type"] != "config":
            continue
        total += 1
        config, service, function = record["config"], record["service"], record["function"]
        shown = fc3_config(backend, service, function, config)
        assert "statefulInvocation" not in shown
        assert shown.get("asyncTask") == config.get("statefulInvocation")
        got = record_config(shown, account=backend.account_id, region=backend.region)
        assert got[:3] == (service, function, record["qualifier"])
        assert got[3] == fc2_as_fc3_maps_it(config, service, function)
        if orjson.dumps(got[3]) == orjson.dumps(config):
            exact += 1
    assert total > 100
    assert exact > total // 2  # most configs come out byte-identical, key order included


def settings_client(
    cls: type[FcClient] | type[Fc3Client],
    session: aiohttp.ClientSession,
    endpoint: str,
    backend: Backend,
    creds: Credentials,
    stats: RunStats | None = None,
) -> Any:
    retry = RetryPolicy(
        max_attempts=2,
        base=0.01,
        cap=0.05,
        budget=RetryBudget(10),
        rand=random.Random(1).random,
        sleep=anyio.sleep,
    )
    options = ClientOptions(
        endpoint=endpoint,
        account=backend.account_id,
        region=backend.region,
        credentials=StaticProvider(creds),
        limiter=RateLimiter(None, 8),
        retry=retry,
        stats=stats if stats is not None else RunStats(),
        settings=SETTINGS,
    )
    return cls(Transport(session, options))


async def all_pages(fetch: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    token = None
    pages = 0
    while True:
        page = await fetch(token)
        pages += 1
        items += page.items
        token = page.next_token
        if not token:
            return items, pages


async def test_the_fc3_routes_page_filter_and_check_acs3(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(FC3_ACCOUNT)
    backend = emu.backend
    creds = Credentials(emu.access_key_id, emu.access_key_secret)
    truth = [r for r in backend.truth_records() if r["type"] == "config"]
    async with open_session(SETTINGS) as session:
        client: Fc3Client = settings_client(Fc3Client, session, emu.endpoint, backend, creds)
        configs, pages = await all_pages(lambda t: client.list_async_invoke_configs(limit=7, next_token=t))
        assert pages == -(-len(truth) // 7)
        mapped = [record_config(c, account=emu.account_id, region=emu.region) for c in configs]
        assert [(s, f, q) for s, f, q, _ in mapped] == [
            (r["service"], r["function"], r["qualifier"]) for r in truth
        ]

        service, function = truth[-1]["service"], truth[-1]["function"]
        one, one_pages = await all_pages(
            lambda t: client.list_async_invoke_configs(
                limit=2, next_token=t, function_name=f"{service}${function}"
            )
        )
        assert len(one) == sum(1 for r in truth if (r["service"], r["function"]) == (service, function))
        with pytest.raises(NotFoundError):
            await client.list_async_invoke_configs(limit=2, next_token=None, function_name=f"{service}$nope")

        functions, _ = await all_pages(lambda t: client.list_functions_v3(limit=9, next_token=t))
        assert len(functions) == backend.counts()["functions"]
        assert all("$" in f["functionName"] for f in functions)
        prefixed, _ = await all_pages(
            lambda t: client.list_functions_v3(limit=3, next_token=t, prefix=f"{service}$")
        )
        assert {f["functionName"] for f in prefixed} == {
            f"{service}${n}" for n in backend.function_names(service)
        }
        # a signed prefix holding every character the canonical query must percent-encode: no match
        odd, _ = await all_pages(
            lambda t: client.list_functions_v3(limit=3, next_token=t, prefix="a+b/c=d$~*% é")
        )
        assert odd == []
        assert emu.stats()["routes"]["ListAsyncInvokeConfigs"] == {"200": pages + one_pages, "404": 1}


async def test_a_wrong_acs3_signature_is_refused_in_the_fc3_error_shape(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = emulator_factory(AccountSpec(seed=2, services=1, functions=3))
    async with open_session(SETTINGS) as session:
        wrong = settings_client(
            Fc3Client, session, emu.endpoint, emu.backend, Credentials(emu.access_key_id, "not-the-secret")
        )
        with pytest.raises(AuthError) as caught:
            await wrong.list_async_invoke_configs(limit=5, next_token=None)
        assert (caught.value.code, caught.value.http) == ("SignatureDoesNotMatch", 403)
        assert caught.value.request_id
        async with session.get(f"{emu.endpoint}/2023-03-30/async-invoke-configs") as response:
            assert response.status == 403
            body = await response.json()
        assert body == {
            "Code": "MissingAuthorization",
            "Message": "the request has no Authorization header",
            "RequestId": response.headers["X-Fc-Request-Id"],
        }
    assert emu.stats()["routes"]["ListAsyncInvokeConfigs"] == {"403": 2}


async def test_an_sts_token_is_required_when_configured(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(AccountSpec(seed=2, services=1, functions=3), security_token="sts-xyz")
    async with open_session(SETTINGS) as session:
        plain = Credentials(emu.access_key_id, emu.access_key_secret)
        with pytest.raises(AuthError, match="x-acs-security-token"):
            await settings_client(Fc3Client, session, emu.endpoint, emu.backend, plain).list_functions_v3(
                limit=5, next_token=None
            )
        sts = Credentials(emu.access_key_id, emu.access_key_secret, "sts-xyz")
        page = await settings_client(Fc3Client, session, emu.endpoint, emu.backend, sts).list_functions_v3(
            limit=5, next_token=None
        )
        assert len(page.items) == 3


async def crawl_into(
    path: Path, emu: EmulatorThread, clients: dict[tuple[str, str], ListingClient], stats: RunStats
) -> None:
    creds = Credentials(emu.access_key_id, emu.access_key_secret)
    job = CrawlJob((Target(emu.account_id, emu.region, emu.endpoint, StaticKeys(creds)),), SETTINGS)
    sink = Sink.open_file(path)
    try:
        await Crawl(job, clients, sink, stats=stats).run()
    finally:
        await sink.aclose()


async def test_an_fc3_crawl_writes_the_same_configs_as_an_fc2_crawl(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emu = emulator_factory(FC3_ACCOUNT)
    creds = Credentials(emu.access_key_id, emu.access_key_secret)
    key = (emu.account_id, emu.region)
    fc2_stats, fc3_stats = RunStats(), RunStats()
    async with open_session(SETTINGS) as session:
        fc2_client = settings_client(FcClient, session, emu.endpoint, emu.backend, creds, fc2_stats)
        await crawl_into(tmp_path / "fc2.ndjson", emu, {key: fc2_client}, fc2_stats)
        fc2_served = emu.stats()["requests"]
        fc3_client = settings_client(Fc3Client, session, emu.endpoint, emu.backend, creds, fc3_stats)
        fc3 = Fc3Listing(fc3_client, page_size=100, max_pages=100)
        await crawl_into(tmp_path / "fc3.ndjson", emu, {key: fc3}, fc3_stats)
        fc3_served = emu.stats()["requests"] - fc2_served
    fc2_records, fc3_records = read_ndjson(tmp_path / "fc2.ndjson"), read_ndjson(tmp_path / "fc3.ndjson")
    assert_matches_truth(Crawled.of(fc2_records), emu.backend.truth_records())
    assert_same_configs(fc2_records, fc3_records)
    assert fc2_stats.requests == fc2_served > 60  # one listing per function at least
    assert fc3_stats.requests == fc3_served == 1 + 4  # one page of functions, four of configs (350 configs)


def assert_same_configs(fc2_records: list[dict[str, Any]], fc3_records: list[dict[str, Any]]) -> None:
    """Same configs after the documented mapping, byte-identical lines wherever FC 2.0 already spelled the
    config as the mapping writes it; same function statuses."""

    def normalised(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {**r, "config": fc2_as_fc3_maps_it(r["config"], r["service"], r["function"])}
            for r in records
            if r["type"] == "config"
        ]

    fc3_configs = [r for r in fc3_records if r["type"] == "config"]
    assert fc3_configs
    assert sorted(fc3_configs, key=orjson.dumps) == sorted(normalised(fc2_records), key=orjson.dumps)
    spelled_alike = [
        orjson.dumps(r)
        for r in fc2_records
        if r["type"] == "config"
        and orjson.dumps(r["config"])
        == orjson.dumps(fc2_as_fc3_maps_it(r["config"], r["service"], r["function"]))
    ]
    assert spelled_alike
    assert set(spelled_alike) <= {
        orjson.dumps(r) for r in fc3_configs
    }  # where spelled alike, lines are equal

    def statuses(records: list[dict[str, Any]]) -> set[tuple[str, ...]]:
        fields = ("account", "region", "service", "function", "status", "configs")
        return {tuple(r[k] for k in fields) for r in records if r["type"] == "function"}

    assert statuses(fc3_records) == statuses(fc2_records)


@pytest.mark.parametrize("serves_fc3", [True, False])
async def test_auto_uses_fc3_where_it_answers_and_fc2_elsewhere(
    emulator_factory: EmulatorFactory, tmp_path: Path, serves_fc3: bool
) -> None:
    emu = emulator_factory(AccountSpec(seed=9, services=3, functions=20, big_functions=1), fc3=serves_fc3)
    creds = Credentials(emu.access_key_id, emu.access_key_secret)
    stats = RunStats()
    async with open_session(SETTINGS) as session:
        fc3 = Fc3Listing(
            settings_client(Fc3Client, session, emu.endpoint, emu.backend, creds, stats),
            page_size=100,
            max_pages=100,
        )
        auto = AutoListing(fc3, settings_client(FcClient, session, emu.endpoint, emu.backend, creds, stats))
        await crawl_into(tmp_path / "auto.ndjson", emu, {(emu.account_id, emu.region): auto}, stats)
    records = read_ndjson(tmp_path / "auto.ndjson")
    assert auto.api == ("fc3" if serves_fc3 else "fc2")
    routes = emu.stats()["routes"]
    if serves_fc3:
        assert set(routes) == {"ListFunctionsV3", "ListAsyncInvokeConfigs"}
        configs = sum(1 for r in emu.backend.truth_records() if r["type"] == "config")
        # the probe was the config listing's first page: no request of its own
        assert emu.stats()["requests"] == stats.requests == 1 + math.ceil(configs / 100)
        assert_same_configs([r for r in emu.backend.truth_records()], records)
    else:
        assert routes["Unknown"] == {"404": 1}  # the one FC 3.0 probe
        assert_matches_truth(Crawled.of(records), emu.backend.truth_records())


async def test_fc3_under_a_quota_is_throttled_in_its_own_shape_and_retried(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    faults = FaultConfig(seed=4, quota_rps=20.0, quota_burst=1, retry_hint="x-acs-retry-after")
    emu = emulator_factory(AccountSpec(seed=10, services=2, functions=30, big_functions=1), faults)
    creds = Credentials(emu.access_key_id, emu.access_key_secret)
    stats = RunStats()
    settings = CrawlSettings(concurrency=4, max_attempts=6, backoff_base=0.05, backoff_cap=0.5)
    async with open_session(settings) as session:
        client: Fc3Client = settings_client(Fc3Client, session, emu.endpoint, emu.backend, creds, stats)
        configs, _ = await all_pages(lambda t: client.list_async_invoke_configs(limit=5, next_token=t))
        answers: list[tuple[int, dict[str, Any]]] = []

        async def unsigned() -> None:
            async with session.get(f"{emu.endpoint}/2023-03-30/functions") as response:
                answers.append((response.status, await response.json()))

        # five at once against a one-request bucket: at most one finds a token (and fails its missing
        # signature with 403); one request alone may find the bucket refilled on a slow machine
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(unsigned)
    assert len(configs) == sum(1 for r in emu.backend.truth_records() if r["type"] == "config")
    assert stats.throttled > 0
    assert stats.retries >= stats.throttled
    statuses = sorted(status for status, _ in answers)
    assert 429 in statuses, statuses
    assert set(statuses) <= {403, 429}, statuses
    throttled = next(body for status, body in answers if status == 429)
    assert throttled["Code"] == "ResourceExhausted"
    assert set(throttled) == {"Code", "Message", "RequestId"}


class ObservedFc3Client(Fc3Client):
    """The real client, noting when each listing's requests start and end (and failing one on request)."""

    events: list[str]
    fail_configs_page: int | None = None

    async def list_functions_v3(self, *, limit: int, next_token: str | None, prefix: str = "") -> Page:
        self.events.append("functions>")
        page = await super().list_functions_v3(limit=limit, next_token=next_token, prefix=prefix)
        self.events.append("functions<")
        return page

    async def list_async_invoke_configs(
        self, *, limit: int, next_token: str | None, function_name: str = ""
    ) -> Page:
        self.events.append("configs>")
        if self.events.count("configs>") == self.fail_configs_page:
            raise ProtocolError("the configs listing broke")
        page = await super().list_async_invoke_configs(
            limit=limit, next_token=next_token, function_name=function_name
        )
        self.events.append("configs<")
        return page


@pytest.mark.parametrize("fail_configs_page", [None, 2])
async def test_the_region_listings_run_side_by_side_and_one_failure_stops_both(
    emulator_factory: EmulatorFactory, fail_configs_page: int | None
) -> None:
    emu = emulator_factory(FC3_ACCOUNT, FaultConfig(seed=1, latency_ms=2.0))
    creds = Credentials(emu.access_key_id, emu.access_key_secret)
    async with open_session(SETTINGS) as session:
        client: ObservedFc3Client = settings_client(
            ObservedFc3Client, session, emu.endpoint, emu.backend, creds
        )
        client.events, client.fail_configs_page = [], fail_configs_page
        listing = Fc3Listing(client, page_size=10, max_pages=100)
        if fail_configs_page is None:
            services = (await listing.list_services(limit=100, next_token=None)).items
            assert len(services) == FC3_ACCOUNT.services
            events = client.events
            # both chains were under way before either had its first answer: side by side, not one by one
            assert sorted(events[:2]) == ["configs>", "functions>"]
            assert events.count("functions<") == 6
            assert events.count("configs<") == 35
        else:
            for _ in range(2):  # the failure is the region's, raised again to every later caller
                with pytest.raises(ProtocolError, match="configs listing broke"):
                    await listing.list_services(limit=100, next_token=None)
            # the functions chain (6 pages) was stopped, not left to run on
            assert client.events.count("functions<") < 6
