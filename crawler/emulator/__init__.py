"""A faithful FC 2.0 control-plane emulator: the ground truth for fcaudit's tests, demo and benchmarks.

``backend`` holds the account (and the seeded generator), ``app`` the HTTP routes, ``paging`` the
opaque tokens, ``auth`` the signature gate, ``faults`` the knobs, ``server`` the ways to run it.
"""

from crawler.emulator.backend import AccountSpec, Backend, EmulatorApiError, generate_account
from crawler.emulator.faults import FaultConfig, FaultKind, parse_fault_spec
from crawler.emulator.server import EmulatorThread, RunningEmulator, run_emulator

__all__ = [
    "AccountSpec",
    "Backend",
    "EmulatorApiError",
    "EmulatorThread",
    "FaultConfig",
    "FaultKind",
    "RunningEmulator",
    "generate_account",
    "parse_fault_spec",
    "run_emulator",
]
