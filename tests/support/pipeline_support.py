"""Run ``crawl.pipeline`` in the test's own process against real servers, and read back what it wrote.

``crawl_job`` builds a job for emulator threads (or hostile servers in front of them); ``run_crawl``
opens the real clients (``crawl.runner.open_clients``: aiohttp over 127.0.0.1), runs ``Crawl`` with a
fixed clock and returns the outcome with the records it wrote (``Ran``). Settings default to quick
retries so a failure costs milliseconds. ``shaped_backend`` is a small hand-made account whose every
value a test can name.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import AuxTask, Crawl, CrawlOutcome
from crawler.crawl.runner import open_clients
from crawler.emulator.backend import Backend
from crawler.emulator.server import EmulatorThread
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import StaticKeys
from crawler.store.records import RecordSubscriber
from crawler.store.writer import Sink, Subscribers
from crawler.wire.run_stats import RunStats
from tests.support.crawl_support import read_ndjson

ACCOUNT = "1234567890123456"
REGION = "cn-hangzhou"
KEY_ID = "LTAIpipelinePins0000"
SECRET = "pipeline-pins-secret"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
FINISHED = "2026-03-04T05:06:07+00:00"

#: quick retries: a failing listing costs milliseconds
QUICK: dict[str, Any] = {"max_attempts": 2, "backoff_base": 0.001, "backoff_cap": 0.005}


def settings(**overrides: Any) -> CrawlSettings:
    return CrawlSettings(**{**QUICK, **overrides})


def target(
    endpoint: str,
    account: str = ACCOUNT,
    region: str = REGION,
    *,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    concurrency: int | None = None,
) -> Target:
    creds = Credentials(key_id, secret)
    return Target(account, region, endpoint, StaticKeys(creds), concurrency=concurrency)


def shaped_backend(account: str = ACCOUNT, region: str = REGION) -> Backend:
    """``alpha``: ``a1`` (LATEST, prod, v1; timeout 60), ``a2`` (no config; timeout 3.5), ``a3`` (five
    configs q1..q5; timeout 0); ``beta``: ``b1`` (LATEST; timeout 900), ``b2`` (no config; no timeout)."""
    backend = Backend(account_id=account, region=region, access_key_id=KEY_ID, access_key_secret=SECRET)
    when = "2026-01-01T00:00:00Z"
    backend.add_service("alpha")
    backend.add_service("beta")
    functions: dict[tuple[str, str], tuple[Any, tuple[str, ...]]] = {
        ("alpha", "a1"): (60, ("LATEST", "prod", "v1")),
        ("alpha", "a2"): (3.5, ()),
        ("alpha", "a3"): (0, ("q1", "q2", "q3", "q4", "q5")),
        ("beta", "b1"): (900, ("LATEST",)),
        ("beta", "b2"): (None, ()),
    }
    for (service, name), (timeout, qualifiers) in functions.items():
        info: dict[str, Any] = {"functionName": name}
        if timeout is not None:
            info["timeout"] = timeout
        backend.add_function(service, name, info)
        for n, qualifier in enumerate(qualifiers):
            backend.put_config(service, name, qualifier, {"maxAsyncRetryAttempts": n}, when)
    return backend


#: what a whole crawl of ``shaped_backend`` writes: (service, function) -> (status, configs, pages,
#: timeout, error code or None)
SHAPED_FUNCTIONS: dict[tuple[str, str], tuple[Any, ...]] = {
    ("alpha", "a1"): ("ok", 3, 1, 60, None),
    ("alpha", "a2"): ("none", 0, 1, 3.5, None),
    ("alpha", "a3"): ("ok", 5, 1, 0, None),
    ("beta", "b1"): ("ok", 1, 1, 900, None),
    ("beta", "b2"): ("none", 0, 1, None, None),
}


def shaped_emulator() -> Iterator[EmulatorThread]:
    """``shaped_backend`` served on 127.0.0.1 (a test module makes it its ``shaped`` fixture)."""
    with EmulatorThread(shaped_backend()) as emulator:
        yield emulator


@dataclass
class Ran:
    """What one crawl returned and wrote."""

    outcome: CrawlOutcome
    records: list[dict[str, Any]]
    stats: RunStats
    #: the ``crawl.*`` events logged while it ran (the pipeline's own; the clients' are left out)
    logs: list[dict[str, Any]] = field(default_factory=list)

    def logged(self, event: str) -> list[dict[str, Any]]:
        """Each ``event`` logged, as its key-value data and level (without the event name)."""
        return [{k: v for k, v in e.items() if k != "event"} for e in self.logs if e["event"] == event]

    @property
    def end(self) -> dict[str, Any]:
        last = self.records[-1]
        assert (last["type"], last["phase"]) == ("run", "end")
        return last

    @property
    def functions(self) -> dict[tuple[str, str], tuple[Any, ...]]:
        """(service, function) -> (status, configs, pages, timeout, error code or None), each written once."""
        found: dict[tuple[str, str], tuple[Any, ...]] = {}
        for r in self.records:
            if r["type"] == "function":
                key = (r["service"], r["function"])
                assert key not in found, f"{key} written twice"
                code = r["error"]["code"] if r["error"] else None
                found[key] = (r["status"], r["configs"], r["pages"], r["timeout"], code)
        return found

    def function(self, service: str, function: str) -> dict[str, Any]:
        (record,) = [
            r
            for r in self.records
            if r["type"] == "function" and (r["service"], r["function"]) == (service, function)
        ]
        return record

    @property
    def configs(self) -> set[tuple[str, str, str]]:
        return {(r["service"], r["function"], r["qualifier"]) for r in self.records if r["type"] == "config"}

    @property
    def accounts(self) -> set[tuple[str, str]]:
        return {(r["account"], r["region"]) for r in self.records if r["type"] == "function"}


async def run_crawl(
    job: CrawlJob,
    tmp_path: Path,
    *,
    grace: float = 5.0,
    handle_signals: bool = False,
    signals: AsyncIterator[signal.Signals] | None = None,
    extra: AuxTask | None = None,
    subscribers: Iterable[RecordSubscriber] = (),
) -> Ran:
    """``job`` crawled by ``Crawl`` over the real clients into a fresh file; the sink is closed after."""
    stats = RunStats()
    out = tmp_path / "out.ndjson"
    sink = Sink.open_file(out, subscribers=Subscribers(*subscribers))
    try:
        with capture_logs() as logs:
            async with open_clients(job, stats) as clients:
                crawl = Crawl(job, clients, sink, stats=stats, grace=grace, now=lambda: NOW)
                outcome = await crawl.run(handle_signals=handle_signals, signals=signals, extra=extra)
    finally:
        await sink.aclose()
    own = [dict(e) for e in logs if str(e.get("event", "")).startswith("crawl.")]
    return Ran(outcome, read_ndjson(out), stats, own)


def crawl_job(targets: Iterable[Target], **settings_overrides: Any) -> CrawlJob:
    return CrawlJob(tuple(targets), settings(**settings_overrides))
