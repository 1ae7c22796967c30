"""STS (2015-04-01) for the run: AssumeRole, AssumeRoleWithOIDC and GetCallerIdentity, on the run's one
aiohttp session (through ``transport.exchange``), with their own limiter and the run's retry rules.

AssumeRole and GetCallerIdentity are ``POST /`` with the parameters in the query, signed
ACS3-HMAC-SHA256 by the same signer as FC 3.0 (``x-acs-action``, ``x-acs-version: 2015-04-01``), as the
official STS SDK sends them. AssumeRoleWithOIDC is anonymous: a form body, so the OIDC token never goes
into a URL. STS allows 100 requests/s per *calling* account, all of its users and roles together; the
client paces every STS request of the run through one limiter well under that (``DEFAULT_STS_RATE``),
and retries throttled answers, 5xx and lost connections as FC calls are retried (full jitter, a retry
quota of its own). Any other refusal (``NoPermission``: an untrusted role or a wrong external id;
``InvalidParameter.*``, ``EntityNotExist.Role``) is final: an ``AuthError`` naming the call, the role and
STS's code, which stops the targets that needed those credentials.

Secrets: the base secret and token, the session credentials STS returns and the OIDC token are never
logged, never put into an error (text STS sends back is scrubbed of them), and never in a repr.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import orjson
from yarl import URL

from crawler.errors import (
    AuthError,
    CrawlerError,
    ProtocolError,
    RequestRejectedError,
    ServerError,
    ThrottledError,
)
from crawler.log import get_logger
from crawler.settings.credentials import Credentials
from crawler.settings.endpoints import check_endpoint
from crawler.settings.identity import RoleSpec, StsEndpoint
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryPolicy
from crawler.wire.signing import acs3_signed_headers, percent_encode
from crawler.wire.transport import Session, clean_server_text, exchange, retry_after_hint

log = get_logger(__name__)

STS_API_VERSION: Final = "2015-04-01"
#: STS requests/s of the whole run: STS allows 100/s per calling account, shared with everything else
#: that account's users and roles do, so stay well under it
DEFAULT_STS_RATE: Final = 20.0
#: STS requests in flight at once
STS_CONCURRENCY: Final = 4
MAX_STS_BODY: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    """What AssumeRole / AssumeRoleWithOIDC gave: the session credentials and who they are."""

    credentials: Credentials
    assumed_arn: str


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    """GetCallerIdentity's answer: whose credentials these are."""

    account_id: str
    arn: str
    identity_type: str


def parse_expiration(value: object, what: str) -> datetime:
    """STS's ``Expiration`` (``YYYY-MM-DDThh:mm:ssZ``, UTC) as an aware datetime; ``ProtocolError`` else."""
    if not isinstance(value, str):
        raise ProtocolError(f"{what}: the answer has no string Expiration")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ProtocolError(f"{what}: Expiration {value[:40]!r} is not a UTC timestamp") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def session_credentials(fields: Mapping[str, Any], what: str, source: str) -> Credentials:
    """``Credentials`` from an answer's ``AccessKeyId``/``AccessKeySecret``/``SecurityToken``/``Expiration``
    (STS's ``Credentials`` object, the ECS metadata and credentials-URI bodies)."""
    key_id, secret, token = (fields.get(k) for k in ("AccessKeyId", "AccessKeySecret", "SecurityToken"))
    if not all(isinstance(v, str) and v for v in (key_id, secret, token)):
        raise ProtocolError(f"{what}: the answer lacks AccessKeyId, AccessKeySecret or SecurityToken")
    expiration = parse_expiration(fields.get("Expiration"), what)
    try:
        return Credentials(str(key_id), str(secret), str(token), source=source, expiration=expiration)
    except CrawlerError as exc:  # a value that cannot go into a header: never shown (it may be secret)
        raise ProtocolError(
            f"{what}: the answer's credentials are not usable ({type(exc).__name__})"
        ) from None


class StsClient:
    """The run's STS calls. One per run: every call is paced by ``limiter`` and retried by ``retry``;
    ``counts`` (the end record's ``sts`` object) counts each call once, however many attempts it took,
    and each HTTP request under ``requests``."""

    def __init__(
        self,
        session: Session,
        *,
        limiter: RateLimiter,
        retry: RetryPolicy,
        counts: Counter[str],
        insecure_http: bool = False,
        timeout: float | None = None,
        wall_clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._session = session
        self._limiter = limiter
        self._retry = retry
        self.counts = counts
        self._insecure_http = insecure_http
        self._timeout = timeout
        self._wall_clock = wall_clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"StsClient(rate={self._limiter.rate:g})"

    # -- the three calls ------------------------------------------------------------------------------
    async def assume_role(self, base: Credentials, role: RoleSpec) -> SessionCredentials:
        """AssumeRole ``role`` with ``base`` (static keys or another session's credentials)."""
        params = [
            ("RoleArn", role.role_arn),
            ("RoleSessionName", role.session_name),
            ("DurationSeconds", str(role.duration_seconds)),
        ]
        if role.external_id is not None:
            params.append(("ExternalId", role.external_id))
        self.counts["assumeRole"] += 1
        what = f"STS AssumeRole of {role.role_arn}"
        data = await self._signed("AssumeRole", role.sts, base, params, what)
        return self._session_of(data, what, f"role {role.role_arn}")

    async def assume_role_with_oidc(
        self, role: RoleSpec, provider_arn: str, token: str
    ) -> SessionCredentials:
        """AssumeRoleWithOIDC: anonymous, the OIDC token in a form body (never in the URL)."""
        form = [
            ("Action", "AssumeRoleWithOIDC"),
            ("Version", STS_API_VERSION),
            ("Format", "JSON"),
            ("RoleArn", role.role_arn),
            ("OIDCProviderArn", provider_arn),
            ("OIDCToken", token),
            ("RoleSessionName", role.session_name),
            ("DurationSeconds", str(role.duration_seconds)),
        ]
        self.counts["assumeRoleWithOIDC"] += 1
        what = f"STS AssumeRoleWithOIDC of {role.role_arn}"
        endpoint = self._endpoint(role.sts)
        url = URL(f"{endpoint}/?Action=AssumeRoleWithOIDC&Version={STS_API_VERSION}", encoded=True)
        body = urlencode(form).encode("ascii")

        def headers() -> dict[str, str]:
            return {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}

        data = await self._call(what, url, headers, body, (token,))
        return self._session_of(data, what, f"OIDC role {role.role_arn}")

    async def get_caller_identity(self, creds: Credentials, sts: StsEndpoint) -> CallerIdentity:
        """Whose credentials ``creds`` are: the account id and the identity's ARN."""
        self.counts["getCallerIdentity"] += 1
        what = f"STS GetCallerIdentity of access key {creds.access_key_id}"
        data = await self._signed("GetCallerIdentity", sts, creds, [], what)
        account, arn = data.get("AccountId"), data.get("Arn")
        if not isinstance(account, str) or not account:
            raise ProtocolError(f"{what}: the answer has no AccountId")
        kind = data.get("IdentityType")
        return CallerIdentity(
            account, arn if isinstance(arn, str) else "", kind if isinstance(kind, str) else ""
        )

    # -- one call -------------------------------------------------------------------------------------
    def _endpoint(self, sts: StsEndpoint) -> str:
        return check_endpoint(sts.url, insecure_http=self._insecure_http)

    async def _signed(
        self,
        action: str,
        sts: StsEndpoint,
        creds: Credentials,
        params: list[tuple[str, str]],
        what: str,
    ) -> dict[str, Any]:
        endpoint = self._endpoint(sts)
        query = [("Action", action), ("Version", STS_API_VERSION), *params]
        encoded = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in query)
        url = URL(f"{endpoint}/?{encoded}", encoded=True)
        host = url.raw_authority or ""

        def headers() -> dict[str, str]:
            return self.signed_headers(action, host, query, creds)

        secrets = tuple(s for s in (creds.access_key_secret, creds.security_token) if s)
        return await self._call(what, url, headers, None, secrets)

    def signed_headers(
        self, action: str, host: str, query: list[tuple[str, str]], creds: Credentials
    ) -> dict[str, str]:
        """One attempt's headers for ``POST /?query``, ACS3-signed (a fresh date and nonce)."""
        headers = acs3_signed_headers(
            access_key_id=creds.access_key_id,
            secret=creds.access_key_secret,
            security_token=creds.security_token,
            method="POST",
            encoded_path="/",
            query=query,
            host=host,
            action=action,
            version=STS_API_VERSION,
            date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._wall_clock())),
            nonce=self._nonce(),
        )
        headers["Accept"] = "application/json"
        return headers

    async def _call(
        self,
        what: str,
        url: URL,
        headers: Callable[[], dict[str, str]],
        body: bytes | None,
        secrets: tuple[str, ...],
    ) -> dict[str, Any]:
        def retried(attempt: int, error: CrawlerError, delay: float) -> None:
            self.counts["retries"] += 1
            log.debug("sts.retry", call=what, attempt=attempt, code=error.code, delay=round(delay, 3))

        async def attempt() -> dict[str, Any]:
            sent_at = await self._limiter.acquire()
            try:
                self.counts["requests"] += 1
                answer = await exchange(
                    self._session,
                    "POST",
                    url,
                    route=what,
                    headers=headers(),
                    data=body,
                    max_body=MAX_STS_BODY,
                    time_limit=self._timeout,
                )
                if 200 <= answer.status < 300:
                    self._limiter.on_success(sent_at)
                    return _json_object(answer.body, what)
                error = _sts_error(
                    what, answer.status, answer.headers, answer.body, secrets, self._wall_clock
                )
                if isinstance(error, ThrottledError):
                    self.counts["throttled"] += 1
                    error.stalled = self._limiter.on_throttled(sent_at)
                else:
                    self._limiter.on_success(sent_at)
                raise error
            finally:
                self._limiter.release()

        return await self._retry.run(attempt, on_retry=retried)

    @staticmethod
    def _session_of(data: Mapping[str, Any], what: str, source: str) -> SessionCredentials:
        fields = data.get("Credentials")
        if not isinstance(fields, dict):
            raise ProtocolError(f"{what}: the answer has no Credentials object")
        user = data.get("AssumedRoleUser")
        arn = user.get("Arn") if isinstance(user, dict) else None
        return SessionCredentials(
            session_credentials(fields, what, source), arn if isinstance(arn, str) else ""
        )


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProtocolError(f"{what}: the answer is not JSON") from None
    if not isinstance(parsed, dict):
        raise ProtocolError(f"{what}: the answer is not a JSON object")
    return parsed


def _sts_error(
    what: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    secrets: tuple[str, ...],
    wall_clock: Callable[[], float],
) -> CrawlerError:
    """STS's ``{"Code","Message","RequestId"}`` error as ours: throttled and 5xx retryable, other 4xx
    a refusal of these credentials for this call (``AuthError``)."""
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    fields = {str(k).lower(): v for k, v in parsed.items()} if isinstance(parsed, dict) else {}
    raw_code, raw_message, raw_id = fields.get("code"), fields.get("message"), fields.get("requestid")
    code = (
        clean_server_text(raw_code, secrets, 80)
        if isinstance(raw_code, str) and raw_code
        else f"HTTP{status}"
    )
    message = clean_server_text(raw_message, secrets) if isinstance(raw_message, str) else "(no message)"
    request_id = clean_server_text(raw_id, secrets, 128) if isinstance(raw_id, str) else None
    common: dict[str, Any] = {"code": code, "http": status, "request_id": request_id, "route": what}
    text = f"{what}: HTTP {status} {code}: {message}"
    if status in (429, 503) or code.startswith("Throttling"):
        return ThrottledError(text, retry_after=retry_after_hint(headers, wall_clock), **common)
    if status >= 500:
        return ServerError(text, **common)
    if 400 <= status < 500:
        return AuthError(f"{text} — STS refused", **common)
    return RequestRejectedError(text, **common)


__all__ = [
    "DEFAULT_STS_RATE",
    "STS_API_VERSION",
    "CallerIdentity",
    "SessionCredentials",
    "StsClient",
    "parse_expiration",
    "session_credentials",
]
