"""``crawl.pipeline``'s run as a whole, in this process against the emulator: how it stops (a signal, a
second signal, the run's deadline, an endpoint that never answers), how a failure of the output or a bug
ends it (one exception, and the end record when the output can take it), ``--triggers``, and which API
each target spoke. Each test pins literal records, counters and outcomes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import Crawl, _first_exception, _single_fatal
from crawler.crawl.runner import open_clients
from crawler.emulator import AccountSpec
from crawler.emulator.server import EmulatorThread
from crawler.errors import OutputError
from crawler.settings.trigger_modes import TRIGGER_MODES
from crawler.store.records import FunctionKey, FunctionRecord, RunRecord, Written
from crawler.store.writer import Sink, Subscribers
from crawler.wire.run_stats import RunStats
from tests.support.crawl_support import Crawled, assert_matches_truth, read_ndjson
from tests.support.fixtures import EmulatorFactory
from tests.support.hostile.pipeline import Override, fc_error, fronted
from tests.support.pipeline_support import (
    ACCOUNT,
    NOW,
    REGION,
    SHAPED_FUNCTIONS,
    Ran,
    crawl_job,
    run_crawl,
    settings,
    shaped_emulator,
    target,
)

pytestmark = pytest.mark.anyio

#: every function but a2, whose config listing stalls in the stop tests
ALL_BUT_A2 = {k: v for k, v in SHAPED_FUNCTIONS.items() if k != ("alpha", "a2")}


shaped = pytest.fixture(name="shaped")(shaped_emulator)


async def stall_a2(request: web.Request) -> web.StreamResponse | None:
    """a2's config listing answers only after 5 s (the tests stop the crawl long before)."""
    if request.match_info.get("function") == "a2" and request.path.endswith("async-invoke-configs"):
        await asyncio.sleep(5)
    return None


class Functions:
    """A subscriber: counts the function records written; ``reached`` is set at ``wanted`` of them."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.count = 0
        self.reached = anyio.Event()

    def add(self, written: Written) -> None:
        if isinstance(written.record, FunctionRecord):
            self.count += 1
            if self.count == self.wanted:
                self.reached.set()


async def signals_once(ready: anyio.Event, *signums: signal.Signals) -> AsyncIterator[signal.Signals]:
    """Once ``ready`` is set, ``signums`` one after the other; then nothing more."""
    await ready.wait()
    for signum in signums:
        yield signum
    await anyio.sleep_forever()


# -- stopping ------------------------------------------------------------------------------------------


async def signalled(
    emulator: EmulatorThread,
    override: Override,
    tmp_path: Path,
    *,
    written: int,
    grace: float,
    signums: tuple[signal.Signals, ...],
) -> tuple[Ran, float]:
    """A crawl behind ``override`` sent ``signums`` once ``written`` functions are written; what it
    wrote and how long it took."""
    seen = Functions(written)
    with fronted(emulator.endpoint, override) as endpoint:
        started = time.monotonic()
        ran = await run_crawl(
            crawl_job([target(endpoint)]),
            tmp_path,
            grace=grace,
            signals=signals_once(seen.reached, *signums),
            subscribers=[seen],
        )
        return ran, time.monotonic() - started


async def test_a_signal_stops_new_work_and_the_grace_period_ends_what_is_in_flight(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the first signal: the four quick functions are written, the stalled one is cancelled after
    the 0.2 s grace period (unwritten, so a resume crawls it); ``interrupted`` is the signal's name and
    the outcome's signal, and the run is incomplete."""
    ran, took = await signalled(shaped, stall_a2, tmp_path, written=4, grace=0.2, signums=(signal.SIGINT,))
    assert ran.functions == ALL_BUT_A2
    assert (ran.end["interrupted"], ran.end["complete"], ran.end["aborted"]) == ("SIGINT", False, None)
    assert (ran.outcome.interrupted, ran.outcome.complete) == (signal.SIGINT, False)
    assert took < 3  # the grace period, not a2's five seconds


async def test_a_second_signal_stops_at_once_whatever_the_grace_period(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the second signal: with a 30 s grace period, SIGINT then SIGTERM cancel the work at once;
    the end record keeps the first signal."""
    ran, took = await signalled(
        shaped, stall_a2, tmp_path, written=4, grace=30, signums=(signal.SIGINT, signal.SIGTERM)
    )
    assert ran.functions == ALL_BUT_A2
    assert (ran.end["interrupted"], ran.outcome.interrupted) == ("SIGINT", signal.SIGINT)
    assert took < 3


async def test_a_signal_cancels_discovery_that_is_still_listing(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the discovery scope handed to the run control: beta's function listing stalls, a signal once
    alpha's three functions are written cancels it at once (grace 30 s, nothing else in flight)."""

    async def stall_beta(request: web.Request) -> web.StreamResponse | None:
        if request.match_info.get("service") == "beta" and request.path.endswith("/functions"):
            await asyncio.sleep(5)
        return None

    ran, took = await signalled(shaped, stall_beta, tmp_path, written=3, grace=30, signums=(signal.SIGINT,))
    assert set(ran.functions) == {("alpha", "a1"), ("alpha", "a2"), ("alpha", "a3")}
    assert (ran.end["interrupted"], ran.end["complete"]) == ("SIGINT", False)
    assert took < 3


async def test_without_handle_signals_a_signal_is_left_to_the_caller(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``handle_signals`` off by default: SIGINT during ``run()`` (no arguments) reaches the caller's
    own handler, and the crawl goes on to the end."""
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    out = tmp_path / "out.ndjson"
    try:
        sink = Sink.open_file(out)

        class SigintAtFirstFunction:
            def add(self, written: Written) -> None:
                if isinstance(written.record, FunctionRecord) and not received:
                    os.kill(os.getpid(), signal.SIGINT)

        sink.subscribers.subscribe(SigintAtFirstFunction())
        await run_into(sink, crawl_job([target(shaped.endpoint)]), close=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert received == [signal.SIGINT]
    records = read_ndjson(out)
    end = records[-1]
    assert (end["interrupted"], end["complete"]) == (None, True)
    assert sum(1 for r in records if r["type"] == "function") == 5


async def test_a_full_batch_stream_makes_the_worker_wait_not_drop(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the worker's wait for room in the writer's stream: with ``concurrency`` 1 (one batch of room),
    a lane ten wide and a writer that flushes (and fsyncs) after every record, workers that finish while
    the writer writes wait their turn; all 45 functions are written."""
    for n in range(40):
        shaped.backend.add_function("alpha", f"x{n:02d}", {"functionName": f"x{n:02d}"})
    out = tmp_path / "out.ndjson"
    job = crawl_job([target(shaped.endpoint, concurrency=10)], concurrency=1)
    await run_into(Sink.open_file(out, flush_records=1), job, close=True)
    records = read_ndjson(out)
    assert sum(1 for r in records if r["type"] == "function") == 45
    end = records[-1]
    assert (end["functions"], end["complete"]) == ({"ok": 3, "none": 42, "gone": 0, "error": 0}, True)


async def test_a_signal_before_discovery_starts_means_no_request_at_all(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins discovery's check of ``stopping``: a signal that arrives as the run starts stops it before
    its first request; the end record says so."""

    async def at_once() -> AsyncIterator[signal.Signals]:
        yield signal.SIGTERM  # before any task of the crawl ran: discovery has no scope to cancel yet
        await anyio.sleep_forever()

    ran = await run_crawl(crawl_job([target(shaped.endpoint)]), tmp_path, signals=at_once())
    assert (ran.functions, ran.end["requests"], ran.end["functionsDiscovered"]) == ({}, 0, 0)
    assert (ran.end["interrupted"], ran.end["complete"]) == ("SIGTERM", False)
    assert shaped.stats()["requests"] == 0


async def test_handle_signals_watches_the_process_signals(shaped: EmulatorThread, tmp_path: Path) -> None:
    """Pins ``handle_signals``: a real SIGINT sent to this process once four functions are written is
    the crawl's stop signal (no KeyboardInterrupt)."""
    seen = Functions(4)

    async def send_sigint() -> None:
        await seen.reached.wait()
        os.kill(os.getpid(), signal.SIGINT)
        await anyio.sleep_forever()

    with fronted(shaped.endpoint, stall_a2) as endpoint:
        ran = await run_crawl(
            crawl_job([target(endpoint)]),
            tmp_path,
            grace=0.2,
            handle_signals=True,
            extra=send_sigint,
            subscribers=[seen],
        )
    assert ran.functions == ALL_BUT_A2
    assert (ran.end["interrupted"], ran.outcome.interrupted) == ("SIGINT", signal.SIGINT)


async def test_the_run_deadline_ends_the_run_incomplete(shaped: EmulatorThread, tmp_path: Path) -> None:
    """Pins ``deadline``: 0.4 s into the run it stops taking work, the stalled listing gets the grace
    period and is cancelled; ``interrupted`` is ``"deadline"`` and no signal is named."""
    with fronted(shaped.endpoint, stall_a2) as endpoint:
        started = time.monotonic()
        ran = await run_crawl(crawl_job([target(endpoint)], deadline=0.4), tmp_path, grace=0.2)
        took = time.monotonic() - started
    assert ran.functions == ALL_BUT_A2
    assert (ran.end["interrupted"], ran.end["complete"], ran.outcome.interrupted) == ("deadline", False, None)
    assert 0.4 <= took < 3


async def test_an_endpoint_that_never_answers_stops_its_target_only(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``EndpointDownError``: a target whose endpoint refuses every connection stops with one
    discovery error naming it (no service, ``EndpointUnreachable``); it is not a refusal, and the other
    target is whole."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    job = crawl_job(
        [target(dead, "7777", "cn-shanghai"), target(shaped.endpoint)],
        outage_wait=0.2,
        unreachable_after=0.2,
        max_attempts=20,
    )
    ran = await run_crawl(job, tmp_path)
    assert ran.accounts == {(ACCOUNT, REGION)}
    assert len(ran.functions) == 5
    (found,) = ran.end["discoveryErrors"]
    assert (found["account"], found["region"], found["service"], found["error"]["code"]) == (
        "7777",
        "cn-shanghai",
        None,
        "EndpointUnreachable",
    )
    assert (ran.outcome.refused, ran.outcome.all_refused, ran.end["aborted"]) == ((), False, None)
    assert ran.end["complete"] is False


# -- failures of the output, bugs ----------------------------------------------------------------------


class Raises:
    """A subscriber that raises ``error`` at the first function record (a bug, or a failing output)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.raised = False

    def add(self, written: Written) -> None:
        if isinstance(written.record, FunctionRecord) and not self.raised:
            self.raised = True
            raise self.error


async def test_a_bug_ends_the_run_with_that_one_exception_and_an_end_record_naming_it(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins an unexpected exception: ``run`` raises it alone (no exception group) and the end record's
    ``aborted`` is ``InternalError`` with the exception's type and text, whitespace folded and cut at
    500 characters."""
    text = "boom\n  twice " + "x" * 600
    with pytest.raises(RuntimeError) as caught:
        await run_crawl(
            crawl_job([target(shaped.endpoint)]), tmp_path, subscribers=[Raises(RuntimeError(text))]
        )
    assert str(caught.value) == text
    end = read_ndjson(tmp_path / "out.ndjson")[-1]
    assert (end["phase"], end["complete"]) == ("end", False)
    message = ("RuntimeError: boom twice " + "x" * 600)[:500]
    assert end["aborted"] == {
        "code": "InternalError",
        "http": None,
        "message": message,
        "requestId": None,
        "attempts": 1,
    }


async def test_a_fatal_error_ends_the_run_alone_with_its_own_record(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins a ``FatalError`` (an output that cannot be written): raised alone, and the end record's
    ``aborted`` is its own error record."""
    with pytest.raises(OutputError, match=r"^disk says no$"):
        await run_crawl(
            crawl_job([target(shaped.endpoint)]), tmp_path, subscribers=[Raises(OutputError("disk says no"))]
        )
    end = read_ndjson(tmp_path / "out.ndjson")[-1]
    assert end["aborted"] == {
        "code": "OutputError",
        "http": None,
        "message": "disk says no",
        "requestId": None,
        "attempts": 1,
    }
    assert end["complete"] is False


async def test_a_failing_auxiliary_task_ends_the_run(shaped: EmulatorThread, tmp_path: Path) -> None:
    """Pins ``extra``: it runs beside the crawl, and its failure ends the run with that exception."""

    async def broken() -> None:
        raise ValueError("the progress line broke")

    with pytest.raises(ValueError, match=r"^the progress line broke$"):
        await run_crawl(crawl_job([target(shaped.endpoint)]), tmp_path, extra=broken)
    end = read_ndjson(tmp_path / "out.ndjson")[-1]
    assert end["aborted"]["message"] == "ValueError: the progress line broke"


async def test_an_auxiliary_task_is_stopped_when_the_crawl_ends(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the end of ``extra``: a refresher that would run forever is cancelled once the end record is
    written, and ``run`` returns."""
    started = anyio.Event()

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    with anyio.fail_after(10):
        ran = await run_crawl(crawl_job([target(shaped.endpoint)]), tmp_path, extra=forever)
    assert started.is_set()
    assert (ran.end["complete"], len(ran.functions)) == (True, 5)


async def test_an_end_record_the_output_refuses_is_logged_not_raised(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``crawl.end_record_not_written``: when the output fails on the end record too, the run raises
    the first failure, not the end record's, and logs why the end record is missing."""

    class Refuses:
        def add(self, written: Written) -> None:
            if isinstance(written.record, FunctionRecord | RunRecord):
                raise OutputError(f"no room for a {type(written.record).__name__}")

    sink = Sink.open_file(tmp_path / "out.ndjson", subscribers=Subscribers(Refuses()))
    with capture_logs() as logs, pytest.raises(OutputError, match=r"^no room for a FunctionRecord$"):
        await run_into(sink, crawl_job([target(shaped.endpoint)]))
    missing = [e for e in logs if e["event"] == "crawl.end_record_not_written"]
    assert missing == [
        {"event": "crawl.end_record_not_written", "error": "no room for a RunRecord", "log_level": "warning"}
    ]


async def test_an_end_record_whose_subscriber_fails_is_not_added_twice(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``_ended``: when telling a subscriber of the end record fails, the run ends with that failure
    and the end record (buffered before the subscribers heard of it) is in the file once, not again as
    an ``aborted`` one."""

    class RefusesTheEnd:
        def add(self, written: Written) -> None:
            if isinstance(written.record, RunRecord):
                raise OutputError("the end is refused")

    sink = Sink.open_file(tmp_path / "out.ndjson", subscribers=Subscribers(RefusesTheEnd()))
    with capture_logs() as logs, pytest.raises(OutputError, match=r"^the end is refused$"):
        await run_into(sink, crawl_job([target(shaped.endpoint)]), close=True)
    ends = [r for r in read_ndjson(tmp_path / "out.ndjson") if r["type"] == "run"]
    assert [(e["phase"], e["complete"], e["aborted"]) for e in ends] == [("end", True, None)]
    assert not [e for e in logs if e["event"] == "crawl.end_record_not_written"]


async def run_into(sink: Sink, job: CrawlJob, *, close: bool = False) -> None:
    """``job`` crawled into ``sink``; ``close``: write what is buffered on the way out (else the sink is
    taken as failed: aclose must not raise the run's failure again)."""
    stats = RunStats()
    try:
        async with open_clients(job, stats) as clients:
            await Crawl(job, clients, sink, stats=stats, now=lambda: NOW).run()
    finally:
        sink.failed = sink.failed or not close
        await sink.aclose()


async def test_an_output_that_cannot_be_written_ends_the_run_with_one_output_error(
    shaped: EmulatorThread,
) -> None:
    """Pins a failing output (``/dev/full``): ``OutputError`` alone, no exception group, and no end record
    attempted on a failed output (its subscribers never hear of one)."""
    heard: list[str] = []

    class Phases:
        def add(self, written: Written) -> None:
            if isinstance(written.record, RunRecord):
                heard.append(written.record.phase)

    sink = Sink.open_file(Path("/dev/full"), subscribers=Subscribers(Phases()))
    with pytest.raises(OutputError, match="No space left on device"):
        await run_into(sink, crawl_job([target(shaped.endpoint)]))
    assert heard == []


async def test_the_end_record_after_a_failure_is_written_even_as_the_caller_cancels(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the shield around the end record after a failure: a bug that strikes as the caller's scope is
    being cancelled still ends the run with that bug and an end record flushed by the run itself."""

    class CancelsThenRaises:
        scope = anyio.CancelScope()

        def add(self, written: Written) -> None:
            if isinstance(written.record, FunctionRecord):
                self.scope.cancel()
                raise RuntimeError("a bug while cancelling")

    caught: list[BaseException] = []
    out = tmp_path / "out.ndjson"
    subscriber = CancelsThenRaises()
    sink = Sink.open_file(out, subscribers=Subscribers(subscriber))
    stats = RunStats()
    job = crawl_job([target(shaped.endpoint)])
    async with open_clients(job, stats) as clients:
        with subscriber.scope:
            try:
                await Crawl(job, clients, sink, stats=stats, now=lambda: NOW).run()
            except RuntimeError as exc:
                caught.append(exc)
            written_by_the_run = read_ndjson(out)
    await sink.aclose()
    assert [str(e) for e in caught] == ["a bug while cancelling"]
    assert written_by_the_run[-1]["aborted"]["message"] == "RuntimeError: a bug while cancelling"


def test_the_fatal_error_of_a_nested_group_is_the_one_reported() -> None:
    """Pins ``_single_fatal`` and ``_first_exception``: the first ``FatalError`` or ``BrokenPipeError``
    anywhere in a nested group wins over an earlier bug; without one, the first ``Exception``; with only
    cancellations and interrupts, none."""
    disk = OutputError("disk")
    bug = RuntimeError("bug")
    nested = BaseExceptionGroup("outer", [bug, BaseExceptionGroup("inner", [disk])])
    assert _single_fatal(nested) is disk
    pipe = BrokenPipeError()
    assert _single_fatal(BaseExceptionGroup("outer", [bug, BaseExceptionGroup("inner", [pipe])])) is pipe
    assert _single_fatal(BaseExceptionGroup("outer", [bug])) is None
    assert (
        _first_exception(BaseExceptionGroup("outer", [KeyboardInterrupt(), BaseExceptionGroup("i", [bug])]))
        is bug
    )
    assert _first_exception(BaseExceptionGroup("outer", [KeyboardInterrupt()])) is None


async def test_a_closed_pipe_ends_the_run_with_one_broken_pipe(shaped: EmulatorThread) -> None:
    """Pins ``BrokenPipeError`` (``fcaudit crawl | head``): raised alone, not in a group."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = os.fdopen(write_end, "wb", buffering=0)
    sink = Sink(stream, fsync=False, name="<pipe>", close_stream=True, subscribers=Subscribers())
    with pytest.raises(BrokenPipeError):
        await run_into(sink, crawl_job([target(shaped.endpoint)]))


# -- --triggers ----------------------------------------------------------------------------------------


def with_triggers(emulator: EmulatorThread) -> None:
    backend = emulator.backend
    backend.add_trigger("alpha", "a1", {"triggerName": "web", "triggerType": "http", "triggerConfig": {}})
    backend.add_trigger("alpha", "a1", {"triggerName": "bucket", "triggerType": "oss", "triggerConfig": {}})
    backend.add_trigger(
        "beta", "b1", {"triggerName": "rows", "triggerType": "tablestore", "triggerConfig": {}}
    )
    backend.add_trigger("beta", "b2", {"triggerName": "odd", "triggerType": "brand-new", "triggerConfig": {}})
    bus = {"triggerName": "bus", "triggerType": "eventbridge", "triggerConfig": {"asyncInvocationType": True}}
    backend.add_trigger("alpha", "a2", bus)


async def test_triggers_are_listed_sorted_and_classified_for_live_functions_only(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``--triggers``: each ``ok``/``none`` function's triggers sorted by name with their mode, and
    its exposure, as the emulator's own table says; an ``error`` function's triggers are not listed; a
    denied trigger listing is ``triggersError`` on a function that stays ``ok`` (``triggerErrors`` 1)."""
    with_triggers(shaped)
    shaped.backend.deny("alpha", "a3")
    shaped.backend.deny_triggers("beta", "b1")
    ghost = FunctionKey(ACCOUNT, REGION, "beta", "ghost")  # a resumed error, deleted since: gone
    job = CrawlJob((target(shaped.endpoint),), settings(triggers=True), retry=frozenset({ghost}))
    ran = await run_crawl(job, tmp_path)
    truth = {
        (r["service"], r["function"]): r
        for r in shaped.backend.truth_records(triggers=True)
        if r["type"] == "function"
    }
    for key in (("alpha", "a1"), ("alpha", "a2"), ("beta", "b2")):
        record = ran.function(*key)
        assert (record["triggers"], record["exposure"]) == (truth[key]["triggers"], truth[key]["exposure"])
    assert ran.function("alpha", "a1")["triggers"] == [
        {"name": "bucket", "type": "oss", "mode": "async"},
        {"name": "web", "type": "http", "mode": "sync"},
    ]
    assert ran.function("alpha", "a1")["exposure"] == "async"
    a2 = ran.function("alpha", "a2")
    assert (a2["triggers"], a2["exposure"]) == (
        [{"name": "bus", "type": "eventbridge", "mode": "async"}],
        "async",
    )
    ghost_record = ran.function("beta", "ghost")
    assert (ghost_record["status"], "triggers" in ghost_record, ghost_record["exposure"]) == (
        "gone",
        False,
        "unknown",
    )
    assert ran.function("beta", "b2")["exposure"] == "unknown"
    a3 = ran.function("alpha", "a3")
    assert (a3["status"], "triggers" in a3, "triggersError" in a3) == ("error", False, False)
    b1 = ran.function("beta", "b1")
    assert (b1["status"], b1["configs"], "triggers" in b1) == ("ok", 1, False)
    assert (b1["triggersError"]["code"], b1["triggersError"]["http"]) == ("AccessDenied", 403)
    assert (ran.end["triggerRequests"], ran.end["triggerErrors"]) == (4, 1)


async def test_the_jobs_trigger_modes_classify_the_triggers(shaped: EmulatorThread, tmp_path: Path) -> None:
    """Pins ``job.trigger_modes``: with ``http`` made async (and EventBridge fixed sync) the records
    follow the job's table, as the emulator's ground truth with the same overrides."""
    with_triggers(shaped)
    modes = {**TRIGGER_MODES, "http": "async", "eventbridge": "sync"}
    job = CrawlJob((target(shaped.endpoint),), settings(triggers=True), trigger_modes=modes)
    ran = await run_crawl(job, tmp_path)
    truth = shaped.backend.truth_records(
        triggers=True, trigger_modes={"http": "async", "eventbridge": "sync"}
    )
    expected = {
        (r["service"], r["function"]): (r["triggers"], r["exposure"])
        for r in truth
        if r["type"] == "function"
    }
    got = {
        (r["service"], r["function"]): (r["triggers"], r["exposure"])
        for r in ran.records
        if r["type"] == "function"
    }
    assert got == expected
    assert got[("alpha", "a1")][0][1] == {"name": "web", "type": "http", "mode": "async"}
    assert got[("alpha", "a2")] == ([{"name": "bus", "type": "eventbridge", "mode": "sync"}], "sync")


async def test_a_trigger_listing_that_misbehaves_fails_only_the_triggers(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins the trigger listing's own failures: a trigger on two pages is kept once; a trigger without a
    string name and type is a ``ProtocolError`` with literal text; a stalled trigger listing is
    ``FunctionDeadline`` with literal text. Each function keeps its configs and status."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        if not request.path.endswith("/triggers"):
            return None
        function = request.match_info["function"]
        token = request.query.get("nextToken")
        if function == "a1":  # two pages, "web" on both
            items = [{"triggerName": "web", "triggerType": "http"}]
            if token:
                items.append({"triggerName": "bucket", "triggerType": "oss"})
            body = {"triggers": items, "nextToken": "" if token else "page-2"}
            return web.json_response(body)
        if function == "a2":
            return web.json_response({"triggers": [{"triggerName": "t", "triggerType": 5}]})
        if function == "a3":
            await asyncio.sleep(5)
        if function == "b1":
            return web.json_response({"triggers": [{"triggerType": "http"}]})
        if function == "b2":
            return web.json_response({"triggers": [{"triggerName": "", "triggerType": "http"}]})
        return None

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint)], triggers=True, function_deadline=0.3), tmp_path)
    assert [t["name"] for t in ran.function("alpha", "a1")["triggers"]] == ["bucket", "web"]
    bad = "a trigger in the listing has no string triggerName and triggerType"
    for name in ("a2", "b1", "b2"):
        service = "alpha" if name == "a2" else "beta"
        record = ran.function(service, name)
        assert record["triggersError"] == {
            "code": "ProtocolError",
            "http": None,
            "message": bad,
            "requestId": None,
            "attempts": 1,
        }
        assert record["status"] in ("ok", "none")
    a3 = ran.function("alpha", "a3")
    assert (a3["status"], a3["configs"], a3["triggersError"]["code"]) == ("ok", 5, "FunctionDeadline")
    assert a3["triggersError"]["message"] == (
        "the function's trigger listing took longer than function_deadline (0.3 s); gave up on it"
    )
    assert ran.end["triggerErrors"] == 4
    assert ran.logged("crawl.duplicate_trigger") == [
        {"service": "alpha", "function": "a1", "log_level": "warning"}
    ]
    failed = sorted(
        (e["function"], e["code"], e["attempts"], e["service"], e["log_level"])
        for e in ran.logged("crawl.triggers_failed")
    )
    assert failed == [
        ("a2", "ProtocolError", 1, "alpha", "warning"),
        ("a3", "FunctionDeadline", 1, "alpha", "warning"),
        ("b1", "ProtocolError", 1, "beta", "warning"),
        ("b2", "ProtocolError", 1, "beta", "warning"),
    ]


async def test_credentials_refused_on_a_trigger_listing_stop_the_lane(
    shaped: EmulatorThread, tmp_path: Path
) -> None:
    """Pins ``AuthError`` in a trigger listing: it is not the function's ``triggersError`` but stops the
    target (refused), and the function is not written."""

    async def override(request: web.Request) -> web.StreamResponse | None:
        if request.path.endswith("/triggers"):
            return fc_error(403, "SignatureNotMatch", "the signature does not match")
        return None

    with fronted(shaped.endpoint, override) as endpoint:
        ran = await run_crawl(crawl_job([target(endpoint, concurrency=1)], triggers=True), tmp_path)
    assert ran.functions == {}
    assert [r.error.code for r in ran.outcome.refused] == ["SignatureNotMatch"]
    assert ran.outcome.all_refused is True


# -- which API ------------------------------------------------------------------------------------------

SMALL = AccountSpec(seed=5, services=2, functions=6, big_functions=0)


def emulator_job(emulator: EmulatorThread, api: str, secret: str | None = None) -> CrawlJob:
    """A job for one generated emulator account, with its keys (``secret``: a wrong one)."""
    t = target(
        emulator.endpoint,
        emulator.account_id,
        emulator.region,
        key_id=emulator.access_key_id,
        secret=secret or emulator.access_key_secret,
    )
    return CrawlJob((t,), settings(), api=api)


@pytest.mark.parametrize(("api", "serves_fc3", "spoken"), [("fc3", True, "fc3"), ("auto", False, "fc2")])
async def test_the_end_record_names_the_api_each_target_spoke(
    emulator_factory: EmulatorFactory, tmp_path: Path, api: str, serves_fc3: bool, spoken: str
) -> None:
    """Pins ``apis``: ``fc3`` for an FC 3.0 crawl, ``fc2`` when ``auto`` fell back; the records are the
    emulator's ground truth either way."""
    emulator = emulator_factory(SMALL, fc3=serves_fc3)
    ran = await run_crawl(emulator_job(emulator, api), tmp_path)
    assert ran.end["apis"] == {f"{emulator.account_id}/{emulator.region}": spoken}
    if spoken == "fc2":
        assert_matches_truth(Crawled.of(ran.records), emulator.backend.truth_records())
    else:  # FC 3.0 spells configs its own way (tests/wire/test_fc3.py pins the mapping)

        def statuses(records: Any) -> dict[Any, tuple[str, int]]:
            return {k: (r["status"], r["configs"]) for k, r in Crawled.of(records).functions.items()}

        assert statuses(ran.records) == statuses(emulator.backend.truth_records())
    assert ran.end["complete"] is True


async def test_auto_that_never_decided_names_no_api(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    """Pins ``_api_of``'s ``None``: ``auto`` refused before it could decide names no API for the target."""
    emulator = emulator_factory(SMALL)
    job = emulator_job(emulator, "auto", secret="wrong")
    ran = await run_crawl(job, tmp_path)
    assert ran.end["apis"] == {f"{emulator.account_id}/{emulator.region}": None}
    assert ran.outcome.all_refused is True
