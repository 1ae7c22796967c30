"""Who am I: STS GetCallerIdentity, once per distinct identity, to fill unknown accounts and to refuse a
target whose credentials belong to another account.

Which identities are asked: those of a target whose account is unknown (``""``: the account is what
the credentials say), and every role (an assumed role, an OIDC role), since the target's account is
then the role's and a wrong ``{account}`` in a role ARN is an easy mistake. Static keys, the ECS role,
a credentials URI or an external process with an account given are not asked (no STS call where none
is needed; their refusal, if any, comes from FC itself).

A target whose identity cannot be had (STS refused the role) or belongs to another account is not
dropped here: it gets a ``RefusedProvider``, so its lane stops on its first call through the
pipeline's usual refusal path — recorded, reported in one line, the other targets crawled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import anyio

from crawler.errors import AuthError, CrawlerError, IdentityError
from crawler.identity.cache import IdentityCache, source_key
from crawler.identity.refreshing import RefusedProvider
from crawler.log import get_logger
from crawler.settings.config import Target
from crawler.settings.endpoints import check_endpoint
from crawler.settings.identity import AssumedRole, OidcRole, StsEndpoint, describe
from crawler.wire.credential_provider import CredentialProvider
from crawler.wire.sts_client import CallerIdentity

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A target with its account known (when it could be), and the provider that signs for it."""

    target: Target
    provider: CredentialProvider


def needs_check(target: Target) -> bool:
    """Whether GetCallerIdentity is asked for this target's identity (module docstring)."""
    return target.account == "" or isinstance(target.identity, AssumedRole | OidcRole)


def sts_of(target: Target, default: StsEndpoint | None) -> StsEndpoint:
    """Where to ask: the role's STS endpoint, else ``default`` (tests), else the target's."""
    identity = target.identity
    if isinstance(identity, AssumedRole | OidcRole):
        return identity.role.sts
    return default if default is not None else target.sts


async def resolve_targets(
    targets: Sequence[Target],
    cache: IdentityCache,
    *,
    sts: StsEndpoint | None = None,
    insecure_http: bool = False,
) -> list[Resolved]:
    """Each target with its provider; unknown accounts filled, mismatched ones refused (module
    docstring). One GetCallerIdentity per distinct identity, the identities asked concurrently (the STS
    client paces them)."""
    asked: dict[object, CallerIdentity | AuthError] = {}
    wanted: dict[object, Target] = {}
    for target in targets:
        if needs_check(target):
            wanted.setdefault(source_key(target.identity), target)

    async def ask(key: object, target: Target) -> None:
        provider = cache.provider(target.identity)
        try:
            creds = await provider.current()
            asked[key] = await cache.sts.get_caller_identity(creds, sts_of(target, sts))
        except AuthError as error:
            asked[key] = error
        except CrawlerError as error:  # STS unreachable, a broken answer: the target cannot be checked
            what = describe(target.identity)
            hint = "; pass --account ID, or check --sts-endpoint" if target.account == "" else ""
            asked[key] = IdentityError(
                f"could not learn whose credentials {what} are: {error.message}{hint}", code=error.code
            )

    async with anyio.create_task_group() as group:
        for key, target in wanted.items():
            group.start_soon(ask, key, target)

    resolved: list[Resolved] = []
    for target in targets:
        provider = cache.provider(target.identity)
        answer = asked.get(source_key(target.identity)) if needs_check(target) else None
        if isinstance(answer, AuthError):
            resolved.append(Resolved(target, RefusedProvider(answer, provider.description)))
            continue
        if answer is not None:
            if target.account == "":
                target = fill_account(target, answer.account_id, insecure_http=insecure_http)
                log.info("identity.account", region=target.region, account=target.account)
            elif target.account != answer.account_id:
                refusal = IdentityError(
                    f"the credentials of {provider.description} belong to account {answer.account_id}, "
                    f"not to account {target.account} of the target",
                    code="AccountMismatch",
                )
                log.info(  # the command line reports the refusal, once, at the end
                    "identity.account_mismatch",
                    account=target.account,
                    region=target.region,
                    credentials_account=answer.account_id,
                )
                resolved.append(Resolved(target, RefusedProvider(refusal, provider.description)))
                continue
        resolved.append(Resolved(target, provider))
    return resolved


def fill_account(target: Target, account: str, *, insecure_http: bool = False) -> Target:
    """``target`` with its account known: the endpoint's ``{account}`` placeholder filled in."""
    endpoint = target.endpoint
    if "{account}" in endpoint:
        endpoint = check_endpoint(endpoint.replace("{account}", account), insecure_http=insecure_http)
    return replace(target, account=account, endpoint=endpoint)


__all__ = ["Resolved", "fill_account", "needs_check", "resolve_targets"]
