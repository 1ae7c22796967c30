"""Running the emulator: in the caller's event loop (``run_emulator``) or in a thread (``EmulatorThread``);
and its identity side — STS, the ECS metadata server and a credentials URI over one identity registry —
the same two ways (``run_identity``, ``IdentityThread``), each server on its own port.

Tests need the emulator on a real socket while their own code runs: synchronous code such as the official
SDK, or async code in the test's own loop. ``EmulatorThread`` gives the server its own thread and event
loop, so both can call it; ``run_emulator`` serves from the current loop (the demo, the CLI). Both bind
127.0.0.1 on a free port unless told otherwise, and stop cleanly: stalled handlers are cancelled after a
short grace period rather than holding shutdown for the length of the stall.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from crawler.emulator.backend import Backend
from crawler.emulator.faults import FaultConfig, Quota
from crawler.emulator.gateway import EmulatorApp
from crawler.emulator.metadata_routes import CredentialsUriApi, ImdsApi
from crawler.emulator.ram import IdentityRegistry
from crawler.emulator.sts_routes import StsApi

T = TypeVar("T")


class RunningEmulator:
    """A serving emulator: where it listens, the account it serves and the credentials it accepts."""

    def __init__(self, app: EmulatorApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.endpoint = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        self.backend = app.backend
        self.account_id = app.backend.account_id
        self.region = app.backend.region
        self.access_key_id = app.access_key_id
        self.access_key_secret = app.access_key_secret
        self.security_token = app.security_token

    def __repr__(self) -> str:
        return f"RunningEmulator(endpoint={self.endpoint!r}, account_id={self.account_id!r})"

    def stats(self) -> dict[str, Any]:
        """What ``GET /_emulator/stats`` answers (call from the emulator's own loop)."""
        return self.app.stats.snapshot()


@asynccontextmanager
async def run_emulator(
    backend: Backend,
    faults: FaultConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    security_token: str | None = None,
    empty_last_token: bool = True,
    omit_empty_configs: bool = False,
    fc3: bool = True,
    shutdown_timeout: float = 0.5,
    identity: IdentityRegistry | None = None,
    quota: Quota | None = None,
) -> AsyncIterator[RunningEmulator]:
    """Serve ``backend`` from the current event loop for the duration of the ``async with``;
    ``identity``: also accept the estate's RAM user keys and issued sessions for this account;
    ``quota``: one quota shared with other emulators on the same loop (an account-wide quota), in
    place of the one ``faults`` describes."""
    app = EmulatorApp(
        backend,
        faults,
        security_token=security_token,
        empty_last_token=empty_last_token,
        omit_empty_configs=omit_empty_configs,
        fc3=fc3,
        identity=identity,
        quota=quota,
    )
    runner = web.AppRunner(
        app.build(), access_log=None, handler_cancellation=True, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = int(runner.addresses[0][1])
        yield RunningEmulator(app, host, bound_port)
    finally:
        await runner.cleanup()


class _ServingThread:
    """Servers run by an ``async with`` block, in a background thread with its own event loop: the
    thread, the start-up hand-shake (errors reach ``__enter__``, never lost in the thread) and the stop."""

    def __init__(self, thread_name: str, what: str, startup_timeout: float) -> None:
        self._thread_name = thread_name
        self._what = what
        self._startup_timeout = startup_timeout
        self._ready = threading.Event()
        self._started_ok = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def _serving(self) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    def _started(self, running: Any) -> None:
        raise NotImplementedError

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._main, name=self._thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(self._startup_timeout):
            raise RuntimeError(f"{self._what} did not start in time")
        if self._error is not None or not self._started_ok:
            self._thread.join()
            raise RuntimeError(f"{self._what} failed to start: {self._error!r}") from self._error

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join()

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
        async with self._serving() as running:
            self._started(running)
            self._started_ok = True
            self._ready.set()
            await self._stop.wait()


class EmulatorThread(_ServingThread):
    """The emulator in a background thread with its own event loop; a context manager.

    After ``__enter__``: ``endpoint``, ``account_id``, ``region``, ``access_key_id``,
    ``access_key_secret``, ``security_token``, ``backend`` and ``stats()``.
    """

    endpoint: str
    account_id: str
    region: str
    access_key_id: str
    access_key_secret: str
    security_token: str | None

    def __init__(
        self,
        backend: Backend,
        faults: FaultConfig | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        security_token: str | None = None,
        empty_last_token: bool = True,
        omit_empty_configs: bool = False,
        fc3: bool = True,
        startup_timeout: float = 10.0,
        identity: IdentityRegistry | None = None,
    ) -> None:
        self.backend = backend
        self.faults = faults
        self._options: dict[str, Any] = {
            "host": host,
            "port": port,
            "security_token": security_token,
            "empty_last_token": empty_last_token,
            "omit_empty_configs": omit_empty_configs,
            "fc3": fc3,
            "identity": identity,
        }
        self._running: RunningEmulator | None = None
        super().__init__("fcaudit-emulator", "the emulator", startup_timeout)

    def __repr__(self) -> str:
        where = self._running.endpoint if self._running is not None else "not started"
        return f"EmulatorThread({where})"

    def __enter__(self) -> EmulatorThread:
        self._start()
        running = self._running
        assert running is not None  # _start() raised otherwise
        self.endpoint = running.endpoint
        self.account_id = running.account_id
        self.region = running.region
        self.access_key_id = running.access_key_id
        self.access_key_secret = running.access_key_secret
        self.security_token = running.security_token
        return self

    def _serving(self) -> AbstractAsyncContextManager[Any]:
        return run_emulator(self.backend, self.faults, **self._options)

    def _started(self, running: Any) -> None:
        self._running = running

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop thread (safe access to the backend while serving)."""
        if self._loop is None:
            raise RuntimeError("the emulator is not running")

        async def invoke() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout=30)

    def stats(self) -> dict[str, Any]:
        """The same JSON as ``GET /_emulator/stats``, read on the emulator's own loop."""
        running = self._running
        if running is None:
            raise RuntimeError("the emulator is not running")
        return self.call(running.stats)


# --- the identity side: STS, and the metadata and credentials-URI servers ------------------------------
@asynccontextmanager
async def serve_app(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float = 0.5,
) -> AsyncIterator[str]:
    """Serve ``app`` from the current loop; yields its base URL (``http://127.0.0.1:PORT``)."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound_port = int(runner.addresses[0][1])
        scheme = "https" if ssl_context is not None else "http"
        yield f"{scheme}://{host if ':' not in host else f'[{host}]'}:{bound_port}"
    finally:
        await runner.cleanup()


@dataclass(frozen=True, slots=True)
class RunningIdentity:
    """Where the identity servers listen: STS always; IMDS and the credentials URI when asked for."""

    registry: IdentityRegistry
    sts_endpoint: str
    sts: StsApi
    metadata_url: str | None = None
    imds: ImdsApi | None = None
    credentials_uri: str | None = None
    uri: CredentialsUriApi | None = None


@asynccontextmanager
async def run_identity(
    registry: IdentityRegistry,
    *,
    imds: ImdsApi | None = None,
    uri: CredentialsUriApi | None = None,
    host: str = "127.0.0.1",
    sts_ssl: ssl.SSLContext | None = None,
) -> AsyncIterator[RunningIdentity]:
    """Serve STS over ``registry`` (plus ``imds`` and ``uri`` when given), each on its own free port."""
    sts = StsApi(registry)  # signature clock skew against the real time; expiry on the registry clock
    async with AsyncExitStack() as stack:
        sts_url = await stack.enter_async_context(serve_app(sts.build(), host=host, ssl_context=sts_ssl))
        imds_url = await stack.enter_async_context(serve_app(imds.build(), host=host)) if imds else None
        uri_url = None
        if uri is not None:
            base = await stack.enter_async_context(serve_app(uri.build(), host=host))
            uri_url = base + uri.path
        yield RunningIdentity(registry, sts_url, sts, imds_url, imds, uri_url, uri)


class IdentityThread(_ServingThread):
    """``run_identity`` in a background thread with its own loop; a context manager for tests.

    After ``__enter__``: ``sts_endpoint``, ``metadata_url``, ``credentials_uri`` (``None``: not served)."""

    sts_endpoint: str
    metadata_url: str | None
    credentials_uri: str | None

    def __init__(
        self,
        registry: IdentityRegistry,
        *,
        imds: ImdsApi | None = None,
        uri: CredentialsUriApi | None = None,
        sts_ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.registry = registry
        self._options: dict[str, Any] = {"imds": imds, "uri": uri, "sts_ssl": sts_ssl}
        super().__init__("fcaudit-identity", "the identity servers", 10.0)

    def __repr__(self) -> str:
        return f"IdentityThread({getattr(self, 'sts_endpoint', 'not started')})"

    def __enter__(self) -> IdentityThread:
        self._start()
        return self

    def _serving(self) -> AbstractAsyncContextManager[Any]:
        return run_identity(self.registry, **self._options)

    def _started(self, running: Any) -> None:
        self.sts_endpoint = running.sts_endpoint
        self.metadata_url = running.metadata_url
        self.credentials_uri = running.credentials_uri
