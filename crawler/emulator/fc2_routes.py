"""FC 2.0 (API 2016-08-15) in the emulator: the routes of the async-invoke-config API and its listings.

``Fc2Api`` answers ListServices, ListFunctions, ListFunctionAsyncInvokeConfigs, ListTriggers and
Get/Put/Delete FunctionAsyncInvokeConfig over one ``Backend``, beside ``fc3_routes.Fc3Api``; the common
path (request ids, quota, latency, signature, generic faults, error shapes) is the gateway's middleware
(``gateway.py``). Handlers stay thin — parse, ask the backend, serialise with orjson — so the server is
fast enough to load-test a crawler and every rule lives in one place (backend.py for state, paging.py
for tokens, api_errors.py for refusals). Two faults belong to listings and are drawn here: a repeated
``nextToken`` and a function (or its service) deleted while its configs are listed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
from aiohttp import web

from crawler.emulator import api_errors
from crawler.emulator.api_errors import invalid_argument
from crawler.emulator.backend import Backend
from crawler.emulator.faults import FaultInjector, FaultKind
from crawler.emulator.model import iso
from crawler.emulator.paging import TokenCodec, listing_identity, parse_limit, select_page
from crawler.emulator.responses import json_response
from crawler.emulator.served_stats import ServerStats
from crawler.wire.signing import FC2_API_VERSION

API: Final = f"/{FC2_API_VERSION}"
QUALIFIER_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
RANGES: Final = {"maxAsyncRetryAttempts": (0, 8), "maxAsyncEventAgeInSeconds": (1, 2592000)}
#: routes whose answer has no body (a truncated or malformed fault cannot apply to them)
BODYLESS_ROUTES: Final = frozenset({"DeleteFunctionAsyncInvokeConfig"})


def validate_config_body(raw: bytes) -> dict[str, Any]:
    """The fields of a PutFunctionAsyncInvokeConfig body, range-checked like the real service."""
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise invalid_argument("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise invalid_argument("the request body must be a JSON object")
    fields: dict[str, Any] = {}
    for name, (low, high) in RANGES.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise invalid_argument(f"{name} must be an integer between {low} and {high}, got {value!r}")
        fields[name] = value
    stateful = body.get("statefulInvocation")
    if stateful is not None:
        if not isinstance(stateful, bool):
            raise invalid_argument(f"statefulInvocation must be true or false, got {stateful!r}")
        fields["statefulInvocation"] = stateful
    destinations = body.get("destinationConfig")
    if destinations is not None:
        if not isinstance(destinations, dict) or not set(destinations) <= {"onSuccess", "onFailure"}:
            raise invalid_argument("destinationConfig must be an object with onSuccess and/or onFailure")
        clean: dict[str, Any] = {}
        for side in ("onSuccess", "onFailure"):
            target = destinations.get(side)
            if target is None:
                continue
            arn = target.get("destination") if isinstance(target, dict) else None
            if not isinstance(arn, str) or not arn.startswith("acs:") or arn.count(":") < 4:
                raise invalid_argument(
                    f"destinationConfig.{side}.destination must be an acs: ARN, got {arn!r}"
                )
            clean[side] = {"destination": arn}
        fields["destinationConfig"] = clean
    return fields


class Fc2Api:
    """The FC 2.0 routes over one ``Backend``; verification and errors are the middleware's (gateway.py)."""

    def __init__(
        self,
        backend: Backend,
        codec: TokenCodec,
        injector: FaultInjector,
        stats: ServerStats,
        *,
        empty_last_token: bool = True,
        omit_empty_configs: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.codec = codec
        self.injector = injector
        self.stats = stats
        self.empty_last_token = empty_last_token
        self.omit_empty_configs = omit_empty_configs
        self._wall_clock = wall_clock

    def add_routes(self, app: web.Application) -> None:
        add = app.router.add_route
        add("GET", f"{API}/services", self.list_services, name="ListServices")
        add("GET", f"{API}/services/{{service}}/functions", self.list_functions, name="ListFunctions")
        configs = f"{API}/services/{{service}}/functions/{{function}}/async-invoke-configs"
        add("GET", configs, self.list_configs, name="ListFunctionAsyncInvokeConfigs")
        triggers = f"{API}/services/{{service}}/functions/{{function}}/triggers"
        add("GET", triggers, self.list_triggers, name="ListTriggers")
        one = f"{API}/services/{{target}}/functions/{{function}}/async-invoke-config"
        add("GET", one, self.get_config, name="GetFunctionAsyncInvokeConfig")
        add("PUT", one, self.put_config, name="PutFunctionAsyncInvokeConfig")
        add("DELETE", one, self.delete_config, name="DeleteFunctionAsyncInvokeConfig")

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
                raise api_errors.service_not_found(service)
            self.backend.delete_function(service, function)
            self.stats.deleted_functions += 1
            raise api_errors.function_not_found(function)
        identity = listing_identity("configs", service, function)
        start, sent = self._start(identity, request.query)
        chosen, following = select_page(keys, start=start, limit=limit)
        if not keys and self.omit_empty_configs:
            return json_response({})
        items = [self.backend.config(service, function, key) for key in chosen]
        return self._page("configs", items, identity, following, sent)

    async def list_triggers(self, request: web.Request) -> web.StreamResponse:
        """ListTriggers: one function's triggers by name, paged like the other listings (``prefix`` and
        ``startKey`` too); an empty list is still sent (``{"triggers": []}``)."""
        query = request.query
        service = request.match_info["service"]
        function = request.match_info["function"]
        self.backend.check_allowed(service, function)
        self.backend.check_triggers_allowed(service, function)
        limit = parse_limit(query.get("limit"))
        prefix = query.get("prefix", "")
        names = self.backend.trigger_names(service, function)
        identity = listing_identity("triggers", service, function, prefix=prefix)
        start, sent = self._start(identity, query)
        chosen, following = select_page(names, start=start, prefix=prefix, limit=limit)
        items = [self.backend.trigger(service, function, name) for name in chosen]
        return self._page("triggers", items, identity, following, sent)

    # --- one config ----------------------------------------------------------------------------------
    @staticmethod
    def _target(request: web.Request) -> tuple[str, str, str]:
        service, _, qualifier = request.match_info["target"].partition(".")
        qualifier = qualifier or request.query.get("qualifier", "") or "LATEST"
        if not QUALIFIER_RE.match(qualifier):
            raise invalid_argument(f"qualifier {qualifier!r} is not a version number or an alias name")
        return service, request.match_info["function"], qualifier

    async def get_config(self, request: web.Request) -> web.StreamResponse:
        service, function, qualifier = self._target(request)
        return json_response(self.backend.get_config(service, function, qualifier))

    async def put_config(self, request: web.Request) -> web.StreamResponse:
        service, function, qualifier = self._target(request)
        raw = await request.read()
        md5 = request.headers.get("Content-MD5")
        if md5 and base64.b64encode(hashlib.md5(raw).digest()).decode("ascii") != md5:
            raise invalid_argument("Content-MD5 does not match the request body")
        fields = validate_config_body(raw)
        config = self.backend.put_config(service, function, qualifier, fields, iso(self._wall_clock()))
        return json_response(config)

    async def delete_config(self, request: web.Request) -> web.StreamResponse:
        service, function, qualifier = self._target(request)
        self.backend.delete_config(service, function, qualifier)
        return web.Response(status=204)
