"""Modes that answer one qualifier more than once within a single function's listing."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.support.hostile import fc2_app

#: function → its listing's pages; "dup" repeats ``prod`` across pages and names LATEST both as "" and
#: "LATEST" (one qualifier: the unpublished version)
DUPLICATE_PAGES: dict[str, list[list[dict[str, Any]]]] = {
    "dup": [
        [{"qualifier": "prod", "maxAsyncRetryAttempts": 1}, {"qualifier": "", "maxAsyncRetryAttempts": 2}],
        [
            {"qualifier": "prod", "maxAsyncRetryAttempts": 9},
            {"qualifier": "LATEST", "maxAsyncRetryAttempts": 8},
            {"qualifier": "v1", "maxAsyncRetryAttempts": 3},
        ],
    ],
    "plain": [[{"qualifier": "LATEST", "maxAsyncRetryAttempts": 0}]],
}


def duplicate_qualifiers() -> web.Application:
    """One service ``svc``; function ``dup``'s two-page listing holds two duplicates (``DUPLICATE_PAGES``)."""

    async def services(_request: web.Request) -> web.Response:
        return web.json_response({"services": [{"serviceName": "svc"}]})

    async def functions(_request: web.Request) -> web.Response:
        return web.json_response({"functions": [{"functionName": name} for name in DUPLICATE_PAGES]})

    async def configs(request: web.Request) -> web.Response:
        pages = DUPLICATE_PAGES[request.match_info["function"]]
        index = int(request.query.get("nextToken") or "0")
        following = str(index + 1) if index + 1 < len(pages) else ""
        return web.json_response({"configs": pages[index], "nextToken": following})

    return fc2_app(services=services, functions=functions, configs=configs)
