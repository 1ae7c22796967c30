"""The run's identities: one provider per credential source, shared by every target that uses it.

``IdentityCache.provider(source)`` gives the ``CredentialProvider`` of a ``CredentialSource``, built
once per run and keyed by what the identity *is*: static keys by their key; an assumed role by its base
identity, role ARN and external id (not the session name or duration: two targets naming the same role
from the same base share one session), so there is one AssumeRole per (base identity, role, external
id) — shared by every region of that account — and one more per refresh. A chain (ChainableRamRoleArn)
is a role whose base is another cached provider, refreshed on its own schedule.

The cache owns the run's ``StsClient`` and ``MetadataClient`` and the ``sts`` counter the end record
reports: ``assumeRole``, ``assumeRoleWithOIDC``, ``getCallerIdentity``, ``refreshes`` (plus
``requests``, ``retries`` and ``throttled`` of STS, and ``ecsMetadata``, ``credentialsUri``,
``externalProcess`` fetches and ``metadataRequests`` when those sources are used).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable
from pathlib import Path

import anyio

from crawler.errors import AuthError, IdentityError
from crawler.identity.external import process_credentials
from crawler.identity.refreshing import EXTERNAL_REFRESH_AHEAD, REFRESH_AHEAD, Fetch, RefreshingProvider
from crawler.settings.credentials import Credentials
from crawler.settings.identity import (
    AssumedRole,
    CredentialSource,
    CredentialsUri,
    EcsRamRole,
    ExternalProcess,
    OidcRole,
    StaticKeys,
    describe,
)
from crawler.wire.credential_provider import CredentialProvider, StaticProvider
from crawler.wire.metadata_client import MetadataClient
from crawler.wire.sts_client import StsClient
from crawler.wire.transport import stale_token

#: the OIDC token file's largest accepted size (a JWT is a few KB)
MAX_OIDC_TOKEN_BYTES = 64 * 1024


def source_key(source: CredentialSource) -> Hashable:
    """What makes two sources the same identity (the cache's key)."""
    match source:
        case StaticKeys(credentials=creds):
            return ("keys", creds.access_key_id, creds.access_key_secret, creds.security_token)
        case AssumedRole(base=base, role=role):
            return ("role", source_key(base), role.role_arn, role.external_id, role.sts.url)
        case OidcRole(role=role, provider_arn=provider, token_file=path):
            return ("oidc", role.role_arn, provider, str(path), role.sts.url)
        case EcsRamRole(role_name=name, metadata_url=url):
            return ("ecs", name, url)
        case CredentialsUri(uri=uri):
            return ("uri", uri)
        case ExternalProcess(command=command, profile=profile):
            return ("external", command, profile)
    raise AssertionError(f"unknown credential source {type(source).__name__}")  # pragma: no cover


class IdentityCache:
    """Providers by source for one run (module docstring)."""

    def __init__(
        self,
        sts: StsClient,
        metadata: MetadataClient,
        *,
        counts: Counter[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sts = sts
        self.metadata = metadata
        self.counts = counts
        self._clock = clock
        self._providers: dict[Hashable, CredentialProvider] = {}

    def __repr__(self) -> str:
        return f"IdentityCache({len(self._providers)} identities)"

    def provider(self, source: CredentialSource) -> CredentialProvider:
        """The one provider of ``source`` for this run."""
        key = source_key(source)
        found = self._providers.get(key)
        if found is None:
            found = self._providers[key] = self._build(source)
        return found

    def _refreshing(
        self, fetch: Fetch, source: CredentialSource, ahead: float = REFRESH_AHEAD
    ) -> CredentialProvider:
        return RefreshingProvider(fetch, describe(source), counts=self.counts, ahead=ahead, clock=self._clock)

    def _build(self, source: CredentialSource) -> CredentialProvider:
        match source:
            case StaticKeys(credentials=creds):
                return StaticProvider(creds, describe(source))
            case AssumedRole(base=base_source, role=role):
                base = self.provider(base_source)
                sts = self.sts

                async def assume() -> Credentials:
                    creds = await base.current()
                    try:
                        return (await sts.assume_role(creds, role)).credentials
                    except AuthError as error:
                        fresh = await base.refreshed(creds) if stale_token(error.code) else creds
                        if fresh is creds:
                            raise
                    # the base session's token went stale under us: refreshed once, asked again
                    return (await sts.assume_role(fresh, role)).credentials

                return self._refreshing(assume, source)
            case OidcRole(role=role, provider_arn=provider_arn, token_file=path):
                sts = self.sts

                async def assume_oidc() -> Credentials:
                    token = await _read_token(path)  # again on every refresh: the kubelet rotates it
                    return (await sts.assume_role_with_oidc(role, provider_arn, token)).credentials

                return RefreshingProvider(
                    assume_oidc, describe(source), counts=self.counts, clock=self._clock
                )
            case EcsRamRole(role_name=name, metadata_url=url, imdsv1_allowed=v1):
                metadata = self.metadata

                async def ecs() -> Credentials:
                    return await metadata.ecs_credentials(url, name, imdsv1_allowed=v1)

                return self._refreshing(ecs, source)
            case CredentialsUri(uri=uri):
                metadata = self.metadata

                async def from_uri() -> Credentials:
                    return await metadata.uri_credentials(uri)

                return self._refreshing(from_uri, source)
            case ExternalProcess(command=command, profile=profile):
                counts = self.counts

                async def external() -> Credentials:
                    return await process_credentials(command, profile, counts=counts)

                return RefreshingProvider(
                    external,
                    describe(source),
                    counts=self.counts,
                    ahead=EXTERNAL_REFRESH_AHEAD,
                    clock=self._clock,
                )
        raise AssertionError(f"unknown credential source {type(source).__name__}")  # pragma: no cover


async def _read_token(path: Path) -> str:
    """The OIDC token file's content, read now (never cached); errors name the file, never its content."""
    file = anyio.Path(str(path))
    try:
        raw = await file.read_bytes()
    except OSError as exc:
        raise IdentityError(
            f"cannot read the OIDC token file {path}: {exc.strerror or type(exc).__name__}",
            code="OidcTokenFile",
        ) from None
    if len(raw) > MAX_OIDC_TOKEN_BYTES:
        raise IdentityError(
            f"the OIDC token file {path} is over {MAX_OIDC_TOKEN_BYTES} bytes", code="OidcTokenFile"
        )
    token = raw.decode("utf-8", "replace").strip()
    if not token:
        raise IdentityError(f"the OIDC token file {path} is empty", code="OidcTokenFile")
    return token


__all__ = ["IdentityCache", "source_key"]
