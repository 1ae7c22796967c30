"""``--role`` on the commands that serve an emulated account (``demo``, ``emulator``): the emulator's
identity side next to the account — a central RAM user, the account's read-only audit role trusting it
with an external id (``crawler.emulator.ram.single_role``), STS on a loopback port — and what a
crawl through that role is handed: the user's keys and the role to assume, never the account's own keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.emulator.ram import MIN_SESSION_SECONDS, SingleRole, single_role
from crawler.errors import UsageError
from crawler.settings.credentials import Credentials
from crawler.settings.identity import AssumedRole, RoleSpec, StaticKeys, StsEndpoint

SESSION_NAME = "fcaudit-demo"


@dataclass(frozen=True, slots=True)
class RoleFlags:
    """``--role`` given, with ``--session-seconds`` (``None``: sessions last what AssumeRole asks)."""

    session_seconds: float | None = None

    def build(self, account_id: str, seed: int) -> SingleRole:
        return single_role(account_id, seed=seed, session_seconds=self.session_seconds)


def role_flags(role: bool, session_seconds: float | None) -> RoleFlags | None:
    """The checked flags (``None`` without ``--role``); a ``UsageError`` naming the flag otherwise."""
    if session_seconds is not None:
        if not role:
            raise UsageError("--session-seconds needs --role (it is how long the role's sessions last)")
        if not session_seconds >= MIN_SESSION_SECONDS:  # NaN too
            raise UsageError(
                f"--session-seconds must be at least {MIN_SESSION_SECONDS}, got {session_seconds:g}"
            )
    return RoleFlags(session_seconds) if role else None


def through_role(single: SingleRole, sts_endpoint: str) -> AssumedRole:
    """What a crawl through the role is given: the central user's keys, and the role to assume at STS."""
    user = single.user
    return AssumedRole(
        base=StaticKeys(
            Credentials(user.access_key_id, user.access_key_secret, source="the central RAM user")
        ),
        role=RoleSpec(
            role_arn=single.role.arn,
            session_name=SESSION_NAME,
            external_id=single.external_id,
            sts=StsEndpoint(sts_endpoint),
        ),
    )
