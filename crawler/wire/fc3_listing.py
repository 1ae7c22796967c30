"""FC 3.0 behind the crawl's three FC 2.0 list calls, so one pipeline serves ``--api fc2|fc3|auto``.

The crawl (``crawler.crawl.pipeline``) discovers services, then functions, then lists each function's configs.
``Fc3Listing`` answers those three calls for one (account, region) from two region-wide FC 3.0 listings
(and ``list_triggers``, ``--triggers``, with FC 3.0's per-function ListTriggers)
— ListFunctions and ListAsyncInvokeConfigs, each paged at the crawl's page size — made once, on the
first call: services and functions come from the function names (``{service}${function}``), and each
function's configs are handed over (and forgotten) when the crawl asks for them. The pipeline, its
bounded streams, its one writer and its ``function`` records are unchanged; only the request count
falls from one listing per function to a few pages per region.

Memory: a region's configs are held from the listing until the crawl's workers take them (each is
dropped when taken), about the size of their NDJSON lines; configs of functions the crawl's filters or
shard leave out are not held at all (``keep``). With ``--targets`` pairs (no discovery) no
region-wide listing is made: each pair is listed alone with ``functionName``.

``AutoListing`` (``--api auto``) asks FC 3.0 first, with the first page of the region's config listing
(which the listing then uses: no extra request), and uses FC 2.0 for that target when FC 3.0 answers 404
or another 4xx that says the API is not there; any other error is the target's error, as it would be
with either API.

What counts as "deleted" is decided by the client's error mapping, as for FC 2.0: only a 404 with FC's
``FunctionNotFound`` on one function's listing (``--targets`` pairs) is; any other 404 is a protocol error.
A function whose configs in the region's listing pass ``max_configs`` is not held any further: its
configs are dropped and its turn in the crawl ends as ``ListingLimitExceeded``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from crawler.errors import (
    CrawlerError,
    ListingLimitError,
    NotFoundError,
    ProtocolError,
    RequestRejectedError,
    UnexpectedNotFoundError,
)
from crawler.log import get_logger
from crawler.wire.fc3_client import fc3_function_name, record_config, split_function_name
from crawler.wire.models import ListingClient, Page, RegionListingClient
from crawler.wire.pager import iterate_pages

log = get_logger(__name__)

ApiChoice = Literal["fc2", "fc3", "auto"]
API_CHOICES: tuple[ApiChoice, ...] = ("fc2", "fc3", "auto")


@dataclass(slots=True)
class _Inventory:
    functions: dict[str, set[str]] = field(default_factory=dict)
    #: each listed function's ``timeout`` as ListFunctions gave it (absent: the listing did not say)
    timeouts: dict[tuple[str, str], object] = field(default_factory=dict)
    configs: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    listed: int = 0  # configs in the region-wide listing (those ``keep`` leaves out too)
    #: functions with more configs than ``max_configs``: their configs are no longer held
    overflowed: set[tuple[str, str]] = field(default_factory=set)


def _single(items: list[dict[str, Any]]) -> Page:
    return Page(items=tuple(items), next_token=None, request_id=None)


class Fc3Listing:
    """The crawl's ``ListingClient`` over FC 3.0 for one (account, region)."""

    api = "fc3"

    def __init__(
        self,
        client: RegionListingClient,
        *,
        page_size: int,
        max_pages: int,
        keep: Callable[[str, str], bool] = lambda _service, _function: True,
        max_configs: int = 5_000,
    ) -> None:
        self.client = client
        self._max_configs = max_configs
        #: which (service, function) the crawl will ask for (its filters and shard): the rest is not held
        self._keep = keep
        self._page_size = page_size
        self._max_pages = max_pages
        self._lock = anyio.Lock()
        self._inventory: _Inventory | None = None
        self._failure: CrawlerError | None = None
        #: the config listing's first page when ``probe`` fetched it (``--api auto``), used once
        self._first_configs: Page | None = None

    def __repr__(self) -> str:
        return f"Fc3Listing({self.client!r})"

    async def _load(self) -> _Inventory:
        """The region's functions and configs, listed once (a failure is kept and raised again)."""
        async with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._inventory is not None:
                return self._inventory
            try:
                self._inventory = await self._list_region()
            except CrawlerError as exc:
                self._failure = exc
                raise
            return self._inventory

    async def _list_region(self) -> _Inventory:
        inventory = _Inventory()
        failures: list[CrawlerError] = []

        async def run(listing: Callable[[], Awaitable[None]]) -> None:
            try:
                await listing()
            except CrawlerError as exc:  # the first failure is the region's: stop the other listing
                failures.append(exc)
                tg.cancel_scope.cancel()

        # the two listings are independent chains of pages: side by side, the region takes as long as the
        # longer one, not the sum of both
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, lambda: self._list_functions(inventory))
            tg.start_soon(run, lambda: self._list_configs(inventory))
        if failures:
            raise failures[0]
        log.info(
            "fc3.region_listed",
            account=self.client.account,
            region=self.client.region,
            functions=sum(len(f) for f in inventory.functions.values()),
            configs=inventory.listed,
        )
        return inventory

    async def _list_functions(self, inventory: _Inventory) -> None:
        client = self.client
        functions = iterate_pages(
            lambda t: client.list_functions_v3(limit=self._page_size, next_token=t), max_pages=self._max_pages
        )
        async for page in functions:
            for item in page.items:
                name = item.get("functionName")
                if not isinstance(name, str) or not name:
                    raise ProtocolError("a function in the FC 3.0 listing has no string 'functionName'")
                service, function = split_function_name(name)
                inventory.functions.setdefault(service, set()).add(function)
                if "timeout" in item and self._keep(service, function):
                    inventory.timeouts[(service, function)] = item["timeout"]

    async def probe(self) -> None:
        """Whether FC 3.0 answers here, asked with the first page of the region's config listing (the
        longer of the two chains), so the question costs no request and no round trip of its own."""
        self._first_configs = await self.client.list_async_invoke_configs(
            limit=self._page_size, next_token=None
        )

    async def _list_configs(self, inventory: _Inventory) -> None:
        # page by page: only the configs ``keep`` wants are held, never the whole region's raw listing
        client = self.client

        async def fetch(token: str | None) -> Page:
            probed, self._first_configs = self._first_configs, None
            if token is None and probed is not None:
                return probed
            return await client.list_async_invoke_configs(limit=self._page_size, next_token=token)

        configs = iterate_pages(fetch, max_pages=self._max_pages)
        async for page in configs:
            inventory.listed += len(page.items)
            for item in page.items:
                service, function, _qualifier, config = record_config(
                    item, account=client.account, region=client.region
                )
                inventory.functions.setdefault(service, set()).add(function)
                key = (service, function)
                if not self._keep(service, function) or key in inventory.overflowed:
                    continue
                held = inventory.configs.setdefault(key, [])
                held.append(config)
                if len(held) > self._max_configs:  # a bound per function, whatever the listing sends
                    del inventory.configs[key]
                    inventory.overflowed.add(key)

    # -- the crawl's three calls -----------------------------------------------------------------------
    async def list_services(self, *, limit: int, next_token: str | None) -> Page:
        inventory = await self._load()
        return _single([{"serviceName": name} for name in sorted(inventory.functions)])

    async def list_functions(self, service: str, *, limit: int, next_token: str | None) -> Page:
        inventory = await self._load()
        names = inventory.functions.get(service)
        if names is None:
            raise NotFoundError(
                f"service {service} is not in the FC 3.0 listing", code="ServiceNotFound", http=404
            )
        timeouts = inventory.timeouts
        items: list[dict[str, Any]] = []
        for name in sorted(names):
            item: dict[str, Any] = {"functionName": name}
            if (service, name) in timeouts:
                item["timeout"] = timeouts[(service, name)]
            items.append(item)
        return _single(items)

    async def list_triggers(self, service: str, function: str, *, limit: int, next_token: str | None) -> Page:
        """One function's triggers: FC 3.0 has no region-wide trigger listing, so one listing each."""
        return await self.client.list_triggers_v3(
            fc3_function_name(service, function), limit=limit, next_token=next_token
        )

    async def list_async_configs(
        self, service: str, function: str, *, limit: int, next_token: str | None
    ) -> Page:
        if self._inventory is not None:
            if (service, function) in self._inventory.overflowed:
                raise ListingLimitError(
                    f"more than {self._max_configs} configs of {service}/{function} in the region's FC 3.0 "
                    "listing; raise max_configs_per_function if one function really has that many"
                )
            return _single(self._inventory.configs.pop((service, function), []))
        # a pair named by --targets: list that one function
        page = await self.client.list_async_invoke_configs(
            limit=limit, next_token=next_token, function_name=fc3_function_name(service, function)
        )
        items = []
        for item in page.items:
            got_service, got_function, _q, config = record_config(
                item, account=self.client.account, region=self.client.region
            )
            if (got_service, got_function) != (service, function):
                raise ProtocolError(
                    f"asked for the configs of {service}/{function}, got {got_service}/{got_function}'s"
                )
            items.append(config)
        return Page(
            items=tuple(items), next_token=page.next_token, request_id=page.request_id, size=page.size
        )


class AutoListing:
    """``--api auto`` for one target: FC 3.0 when it answers, FC 2.0 otherwise (decided once)."""

    def __init__(self, fc3: Fc3Listing, fc2: ListingClient) -> None:
        self.fc3 = fc3
        self.fc2 = fc2
        self._lock = anyio.Lock()
        self._chosen: ListingClient | None = None

    @property
    def api(self) -> str | None:
        """``fc3`` or ``fc2`` once decided, else ``None``."""
        if self._chosen is None:
            return None
        return "fc3" if self._chosen is self.fc3 else "fc2"

    async def _choose(self) -> ListingClient:
        async with self._lock:
            if self._chosen is None:
                client = self.fc3.client
                try:
                    await self.fc3.probe()
                    self._chosen = self.fc3
                except (NotFoundError, UnexpectedNotFoundError, RequestRejectedError) as exc:
                    log.info(
                        "fc3.unavailable",
                        account=client.account,
                        region=client.region,
                        code=exc.code,
                        http=exc.http,
                    )
                    self._chosen = self.fc2
            return self._chosen

    async def list_services(self, *, limit: int, next_token: str | None) -> Page:
        return await (await self._choose()).list_services(limit=limit, next_token=next_token)

    async def list_functions(self, service: str, *, limit: int, next_token: str | None) -> Page:
        return await (await self._choose()).list_functions(service, limit=limit, next_token=next_token)

    async def list_async_configs(
        self, service: str, function: str, *, limit: int, next_token: str | None
    ) -> Page:
        chosen = await self._choose()
        return await chosen.list_async_configs(service, function, limit=limit, next_token=next_token)

    async def list_triggers(self, service: str, function: str, *, limit: int, next_token: str | None) -> Page:
        chosen = await self._choose()
        return await chosen.list_triggers(service, function, limit=limit, next_token=next_token)
