"""The emulator's identity world: RAM users, roles and their trust, OIDC providers, and the session
credentials STS issues — shared by the STS server, the metadata servers and every FC account's gate.

No HTTP here (``sts_routes`` and ``metadata_routes`` translate). One ``IdentityRegistry`` serves a whole
emulated estate: a RAM user in a "central" account holds long-term keys; each member account has a
role whose trust list names who may assume it (a principal ARN, an account's ``root`` for any of its
identities, an OIDC provider, or the ECS service) and, optionally, the external id the caller must send.
``assume_role`` issues session credentials (``STS.…`` key id, a secret, a security token, an expiration);
every FC account's gate (``auth.KeyedVerifier``) asks ``lookup`` whether a key id is one of them and
refuses it once past its expiry or when it belongs to another account.

Invariants: the registry is the ground truth of which credentials see which account; its clock
(``wall_clock``) is injectable so a test can expire sessions without sleeping; it may be called from
several emulator threads at once (an estate runs one thread per account), so every change and lookup
holds one lock; secrets and tokens never appear in a repr.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from crawler.emulator import api_errors
from crawler.emulator.model import iso
from crawler.errors import UsageError

#: the service principal an ECS instance RAM role trusts
ECS_SERVICE: Final = "ecs.aliyuncs.com"
MIN_DURATION: Final = 900
MAX_DURATION: Final = 43_200
DEFAULT_DURATION: Final = 3600
SESSION_NAME_RE: Final = re.compile(r"^[A-Za-z0-9.@_-]{2,64}$")
EXTERNAL_ID_RE: Final = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
ROLE_ARN_RE: Final = re.compile(r"^acs:ram::(\d+):role/([A-Za-z0-9.@_-]{1,64})$", re.IGNORECASE)
_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def role_arn(account_id: str, name: str) -> str:
    return f"acs:ram::{account_id}:role/{name.lower()}"


def user_arn(account_id: str, name: str) -> str:
    return f"acs:ram::{account_id}:user/{name}"


def account_root(account_id: str) -> str:
    """The trust principal meaning "any RAM identity of this account"."""
    return f"acs:ram::{account_id}:root"


@dataclass(frozen=True, slots=True)
class RamUser:
    """A RAM user and its one access key pair."""

    account_id: str
    name: str
    user_id: str
    access_key_id: str
    access_key_secret: str = field(repr=False)

    @property
    def arn(self) -> str:
        return user_arn(self.account_id, self.name)


@dataclass(frozen=True, slots=True)
class Role:
    """A RAM role: who may assume it (``trusted``: principal ARNs, ``acs:ram::<id>:root``, OIDC provider
    ARNs, ``ecs.aliyuncs.com``), the external id a caller must send (``None``: none asked), and the
    longest session it allows (``max_session_seconds``, 3600..43200 as in RAM)."""

    account_id: str
    name: str
    role_id: str
    trusted: frozenset[str]
    external_id: str | None = None
    max_session_seconds: int = DEFAULT_DURATION

    @property
    def arn(self) -> str:
        return role_arn(self.account_id, self.name)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signed a request: a RAM user, or a role session (``session_name`` set)."""

    account_id: str
    arn: str
    identity_type: str  # "RAMUser" or "AssumedRoleUser", as GetCallerIdentity spells it
    user_id: str  # the user's id, or the role's id
    principal_id: str  # the user's id, or "<role id>:<session name>"
    role_arn: str | None = None  # for a session: the role it is of (what a trust list names)


@dataclass(frozen=True, slots=True)
class Session:
    """Session credentials STS issued: valid for ``principal.account_id`` until ``expires_at``."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(repr=False)
    expires_at: float = 0.0
    principal: Principal | None = None

    @property
    def expiration(self) -> str:
        """As STS writes it, at second precision, never later than the real expiry."""
        return iso(math.floor(self.expires_at))

    def credentials_json(self) -> dict[str, str]:
        return {
            "AccessKeyId": self.access_key_id,
            "AccessKeySecret": self.access_key_secret,
            "SecurityToken": self.security_token,
            "Expiration": self.expiration,
        }


@dataclass(frozen=True, slots=True)
class KnownKey:
    """What a gate needs about a key id: its secret, its token (sessions), expiry, and whose it is."""

    secret: str = field(repr=False)
    principal: Principal
    token: str | None = field(default=None, repr=False)
    expires_at: float | None = None


class IdentityRegistry:
    """Users, roles, OIDC providers and issued sessions of an emulated estate (see the module docstring).

    ``session_seconds`` overrides every session's lifetime (tests: sessions of a few seconds, whatever
    DurationSeconds asked); ``sts_rate``/``sts_burst`` cap STS calls per calling account (``Throttling``
    beyond them; ``None``: no cap)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        session_seconds: float | None = None,
        sts_rate: float | None = None,
        sts_burst: int | None = None,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if session_seconds is not None and not session_seconds > 0:
            raise UsageError(f"session seconds must be > 0, got {session_seconds}")
        if sts_rate is not None and not sts_rate > 0:
            raise UsageError(f"STS rate must be > 0 requests/s, got {sts_rate}")
        self.session_seconds = session_seconds
        self.sts_rate = sts_rate
        self.sts_burst = sts_burst if sts_burst is not None else max(1, math.ceil(sts_rate or 1.0))
        self.wall_clock = wall_clock
        self._clock = clock
        self._rng = random.Random(f"identity:{seed}")
        self._lock = threading.Lock()
        self._users: dict[str, RamUser] = {}  # by access key id
        self._roles: dict[str, Role] = {}  # by lower-cased ARN
        self._providers: dict[str, set[str]] = {}  # OIDC provider ARN → accepted tokens
        self._sessions: dict[str, Session] = {}  # by access key id
        self._buckets: dict[str, tuple[float, float]] = {}  # account → (tokens, stamp)
        #: calls answered, by action; AssumeRole also by role ARN (``assumed``); refusals by code
        self.calls: Counter[str] = Counter()
        self.assumed: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def __repr__(self) -> str:  # never a secret or a token
        return (
            f"IdentityRegistry(users={len(self._users)}, roles={len(self._roles)}, "
            f"sessions={len(self._sessions)})"
        )

    # --- shaping the estate ----------------------------------------------------------------------------
    def _random(self, alphabet: str, n: int) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(n))

    def add_user(
        self, account_id: str, name: str, *, access_key_id: str | None = None, secret: str | None = None
    ) -> RamUser:
        """A RAM user of ``account_id`` with one key pair (generated from the seed unless given)."""
        _check_account(account_id)
        with self._lock:
            user = RamUser(
                account_id=account_id,
                name=name,
                user_id=self._random("0123456789", 16),
                access_key_id=access_key_id or "LTAI" + self._random(_ALPHABET, 20),
                access_key_secret=secret or self._random(_ALPHABET, 30),
            )
            self._users[user.access_key_id] = user
        return user

    def add_role(
        self,
        account_id: str,
        name: str,
        *,
        trusted: Iterable[str | RamUser | Role],
        external_id: str | None = None,
        max_session_seconds: int = DEFAULT_DURATION,
    ) -> Role:
        """A role of ``account_id`` that the ``trusted`` principals may assume (users, roles, ARNs)."""
        _check_account(account_id)
        if not DEFAULT_DURATION <= max_session_seconds <= MAX_DURATION:
            raise UsageError(f"a role's max session must be in 3600..43200 s, got {max_session_seconds}")
        if external_id is not None and not EXTERNAL_ID_RE.match(external_id):
            raise UsageError(f"external id {external_id!r} is not 2..1224 characters of [\\w+=,.@:/-]")
        names = frozenset(p if isinstance(p, str) else p.arn for p in trusted)
        with self._lock:
            role = Role(
                account_id=account_id,
                name=name,
                role_id="3" + self._random("0123456789", 18),
                trusted=names,
                external_id=external_id,
                max_session_seconds=max_session_seconds,
            )
            self._roles[role.arn.lower()] = role
        return role

    def add_oidc_provider(self, account_id: str, name: str, tokens: Iterable[str] = ()) -> str:
        """An OIDC provider of ``account_id`` accepting ``tokens``; answers its ARN (trust it on a role)."""
        _check_account(account_id)
        arn = f"acs:ram::{account_id}:oidc-provider/{name}"
        with self._lock:
            self._providers[arn] = set(tokens)
        return arn

    def accept_oidc_token(self, provider_arn: str, token: str) -> None:
        """The provider now accepts ``token`` too (a rotated token the kubelet wrote)."""
        with self._lock:
            self._providers[provider_arn].add(token)

    def revoke_oidc_token(self, provider_arn: str, token: str) -> None:
        with self._lock:
            self._providers[provider_arn].discard(token)

    def role(self, arn: str) -> Role:
        with self._lock:
            found = self._roles.get(arn.lower())
        if found is None:
            raise api_errors.sts_role_not_found(arn)
        return found

    # --- what the gates ask ----------------------------------------------------------------------------
    def now(self) -> float:
        return self.wall_clock()

    def lookup(self, access_key_id: str) -> KnownKey | None:
        """A RAM user's key or an issued session's (expired ones too: the gate says they expired)."""
        with self._lock:
            user = self._users.get(access_key_id)
            session = self._sessions.get(access_key_id) if user is None else None
        if user is not None:
            return KnownKey(user.access_key_secret, _user_principal(user))
        if session is not None and session.principal is not None:
            return KnownKey(
                session.access_key_secret, session.principal, session.security_token, session.expires_at
            )
        return None

    # --- STS ------------------------------------------------------------------------------------------
    def admit(self, account_id: str) -> None:
        """One STS call charged to ``account_id``; ``Throttling`` when over the configured rate."""
        if self.sts_rate is None:
            return
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.get(account_id, (float(self.sts_burst), now))
            tokens = min(float(self.sts_burst), tokens + (now - stamp) * self.sts_rate)
            admitted = tokens >= 1.0
            self._buckets[account_id] = (tokens - 1.0 if admitted else tokens, now)
            if not admitted:
                self.refused["Throttling"] += 1
        if not admitted:
            raise api_errors.sts_throttled()

    def assume_role(
        self,
        caller: Principal,
        arn: str,
        session_name: str,
        duration_seconds: int | None = None,
        external_id: str | None = None,
    ) -> Session:
        """AssumeRole by ``caller``: the trust check, the external id, then a new session."""
        role = self._checked_role(arn, session_name, duration_seconds)
        if caller.identity_type not in ("RAMUser", "AssumedRoleUser"):
            raise self._refuse(api_errors.sts_no_permission("the caller must be a RAM user or role"))
        names = {caller.arn.lower(), account_root(caller.account_id)}
        if caller.role_arn is not None:
            names.add(caller.role_arn.lower())
        if not names & {t.lower() for t in role.trusted}:
            raise self._refuse(api_errors.sts_no_permission(f"{role.arn} does not trust {caller.arn}"))
        if role.external_id is not None and external_id != role.external_id:
            raise self._refuse(api_errors.sts_no_permission("the external id does not match the role's"))
        with self._lock:
            self.calls["AssumeRole"] += 1
            self.assumed[role.arn] += 1
        return self.issue(role, session_name, duration_seconds)

    def assume_role_with_oidc(
        self, provider_arn: str, token: str, arn: str, session_name: str, duration_seconds: int | None = None
    ) -> Session:
        """AssumeRoleWithOIDC: the provider must exist, accept ``token`` and be trusted by the role."""
        with self._lock:
            accepted = self._providers.get(provider_arn)
            known = accepted is not None and token in accepted
        if accepted is None:
            raise self._refuse(api_errors.sts_provider_not_found(provider_arn))
        if not known:
            raise self._refuse(api_errors.sts_oidc_token_invalid())
        role = self._checked_role(arn, session_name, duration_seconds)
        if provider_arn.lower() not in {t.lower() for t in role.trusted}:
            raise self._refuse(api_errors.sts_no_permission(f"{role.arn} does not trust {provider_arn}"))
        with self._lock:
            self.calls["AssumeRoleWithOIDC"] += 1
            self.assumed[role.arn] += 1
        return self.issue(role, session_name, duration_seconds)

    def caller_identity(self, caller: Principal) -> dict[str, str]:
        with self._lock:
            self.calls["GetCallerIdentity"] += 1
        return {
            "AccountId": caller.account_id,
            "UserId": caller.user_id,
            "Arn": caller.arn,
            "IdentityType": caller.identity_type,
            "PrincipalId": caller.principal_id,
        }

    def issue(self, role: Role, session_name: str, duration_seconds: int | None = None) -> Session:
        """A new session of ``role`` (STS after its checks; the metadata servers directly)."""
        lifetime = float(duration_seconds or DEFAULT_DURATION)
        if self.session_seconds is not None:
            lifetime = self.session_seconds
        principal = Principal(
            account_id=role.account_id,
            arn=f"acs:ram::{role.account_id}:assumed-role/{role.name.lower()}/{session_name}",
            identity_type="AssumedRoleUser",
            user_id=role.role_id,
            principal_id=f"{role.role_id}:{session_name}",
            role_arn=role.arn,
        )
        with self._lock:
            session = Session(
                access_key_id="STS." + self._random(_ALPHABET, 24),
                access_key_secret=self._random(_ALPHABET, 40),
                security_token="CAIS" + self._random(_ALPHABET + "+/", 120),
                expires_at=self.wall_clock() + lifetime,
                principal=principal,
            )
            self._sessions[session.access_key_id] = session
        return session

    def _checked_role(self, arn: str, session_name: str, duration_seconds: int | None) -> Role:
        if not ROLE_ARN_RE.match(arn):
            raise self._refuse(
                api_errors.sts_invalid("RoleArn", f"{arn!r} is not acs:ram::<account>:role/<name>")
            )
        if not SESSION_NAME_RE.match(session_name):
            raise self._refuse(
                api_errors.sts_invalid(
                    "RoleSessionName", "RoleSessionName must be 2-64 characters of [A-Za-z0-9.@_-]"
                )
            )
        try:
            role = self.role(arn)
        except api_errors.EmulatorApiError as exc:
            raise self._refuse(exc) from None
        if duration_seconds is not None and not MIN_DURATION <= duration_seconds <= role.max_session_seconds:
            raise self._refuse(
                api_errors.sts_invalid(
                    "DurationSeconds",
                    f"DurationSeconds must be in {MIN_DURATION}..{role.max_session_seconds} for {role.arn}",
                )
            )
        return role

    def _refuse(self, exc: api_errors.EmulatorApiError) -> api_errors.EmulatorApiError:
        with self._lock:
            self.refused[exc.code] += 1
        return exc

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON: calls by action, AssumeRole(WithOIDC) by role, refusals by code."""
        with self._lock:
            return {
                "calls": dict(self.calls),
                "assumed": dict(self.assumed),
                "refused": dict(self.refused),
                "sessions": len(self._sessions),
            }


#: what ``single_role`` sets up (``fcaudit demo --role``, ``fcaudit emulator --role``)
CENTRAL_ACCOUNT: Final = "1000000000000001"
AUDIT_ROLE_NAME: Final = "fcaudit-readonly"
AUDIT_EXTERNAL_ID: Final = "fcaudit-demo"
MIN_SESSION_SECONDS: Final = 5


@dataclass(frozen=True, slots=True)
class SingleRole:
    """A central RAM user and one account's audit role that trusts it (with ``AUDIT_EXTERNAL_ID``)."""

    registry: IdentityRegistry
    user: RamUser
    role: Role
    external_id: str = AUDIT_EXTERNAL_ID


def single_role(account_id: str, *, seed: int = 0, session_seconds: float | None = None) -> SingleRole:
    """The smallest estate audited through a role: the RAM user ``auditor`` of ``CENTRAL_ACCOUNT`` may
    assume ``fcaudit-readonly`` in ``account_id`` with the external id; sessions last ``session_seconds``
    when given (at least ``MIN_SESSION_SECONDS``)."""
    if session_seconds is not None and not session_seconds >= MIN_SESSION_SECONDS:  # NaN too
        raise UsageError(f"session seconds must be at least {MIN_SESSION_SECONDS}, got {session_seconds:g}")
    registry = IdentityRegistry(seed=seed, session_seconds=session_seconds)
    user = registry.add_user(CENTRAL_ACCOUNT, "auditor")
    role = registry.add_role(account_id, AUDIT_ROLE_NAME, trusted=(user,), external_id=AUDIT_EXTERNAL_ID)
    return SingleRole(registry, user, role)


def _user_principal(user: RamUser) -> Principal:
    return Principal(
        account_id=user.account_id,
        arn=user.arn,
        identity_type="RAMUser",
        user_id=user.user_id,
        principal_id=user.user_id,
    )


def _check_account(account_id: str) -> None:
    if not (account_id.isdigit() and account_id.isascii()):
        raise UsageError(f"account id must be digits, got {account_id!r}")
