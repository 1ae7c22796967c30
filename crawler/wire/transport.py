"""The one HTTP transport of the FC 2.0 and FC 3.0 clients: send a signed GET through the endpoint's rate
limiter, retry policy and outage gate, read the answer safely, and map every failure.

This is the only module that uses the aiohttp client, and the only place its exceptions are caught: each
becomes one of ours (``crawler.errors``) with ``raise ... from``, so the rest of the crawler reasons about
meaning (throttled, gone, wrong key, broken answer), never about a library. The clients
(``fc2_client``, ``fc3_client``) bring only what differs between the APIs: the path and query, the
signed headers of each attempt (``SignHeaders``: called per attempt, so the date and nonce are fresh),
and the answer's shape (``ListCall``: the list's key, whether it must be there, FC's "deleted" codes).

Everything from the server is untrusted. A body is read in chunks up to ``max_body_bytes`` and no
further, without decompression (we ask for ``identity``). JSON is parsed by orjson (nesting deeper than
1024 is refused, not recursed), and the shape is checked before anything leaves this module: an object,
a list of objects under the expected key (required for ``services`` and ``functions``: ``{}`` is a
broken answer, not an empty listing), a ``nextToken`` that is a string, absent, and at most
``max_token_length`` long. A 404 is ``NotFoundError`` ("deleted") only with one of the call's ``gone``
codes (under ``ErrorCode`` or ``Code``); any other 404 is ``UnexpectedNotFoundError``. A 403 that refuses
the credentials is ``AuthError`` (the whole target), any other 403 ``AccessDeniedError`` (this listing).
Text the server sends back (error messages, request ids) is trimmed, stripped of control characters, and
scrubbed of our secret and token in case a hostile server echoes them. Logs carry route, status, request
id and timing — never headers.

Time is bounded per attempt by ``total_timeout`` (aiohttp's total timer: the whole exchange, so a server
trickling a byte at a time under ``read_timeout`` is still cut). Failures that would only repeat are said
in plain words and carry an ``attempt_limit``: a certificate that does not verify (one attempt), a host
name that does not resolve, a failed TLS handshake, a 200 that is an HTML page (two).
"""

from __future__ import annotations

import logging
import math
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal

import aiohttp
import orjson
from yarl import URL

from crawler import __version__
from crawler.errors import (
    AccessDeniedError,
    AuthError,
    BodyError,
    CertificateError,
    ConnectionLostError,
    CrawlerError,
    ListingLimitError,
    NameNotResolvedError,
    NotFoundError,
    ProtocolError,
    RequestRejectedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServerError,
    ThrottledError,
    TlsError,
    TransportError,
    UnexpectedNotFoundError,
)
from crawler.log import get_logger
from crawler.settings.config import CrawlSettings
from crawler.settings.credentials import Credentials
from crawler.settings.endpoints import check_endpoint
from crawler.wire.credential_provider import CredentialProvider
from crawler.wire.models import ClientOptions, Page

log = get_logger(__name__)

CHUNK_BYTES: Final = 64 * 1024
MAX_SERVER_TEXT: Final = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: what an error answer's body is: FC's error JSON, JSON that does not parse, or anything else
BodyShape = Literal["fc", "broken", "other"]
#: makes one attempt's signed request headers with that attempt's credentials (called per attempt: the
#: date and nonce must be fresh, and credentials may have been refreshed since the last one)
SignHeaders = Callable[[Credentials], dict[str, str]]
#: how many earlier secrets and tokens of a provider stay on the scrub list after a refresh
_SCRUB_KEPT = 8


@dataclass(frozen=True, slots=True)
class ListCall:
    """One list call as the transport needs it: its name (the route, in logs and errors) and what its
    answer is — the key of its list, whether the answer must hold it (FC always sends ``services`` and
    ``functions``; an empty ``configs`` may be left out), and the FC error codes that mean "the listed
    thing was deleted" (``NotFoundError``; any other 404 is an ``UnexpectedNotFoundError``)."""

    route: str
    key: str
    required: bool = True
    gone: frozenset[str] = frozenset()


def open_session(settings: CrawlSettings, *, connection_limit: int | None = None) -> aiohttp.ClientSession:
    """The run's one HTTP session: explicit timeouts, a bounded pool, no cookies, no decompression.

    ``connection_limit`` defaults to ``settings.concurrency``; pass the sum of the targets' concurrencies
    when several endpoints share the session. Use it as ``async with open_session(settings) as session``.
    """
    limit = connection_limit if connection_limit is not None else settings.concurrency
    timeout = aiohttp.ClientTimeout(
        total=settings.total_timeout,
        sock_connect=settings.connect_timeout,
        sock_read=settings.read_timeout,
    )
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit),
        timeout=timeout,
        auto_decompress=False,
        raise_for_status=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": f"fcaudit/{__version__}", "Accept-Encoding": "identity"},
    )
    # aiohttp silently resends an idempotent request once when a reused connection drops; our retry
    # policy must be the only retry layer, so every attempt is paced, counted and budgeted.
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
    return session


def _clean(text: str, secrets: tuple[str, ...], limit: int = MAX_SERVER_TEXT) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    if not text.isprintable():  # every character _CONTROL matches is unprintable: skip the regex if none
        text = _CONTROL.sub(" ", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _retry_after(headers: Mapping[str, str], wall_clock: Callable[[], float]) -> float | None:
    """The server's wait hint in seconds: ``x-acs-retry-after`` (ms) or ``Retry-After`` (s or a date)."""
    raw_ms = headers.get("x-acs-retry-after")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            value = parsedate_to_datetime(raw).timestamp() - wall_clock()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        value = max(0.0, value)
    return value if math.isfinite(value) and value >= 0 else None


class Transport:
    """The requests of one (account, region) over the run's session: limiter, retries, capped reads,
    error mapping. Both clients of a target (``--api auto``) share one."""

    def __init__(self, session: aiohttp.ClientSession, options: ClientOptions) -> None:
        settings = options.settings
        self._session = session
        self.options = options
        #: the checked endpoint (scheme and host, no trailing slash): the clients put their paths after it
        self.endpoint = check_endpoint(options.endpoint, insecure_http=settings.insecure_http)
        self._limiter = options.limiter
        self._retry = options.retry
        self._stats = options.stats
        self._max_body = settings.max_body_bytes
        self._timeouts = (settings.connect_timeout, settings.read_timeout, settings.total_timeout)
        self._max_token = settings.max_token_length
        self._wall_clock = options.wall_clock
        self._monotonic = options.monotonic
        self._provider: CredentialProvider = options.credentials
        #: the secrets and tokens this transport signed with lately: scrubbed from whatever the server
        #: sends back, in case a hostile server echoes them
        self._scrub: tuple[str, ...] = ()
        self._scrubbed_for: Credentials | None = None
        # bound once, so a filtered debug call costs nothing, and skipped outright when debug is off
        self._log = log.bind()
        is_enabled = getattr(self._log, "is_enabled_for", None)
        self._debug = bool(is_enabled(logging.DEBUG)) if is_enabled is not None else True

    def __repr__(self) -> str:
        options = self.options
        return (
            f"Transport(endpoint={self.endpoint!r}, account={options.account!r}, region={options.region!r})"
        )

    # -- one call, with retries -----------------------------------------------------------------------
    async def get(
        self,
        call: ListCall,
        url: URL,
        sign: SignHeaders,
        *,
        service: str | None = None,
        function: str | None = None,
    ) -> Page:
        """GET ``url`` with retries; ``sign(creds)`` gives each attempt its own signed headers (a fresh date).
        ``service``/``function``: what the call lists, named in its log lines."""
        route = call.route
        subject = {k: v for k, v in (("service", service), ("function", function)) if v is not None}

        def retried(attempt: int, error: CrawlerError, delay: float) -> None:
            self._stats.retries += 1
            # a throttled answer is the limiter's everyday work (counted as throttled on the progress
            # line, its cut logged at debug): its retry is info; any other failure is a warning
            emit = log.info if isinstance(error, ThrottledError) and _is_quota_signal(error) else log.warning
            emit(
                "retry.scheduled",
                endpoint=self.endpoint,
                route=route,
                **subject,
                attempt=attempt,
                code=error.code,
                cause=error.message,
                next_delay=round(delay, 3),
            )

        async def attempt() -> Page:
            try:
                body, request_id = await self._signed_get(route, url, sign, call.gone, subject)
                return self._page(body, call.key, request_id, route, call.required)
            except ThrottledError:
                raise  # counted as throttled
            except CrawlerError:
                self._stats.failed_requests += 1
                raise

        return await self._retry.run(attempt, on_retry=retried)

    async def _signed_get(
        self,
        route: str,
        url: URL,
        sign: SignHeaders,
        gone: frozenset[str],
        subject: Mapping[str, str | None] | None = None,
    ) -> tuple[bytes, str | None]:
        """One attempt with the provider's current credentials. A 403 naming an expired or invalid
        security token gets one refresh and the same request once more, inside this attempt (a refused
        token is no fault of the server's, so it costs no retry); only a refusal that survives fresh
        credentials — or credentials that cannot be refreshed — is final."""
        creds = self._signing(await self._provider.current())
        try:
            return await self._get(route, url, sign, creds, gone, subject)
        except AuthError as error:
            if not stale_token(error.code):
                raise
            fresh = await self._provider.refreshed(creds)
            if fresh is creds:  # nothing fresher to be had (static keys): the refusal stands
                raise
            log.info("credentials.refreshed_after_refusal", route=route, code=error.code)
            return await self._get(route, url, sign, self._signing(fresh), gone, subject)

    def _signing(self, creds: Credentials) -> Credentials:
        """Note the credentials about to sign (their secret and token join the scrub list)."""
        if creds is not self._scrubbed_for:
            self._scrubbed_for = creds
            new = tuple(s for s in (creds.access_key_secret, creds.security_token) if s)
            self._scrub = (new + tuple(s for s in self._scrub if s not in new))[: 2 * _SCRUB_KEPT]
        return creds

    async def _get(
        self,
        route: str,
        url: URL,
        sign: SignHeaders,
        creds: Credentials,
        gone: frozenset[str],
        subject: Mapping[str, str | None] | None = None,
    ) -> tuple[bytes, str | None]:
        """One attempt through the limiter: the 2xx body and request id, or the mapped error."""
        sent_at = await self._limiter.acquire()  # by hand: an async context manager costs more
        try:
            status, headers, body, request_id = await self._send(route, url, sign, creds, subject)
            if 200 <= status < 300:
                self._limiter.on_success(sent_at)
                return body, request_id
            error = self._error(route, status, headers, body, request_id, gone, creds)
            if isinstance(error, ThrottledError):
                self._stats.throttled += 1
                if _is_quota_signal(error):
                    error.stalled = self._limiter.on_throttled(sent_at)
                else:
                    # A bare 503 (ServiceUnavailable) says the server is unwell, not that we are too
                    # fast: the retry backoff handles it; cutting the pace for each would collapse it.
                    self._limiter.on_success(sent_at)
            else:
                self._limiter.on_success(sent_at)  # an answer all the same: the server admitted it
            raise error
        finally:
            self._limiter.release()

    async def _send(
        self,
        route: str,
        url: URL,
        sign: SignHeaders,
        creds: Credentials,
        subject: Mapping[str, str | None] | None = None,
    ) -> tuple[int, Mapping[str, str], bytes, str | None]:
        """Send one signed GET; (status, headers, capped body, request id), aiohttp errors mapped."""
        started = self._monotonic()
        self._stats.requests += 1
        self._stats.requests_by_route[route] += 1
        status: int | None = None
        request_id: str | None = None
        try:
            async with self._session.get(url, headers=sign(creds), allow_redirects=False) as response:
                status = response.status
                raw_id = response.headers.get("X-Fc-Request-Id")
                request_id = _clean(raw_id, self._scrub, 128) if raw_id else None
                body = await self._read(response, route, request_id)
                return status, response.headers, body, request_id
        except CrawlerError as error:
            error.request_id = error.request_id or request_id
            raise
        except TimeoutError as exc:
            raise self._timeout(route, exc) from exc
        except aiohttp.ClientPayloadError as exc:
            raise BodyError(f"{route}: the body was cut short ({type(exc).__name__})") from exc
        except aiohttp.ClientConnectorError as exc:
            raise _connect_error(route, exc) from exc
        except aiohttp.ClientConnectionError as exc:
            raise ConnectionLostError(f"{route}: connection lost ({type(exc).__name__})") from exc
        except aiohttp.ClientResponseError as exc:
            # its request_info holds our request headers (Authorization, the STS token): not chained
            raise TransportError(
                f"{route}: malformed HTTP answer ({type(exc).__name__}: {exc.message})"
            ) from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"{route}: malformed HTTP answer ({type(exc).__name__})") from exc
        finally:
            if self._debug:
                self._log.debug(
                    "client.request",
                    route=route,
                    **(subject or {}),
                    status=status,
                    request_id=request_id,
                    elapsed_ms=round((self._monotonic() - started) * 1000, 1),
                )

    def _timeout(self, route: str, exc: TimeoutError) -> RequestTimeoutError:
        """Which of the three clocks ran out, in plain words, with the setting that sets it."""
        if isinstance(exc, _CONNECT_TIMEOUT):
            return RequestTimeoutError(
                f"{route}: could not connect within connect_timeout ({self._timeouts[0]:g} s)"
            )
        if isinstance(exc, _READ_TIMEOUT):
            return RequestTimeoutError(
                f"{route}: the server sent nothing for read_timeout ({self._timeouts[1]:g} s)"
            )
        if isinstance(exc, aiohttp.ServerTimeoutError):  # an aiohttp too old to say which clock
            return RequestTimeoutError(f"{route}: timed out ({exc})")
        # aiohttp's total timer covers the whole exchange: queueing for a connection, connecting, the
        # request, the head and every byte of the body, so a server that trickles is cut here
        return RequestTimeoutError(
            f"{route}: no complete answer within total_timeout ({self._timeouts[2]:g} s), the per-request "
            "deadline: the server is stalling or trickling"
        )

    async def _read(self, response: aiohttp.ClientResponse, route: str, request_id: str | None) -> bytes:
        """The body, read in chunks and refused past ``max_body_bytes`` (declared or actual)."""
        declared = response.content_length
        if declared is not None:
            if declared > self._max_body:
                response.close()
                raise self._too_large(route, response.status, request_id, declared, exact=True)
            # the parser frames the body by Content-Length (and we ask for no decompression): it
            # cannot grow past the declared size, so one read, not a loop of chunks
            return await response.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            size += len(chunk)
            if size > self._max_body:
                response.close()
                raise self._too_large(route, response.status, request_id, size, exact=False)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(
        self, route: str, status: int, request_id: str | None, size: int, *, exact: bool
    ) -> ResponseTooLargeError:
        # a declared Content-Length is the exact size; a counted body is cut where it crossed the cap
        error = ResponseTooLargeError(
            f"{route}: answer of {'' if exact else 'at least '}{size} bytes is over the "
            f"{self._max_body}-byte cap (max_body_bytes)"
        )
        error.http = status
        error.request_id = request_id
        return error

    # -- mapping answers ------------------------------------------------------------------------------
    def _error(
        self,
        route: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        request_id: str | None,
        gone: frozenset[str],
        creds: Credentials,
    ) -> CrawlerError:
        code, message, shape = self._error_body(body, status)
        common: dict[str, Any] = {"code": code, "http": status, "request_id": request_id, "route": route}
        text = f"{route}: HTTP {status} {code}: {message}"
        if status in (429, 503) or code.startswith("Throttling"):
            return ThrottledError(text, retry_after=_retry_after(headers, self._wall_clock), **common)
        if status == 403:
            if not refuses_credentials(code):  # AccessDenied on this resource: only this listing fails
                return AccessDeniedError(f"{text} (access to this resource is denied)", **common)
            kind = "access key id and STS token" if creds.is_sts else "access key id"
            who = f"{kind} {creds.access_key_id} from {creds.source}"
            return AuthError(f"{text} — the API refused the credentials ({who})", **common)
        if status == 404:
            if shape == "fc" and code in gone:
                return NotFoundError(text, **common)
            if shape == "broken":  # what FC said did not arrive whole: read it again (a retryable error)
                cut = BodyError(f"{route}: HTTP 404 whose JSON body does not parse (cut short?): {message}")
                cut.http, cut.request_id = status, request_id
                return cut
            # a proxy's page, a wrong gateway or API version: nothing says the thing was deleted
            why = f"FC error {code}, not {' or '.join(sorted(gone))}" if gone else f"FC error {code}"
            if shape != "fc":
                why = "not an FC error body"
            unexpected = UnexpectedNotFoundError(
                f"{route}: HTTP 404 ({why}): {message} — not taken as deleted; is the endpoint an FC "
                "API of the right version, and not a proxy's page?"
            )
            unexpected.http, unexpected.request_id = status, request_id
            return unexpected
        if status >= 500:
            return ServerError(text, **common)
        if 400 <= status < 500:
            return RequestRejectedError(text, **common)
        error = ProtocolError(f"{route}: unexpected HTTP {status}")
        error.http, error.request_id = status, request_id
        return error

    def _error_body(self, body: bytes, status: int) -> tuple[str, str, BodyShape]:
        """(code, message, shape) of an error answer: FC 2.0's ``ErrorCode``/``ErrorMessage`` or FC 3.0's
        ``Code``/``Message``, keys matched case-insensitively; fallbacks (``HTTP404``, a snippet of the
        body) when it is not FC's JSON. ``shape``: ``fc`` (FC's error body), ``broken`` (JSON that does
        not parse: cut short or corrupted on the way), ``other`` (anything else: HTML, empty, foreign)."""
        broken = False
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
            broken = body.lstrip()[:1] in (b"{", b"[")
        fields = {str(k).lower(): v for k, v in parsed.items()} if isinstance(parsed, dict) else {}
        code = fields.get("errorcode", fields.get("code"))
        message = fields.get("errormessage", fields.get("message"))
        shape: BodyShape = "fc" if isinstance(code, str) and code else "broken" if broken else "other"
        code_text = _clean(code, self._scrub, 80) if isinstance(code, str) and code else f"HTTP{status}"
        if isinstance(message, str) and message:
            return code_text, _clean(message, self._scrub), shape
        snippet = body[:120].decode("utf-8", "replace") if body and parsed is None else ""
        return code_text, _clean(snippet, self._scrub) or "(no message)", shape

    def _page(self, body: bytes, key: str, request_id: str | None, route: str, required: bool) -> Page:
        def wrong(message: str) -> ProtocolError:
            error = ProtocolError(f"{route}: {message}")
            error.http, error.request_id = 200, request_id
            return error

        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if "depth" in exc.msg or "recursion" in exc.msg:
                raise wrong("the JSON answer is nested too deeply") from exc
            error = BodyError(f"{route}: the answer is not valid JSON ({exc.msg})")
            if body.lstrip()[:1] == b"<":
                # a page (a proxy's, a login portal's) comes back the same: one more try, not max_attempts;
                # JSON cut short is a transient fault and keeps every attempt
                error = BodyError(
                    f"{route}: HTTP 200 with an HTML page, not FC's JSON (a proxy, a login page or a "
                    "wrong endpoint answered)"
                )
                error.attempt_limit = 2
            error.http, error.request_id = 200, request_id
            raise error from exc
        if not isinstance(parsed, dict):
            raise wrong(f"the answer is a JSON {type(parsed).__name__}, not an object")
        items = parsed.get(key)
        if items is None:
            if required:  # `{}` is not an empty account: FC always sends the list, empty or not
                raise wrong(f"the answer has no '{key}' list")
            items = []
        if not isinstance(items, list):
            raise wrong(f"'{key}' is a {type(items).__name__}, not a list")
        for item in items:
            if type(item) is not dict:  # orjson makes plain dicts
                raise wrong(f"'{key}' holds something other than JSON objects")
        token = parsed.get("nextToken")
        if token is not None and not isinstance(token, str):
            raise wrong(f"'nextToken' is a {type(token).__name__}, not a string")
        if token is not None and len(token) > self._max_token:
            bound = ListingLimitError(
                f"{route}: a nextToken of {len(token)} characters is over the {self._max_token}-character "
                "cap (max_token_length)"
            )
            bound.http, bound.request_id = 200, request_id
            raise bound
        return Page(items=tuple(items), next_token=token or None, request_id=request_id, size=len(body))


__all__ = [
    "Answer",
    "ListCall",
    "Session",
    "SignHeaders",
    "Transport",
    "clean_server_text",
    "exchange",
    "open_session",
    "refuses_credentials",
    "retry_after_hint",
    "stale_token",
]


#: the run's HTTP session, for modules that must not import aiohttp themselves
Session = aiohttp.ClientSession


def clean_server_text(text: str, secrets: tuple[str, ...], limit: int = MAX_SERVER_TEXT) -> str:
    """Text a server sent back, safe to show: secrets scrubbed, control characters blanked, trimmed."""
    return _clean(text, secrets, limit)


def retry_after_hint(headers: Mapping[str, str], wall_clock: Callable[[], float]) -> float | None:
    """The server's wait hint in seconds (``x-acs-retry-after`` ms, ``Retry-After`` s or a date)."""
    return _retry_after(headers, wall_clock)


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP exchange's answer for the identity clients (STS, ECS metadata, a credentials URI)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    route: str,
    headers: Mapping[str, str],
    data: bytes | None = None,
    max_body: int = 1024 * 1024,
    time_limit: float | None = None,
) -> Answer:
    """One request of the identity clients (``sts_client``, ``metadata_client``) on the run's session:
    the answer, its body capped at ``max_body``, or aiohttp's failure mapped onto ours. ``time_limit``
    (seconds) bounds connecting and the whole exchange (the metadata server's short timeouts); ``None``
    keeps the session's. Retries and pacing are the caller's; nothing of the request is logged here, and
    no error carries a header or the URL's query (either may hold a secret)."""
    # no time_limit: the session's own timeout, passed as it is (aiohttp reads timeout=None as "no
    # timeout at all", not as the session's)
    timeout = (
        aiohttp.ClientTimeout(total=time_limit, sock_connect=time_limit) if time_limit else session.timeout
    )
    try:
        async with session.request(
            method, url, headers=dict(headers), data=data, allow_redirects=False, timeout=timeout
        ) as response:
            declared = response.content_length
            if declared is not None and declared > max_body:
                response.close()
                raise ResponseTooLargeError(f"{route}: answer of {declared} bytes is over {max_body} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                if size > max_body:
                    response.close()
                    raise ResponseTooLargeError(f"{route}: answer of over {max_body} bytes")
                chunks.append(chunk)
            return Answer(response.status, response.headers, b"".join(chunks))
    except TimeoutError as exc:
        limit = f" within {time_limit:g} s" if time_limit else ""
        raise RequestTimeoutError(f"{route}: no answer{limit}") from exc
    except aiohttp.ClientPayloadError as exc:
        raise BodyError(f"{route}: the body was cut short ({type(exc).__name__})") from exc
    except aiohttp.ClientConnectorError as exc:
        raise _connect_error(route, exc) from exc
    except aiohttp.ClientConnectionError as exc:
        raise ConnectionLostError(f"{route}: connection lost ({type(exc).__name__})") from exc
    except aiohttp.ClientResponseError as exc:
        # its request_info holds our request headers (Authorization, a token): not chained
        raise TransportError(f"{route}: malformed HTTP answer ({type(exc).__name__})") from None
    except aiohttp.ClientError as exc:
        raise TransportError(f"{route}: malformed HTTP answer ({type(exc).__name__})") from exc


#: 403 codes (FC 2.0 and the ACS3 gateway's, compared lower-case, a prefix before any ``.``) that refuse
#: the request's credentials — the key, its signature, the STS token, the signed date — rather than the
#: resource: every request of the target would get the same answer
_CREDENTIAL_CODES = frozenset(
    {
        "invalidaccesskeyid",
        "signaturenotmatch",
        "signaturedoesnotmatch",
        "invalidsecuritytoken",
        "securitytokenexpired",
        "requesttimetooskewed",
        "invalidtimestamp",
        "missingauthorization",
        "invalidauthorization",
        "incompletesignature",
    }
)


def stale_token(code: str) -> bool:
    """Whether a 403's code says the STS token is expired or not (or no longer) valid
    (``InvalidSecurityToken.Expired``, ``.Malformed``, ``.MismatchWithAccessKey``, ``SecurityTokenExpired``):
    the request deserves one more try with refreshed credentials."""
    head = code.lower().split(".", 1)[0]
    return head in ("invalidsecuritytoken", "securitytokenexpired")


def refuses_credentials(code: str) -> bool:
    """Whether a 403's error code refuses the credentials (``SignatureNotMatch``, ``InvalidAccessKeyId
    .NotFound``, ...) rather than access to one resource (``AccessDenied``, any other code)."""
    return code.lower().split(".", 1)[0] in _CREDENTIAL_CODES


# aiohttp >= 3.10 names its connect and read timeouts and its DNS failure; older ones raise the bases
_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    getattr(aiohttp, name) for name in ("ConnectionTimeoutError",) if hasattr(aiohttp, name)
)
_READ_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    getattr(aiohttp, name) for name in ("SocketTimeoutError",) if hasattr(aiohttp, name)
)
_DNS_ERROR: tuple[type[BaseException], ...] = (
    socket.gaierror,
    *(getattr(aiohttp, name) for name in ("ClientConnectorDNSError",) if hasattr(aiohttp, name)),
)


def _connect_error(route: str, exc: aiohttp.ClientConnectorError) -> TransportError:
    """A failure to connect, in plain words: a name that does not resolve and a certificate that does
    not verify are said as such (and tried at most twice and once: they fail the same way again)."""
    host = exc.host
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        reason = getattr(cert, "verify_message", None) or getattr(cert, "reason", None) or str(cert)
        return CertificateError(
            f"{route}: certificate verify failed for {host} ({reason}); check the endpoint, or the CA "
            "bundle if a proxy inspects TLS (SSL_CERT_FILE)"
        )
    if isinstance(exc, aiohttp.ClientSSLError):
        reason = getattr(exc.os_error, "reason", None) or type(exc.os_error).__name__
        return TlsError(f"{route}: TLS handshake with {host} failed ({reason})")
    if isinstance(exc, _DNS_ERROR) or isinstance(exc.os_error, socket.gaierror):
        reason = exc.os_error.strerror or "no address"
        return NameNotResolvedError(f"{route}: name not resolved: {host} ({reason}); check the endpoint")
    reason = exc.os_error.strerror or type(exc.os_error).__name__
    return ConnectionLostError(f"{route}: cannot connect to {host}:{exc.port} ({reason})")


_QUOTA_CODES = frozenset({"ResourceExhausted", "ResourceThrottled", "TooManyRequests", "QpsLimitExceeded"})


def _is_quota_signal(error: ThrottledError) -> bool:
    """Whether a throttled answer is about our request rate (429, a quota code, a retry hint)."""
    return (
        error.http == 429
        or error.retry_after is not None
        or error.code in _QUOTA_CODES
        or error.code.startswith("Throttling")
    )
