"""An estate crawled through roles, on the emulator: one central RAM user, a role per member account, and
an FC emulator per (member account, region) whose gate accepts the sessions STS issued for that account.

``role_estate(...)`` starts it (a context manager) and answers a ``RoleEstate``: ``targets(...)`` builds
the crawl's ``Target`` list (each with ``AssumedRole(StaticKeys(user keys), RoleSpec(role))``), and
``truth()`` is the emulators' own ground truth. The identity registry (``estate.registry``) counts what
STS answered — ``assumed`` by role ARN, ``calls`` by action — independently of the crawler's counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from crawler.emulator import AccountSpec, generate_account
from crawler.emulator.faults import FaultConfig
from crawler.emulator.ram import IdentityRegistry, RamUser, Role
from crawler.emulator.server import EmulatorThread, IdentityThread
from crawler.settings.config import Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import AssumedRole, RoleSpec, StaticKeys, StsEndpoint
from tests.support.identity_support import IdentityEstateSpec, build_registry

REGIONS = ("cn-hangzhou", "cn-shanghai")


@dataclass
class RoleEstate:
    registry: IdentityRegistry
    user: RamUser
    roles: dict[str, Role]  # member account → its role
    identity: IdentityThread
    #: (account, region) → its FC emulator
    emulators: dict[tuple[str, str], EmulatorThread] = field(default_factory=dict)

    @property
    def sts(self) -> StsEndpoint:
        return StsEndpoint(self.identity.sts_endpoint)

    @property
    def user_keys(self) -> Credentials:
        return Credentials(self.user.access_key_id, self.user.access_key_secret, source="env TEST_USER_*")

    def targets(
        self,
        *,
        external_ids: Mapping[str, str | None] | None = None,
        concurrency: int | None = None,
        accounts: Sequence[str] | None = None,
    ) -> tuple[Target, ...]:
        """One target per (account, region), each through its account's role."""
        base = StaticKeys(self.user_keys)
        chosen = accounts if accounts is not None else list(self.roles)
        targets = []
        for (account, region), emulator in self.emulators.items():
            if account not in chosen:
                continue
            external = (external_ids or {}).get(account)
            spec = RoleSpec(self.roles[account].arn, "fcaudit-e2e", 900, external, self.sts)
            targets.append(
                Target(account, region, emulator.endpoint, AssumedRole(base, spec), concurrency=concurrency)
            )
        return tuple(targets)

    def truth(self, accounts: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        for (account, _), emulator in self.emulators.items():
            if accounts is None or account in accounts:
                yield from emulator.backend.truth_records()


@contextmanager
def role_estate(
    spec: IdentityEstateSpec,
    *,
    regions: Sequence[str] = REGIONS,
    services: int = 2,
    functions: int = 10,
    faults: FaultConfig | None = None,
) -> Iterator[RoleEstate]:
    """Start the identity servers and one FC emulator per (member account, region)."""
    registry, user, roles = build_registry(spec)
    with ExitStack() as stack:
        identity = stack.enter_context(IdentityThread(registry))
        estate = RoleEstate(registry, user, roles, identity)
        for index, account in enumerate(roles):
            for offset, region in enumerate(regions):
                backend = generate_account(
                    AccountSpec(
                        seed=100 + 10 * index + offset,
                        services=services,
                        functions=functions,
                        account_id=account,
                        region=region,
                        big_functions=1,
                    )
                )
                estate.emulators[(account, region)] = stack.enter_context(
                    EmulatorThread(backend, faults, identity=registry)
                )
        yield estate
