"""Shared fixtures: emulators on a real loopback socket, built from seeded accounts.

``emulator_factory(spec, faults, **options)`` starts an ``EmulatorThread`` (stopped after the test);
``emulator`` is a small default account with no faults. Every account is seeded, so a failing test
fails the same way again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import structlog

from crawler.emulator import AccountSpec, generate_account
from crawler.emulator.faults import FaultConfig
from crawler.emulator.server import EmulatorThread
from tests.support.fixtures import SMALL_ACCOUNT, EmulatorFactory, IdentityEstateFactory
from tests.support.identity_support import IdentityEstate, IdentityEstateSpec, start_identity_estate


@pytest.fixture
def anyio_backend() -> str:
    """Every ``@pytest.mark.anyio`` test runs on asyncio (the crawler's loop; uvloop is tested apart)."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """A command run in-process configures structlog for the process (level, stream); undo it after
    each test so the next one's ``capture_logs()`` sees every level again."""
    yield
    structlog.reset_defaults()


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


@pytest.fixture
def identity_estate() -> Iterator[IdentityEstateFactory]:
    """``identity_estate(spec, wall_clock)``: the emulator's identity side with member FC accounts."""
    with ExitStack() as stack:

        def start(
            spec: IdentityEstateSpec | None = None, wall_clock: Callable[[], float] = time.time
        ) -> IdentityEstate:
            return start_identity_estate(spec or IdentityEstateSpec(), stack, wall_clock)

        yield start
