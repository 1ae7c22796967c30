"""Shared fixtures: emulators on a real loopback socket, built from seeded accounts.

``emulator_factory(spec, faults, **options)`` starts an ``EmulatorThread`` (stopped after the test);
``emulator`` is a small default account with no faults. Every account is seeded, so a failing test
fails the same way again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from crawler.emulator.backend import AccountSpec, generate_account
from crawler.emulator.faults import FaultConfig
from crawler.emulator.server import EmulatorThread

EmulatorFactory = Callable[..., EmulatorThread]


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """A command run in-process configures structlog for the process (level, stream); undo it after
    each test so the next one's ``capture_logs()`` sees every level again."""
    yield
    structlog.reset_defaults()


#: a small account: a few services, a couple of functions with more than 100 configs
SMALL_ACCOUNT = AccountSpec(seed=7, services=4, functions=40, big_functions=2)


@pytest.fixture
def emulator_factory() -> Iterator[EmulatorFactory]:
    started: list[EmulatorThread] = []

    def start(
        spec: AccountSpec = SMALL_ACCOUNT, faults: FaultConfig | None = None, **options: Any
    ) -> EmulatorThread:
        emulator = EmulatorThread(generate_account(spec), faults, **options)
        emulator.__enter__()
        started.append(emulator)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.__exit__(None, None, None)


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> EmulatorThread:
    return emulator_factory()
