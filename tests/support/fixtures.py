"""What the fixtures in ``tests/conftest.py`` hand out, importable by tests (no test imports conftest)."""

from __future__ import annotations

from collections.abc import Callable

from crawler.emulator import AccountSpec
from crawler.emulator.server import EmulatorThread

#: ``emulator_factory(spec, faults, **options)``: starts an emulator thread, stopped after the test
EmulatorFactory = Callable[..., EmulatorThread]

#: a small account: a few services, a couple of functions with more than 100 configs
SMALL_ACCOUNT = AccountSpec(seed=7, services=4, functions=40, big_functions=2)
