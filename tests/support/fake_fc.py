"""A loopback HTTP server whose every answer a client test chooses, the answers it serves, and an
``FcClient`` on top of it: the fake FC the wire tests share."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from aiohttp import web

from crawler.settings.config import CrawlSettings
from crawler.settings.credentials import Credentials
from crawler.wire.credential_provider import CredentialProvider, StaticProvider
from crawler.wire.fc2_client import FcClient
from crawler.wire.models import ClientOptions, Page
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.run_stats import RunStats
from crawler.wire.transport import Transport, open_session

SECRET = "client-test-secret-XYZ"
TOKEN = "client-test-sts-token-ABC"
CREDS = Credentials("AKIDTEST", SECRET)
STS = Credentials("AKIDTEST", SECRET, TOKEN)
NOW = 1_700_000_000.0
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    raw_path: str
    headers: dict[str, str]


@dataclass
class FakeServer:
    """A loopback HTTP server whose every answer the test chooses; it records what it was sent."""

    endpoint: str = ""
    seen: list[Seen] = field(default_factory=list)
    answers: list[Handler] = field(default_factory=list)
    served: list[int] = field(default_factory=list)  # the HTTP status of each answer, in order

    def answer(self, *handlers: Handler) -> None:
        self.answers = list(handlers)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.seen.append(Seen(request.raw_path, dict(request.headers)))
        handler = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        response = await handler(request)
        self.served.append(response.status)
        return response


def json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")
        response.headers.update(headers or {})
        response.headers["X-Fc-Request-Id"] = "req-42"
        return response

    return handler


def raw(body: bytes, status: int = 200) -> Handler:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(body=body, status=status, headers={"X-Fc-Request-Id": "req-raw"})

    return handler


async def reset(request: web.BaseRequest) -> web.StreamResponse:
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return web.Response()


async def hang_up(request: web.BaseRequest) -> web.StreamResponse:
    """Close the connection without an answer (aiohttp: ServerDisconnectedError)."""
    assert request.transport is not None
    request.transport.close()
    return web.Response()


async def garbage(request: web.BaseRequest) -> web.StreamResponse:
    """An answer whose status line is not HTTP (aiohttp: ClientResponseError)."""
    assert request.transport is not None
    request.transport.write(b"HTTP/1.1 abc nonsense\r\n\r\n")
    request.transport.close()
    return web.Response()


async def truncated(request: web.BaseRequest) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    response.content_length = 1000
    await response.prepare(request)
    await response.write(b'{"configs": [')
    assert request.transport is not None
    request.transport.close()
    return response


async def stall(request: web.BaseRequest) -> web.StreamResponse:
    await asyncio.sleep(1.0)
    return web.Response(body=b"{}")


async def endless(request: web.BaseRequest) -> web.StreamResponse:
    response = web.StreamResponse(status=200)  # chunked, no Content-Length
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        for _ in range(64):
            await response.write(b" " * 65536)
    return response


@contextlib.asynccontextmanager
async def client_for(
    endpoint: str,
    *,
    creds: Credentials = CREDS,
    provider: CredentialProvider | None = None,
    attempts: int = 1,
    stats: RunStats | None = None,
    wall_clock: Callable[[], float] = lambda: NOW,
    **settings: Any,
) -> AsyncIterator[FcClient]:
    crawl = CrawlSettings(**settings)
    retry = RetryPolicy(attempts, 0.001, 0.005, RetryBudget(100), random.Random(3).random, anyio.sleep)
    async with open_session(crawl) as session:
        options = ClientOptions(
            endpoint=endpoint,
            account="1234567890123456",
            region="cn-hangzhou",
            credentials=provider if provider is not None else StaticProvider(creds),
            limiter=RateLimiter(1000.0, 4),
            retry=retry,
            stats=stats if stats is not None else RunStats(),
            settings=crawl,
            wall_clock=wall_clock,
        )
        yield FcClient(Transport(session, options))


async def configs(
    client: FcClient, service: str = "svc", function: str = "fn", token: str | None = None
) -> Page:
    return await client.list_async_configs(service, function, limit=100, next_token=token)


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[FakeServer]:
    """A ``FakeServer`` listening on 127.0.0.1 until the block ends."""
    server = FakeServer()
    # the low-level server has no router, so any path reaches the handler, however odd
    runner = web.ServerRunner(web.Server(server.handle), shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.endpoint = f"http://{host}:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
