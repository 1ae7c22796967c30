"""A hostile FC server for tests: a real socket on 127.0.0.1, one *mode* per way a server misbehaves.

``HostileServer(app)`` serves any ``aiohttp.web.Application`` from its own thread and event loop (so the
crawler under test, run in-process through the CLI or ``anyio.run``, talks to it over TCP exactly as to
FC). Modes are functions returning such an application; each lives in a module of this package named
after what it attacks (``hostile/listings.py``, ...). ``Upstream`` forwards a request unchanged to a
real emulator, so a mode can misbehave on top of a faithful account: signatures stay valid (FC 2.0 signs
the method, the date, the ``x-fc-*`` headers and the path, never the host), and the expected output is the
emulator's ground truth.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp import web

from crawler.emulator.fc2_routes import API

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: the FC 2.0 listing routes a mode usually answers
SERVICES_ROUTE = f"{API}/services"
FUNCTIONS_ROUTE = f"{API}/services/{{service}}/functions"
CONFIGS_ROUTE = f"{API}/services/{{service}}/functions/{{function}}/async-invoke-configs"


def fc2_app(*, services: Handler, functions: Handler, configs: Handler) -> web.Application:
    """An application answering the three FC 2.0 listings with the given handlers."""
    app = web.Application()
    app.router.add_get(SERVICES_ROUTE, services)
    app.router.add_get(FUNCTIONS_ROUTE, functions)
    app.router.add_get(CONFIGS_ROUTE, configs)
    return app


@dataclass(frozen=True, slots=True)
class Forwarded:
    """An upstream answer, for a mode to pass on or to change."""

    status: int
    headers: dict[str, str]
    body: bytes

    def response(self, body: bytes | None = None) -> web.Response:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        return web.Response(status=self.status, headers=headers, body=self.body if body is None else body)


_HOP_BY_HOP = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}
)


class Upstream:
    """Forwards requests, unchanged, to a real emulator at ``endpoint`` (one session per server loop)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def forward(self, request: web.Request) -> Forwarded:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.get(
            f"{self.endpoint}{request.raw_path}", headers=headers, allow_redirects=False
        ) as reply:
            body = await reply.read()
            return Forwarded(reply.status, dict(reply.headers), body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def attach(self, app: web.Application) -> web.Application:
        """Close the upstream session when ``app`` shuts down; returns ``app``."""

        async def closing(_app: web.Application) -> None:
            await self.close()

        app.on_cleanup.append(closing)
        return app


class HostileServer:
    """Serve ``app`` on 127.0.0.1 from a background thread; a context manager.

    After ``__enter__``: ``endpoint`` (``http://127.0.0.1:PORT``; ``https://`` with an ``ssl_context``)
    and ``port``. ``call_soon(fn)`` runs ``fn`` on the server's loop (to change a mode's state while a
    crawl runs).
    """

    endpoint: str
    port: int

    def __init__(
        self,
        app: web.Application,
        *,
        port: int = 0,
        startup_timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._app = app
        self._ssl_context = ssl_context
        self._port = port
        self._startup_timeout = startup_timeout
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> HostileServer:
        self._thread = threading.Thread(target=self._main, name="hostile-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._startup_timeout) or self._error is not None:
            raise RuntimeError(f"the hostile server did not start: {self._error!r}") from self._error
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def call_soon(self, fn: Callable[[], None]) -> None:
        if self._loop is None:
            raise RuntimeError("the hostile server is not running")
        self._loop.call_soon_threadsafe(fn)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to __enter__, never lost in the thread
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", self._port, ssl_context=self._ssl_context)
            await site.start()
            self.port = int(runner.addresses[0][1])
            scheme = "https" if self._ssl_context is not None else "http"
            self.endpoint = f"{scheme}://127.0.0.1:{self.port}"
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()


__all__ = [
    "CONFIGS_ROUTE",
    "FUNCTIONS_ROUTE",
    "SERVICES_ROUTE",
    "Forwarded",
    "Handler",
    "HostileServer",
    "Upstream",
    "fc2_app",
]
