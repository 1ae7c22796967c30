"""The emulator's HTTP front: one aiohttp application over one ``Backend``, the FC 2.0 routes
(``fc2_routes``) and FC 3.0's (``fc3_routes``, under ``/2023-03-30``) behind one middleware.

The middleware wraps every API request: count it, give it an ``X-Fc-Request-Id``, apply the quota and
latency, verify the signature (FC 2.0's gate, ``auth``, or ACS3 for FC 3.0), inject the generic faults,
and turn ``EmulatorApiError`` into the called API's error shape (``api_errors``: ``ErrorCode``/
``ErrorMessage`` for FC 2.0, ``Code``/``Message``/``RequestId`` for FC 3.0). ``GET /_emulator/stats`` is
unsigned and answers loopback clients only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import itertools
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from crawler.emulator import api_errors
from crawler.emulator.api_errors import EmulatorApiError
from crawler.emulator.auth import RequestVerifier
from crawler.emulator.backend import Backend
from crawler.emulator.faults import FaultConfig, FaultInjector, FaultKind, Quota
from crawler.emulator.fc2_routes import BODYLESS_ROUTES, Fc2Api
from crawler.emulator.fc3_routes import FC3_API, Acs3Verifier, Fc3Api
from crawler.emulator.paging import TokenCodec
from crawler.emulator.ram import IdentityRegistry
from crawler.emulator.responses import api_error_response, json_response
from crawler.emulator.served_stats import ServerStats

STATS_PATH: Final = "/_emulator/stats"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(remote: str | None) -> bool:
    """Whether a peer address is this host (IPv4, IPv6, or IPv4-mapped IPv6 loopback)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _body_bytes(response: web.Response) -> bytes:
    body = response.body
    return bytes(body) if isinstance(body, bytes | bytearray) else b""


def is_fc3(path: str) -> bool:
    return path == FC3_API or path.startswith(FC3_API + "/")


class EmulatorApp:
    """Builds the aiohttp application over one ``Backend`` and one set of knobs."""

    def __init__(
        self,
        backend: Backend,
        faults: FaultConfig | None = None,
        *,
        security_token: str | None = None,
        empty_last_token: bool = True,
        omit_empty_configs: bool = False,
        fc3: bool = True,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        token_key: bytes | None = None,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        identity: IdentityRegistry | None = None,
        quota: Quota | None = None,
    ) -> None:
        self.backend = backend
        #: the estate's users, roles and issued sessions: their keys are accepted for this account only
        self.identity = identity
        self.faults = faults if faults is not None else FaultConfig()
        self.access_key_id = access_key_id or backend.access_key_id
        self.access_key_secret = access_key_secret or backend.access_key_secret
        self.security_token = security_token
        self.empty_last_token = empty_last_token
        self.omit_empty_configs = omit_empty_configs
        #: serve FC 3.0 too; ``False`` emulates an endpoint that only speaks FC 2.0 (404 under /2023-03-30)
        self.serves_fc3 = fc3
        self.stats = ServerStats(clock)
        self.injector = FaultInjector(self.faults, clock, quota)  # quota: shared with other endpoints
        gate: dict[str, Any] = {
            "security_token": security_token,
            "wall_clock": wall_clock,
            "identity": identity,
            "account_id": backend.account_id,
        }
        self.verifier = RequestVerifier({self.access_key_id: self.access_key_secret}, **gate)
        self.fc3_verifier = Acs3Verifier({self.access_key_id: self.access_key_secret}, **gate)
        seed_text = f"fcaudit-emulator:{backend.seed}:{backend.account_id}"
        token_key = token_key or hashlib.sha256(seed_text.encode()).digest()
        self.fc2 = Fc2Api(
            backend,
            TokenCodec(token_key),
            self.injector,
            self.stats,
            empty_last_token=empty_last_token,
            omit_empty_configs=omit_empty_configs,
            wall_clock=wall_clock,
        )
        # FC 3.0 signs its nextToken: its tokens hold + / = $ (paging.RESERVED_MARK)
        self.fc3 = Fc3Api(backend, TokenCodec(token_key, reserved=True), empty_last_token=empty_last_token)
        self._ids = itertools.count(1)
        rid = f"{random.Random(seed_text).getrandbits(80):020x}"
        self._rid_prefix = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-"

    def __repr__(self) -> str:  # never the secret or the token
        return f"EmulatorApp(account_id={self.backend.account_id!r}, access_key_id={self.access_key_id!r})"

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 20)
        app.router.add_route("GET", STATS_PATH, self.stats_handler, name="EmulatorStats")
        self.fc2.add_routes(app)
        if self.serves_fc3:
            self.fc3.add_routes(app)
        return app

    # --- the common path -----------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == STATS_PATH:
            return await handler(request)
        self.stats.on_arrival()
        route = request.match_info.route.name or "Unknown"
        request_id = f"{self._rid_prefix}{next(self._ids):012x}"
        outcome = "500"  # an unexpected exception: aiohttp answers 500
        try:
            response, outcome = await self._serve(request, handler, route, request_id)
        except EmulatorApiError as exc:
            response = self._error(exc, request_id, request.path)
            outcome = str(exc.http)
        except asyncio.CancelledError:  # the client went away mid-answer (a stall, a timeout)
            outcome = "client-gone"
            raise
        finally:
            self.stats.on_outcome(route, outcome)
        return response

    def _error(self, exc: EmulatorApiError, request_id: str, path: str = "") -> web.Response:
        """The error in the shape of the API that was called: FC 3.0's under ``/2023-03-30``."""
        return api_error_response(exc, request_id, fc3=is_fc3(path))

    async def _serve(
        self, request: web.Request, handler: Handler, route: str, request_id: str
    ) -> tuple[web.StreamResponse, str]:
        arrival = self.injector.arrival_delay()
        if arrival > 0:
            await asyncio.sleep(arrival)
        wait = self.injector.admit()
        if wait is not None:
            self.stats.on_throttled()
            raise api_errors.throttled(self.faults.throttle_status, self.injector.retry_headers(wait))
        delay = self.injector.latency()
        if delay > 0:
            await asyncio.sleep(delay)
        if is_fc3(request.path):
            await self.fc3_verifier.verify_request(request)
        else:
            self.verifier.verify(request.method, request.path, request.headers)
        unmatched = request.match_info.http_exception
        if unmatched is not None:
            raise api_errors.unmatched_route(unmatched.status, request.method, request.path)
        fault = self.injector.draw_generic()
        if fault in (FaultKind.TRUNCATED, FaultKind.MALFORMED) and route in BODYLESS_ROUTES:
            fault = None
        if fault is not None:
            self.stats.on_fault(fault)
            if fault is FaultKind.HTTP_500:
                raise api_errors.injected_internal_error()
            if fault is FaultKind.HTTP_503:
                raise api_errors.injected_unavailable()
            if fault is FaultKind.RESET:
                self._reset(request)
                return web.Response(status=500), "reset"
            if fault is FaultKind.STALL:
                await asyncio.sleep(self.faults.stall_seconds)
        try:
            response = await handler(request)
        except EmulatorApiError as exc:
            response = self._error(exc, request_id, request.path)
        response.headers["X-Fc-Request-Id"] = request_id
        if fault is FaultKind.TRUNCATED and isinstance(response, web.Response):
            return await self._truncate(request, response), "truncated"
        if fault is FaultKind.MALFORMED and isinstance(response, web.Response):
            body = _body_bytes(response) or b"{}"
            response.body = body[: max(1, len(body) // 2)]
        return response, str(response.status)

    @staticmethod
    def _reset(request: web.Request) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0), before any byte of the answer."""
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    @staticmethod
    async def _truncate(request: web.Request, full: web.Response) -> web.StreamResponse:
        """Declare the full length plus some, send half the body, then close the connection."""
        body = _body_bytes(full)
        partial = web.StreamResponse(status=full.status, headers=full.headers)
        partial.content_length = len(body) + 64
        await partial.prepare(request)
        await partial.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        return partial

    # --- the emulator's own endpoint -----------------------------------------------------------------
    async def stats_handler(self, request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.remote):
            refusal = api_errors.stats_not_loopback()
            return json_response(api_errors.fc2_body(refusal), 403)
        return json_response(self.stats.snapshot())
