"""The credentials an instance or a sidecar hands out: an ECS metadata server (IMDS) and a
credentials-URI server, each serving one role's session credentials that rotate before they expire.

``ImdsApi`` answers what ``100.100.100.200`` answers on an ECS instance with a RAM role:
``PUT /latest/api/token`` (header ``X-aliyun-ecs-metadata-token-ttl-seconds``, 1..21600) gives a token;
``GET /latest/meta-data/ram/security-credentials/`` the role's name and ``…/<role>`` its credentials
(``{"Code": "Success", "AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration", "LastUpdated"}``),
with the token in ``X-aliyun-ecs-metadata-token`` — or without one (IMDSv1) unless ``imdsv1=False``,
which answers 403 as an instance in "token required" mode does. ``CredentialsUriApi`` answers ``GET
<path>`` with ``{"Code": "Success", "AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}``,
optionally only when the query carries a given secret parameter (as a sidecar's URI may).

Both issue through the identity registry, so the FC gates accept what they hand out (for the role's
account, until it expires). ``Rotation`` renews the credentials once less than ``rotate_ahead`` seconds
of them remain (a third of their lifetime by default); the previous ones stay valid until their own expiry.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Final

from aiohttp import web

from crawler.emulator.model import iso
from crawler.emulator.ram import IdentityRegistry, Role, Session
from crawler.emulator.responses import json_response

TOKEN_PATH: Final = "/latest/api/token"
CREDENTIALS_PATH: Final = "/latest/meta-data/ram/security-credentials/"
TTL_HEADER: Final = "X-aliyun-ecs-metadata-token-ttl-seconds"
TOKEN_HEADER: Final = "X-aliyun-ecs-metadata-token"
MAX_TOKEN_TTL: Final = 21_600
#: an ECS instance's role credentials last 6 hours unless the registry overrides session lifetimes
ECS_SESSION_SECONDS: Final = 21_600


class Rotation:
    """One role's current session, renewed when less than ``rotate_ahead`` seconds of it remain."""

    def __init__(
        self, registry: IdentityRegistry, role: Role, session_name: str, rotate_ahead: float | None = None
    ) -> None:
        self.registry = registry
        self.role = role
        self.session_name = session_name
        self.rotate_ahead = rotate_ahead
        self.current: Session | None = None
        self.issued_at = 0.0
        self.rotations = 0  # sessions issued after the first

    def credentials(self) -> Session:
        now = self.registry.now()
        current = self.current
        if current is not None:
            ahead = self.rotate_ahead
            if ahead is None:
                ahead = (current.expires_at - self.issued_at) / 3
            if now < current.expires_at - ahead:
                return current
            self.rotations += 1
        self.current = self.registry.issue(self.role, self.session_name, ECS_SESSION_SECONDS)
        self.issued_at = now
        return self.current

    def body(self) -> dict[str, str]:
        session = self.credentials()
        return {"Code": "Success", **session.credentials_json(), "LastUpdated": iso(self.issued_at)}


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain")


class ImdsApi:
    """The ECS metadata server of one instance whose RAM role is ``role`` (see the module docstring)."""

    def __init__(
        self,
        registry: IdentityRegistry,
        role: Role,
        *,
        imdsv1: bool = True,
        rotate_ahead: float | None = None,
    ) -> None:
        self.registry = registry
        self.role = role
        self.imdsv1 = imdsv1
        self.rotation = Rotation(registry, role, "ecs-instance-role", rotate_ahead)
        self._tokens: dict[str, float] = {}  # token → its expiry on the registry's clock
        self.counts = {"tokens": 0, "credentials": 0, "v1": 0, "refused": 0}

    def __repr__(self) -> str:
        return f"ImdsApi(role={self.role.name!r}, imdsv1={self.imdsv1})"

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_route("PUT", TOKEN_PATH, self.token)
        app.router.add_route("GET", CREDENTIALS_PATH, self.role_name)
        app.router.add_route("GET", CREDENTIALS_PATH + "{role}", self.role_credentials)
        return app

    async def token(self, request: web.Request) -> web.StreamResponse:
        raw = request.headers.get(TTL_HEADER, "")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_TOKEN_TTL:
            self.counts["refused"] += 1
            return _text(f"{TTL_HEADER} must be an integer in 1..{MAX_TOKEN_TTL}", 400)
        token = secrets.token_urlsafe(32)
        self._tokens[token] = self.registry.now() + int(raw)
        self.counts["tokens"] += 1
        return _text(token)

    def _admit(self, headers: Mapping[str, str]) -> web.Response | None:
        """``None`` when the request may read metadata, else the refusal to answer."""
        sent = headers.get(TOKEN_HEADER)
        if sent is None:
            if self.imdsv1:
                self.counts["v1"] += 1
                return None
            self.counts["refused"] += 1
            return _text("a metadata token is required (IMDSv2: PUT /latest/api/token first)", 403)
        now = self.registry.now()
        for token, expiry in list(self._tokens.items()):
            if expiry <= now:
                del self._tokens[token]
        if not any(hmac.compare_digest(sent.encode(), token.encode()) for token in self._tokens):
            self.counts["refused"] += 1
            return _text("the metadata token is invalid or expired", 401)
        return None

    async def role_name(self, request: web.Request) -> web.StreamResponse:
        return self._admit(request.headers) or _text(self.role.name)

    async def role_credentials(self, request: web.Request) -> web.StreamResponse:
        refusal = self._admit(request.headers)
        if refusal is not None:
            return refusal
        if request.match_info["role"] != self.role.name:
            return _text("Not Found", 404)
        self.counts["credentials"] += 1
        return json_response(self.rotation.body())


class CredentialsUriApi:
    """A credentials-URI server for ``role`` at ``path``; with ``query`` set, only a request whose query
    holds exactly those parameters is answered (403 otherwise)."""

    def __init__(
        self,
        registry: IdentityRegistry,
        role: Role,
        *,
        path: str = "/credentials",
        query: Mapping[str, str] | None = None,
        rotate_ahead: float | None = None,
    ) -> None:
        self.registry = registry
        self.role = role
        self.path = path
        self._query = dict(query or {})
        self.rotation = Rotation(registry, role, "credentials-uri", rotate_ahead)
        self.counts = {"credentials": 0, "refused": 0}

    def __repr__(self) -> str:  # never the query (it may hold a secret)
        return f"CredentialsUriApi(role={self.role.name!r}, path={self.path!r})"

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_route("GET", self.path, self.credentials)
        return app

    async def credentials(self, request: web.Request) -> web.StreamResponse:
        for name, value in self._query.items():
            if not hmac.compare_digest(request.query.get(name, "").encode(), value.encode()):
                self.counts["refused"] += 1
                return json_response({"Code": "Forbidden", "Message": "the URI's credentials are wrong"}, 403)
        self.counts["credentials"] += 1
        body = self.rotation.body()
        del body["LastUpdated"]
        return json_response(body)
