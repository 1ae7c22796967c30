"""``exchange``, the identity clients' one request (STS, ECS metadata, a credentials URI), pinned against a
loopback server: what is sent (method, headers, body) and answered (status, headers, the body whole), a
redirect returned rather than followed, the body cap at its edge whether declared or streamed, the time
limit, and aiohttp's failures in our words. None mocks aiohttp."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web
from yarl import URL

from crawler.errors import (
    BodyError,
    ConnectionLostError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TransportError,
)
from crawler.settings.config import CrawlSettings
from crawler.wire.transport import clean_server_text, exchange, open_session, retry_after_hint
from tests.support.fake_fc import endless, garbage, hang_up, raw, reset, serving, stall, truncated

pytestmark = pytest.mark.anyio


async def test_the_request_goes_as_given_and_the_answer_comes_back_whole() -> None:
    sent: list[tuple[str, str, bytes]] = []

    async def echo(request: web.BaseRequest) -> web.StreamResponse:
        sent.append((request.method, request.headers.get("X-Test", ""), await request.read()))
        return web.Response(body=b"hello", status=201, headers={"X-Back": "b"})

    async with serving() as server, open_session(CrawlSettings()) as session:
        server.answer(echo)
        answer = await exchange(
            session, "POST", URL(server.endpoint) / "x", route="R", headers={"X-Test": "t"}, data=b"payload"
        )
    assert (answer.status, answer.headers["X-Back"], answer.body) == (201, "b", b"hello")
    assert sent == [("POST", "t", b"payload")]


async def test_a_redirect_is_returned_not_followed() -> None:
    async def moved(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": "/elsewhere"})

    async with serving() as server, open_session(CrawlSettings()) as session:
        server.answer(moved)
        answer = await exchange(session, "GET", URL(server.endpoint) / "x", route="R", headers={})
    assert answer.status == 302
    assert len(server.seen) == 1


async def test_a_body_of_exactly_the_cap_is_taken_one_byte_more_is_refused() -> None:
    async with serving() as server, open_session(CrawlSettings()) as session:
        server.answer(raw(b"x" * 50))
        answer = await exchange(session, "GET", URL(server.endpoint), route="R", headers={}, max_body=50)
        assert answer.body == b"x" * 50
        with pytest.raises(ResponseTooLargeError) as caught:
            await exchange(session, "GET", URL(server.endpoint), route="R", headers={}, max_body=49)
    assert caught.value.message == "R: answer of 50 bytes is over 49 bytes"


async def test_a_streamed_body_past_the_cap_is_cut_off() -> None:
    async with serving() as server, open_session(CrawlSettings()) as session:
        server.answer(endless)
        with pytest.raises(ResponseTooLargeError) as caught:
            await exchange(session, "GET", URL(server.endpoint), route="R", headers={}, max_body=100_000)
    assert caught.value.message == "R: answer of over 100000 bytes"


async def test_a_streamed_body_of_exactly_the_cap_is_taken() -> None:
    async def chunked(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(status=200)  # no Content-Length: only the stream's size counts
        await response.prepare(request)
        await response.write(b"y" * 70_000)
        await response.write(b"y" * 30_000)
        await response.write_eof()
        return response

    async with serving() as server, open_session(CrawlSettings()) as session:
        server.answer(chunked)
        answer = await exchange(session, "GET", URL(server.endpoint), route="R", headers={}, max_body=100_000)
    assert answer.body == b"y" * 100_000


async def test_the_time_limit_bounds_the_exchange_and_is_named() -> None:
    async with serving() as server, open_session(CrawlSettings()) as session:
        server.answer(stall)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RequestTimeoutError) as caught:
            await exchange(session, "GET", URL(server.endpoint), route="R", headers={}, time_limit=0.2)
        took = loop.time() - started
    assert caught.value.message == "R: no answer within 0.2 s"
    assert took < 0.9  # the 1 s stall is not waited out


async def test_a_body_cut_short_is_a_body_error() -> None:
    async with serving() as server, open_session(CrawlSettings()) as session:
        server.answer(truncated)
        with pytest.raises(BodyError) as caught:
            await exchange(session, "GET", URL(server.endpoint), route="R", headers={})
    assert caught.value.message == "R: the body was cut short (ClientPayloadError)"


async def test_a_reset_connection_is_lost_and_a_closed_port_cannot_connect() -> None:
    async with serving() as server, open_session(CrawlSettings()) as session:
        server.answer(reset)
        with pytest.raises(ConnectionLostError) as lost:
            await exchange(session, "GET", URL(server.endpoint), route="R", headers={})
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # bound, never listening: refused
            with pytest.raises(TransportError) as refused:
                await exchange(session, "GET", URL(f"http://127.0.0.1:{port}/"), route="R", headers={})
    assert lost.value.message.startswith("R: connection lost (")
    assert lost.value.message != "R: connection lost (NoneType)"
    assert refused.value.message.startswith(f"R: cannot connect to 127.0.0.1:{port} (")


async def test_without_a_time_limit_the_sessions_own_timeout_holds() -> None:
    settings = CrawlSettings(read_timeout=0.2, total_timeout=0.3)
    async with serving() as server, open_session(settings) as session:
        server.answer(stall)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RequestTimeoutError) as caught:
            await exchange(session, "GET", URL(server.endpoint), route="R", headers={})
        took = loop.time() - started
    assert caught.value.message == "R: no answer"
    assert took < 0.9


async def test_aiohttps_failures_are_named_by_its_own_error_type() -> None:
    """A hang-up, a malformed status line and a URL aiohttp refuses, each in our words with aiohttp's
    error named: what a user reads to tell a dead metadata server from a wrong credentials URI."""
    async with serving() as server, open_session(CrawlSettings()) as session:
        server.answer(hang_up)
        with pytest.raises(ConnectionLostError) as lost:
            await exchange(session, "GET", URL(server.endpoint), route="R", headers={})
        server.answer(garbage)
        with pytest.raises(TransportError) as malformed:
            await exchange(session, "GET", URL(server.endpoint), route="R", headers={})
        with pytest.raises(TransportError) as refused:
            await exchange(session, "GET", URL("/no-host"), route="R", headers={})
    assert lost.value.message == "R: connection lost (ServerDisconnectedError)"
    assert malformed.value.message == "R: malformed HTTP answer (ClientResponseError)"
    assert malformed.value.__cause__ is None  # its request_info holds our headers: never chained
    assert refused.value.message == "R: malformed HTTP answer (InvalidUrlClientError)"
    assert refused.value.__cause__ is not None


def test_clean_server_text_keeps_to_the_callers_limit() -> None:
    cleaned = clean_server_text("secret-" + "x" * 200, ("secret",), limit=20)
    assert cleaned.startswith("[redacted]-")
    assert len(cleaned) <= 21  # the limit, and at most an ellipsis


def test_retry_after_hint_reads_an_http_date_against_the_wall_clock() -> None:
    now = 1_700_000_000.0
    date = "Tue, 14 Nov 2023 22:13:40 GMT"  # now + 20 s
    assert retry_after_hint({"Retry-After": date}, lambda: now) == 20.0
    assert retry_after_hint({"x-acs-retry-after": "1500"}, lambda: now) == 1.5
