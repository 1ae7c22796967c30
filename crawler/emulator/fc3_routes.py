"""FC 3.0 (API 2023-03-30) in the emulator: the account-wide async-config listing, signed with ACS3.

FC 3.0 has no services: it shows an FC 2.0 function as one function named ``{service}${function}``
(``$`` cannot occur in an FC 2.0 name, so the split is unique), and a qualifier as a suffix of the
function's ARN. The emulator serves the same backend through both APIs, so a crawl through either
must find the same configs. The mapping, decided here and documented in docs/estates.md:

* ``functionArn``: ``acs:fc:{region}:{account}:functions/{service}${function}`` for the unpublished
  version (qualifier ``LATEST`` or ``""``), ``.../functions/{service}${function}/{qualifier}`` for a
  version or an alias — the FC 3.0 function ARN of the reference, with the qualifier as a last segment;
* ``asyncTask`` carries FC 2.0's ``statefulInvocation`` (FC 3.0's name for the same switch);
* every other field — times, destinations, retries, age, unknown fields — is copied unchanged, in the
  FC 2.0 order, with ``functionArn`` where the identity fields were.

``GET /2023-03-30/async-invoke-configs`` lists every config of the region (``functionName`` narrows it
to one function), ordered by function then qualifier; ``GET /2023-03-30/functions`` lists the
functions; ``GET /2023-03-30/functions/{name}/triggers`` one function's triggers (``triggerConfig`` as
a JSON string, as FC 3.0 sends it). They page with opaque tokens bound to the listing
(``paging.TokenCodec``), and resume from a position, never by re-scanning the account.

Requests are verified with ACS3-HMAC-SHA256 (``Acs3Verifier``), as strictly as FC 2.0's gate: the
signature over the canonical request rebuilt from what arrived, the signed headers that must be there,
the body hash, the clock skew and the STS token. Errors have FC 3.0's shape, ``{"Code", "Message",
"RequestId"}``. This module imports only the signing functions from the crawler's side, so the crawler's
ARN parsing and this ARN building check each other.
"""

from __future__ import annotations

import hashlib
import hmac
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from aiohttp import web

from crawler.emulator import api_errors
from crawler.emulator.api_errors import FC3_GATE, EmulatorApiError, denied
from crawler.emulator.auth import MAX_SKEW_SECONDS, KeyedVerifier
from crawler.emulator.backend import Backend
from crawler.emulator.model import ConfigDict
from crawler.emulator.paging import TokenCodec, listing_identity, parse_limit
from crawler.emulator.ram import Principal
from crawler.emulator.responses import json_response
from crawler.wire.signing import FC3_API_VERSION, acs3_signature, parse_acs3_authorization

FC3_API: Final = f"/{FC3_API_VERSION}"
SEPARATOR: Final = "$"
REQUIRED_SIGNED: Final = ("host", "x-acs-content-sha256", "x-acs-date")
IDENTITY: Final = frozenset({"service", "serviceName", "function", "functionName", "qualifier"})
LATEST_QUALIFIERS: Final = ("", "LATEST")


def fc3_name(service: str, function: str) -> str:
    return f"{service}{SEPARATOR}{function}"


def function_arn(region: str, account: str, service: str, function: str, qualifier: str = "") -> str:
    suffix = "" if qualifier in LATEST_QUALIFIERS else f"/{qualifier}"
    return f"acs:fc:{region}:{account}:functions/{fc3_name(service, function)}{suffix}"


def fc3_config(backend: Backend, service: str, function: str, config: Mapping[str, Any]) -> ConfigDict:
    """An FC 2.0 config as FC 3.0 shows it: ``functionArn`` first, then the other fields in their order."""
    qualifier = str(config.get("qualifier") or "")
    out: ConfigDict = {
        "functionArn": function_arn(backend.region, backend.account_id, service, function, qualifier)
    }
    for name, value in config.items():
        if name not in IDENTITY:
            out["asyncTask" if name == "statefulInvocation" else name] = value
    return out


class Acs3Verifier(KeyedVerifier):
    """Checks one FC 3.0 request's ACS3 ``Authorization``; raises 403 (FC 3.0 codes) on failure."""

    codes = FC3_GATE

    def verify(
        self,
        method: str,
        raw_path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> str:
        """The access key id that signed the request, when everything checks out."""
        return self.authenticate(method, raw_path, query, headers, body)[0]

    def authenticate(
        self,
        method: str,
        raw_path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> tuple[str, Principal | None]:
        """(access key id, whose: ``None`` for the server's own key) of a request that checks out."""
        authorization = headers.get("Authorization")
        if not authorization:
            raise denied(self.codes.no_authorization, "the request has no Authorization header")
        parsed = parse_acs3_authorization(authorization)
        if parsed is None:
            raise denied(
                self.codes.bad_authorization,
                "the Authorization header is not 'ACS3-HMAC-SHA256 Credential=...,SignedHeaders=...,"
                "Signature=...'",
            )
        key_id, signed_text, signature = parsed
        secret, principal = self._credential(
            key_id, headers.get("x-acs-security-token"), "x-acs-security-token"
        )
        signed = signed_text.split(";") if signed_text else []
        missing = [h for h in REQUIRED_SIGNED if h not in signed]
        if missing:
            raise denied(self.codes.bad_signature, f"these headers must be signed: {', '.join(missing)}")
        self._check_date(headers.get("x-acs-date", ""))
        body_hash = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256") != body_hash:
            raise denied(self.codes.bad_signature, "x-acs-content-sha256 is not the SHA-256 of the body")
        if principal is None:
            self._check_token(headers.get("x-acs-security-token"), "x-acs-security-token")
        chosen = [(name, value) for name, value in headers.items() if name.lower() in signed]
        expected, recomputed = acs3_signature(
            secret, method, raw_path, query, chosen, body_hash, signed_names=frozenset(signed)
        )
        if recomputed != signed_text:
            raise denied(
                self.codes.bad_signature,
                f"SignedHeaders {signed_text!r} must be the sorted, lower-cased names of signed headers "
                f"that were sent (got {recomputed!r})",
            )
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
            raise denied(self.codes.bad_signature, "the request signature does not match")
        self._check_account(principal)
        return key_id, principal

    async def verify_request(self, request: web.Request) -> str:
        """``verify`` over what arrived: the path as sent (still encoded), the query, headers and body."""
        body = await request.read() if request.can_read_body else b""
        raw_path = request.raw_path.split("?", 1)[0]
        return self.verify(request.method, raw_path, list(request.query.items()), request.headers, body)

    def _check_date(self, value: str) -> None:
        try:
            stamp = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise denied(self.codes.bad_date, f"x-acs-date {value!r} is not YYYY-MM-DDThh:mm:ssZ") from None
        skew = abs(self._wall_clock() - stamp)
        if skew > MAX_SKEW_SECONDS:
            raise denied(
                self.codes.skewed,
                f"x-acs-date is {skew:.0f}s away from the server's time (at most {MAX_SKEW_SECONDS}s)",
            )


def _split_name(name: str) -> tuple[str, str] | None:
    service, sep, function = name.partition(SEPARATOR)
    return (service, function) if sep and service and function else None


class Fc3Api:
    """The FC 3.0 routes over one ``Backend``; verification and errors are the middleware's (gateway.py)."""

    def __init__(self, backend: Backend, codec: TokenCodec, *, empty_last_token: bool = True) -> None:
        self.backend = backend
        self.codec = codec
        self.empty_last_token = empty_last_token

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", f"{FC3_API}/functions", self.list_functions, name="ListFunctionsV3")
        app.router.add_route(
            "GET", f"{FC3_API}/async-invoke-configs", self.list_async_configs, name="ListAsyncInvokeConfigs"
        )
        app.router.add_route(
            "GET", f"{FC3_API}/functions/{{functionName}}/triggers", self.list_triggers, name="ListTriggersV3"
        )

    # --- positions -------------------------------------------------------------------------------------
    def _start(self, identity: bytes, query: Mapping[str, str], parts: int) -> tuple[str, ...]:
        """Where a listing resumes: the position its ``nextToken`` carries, or the very start."""
        token = query.get("nextToken") or ""
        if not token:
            return ("",) * parts
        position = tuple(self.codec.decode(identity, token).split("\x00"))
        if len(position) != parts:
            raise api_errors.token_of_another_listing()
        return position

    def _answer(
        self, key: str, items: list[Any], identity: bytes, following: tuple[str, ...] | None
    ) -> web.Response:
        payload: dict[str, Any] = {key: items}
        if following is not None:
            payload["nextToken"] = self.codec.encode(identity, "\x00".join(following))
        elif self.empty_last_token:
            payload["nextToken"] = ""
        return json_response(payload)

    def _functions(self, start: tuple[str, str], services: Sequence[str]) -> Iterator[tuple[str, str]]:
        """(service, function) of every live function from ``start`` on, in FC 3.0 name order (``$``
        sorts before every character a name may hold, so name order is (service, function) order)."""
        backend = self.backend
        for service in services[bisect_left(services, start[0]) :]:
            names = backend.function_names(service)
            lo = bisect_left(names, start[1]) if service == start[0] else 0
            for function in names[lo:]:
                yield service, function

    # --- ListFunctions ---------------------------------------------------------------------------------
    async def list_functions(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        limit = parse_limit(query.get("limit"))
        prefix = query.get("prefix", "")
        version = query.get("fcVersion", "")
        if version not in ("", "v2", "v3"):
            raise api_errors.invalid_argument(f"fcVersion must be v2 or v3, got {version!r}")
        identity = listing_identity("fc3-functions", prefix=prefix + "\x00" + version)
        service_prefix, _, function_prefix = prefix.partition(SEPARATOR)
        start = max(self._start(identity, query, 2), (service_prefix, function_prefix))
        services = () if version == "v3" else self.backend.service_names()  # all came from FC 2.0
        items: list[dict[str, Any]] = []
        following: tuple[str, str] | None = None
        for service, function in self._functions((start[0], start[1]), services):
            name = fc3_name(service, function)
            if not name.startswith(prefix):
                if name > prefix:
                    break  # sorted: nothing further can match
                continue
            if len(items) == limit:
                following = (service, function)
                break
            items.append(self._function_item(service, function))
        return self._answer("functions", items, identity, following)

    def _function_item(self, service: str, function: str) -> dict[str, Any]:
        info = dict(self.backend.function_info(service, function))
        name = fc3_name(service, function)
        info["functionName"] = name
        info["functionArn"] = function_arn(self.backend.region, self.backend.account_id, service, function)
        return info

    # --- ListAsyncInvokeConfigs ------------------------------------------------------------------------
    async def list_async_configs(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        limit = parse_limit(query.get("limit"))
        name = query.get("functionName", "")
        identity = listing_identity("fc3-configs", function=name)
        start = self._start(identity, query, 3)
        only: tuple[str, str] | None = None
        if name:
            only = _split_name(name)
            if only is None or not self._exists(*only):
                raise api_errors.function_not_found(name)
            start = max(start, (*only, ""))
        backend = self.backend
        items: list[ConfigDict] = []
        following: tuple[str, str, str] | None = None
        for service, function in self._functions((start[0], start[1]), backend.service_names()):
            if only is not None and (service, function) != only:
                break
            keys = backend.config_keys(service, function)
            lo = bisect_left(keys, start[2]) if (service, function) == (start[0], start[1]) else 0
            for key in keys[lo:]:
                if len(items) == limit:
                    following = (service, function, key)
                    break
                items.append(fc3_config(backend, service, function, backend.config(service, function, key)))
            if following is not None:
                break
        return self._answer("configs", items, identity, following)

    # --- ListTriggers ------------------------------------------------------------------------------------
    async def list_triggers(self, request: web.Request) -> web.StreamResponse:
        """One function's triggers (``{service}${function}``), FC 3.0-shaped: ``triggerConfig`` is a JSON
        string and ``targetArn`` names the function; paged by trigger name."""
        query = request.query
        name = request.match_info["functionName"]
        limit = parse_limit(query.get("limit"))
        only = _split_name(name)
        if only is None or not self._exists(*only):
            raise api_errors.function_not_found(name)
        service, function = only
        backend = self.backend
        backend.check_allowed(service, function)
        backend.check_triggers_allowed(service, function)
        names = backend.trigger_names(service, function)
        identity = listing_identity("fc3-triggers", function=name)
        (start,) = self._start(identity, query, 1)
        lo = bisect_left(names, start)
        chosen = names[lo : lo + limit]
        following = (names[lo + limit],) if lo + limit < len(names) else None
        items = [self._trigger_item(service, function, backend.trigger(service, function, t)) for t in chosen]
        return self._answer("triggers", items, identity, following)

    def _trigger_item(self, service: str, function: str, trigger: Mapping[str, Any]) -> dict[str, Any]:
        item = dict(trigger)
        item["triggerConfig"] = orjson.dumps(trigger.get("triggerConfig")).decode("utf-8")
        item["targetArn"] = function_arn(self.backend.region, self.backend.account_id, service, function)
        item["status"] = "Success"
        return item

    def _exists(self, service: str, function: str) -> bool:
        try:
            names = self.backend.function_names(service)
        except EmulatorApiError:
            return False
        i = bisect_left(names, function)
        return i < len(names) and names[i] == function
