"""Pins on how the transport reads an answer, found unpinned by the mutation run (issue 18): the wording
and fields of each error it maps an answer to (403, 404, 4xx, 5xx, broken bodies, pages that are not
listings), where a server's text is cut and redacted, the boundaries of the size and token caps, and the
throttle and success bookkeeping. Every answer comes from a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey

from crawler.errors import (
    AccessDeniedError,
    AuthError,
    BodyError,
    CertificateError,
    ConnectionLostError,
    CrawlerError,
    ListingLimitError,
    NameNotResolvedError,
    ProtocolError,
    RequestRejectedError,
    ResponseTooLargeError,
    ServerError,
    ThrottledError,
    UnexpectedNotFoundError,
)
from crawler.wire.run_stats import RunStats
from crawler.wire.transport import MAX_SERVER_TEXT, _clean, _connect_error, _retry_after
from tests.support.fake_fc import (
    CREDS,
    SECRET,
    STS,
    FakeServer,
    Handler,
    client_for,
    configs,
    endless,
    json,
    raw,
    serving,
)

pytestmark = pytest.mark.anyio

ROUTE = "ListFunctionAsyncInvokeConfigs"


@pytest.fixture
async def server(anyio_backend: str) -> AsyncIterator[FakeServer]:
    async with serving() as fake:
        yield fake


# -- server text: redacted, cut, never a secret --------------------------------------------------------
def test_server_text_is_redacted_and_cut_at_the_limit_with_an_ellipsis() -> None:
    """A secret becomes ``[redacted]``; a text at the limit stays whole; one past it keeps ``limit - 3``
    characters and ``...``."""
    assert _clean("key s3cr3t leaked", ("s3cr3t",)) == "key [redacted] leaked"
    assert _clean("a" * 10, (), 10) == "a" * 10
    assert _clean("a" * 11, (), 10) == "aaaaaaa..."
    assert _clean("b" * (MAX_SERVER_TEXT + 1), ()) == "b" * (MAX_SERVER_TEXT - 3) + "..."


def test_a_wait_hint_of_zero_milliseconds_is_a_hint_of_no_wait() -> None:
    """``x-acs-retry-after: 0`` is a valid hint (retry now), not a missing one; 999 ms is under a second."""
    clock = functools.partial(float, 0.0)
    assert _retry_after({"x-acs-retry-after": "0", "Retry-After": "7"}, clock) == 0.0
    assert _retry_after({"x-acs-retry-after": "999", "Retry-After": "7"}, clock) == 0.999
    assert _retry_after({"x-acs-retry-after": "-5", "Retry-After": "7"}, clock) == 7.0


# -- 403 -------------------------------------------------------------------------------------------------
async def test_access_denied_on_a_resource_says_so_and_keeps_code_status_and_request_id(
    server: FakeServer,
) -> None:
    server.answer(json({"ErrorCode": "AccessDenied", "ErrorMessage": "no"}, status=403))
    async with client_for(server.endpoint) as client:
        with pytest.raises(AccessDeniedError) as caught:
            await configs(client)
    error = caught.value
    assert error.message == f"{ROUTE}: HTTP 403 AccessDenied: no (access to this resource is denied)"
    assert (error.code, error.http, error.request_id) == ("AccessDenied", 403, "req-42")


@pytest.mark.parametrize(
    ("sts", "kind"), [(False, "access key id"), (True, "access key id and STS token")], ids=["ak", "sts"]
)
async def test_refused_credentials_name_the_kind_of_key_its_id_and_source(
    server: FakeServer, sts: bool, kind: str
) -> None:
    server.answer(json({"ErrorCode": "InvalidAccessKeyId.NotFound", "ErrorMessage": "bad key"}, status=403))
    async with client_for(server.endpoint, creds=STS if sts else CREDS) as client:
        with pytest.raises(AuthError) as caught:
            await configs(client)
    assert caught.value.message == (
        f"{ROUTE}: HTTP 403 InvalidAccessKeyId.NotFound: bad key — the API refused the credentials "
        f"({kind} AKIDTEST from explicit)"
    )
    assert SECRET not in caught.value.message


# -- 404 that is not "deleted" ---------------------------------------------------------------------------
async def test_a_foreign_fc_404_names_the_codes_it_is_not(server: FakeServer) -> None:
    """A 404 with another FC code: 'FC error <code>, not FunctionNotFound or ServiceNotFound'."""
    server.answer(json({"ErrorCode": "PathNotSupported", "ErrorMessage": "no such path"}, status=404))
    async with client_for(server.endpoint) as client:
        with pytest.raises(UnexpectedNotFoundError) as caught:
            await configs(client)
    assert caught.value.message == (
        f"{ROUTE}: HTTP 404 (FC error PathNotSupported, not FunctionNotFound or ServiceNotFound): no such "
        "path — not taken as deleted; is the endpoint an FC API of the right version, and not a proxy's page?"
    )
    assert (caught.value.http, caught.value.request_id) == (404, "req-42")


async def test_a_404_page_that_is_not_fc_json_says_so_with_a_snippet(server: FakeServer) -> None:
    server.answer(raw(b"<html>Not Found</html>", status=404))
    async with client_for(server.endpoint) as client:
        with pytest.raises(UnexpectedNotFoundError) as caught:
            await configs(client)
    assert caught.value.message == (
        f"{ROUTE}: HTTP 404 (not an FC error body): <html>Not Found</html> — not taken as deleted; is the "
        "endpoint an FC API of the right version, and not a proxy's page?"
    )


async def test_an_empty_404_says_no_message(server: FakeServer) -> None:
    server.answer(raw(b"", status=404))
    async with client_for(server.endpoint) as client:
        with pytest.raises(UnexpectedNotFoundError) as caught:
            await configs(client)
    assert "(not an FC error body): (no message) — not taken as deleted" in caught.value.message


async def test_a_404_whose_json_is_cut_short_is_read_again_and_named(server: FakeServer) -> None:
    """``{"ErrorCode": "Functi`` (whitespace first) is broken JSON: a retryable BodyError with a snippet."""
    server.answer(raw(b'  [{"ErrorCode": "Functi', status=404))
    async with client_for(server.endpoint) as client:
        with pytest.raises(BodyError) as caught:
            await configs(client)
    assert caught.value.message == (
        f'{ROUTE}: HTTP 404 whose JSON body does not parse (cut short?):   [{{"ErrorCode": "Functi'
    )
    assert (caught.value.http, caught.value.request_id) == (404, "req-raw")


async def test_an_error_body_with_a_long_code_keeps_eighty_characters(server: FakeServer) -> None:
    server.answer(json({"Code": "X" * 100, "Message": "m"}, status=400))
    async with client_for(server.endpoint) as client:
        with pytest.raises(RequestRejectedError) as caught:
            await configs(client)
    assert caught.value.code == "X" * 77 + "..."


async def test_an_error_body_with_an_empty_message_falls_back_to_no_message(server: FakeServer) -> None:
    """A JSON error with a code and an empty message: the message is '(no message)', not a JSON snippet."""
    server.answer(json({"Code": "Bad", "Message": ""}, status=400))
    async with client_for(server.endpoint) as client:
        with pytest.raises(RequestRejectedError) as caught:
            await configs(client)
    assert caught.value.message == f"{ROUTE}: HTTP 400 Bad: (no message)"


async def test_a_non_json_error_keeps_its_first_120_bytes_decoded_leniently(server: FakeServer) -> None:
    body = b"\xff" + b"e" * 200
    server.answer(raw(body, status=400))
    async with client_for(server.endpoint) as client:
        with pytest.raises(RequestRejectedError) as caught:
            await configs(client)
    assert caught.value.message == f"{ROUTE}: HTTP 400 HTTP400: \ufffd" + "e" * 119


async def test_a_json_error_without_a_code_or_message_has_no_snippet(server: FakeServer) -> None:
    server.answer(raw(b'{"oops": 1}', status=400))
    async with client_for(server.endpoint) as client:
        with pytest.raises(RequestRejectedError) as caught:
            await configs(client)
    assert caught.value.message == f"{ROUTE}: HTTP 400 HTTP400: (no message)"


# -- status classes --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "kind"),
    [(499, RequestRejectedError), (500, ServerError), (501, ServerError), (300, ProtocolError)],
)
async def test_each_status_class_maps_to_its_error(
    server: FakeServer, status: int, kind: type[CrawlerError]
) -> None:
    server.answer(json({"Code": "C", "Message": "m"}, status=status))
    async with client_for(server.endpoint) as client:
        with pytest.raises(kind) as caught:
            await configs(client)
    assert caught.value.http == status


async def test_a_throttle_counts_once_per_answer_and_carries_the_wall_clock_hint(server: FakeServer) -> None:
    """Two throttled answers count two; a ``Retry-After`` date becomes seconds by the injected wall clock."""
    date = "Tue, 14 Nov 2023 22:13:30 GMT"  # 10 s after the clock below
    throttled = json({"Code": "Throttling", "Message": "slow"}, status=429, headers={"Retry-After": date})
    server.answer(throttled, throttled)
    stats = RunStats()
    async with client_for(server.endpoint, stats=stats, wall_clock=lambda: 1_700_000_000.0) as client:
        for _ in range(2):
            with pytest.raises(ThrottledError) as caught:
                await configs(client)
            assert caught.value.retry_after == 10.0
    assert stats.throttled == 2


async def test_once_the_endpoint_is_stalled_a_throttle_is_its_own_and_the_call_rides_it_out(
    server: FakeServer,
) -> None:
    """Refusals running, nothing admitted: the first calls fail on their one attempt (their throttles
    are not marked stalled), then the limiter stalls and a throttle says so, which the retry policy
    charges to the endpoint, not to the call: the call waits for the next probe, and the one the
    server admits ends the stall."""
    throttled = json({"Code": "Throttling", "Message": "slow"}, status=429)
    server.answer(*[throttled] * 20, json({"configs": []}))
    failed: list[ThrottledError] = []
    async with client_for(server.endpoint) as client:
        while True:
            try:
                page = await configs(client)
            except ThrottledError as error:
                failed.append(error)
                continue
            break
    assert page.items == ()
    assert 8 <= len(failed) < 20  # a stall needs eight refusals running; the rest were ridden out
    assert not any(error.stalled for error in failed)
    assert server.served == [429] * 20 + [200]


# -- 2xx bodies that are not a listing ---------------------------------------------------------------------
async def test_a_json_answer_that_is_not_an_object_names_its_type_with_status_200(server: FakeServer) -> None:
    server.answer(raw(b"[1, 2]"))
    async with client_for(server.endpoint) as client:
        with pytest.raises(ProtocolError) as caught:
            await configs(client)
    assert caught.value.message == f"{ROUTE}: the answer is a JSON list, not an object"
    assert (caught.value.http, caught.value.request_id) == (200, "req-raw")


async def test_an_html_page_with_leading_space_is_named_as_a_page_and_tried_twice(server: FakeServer) -> None:
    server.answer(raw(b"  \n<html>login</html>"))
    async with client_for(server.endpoint) as client:
        with pytest.raises(BodyError) as caught:
            await configs(client)
    assert caught.value.message == (
        f"{ROUTE}: HTTP 200 with an HTML page, not FC's JSON (a proxy, a login page or a wrong endpoint "
        "answered)"
    )
    assert (caught.value.attempt_limit, caught.value.http, caught.value.request_id) == (2, 200, "req-raw")


async def test_json_too_deep_to_parse_is_a_protocol_error_with_status_200(server: FakeServer) -> None:
    server.answer(raw(b"[" * 2000 + b"]" * 2000))
    async with client_for(server.endpoint) as client:
        with pytest.raises(ProtocolError) as caught:
            await configs(client)
    assert caught.value.message == f"{ROUTE}: the JSON answer is nested too deeply"
    assert caught.value.http == 200


async def test_a_token_exactly_at_the_cap_is_followed_and_one_past_it_is_refused(server: FakeServer) -> None:
    server.answer(json({"configs": [], "nextToken": "t" * 64}), json({"configs": [], "nextToken": "t" * 65}))
    async with client_for(server.endpoint, max_token_length=64) as client:
        page = await configs(client)
        assert page.next_token == "t" * 64
        with pytest.raises(ListingLimitError) as caught:
            await configs(client)
    assert caught.value.message == (
        f"{ROUTE}: a nextToken of 65 characters is over the 64-character cap (max_token_length)"
    )
    assert (caught.value.http, caught.value.request_id) == (200, "req-42")


async def test_a_page_records_the_size_of_its_body(server: FakeServer) -> None:
    body = b'{"configs": [{"qualifier": "LATEST"}]}'
    server.answer(raw(body))
    async with client_for(server.endpoint) as client:
        page = await configs(client)
    assert (page.size, page.items, page.request_id) == (len(body), ({"qualifier": "LATEST"},), "req-raw")


# -- the size cap's boundary -------------------------------------------------------------------------------
async def test_a_body_exactly_at_the_cap_is_read_and_one_past_it_is_refused(server: FakeServer) -> None:
    """Declared (Content-Length) sizes: 4,096 bytes pass a 4,096-byte cap, 4,097 do not ('answer of 4097
    bytes', no 'at least': the size was declared, not counted)."""
    fits = b'{"configs": []}' + b" " * (4096 - 15)
    server.answer(raw(fits), raw(fits + b" "))
    async with client_for(server.endpoint, max_body_bytes=4096) as client:
        page = await configs(client)
        assert page.size == 4096
        with pytest.raises(ResponseTooLargeError) as caught:
            await configs(client)
    assert caught.value.message == f"{ROUTE}: answer of 4097 bytes is over the 4096-byte cap (max_body_bytes)"
    assert (caught.value.http, caught.value.request_id) == (200, "req-raw")


async def test_a_chunked_body_past_the_cap_is_cut_and_said_to_be_at_least_its_count(
    server: FakeServer,
) -> None:
    """No Content-Length: the body is counted chunk by chunk and cut where it crosses the cap, so its size
    is 'at least' what was read: the first 64 KiB chunk of an endless body, against a 4,096-byte cap."""
    server.answer(endless)
    async with client_for(server.endpoint, max_body_bytes=4096) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            await configs(client)
    assert caught.value.message == (
        f"{ROUTE}: answer of at least 65536 bytes is over the 4096-byte cap (max_body_bytes)"
    )
    assert caught.value.http == 200


async def test_a_chunked_body_exactly_at_the_cap_is_read_whole(server: FakeServer) -> None:
    """A chunked answer of exactly ``max_body_bytes`` is within the cap, every chunk kept in order."""
    body = b'{"configs": [{"qualifier": "a"}, {"qualifier": "b"}]}'.ljust(2048)
    server.answer(chunked(body, pieces=3))
    async with client_for(server.endpoint, max_body_bytes=len(body)) as client:
        page = await configs(client)
    assert page.items == ({"qualifier": "a"}, {"qualifier": "b"})
    assert page.size == len(body)


def chunked(body: bytes, *, pieces: int) -> Handler:
    """A 200 sent chunked (no Content-Length) in ``pieces`` writes."""

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.enable_chunked_encoding()
        await response.prepare(request)
        step = -(-len(body) // pieces)
        for start in range(0, len(body), step):
            await response.write(body[start : start + step])
            await asyncio.sleep(0.01)  # separate reads on the client side
        await response.write_eof()
        return response

    return handler


async def test_a_non_string_error_code_or_message_is_not_taken_as_fc_s(server: FakeServer) -> None:
    """``{"Code": 5, "Message": 6}`` is not FC's error body: a 404 with it is 'not an FC error body' and
    its texts fall back to ``HTTP404`` and '(no message)' (no snippet: it parsed)."""
    server.answer(json({"Code": 5, "Message": 6}, status=404))
    async with client_for(server.endpoint) as client:
        with pytest.raises(UnexpectedNotFoundError) as caught:
            await configs(client)
    assert caught.value.message.startswith(f"{ROUTE}: HTTP 404 (not an FC error body): (no message) — ")


# -- the failures before an answer: named from aiohttp's exception, one unit each ------------------------
def _key(host: str = "fc.example", port: int = 443) -> ConnectionKey:
    return ConnectionKey(host, port, True, True, None, None, None, None)


class _CertProblem(Exception):
    def __init__(self, **fields: str) -> None:
        super().__init__("the certificate's own words")
        self.__dict__.update(fields)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"verify_message": "unable to get local issuer certificate", "reason": "R"},
            "unable to get local issuer certificate",
        ),
        ({"reason": "CERTIFICATE_VERIFY_FAILED"}, "CERTIFICATE_VERIFY_FAILED"),
        ({}, "the certificate's own words"),
    ],
    ids=["verify-message", "reason", "text"],
)
def test_a_certificate_error_is_named_by_its_most_specific_reason(
    fields: dict[str, str], reason: str
) -> None:
    exc = aiohttp.ClientConnectorCertificateError(_key(), _CertProblem(**fields))
    error = _connect_error("ListServices", exc)
    assert isinstance(error, CertificateError)
    assert error.message == (
        f"ListServices: certificate verify failed for fc.example ({reason}); check the endpoint, or the CA "
        "bundle if a proxy inspects TLS (SSL_CERT_FILE)"
    )


def test_a_tls_error_without_a_reason_is_named_by_its_type() -> None:
    exc = aiohttp.ClientConnectorSSLError(_key(), ssl.SSLEOFError())
    assert _connect_error("ListServices", exc).message == (
        "ListServices: TLS handshake with fc.example failed (SSLEOFError)"
    )


def test_a_name_that_does_not_resolve_without_a_reason_says_no_address() -> None:
    """A bare ``socket.gaierror`` inside a plain connector error (an older aiohttp) is still a name that
    does not resolve."""
    exc = aiohttp.ClientConnectorError(_key(), socket.gaierror())
    error = _connect_error("ListServices", exc)
    assert isinstance(error, NameNotResolvedError)
    assert error.message == "ListServices: name not resolved: fc.example (no address); check the endpoint"


def test_a_refused_connect_without_an_os_reason_is_named_by_its_type() -> None:
    exc = aiohttp.ClientConnectorError(_key(port=8443), ConnectionRefusedError())
    error = _connect_error("ListServices", exc)
    assert isinstance(error, ConnectionLostError)
    assert error.message == "ListServices: cannot connect to fc.example:8443 (ConnectionRefusedError)"


async def test_each_clock_that_runs_out_is_named_with_its_own_setting(server: FakeServer) -> None:
    """connect_timeout, read_timeout and an aiohttp too old to say which: each named (one unit: a real
    connect timeout needs a network path that drops packets, which loopback does not have)."""
    async with client_for(
        server.endpoint, connect_timeout=1.5, read_timeout=2.5, total_timeout=9.0
    ) as client:
        transport = client._transport
        connect = transport._timeout("ListServices", aiohttp.ConnectionTimeoutError())
        read = transport._timeout("ListServices", aiohttp.SocketTimeoutError())
        old = transport._timeout("ListServices", aiohttp.ServerTimeoutError("Timeout on reading data"))
    assert connect.message == "ListServices: could not connect within connect_timeout (1.5 s)"
    assert read.message == "ListServices: the server sent nothing for read_timeout (2.5 s)"
    assert old.message == "ListServices: timed out (Timeout on reading data)"
