"""A mode for the pipeline's in-process tests: a real emulator behind, chosen answers changed in front.

``overriding(upstream, override)`` serves the four FC 2.0 listings (services, functions, configs,
triggers); each request is first offered to ``override``, which answers it itself (an FC error, a
delay, an edited page) or returns ``None`` to have it forwarded unchanged to the emulator. So a test
changes exactly one answer and the rest of the account is the emulator's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from aiohttp import web

from crawler.emulator.fc2_routes import API
from tests.support.hostile import CONFIGS_ROUTE, FUNCTIONS_ROUTE, SERVICES_ROUTE, HostileServer, Upstream

TRIGGERS_ROUTE = f"{API}/services/{{service}}/functions/{{function}}/triggers"

#: answers a request itself, or ``None``: forward it to the emulator
Override = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


def fc_error(status: int, code: str, message: str = "refused by the test server") -> web.Response:
    """An error in FC 2.0's shape."""
    body = orjson.dumps({"ErrorCode": code, "ErrorMessage": message})
    return web.Response(status=status, body=body, content_type="application/json")


async def edited(
    upstream: Upstream, request: web.Request, edit: Callable[[dict[str, Any]], None]
) -> web.Response:
    """The emulator's answer to ``request`` with its JSON body changed in place by ``edit``."""
    forwarded = await upstream.forward(request)
    page = orjson.loads(forwarded.body)
    edit(page)
    return forwarded.response(orjson.dumps(page))


def overriding(upstream: Upstream, override: Override) -> web.Application:
    """The four listings: ``override`` first, the emulator for whatever it leaves (``None``)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        answer = await override(request)
        if answer is not None:
            return answer
        return (await upstream.forward(request)).response()

    app = web.Application()
    for route in (SERVICES_ROUTE, FUNCTIONS_ROUTE, CONFIGS_ROUTE, TRIGGERS_ROUTE):
        app.router.add_get(route, handle)
    return upstream.attach(app)


@contextmanager
def fronted(endpoint: str, override: Override) -> Iterator[str]:
    """A server in front of the emulator at ``endpoint`` answering what ``override`` takes; yields its
    endpoint."""
    with HostileServer(overriding(Upstream(endpoint), override)) as server:
        yield server.endpoint


__all__ = ["TRIGGERS_ROUTE", "Override", "edited", "fc_error", "fronted", "overriding"]
