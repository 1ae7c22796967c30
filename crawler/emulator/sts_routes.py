"""STS (RPC API 2015-04-01) in the emulator: AssumeRole, AssumeRoleWithOIDC and GetCallerIdentity.

One handler at ``/`` answers what a client sends to ``sts_endpoint``: the action from the
``x-acs-action`` header or the ``Action`` parameter, the parameters from the query (and from a form body,
as the Go library and AssumeRoleWithOIDC send them). A signed call is verified either way the real
service accepts it: ACS3-HMAC-SHA256 (``Authorization`` header; the generated STS SDK and fcaudit) or
RPC v1 HMAC-SHA1 (``Signature`` among the parameters; the official credentials libraries), both strict —
the clock skew, the body hash, a nonce used twice, the session token of STS credentials. AssumeRoleWithOIDC
is anonymous: the OIDC token is the proof. The rules (trust, external id, durations, throttling, who may
call) are the identity registry's (``identity.py``); answers and errors have the real shapes
(``{"RequestId", "Credentials", "AssumedRoleUser"}``; ``{"RequestId", "HostId", "Code", "Message"}``).
``GET /_emulator/stats`` answers the registry's counters to loopback clients.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import web

from crawler.emulator import api_errors
from crawler.emulator.api_errors import EmulatorApiError
from crawler.emulator.auth import NonceWindow, RpcV1Verifier
from crawler.emulator.fc3_routes import Acs3Verifier
from crawler.emulator.gateway import STATS_PATH, is_loopback
from crawler.emulator.ram import IdentityRegistry, Principal, Session
from crawler.emulator.responses import json_response
from crawler.wire.signing import ACS3_ALGORITHM

STS_VERSION: Final = "2015-04-01"
ACTIONS: Final = ("AssumeRole", "AssumeRoleWithOIDC", "GetCallerIdentity")


class StsAcs3Verifier(Acs3Verifier):
    """The ACS3 gate with STS's (POP's) codes."""

    codes = api_errors.STS_GATE


class StsApi:
    """The STS application over one ``IdentityRegistry``."""

    def __init__(
        self, registry: IdentityRegistry, *, wall_clock: Callable[[], float] = time.time, seed: int = 0
    ) -> None:
        self.registry = registry
        nonces = NonceWindow()
        self.acs3 = StsAcs3Verifier({}, wall_clock=wall_clock, identity=registry)
        self.v1 = RpcV1Verifier({}, wall_clock=wall_clock, identity=registry, nonces=nonces)
        self._nonces = nonces
        self._ids = itertools.count(1)
        rid = f"{random.Random(f'sts:{seed}').getrandbits(80):020X}"
        self._rid_prefix = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-"

    def __repr__(self) -> str:
        return f"StsApi({self.registry!r})"

    def build(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("GET", STATS_PATH, self.stats_handler, name="StsStats")
        app.router.add_route("*", "/", self.handle, name="Sts")
        return app

    async def stats_handler(self, request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.remote):
            return json_response(api_errors.sts_body(api_errors.stats_not_loopback(), "stats"), 403)
        return json_response(self.registry.snapshot())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = f"{self._rid_prefix}{next(self._ids):012X}"
        try:
            payload = await self._answer(request)
        except EmulatorApiError as exc:
            exc = api_errors.sts_status(exc)
            response = json_response(api_errors.sts_body(exc, request_id), exc.http or 500)
            response.headers.update(exc.headers)
            return response
        payload["RequestId"] = request_id
        return json_response(payload)

    async def _answer(self, request: web.Request) -> dict[str, Any]:
        body = await request.read() if request.can_read_body else b""
        params: dict[str, str] = dict(request.query)
        form: dict[str, str] = {}
        if body and request.content_type == "application/x-www-form-urlencoded":
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
            params.update(form)
        action = _one(request.headers.get("x-acs-action"), params.get("Action"), "Action")
        version = _one(request.headers.get("x-acs-version"), params.get("Version"), "Version")
        if version != STS_VERSION:
            raise api_errors.sts_bad_version(version)
        if action not in ACTIONS:
            raise api_errors.sts_unknown_action(action)
        if params.get("Format", "JSON").upper() != "JSON":
            raise api_errors.sts_invalid("Format", "the emulator answers JSON only (Format=JSON)")
        if action == "AssumeRoleWithOIDC":
            return self._assume_role_with_oidc(params)
        caller = self._authenticate(request, params, body)
        self.registry.admit(caller.account_id)
        if action == "GetCallerIdentity":
            return self.registry.caller_identity(caller)
        return self._assume_role(caller, params)

    def _authenticate(self, request: web.Request, params: Mapping[str, str], body: bytes) -> Principal:
        """Who signed the call, ACS3 or RPC v1; only the registry's identities can call STS."""
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith(ACS3_ALGORITHM):
            raw_path = request.raw_path.split("?", 1)[0]
            _, principal = self.acs3.authenticate(
                request.method, raw_path, list(request.query.items()), request.headers, body
            )
            nonce = request.headers.get("x-acs-signature-nonce")
            if nonce:
                self._nonces.use(nonce)
        elif "Signature" in params:
            _, principal = self.v1.verify(request.method, params)
        else:
            raise api_errors.denied(
                api_errors.STS_GATE.no_authorization,
                "the request is neither ACS3-signed (Authorization) nor RPC-signed (Signature)",
            )
        assert principal is not None  # STS knows no key but the registry's
        return principal

    def _assume_role(self, caller: Principal, params: Mapping[str, str]) -> dict[str, Any]:
        session = self.registry.assume_role(
            caller,
            _required(params, "RoleArn"),
            _required(params, "RoleSessionName"),
            _duration(params),
            params.get("ExternalId") or None,
        )
        return _credentials_answer(session)

    def _assume_role_with_oidc(self, params: Mapping[str, str]) -> dict[str, Any]:
        arn = _required(params, "RoleArn")
        self.registry.admit(arn.split(":")[3] if arn.count(":") >= 4 else "anonymous")
        session = self.registry.assume_role_with_oidc(
            _required(params, "OIDCProviderArn"),
            _required(params, "OIDCToken"),
            arn,
            _required(params, "RoleSessionName"),
            _duration(params),
        )
        answer = _credentials_answer(session)
        answer["OIDCTokenInfo"] = {"Subject": "system:serviceaccount:fcaudit", "Issuer": "emulator"}
        return answer


def _credentials_answer(session: Session) -> dict[str, Any]:
    principal = session.principal
    assert principal is not None
    return {
        "Credentials": session.credentials_json(),
        "AssumedRoleUser": {"Arn": principal.arn, "AssumedRoleId": principal.principal_id},
    }


def _one(header: str | None, param: str | None, name: str) -> str:
    if header and param and header != param:
        raise api_errors.sts_invalid(name, f"x-acs-{name.lower()} {header!r} and {name} {param!r} disagree")
    value = header or param
    if not value:
        raise api_errors.sts_missing(name)
    return value


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise api_errors.sts_missing(name)
    return value


def _duration(params: Mapping[str, str]) -> int | None:
    raw = params.get("DurationSeconds")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise api_errors.sts_invalid(
            "DurationSeconds", f"DurationSeconds {raw!r} is not an integer"
        ) from None
