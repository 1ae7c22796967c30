"""Wire the real transport to the crawl pipeline: one session; per endpoint a limiter, a retry quota and
an outage gate; per target one ``Transport`` (typed ``ClientOptions``) under its FC 2.0/3.0 client.

``execute`` is what ``fcaudit crawl`` and ``fcaudit demo`` both run: open the clients for the job's
targets, write the start ``run`` record (unless the file is being resumed: it has one), run the
pipeline with the progress line on a terminal, and close the sink whatever happens. Keeping this apart
from ``pipeline`` keeps the pipeline free of aiohttp and easy to read.
"""

from __future__ import annotations

import random
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio

from crawler import __version__
from crawler.crawl.job import CrawlJob, start_record
from crawler.crawl.pipeline import DEFAULT_GRACE_SECONDS, ClientMap, Crawl, CrawlOutcome
from crawler.crawl.progress import ProgressLine
from crawler.identity.cache import IdentityCache
from crawler.identity.whoami import resolve_targets
from crawler.log import get_logger
from crawler.settings.config import CrawlSettings
from crawler.store.writer import Sink
from crawler.wire.fc2_client import FcClient
from crawler.wire.fc3_client import Fc3Client
from crawler.wire.fc3_listing import AutoListing, Fc3Listing
from crawler.wire.metadata_client import MetadataClient
from crawler.wire.models import ClientOptions, ListingClient
from crawler.wire.outage import EndpointGate
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.run_stats import RunStats
from crawler.wire.shared_quota import SharedQuota
from crawler.wire.sts_client import STS_CONCURRENCY, StsClient
from crawler.wire.transport import Session, Transport, open_session

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class OpenRun:
    """What ``open_run`` yields: the job with its targets' accounts known (who-am-I filled the unknown
    ones) and one listing client per (account, region)."""

    job: CrawlJob
    clients: ClientMap


@asynccontextmanager
async def open_clients(
    job: CrawlJob,
    stats: RunStats,
    *,
    rand: Callable[[], float] = random.random,
    gates: dict[str, EndpointGate] | None = None,
) -> AsyncIterator[ClientMap]:
    """``open_run``'s clients alone (for callers that need not see the resolved job)."""
    async with open_run(job, stats, rand=rand, gates=gates) as opened:
        yield opened.clients


@asynccontextmanager
async def open_run(
    job: CrawlJob,
    stats: RunStats,
    *,
    rand: Callable[[], float] = random.random,
    gates: dict[str, EndpointGate] | None = None,
) -> AsyncIterator[OpenRun]:
    """One client per (account, region): one aiohttp session for the run; per endpoint (shared by the
    targets that reach the same host) one rate limiter and one retry policy, with its own retry quota
    and outage gate, so an endpoint that fails spends only its own retries and waits only for itself.

    Credentials come from the run's ``IdentityCache`` (``crawler.identity``): one provider per
    credential source, shared by every target that names it (every region of an account assumes its
    role once), with the STS and metadata clients on the same session, STS paced by its own limiter
    (``sts_rate``). Before any client is built, who-am-I (``resolve_targets``) fills the accounts left
    unknown and gives a target whose credentials cannot be had, or belong to another account, a provider
    that refuses: its lane stops on its first call, the others crawl.

    ``job.api`` picks the client: ``fc2`` an ``FcClient``; ``fc3`` an ``Fc3Listing`` (FC 3.0's
    region-wide listings behind the same three calls); ``auto`` an ``AutoListing`` that tries FC 3.0
    and falls back to FC 2.0, per target. Both APIs of a target share its one ``Transport``. ``gates``,
    when given, is filled with each endpoint's outage gate (what ``execute`` asks which never answered)."""
    settings = job.settings
    endpoints = {t.endpoint: t.limits(settings)[1] for t in job.targets}
    connections = sum(endpoints.values()) + STS_CONCURRENCY
    clients: dict[tuple[str, str], ListingClient] = {}
    async with open_session(settings, connection_limit=connections) as session:
        cache = identity_cache(session, settings, stats, rand)
        resolved = await resolve_targets(job.targets, cache, insecure_http=settings.insecure_http)
        job = replace(job, targets=tuple(r.target for r in resolved))
        limiters: dict[str, RateLimiter] = {}
        retries: dict[str, RetryPolicy] = {}
        accounts: dict[str, SharedQuota] = {}  # an account's endpoints may draw on one quota
        for target in job.targets:
            if target.endpoint not in limiters:
                rate, concurrency = target.limits(settings)
                limiters[target.endpoint] = RateLimiter(
                    rate,
                    concurrency,
                    name=target.endpoint,
                    account=accounts.setdefault(target.account, SharedQuota()),
                )
                retries[target.endpoint] = policy = retry_policy(settings, target.endpoint, rand)
                if gates is not None and policy.gate is not None:
                    gates[target.endpoint] = policy.gate
        for target, provider in ((r.target, r.provider) for r in resolved):
            options = ClientOptions(
                endpoint=target.endpoint,
                account=target.account,
                region=target.region,
                credentials=provider,
                limiter=limiters[target.endpoint],
                retry=retries[target.endpoint],
                stats=stats,
                settings=settings,
            )
            transport = Transport(session, options)
            client: ListingClient
            if job.api == "fc2":
                client = FcClient(transport)
            else:
                fc3 = Fc3Listing(
                    Fc3Client(transport),
                    page_size=int(settings.page_size),
                    max_pages=int(settings.max_pages),
                    keep=_wanted(job, target.account, target.region),
                    max_configs=int(settings.max_configs_per_function),
                )
                client = fc3 if job.api == "fc3" else AutoListing(fc3, FcClient(transport))
            clients[(target.account, target.region)] = client
        yield OpenRun(job, clients)


def identity_cache(
    session: Session, settings: CrawlSettings, stats: RunStats, rand: Callable[[], float]
) -> IdentityCache:
    """The run's identities: STS paced at ``sts_rate`` and retried like FC calls (its own retry quota,
    no outage gate), the metadata clients, the ``sts`` counts of the end record."""
    policy = RetryPolicy(
        max_attempts=settings.max_attempts,
        base=settings.backoff_base,
        cap=settings.backoff_cap,
        budget=RetryBudget(settings.retry_budget),
        rand=rand,
        sleep=anyio.sleep,
    )
    sts = StsClient(
        session,
        limiter=RateLimiter(settings.sts_rate, STS_CONCURRENCY, name="sts"),
        retry=policy,
        counts=stats.sts,
        insecure_http=settings.insecure_http,
    )
    return IdentityCache(sts, MetadataClient(session, retry=policy, counts=stats.sts), counts=stats.sts)


def retry_policy(settings: CrawlSettings, endpoint: str, rand: Callable[[], float]) -> RetryPolicy:
    """One endpoint's retry policy: its own retry quota and its own outage gate."""
    gate = EndpointGate(
        endpoint,
        max_wait=settings.outage_wait,
        unreachable_after=settings.unreachable_after,
        base=settings.backoff_base,
        cap=settings.backoff_cap,
        rand=rand,
    )
    return RetryPolicy(
        max_attempts=settings.max_attempts,
        base=settings.backoff_base,
        cap=settings.backoff_cap,
        budget=RetryBudget(settings.retry_budget),
        rand=rand,
        sleep=anyio.sleep,
        gate=gate,
    )


def _wanted(job: CrawlJob, account: str, region: str) -> Callable[[str, str], bool]:
    """The (service, function) pairs of one target the crawl will ask for: its filters and its shard."""
    return lambda service, function: (
        job.owns(account, region, service) and job.selection.wants_function(service, function)
    )


async def execute(
    job: CrawlJob,
    sink: Sink,
    *,
    stats: RunStats,
    resumed: bool = False,
    handle_signals: bool = False,
    progress: ProgressLine | None = None,
    grace: float = DEFAULT_GRACE_SECONDS,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    signals: AsyncIterator[signal.Signals] | None = None,
) -> CrawlOutcome:
    """Crawl ``job`` into ``sink`` (closed on return) and return the outcome. ``signals``: a signal
    receiver the caller holds (see ``Crawl.run``)."""
    try:
        gates: dict[str, EndpointGate] = {}
        given = job
        async with open_run(job, stats, gates=gates) as opened:
            job, clients = opened.job, opened.clients  # accounts now known (who-am-I)
            if not resumed:
                start = start_record(job, __version__, now(), given=given)
                sink.add_run(start)  # the sink tells its subscribers (the live summary, the stats)
                await sink.flush()
            log.info(
                "crawl.started",
                targets=len(job.targets),
                pairs=len(job.pairs) if job.pairs is not None else None,
                resumed_functions=len(job.skip),
                concurrency=job.settings.concurrency,
                rate=job.settings.rate,
                output=sink.name,
            )
            crawl = Crawl(job, clients, sink, stats=stats, grace=grace, now=now)
            refresher = progress.refresh_forever if progress is not None else None
            outcome = await crawl.run(handle_signals=handle_signals, extra=refresher, signals=signals)
        unreachable = tuple(text for gate in gates.values() if (text := gate.unreachable()) is not None)
        outcome = replace(outcome, unreachable=unreachable)
        end = outcome.end.data
        log.info(
            "crawl.finished",
            complete=outcome.complete,
            functions=end.get("functions"),
            configs=end.get("configs"),
            requests=end.get("requests"),
            throttled=end.get("throttled"),
            retries=end.get("retries"),
            elapsed_seconds=end.get("elapsedSeconds"),
        )
        return outcome
    finally:
        with anyio.CancelScope(shield=True):
            await sink.aclose()
