"""Where a target's identity comes from, described: frozen credential *sources*, never fetched here.

A ``CredentialSource`` says how credentials are obtained — static keys, a role assumed on top of another
source, an RRSA/OIDC role, the ECS instance RAM role, a credentials URI, an external process — and the
identity stage (``crawler.identity``) turns it into credentials at run time. This module reads the
environment and files only (the aliyun CLI config; the OIDC token file's *path*, never its content): no
network, no subprocess.

Invariants: ``describe`` is the one text of a source fit for messages and logs — it never holds a secret,
a session token, OIDC token content, a credentials URI's query string or an external command line. Equal
sources mean the same identity, so the run can share one provider per source (one AssumeRole per base
identity, role and external id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from crawler.errors import CredentialsError
from crawler.settings.credentials import Credentials

__all__ = [
    "DEFAULT_STS",
    "AssumedRole",
    "CredentialSource",
    "CredentialsUri",
    "EcsRamRole",
    "ExternalProcess",
    "OidcRole",
    "RoleSpec",
    "StaticKeys",
    "StsEndpoint",
    "describe",
    "static_credentials",
]


@dataclass(frozen=True, slots=True)
class StsEndpoint:
    """Where STS calls go: ``https://sts.aliyuncs.com``, a regional or VPC host, or a loopback http URL."""

    url: str


DEFAULT_STS = StsEndpoint("https://sts.aliyuncs.com")


@dataclass(frozen=True, slots=True)
class StaticKeys:
    """Keys as given: the environment, an AK or StsToken profile, a target's ``access_key_id_env``."""

    credentials: Credentials


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """One STS role to assume (AssumeRole, or AssumeRoleWithOIDC with ``external_id`` None)."""

    role_arn: str
    session_name: str
    duration_seconds: int = 3600
    #: kept out of ``repr``: not a credential, but a shared secret of the role's trust policy
    external_id: str | None = field(default=None, repr=False)
    sts: StsEndpoint = DEFAULT_STS


@dataclass(frozen=True, slots=True)
class AssumedRole:
    """A role assumed with the credentials of ``base``: RamRoleArn and ChainableRamRoleArn profiles,
    ``role_arn`` on a target or as a default, ``--role-arn``."""

    base: CredentialSource
    role: RoleSpec


@dataclass(frozen=True, slots=True)
class OidcRole:
    """A role assumed with an OIDC token (RRSA on ACK, or an OIDC profile); the token file is read again
    on every refresh (the kubelet rotates it), never cached."""

    role: RoleSpec
    provider_arn: str
    token_file: Path


@dataclass(frozen=True, slots=True)
class EcsRamRole:
    """The ECS instance RAM role, only when asked for; ``role_name`` None: the metadata server names it."""

    role_name: str | None
    metadata_url: str = "http://100.100.100.200"
    imdsv1_allowed: bool = True


@dataclass(frozen=True, slots=True)
class CredentialsUri:
    """Credentials from a URL (``ALIBABA_CLOUD_CREDENTIALS_URI``, a CredentialsURI profile); its query
    string may hold a secret, so it is kept out of ``repr`` and ``describe``."""

    uri: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ExternalProcess:
    """An External profile's ``process_command`` (JSON credentials on stdout); the command line may hold a
    secret, so it is kept out of ``repr`` and ``describe``."""

    command: str = field(repr=False)
    profile: str


CredentialSource = StaticKeys | AssumedRole | OidcRole | EcsRamRole | CredentialsUri | ExternalProcess


def _uri_without_query(uri: str) -> str:
    """scheme://host[:port]/path of a URI: no user info, query or fragment (they may hold secrets)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return "(an unparsable URI)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "") + parts.path


def describe(source: CredentialSource) -> str:
    """A one-line description of a source, safe for messages and logs (no secret of any kind)."""
    match source:
        case StaticKeys(credentials=creds):
            return f"{creds.source} (access key {creds.access_key_id})"
        case AssumedRole(base=base, role=role):
            extra = ", with an external id" if role.external_id is not None else ""
            return f"role {role.role_arn}{extra} assumed with {describe(base)}"
        case OidcRole(role=role, provider_arn=provider, token_file=token_file):
            return f"OIDC role {role.role_arn} (provider {provider}, token file {token_file})"
        case EcsRamRole(role_name=name):
            named = f"'{name}'" if name else "(named by the metadata server)"
            return f"ECS instance RAM role {named}"
        case CredentialsUri(uri=uri):
            return f"credentials URI {_uri_without_query(uri)}"
        case ExternalProcess(profile=profile):
            return f"profile {profile!r} (External: its process_command)"
    raise AssertionError(f"unknown credential source {type(source).__name__}")  # pragma: no cover


def static_credentials(source: CredentialSource) -> Credentials:
    """The keys of a ``StaticKeys`` source; any other source is refused (until the identity stage can
    obtain them at run time)."""
    if isinstance(source, StaticKeys):
        return source.credentials
    raise CredentialsError(f"{describe(source)}: this kind of credentials is not yet supported by the crawl")
