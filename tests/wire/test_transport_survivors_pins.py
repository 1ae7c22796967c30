"""Pins on the transport for the survivors of the mutation run at 0a1fd0a (issue 18): the session's
User-Agent, plain http allowed by ``insecure_http``, the debug line skipped when debug is off and its
exact fields when on, the ``retry.scheduled`` line's level and fields, the per-route and failure counts,
redirects not followed, a request id trimmed to 128 characters, the wording of aiohttp's failures, a 404
with no "gone" codes, and the limiter told when each answered request was sent (its round trip; a
throttle to a request sent before a cut not counted against the new pace). Each test talks to a
loopback server; none mocks aiohttp."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import structlog
from aiohttp import web
from structlog.testing import capture_logs
from yarl import URL

from crawler import __version__
from crawler import log as crawler_log
from crawler.errors import (
    ConnectionLostError,
    CrawlerError,
    ProtocolError,
    ThrottledError,
    TransportError,
    UnexpectedNotFoundError,
)
from crawler.settings.config import CrawlSettings
from crawler.wire.credential_provider import StaticProvider
from crawler.wire.models import ClientOptions, Page
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.run_stats import RunStats
from crawler.wire.transport import ListCall, Transport, open_session
from tests.support.fake_fc import CREDS, FakeServer, garbage, hang_up, json, raw, serving, truncated

pytestmark = pytest.mark.anyio

CALL = ListCall("ListThings", "things")
PAGE = {"things": [{"name": "a"}]}


class Steps:
    """A clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float, start: float = 100.0) -> None:
        self.now, self.step, self.reads = start, step, 0

    def __call__(self) -> float:
        self.reads += 1
        value = self.now
        self.now += self.step
        return value


class Rig:
    def __init__(self, transport: Transport, stats: RunStats, limiter: RateLimiter, slept: list[float]):
        self.transport, self.stats, self.limiter, self.slept = transport, stats, limiter, slept

    async def get(self, call: ListCall = CALL, path: str = "/things", **subject: str) -> Page:
        url = URL(self.transport.endpoint + path)
        return await self.transport.get(call, url, lambda creds: {}, **subject)


@contextlib.asynccontextmanager
async def rig(
    endpoint: str,
    *,
    attempts: int = 1,
    monotonic: Callable[[], float] = lambda: 0.0,
    limiter_clock: Callable[[], float] | None = None,
    limiter_concurrency: int = 4,
    **settings: Any,
) -> AsyncIterator[Rig]:
    crawl = CrawlSettings(**settings)
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    retry = RetryPolicy(attempts, 0.0123456, 0.5, RetryBudget(100), random.Random(3).random, sleep)
    limiter = RateLimiter(1000.0, limiter_concurrency, limiter_clock or time.monotonic)
    stats = RunStats()
    async with open_session(crawl) as session:
        options = ClientOptions(
            endpoint=endpoint,
            account="1234567890123456",
            region="cn-hangzhou",
            credentials=StaticProvider(CREDS),
            limiter=limiter,
            retry=retry,
            stats=stats,
            settings=crawl,
            monotonic=monotonic,
        )
        yield Rig(Transport(session, options), stats, limiter, slept)


@pytest.fixture
async def server(anyio_backend: str) -> AsyncIterator[FakeServer]:
    async with serving() as fake:
        yield fake


@contextlib.contextmanager
def structlog_config(**config: Any) -> Iterator[None]:
    saved = structlog.get_config()
    structlog.configure(**config)
    try:
        yield
    finally:
        structlog.configure(**saved)


class NoLevelLogger(structlog.BoundLoggerBase):
    """A bound logger that logs at each level but cannot say which levels are on."""

    def debug(self, event: str, **kw: Any) -> Any:
        return self._proxy_to_logger("debug", event, **kw)

    def info(self, event: str, **kw: Any) -> Any:
        return self._proxy_to_logger("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> Any:
        return self._proxy_to_logger("warning", event, **kw)


# -- the session -------------------------------------------------------------------------------------


async def test_every_request_names_fcaudit_and_its_version_as_user_agent(server: FakeServer) -> None:
    server.answer(json(PAGE))
    async with rig(server.endpoint) as r:
        await r.get()
    assert server.seen[0].headers["User-Agent"] == f"fcaudit/{__version__}"


async def test_plain_http_to_a_remote_host_is_allowed_when_insecure_http_is_set(anyio_backend: str) -> None:
    """``insecure_http`` reaches the endpoint check: the transport is built (nothing is sent)."""
    async with rig("http://fc.example.invalid", insecure_http=True) as r:
        assert r.transport.endpoint == "http://fc.example.invalid"


# -- the debug line ----------------------------------------------------------------------------------


async def test_with_debug_off_a_request_reads_the_clock_once_and_logs_nothing(server: FakeServer) -> None:
    """Debug filtered out: the request line is skipped outright (its timing is never taken)."""
    server.answer(json(PAGE))
    clock = Steps(0.01)
    with structlog_config():
        crawler_log.configure(level=logging.INFO, fmt="json", stream=io.StringIO())
        async with rig(server.endpoint, monotonic=clock) as r:
            await r.get()
    assert clock.reads == 1


async def test_a_logger_that_cannot_say_its_level_gets_the_debug_line(server: FakeServer) -> None:
    """A wrapper without ``is_enabled_for``: nothing says debug is off, so the line is logged."""
    server.answer(json(PAGE))
    with structlog_config(wrapper_class=NoLevelLogger), capture_logs() as logs:
        async with rig(server.endpoint, monotonic=Steps(0.01)) as r:
            await r.get()
    assert [e["event"] for e in logs if e["event"] == "client.request"] == ["client.request"]


async def test_the_debug_line_names_route_subject_status_request_id_and_elapsed_ms(
    server: FakeServer,
) -> None:
    server.answer(json(PAGE))
    with capture_logs() as logs:
        async with rig(server.endpoint, monotonic=Steps(0.01234)) as r:
            await r.get(service="svc-1", function="fn-1")
    lines = [e for e in logs if e["event"] == "client.request"]
    assert lines == [
        {
            "event": "client.request",
            "log_level": "debug",
            "route": "ListThings",
            "service": "svc-1",
            "function": "fn-1",
            "status": 200,
            "request_id": "req-42",
            "elapsed_ms": 12.3,
        }
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_request_that_got_no_answer_has_no_status_and_no_request_id(anyio_backend: str) -> None:
    with capture_logs() as logs:
        async with rig(f"http://127.0.0.1:{_free_port()}") as r:
            with pytest.raises(ConnectionLostError) as caught:
                await r.get()
    assert caught.value.request_id is None
    line = next(e for e in logs if e["event"] == "client.request")
    assert (line["status"], line["request_id"]) == (None, None)


# -- retries, counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "level", "code"),
    [
        (json({"ErrorCode": "InternalError"}, 500), "warning", "InternalError"),
        (raw(b"", 429), "info", "HTTP429"),
    ],
)
async def test_a_retry_is_logged_with_its_level_and_every_field(
    server: FakeServer, first: Any, level: str, code: str
) -> None:
    """A throttle about our rate is info, any other failure a warning; the line names the subject."""
    server.answer(first, json(PAGE))
    with capture_logs() as logs:
        async with rig(server.endpoint, attempts=2) as r:
            await r.get(service="svc-1", function="fn-1")
    (delay,) = r.slept
    assert round(delay, 3) not in (round(delay, 4), round(delay), 3)  # the rounding is seen
    lines = [e for e in logs if e["event"] == "retry.scheduled"]
    assert len(lines) == 1
    cause = lines[0].pop("cause")
    assert cause.startswith(f"ListThings: HTTP {500 if level == 'warning' else 429} {code}")
    assert lines[0] == {
        "event": "retry.scheduled",
        "log_level": level,
        "endpoint": server.endpoint,
        "route": "ListThings",
        "service": "svc-1",
        "function": "fn-1",
        "attempt": 1,
        "code": code,
        "next_delay": round(delay, 3),
    }


async def test_requests_are_counted_per_route(server: FakeServer) -> None:
    server.answer(json(PAGE))
    async with rig(server.endpoint) as r:
        await r.get()
        await r.get()
    assert r.stats.requests_by_route["ListThings"] == 2


async def test_each_failed_attempt_is_counted_once(server: FakeServer) -> None:
    server.answer(json({"ErrorCode": "InternalError"}, 500))
    async with rig(server.endpoint, attempts=2) as r:
        with pytest.raises(CrawlerError):
            await r.get()
    assert r.stats.failed_requests == 2


# -- answers -----------------------------------------------------------------------------------------


async def redirect(request: web.BaseRequest) -> web.StreamResponse:
    if request.path == "/moved":
        return web.Response(body=b'{"things": []}', content_type="application/json")
    return web.Response(status=302, headers={"Location": "/moved"})


async def test_a_redirect_is_not_followed(server: FakeServer) -> None:
    server.answer(redirect)
    async with rig(server.endpoint) as r:
        with pytest.raises(ProtocolError) as caught:
            await r.get()
    assert caught.value.http == 302
    assert [s.raw_path for s in server.seen] == ["/things"]


async def long_id(request: web.BaseRequest) -> web.StreamResponse:
    return web.Response(body=b'{"things": []}', headers={"X-Fc-Request-Id": "r" * 200})


async def test_a_long_request_id_is_trimmed_to_128_characters(server: FakeServer) -> None:
    server.answer(long_id)
    async with rig(server.endpoint) as r:
        page = await r.get()
    assert page.request_id == "r" * 125 + "..."


async def test_a_404_with_no_gone_codes_names_only_the_fc_error(server: FakeServer) -> None:
    server.answer(json({"Code": "SomethingMissing", "Message": "m"}, 404))
    async with rig(server.endpoint) as r:
        with pytest.raises(UnexpectedNotFoundError) as caught:
            await r.get()
    assert caught.value.message.startswith("ListThings: HTTP 404 (FC error SomethingMissing): m")


# -- aiohttp's failures, in our words ----------------------------------------------------------------


async def test_a_body_cut_short_names_aiohttps_error(server: FakeServer) -> None:
    server.answer(truncated)
    async with rig(server.endpoint) as r:
        with pytest.raises(CrawlerError) as caught:
            await r.get()
    assert caught.value.message == "ListThings: the body was cut short (ClientPayloadError)"


async def test_a_server_that_hangs_up_is_a_lost_connection_named_by_aiohttp(server: FakeServer) -> None:
    server.answer(hang_up)
    async with rig(server.endpoint) as r:
        with pytest.raises(ConnectionLostError) as caught:
            await r.get()
    assert caught.value.message == "ListThings: connection lost (ServerDisconnectedError)"


async def test_a_malformed_answer_names_aiohttps_error(server: FakeServer) -> None:
    server.answer(garbage)
    async with rig(server.endpoint) as r:
        with pytest.raises(TransportError) as caught:
            await r.get()
    assert caught.value.message.startswith("ListThings: malformed HTTP answer (ClientResponseError: ")


async def test_a_url_aiohttp_refuses_is_named_by_its_error(server: FakeServer) -> None:
    async with rig(server.endpoint) as r:
        with pytest.raises(TransportError) as caught:
            await r.transport.get(CALL, URL("/no-host"), lambda creds: {})
    assert caught.value.message == "ListThings: malformed HTTP answer (InvalidUrlClientError)"


async def test_a_cookie_the_server_sets_is_never_sent_back(server: FakeServer) -> None:
    """The session keeps no cookies: every request is signed from the credentials alone, and a cookie
    (a load balancer's stickiness, say) would be a header the signature does not cover."""
    sent: list[str | None] = []

    async def sets_a_cookie(request: web.BaseRequest) -> web.StreamResponse:
        sent.append(request.headers.get("Cookie"))
        return web.Response(body=b'{"things": []}', headers={"Set-Cookie": "sticky=abc; Path=/"})

    server.answer(sets_a_cookie)
    # by name: aiohttp's cookie jar ignores cookies from a bare IP address
    async with rig(server.endpoint.replace("127.0.0.1", "localhost")) as r:
        await r.get()
        await r.get()
    assert sent == [None, None]


# -- the limiter hears the round trip ----------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        json(PAGE),
        json({"ErrorCode": "InternalError"}, 500),
        json({"ErrorCode": "ServiceUnavailable"}, 503),  # unwell, not a quota: the round trip still counts
    ],
)
async def test_the_limiter_is_told_when_the_answered_request_was_sent(
    server: FakeServer, answer: Any
) -> None:
    """Success or not, the limiter gets the request's start time: its round trip is measured."""
    server.answer(answer)
    async with rig(server.endpoint, limiter_clock=Steps(0.25)) as r:
        with contextlib.suppress(CrawlerError):
            await r.get()
    assert r.limiter.core.rtt is not None
    assert r.limiter.core.rtt >= 0.25


async def test_a_throttle_to_a_request_sent_before_a_cut_does_not_cut_again(server: FakeServer) -> None:
    """Throttles answering requests sent at the old pace say nothing of the new one: the limiter is told
    when each was sent, so the first three cut the rate once and the in-flight rest are not counted."""
    in_flight = 13
    arrived = 0
    everyone = asyncio.Event()

    async def throttle_together(request: web.BaseRequest) -> web.StreamResponse:
        nonlocal arrived
        arrived += 1
        if arrived == in_flight:
            everyone.set()
        await everyone.wait()  # all sent before any answer: all at the old pace
        return web.Response(status=429, body=b'{"ErrorCode": "TooManyRequests"}')

    server.answer(throttle_together)
    with capture_logs() as logs:
        async with rig(server.endpoint, limiter_clock=Steps(0.2), limiter_concurrency=in_flight) as r:
            results = await asyncio.gather(*(r.get() for _ in range(in_flight)), return_exceptions=True)
    assert all(isinstance(result, ThrottledError) for result in results)
    assert len([e for e in logs if e["event"] == "ratelimit.cut"]) == 1
