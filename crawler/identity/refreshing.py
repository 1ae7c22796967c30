"""Credentials that expire, refreshed ahead of time, once for everyone who shares them.

``RefreshingProvider`` wraps a ``fetch`` (AssumeRole, AssumeRoleWithOIDC, the ECS metadata server, a
credentials URI, an external process) and implements the wire's ``CredentialProvider``:

* **When**: credentials are *due* for a refresh when less than ``min(ahead, lifetime / 3)`` of their
  life remains, where ``ahead`` is 15 minutes (3 for an external process, as the official SDKs do) and
  ``lifetime`` is from when they were fetched to their ``Expiration``. The fraction is for sessions
  shorter than ``ahead`` itself (the emulator's 20-second sessions; a 15-minute session would otherwise
  be due the moment it arrives): a 20-second session is refreshed once 6.7 s remain. Credentials with no
  expiration are never due.
* **Single flight**: one ``anyio.Lock`` per provider; whoever finds the credentials due takes it, checks
  again (another worker may have refreshed them meanwhile) and fetches. Every worker sharing the
  provider — every region of an account, every target of one role — waits for that one fetch.
* **A refusal stands**: a fetch refused (``AuthError``: STS said ``NoPermission``, the process failed)
  is remembered and raised to every later caller without asking again, so a wrong external id costs
  one AssumeRole, not one per request. A fetch that fails otherwise while the old credentials are still
  valid keeps them (logged; the next caller tries again); past their expiration it is final too.
* ``refreshed(stale)`` (a 403 naming an expired token) fetches unless newer credentials than ``stale``
  exist already: many workers refused at once cost one refresh.

Counts go into the run's ``sts`` counter: ``refreshes`` (every fetch after the first).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Final

import anyio

from crawler.errors import AuthError, CrawlerError, IdentityError
from crawler.log import get_logger
from crawler.settings.credentials import Credentials

log = get_logger(__name__)

#: refresh this long before expiry (the official SDKs' 15 minutes; 3 for an external process)
REFRESH_AHEAD: Final = 15 * 60.0
EXTERNAL_REFRESH_AHEAD: Final = 3 * 60.0
#: ... or, for a session shorter than that, once less than this share of its life remains
SHORT_SESSION_SHARE: Final = 1 / 3

Fetch = Callable[[], Awaitable[Credentials]]


def refresh_margin(lifetime: float, ahead: float) -> float:
    """Seconds before expiry at which credentials of ``lifetime`` seconds are due for a refresh."""
    return min(ahead, max(0.0, lifetime) * SHORT_SESSION_SHARE)


class RefreshingProvider:
    """A ``CredentialProvider`` over ``fetch``: see the module docstring. ``clock`` is the wall clock in
    seconds since the epoch (expirations are absolute), injectable for tests."""

    def __init__(
        self,
        fetch: Fetch,
        description: str,
        *,
        counts: Counter[str],
        ahead: float = REFRESH_AHEAD,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._description = description
        self._counts = counts
        self._ahead = ahead
        self._clock = clock
        self._lock = anyio.Lock()
        self._credentials: Credentials | None = None
        self._due_at = 0.0  # wall-clock second at which the current credentials are due for a refresh
        self._refusal: AuthError | None = None
        #: fetches made (the first one and every refresh)
        self.fetches = 0

    def __repr__(self) -> str:
        return f"RefreshingProvider({self._description!r})"

    @property
    def description(self) -> str:
        return self._description

    async def current(self) -> Credentials:
        creds = self._credentials
        if creds is not None and self._clock() < self._due_at:
            return creds
        async with self._lock:
            creds = self._credentials
            if creds is not None and self._clock() < self._due_at:
                return creds  # refreshed by another worker while this one waited
            return await self._refresh(creds)

    async def refreshed(self, stale: Credentials) -> Credentials:
        async with self._lock:
            creds = self._credentials
            if creds is not None and creds is not stale:
                return creds  # someone refreshed them already
            return await self._refresh(creds, forced=True)

    async def _refresh(self, old: Credentials | None, *, forced: bool = False) -> Credentials:
        """Fetch new credentials (the lock is held)."""
        if self._refusal is not None:
            raise _again(self._refusal)
        first = self.fetches == 0
        self.fetches += 1
        if not first:
            self._counts["refreshes"] += 1
        try:
            fresh = await self._fetch()
        except AuthError as error:
            self._refusal = error
            log.info("identity.refused", identity=self._description, code=error.code)  # said at the end
            raise
        except CrawlerError as error:
            usable = old is not None and not forced and not self._expired(old)
            log.warning(
                "identity.refresh_failed",
                identity=self._description,
                code=error.code,
                keeping_old=usable,
            )
            if usable and old is not None:
                return old
            refusal = IdentityError(
                f"could not get credentials for {self._description}: {error.message}",
                code=error.code,
                http=error.http,
                request_id=error.request_id,
            )
            self._refusal = refusal
            raise refusal from error
        now = self._clock()
        if fresh.expiration is None:
            self._due_at = float("inf")
        else:
            expires = fresh.expiration.timestamp()
            self._due_at = expires - refresh_margin(expires - now, self._ahead)
        self._credentials = fresh
        log.info(
            "identity.credentials",
            identity=self._description,
            access_key_id=fresh.access_key_id,
            refresh=not first,
            forced=forced,
            expires_in=None if fresh.expiration is None else round(fresh.expiration.timestamp() - now, 1),
        )
        return fresh

    def _expired(self, creds: Credentials) -> bool:
        return creds.expiration is not None and self._clock() >= creds.expiration.timestamp()


def _again(error: AuthError) -> IdentityError:
    """A new exception of a remembered refusal (one object raised in many tasks would pile up their
    tracebacks and share the retry loop's ``attempts``)."""
    again = IdentityError(error.message, code=error.code, http=error.http, request_id=error.request_id)
    again.route = error.route
    return again


class RefusedProvider:
    """A provider that refuses: the target's credentials do not fit it (another account) or could not be
    had before the crawl. The transport asks it before any request, so the target's lane stops on its
    first call, through the pipeline's usual refusal path, and nothing is sent to FC."""

    def __init__(self, error: AuthError, description: str) -> None:
        self._error = error
        self._description = description

    def __repr__(self) -> str:
        return f"RefusedProvider({self._description!r})"

    @property
    def description(self) -> str:
        return self._description

    async def current(self) -> Credentials:
        raise _again(self._error)

    async def refreshed(self, stale: Credentials) -> Credentials:
        raise _again(self._error)


__all__ = [
    "EXTERNAL_REFRESH_AHEAD",
    "REFRESH_AHEAD",
    "RefreshingProvider",
    "RefusedProvider",
    "refresh_margin",
]
