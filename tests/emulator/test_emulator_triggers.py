"""The emulator's triggers: seeded, every type in a small account, served to the official SDK.

The SDK (``aliyun-fc2``) signs and pages ListTriggers its own way, so it witnesses that the emulator
speaks FC 2.0's trigger listing as the outside world does, not merely as fcaudit's client does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fc2
import pytest
from fc2.fc_exceptions import FcError

from crawler.emulator import AccountSpec, generate_account
from crawler.emulator.generator import TRIGGER_PROFILES
from crawler.emulator.model import invocation_mode
from tests.support.fixtures import EmulatorFactory

ACCOUNT = AccountSpec(seed=9, services=2, functions=50, big_functions=0)


def sdk(emu: Any) -> Any:
    return fc2.Client(
        endpoint=emu.endpoint,
        accessKeyID=emu.access_key_id,
        accessKeySecret=emu.access_key_secret,
        Timeout=10,
    )


def page_all(fetch: Callable[[str | None], Any]) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    while True:
        data = fetch(token).data
        pages += 1
        items += data.get("triggers", [])
        token = data.get("nextToken")
        if not token:
            return items, pages


def listing(client: Any, service: str, function: str) -> Callable[[str | None], Any]:
    def fetch(token: str | None) -> Any:
        return client.list_triggers(service, function, limit=2, nextToken=token)

    return fetch


def test_the_sdk_pages_every_functions_triggers(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT)
    client, backend = sdk(emu), emu.backend
    total = 0
    for service in backend.service_names():
        for function in backend.function_names(service):
            got, pages = page_all(listing(client, service, function))
            want = [backend.trigger(service, function, n) for n in backend.trigger_names(service, function)]
            assert got == want
            assert pages == max(1, -(-len(want) // 2))
            total += len(want)
    assert total > ACCOUNT.functions // 2
    assert sum(emu.stats()["routes"]["ListTriggers"].values()) > ACCOUNT.functions


def test_a_token_of_another_functions_listing_is_refused(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT)
    backend = emu.backend
    service = backend.service_names()[0]
    names = backend.function_names(service)
    busy = next(f for f in names if len(backend.trigger_names(service, f)) > 2)
    token = sdk(emu).list_triggers(service, busy, limit=1).data["nextToken"]
    other = next(f for f in names if f != busy)
    with pytest.raises(FcError) as caught:
        sdk(emu).list_triggers(service, other, limit=1, nextToken=token)
    assert caught.value.status_code == 400


def test_a_small_account_holds_every_trigger_case_and_is_seeded() -> None:
    first = generate_account(AccountSpec(seed=3, services=1, functions=len(TRIGGER_PROFILES)))
    again = generate_account(AccountSpec(seed=3, services=1, functions=len(TRIGGER_PROFILES)))
    service = first.service_names()[0]
    kinds: set[str] = set()
    exposures: set[str] = set()
    for record in first.truth_records(triggers=True):
        if record["type"] == "function":
            kinds |= {t["type"] for t in record["triggers"]}
            exposures.add(record["exposure"])
    assert kinds == {
        "http", "timer", "oss", "log", "cdn_events", "mns_topic", "tablestore", "eventbridge", "alb"
    }  # fmt: skip
    assert exposures == {"async", "sync", "unknown"}
    modes = {
        invocation_mode(first.trigger(service, f, n))
        for f in first.function_names(service)
        for n in first.trigger_names(service, f)
        if first.trigger(service, f, n)["triggerType"] == "eventbridge"
    }
    assert modes == {"async", "sync", "unknown"}
    assert list(first.truth_records(triggers=True)) == list(again.truth_records(triggers=True))
    assert any(not first.trigger_names(service, f) for f in first.function_names(service))
