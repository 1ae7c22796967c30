"""Pins on the transport that the mutation run (issue 18) found unpinned: the exact wording of a timeout
(which clock ran out, with its setting) and of an answer over the size cap, the cap error's HTTP status
and request id, and a credential code compared on its first dotted part only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from crawler.errors import RequestTimeoutError, ResponseTooLargeError
from crawler.wire.transport import refuses_credentials
from tests.wire.test_client import FakeServer, client_for, configs, raw

pytestmark = pytest.mark.anyio

ROUTE = "ListFunctionAsyncInvokeConfigs"


@pytest.fixture
async def server(anyio_backend: str) -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    runner = web.ServerRunner(web.Server(fake.handle), shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.endpoint = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


async def stall(request: web.BaseRequest) -> web.StreamResponse:
    await asyncio.sleep(1.0)
    return web.Response(body=b"{}")


async def trickle(request: web.BaseRequest) -> web.StreamResponse:
    response = web.StreamResponse(status=200)  # a byte every 50 ms: never quiet for read_timeout
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        for _ in range(40):
            await response.write(b" ")
            await asyncio.sleep(0.05)
    return response


async def test_a_silent_server_is_named_as_read_timeout_with_its_setting(server: FakeServer) -> None:
    """A server that sends nothing: 'the server sent nothing for read_timeout (<s> s)'."""
    server.answer(stall)
    async with client_for(
        server.endpoint, read_timeout=0.1, connect_timeout=5.0, total_timeout=5.0
    ) as client:
        with pytest.raises(RequestTimeoutError) as caught:
            await configs(client)
    assert caught.value.message == f"{ROUTE}: the server sent nothing for read_timeout (0.1 s)"


async def test_a_trickling_server_is_cut_at_total_timeout_and_named(server: FakeServer) -> None:
    """A server that trickles under read_timeout is cut by total_timeout, said with its setting."""
    server.answer(trickle)
    async with client_for(
        server.endpoint, read_timeout=0.5, connect_timeout=0.6, total_timeout=0.3
    ) as client:
        with pytest.raises(RequestTimeoutError) as caught:
            await configs(client)
    assert caught.value.message == (
        f"{ROUTE}: no complete answer within total_timeout (0.3 s), the per-request deadline: the server is "
        "stalling or trickling"
    )


async def test_an_answer_over_the_cap_is_named_with_its_size_status_and_request_id(
    server: FakeServer,
) -> None:
    """A body past ``max_body_bytes``: 'answer of at least <n> bytes is over the <cap>-byte cap
    (max_body_bytes)', with the answer's HTTP status and request id."""
    server.answer(raw(b" " * 5000))
    async with client_for(server.endpoint, max_body_bytes=4096) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            await configs(client)
    assert (
        caught.value.message
        == f"{ROUTE}: answer of at least 5000 bytes is over the 4096-byte cap (max_body_bytes)"
    )
    assert (caught.value.http, caught.value.request_id) == (200, "req-raw")


def test_a_credential_code_is_compared_on_its_first_dotted_part() -> None:
    """``refuses_credentials`` takes the code up to its first dot, whatever follows."""
    assert refuses_credentials("InvalidAccessKeyId.Not.Found")
    assert refuses_credentials("SignatureNotMatch")
    assert not refuses_credentials("AccessDenied.InvalidAccessKeyId")


async def test_the_transport_names_its_endpoint_account_and_region(server: FakeServer) -> None:
    """``repr(Transport)`` names the checked endpoint, the account and the region (never a key)."""
    async with client_for(server.endpoint) as client:
        assert repr(client._transport) == (
            f"Transport(endpoint={server.endpoint!r}, account='1234567890123456', region='cn-hangzhou')"
        )
