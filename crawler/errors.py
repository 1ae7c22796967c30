"""One error tree for the whole tool, so callers catch by meaning, never by library.

aiohttp exceptions are caught only in ``crawler.wire.transport`` and re-raised as one of these with
``raise ... from``.
The command line maps the tree onto exit codes: everything under ``FatalError`` ends the run with exit 2
and a one-line message; ``ApiError`` and ``TransportError`` end one listing (an ``error`` record). Two
errors end one *target* instead: ``AuthError`` (its credentials are refused) and ``EndpointDownError``
(its endpoint stayed unreachable past ``outage_wait``); the other targets go on. A run whose every
target's credentials were refused ends with exit 2 (``AuthError`` is a ``FatalError`` for that).

    CrawlerError
    ├── FatalError                  exit 2, one line, no traceback
    │   ├── UsageError              bad flags or values
    │   ├── ConfigError             bad config file (names the key)
    │   ├── CredentialsError        missing or unusable credentials
    │   ├── InputError              unreadable NDJSON / input file (names the line)
    │   ├── OutputError             output path cannot be written
    │   ├── ResumeError             --resume against a file from other targets or settings
    │   └── AuthError               403 refusing the credentials: unknown key, bad signature, expired token
    │       └── IdentityError       no credentials to be had (STS refused the role), or another account's
    ├── ApiError                    the API answered with an error
    │   ├── AccessDeniedError       403 on one resource (a resource-scoped RAM policy): that listing only
    │   │   └── AuthError           (a refusal of the credentials themselves ends the target)
    │   ├── NotFoundError           404 with FC's own ServiceNotFound / FunctionNotFound: deleted
    │   ├── ThrottledError          429, 503, Throttling* codes          (retryable)
    │   ├── ServerError             other 5xx                            (retryable)
    │   └── RequestRejectedError    other 4xx (InvalidArgument, ...)
    ├── TransportError              no usable answer                     (retryable)
    │   ├── RequestTimeoutError     connect / read timeout, stall, the per-request deadline
    │   │   └── FunctionDeadlineError  one function's listing outlived function_deadline (final)
    │   ├── ConnectionLostError     reset, refused, disconnected
    │   ├── NameNotResolvedError    DNS: the endpoint's host name does not resolve (tried twice)
    │   ├── TlsError                TLS handshake failed (tried twice)
    │   │   └── CertificateError    certificate verify failed (never retried)
    │   └── BodyError               truncated body, invalid JSON (a 200 that is not JSON: tried twice)
    ├── ProtocolError               a well-formed answer of the wrong shape (not retryable)
    │   ├── ResponseTooLargeError   body over the size cap
    │   ├── UnexpectedNotFoundError any other 404 (a proxy's page, a wrong gateway or API version)
    │   └── UnwritableRecordError   a config fcaudit could read but cannot write (nested too deep)
    ├── PaginationError             repeated nextToken, too many pages
    ├── ListingLimitError           a listing past a memory bound (configs, bytes, token length)
    ├── RetryBudgetExhaustedError   the endpoint's retry quota is spent
    └── EndpointDownError           the endpoint stayed unreachable for ``outage_wait`` seconds
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class CrawlerError(Exception):
    """Root of every error fcaudit raises on purpose."""

    retryable: bool = False
    code: str = "CrawlerError"
    http: int | None = None
    request_id: str | None = None
    #: how many attempts were made before this error was final (set by the retry loop)
    attempts: int = 1
    #: a failure that repeats identically (DNS, TLS, an HTML page for JSON): at most this many attempts,
    #: whatever ``max_attempts`` says; ``None``: no limit of its own
    attempt_limit: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_record(self) -> dict[str, Any]:
        """The ``error`` object of a ``function`` record: code, http, message, requestId, attempts."""
        return {
            "code": self.code,
            "http": self.http,
            "message": self.message,
            "requestId": self.request_id,
            "attempts": self.attempts,
        }


class FatalError(CrawlerError):
    """Ends the run: the CLI prints the message on one line and exits 2."""

    exit_code = 2


class UsageError(FatalError):
    code = "UsageError"


class ConfigError(FatalError):
    code = "ConfigError"


class CredentialsError(FatalError):
    code = "CredentialsError"


class InputError(FatalError):
    code = "InputError"


class OutputError(FatalError):
    code = "OutputError"


@contextmanager
def reading(name: str, what: str = "an NDJSON file") -> Iterator[None]:
    """Opening and reading input ``name`` inside this block: an ``OSError`` becomes a one-line
    ``InputError`` naming the file and what is wrong with it."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not {what}") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from None


class ResumeError(FatalError):
    code = "ResumeError"


class ApiError(CrawlerError):
    """The API answered with an FC error body (``ErrorCode``/``ErrorMessage``) or an error status."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        http: int,
        request_id: str | None = None,
        route: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http = http
        self.request_id = request_id
        self.route = route


class AccessDeniedError(ApiError):
    """403 on one resource (``AccessDenied`` from a resource-scoped policy): that listing ends in error."""


class AuthError(AccessDeniedError, FatalError):
    """403 refusing the credentials themselves (unknown key, bad signature, expired token): retrying
    cannot help and every request of the target would be refused too, so the target stops."""


class NotFoundError(ApiError):
    """404 whose FC error body says the service or function no longer exists (each client's ``ListCall``
    names the codes that mean that for its listing); any other 404 is an ``UnexpectedNotFoundError``."""


class ThrottledError(ApiError):
    """429, 503 or a ``Throttling*`` code. ``retry_after`` is the server's hint in seconds, if any."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        code: str,
        http: int,
        request_id: str | None = None,
        route: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, http=http, request_id=request_id, route=route)
        self.retry_after = retry_after
        #: answered while the endpoint's limiter was stalled (the server admitted nothing of late,
        #: whatever the pace): the endpoint's refusal, not this call's (``wire.retry``)
        self.stalled = False


class ServerError(ApiError):
    retryable = True


class RequestRejectedError(ApiError):
    """Other 4xx: the request itself was wrong (InvalidArgument, a bad nextToken, ...)."""


class TransportError(CrawlerError):
    """No usable answer arrived. Safe to retry: every call fcaudit makes is a read."""

    retryable = True
    code = "TransportError"


class RequestTimeoutError(TransportError):
    code = "Timeout"


class FunctionDeadlineError(RequestTimeoutError):
    """One function's whole listing (its pages, retries and waits) took longer than
    ``function_deadline``: the crawl gives up on that function (an ``error`` record)."""

    retryable = False
    code = "FunctionDeadline"


class ConnectionLostError(TransportError):
    code = "ConnectionLost"


class NameNotResolvedError(TransportError):
    """The endpoint's host name does not resolve. Tried once more (a resolver can hiccup), no more."""

    code = "NameNotResolved"
    attempt_limit = 2


class TlsError(TransportError):
    """The TLS handshake failed (protocol, cipher): tried once more, no more."""

    code = "TLSError"
    attempt_limit = 2


class CertificateError(TlsError):
    """The server's certificate did not verify: it will not verify on the next attempt either."""

    retryable = False
    code = "CertificateInvalid"
    attempt_limit = 1


class BodyError(TransportError):
    code = "InvalidBody"


class ProtocolError(CrawlerError):
    """The answer parsed but has the wrong shape (``configs`` not a list, ``nextToken`` not a string...)."""

    code = "ProtocolError"


class ResponseTooLargeError(ProtocolError):
    code = "ResponseTooLarge"


class UnexpectedNotFoundError(ProtocolError):
    """A 404 that is not FC saying "deleted": an HTML page, another FC code, no body. Never ``gone``."""

    code = "UnexpectedNotFound"


class UnwritableRecordError(ProtocolError):
    """A config the API sent that fcaudit cannot write back as one NDJSON line (``records.MAX_DEPTH``)."""

    code = "UnwritableRecord"


class PaginationError(CrawlerError):
    code = "PaginationError"


class ListingLimitError(CrawlerError):
    """A listing went past a bound on what it may hold (configs per function, bytes, a token's length):
    the listing ends as an ``error`` instead of growing the process without limit."""

    code = "ListingLimitExceeded"


class RetryBudgetExhaustedError(CrawlerError):
    code = "RetryBudgetExhausted"


class EndpointDownError(CrawlerError):
    """The endpoint failed outright (no connection) for longer than ``outage_wait``: its targets stop."""

    code = "EndpointUnreachable"


class IdentityError(AuthError):
    """The target's credentials could not be had or do not fit it: STS refused the role (an untrusted
    role, a wrong external id), the metadata server, credentials URI or external process failed, or
    the credentials belong to another account. Like ``AuthError``, it ends that target only."""

    def __init__(
        self, message: str, *, code: str, http: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message, code=code, http=0, request_id=request_id, route="identity")
        self.http = http
