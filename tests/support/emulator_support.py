"""Raw, signed HTTP against the emulator for its own tests: aiohttp plus our signer, nothing else.

The emulator's tests must reach it the way any client does — over a real socket — but also send what no
well-behaved client sends (a wrong secret, an old Date, a forged token), so this helper builds the FC 2.0
headers by hand and lets each test override any part of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from crawler.emulator.server import EmulatorThread
from crawler.wire.signing import http_date
from tests.support.signing_support import fc2_authorization


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def code(self) -> str | None:
        data = self.json()
        return data.get("ErrorCode") if isinstance(data, dict) else None


def signed_headers(
    emu: EmulatorThread,
    method: str,
    path: str,
    *,
    key_id: str | None = None,
    secret: str | None = None,
    date: str | None = None,
    token: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    headers = {
        "Date": date if date is not None else http_date(time.time()),
        "Content-Type": "application/json",
    }
    if token is not None:
        headers["x-fc-security-token"] = token
    headers.update(extra or {})
    headers["Authorization"] = fc2_authorization(
        key_id or emu.access_key_id, secret or emu.access_key_secret, method, path, headers
    )
    return headers


async def request(
    session: aiohttp.ClientSession,
    emu: EmulatorThread,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    **sign: Any,
) -> Reply:
    sent = dict(headers) if headers is not None else signed_headers(emu, method, path, **sign)
    async with session.request(method, emu.endpoint + path, params=params, data=body, headers=sent) as resp:
        return Reply(resp.status, dict(resp.headers), await resp.read())


def call(emu: EmulatorThread, method: str, path: str, **kwargs: Any) -> Reply:
    """One signed request from synchronous test code (its own short-lived session and loop)."""

    async def once() -> Reply:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            return await request(session, emu, method, path, **kwargs)

    return asyncio.run(once())


def get(emu: EmulatorThread, path: str, params: Mapping[str, str] | None = None, **sign: Any) -> Reply:
    return call(emu, "GET", path, params=params, **sign)
