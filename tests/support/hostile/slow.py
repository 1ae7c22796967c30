"""Hostile modes about time and about failures that repeat: a server that trickles, one that stalls,
one that answers every call with an HTML page, and a self-signed certificate for a TLS endpoint.

Each mode answers the three FC 2.0 listings with one service ``svc``; ``functions`` names its functions
and ``slow`` those whose configs listing misbehaves (the others answer at once, with no configs). Every
request a mode receives is counted by route in ``app[HITS]``, so a test can tell how many attempts the
crawler made.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import orjson
from aiohttp import web

from tests.support.hostile import Handler, fc2_app

#: requests received, by route (``services``, ``functions``, ``configs``)
HITS = web.AppKey("hits", Counter[str])

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Sign in to continue</body></html>"
)


def _listing_app(
    functions: Sequence[str],
    slow: Sequence[str],
    misbehave: Handler,
) -> web.Application:
    hits: Counter[str] = Counter()

    async def services(_request: web.Request) -> web.Response:
        hits["services"] += 1
        return web.json_response({"services": [{"serviceName": "svc"}]})

    async def listed(_request: web.Request) -> web.Response:
        hits["functions"] += 1
        return web.json_response({"functions": [{"functionName": name} for name in functions]})

    async def configs(request: web.Request) -> web.StreamResponse:
        hits["configs"] += 1
        if request.match_info["function"] in slow:
            return await misbehave(request)
        return web.json_response({"configs": []})

    app = fc2_app(services=services, functions=listed, configs=configs)
    app[HITS] = hits
    return app


def trickle(
    functions: Sequence[str] = ("fn",), *, slow: Sequence[str] = ("fn",), interval: float = 0.05
) -> web.Application:
    """The configs of ``slow`` functions come one byte every ``interval`` seconds: each byte arrives well
    inside any read timeout, so only a deadline on the whole exchange ends the answer (about 60 bytes:
    a whole answer takes 60 intervals)."""
    body = orjson.dumps({"configs": [], "nextToken": None, "padding": "x" * 20})

    async def misbehave(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        try:
            for byte in body:
                await response.write(bytes([byte]))
                await asyncio.sleep(interval)
        except ConnectionError:  # the client gave up: what this mode is for
            pass
        return response

    return _listing_app(functions, slow, misbehave)


def stall(functions: Sequence[str] = ("fn",), *, slow: Sequence[str] = ("fn",)) -> web.Application:
    """The configs of ``slow`` functions never come: the request is read, and no byte is ever sent."""

    async def misbehave(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable: the client or the server's shutdown ends the wait")

    return _listing_app(functions, slow, misbehave)


def html_pages() -> web.Application:
    """Every call answered 200 with an HTML page (a captive portal or a proxy's sign-in page)."""
    hits: Counter[str] = Counter()

    async def page(request: web.Request) -> web.Response:
        hits[request.path.rsplit("/", 1)[-1]] += 1
        return web.Response(status=200, body=HTML_PAGE, content_type="text/html")

    app = fc2_app(services=page, functions=page, configs=page)
    app[HITS] = hits
    return app


def self_signed_context(directory: Path) -> ssl.SSLContext | None:
    """A server TLS context with a certificate for 127.0.0.1 signed by nobody the client trusts, made by
    ``openssl``; ``None`` when ``openssl`` is not installed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


__all__ = ["HITS", "HTML_PAGE", "html_pages", "self_signed_context", "stall", "trickle"]
