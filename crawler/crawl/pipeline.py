"""The crawl: per target, discovery feeding a worker pool; every pool feeding one writer; one task group.

::

  one lane per target (account × region):
  ListServices ─▶ [services] ─ D listers: ListFunctions ─▶ [keys] ─ N workers ─┐
   (one task)     (bounded)     (services fan out)       (bounded) (paged configs)
                                                                              ├─▶ [batches] ─ writer
  ... the next target's lane, with its own streams and workers ...            ┘    (bounded)   │
                                                     subscribers: live summary, drift, stats ◀┘

Every stream is a bounded memory object stream, so a fast discovery waits for the workers and slow output
waits for nothing but itself: memory stays flat however large the account. Each target has its own lane —
its own key stream, its own workers (up to the target's concurrency in flight, each started when its key
arrives) and its own function listers — so a target that is slow or throttled holds up only its own lane:
its keys never sit in front of another region's, and its workers are never the ones another region waits
for. Every pair the workers take ends as exactly one ``FunctionBatch`` (``ok``, ``none``, ``gone`` or
``error``), and each pair is taken once: a service listed twice, or a function on two pages of its
listing, is dropped (and counted in the end record) as it is discovered. ``gone`` is only what the client
maps to ``NotFoundError`` (FC's own "deleted" codes); a ``--targets`` pair gone at its first request is
marked ``never_found``. One function's listing holds at most ``max_configs_per_function`` configs and
``max_function_bytes`` of answers (``ListingLimitError`` past either), so memory is bounded per listing
whatever the server sends. A listing of services or functions that fails after its retries cannot be a
``function`` record, so it is kept as a *discovery error* and reported in the end ``run`` record (the run
is then incomplete). A refusal is scoped to what was refused: a 403 on one function or one listing
(``AccessDeniedError``) is an ``error`` for that pair or a discovery error for that listing, while a
target whose credentials are refused (``AuthError``, or any 403 on its ListServices) or whose endpoint
stayed unreachable past ``outage_wait`` (``EndpointDownError``) stops that lane only: its discovery is
cancelled, its workers drop the keys still queued (unwritten, so ``--resume`` crawls them), and a
discovery error names the target. The other lanes finish; when every target is refused the run has
stopped after about one request per target.

With ``--shard K/N`` (``job.shard``) each lane keeps only the services its shard owns, so N crawls cover
every service once. Shutdown (SIGINT/SIGTERM when ``handle_signals``) is ``crawler.crawl.shutdown``: no new
pairs, a grace period for those in flight, then the finished functions and an end record with
``complete: false``; the run's ``deadline`` setting (``--deadline``) passing does the same, recorded as
``interrupted: "deadline"``. One function's listing is bounded by ``function_deadline`` (then it is an
``error`` record, ``FunctionDeadline``), kept by one watchdog for the whole crawl (``crawl.deadlines``):
a worker arms its watch around each listing and leaves its scope when the watch fires.

Records flow one way: the pipeline hands finished functions to the writer and never sees them again.
The writer (``crawler.store.writer``) tells its subscribers of each record it accepts — the live summary
(and through its findings the ``--findings`` file), the drift's new side, the run statistics (``RunStats``,
which this crawl subscribes, so the end record counts what the output holds) — and nothing else feeds
them.

The clients are a parameter (``crawler.wire.models.ListingClient``: anything with the three list
calls), so the pipeline is independent of the transport; ``crawl.runner.open_clients`` builds the real
ones: one aiohttp session, and per endpoint one adaptive rate limiter and one retry policy (retry quota
and outage gate).
"""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from crawler.crawl.deadlines import Clock, Watch, Watchdog
from crawler.crawl.job import CrawlJob
from crawler.crawl.shutdown import RunControl
from crawler.errors import (
    AccessDeniedError,
    AuthError,
    CrawlerError,
    EndpointDownError,
    FatalError,
    FunctionDeadlineError,
    ListingLimitError,
    NotFoundError,
    ProtocolError,
)
from crawler.log import get_logger
from crawler.settings.trigger_modes import classify
from crawler.store.records import (
    ConfigRecord,
    FunctionBatch,
    FunctionKey,
    FunctionRecord,
    FunctionStatus,
    RunRecord,
    TriggerInfo,
    normalise_qualifier,
)
from crawler.store.writer import Sink, write_batches
from crawler.wire.models import ListingClient, Page
from crawler.wire.pager import iterate_pages
from crawler.wire.run_stats import RunStats

log = get_logger(__name__)

DEFAULT_GRACE_SECONDS: Final = 5.0
DISCOVERY_LISTERS: Final = 8
#: keys a lane buffers at least: more than a page of ListFunctions, so discovery hands over a whole page
#: and goes on listing instead of waking for every key a worker takes
KEY_BUFFER: Final = 128


#: an auxiliary task run beside the crawl until it ends (the progress line's refresher)
AuxTask = Callable[[], Coroutine[Any, Any, None]]
ClientMap = Mapping[tuple[str, str], ListingClient]  # (account, region) -> client


#: errors that stop a whole target (lane), not one listing
LANE_ENDING = (AuthError, EndpointDownError)


@dataclass(slots=True)
class LaneControl:
    """A lane's own stop (one event loop, no lock): why it stopped, and its discovery's cancel scope."""

    stopped: CrawlerError | None = None
    discovery: anyio.CancelScope = field(default_factory=anyio.CancelScope)


@dataclass(frozen=True, slots=True)
class Lane:
    """One target's part of the pipeline: its client, the stream its workers take keys from, its width
    (how many of its functions may be in flight: the target's concurrency), its stop control."""

    account: str
    region: str
    client: ListingClient
    keys: MemoryObjectSendStream[FunctionKey]
    workers: int
    control: LaneControl = field(default_factory=LaneControl)


@dataclass(slots=True)
class InFlight:
    """The function a worker is listing, for its ``error`` record should its watch fire: the pages so
    far, and (once its configs are whole and its triggers are being listed) its configs' batch."""

    key: FunctionKey
    timeout: int | float | None
    pages: int = 0
    configs: FunctionBatch | None = None


@dataclass(slots=True)
class Held:
    """What a worker holds when its watch fires: a listing in flight, or a batch not yet handed on."""

    flight: InFlight | None = None
    batch: FunctionBatch | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A target whose credentials the API refused (the crawl of that target stopped)."""

    account: str
    region: str
    error: AccessDeniedError


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
    #: the targets whose credentials were refused, in the order they were
    refused: tuple[Refusal, ...]
    #: every target was refused: nothing could be crawled
    all_refused: bool
    discovery_errors: tuple[DiscoveryError, ...]
    end: RunRecord
    #: ``cannot reach URL (cause, N attempts in T s)`` for each endpoint that never answered
    #: (``crawl.runner.execute`` fills it in from the outage gates)
    unreachable: tuple[str, ...] = ()


class Crawl:
    """One run of the pipeline over ``clients`` for ``job``, writing into ``sink``."""

    def __init__(
        self,
        job: CrawlJob,
        clients: ClientMap,
        sink: Sink,
        *,
        stats: RunStats,
        grace: float = DEFAULT_GRACE_SECONDS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Clock = time.monotonic,
    ) -> None:
        self.job = job
        self.clients = clients
        self.sink = sink
        self.stats = stats
        # the end record's function and config counts are what the writer accepted (and, on --resume,
        # what the file held): the stats hear of every record from the sink (subscribed once)
        sink.subscribers.subscribe(stats)
        self._grace = grace
        self._now = now
        self._state = RunControl()
        self._discovery_errors: list[DiscoveryError] = []
        #: the resumed file's error functions that discovery offered again (the rest are offered after it)
        self._retried: set[FunctionKey] = set()
        self._refused: list[Refusal] = []
        self._duplicates = 0
        self._duplicate_services = 0
        self._duplicate_functions = 0
        self._ended = False  # the end record is in the sink
        settings = job.settings
        self._page_size = int(settings.page_size)
        self._max_pages = int(settings.max_pages)
        self._max_configs = int(settings.max_configs_per_function)
        self._max_function_bytes = int(settings.max_function_bytes)
        self._workers = max(1, int(settings.concurrency))
        self._function_deadline = float(settings.function_deadline)
        #: cancels a worker's listing that outlives ``function_deadline``
        self.watchdog = Watchdog(self._function_deadline, clock)
        #: ``--triggers``: each ``ok``/``none`` function's triggers are listed after its configs
        self._triggers = bool(settings.triggers)
        #: the ``timeout`` ListFunctions gave each function offered and not yet taken by a worker (so at
        #: most the keys buffered and in flight: the key streams are bounded)
        self._timeouts: dict[FunctionKey, int | float] = {}
        self._deadline = None if settings.deadline is None else float(settings.deadline)
        #: each target's own concurrency (``[[targets]]`` ``concurrency``), which sizes its lane
        self._widths = {(t.account, t.region): t.limits(settings)[1] for t in job.targets}

    # -- the task group ----------------------------------------------------------------------------

    async def run(
        self,
        *,
        handle_signals: bool = False,
        extra: AuxTask | None = None,
        signals: AsyncIterator[signal.Signals] | None = None,
    ) -> CrawlOutcome:
        """Crawl everything, write the end record, return the outcome. ``extra``: an aux coroutine
        function (e.g. the progress line's refresher) run until the crawl is over. ``signals``: a signal
        receiver the caller holds, watched instead of one of the crawl's own (implies ``handle_signals``).

        A failure of an output (``OutputError``, a closed pipe) or an unexpected exception (a bug) ends the
        run with that one exception, not an exception group, so the command line can report it in one
        line; the end record (``complete: false``, ``aborted`` naming the failure) is still written when
        the output itself can take it, so the file says how the run ended and stays resumable.
        """
        try:
            return await self._run(handle_signals, extra, signals)
        except BaseExceptionGroup as group:
            failure = _single_fatal(group) or _first_exception(group)
            if failure is None:  # only cancellations (a KeyboardInterrupt, a caller's scope)
                raise
            await self._end_after(failure)
            raise failure from None

    async def _end_after(self, failure: BaseException) -> None:
        """The end record after ``failure`` stopped the pipeline, unless the output cannot take it."""
        if self._ended or self.sink.failed:
            return
        if isinstance(failure, CrawlerError):
            aborted = failure.as_record()
        else:
            text = " ".join(str(failure).split())
            aborted = CrawlerError(f"{type(failure).__name__}: {text}"[:500]).as_record()
            aborted["code"] = "InternalError"
        try:
            with anyio.CancelScope(shield=True):
                self.sink.add_run(self._end_record(aborted=aborted))
                await self.sink.flush()
        except (OSError, CrawlerError) as exc:  # the record is a courtesy; the failure is what is reported
            log.warning("crawl.end_record_not_written", error=str(exc))

    async def _run(
        self, handle_signals: bool, extra: AuxTask | None, signals: AsyncIterator[signal.Signals] | None
    ) -> CrawlOutcome:
        state = self._state
        async with anyio.create_task_group() as outer:
            if handle_signals or signals is not None:
                outer.start_soon(state.watch_signals, self._grace, signals)
            if self._deadline is not None:
                outer.start_soon(state.expire_after, self._deadline, self._grace)
            if extra is not None:
                outer.start_soon(extra)
            outer.start_soon(self.watchdog.run)
            async with anyio.create_task_group() as pipeline:
                batch_send, batch_recv = anyio.create_memory_object_stream[FunctionBatch](self._workers)
                pipeline.start_soon(write_batches, batch_recv, self.sink)
                async with batch_send, anyio.create_task_group() as work:
                    state.work = work.cancel_scope
                    lanes = []
                    for (account, region), client in self.clients.items():
                        width = max(1, int(self._widths.get((account, region), self._workers)))
                        buffered = max(width * 2, KEY_BUFFER)
                        key_send, key_recv = anyio.create_memory_object_stream[FunctionKey](buffered)
                        lane = Lane(account, region, client, key_send, width)
                        work.start_soon(self._lane_workers, lane, key_recv, batch_send.clone())
                        lanes.append(lane)
                    work.start_soon(self._discover, lanes)
            end = self._end_record()
            self._ended = True
            self.sink.add_run(end)
            await self.sink.flush()
            outer.cancel_scope.cancel()
        return CrawlOutcome(
            complete=bool(end.data["complete"]),
            interrupted=state.interrupted,
            refused=tuple(self._refused),
            all_refused=self._all_refused,
            discovery_errors=tuple(self._discovery_errors),
            end=end,
        )

    @property
    def _all_refused(self) -> bool:
        return bool(self._refused) and len(self._refused) == len(self.clients)

    def _end_record(self, aborted: Mapping[str, Any] | None = None) -> RunRecord:
        """The end ``run`` record; ``aborted``: what stopped the run, when not every target's credentials
        being refused (then the first refusal)."""
        counters = self.stats.snapshot()
        s = self._state
        if aborted is None and self._all_refused:  # nothing could be crawled
            aborted = self._refused[0].error.as_record()
        errors = self.stats.functions_by_status.get("error", 0)
        complete = s.stop_reason is None and aborted is None and not self._discovery_errors and errors == 0
        data: dict[str, Any] = {
            "complete": complete,
            "finishedAt": self._now().isoformat(timespec="seconds"),
            "interrupted": s.stop_reason,
            "aborted": aborted,
            "discoveryErrors": [d.as_dict() for d in self._discovery_errors],
            "duplicateConfigsDropped": self._duplicates,
            "duplicateFunctionsDropped": self._duplicate_functions,
            "duplicateServicesDropped": self._duplicate_services,
            "resumedFunctions": len(self.job.skip),
            "shard": self.job.shard.as_dict() if self.job.shard is not None else None,
            "apis": {f"{a}/{r}": _api_of(client) for (a, r), client in self.clients.items()},
            **counters,
        }
        return RunRecord("end", data)

    # -- discovery -----------------------------------------------------------------------------------

    async def _discover(self, lanes: list[Lane]) -> None:
        state = self._state
        async with AsyncExitStack() as streams:
            for lane in lanes:
                await streams.enter_async_context(lane.keys)
            with anyio.CancelScope() as scope:
                state.discovery = scope
                if state.stopping:
                    return
                if self.job.pairs is not None:
                    await self._send_pairs({(lane.account, lane.region): lane for lane in lanes})
                    return
                async with anyio.create_task_group() as tg:
                    for lane in lanes:
                        tg.start_soon(self._discover_target, lane)

    async def _discover_target(self, lane: Lane) -> None:
        """One target's discovery: its services, then (D listers at a time) their functions."""
        svc_send, svc_recv = anyio.create_memory_object_stream[str](DISCOVERY_LISTERS * 4)
        async with lane.keys:  # the lane's workers end when it is done
            with lane.control.discovery:  # cancelled when the lane stops
                async with anyio.create_task_group() as tg:
                    async with svc_recv:
                        for _ in range(min(DISCOVERY_LISTERS, lane.workers)):
                            tg.start_soon(self._list_functions, lane, svc_recv.clone(), lane.keys.clone())
                    tg.start_soon(self._list_services, lane, svc_send)
                await self._offer_undiscovered_retries(lane)

    async def _offer_undiscovered_retries(self, lane: Lane) -> None:
        """A resumed file's ``error`` functions that discovery did not list (deleted since, most likely)
        are crawled all the same: FC says whether they are gone, and a resume never keeps an error that no
        run can reach. Filters and the shard still decide, as for any discovered function."""
        job = self.job
        for key in sorted(job.retry - self._retried):
            if (key.account, key.region) != (lane.account, lane.region) or lane.control.stopped is not None:
                continue
            if job.selection.wants_function(key.service, key.function) and job.owns(
                key.account, key.region, key.service
            ):
                log.info("crawl.retry_undiscovered", service=key.service, function=key.function)
                await self._offer(lane.keys, key)

    async def _send_pairs(self, lanes: Mapping[tuple[str, str], Lane]) -> None:
        selection, job = self.job.selection, self.job
        for key in job.pairs or ():  # already FunctionKeys: expanded onto the targets by jobs.expand_pairs
            lane = lanes[(key.account, key.region)]
            if lane.control.stopped is not None:
                continue  # a stopped target: its pairs are left for --resume
            if selection.wants_function(key.service, key.function) and job.owns(
                key.account, key.region, key.service
            ):
                await self._offer(lane.keys, key)

    async def _offer(
        self,
        key_send: MemoryObjectSendStream[FunctionKey],
        key: FunctionKey,
        function_timeout: int | float | None = None,
    ) -> None:
        self.stats.functions_discovered += 1
        if key in self.job.skip:
            return
        if function_timeout is not None:
            self._timeouts[key] = function_timeout
        if key in self.job.retry:
            self._retried.add(key)
        await key_send.send(key)

    async def _list_services(self, lane: Lane, svc_send: MemoryObjectSendStream[str]) -> None:
        account, region, client, job = lane.account, lane.region, lane.client, self.job
        async with svc_send:

            async def fetch(token: str | None) -> Page:
                return await client.list_services(limit=self._page_size, next_token=token)

            listed: set[str] = set()  # a service listed twice is crawled once
            try:
                async for page in iterate_pages(fetch, max_pages=self._max_pages):
                    for item in page.items:
                        name = item.get("serviceName")
                        if not isinstance(name, str) or not name:
                            self._discovery_error(account, region, None, _bad_item("service", "serviceName"))
                            continue
                        if name in listed:
                            self._duplicate_services += 1
                            log.warning(
                                "crawl.duplicate_service", account=account, region=region, service=name
                            )
                            continue
                        listed.add(name)
                        if job.selection.wants_service(name) and job.owns(account, region, name):
                            await svc_send.send(name)
            except (AccessDeniedError, EndpointDownError) as exc:
                # any 403 on the target's first listing: nothing of it can be seen, so it is refused
                self._stop_lane(lane, exc)
            except CrawlerError as exc:
                self._discovery_error(account, region, None, exc)

    async def _list_functions(
        self,
        lane: Lane,
        svc_recv: MemoryObjectReceiveStream[str],
        key_send: MemoryObjectSendStream[FunctionKey],
    ) -> None:
        account, region, client, selection = lane.account, lane.region, lane.client, self.job.selection
        async with svc_recv, key_send:
            async for service in svc_recv:

                async def fetch(token: str | None, service: str = service) -> Page:
                    return await client.list_functions(service, limit=self._page_size, next_token=token)

                listed: set[str] = set()  # a function on two pages of its listing is crawled once
                try:
                    async for page in iterate_pages(fetch, max_pages=self._max_pages):
                        for item in page.items:
                            name = item.get("functionName")
                            if not isinstance(name, str) or not name:
                                self._discovery_error(
                                    account, region, service, _bad_item("function", "functionName")
                                )
                                continue
                            if name in listed:
                                self._duplicate_functions += 1
                                log.warning(
                                    "crawl.duplicate_function",
                                    account=account,
                                    region=region,
                                    service=service,
                                    function=name,
                                )
                                continue
                            listed.add(name)
                            if selection.wants_function(service, name):
                                key = FunctionKey(account, region, service, name)
                                await self._offer(key_send, key, _timeout_of(item.get("timeout")))
                except NotFoundError:
                    log.info("crawl.service_gone", account=account, region=region, service=service)
                except LANE_ENDING as exc:
                    self._stop_lane(lane, exc)
                    return
                except CrawlerError as exc:  # AccessDenied on this service: a discovery error for it
                    self._discovery_error(account, region, service, exc)

    def _stop_lane(self, lane: Lane, exc: CrawlerError) -> None:
        """Stop one target (refused credentials, an endpoint given up): its discovery is cancelled, its
        workers drop what is queued; a discovery error names it. The first reason is the one kept."""
        control = lane.control
        if control.stopped is not None:
            return
        control.stopped = exc
        control.discovery.cancel()
        if isinstance(exc, AccessDeniedError):
            self._refused.append(Refusal(lane.account, lane.region, exc))
            log.error(  # the command line names it again, once, last on stderr
                "crawl.target_refused",
                account=lane.account,
                region=lane.region,
                code=exc.code,
                http=exc.http,
                request_id=exc.request_id,
            )
            self._discovery_errors.append(DiscoveryError(lane.account, lane.region, None, exc.as_record()))
            return
        self._discovery_error(lane.account, lane.region, None, exc)

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

    async def _lane_workers(
        self,
        lane: Lane,
        key_recv: MemoryObjectReceiveStream[FunctionKey],
        batch_send: MemoryObjectSendStream[FunctionBatch],
    ) -> None:
        """A lane's workers: up to ``width`` functions in flight, so an idle lane costs one task however
        wide it is (an estate has many lanes). This task is the first worker; a worker that takes a key
        when no other worker is idle starts one more, up to ``width``. Workers then live as long as the
        lane: a task per function would cost more CPU than the function's request."""
        width = lane.workers
        async with key_recv, batch_send, anyio.create_task_group() as tg:
            started = 1

            def grow() -> None:
                nonlocal started
                if started < width and not key_recv.statistics().tasks_waiting_receive:
                    started += 1
                    tg.start_soon(self._worker, lane, key_recv.clone(), batch_send.clone(), grow)

            await self._worker(lane, key_recv.clone(), batch_send.clone(), grow)

    async def _worker(
        self,
        lane: Lane,
        key_recv: MemoryObjectReceiveStream[FunctionKey],
        batch_send: MemoryObjectSendStream[FunctionBatch],
        grow: Callable[[], None],
    ) -> None:
        """Take keys until the lane's stream ends, inside the scope of this worker's watch (one scope for
        many functions: ``crawl.deadlines``). When the watchdog cancels it, what the worker held is handed
        on outside the scope: a listing cut short is an ``error`` record (``_overdue``), a batch that came
        in whole as the watch fired is sent as it is; then the worker goes on in a fresh scope."""
        watch = self.watchdog.watch()
        held = Held()
        try:
            async with key_recv, batch_send:
                while True:
                    with watch.renew():
                        if await self._take_keys(lane, watch, held, key_recv, batch_send, grow):
                            return
                    if held.flight is not None:
                        held.batch, held.flight = self._overdue(held.flight), None
                    if held.batch is not None:
                        batch, held.batch = held.batch, None
                        await batch_send.send(batch)
        finally:
            self.watchdog.forget(watch)

    async def _take_keys(
        self,
        lane: Lane,
        watch: Watch,
        held: Held,
        key_recv: MemoryObjectReceiveStream[FunctionKey],
        batch_send: MemoryObjectSendStream[FunctionBatch],
        grow: Callable[[], None],
    ) -> bool:
        """Crawl the lane's keys: True when they end (or the crawl stops), False to leave a watch that
        fired. A fired scope cancels every await in it, and a stream's send or receive cancelled may have
        moved its item: so after a listing the worker looks at ``watch.fired`` before it awaits again."""
        while True:
            try:  # a key already waiting is taken without a turn of the event loop
                key = key_recv.receive_nowait()
            except anyio.WouldBlock:
                try:
                    key = await key_recv.receive()
                except anyio.EndOfStream:
                    return True
            except anyio.EndOfStream:
                return True
            timeout = self._timeouts.pop(key, None)
            if self._state.stopping:
                return True
            if lane.control.stopped is not None:
                continue  # a stopped target: the key is dropped unwritten (a resume crawls it)
            grow()
            held.flight = InFlight(key, timeout)
            try:
                batch = await self._crawl_function(lane.client, watch, held.flight)
            except LANE_ENDING as exc:
                held.flight = None
                self._stop_lane(lane, exc)
                if watch.fired:
                    return False
                continue
            held.flight = None
            if watch.fired:  # it fired as the listing's last answer came in: the batch is whole
                held.batch = batch
                return False
            try:
                batch_send.send_nowait(batch)
            except anyio.WouldBlock:
                await batch_send.send(batch)

    def _overdue(self, flight: InFlight) -> FunctionBatch:
        """The batch of a function whose listing outlived ``function_deadline``: an ``error`` record, or,
        when its triggers were being listed, its whole configs with the trigger listing's failure."""
        deadline = self._function_deadline
        if flight.configs is None:
            return _function_failed(
                flight,
                FunctionDeadlineError(
                    f"the function's listing took longer than function_deadline ({deadline:g} s) after "
                    f"{flight.pages} pages; gave up on it"
                ),
            )
        failure = _triggers_failed(
            flight.key,
            FunctionDeadlineError(
                f"the function's trigger listing took longer than function_deadline ({deadline:g} s); "
                "gave up on it"
            ),
        )
        function = replace(flight.configs.function, triggers_error=failure)
        return FunctionBatch(flight.configs.configs, function)

    async def _crawl_function(self, client: ListingClient, watch: Watch, flight: InFlight) -> FunctionBatch:
        """One function's records: its configs, then (``--triggers``) its triggers; each listing is
        armed on ``watch`` for ``function_deadline``. ``flight.timeout``: the function's ``timeout`` from
        its listing, kept on its record."""
        key = flight.key
        watch.arm(self._function_deadline)
        try:
            batch = await self._crawl_configs(client, flight)
        finally:
            watch.disarm()
        function = batch.function
        if not self._triggers or function.status not in ("ok", "none"):
            return batch
        flight.configs = batch
        watch.arm(self._function_deadline)
        try:
            triggers, failure = await self._list_triggers(client, key)
        finally:
            watch.disarm()
        if failure is not None:
            function = replace(function, triggers_error=failure)
        else:
            function = replace(function, triggers=triggers)
        return FunctionBatch(batch.configs, function)

    async def _list_triggers(
        self, client: ListingClient, key: FunctionKey
    ) -> tuple[tuple[TriggerInfo, ...] | None, dict[str, Any] | None]:
        """(the function's triggers sorted by name, None) or (None, why they could not be listed). A
        failed trigger listing does not make the function an ``error``: its configs are whole, only its
        exposure is unknown (the record says why; the end record counts ``triggerErrors``)."""
        modes = self.job.trigger_modes
        found: dict[str, TriggerInfo] = {}

        async def fetch(token: str | None) -> Page:
            return await client.list_triggers(
                key.service, key.function, limit=self._page_size, next_token=token
            )

        try:
            async for page in iterate_pages(fetch, max_pages=self._max_pages):
                for item in page.items:
                    name, kind = item.get("triggerName"), item.get("triggerType")
                    if not isinstance(name, str) or not name or not isinstance(kind, str):
                        raise ProtocolError(
                            "a trigger in the listing has no string triggerName and triggerType"
                        )
                    if name in found:  # a trigger on two pages is kept once
                        log.warning("crawl.duplicate_trigger", service=key.service, function=key.function)
                        continue
                    found[name] = TriggerInfo(name, kind, classify(kind, item.get("triggerConfig"), modes))
        except LANE_ENDING:
            raise
        except CrawlerError as exc:
            return None, _triggers_failed(key, exc)
        return tuple(found[name] for name in sorted(found)), None

    async def _crawl_configs(self, client: ListingClient, flight: InFlight) -> FunctionBatch:
        key, timeout = flight.key, flight.timeout
        configs: list[ConfigRecord] = []
        qualifiers: set[str] = set()
        held = 0  # bytes of the answers the configs held so far came from

        async def fetch(token: str | None) -> Page:
            return await client.list_async_configs(
                key.service, key.function, limit=self._page_size, next_token=token
            )

        try:
            # the whole listing, retries and waits included, is armed on the worker's watch: a server
            # that stalls or trickles costs at most function_deadline, not max_attempts x total_timeout
            # a page (the watchdog cancels it; the worker writes the error record from ``flight``)
            async for page in iterate_pages(fetch, max_pages=self._max_pages):
                flight.pages += 1
                self.stats.pages += 1
                held += page.size
                if held > self._max_function_bytes:
                    raise ListingLimitError(
                        f"the config listing is over {self._max_function_bytes} bytes after {flight.pages} "
                        "pages; raise max_function_bytes if one function really has that much"
                    )
                for item in page.items:
                    qualifier = normalise_qualifier(item.get("qualifier"))
                    if qualifier in qualifiers:
                        self._duplicates += 1
                        log.warning("crawl.duplicate_config", service=key.service, function=key.function)
                        continue
                    qualifiers.add(qualifier)
                    configs.append(ConfigRecord(key, qualifier, item))
                if len(configs) > self._max_configs:
                    raise ListingLimitError(
                        f"more than {self._max_configs} configs after {flight.pages} pages; raise "
                        "max_configs_per_function if one function really has that many"
                    )
        except NotFoundError as exc:
            if flight.pages == 0 and self.job.pairs is not None:
                # a --targets pair FC does not know: not "deleted during the crawl", never seen at all
                log.warning(
                    "crawl.target_not_found",
                    account=key.account,
                    region=key.region,
                    service=key.service,
                    function=key.function,
                    code=exc.code,
                )
                return FunctionBatch((), FunctionRecord(key, "gone", 0, 0, never_found=True, timeout=timeout))
            return FunctionBatch((), FunctionRecord(key, "gone", 0, flight.pages, timeout=timeout))
        except LANE_ENDING:
            raise
        except CrawlerError as exc:
            return _function_failed(flight, exc)
        status: FunctionStatus = "ok" if configs else "none"
        return FunctionBatch(
            tuple(configs), FunctionRecord(key, status, len(configs), flight.pages, timeout=timeout)
        )


def _function_failed(flight: InFlight, exc: CrawlerError) -> FunctionBatch:
    """The ``error`` record of a function whose config listing failed after ``flight.pages`` pages."""
    key = flight.key
    log.warning(
        "crawl.function_failed",
        service=key.service,
        function=key.function,
        code=exc.code,
        attempts=exc.attempts,
    )
    return FunctionBatch(
        (), FunctionRecord(key, "error", 0, flight.pages, exc.as_record(), timeout=flight.timeout)
    )


def _triggers_failed(key: FunctionKey, exc: CrawlerError) -> dict[str, Any]:
    """Why a function's triggers could not be listed (its configs are whole: the function stays ``ok``)."""
    log.warning(
        "crawl.triggers_failed",
        service=key.service,
        function=key.function,
        code=exc.code,
        attempts=exc.attempts,
    )
    return exc.as_record()


def _single_fatal(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The first ``FatalError`` or ``BrokenPipeError`` in a (nested) exception group, if any."""
    matched, _rest = group.split((FatalError, BrokenPipeError))
    found: BaseException | None = matched
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return found


def _first_exception(group: BaseExceptionGroup[BaseException]) -> Exception | None:
    """The first ``Exception`` (not a cancellation, not a ``KeyboardInterrupt``) in a nested group."""
    matched, _rest = group.split(Exception)
    found: BaseException | None = matched
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return found if isinstance(found, Exception) else None


def _api_of(client: ListingClient) -> str | None:
    """Which API a target's client spoke: ``fc3`` or ``fc2`` (``None``: ``auto`` never had to decide)."""
    return getattr(client, "api", "fc2")


def _timeout_of(value: object) -> int | float | None:
    """A function's ``timeout`` from its listing: a non-negative finite number of seconds, else unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        return None
    return value


def _bad_item(kind: str, field_name: str) -> ProtocolError:
    return ProtocolError(f"a {kind} in the listing has no string {field_name!r}")
