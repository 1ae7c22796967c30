"""Hostile listings: answers that look like FC's but would make a crawl lie about what it saw.

Each function builds one mode (an ``aiohttp`` application for ``HostileServer``):

* ``html_404`` / ``foreign_404``: a proxy's HTML 404, or JSON 404 whose code is not FC's "deleted" code
  (a wrong gateway or API version), on ListFunctions or the configs route; the rest forwarded upstream.
* ``empty_services``: ListServices answers ``{}`` — no ``services`` key at all.
* ``duplicated_entries``: every service listed twice, and each ListFunctions page after the first
  repeats the last function of the page before it (the same function on two pages); forwarded upstream,
  so the expected output is still the emulator's ground truth.
* ``endless_listing``: one service of ``functions`` functions whose config listings never end: every
  page is a full page of fresh configs and a fresh ``nextToken`` of ``token_bytes`` characters.
"""

from __future__ import annotations

import itertools
from typing import Literal

import orjson
from aiohttp import web

from tests.support.hostile import CONFIGS_ROUTE, FUNCTIONS_ROUTE, SERVICES_ROUTE, Upstream, fc2_app

Route = Literal["functions", "configs"]

NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


async def _forward(upstream: Upstream, request: web.Request) -> web.Response:
    return (await upstream.forward(request)).response()


def _answer_404(upstream: Upstream, route: Route, answer: web.Response | None = None) -> web.Application:
    def refused() -> web.Response:
        if answer is not None:
            return web.Response(status=answer.status, body=answer.body, content_type=answer.content_type)
        return web.Response(status=404, body=NGINX_404, content_type="text/html")

    async def forward(request: web.Request) -> web.Response:
        return await _forward(upstream, request)

    async def functions(request: web.Request) -> web.Response:
        return refused() if route == "functions" else await _forward(upstream, request)

    async def configs(request: web.Request) -> web.Response:
        return refused() if route == "configs" else await _forward(upstream, request)

    return upstream.attach(fc2_app(services=forward, functions=functions, configs=configs))


def html_404(upstream: Upstream, route: Route) -> web.Application:
    """``route`` answers nginx's HTML 404 page (a proxy in front of the wrong thing); the rest forwarded."""
    return _answer_404(upstream, route)


def foreign_404(upstream: Upstream, route: Route) -> web.Application:
    """``route`` answers a JSON 404 in FC's shape whose code says "no such API", not "deleted"."""
    body = orjson.dumps({"ErrorCode": "PathNotSupported", "ErrorMessage": "no such API: wrong version?"})
    return _answer_404(upstream, route, web.Response(status=404, body=body, content_type="application/json"))


def empty_services() -> web.Application:
    """ListServices answers ``{}``: not an empty account, a broken answer."""

    async def services(_request: web.Request) -> web.Response:
        return web.json_response({})

    async def nothing(_request: web.Request) -> web.Response:  # never reached: nothing was listed
        return web.json_response({"functions": [], "configs": []})

    return fc2_app(services=services, functions=nothing, configs=nothing)


def duplicated_entries(upstream: Upstream) -> web.Application:
    """Each service listed twice; each later ListFunctions page repeats the previous page's last function."""
    carried: dict[str, object] = {}  # nextToken -> the last function of the page that issued it

    async def services(request: web.Request) -> web.Response:
        forwarded = await upstream.forward(request)
        if forwarded.status != 200:
            return forwarded.response()
        page = orjson.loads(forwarded.body)
        page["services"] = [item for item in page.get("services", []) for _ in range(2)]
        return forwarded.response(orjson.dumps(page))

    async def functions(request: web.Request) -> web.Response:
        forwarded = await upstream.forward(request)
        if forwarded.status != 200:
            return forwarded.response()
        page = orjson.loads(forwarded.body)
        items = list(page.get("functions", []))
        sent = request.query.get("nextToken", "")
        if sent in carried:
            items.insert(0, carried[sent])
        if page.get("nextToken") and items:
            carried[page["nextToken"]] = items[-1]
        page["functions"] = items
        return forwarded.response(orjson.dumps(page))

    async def configs(request: web.Request) -> web.Response:
        return await _forward(upstream, request)

    return upstream.attach(fc2_app(services=services, functions=functions, configs=configs))


def endless_listing(*, functions: int = 8, token_bytes: int = 64, config_pad: int = 0) -> web.Application:
    """Config listings that never end: each page is ``limit`` fresh configs and a fresh token."""
    serial = itertools.count()

    async def services(_request: web.Request) -> web.Response:
        return web.json_response({"services": [{"serviceName": "endless"}]})

    async def function_list(_request: web.Request) -> web.Response:
        return web.json_response({"functions": [{"functionName": f"fn-{n}"} for n in range(functions)]})

    async def configs(request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "20"))
        page = next(serial)
        items = [
            {
                "qualifier": f"q{page}-{n}",
                "maxAsyncRetryAttempts": 1,
                "destinationConfig": {
                    "onFailure": {"destination": "acs:mns:cn-hangzhou:1:/queues/q/messages"}
                },
                **({"pad": "x" * config_pad} if config_pad else {}),
            }
            for n in range(limit)
        ]
        token = f"{page:012d}".ljust(token_bytes, "t")
        return web.Response(
            body=orjson.dumps({"configs": items, "nextToken": token}), content_type="application/json"
        )

    # tokens travel back in the query: let the request line be as long as the tokens are
    app = web.Application(handler_args={"max_line_size": 2 * token_bytes + 8190})
    app.router.add_get(SERVICES_ROUTE, services)
    app.router.add_get(FUNCTIONS_ROUTE, function_list)
    app.router.add_get(CONFIGS_ROUTE, configs)
    return app


__all__ = ["duplicated_entries", "empty_services", "endless_listing", "foreign_404", "html_404"]
