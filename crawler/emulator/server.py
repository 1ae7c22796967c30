"""Running the emulator: in the caller's event loop (``run_emulator``) or in a thread (``EmulatorThread``).

Tests need the emulator on a real socket while their own code runs: synchronous code such as the official
SDK, or async code in the test's own loop. ``EmulatorThread`` gives the server its own thread and event
loop, so both can call it; ``run_emulator`` serves from the current loop (the demo, the CLI). Both bind
127.0.0.1 on a free port unless told otherwise, and stop cleanly: stalled handlers are cancelled after a
short grace period rather than holding shutdown for the length of the stall.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from crawler.emulator.backend import Backend
from crawler.emulator.faults import FaultConfig
from crawler.emulator.gateway import EmulatorApp

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
) -> AsyncIterator[RunningEmulator]:
    """Serve ``backend`` from the current event loop for the duration of the ``async with``."""
    app = EmulatorApp(
        backend,
        faults,
        security_token=security_token,
        empty_last_token=empty_last_token,
        omit_empty_configs=omit_empty_configs,
        fc3=fc3,
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


class EmulatorThread:
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
        }
        self._startup_timeout = startup_timeout
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._running: RunningEmulator | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        where = self._running.endpoint if self._running is not None else "not started"
        return f"EmulatorThread({where})"

    def __enter__(self) -> EmulatorThread:
        self._thread = threading.Thread(target=self._main, name="fcaudit-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._startup_timeout):
            raise RuntimeError("the emulator did not start in time")
        if self._error is not None or self._running is None:
            self._thread.join()
            raise RuntimeError(f"the emulator failed to start: {self._error!r}") from self._error
        running = self._running
        self.endpoint = running.endpoint
        self.account_id = running.account_id
        self.region = running.region
        self.access_key_id = running.access_key_id
        self.access_key_secret = running.access_key_secret
        self.security_token = running.security_token
        return self

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
        async with run_emulator(self.backend, self.faults, **self._options) as running:
            self._running = running
            self._ready.set()
            await self._stop.wait()

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
