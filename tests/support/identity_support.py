"""The identity side of the emulator, declared for tests: one central account with a RAM user, member
accounts each with a role that user may assume, STS (and, when asked, IMDS and a credentials URI) on
loopback, and a hand-made RPC v1 signer so tests can call STS the way the official libraries do.

``IdentityEstateSpec`` says what to build; ``start_identity_estate`` (the ``identity_estate`` fixture)
builds the registry, starts ``IdentityThread`` and one ``EmulatorThread`` per member account (its FC
gate accepting the sessions of its own role), and answers an ``IdentityEstate`` with the user's keys, the
role ARNs, the STS endpoint and the member emulators. The v1 signer here is the tests' own code, written
from the POP documentation, independent of the emulator's verifier (``crawler.emulator.auth``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from crawler.emulator import AccountSpec, generate_account
from crawler.emulator.metadata_routes import CredentialsUriApi, ImdsApi
from crawler.emulator.ram import IdentityRegistry, RamUser, Role
from crawler.emulator.server import EmulatorThread, IdentityThread
from crawler.wire.signing import acs3_authorization

CENTRAL_ACCOUNT = "1000000000000001"
#: what each member account holds by default: small, so an estate starts in a blink
MEMBER_ACCOUNT = AccountSpec(seed=11, services=2, functions=10, big_functions=0)
ROLE_NAME = "fcaudit-readonly"


def member_account(index: int) -> str:
    return f"{2000000000000001 + index}"


@dataclass(frozen=True, slots=True)
class IdentityEstateSpec:
    """A central account whose RAM user ``user`` assumes ``role_name`` in each of ``members`` accounts.

    ``session_seconds`` overrides every session's lifetime; ``external_id`` is required by every role;
    ``sts_rate`` throttles STS per calling account; ``untrusted``: member indexes whose role does not
    trust the user; ``imds``/``uri``: also serve an ECS metadata server / a credentials URI for the
    first member's role; ``emulators``: start an FC emulator per member (with ``spec`` seeded per member)."""

    members: int = 3
    session_seconds: float | None = None
    external_id: str | None = None
    sts_rate: float | None = None
    untrusted: frozenset[int] = frozenset()
    imds: bool = False
    imdsv1: bool = True
    uri: bool = False
    uri_query: Mapping[str, str] = field(default_factory=dict)
    rotate_ahead: float | None = None
    emulators: bool = True
    spec: AccountSpec = MEMBER_ACCOUNT
    seed: int = 0


@dataclass
class IdentityEstate:
    registry: IdentityRegistry
    user: RamUser
    roles: dict[str, Role]  # member account → its role
    identity: IdentityThread
    members: dict[str, EmulatorThread]  # member account → its FC emulator (empty if not started)
    imds: ImdsApi | None = None
    uri: CredentialsUriApi | None = None

    @property
    def sts_endpoint(self) -> str:
        return self.identity.sts_endpoint

    def role_arn(self, account: str) -> str:
        return self.roles[account].arn


class FakeWallClock:
    """A wall clock a test moves by hand (``advance``); starts at the real time."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build_registry(
    spec: IdentityEstateSpec, wall_clock: Callable[[], float] = time.time
) -> tuple[IdentityRegistry, RamUser, dict[str, Role]]:
    registry = IdentityRegistry(
        seed=spec.seed, session_seconds=spec.session_seconds, sts_rate=spec.sts_rate, wall_clock=wall_clock
    )
    user = registry.add_user(CENTRAL_ACCOUNT, "auditor")
    roles = {}
    for index in range(spec.members):
        account = member_account(index)
        trusted = () if index in spec.untrusted else (user,)
        roles[account] = registry.add_role(account, ROLE_NAME, trusted=trusted, external_id=spec.external_id)
    return registry, user, roles


def start_identity_estate(
    spec: IdentityEstateSpec, stack: ExitStack, wall_clock: Callable[[], float] = time.time
) -> IdentityEstate:
    """Build ``spec`` and start its servers; they stop when ``stack`` closes."""
    registry, user, roles = build_registry(spec, wall_clock)
    first = roles[member_account(0)] if roles else None
    imds = uri = None
    if spec.imds and first is not None:
        ecs_role = registry.add_role(first.account_id, "ecs-auditor", trusted=("ecs.aliyuncs.com",))
        imds = ImdsApi(registry, ecs_role, imdsv1=spec.imdsv1, rotate_ahead=spec.rotate_ahead)
    if spec.uri and first is not None:
        uri = CredentialsUriApi(registry, first, query=spec.uri_query, rotate_ahead=spec.rotate_ahead)
    identity = stack.enter_context(IdentityThread(registry, imds=imds, uri=uri))
    members: dict[str, EmulatorThread] = {}
    if spec.emulators:
        for index, account in enumerate(roles):
            account_spec = AccountSpec(
                seed=spec.spec.seed + index,
                services=spec.spec.services,
                functions=spec.spec.functions,
                big_functions=spec.spec.big_functions,
                account_id=account,
            )
            members[account] = stack.enter_context(
                EmulatorThread(generate_account(account_spec), identity=registry)
            )
    return IdentityEstate(registry, user, roles, identity, members, imds, uri)


# --- signing STS calls by hand ------------------------------------------------------------------------
def _pop(value: str) -> str:
    return quote(value, safe="-_.~")


def v1_signed_params(
    action: str,
    params: Mapping[str, str],
    key_id: str,
    secret: str,
    *,
    token: str | None = None,
    method: str = "GET",
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The query of an RPC v1 call (``Signature`` included), as the official credentials libraries do."""
    query = {
        "Action": action,
        "Version": "2015-04-01",
        "Format": "JSON",
        "AccessKeyId": key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **params,
    }
    if token is not None:
        query["SecurityToken"] = token
    canonical = "&".join(f"{_pop(k)}={_pop(query[k])}" for k in sorted(query))
    to_sign = f"{method}&%2F&{_pop(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    query["Signature"] = base64.b64encode(digest).decode()
    return query


def acs3_sts_request(
    endpoint: str,
    action: str,
    params: Mapping[str, str],
    key_id: str,
    secret: str,
    *,
    token: str | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(query, headers) of an ACS3-signed ``POST /`` to STS, signed by the crawler's signer."""
    host = endpoint.split("://", 1)[1]
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": "2015-04-01",
        "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
    }
    if token is not None:
        headers["x-acs-security-token"] = token
    query = dict(params)
    headers["Authorization"] = acs3_authorization(key_id, secret, "POST", "/", list(query.items()), headers)
    return query, headers


def credentials_of(answer: Mapping[str, Any]) -> tuple[str, str, str]:
    creds = answer["Credentials"]
    return creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"]


def role_params(role_arn: str, session: str = "fcaudit-test", **extra: str) -> dict[str, str]:
    return {"RoleArn": role_arn, "RoleSessionName": session, **extra}


__all__: Sequence[str] = (
    "CENTRAL_ACCOUNT",
    "ROLE_NAME",
    "FakeWallClock",
    "IdentityEstate",
    "IdentityEstateSpec",
    "acs3_sts_request",
    "build_registry",
    "credentials_of",
    "member_account",
    "role_params",
    "start_identity_estate",
    "v1_signed_params",
)
