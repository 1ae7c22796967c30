"""The emulator's HTTP face: aiohttp.web routes for the FC 2.0 async-invoke-config API (and FC 3.0's
account-wide listing, ``crawler.emulator.fc3_routes``, under ``/2023-03-30``).

Handlers stay thin — verify, parse, ask the backend, serialise with orjson — so the server is fast enough
to load-test a crawler and every rule lives in one place (backend.py for state, paging.py for tokens,
auth.py for signatures, faults.py for misbehaviour). One middleware wraps every API request: count it,
give it an ``X-Fc-Request-Id``, apply the quota and latency, verify the signature, inject the generic
faults, and turn ``EmulatorApiError`` into the FC error shape (``ErrorCode``/``ErrorMessage``). FC 3.0
requests take the same path but are verified with ACS3 and answered in FC 3.0's error shape
(``Code``/``Message``/``RequestId``).
``GET /_emulator/stats`` is unsigned and answers loopback clients only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import ipaddress
import itertools
import random
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import orjson
from aiohttp import web

from crawler.emulator.auth import RequestVerifier
from crawler.emulator.backend import Backend, EmulatorApiError, iso
from crawler.emulator.faults import FaultConfig, FaultInjector, FaultKind
from crawler.emulator.fc3_routes import FC3_API, Acs3Verifier, Fc3Api, fc3_error
from crawler.emulator.paging import TokenCodec, listing_identity, parse_limit, select_page
from crawler.emulator.responses import error_response, json_response
from crawler.emulator.served_stats import ServerStats
from crawler.wire.signing import FC2_API_VERSION

API: Final = f"/{FC2_API_VERSION}"
STATS_PATH: Final = "/_emulator/stats"
QUALIFIER_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
RANGES: Final = {"maxAsyncRetryAttempts": (0, 8), "maxAsyncEventAgeInSeconds": (1, 2592000)}
BODYLESS_ROUTES: Final = frozenset({"DeleteFunctionAsyncInvokeConfig"})
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


def _invalid(message: str) -> EmulatorApiError:
    return EmulatorApiError(400, "InvalidArgument", message)


def validate_config_body(raw: bytes) -> dict[str, Any]:
    """The fields of a PutFunctionAsyncInvokeConfig body, range-checked like the real service."""
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise _invalid("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _invalid("the request body must be a JSON object")
    fields: dict[str, Any] = {}
    for name, (low, high) in RANGES.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise _invalid(f"{name} must be an integer between {low} and {high}, got {value!r}")
        fields[name] = value
    stateful = body.get("statefulInvocation")
    if stateful is not None:
        if not isinstance(stateful, bool):
            raise _invalid(f"statefulInvocation must be true or false, got {stateful!r}")
        fields["statefulInvocation"] = stateful
    destinations = body.get("destinationConfig")
    if destinations is not None:
        if not isinstance(destinations, dict) or not set(destinations) <= {"onSuccess", "onFailure"}:
            raise _invalid("destinationConfig must be an object with onSuccess and/or onFailure")
        clean: dict[str, Any] = {}
        for side in ("onSuccess", "onFailure"):
            target = destinations.get(side)
            if target is None:
                continue
            arn = target.get("destination") if isinstance(target, dict) else None
            if not isinstance(arn, str) or not arn.startswith("acs:") or arn.count(":") < 4:
                raise _invalid(f"destinationConfig.{side}.destination must be an acs: ARN, got {arn!r}")
            clean[side] = {"destination": arn}
        fields["destinationConfig"] = clean
    return fields


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
    ) -> None:
        self.backend = backend
        self.faults = faults if faults is not None else FaultConfig()
        self.access_key_id = access_key_id or backend.access_key_id
        self.access_key_secret = access_key_secret or backend.access_key_secret
        self.security_token = security_token
        self.empty_last_token = empty_last_token
        self.omit_empty_configs = omit_empty_configs
        #: serve FC 3.0 too; ``False`` emulates an endpoint that only speaks FC 2.0 (404 under /2023-03-30)
        self.serves_fc3 = fc3
        self.stats = ServerStats(clock)
        self.injector = FaultInjector(self.faults, clock)
        self.verifier = RequestVerifier(
            {self.access_key_id: self.access_key_secret}, security_token=security_token, wall_clock=wall_clock
        )
        self.fc3_verifier = Acs3Verifier(
            {self.access_key_id: self.access_key_secret}, security_token=security_token, wall_clock=wall_clock
        )
        seed_text = f"fcaudit-emulator:{backend.seed}:{backend.account_id}"
        token_key = token_key or hashlib.sha256(seed_text.encode()).digest()
        self.codec = TokenCodec(token_key)
        # FC 3.0 signs its nextToken: its tokens hold + / = $ (paging.RESERVED_MARK)
        self.fc3 = Fc3Api(backend, TokenCodec(token_key, reserved=True), empty_last_token=empty_last_token)
        self._wall_clock = wall_clock
        self._ids = itertools.count(1)
        rid = f"{random.Random(seed_text).getrandbits(80):020x}"
        self._rid_prefix = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-"

    def __repr__(self) -> str:  # never the secret or the token
        return f"EmulatorApp(account_id={self.backend.account_id!r}, access_key_id={self.access_key_id!r})"

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 20)
        add = app.router.add_route
        add("GET", STATS_PATH, self.stats_handler, name="EmulatorStats")
        add("GET", f"{API}/services", self.list_services, name="ListServices")
        add("GET", f"{API}/services/{{service}}/functions", self.list_functions, name="ListFunctions")
        configs = f"{API}/services/{{service}}/functions/{{function}}/async-invoke-configs"
        add("GET", configs, self.list_configs, name="ListFunctionAsyncInvokeConfigs")
        one = f"{API}/services/{{target}}/functions/{{function}}/async-invoke-config"
        add("GET", one, self.get_config, name="GetFunctionAsyncInvokeConfig")
        add("PUT", one, self.put_config, name="PutFunctionAsyncInvokeConfig")
        add("DELETE", one, self.delete_config, name="DeleteFunctionAsyncInvokeConfig")
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
        if is_fc3(path):
            return fc3_error(exc, request_id)
        return error_response({"ErrorCode": exc.code, "ErrorMessage": exc.message}, exc, request_id)

    async def _serve(
        self, request: web.Request, handler: Handler, route: str, request_id: str
    ) -> tuple[web.StreamResponse, str]:
        wait = self.injector.admit()
        if wait is not None:
            self.stats.throttled += 1
            status = self.faults.throttle_status
            code = "ResourceExhausted" if status == 429 else "ResourceThrottled"
            hint = self.injector.retry_headers(wait)
            raise EmulatorApiError(status, code, "the request rate exceeds the API quota", hint)
        delay = self.injector.latency()
        if delay > 0:
            await asyncio.sleep(delay)
        if is_fc3(request.path):
            await self.fc3_verifier.verify_request(request)
        else:
            self.verifier.verify(request.method, request.path, request.headers)
        unmatched = request.match_info.http_exception
        if unmatched is not None:
            what = "method not allowed" if unmatched.status == 405 else "no such API"
            code = "MethodNotAllowed" if unmatched.status == 405 else "PathNotSupported"
            raise EmulatorApiError(unmatched.status, code, f"{what}: {request.method} {request.path}")
        fault = self.injector.draw_generic()
        if fault in (FaultKind.TRUNCATED, FaultKind.MALFORMED) and route in BODYLESS_ROUTES:
            fault = None
        if fault is not None:
            self.stats.on_fault(fault)
            if fault is FaultKind.HTTP_500:
                raise EmulatorApiError(500, "InternalServerError", "an internal error occurred (injected)")
            if fault is FaultKind.HTTP_503:
                raise EmulatorApiError(503, "ServiceUnavailable", "the service is unavailable (injected)")
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

    # --- listings ------------------------------------------------------------------------------------
    def _start(self, identity: bytes, query: Mapping[str, str]) -> tuple[str, str]:
        """(position to list from, the token that was sent); a token wins over ``startKey``."""
        token = query.get("nextToken") or ""
        if token:
            return self.codec.decode(identity, token), token
        return query.get("startKey", ""), ""

    def _page(
        self, key: str, items: list[Any], identity: bytes, following: str | None, sent: str
    ) -> web.Response:
        payload: dict[str, Any] = {key: items}
        next_token: str | None = "" if self.empty_last_token else None
        if following is not None:
            next_token = self.codec.encode(identity, following)
        if sent and self.injector.draw((FaultKind.REPEAT_TOKEN,)):
            self.stats.on_fault(FaultKind.REPEAT_TOKEN)
            next_token = sent
        if next_token is not None:
            payload["nextToken"] = next_token
        return json_response(payload)

    async def list_services(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        limit = parse_limit(query.get("limit"))
        prefix = query.get("prefix", "")
        identity = listing_identity("services", prefix=prefix)
        start, sent = self._start(identity, query)
        names, following = select_page(self.backend.service_names(), start=start, prefix=prefix, limit=limit)
        items = [self.backend.service_info(name) for name in names]
        return self._page("services", items, identity, following, sent)

    async def list_functions(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        service = request.match_info["service"]
        self.backend.check_allowed(service)
        limit = parse_limit(query.get("limit"))
        prefix = query.get("prefix", "")
        keys = self.backend.function_names(service)
        identity = listing_identity("functions", service, prefix=prefix)
        start, sent = self._start(identity, query)
        names, following = select_page(keys, start=start, prefix=prefix, limit=limit)
        items = [self.backend.function_info(service, name) for name in names]
        return self._page("functions", items, identity, following, sent)

    async def list_configs(self, request: web.Request) -> web.StreamResponse:
        service = request.match_info["service"]
        function = request.match_info["function"]
        self.backend.check_allowed(service, function)
        limit = parse_limit(request.query.get("limit"))
        keys = self.backend.config_keys(service, function)
        if self.injector.draw((FaultKind.DELETE,)):
            self.stats.on_fault(FaultKind.DELETE)
            if self.injector.delete_whole_service():
                self.backend.delete_service(service)
                self.stats.deleted_services += 1
                raise EmulatorApiError(404, "ServiceNotFound", f"service {service} does not exist")
            self.backend.delete_function(service, function)
            self.stats.deleted_functions += 1
            raise EmulatorApiError(404, "FunctionNotFound", f"function {function} does not exist")
        identity = listing_identity("configs", service, function)
        start, sent = self._start(identity, request.query)
        chosen, following = select_page(keys, start=start, limit=limit)
        if not keys and self.omit_empty_configs:
            return json_response({})
        items = [self.backend.config(service, function, key) for key in chosen]
        return self._page("configs", items, identity, following, sent)

    # --- one config ----------------------------------------------------------------------------------
    @staticmethod
    def _target(request: web.Request) -> tuple[str, str, str]:
        service, _, qualifier = request.match_info["target"].partition(".")
        qualifier = qualifier or request.query.get("qualifier", "") or "LATEST"
        if not QUALIFIER_RE.match(qualifier):
            raise _invalid(f"qualifier {qualifier!r} is not a version number or an alias name")
        return service, request.match_info["function"], qualifier

    async def get_config(self, request: web.Request) -> web.StreamResponse:
        service, function, qualifier = self._target(request)
        return json_response(self.backend.get_config(service, function, qualifier))

    async def put_config(self, request: web.Request) -> web.StreamResponse:
        service, function, qualifier = self._target(request)
        raw = await request.read()
        md5 = request.headers.get("Content-MD5")
        if md5 and base64.b64encode(hashlib.md5(raw).digest()).decode("ascii") != md5:
            raise _invalid("Content-MD5 does not match the request body")
        fields = validate_config_body(raw)
        config = self.backend.put_config(service, function, qualifier, fields, iso(self._wall_clock()))
        return json_response(config)

    async def delete_config(self, request: web.Request) -> web.StreamResponse:
        service, function, qualifier = self._target(request)
        self.backend.delete_config(service, function, qualifier)
        return web.Response(status=204)

    # --- the emulator's own endpoint -----------------------------------------------------------------
    async def stats_handler(self, request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.remote):
            denied = {"ErrorCode": "AccessDenied", "ErrorMessage": "stats are loopback-only"}
            return json_response(denied, 403)
        return json_response(self.stats.snapshot())
