"""What the fixtures in ``tests/conftest.py`` hand out, importable by tests (no test imports conftest)."""

from __future__ import annotations

from collections.abc import Callable

from crawler.emulator import AccountSpec
from crawler.emulator.server import EmulatorThread
from tests.support.identity_support import IdentityEstate

#: ``emulator_factory(spec, faults, **options)``: starts an emulator thread, stopped after the test
EmulatorFactory = Callable[..., EmulatorThread]

#: a small account: a few services, a couple of functions with more than 100 configs
SMALL_ACCOUNT = AccountSpec(seed=7, services=4, functions=40, big_functions=2)

#: ``identity_estate(spec=IdentityEstateSpec(...), wall_clock=time.time)``: a central RAM user, a role per
#: member account trusting it, STS (and IMDS / a credentials URI when asked) and a FC emulator per member;
#: stopped after the test (``tests.support.identity_support``)
IdentityEstateFactory = Callable[..., IdentityEstate]
