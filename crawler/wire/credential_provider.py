"""What signs a request: a ``CredentialProvider`` gives the credentials of each attempt.

The transport asks ``await provider.current()`` before every attempt (so credentials that were refreshed
while a request waited are the ones it signs with), and on a 403 naming an expired or invalid security
token it asks ``refreshed(stale)`` once and sends that request once more. ``StaticProvider`` wraps keys
that never change: ``refreshed`` gives the same object back, which tells the transport that a refusal
stands. Refreshing providers (assumed roles, OIDC, ECS, ...) live in ``crawler.identity``.

Invariant: a provider never puts a secret in its ``description`` (it is logged and shown in errors).
"""

from __future__ import annotations

from typing import Protocol

from crawler.settings.credentials import Credentials


class CredentialProvider(Protocol):
    """Credentials for signing, fresh enough to use now."""

    @property
    def description(self) -> str:
        """Where the credentials come from, safe for logs and messages."""
        ...

    async def current(self) -> Credentials:
        """Credentials fresh enough to sign with (refreshed ahead of expiry, one refresh for all)."""
        ...

    async def refreshed(self, stale: Credentials) -> Credentials:
        """Force one refresh unless one newer than ``stale`` exists already; the same object back
        means nothing fresher can be had (the refusal of ``stale`` stands)."""
        ...


class StaticProvider:
    """One set of credentials that never changes (keys from the environment or a profile)."""

    __slots__ = ("_credentials", "_description")

    def __init__(self, credentials: Credentials, description: str | None = None) -> None:
        self._credentials = credentials
        self._description = description or (
            f"access key {credentials.access_key_id} from {credentials.source}"
        )

    def __repr__(self) -> str:
        return f"StaticProvider({self._description!r})"

    @property
    def description(self) -> str:
        return self._description

    async def current(self) -> Credentials:
        return self._credentials

    async def refreshed(self, stale: Credentials) -> Credentials:
        return self._credentials


__all__ = ["CredentialProvider", "StaticProvider"]
