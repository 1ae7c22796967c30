"""Hostile modes for "no single value can crash a run" (issue 12, part 2).

``deep_config(depth)``: an account of one service and a few functions, every one with one ordinary config
except ``deep``, whose config holds a ``destinationConfig`` nested ``depth`` levels deep. The body is
built as text: orjson (which the crawler parses with, up to 1,024 levels) cannot write it past ~254.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from tests.support.hostile import fc2_app

ORDINARY = {"qualifier": "LATEST", "maxAsyncRetryAttempts": 3, "maxAsyncEventAgeInSeconds": 3600}


def nested_json(depth: int, *, arrays: bool = False) -> bytes:
    """JSON nested ``depth`` levels deep: ``{"x":{"x":...1...}}``, or ``[[...[1]...]]`` with ``arrays``."""
    if arrays:
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"x":' * (depth - 1) + b'{"x":1}' + b"}" * (depth - 1)


def deep_config(depth: int, *, functions: int = 6, deep: str = "f3") -> web.Application:
    names = [f"f{i}" for i in range(functions)]
    deep_body = (
        b'{"configs":[{"qualifier":"LATEST","maxAsyncRetryAttempts":3,"destinationConfig":'
        + nested_json(depth)
        + b"}]}"
    )

    async def services(_request: web.Request) -> web.Response:
        return web.json_response({"services": [{"serviceName": "svc"}]})

    async def functions_(_request: web.Request) -> web.Response:
        return web.json_response({"functions": [{"functionName": name} for name in names]})

    async def configs(request: web.Request) -> web.Response:
        if request.match_info["function"] == deep:
            return web.Response(body=deep_body, content_type="application/json")
        return web.Response(body=orjson.dumps({"configs": [ORDINARY]}), content_type="application/json")

    return fc2_app(services=services, functions=functions_, configs=configs)
