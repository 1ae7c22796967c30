"""The crawl: discovery feeding a worker pool feeding one writer, in one anyio task group.

::

  targets ─ ListServices ─▶ [services] ─ D listers: ListFunctions ─▶ [keys] ─ N workers ─▶ [batches] ─ writer
     (one task a target)   (bounded)       (services fan out)      (bounded) (paged configs) (bounded)

Every stream is a bounded memory object stream, so a fast discovery waits for the workers and slow
output waits for nothing but itself: memory stays flat however large the account. Every pair the
workers take ends as exactly one ``FunctionBatch`` (``ok``, ``none``, ``gone`` or ``error``); a listing
of services or functions that fails after its retries cannot be a ``function`` record, so it is kept as
a *discovery error* and reported in the end ``run`` record (the run is then incomplete). An
``AuthError`` anywhere cancels the whole pipeline at once: retrying wrong credentials only burns quota.

Shutdown (SIGINT/SIGTERM when ``handle_signals``) is ``crawler.shutdown``: no new pairs, a grace period
for those in flight, then the finished functions and an end record with ``complete: false``.

The clients are a parameter (anything with the three list calls), so the pipeline is independent of
the transport; ``crawler.runner.open_clients`` builds the real ones: one aiohttp session, one adaptive
rate limiter per endpoint, one run-wide retry policy.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from crawler.errors import AuthError, CrawlerError, FatalError, NotFoundError, ProtocolError
from crawler.jobs import CrawlJob
from crawler.log import get_logger
from crawler.pager import iterate_pages
from crawler.records import (
    ConfigRecord,
    FunctionBatch,
    FunctionKey,
    FunctionRecord,
    FunctionStatus,
    Record,
    RunRecord,
    normalise_qualifier,
)
from crawler.shutdown import RunControl
from crawler.sink import Sink, write_batches
from crawler.stats import RunStats

if TYPE_CHECKING:
    from crawler.client import Page

log = get_logger(__name__)

DEFAULT_GRACE_SECONDS: Final = 5.0
DISCOVERY_LISTERS: Final = 8


class ListingClient(Protocol):
    """The three FC list calls the crawl needs (``crawler.client.FcClient`` in production)."""

    async def list_services(self, *, limit: int, next_token: str | None) -> Page: ...

    async def list_functions(self, service: str, *, limit: int, next_token: str | None) -> Page: ...

    async def list_async_configs(
        self, service: str, function: str, *, limit: int, next_token: str | None
    ) -> Page: ...


#: an auxiliary task run beside the crawl until it ends (the progress line's refresher)
AuxTask = Callable[[], Coroutine[Any, Any, None]]
ClientMap = Mapping[tuple[str, str], ListingClient]  # (account, region) -> client


@dataclass(frozen=True, slots=True)
class DiscoveryError:
    """A ListServices (``service`` None) or ListFunctions listing that failed after its retries."""

    account: str
    region: str
    service: str | None
    error: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "region": self.region, "service": self.service, "error": self.error}


@dataclass(frozen=True, slots=True)
class CrawlOutcome:
    complete: bool
    interrupted: signal.Signals | None
    auth_error: AuthError | None
    auth_target: tuple[str, str] | None
    discovery_errors: tuple[DiscoveryError, ...]
    end: RunRecord


class Crawl:
    """One run of the pipeline over ``clients`` for ``job``, writing into ``sink``."""

    def __init__(
        self,
        job: CrawlJob,
        clients: ClientMap,
        sink: Sink,
        *,
        stats: RunStats,
        on_record: Callable[[Record], None] = lambda _r: None,
        grace: float = DEFAULT_GRACE_SECONDS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.job = job
        self.clients = clients
        self.sink = sink
        self.stats = stats
        self._on_record = on_record
        self._grace = grace
        self._now = now
        self._state = RunControl()
        self._discovery_errors: list[DiscoveryError] = []
        self._duplicates = 0
        settings = job.settings
        self._page_size = int(settings.page_size)
        self._max_pages = int(settings.max_pages)
        self._workers = max(1, int(settings.concurrency))

    # -- the task group ----------------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = False, extra: AuxTask | None = None) -> CrawlOutcome:
        """Crawl everything, write the end record, return the outcome. ``extra``: an aux coroutine
        function (e.g. the progress line's refresher) run until the crawl is over.

        A failure of the output itself (``OutputError``, a closed pipe) ends the run with that one
        exception, not an exception group, so the command line can report it in one line.
        """
        try:
            return await self._run(handle_signals, extra)
        except BaseExceptionGroup as group:
            single = _single_fatal(group)
            if single is None:
                raise
            raise single from None

    async def _run(self, handle_signals: bool, extra: AuxTask | None) -> CrawlOutcome:
        state = self._state
        async with anyio.create_task_group() as outer:
            if handle_signals:
                outer.start_soon(state.watch_signals, self._grace)
            if extra is not None:
                outer.start_soon(extra)
            async with anyio.create_task_group() as pipeline:
                batch_send, batch_recv = anyio.create_memory_object_stream[FunctionBatch](self._workers)
                pipeline.start_soon(write_batches, batch_recv, self.sink, self._count_batch)
                async with batch_send, anyio.create_task_group() as work:
                    state.work = work.cancel_scope
                    key_send, key_recv = anyio.create_memory_object_stream[tuple[ListingClient, FunctionKey]](
                        self._workers * 2
                    )
                    async with key_recv:
                        for _ in range(self._workers):
                            work.start_soon(self._worker, key_recv.clone(), batch_send.clone())
                    work.start_soon(self._discover, key_send)
            end = self._end_record()
            self.sink.add_run(end)
            self._on_record(end)
            await self.sink.flush()
            outer.cancel_scope.cancel()
        return CrawlOutcome(
            complete=bool(end.data["complete"]),
            interrupted=state.interrupted,
            auth_error=state.auth_error,
            auth_target=state.auth_target,
            discovery_errors=tuple(self._discovery_errors),
            end=end,
        )

    def _count_batch(self, batch: FunctionBatch) -> None:
        self.stats.functions_done += 1
        self.stats.functions_by_status[batch.function.status] += 1
        self.stats.configs += len(batch.configs)
        for config in batch.configs:
            self._on_record(config)
        self._on_record(batch.function)

    def _end_record(self) -> RunRecord:
        counters = self.stats.snapshot()
        s = self._state
        errors = self.stats.functions_by_status.get("error", 0)
        complete = (
            s.interrupted is None and s.auth_error is None and not self._discovery_errors and errors == 0
        )
        data: dict[str, Any] = {
            "complete": complete,
            "finishedAt": self._now().isoformat(timespec="seconds"),
            "interrupted": s.interrupted.name if s.interrupted is not None else None,
            "aborted": s.auth_error.as_record() if s.auth_error is not None else None,
            "discoveryErrors": [d.as_dict() for d in self._discovery_errors],
            "duplicateConfigsDropped": self._duplicates,
            "resumedFunctions": len(self.job.skip),
            **counters,
        }
        return RunRecord("end", data)

    # -- discovery -----------------------------------------------------------------------------------

    async def _discover(self, key_send: MemoryObjectSendStream[tuple[ListingClient, FunctionKey]]) -> None:
        state = self._state
        async with key_send:
            with anyio.CancelScope() as scope:
                state.discovery = scope
                if state.stopping:
                    return
                if self.job.pairs is not None:
                    await self._send_pairs(key_send)
                    return
                svc_send, svc_recv = anyio.create_memory_object_stream[tuple[ListingClient, str, str, str]](
                    DISCOVERY_LISTERS * 4
                )
                async with anyio.create_task_group() as tg:
                    async with svc_recv:
                        for _ in range(min(DISCOVERY_LISTERS, self._workers)):
                            tg.start_soon(self._list_functions, svc_recv.clone(), key_send.clone())
                    async with svc_send:
                        for (account, region), client in self.clients.items():
                            tg.start_soon(self._list_services, account, region, client, svc_send.clone())

    async def _send_pairs(self, key_send: MemoryObjectSendStream[tuple[ListingClient, FunctionKey]]) -> None:
        selection = self.job.selection
        for account, region, service, function in self.job.expanded_pairs():
            if not selection.wants_function(service, function):
                continue
            await self._offer(
                key_send, self.clients[(account, region)], FunctionKey(account, region, service, function)
            )

    async def _offer(
        self,
        key_send: MemoryObjectSendStream[tuple[ListingClient, FunctionKey]],
        client: ListingClient,
        key: FunctionKey,
    ) -> None:
        self.stats.functions_discovered += 1
        if key in self.job.skip:
            return
        await key_send.send((client, key))

    async def _list_services(
        self,
        account: str,
        region: str,
        client: ListingClient,
        svc_send: MemoryObjectSendStream[tuple[ListingClient, str, str, str]],
    ) -> None:
        async with svc_send:

            async def fetch(token: str | None) -> Page:
                return await client.list_services(limit=self._page_size, next_token=token)

            try:
                async for page in iterate_pages(fetch, max_pages=self._max_pages):
                    for item in page.items:
                        name = item.get("serviceName") if isinstance(item, dict) else None
                        if not isinstance(name, str) or not name:
                            self._discovery_error(account, region, None, _bad_item("service", "serviceName"))
                            continue
                        if self.job.selection.wants_service(name):
                            await svc_send.send((client, account, region, name))
            except AuthError as exc:
                self._state.abort(exc, account, region)
            except CrawlerError as exc:
                self._discovery_error(account, region, None, exc)

    async def _list_functions(
        self,
        svc_recv: MemoryObjectReceiveStream[tuple[ListingClient, str, str, str]],
        key_send: MemoryObjectSendStream[tuple[ListingClient, FunctionKey]],
    ) -> None:
        selection = self.job.selection
        async with svc_recv, key_send:
            async for client, account, region, service in svc_recv:

                async def fetch(
                    token: str | None, client: ListingClient = client, service: str = service
                ) -> Page:
                    return await client.list_functions(service, limit=self._page_size, next_token=token)

                try:
                    async for page in iterate_pages(fetch, max_pages=self._max_pages):
                        for item in page.items:
                            name = item.get("functionName") if isinstance(item, dict) else None
                            if not isinstance(name, str) or not name:
                                self._discovery_error(
                                    account, region, service, _bad_item("function", "functionName")
                                )
                                continue
                            if selection.wants_function(service, name):
                                await self._offer(
                                    key_send, client, FunctionKey(account, region, service, name)
                                )
                except NotFoundError:
                    log.info("crawl.service_gone", account=account, region=region, service=service)
                except AuthError as exc:
                    self._state.abort(exc, account, region)
                    return
                except CrawlerError as exc:
                    self._discovery_error(account, region, service, exc)

    def _discovery_error(self, account: str, region: str, service: str | None, exc: CrawlerError) -> None:
        log.error(
            "crawl.discovery_failed",
            account=account,
            region=region,
            service=service,
            code=exc.code,
            attempts=exc.attempts,
            message=exc.message,
        )
        self._discovery_errors.append(DiscoveryError(account, region, service, exc.as_record()))

    # -- workers ---------------------------------------------------------------------------------------

    async def _worker(
        self,
        key_recv: MemoryObjectReceiveStream[tuple[ListingClient, FunctionKey]],
        batch_send: MemoryObjectSendStream[FunctionBatch],
    ) -> None:
        async with key_recv, batch_send:
            async for client, key in key_recv:
                if self._state.stopping:
                    return
                try:
                    batch = await self._crawl_function(client, key)
                except AuthError as exc:
                    self._state.abort(exc, key.account, key.region)
                    return
                await batch_send.send(batch)

    async def _crawl_function(self, client: ListingClient, key: FunctionKey) -> FunctionBatch:
        configs: list[ConfigRecord] = []
        qualifiers: set[str] = set()
        pages = 0

        async def fetch(token: str | None) -> Page:
            return await client.list_async_configs(
                key.service, key.function, limit=self._page_size, next_token=token
            )

        try:
            async for page in iterate_pages(fetch, max_pages=self._max_pages):
                pages += 1
                self.stats.pages += 1
                for item in page.items:
                    if not isinstance(item, dict):
                        raise ProtocolError(f"a config is a {type(item).__name__}, not an object")
                    qualifier = normalise_qualifier(item.get("qualifier"))
                    if qualifier in qualifiers:
                        self._duplicates += 1
                        log.warning("crawl.duplicate_config", service=key.service, function=key.function)
                        continue
                    qualifiers.add(qualifier)
                    configs.append(ConfigRecord(key, qualifier, item))
        except NotFoundError:
            return FunctionBatch((), FunctionRecord(key, "gone", 0, pages))
        except AuthError:
            raise
        except CrawlerError as exc:
            log.warning(
                "crawl.function_failed",
                service=key.service,
                function=key.function,
                code=exc.code,
                attempts=exc.attempts,
            )
            return FunctionBatch((), FunctionRecord(key, "error", 0, pages, exc.as_record()))
        status: FunctionStatus = "ok" if configs else "none"
        return FunctionBatch(tuple(configs), FunctionRecord(key, status, len(configs), pages))


def _single_fatal(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The first ``FatalError`` or ``BrokenPipeError`` in a (nested) exception group, if any."""
    matched, _rest = group.split((FatalError, BrokenPipeError))
    found: BaseException | None = matched
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return found


def _bad_item(kind: str, field_name: str) -> ProtocolError:
    return ProtocolError(f"a {kind} in the listing has no string {field_name!r}")
