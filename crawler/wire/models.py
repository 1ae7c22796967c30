"""The wire's types, shared by its clients and the crawl: a page of a listing, the calls a listing client
answers, and the typed options one (account, region) client is built from.

No I/O here: the crawl (``crawler.crawl``) and ``fc3_listing`` depend on these shapes, not on a concrete
client, so a test can hand the pipeline any object with the three list calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from crawler.settings.config import CrawlSettings
from crawler.wire.credential_provider import CredentialProvider
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryPolicy
from crawler.wire.run_stats import RunStats


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing: its items (checked to be JSON objects) and the token of the next page."""

    items: tuple[dict[str, Any], ...]
    next_token: str | None
    request_id: str | None
    #: bytes of the JSON body the items came from (0 when they did not come from one); not part of
    #: what a page *is*, so two pages of the same items compare equal
    size: int = field(default=0, compare=False)


class ListingClient(Protocol):
    """The FC 2.0-shaped list calls the crawl needs: ``FcClient``, ``Fc3Listing``, ``AutoListing``. The
    three listings every crawl makes, and ``list_triggers`` (one function's triggers, ``--triggers``)."""

    async def list_services(self, *, limit: int, next_token: str | None) -> Page: ...

    async def list_functions(self, service: str, *, limit: int, next_token: str | None) -> Page: ...

    async def list_async_configs(
        self, service: str, function: str, *, limit: int, next_token: str | None
    ) -> Page: ...

    async def list_triggers(
        self, service: str, function: str, *, limit: int, next_token: str | None
    ) -> Page: ...


class RegionListingClient(Protocol):
    """FC 3.0's two region-wide list calls, what ``Fc3Listing`` needs (``Fc3Client`` in production)."""

    @property
    def account(self) -> str: ...

    @property
    def region(self) -> str: ...

    async def list_functions_v3(self, *, limit: int, next_token: str | None, prefix: str = "") -> Page: ...

    async def list_async_invoke_configs(
        self, *, limit: int, next_token: str | None, function_name: str = ""
    ) -> Page: ...

    async def list_triggers_v3(self, function_name: str, *, limit: int, next_token: str | None) -> Page: ...


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """What one (account, region) transport is built from. ``limiter`` and ``retry`` (with its retry
    quota and outage gate) belong to the endpoint and are shared by its targets; ``stats`` to the run.
    The clocks are injectable for tests: ``wall_clock`` dates signatures and reads ``Retry-After``
    dates, ``monotonic`` times requests for the debug log."""

    endpoint: str
    account: str
    region: str
    #: signs each attempt (``StaticProvider`` for fixed keys; ``crawler.identity`` for refreshing ones)
    credentials: CredentialProvider
    limiter: RateLimiter
    retry: RetryPolicy
    stats: RunStats
    settings: CrawlSettings
    wall_clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


__all__ = ["ClientOptions", "ListingClient", "Page", "RegionListingClient"]
