"""FcClient and its Transport over a real loopback socket: purpose-built servers produce exact answers
and faults, and the emulator checks the signature. Nothing in aiohttp is mocked."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, unquote

import pytest
from fc2.auth import Auth
from structlog.testing import capture_logs

from crawler.errors import (
    AuthError,
    BodyError,
    ConfigError,
    ConnectionLostError,
    CrawlerError,
    ListingLimitError,
    NotFoundError,
    ProtocolError,
    RequestRejectedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServerError,
    ThrottledError,
    TransportError,
    UnexpectedNotFoundError,
)
from crawler.settings.config import CrawlSettings
from crawler.settings.credentials import Credentials
from crawler.wire.fc2_client import FcClient, encode_segment
from crawler.wire.models import Page
from crawler.wire.run_stats import RunStats
from crawler.wire.signing import http_date
from crawler.wire.transport import open_session
from tests.support.fake_fc import (
    NOW,
    SECRET,
    STS,
    TOKEN,
    FakeServer,
    Handler,
    client_for,
    configs,
    endless,
    json,
    raw,
    reset,
    serving,
    stall,
    truncated,
)
from tests.support.fixtures import EmulatorFactory

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fake(anyio_backend: str) -> AsyncIterator[FakeServer]:
    async with serving() as server:
        yield server


# ---- requests: path, query, headers, signature ----------------------------------------------------

HOSTILE = ["a/b", "..", ".", "50%", "sp ace", "ünïcødé", "ctl\x01\n\x7f", "?#&=", "%2F"]


@pytest.mark.parametrize("name", HOSTILE)
async def test_hostile_names_are_one_escaped_segment_and_the_decoded_path_is_signed(
    fake: FakeServer, name: str
) -> None:
    fake.answer(json({"configs": [{"qualifier": "LATEST"}], "nextToken": "n&=/#?"}))
    async with client_for(fake.endpoint, creds=STS) as client:
        page = await configs(client, service=name, function=name, token="tok &=/#?%")
    assert page == Page(items=({"qualifier": "LATEST"},), next_token="n&=/#?", request_id="req-42")
    (seen,) = fake.seen
    path, _, query = seen.raw_path.partition("?")
    segments = path.split("/")
    assert segments[:3] == ["", "2016-08-15", "services"]
    assert len(segments) == 7  # no name added or removed a segment
    assert [unquote(segments[3]), unquote(segments[5])] == [name, name]
    assert dict(parse_qsl(query)) == {"limit": "100", "nextToken": "tok &=/#?%"}
    decoded = f"/2016-08-15/services/{name}/functions/{name}/async-invoke-configs"
    lowered = {k.lower(): v for k, v in seen.headers.items()}
    # the official SDK's signer, an independent witness, agrees with what we sent
    assert seen.headers["Authorization"] == Auth("AKIDTEST", SECRET, TOKEN).sign_request(
        "GET", decoded, lowered
    )


async def test_headers_sent(fake: FakeServer) -> None:
    fake.answer(json({"services": []}))
    async with client_for(fake.endpoint) as client:
        page = await client.list_services(limit=7, next_token=None)
    assert page == Page(items=(), next_token=None, request_id="req-42")
    headers = fake.seen[0].headers
    assert fake.seen[0].raw_path == "/2016-08-15/services?limit=7"
    assert headers["Date"] == http_date(NOW)
    assert headers["Content-Type"] == "application/json"
    assert headers["x-fc-account-id"] == "1234567890123456"
    assert headers["Accept-Encoding"] == "identity"
    assert "x-fc-security-token" not in headers


def test_dot_segments_and_empty_names() -> None:
    assert encode_segment("..", "function") == "%2E%2E"
    assert encode_segment("a.b", "function") == "a.b"
    with pytest.raises(ProtocolError, match="empty name"):
        encode_segment("", "service")


async def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConfigError, match="plain http"):
        async with client_for("http://example.com"):
            pass


# ---- answers mapped onto the error tree -----------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "kind", "code", "retry_after"),
    [
        (
            json({"ErrorCode": "ResourceExhausted"}, 429, {"Retry-After": "2"}),
            ThrottledError,
            "ResourceExhausted",
            2.0,
        ),
        (
            json({"errorCode": "ResourceThrottled", "errorMessage": "x"}, 503, {"x-acs-retry-after": "1500"}),
            ThrottledError,
            "ResourceThrottled",
            1.5,
        ),
        (json({"ErrorCode": "ThrottlingUser"}, 400), ThrottledError, "ThrottlingUser", None),
        (json({"ErrorCode": "Busy"}, 429, {"Retry-After": "soon"}), ThrottledError, "Busy", None),
        (json({"ErrorCode": "InternalServerError"}, 500), ServerError, "InternalServerError", None),
        (raw(b"<html>bad gateway</html>", 502), ServerError, "HTTP502", None),
        (json({"ErrorCode": "FunctionNotFound"}, 404), NotFoundError, "FunctionNotFound", None),
        (json({"ErrorCode": "InvalidArgument"}, 400), RequestRejectedError, "InvalidArgument", None),
        (json({"ErrorCode": "SignatureNotMatch"}, 403), AuthError, "SignatureNotMatch", None),
        (raw(b"", 302), ProtocolError, "ProtocolError", None),
    ],
)
async def test_status_and_code_mapping(
    fake: FakeServer, handler: Handler, kind: type[CrawlerError], code: str, retry_after: float | None
) -> None:
    """Pins each answer's mapping: the error class, its code, the HTTP status that was served (not just
    some int), the request id and the Retry-After it carried."""
    fake.answer(handler)
    async with client_for(fake.endpoint) as client:
        with pytest.raises(kind) as caught:
            await configs(client)
    error = caught.value
    assert type(error) is kind
    assert error.code == code
    assert fake.served  # the error's http is the status this server answered (the last attempt's)
    assert error.http == fake.served[-1]
    assert error.request_id in ("req-42", "req-raw")
    assert getattr(error, "retry_after", None) == retry_after
    assert "\n" not in error.message


@pytest.mark.parametrize(
    ("listing", "handler", "kind", "code"),
    [
        # FC 2.0 and FC 3.0 spell the key ErrorCode and Code: either is FC saying "deleted"
        ("configs", json({"Code": "ServiceNotFound", "Message": "x"}, 404), NotFoundError, "ServiceNotFound"),
        ("functions", json({"ErrorCode": "ServiceNotFound"}, 404), NotFoundError, "ServiceNotFound"),
        # a function listing has no function to lose; nothing in the service listing can be deleted
        (
            "functions",
            json({"ErrorCode": "FunctionNotFound"}, 404),
            UnexpectedNotFoundError,
            "UnexpectedNotFound",
        ),
        (
            "services",
            json({"ErrorCode": "ServiceNotFound"}, 404),
            UnexpectedNotFoundError,
            "UnexpectedNotFound",
        ),
        # a proxy's page, an empty 404, another FC code (a wrong API version), FC's code as plain text
        ("configs", raw(b"<html>404 Not Found</html>", 404), UnexpectedNotFoundError, "UnexpectedNotFound"),
        ("configs", raw(b"", 404), UnexpectedNotFoundError, "UnexpectedNotFound"),
        (
            "configs",
            json({"ErrorCode": "PathNotSupported"}, 404),
            UnexpectedNotFoundError,
            "UnexpectedNotFound",
        ),
        ("configs", raw(b"FunctionNotFound", 404), UnexpectedNotFoundError, "UnexpectedNotFound"),
    ],
)
async def test_a_404_is_gone_only_with_fcs_own_code_for_that_listing(
    fake: FakeServer, listing: str, handler: Handler, kind: type[CrawlerError], code: str
) -> None:
    fake.answer(handler)
    async with client_for(fake.endpoint) as client:
        with pytest.raises(kind) as caught:
            await listing_call(client, listing)
    assert type(caught.value) is kind
    assert (caught.value.code, caught.value.http) == (code, 404)
    assert len(fake.seen) == 1  # not retried


@pytest.mark.parametrize(
    ("listing", "required"), [("services", True), ("functions", True), ("configs", False)]
)
async def test_a_listing_key_fc_always_sends_is_required(
    fake: FakeServer, listing: str, required: bool
) -> None:
    """``{}`` is not an empty listing where FC always sends the list; configs may leave an empty one out."""
    fake.answer(json({}))
    async with client_for(fake.endpoint) as client:
        if required:
            with pytest.raises(ProtocolError, match=f"no '{listing}' list"):
                await listing_call(client, listing)
        else:
            assert (await listing_call(client, listing)).items == ()


async def listing_call(client: FcClient, listing: str) -> Page:
    if listing == "services":
        return await client.list_services(limit=100, next_token=None)
    if listing == "functions":
        return await client.list_functions("svc", limit=100, next_token=None)
    return await configs(client)


async def test_a_404_whose_json_was_cut_short_is_read_again(fake: FakeServer) -> None:
    """FC's answer did not arrive whole: not "deleted", not a proxy's page either, so ask again."""
    cut = raw(b'{"ErrorCode": "FunctionNotFo', 404)
    fake.answer(cut, json({"ErrorCode": "FunctionNotFound"}, 404))
    async with client_for(fake.endpoint, attempts=3) as client:
        with pytest.raises(NotFoundError):
            await configs(client)
    assert len(fake.seen) == 2


async def test_a_token_over_the_cap_ends_the_listing(fake: FakeServer) -> None:
    fake.answer(json({"configs": [], "nextToken": "t" * 5000}))
    async with client_for(fake.endpoint, max_token_length=4096) as client:
        with pytest.raises(ListingLimitError, match="max_token_length"):
            await configs(client)


async def test_auth_error_names_the_key_never_the_secret_and_is_not_retried(fake: FakeServer) -> None:
    fake.answer(
        json({"ErrorCode": "InvalidSecurityToken", "ErrorMessage": f"bad token {TOKEN} / {SECRET}"}, 403)
    )
    async with client_for(fake.endpoint, creds=STS, attempts=5) as client:
        with pytest.raises(AuthError) as caught:
            await configs(client)
    message = caught.value.message
    assert "AKIDTEST" in message
    assert "InvalidSecurityToken" in message
    assert SECRET not in message
    assert TOKEN not in message
    assert len(fake.seen) == 1


async def test_retries_happen_inside_and_are_counted(fake: FakeServer) -> None:
    fake.answer(
        json({"ErrorCode": "InternalServerError"}, 500),
        json({"ErrorCode": "ResourceExhausted"}, 429, {"Retry-After": "0"}),
        json({"configs": [{"qualifier": "1"}]}),
    )
    stats = RunStats()
    async with client_for(fake.endpoint, attempts=4, stats=stats) as client:
        page = await configs(client)
    assert page.items == ({"qualifier": "1"},)
    assert (stats.requests, stats.retries, stats.throttled) == (3, 2, 1)


async def test_exhausted_retries_raise_with_attempts(fake: FakeServer) -> None:
    fake.answer(json({"ErrorCode": "InternalServerError"}, 500))
    async with client_for(fake.endpoint, attempts=3) as client:
        with pytest.raises(ServerError) as caught:
            await configs(client)
    assert caught.value.attempts == 3
    assert len(fake.seen) == 3


# ---- transport faults -----------------------------------------------------------------------------


async def test_reset_is_connection_lost(fake: FakeServer) -> None:
    fake.answer(reset)
    async with client_for(fake.endpoint, attempts=2) as client:
        with pytest.raises(ConnectionLostError) as caught:
            await configs(client)
    assert caught.value.attempts == 2
    assert len(fake.seen) == 2  # aiohttp did not resend behind our back


async def test_truncated_body(fake: FakeServer) -> None:
    fake.answer(truncated)
    async with client_for(fake.endpoint) as client:
        with pytest.raises(BodyError, match="cut short"):
            await configs(client)


async def test_stall_past_the_read_timeout(fake: FakeServer) -> None:
    fake.answer(stall)
    async with client_for(fake.endpoint, read_timeout=0.1) as client:
        with pytest.raises(RequestTimeoutError):
            await configs(client)


async def test_invalid_json_is_a_retryable_body_error(fake: FakeServer) -> None:
    fake.answer(raw(b'{"configs": [{"a": 1}'), json({"configs": []}))
    async with client_for(fake.endpoint, attempts=2) as client:
        assert (await configs(client)).items == ()
    fake.answer(raw(b"\xff\xfe not json"))
    async with client_for(fake.endpoint) as client:
        with pytest.raises(BodyError, match="not valid JSON"):
            await configs(client)


async def test_too_large_declared_or_streamed(fake: FakeServer) -> None:
    fake.answer(raw(b" " * 5000))
    async with client_for(fake.endpoint, max_body_bytes=4096) as client:
        with pytest.raises(ResponseTooLargeError, match="4096-byte cap"):
            await configs(client)
    fake.answer(endless)
    async with client_for(fake.endpoint, max_body_bytes=100_000) as client:
        with pytest.raises(ResponseTooLargeError):
            await configs(client)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[" * 2000 + b"]" * 2000, "nested too deeply"),
        (b'{"configs": {"a": 1}}', "'configs' is a dict, not a list"),
        (b'{"configs": [1, "x"]}', "other than JSON objects"),
        (b'{"configs": [], "nextToken": 5}', "'nextToken' is a int"),
        (b'{"configs": [], "nextToken": ["a"]}', "'nextToken' is a list"),
        (b'[{"qualifier": "x"}]', "not an object"),
        (b'"just a string"', "not an object"),
    ],
)
async def test_wrong_shapes_are_protocol_errors(fake: FakeServer, body: bytes, fragment: str) -> None:
    fake.answer(raw(body))
    async with client_for(fake.endpoint, attempts=3) as client:
        with pytest.raises(ProtocolError) as caught:
            await configs(client)
    assert fragment in caught.value.message
    assert len(fake.seen) == 1  # a wrong shape is not retried


@pytest.mark.parametrize("body", [b"{}", b'{"configs": null}', b'{"configs": [], "nextToken": ""}'])
async def test_absent_lists_and_tokens_end_the_listing(fake: FakeServer, body: bytes) -> None:
    fake.answer(raw(body))
    async with client_for(fake.endpoint) as client:
        page = await configs(client)
    assert (page.items, page.next_token) == ((), None)


async def test_debug_logs_carry_no_secret(fake: FakeServer) -> None:
    fake.answer(json({"ErrorCode": "InternalServerError", "ErrorMessage": TOKEN}, 500), json({"configs": []}))
    with capture_logs() as logs:
        async with client_for(fake.endpoint, creds=STS, attempts=2) as client:
            await configs(client)
    events = [entry["event"] for entry in logs]
    assert events == ["client.request", "retry.scheduled", "client.request"]
    assert {"route", "status", "request_id", "elapsed_ms"} <= set(logs[0])
    text = repr(logs)
    assert SECRET not in text
    assert TOKEN not in text
    assert "Authorization" not in text


async def test_open_session_limits_and_timeouts() -> None:
    settings = CrawlSettings(concurrency=5, connect_timeout=2.0, read_timeout=3.0, total_timeout=9.0)
    async with open_session(settings) as session:
        connector = session.connector
        assert connector is not None
        assert (connector.limit, connector.limit_per_host) == (5, 5)
        assert (session.timeout.sock_connect, session.timeout.sock_read, session.timeout.total) == (
            2.0,
            3.0,
            9.0,
        )
        assert session.auto_decompress is False
    async with open_session(settings, connection_limit=12) as session:
        assert session.connector is not None
        assert session.connector.limit == 12


# ---- against the emulator: the server-side signature check --------------------------------------------


async def test_emulator_accepts_our_signature(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory()
    creds = Credentials(emulator.access_key_id, emulator.access_key_secret)
    async with client_for(emulator.endpoint, creds=creds, wall_clock=time.time) as client:
        page = await client.list_services(limit=100, next_token=None)
        assert page.items
        service = page.items[0]["serviceName"]
        functions = await client.list_functions(service, limit=100, next_token=None)
        function = functions.items[0]["functionName"]
        await client.list_async_configs(service, function, limit=100, next_token=None)


async def test_emulator_with_sts_token(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(security_token="emulator-sts-token")
    sts = Credentials(emulator.access_key_id, emulator.access_key_secret, "emulator-sts-token")
    async with client_for(emulator.endpoint, creds=sts, wall_clock=time.time) as client:
        assert (await client.list_services(limit=10, next_token=None)).items
    no_token = Credentials(emulator.access_key_id, emulator.access_key_secret)
    async with client_for(emulator.endpoint, creds=no_token, attempts=4, wall_clock=time.time) as client:
        with pytest.raises(AuthError):
            await client.list_services(limit=10, next_token=None)


@pytest.mark.parametrize(
    ("key_id", "code"), [(None, "SignatureNotMatch"), ("AKIDUNKNOWN", "InvalidAccessKeyID")]
)
async def test_emulator_refuses_a_wrong_key(
    emulator_factory: EmulatorFactory, key_id: str | None, code: str
) -> None:
    emulator = emulator_factory()
    creds = Credentials(key_id or emulator.access_key_id, "the-wrong-secret")
    async with client_for(emulator.endpoint, creds=creds, attempts=4, wall_clock=time.time) as client:
        with pytest.raises(AuthError) as caught:
            await client.list_services(limit=10, next_token=None)
    assert caught.value.code == code
    assert creds.access_key_id in caught.value.message
    assert "the-wrong-secret" not in caught.value.message
    assert caught.value.attempts == 1


async def test_a_malformed_http_head_is_a_transport_error_that_leaks_no_header() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 10_000 + b"\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client_for(f"http://127.0.0.1:{port}", creds=STS) as client:
            with pytest.raises(TransportError) as caught:
                await configs(client)
    finally:
        server.close()
        await server.wait_closed()
    shown = "".join(traceback.format_exception(caught.value))
    assert "malformed HTTP answer" in shown
    assert TOKEN not in shown
    assert SECRET not in shown
