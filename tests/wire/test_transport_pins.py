"""Pins on the transport that the mutation run (issue 18) found unpinned: the exact wording of a timeout
(which clock ran out, with its setting) and of an answer over the size cap, the cap error's HTTP status
and request id, and a credential code compared on its first dotted part only."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from crawler.errors import (
    CertificateError,
    ConnectionLostError,
    NameNotResolvedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ThrottledError,
    TlsError,
)
from crawler.wire.transport import _is_quota_signal, _retry_after, refuses_credentials
from tests.support.fake_fc import FakeServer, client_for, configs, raw, serving
from tests.support.hostile import HostileServer
from tests.support.hostile.slow import self_signed_context

pytestmark = pytest.mark.anyio

ROUTE = "ListFunctionAsyncInvokeConfigs"


@pytest.fixture
async def server(anyio_backend: str) -> AsyncIterator[FakeServer]:
    async with serving() as fake:
        yield fake


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
    """A body past ``max_body_bytes``: 'answer of <n> bytes is over the <cap>-byte cap (max_body_bytes)'
    when its Content-Length says so (the exact size), with the answer's HTTP status and request id."""
    server.answer(raw(b" " * 5000))
    async with client_for(server.endpoint, max_body_bytes=4096) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            await configs(client)
    assert caught.value.message == f"{ROUTE}: answer of 5000 bytes is over the 4096-byte cap (max_body_bytes)"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_refused_connection_names_host_port_and_reason(anyio_backend: str) -> None:
    """Nothing listening: 'cannot connect to <host>:<port> (<the OS's reason>)'."""
    port = _free_port()
    async with client_for(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(ConnectionLostError) as caught:
            await client.list_services(limit=1, next_token=None)
    assert caught.value.message == (
        f"ListServices: cannot connect to 127.0.0.1:{port} (Connect call failed ('127.0.0.1', {port}))"
    )


async def test_a_name_that_does_not_resolve_is_named_with_the_resolvers_reason(anyio_backend: str) -> None:
    """An unresolvable host: 'name not resolved: <host> (<the resolver's reason>); check the endpoint'."""
    try:
        socket.getaddrinfo("fc-audit.invalid", 443)
    except socket.gaierror as exc:
        reason = exc.strerror
    else:
        pytest.skip("this resolver answers for .invalid")
    async with client_for("https://fc-audit.invalid") as client:
        with pytest.raises(NameNotResolvedError) as caught:
            await client.list_services(limit=1, next_token=None)
    assert (
        caught.value.message
        == f"ListServices: name not resolved: fc-audit.invalid ({reason}); check the endpoint"
    )


async def test_a_failed_tls_handshake_names_the_host_and_the_tls_reason(server: FakeServer) -> None:
    """TLS to a plain-HTTP server: 'TLS handshake with <host> failed (<OpenSSL's reason>)'."""
    endpoint = server.endpoint.replace("http://", "https://")
    async with client_for(endpoint) as client:
        with pytest.raises(TlsError) as caught:
            await client.list_services(limit=1, next_token=None)
    assert re.fullmatch(
        r"ListServices: TLS handshake with 127\.0\.0\.1 failed \([A-Z_]+\)", caught.value.message
    )
    assert server.seen == []


async def test_a_certificate_that_does_not_verify_is_named_with_the_fix(
    anyio_backend: str, tmp_path: Path
) -> None:
    """A self-signed certificate: 'certificate verify failed for <host> (<reason>); check the endpoint, or
    the CA bundle if a proxy inspects TLS (SSL_CERT_FILE)'."""
    context = self_signed_context(tmp_path)
    if context is None:
        pytest.skip("openssl is not installed: no self-signed certificate to serve")
    with HostileServer(web.Application(), ssl_context=context) as hostile:
        async with client_for(hostile.endpoint) as client:
            with pytest.raises(CertificateError) as caught:
                await client.list_services(limit=1, next_token=None)
    assert re.fullmatch(
        r"ListServices: certificate verify failed for 127\.0\.0\.1 \(self[- ]signed certificate\); check the "
        r"endpoint, or the CA bundle if a proxy inspects TLS \(SSL_CERT_FILE\)",
        caught.value.message,
    )


def test_a_wait_hint_that_is_not_a_finite_number_of_milliseconds_falls_back_to_retry_after() -> None:
    """``_retry_after``: an ``x-acs-retry-after`` that is not a number, or not finite, is passed over for
    ``Retry-After`` (seconds); a valid one wins, in milliseconds."""
    clock = functools.partial(float, 0.0)
    assert _retry_after({"x-acs-retry-after": "soon", "Retry-After": "2"}, clock) == 2.0
    assert _retry_after({"x-acs-retry-after": "inf", "Retry-After": "3"}, clock) == 3.0
    assert _retry_after({"x-acs-retry-after": "1500", "Retry-After": "3"}, clock) == 1.5


def test_retry_after_in_seconds_or_as_a_date_is_a_non_negative_finite_wait() -> None:
    """``Retry-After`` (the header name as HTTP spells it) in seconds is taken as it is, 0 included; as a
    date it is the time left by the wall clock, never below 0; a negative or infinite value is no hint."""
    clock = functools.partial(float, 1_700_000_000.0)
    assert _retry_after({"Retry-After": "0"}, clock) == 0.0
    assert _retry_after({"Retry-After": "0.5"}, clock) == 0.5
    assert _retry_after({"Retry-After": "-1"}, clock) is None
    assert _retry_after({"Retry-After": "inf"}, clock) is None
    assert _retry_after({"Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"}, clock) == 10.0
    assert _retry_after({"Retry-After": "Tue, 14 Nov 2023 22:13:00 GMT"}, clock) == 0.0
    assert _retry_after({}, clock) is None


def _throttled(http: int, code: str, retry_after: float | None = None) -> ThrottledError:
    return ThrottledError("throttled", code=code, http=http, retry_after=retry_after)


@pytest.mark.parametrize(
    ("error", "quota"),
    [
        (_throttled(429, "HTTP429"), True),
        (_throttled(503, "ServiceUnavailable"), False),
        (_throttled(503, "ServiceUnavailable", retry_after=0.0), True),
        (_throttled(503, "QpsLimitExceeded"), True),
        (_throttled(503, "ThrottlingUser"), True),
        (_throttled(503, "throttlingUser"), False),
        (_throttled(430, "HTTP430"), False),
    ],
)
def test_a_throttle_is_about_our_rate_only_with_a_quota_signal(error: ThrottledError, quota: bool) -> None:
    """``_is_quota_signal``: a 429, any retry hint (0 s included), a quota code or a ``Throttling*`` code
    (case as FC sends it) says we are too fast; a bare 503 does not."""
    assert _is_quota_signal(error) is quota
