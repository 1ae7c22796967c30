"""ListTriggers on the wire, FC 2.0 and FC 3.0, against the emulator: the same transport, signatures,
paging and error mapping as the other listings."""

from __future__ import annotations

import json

import pytest

from crawler.emulator import AccountSpec
from crawler.errors import NotFoundError
from crawler.settings.credentials import Credentials
from crawler.wire.fc2_client import FcClient
from crawler.wire.fc3_client import Fc3Client
from crawler.wire.run_stats import RunStats
from crawler.wire.transport import open_session
from tests.support.fixtures import EmulatorFactory
from tests.wire.test_fc3 import SETTINGS, all_pages, settings_client

pytestmark = pytest.mark.anyio

ACCOUNT = AccountSpec(seed=6, services=1, functions=20, big_functions=0)
#: the generator's five-trigger profile (TRIGGER_PROFILES[14]) is the 15th function of the account
BUSY = 14


async def test_both_apis_page_a_functions_triggers(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT)
    backend = emu.backend
    service = backend.service_names()[0]
    function = backend.function_names(service)[BUSY]
    want = [backend.trigger(service, function, n) for n in backend.trigger_names(service, function)]
    assert len(want) == 5
    creds = Credentials(emu.access_key_id, emu.access_key_secret)
    stats = RunStats()
    async with open_session(SETTINGS) as session:
        fc2: FcClient = settings_client(FcClient, session, emu.endpoint, backend, creds, stats)
        fc3: Fc3Client = settings_client(Fc3Client, session, emu.endpoint, backend, creds, stats)
        got2, pages2 = await all_pages(lambda t: fc2.list_triggers(service, function, limit=2, next_token=t))
        got3, pages3 = await all_pages(
            lambda t: fc3.list_triggers_v3(f"{service}${function}", limit=2, next_token=t)
        )
    assert got2 == want
    assert (pages2, pages3) == (3, 3)
    assert [t["triggerName"] for t in got3] == [t["triggerName"] for t in want]
    # FC 3.0 sends triggerConfig as a JSON string of the same object
    assert [json.loads(t["triggerConfig"]) for t in got3] == [t["triggerConfig"] for t in want]
    assert stats.requests_by_route["ListTriggers"] == 6
    routes = emu.stats()["routes"]
    assert routes["ListTriggers"] == {"200": 3}
    assert routes["ListTriggersV3"] == {"200": 3}


async def test_a_deleted_function_is_gone_on_both_apis(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT)
    backend = emu.backend
    service = backend.service_names()[0]
    function = backend.function_names(service)[0]
    backend.delete_function(service, function)
    creds = Credentials(emu.access_key_id, emu.access_key_secret)
    async with open_session(SETTINGS) as session:
        fc2: FcClient = settings_client(FcClient, session, emu.endpoint, backend, creds)
        fc3: Fc3Client = settings_client(Fc3Client, session, emu.endpoint, backend, creds)
        with pytest.raises(NotFoundError) as caught2:
            await fc2.list_triggers(service, function, limit=2, next_token=None)
        with pytest.raises(NotFoundError) as caught3:
            await fc3.list_triggers_v3(f"{service}${function}", limit=2, next_token=None)
    assert caught2.value.code == "FunctionNotFound"
    assert caught3.value.code == "FunctionNotFound"
