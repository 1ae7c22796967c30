"""Hostile modes for refusals and outages: an endpoint that goes dark for a moment, a policy that denies
one function, a target whose credentials are refused.

* ``forwarding(upstream)`` passes every request to a real emulator; served by ``RestartingServer`` it
  can stop listening for a while (``go_dark``: the port refuses connections, open ones are dropped) and
  listen again on the same port — a one-second outage of a real endpoint.
* ``denying(upstream, pairs)`` answers 403 ``AccessDenied`` for the listed (service, function) pairs'
  configs, as a resource-scoped RAM policy does (or any other status and code: a function that fails),
  and forwards everything else.
* ``refusing(code)`` answers every request 403 with a credential code (``InvalidAccessKeyId``,
  ``SignatureNotMatch``, ...): a whole target whose key is refused.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import orjson
from aiohttp import web

from tests.support.hostile import HostileServer, Upstream


def forwarding(
    upstream: Upstream, *, go_dark_after: int | None = None, dark_seconds: float = 1.0
) -> web.Application:
    """Forward every request unchanged. With ``go_dark_after`` N, the N-th request starts an outage of
    ``dark_seconds`` on the ``RestartingServer`` serving the app (``app[SERVER]``)."""
    seen = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal seen
        seen += 1
        server = request.app.get(SERVER)
        if server is not None and server.is_dark and request.transport is not None:
            # a connection the listener accepted just before it stopped (or kept alive through the
            # outage): dropped, as the real endpoint's would be
            request.transport.abort()
            raise web.HTTPServiceUnavailable()
        if go_dark_after is not None and seen == go_dark_after and server is not None:
            server.is_dark = True  # from this request on, whatever the event loop runs first
            asyncio.get_running_loop().create_task(server.dark(dark_seconds))
        return (await upstream.forward(request)).response()

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return upstream.attach(app)


def denying(
    upstream: Upstream,
    pairs: set[tuple[str, str]],
    *,
    status: int = 403,
    code: str = "AccessDenied",
) -> web.Application:
    """``status`` ``code`` (403 ``AccessDenied``: a resource-scoped RAM policy) on the config listings of
    the (service, function) ``pairs``; everything else forwarded. ``pairs`` is read on every request, so
    a test can empty it to lift the refusal."""

    async def handler(request: web.Request) -> web.StreamResponse:
        parts = request.path.split("/")
        # /2016-08-15/services/{service}/functions/{function}/async-invoke-configs
        if len(parts) == 7 and parts[-1] == "async-invoke-configs" and (parts[3], parts[5]) in pairs:
            body = {"ErrorCode": code, "ErrorMessage": f"{code} on this function (hostile mode)"}
            return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
        return (await upstream.forward(request)).response()

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return upstream.attach(app)


def refusing(code: str = "InvalidAccessKeyId") -> web.Application:
    """Every request refused with a 403 naming a credential code; counts them in ``app[REQUESTS]``."""
    app = web.Application()
    app[REQUESTS] = tally = Tally()

    async def handler(request: web.Request) -> web.StreamResponse:
        tally.requests += 1
        body = {"ErrorCode": code, "ErrorMessage": f"{code}: the credentials are not accepted"}
        return web.Response(status=403, body=orjson.dumps(body), content_type="application/json")

    app.router.add_get("/{tail:.*}", handler)
    return app


@dataclass
class Tally:
    requests: int = 0


class RestartingServer(HostileServer):
    """A ``HostileServer`` that can stop listening and listen again on the same port (``dark``)."""

    def __init__(self, app: web.Application) -> None:
        super().__init__(app)
        app[SERVER] = self
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.outages = 0
        self.back = threading.Event()
        #: while true every request that still reaches the app has its connection dropped
        self.is_dark = False

    def __enter__(self) -> RestartingServer:
        super().__enter__()
        return self

    async def dark(self, seconds: float) -> None:
        """Refuse connections for ``seconds`` (open ones dropped), then serve again on the same port."""
        assert self._runner is not None
        assert self._site is not None
        self.outages += 1
        self.is_dark = True
        self.back.clear()
        await self._site.stop()
        server = self._runner.server
        if server is not None:
            for connection in list(server.connections):
                connection.force_close()
                if connection.transport is not None:
                    connection.transport.abort()
        await asyncio.sleep(seconds)
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        self.is_dark = False
        self.back.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        try:
            self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await self._site.start()
            self.port = int(self._runner.addresses[0][1])
            self.endpoint = f"http://127.0.0.1:{self.port}"
            self._ready.set()
            await self._stop.wait()
        finally:
            await self._runner.cleanup()


#: the ``RestartingServer`` serving an app, and how many requests ``refusing`` refused
SERVER = web.AppKey("server", RestartingServer)
REQUESTS = web.AppKey("requests", Tally)

__all__ = ["REQUESTS", "SERVER", "RestartingServer", "Tally", "denying", "forwarding", "refusing"]
