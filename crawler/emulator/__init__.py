"""A faithful FC 2.0 control-plane emulator: the ground truth for fcaudit's tests, demo and benchmarks.

The modules, in their import order (each imports only those before it; no cycle, not even inside a
function): ``model`` (the account's shapes) and ``api_errors`` (every FC error it answers);
``showcase`` and ``generator`` (seeded accounts); ``backend`` (the account's state and the ground
truth); ``identity`` (RAM users, roles, trust and the sessions STS issued); ``paging`` (opaque
tokens), ``auth`` (the signature gates), ``faults`` (the knobs), ``served_stats`` and ``responses``;
``fc2_routes`` and ``fc3_routes`` (the two APIs), ``gateway`` (the application and its middleware);
``metadata_routes`` (ECS metadata, credentials URI) and ``sts_routes`` (STS); ``server`` (the ways to
run it). Of the crawler it imports only ``crawler.wire.signing`` and ``crawler.errors``.
"""

from crawler.emulator.api_errors import EmulatorApiError
from crawler.emulator.backend import Backend, generate_account
from crawler.emulator.faults import FaultConfig, FaultKind, parse_fault_spec
from crawler.emulator.model import AccountSpec
from crawler.emulator.ram import IdentityRegistry
from crawler.emulator.server import (
    EmulatorThread,
    IdentityThread,
    RunningEmulator,
    run_emulator,
    run_identity,
)

__all__ = [
    "AccountSpec",
    "Backend",
    "EmulatorApiError",
    "EmulatorThread",
    "FaultConfig",
    "FaultKind",
    "IdentityRegistry",
    "IdentityThread",
    "RunningEmulator",
    "generate_account",
    "parse_fault_spec",
    "run_emulator",
    "run_identity",
]
