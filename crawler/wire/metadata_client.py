"""Credentials from a local server: the ECS instance metadata service (the instance's RAM role) and a
credentials URI (``ALIBABA_CLOUD_CREDENTIALS_URI``), over the run's session (``transport.exchange``).

ECS: IMDSv2 first — ``PUT /latest/api/token`` with a TTL header, then ``GET
/latest/meta-data/ram/security-credentials/`` (the role name, when not given) and ``.../<role>`` with the
token header — falling back to IMDSv1 (the same GETs without a token) when the token PUT fails, unless
IMDSv1 is disabled. Timeouts are short (``METADATA_TIMEOUT``): the metadata address answers in
milliseconds or not at all. The metadata server is asked only when the user chose it (never probed).

A credentials URI is one GET answering ``{"Code": "Success", "AccessKeyId", ...}``. Its query string
may hold a secret: no message or log line names more than its scheme, host and path.

Each call is retried a few times on a lost connection, a timeout or a 5xx (the same policy object as
STS's); a body without ``Code: Success`` or without usable credentials is final.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

import orjson
from yarl import URL

from crawler.errors import CrawlerError, IdentityError, ProtocolError, ServerError
from crawler.settings.credentials import Credentials
from crawler.wire.retry import RetryPolicy
from crawler.wire.sts_client import session_credentials
from crawler.wire.transport import Answer, Session, clean_server_text, exchange

METADATA_TIMEOUT: Final = 1.0
TOKEN_TTL_SECONDS: Final = 21600
TOKEN_PATH: Final = "/latest/api/token"
ROLE_PATH: Final = "/latest/meta-data/ram/security-credentials/"
MAX_BODY: Final = 64 * 1024


def safe_uri(uri: str) -> str:
    """scheme://host[:port]/path of a URI: no user info, query or fragment (they may hold secrets)."""
    try:
        url = URL(uri)
        return str(url.with_user(None).with_query(None).with_fragment(None))
    except (ValueError, TypeError):
        return "(an unparsable URI)"


class MetadataClient:
    """The ECS metadata and credentials-URI GETs of a run. ``counts`` gets ``ecsMetadata`` and
    ``credentialsUri`` (one per credentials fetched)."""

    def __init__(
        self,
        session: Session,
        *,
        retry: RetryPolicy,
        counts: Counter[str],
        time_limit: float = METADATA_TIMEOUT,
    ) -> None:
        self._session = session
        self._retry = retry
        self.counts = counts
        self._time_limit = time_limit

    def __repr__(self) -> str:
        return "MetadataClient()"

    async def ecs_credentials(
        self, metadata_url: str, role_name: str | None, *, imdsv1_allowed: bool
    ) -> Credentials:
        """The instance role's current credentials (the role discovered when ``role_name`` is None)."""
        base = metadata_url.rstrip("/")
        where = f"ECS metadata {safe_uri(base)}"
        token = await self._imds_token(base, where, imdsv1_allowed)
        headers = {"X-aliyun-ecs-metadata-token": token} if token is not None else {}
        if role_name is None:
            answer = await self._get(URL(base + ROLE_PATH), headers, f"{where} (role name)")
            names = answer.body.decode("utf-8", "replace").split()
            role_name = names[0] if names else ""
            if not role_name:
                raise IdentityError(f"{where}: the instance has no RAM role attached", code="NoEcsRamRole")
        what = f"{where} (role {role_name})"
        answer = await self._get(URL(base + ROLE_PATH + role_name), headers, what)
        self.counts["ecsMetadata"] += 1
        return _success_credentials(answer.body, what, f"ECS RAM role {role_name}")

    async def uri_credentials(self, uri: str) -> Credentials:
        """GET a credentials URI; the query string stays out of every message."""
        what = f"credentials URI {safe_uri(uri)}"
        query = URL(uri).query_string
        answer = await self._get(URL(uri), {}, what, secrets=(query,) if query else ())
        self.counts["credentialsUri"] += 1
        return _success_credentials(answer.body, what, what)

    async def _imds_token(self, base: str, where: str, imdsv1_allowed: bool) -> str | None:
        """An IMDSv2 session token; ``None`` (IMDSv1) when the PUT fails and v1 is allowed."""
        try:
            answer = await self._send(
                "PUT",
                URL(base + TOKEN_PATH),
                {"X-aliyun-ecs-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
                f"{where} (IMDSv2 token)",
            )
        except CrawlerError:
            if imdsv1_allowed:
                return None
            raise
        if answer.status == 200 and answer.body.strip():
            return answer.body.decode("ascii", "replace").strip()
        if imdsv1_allowed:
            return None
        raise IdentityError(
            f"{where}: IMDSv2 token refused (HTTP {answer.status}) and IMDSv1 is disabled "
            "(ALIBABA_CLOUD_IMDSV1_DISABLED)",
            code="ImdsTokenRefused",
            http=answer.status,
        )

    async def _get(
        self, url: URL, headers: Mapping[str, str], what: str, *, secrets: tuple[str, ...] = ()
    ) -> Answer:
        answer = await self._send("GET", url, headers, what)
        if answer.status == 200:
            return answer
        snippet = clean_server_text(answer.body[:120].decode("utf-8", "replace"), secrets)
        text = f"{what}: HTTP {answer.status}: {snippet or '(no message)'}"
        if answer.status >= 500:
            raise ServerError(text, code=f"HTTP{answer.status}", http=answer.status)
        raise IdentityError(text, code=f"HTTP{answer.status}", http=answer.status)

    async def _send(self, method: str, url: URL, headers: Mapping[str, str], what: str) -> Answer:
        async def attempt() -> Answer:
            self.counts["metadataRequests"] += 1
            answer = await exchange(
                self._session,
                method,
                url,
                route=what,
                headers=headers,
                max_body=MAX_BODY,
                time_limit=self._time_limit,
            )
            if answer.status >= 500:
                raise ServerError(
                    f"{what}: HTTP {answer.status}", code=f"HTTP{answer.status}", http=answer.status
                )
            return answer

        return await self._retry.run(attempt)


def _success_credentials(body: bytes, what: str, source: str) -> Credentials:
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProtocolError(f"{what}: the answer is not JSON") from None
    if not isinstance(parsed, dict):
        raise ProtocolError(f"{what}: the answer is not a JSON object")
    code = parsed.get("Code")
    if code != "Success":
        shown = clean_server_text(code, (), 60) if isinstance(code, str) else repr(type(code).__name__)
        raise IdentityError(f"{what}: the answer's Code is {shown}, not Success", code="CredentialsNotReady")
    return session_credentials(parsed, what, source)


__all__ = ["METADATA_TIMEOUT", "MetadataClient"]
