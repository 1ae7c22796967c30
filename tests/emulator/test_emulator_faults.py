"""Every knob of the emulator, over a real socket where it acts on the wire: faults, quota, latency, stats."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
import pytest

from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig, FaultInjector, FaultKind, TokenBucket, parse_fault_spec
from crawler.emulator.fc2_routes import API
from crawler.emulator.served_stats import ServerStats
from crawler.emulator.server import EmulatorThread
from crawler.errors import UsageError
from tests.support.emulator_support import get, request
from tests.support.fixtures import EmulatorFactory

ACCOUNT = AccountSpec(seed=41, services=2, functions=20, big_functions=1)


def always(kind: FaultKind, **extra: Any) -> FaultConfig:
    return FaultConfig(seed=1, rates={kind: 1.0}, **extra)


def configs_path(emu: EmulatorThread, index: int = 0) -> tuple[str, str, str]:
    service = emu.backend.service_names()[0]
    function = emu.backend.function_names(service)[index]
    return service, function, f"{API}/services/{service}/functions/{function}/async-invoke-configs"


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [(FaultKind.HTTP_500, 500, "InternalServerError"), (FaultKind.HTTP_503, 503, "ServiceUnavailable")],
)
def test_status_faults(emulator_factory: EmulatorFactory, kind: FaultKind, status: int, code: str) -> None:
    emu = emulator_factory(ACCOUNT, always(kind))
    reply = get(emu, f"{API}/services")
    assert (reply.status, reply.code) == (status, code)
    assert reply.headers.get("X-Fc-Request-Id")
    stats = emu.stats()
    assert stats["faults"][kind.value] == 1
    assert stats["routes"]["ListServices"] == {str(status): 1}


def test_faults_come_after_the_signature_check(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, always(FaultKind.HTTP_500))
    assert get(emu, f"{API}/services", secret="wrong").code == "SignatureNotMatch"
    assert emu.stats()["faults"]["500"] == 0


async def _fetch(emu: EmulatorThread, path: str, patience: float = 5.0) -> bytes:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=patience)) as session:
        return (await request(session, emu, "GET", path)).body


def test_reset_drops_the_connection(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, always(FaultKind.RESET))
    with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
        asyncio.run(_fetch(emu, f"{API}/services"))
    stats = emu.stats()
    assert stats["routes"]["ListServices"].get("reset", 0) >= 1
    assert stats["faults"]["reset"] == stats["routes"]["ListServices"]["reset"]


def test_truncated_declares_more_than_it_sends(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, always(FaultKind.TRUNCATED))
    with pytest.raises(aiohttp.ClientPayloadError, match="content length"):
        asyncio.run(_fetch(emu, f"{API}/services"))
    assert emu.stats()["routes"]["ListServices"] == {"truncated": 1}


def test_malformed_answers_200_with_a_body_that_is_not_json(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, always(FaultKind.MALFORMED))
    reply = get(emu, f"{API}/services")
    assert reply.status == 200
    assert reply.body.startswith(b'{"services"')
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(reply.body)
    assert emu.stats()["faults"]["malformed"] == 1


def test_a_stall_outlasts_an_impatient_client(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, always(FaultKind.STALL, stall_seconds=1.5))
    with pytest.raises(TimeoutError):
        asyncio.run(_fetch(emu, f"{API}/services", patience=0.3))
    assert emu.stats()["faults"]["stall"] == 1
    give_up = time.monotonic() + 5.0  # the server notices the hang-up and cancels the stalled handler
    while emu.stats()["routes"].get("ListServices") != {"client-gone": 1} and time.monotonic() < give_up:
        time.sleep(0.02)
    assert emu.stats()["routes"]["ListServices"] == {"client-gone": 1}


def test_a_short_stall_still_answers(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, always(FaultKind.STALL, stall_seconds=0.2))
    started = time.monotonic()
    assert get(emu, f"{API}/services").status == 200
    assert time.monotonic() - started >= 0.2  # a lower bound: it cannot fail by being slow


def test_repeat_token_answers_the_token_it_was_given(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, always(FaultKind.REPEAT_TOKEN))
    service = emu.backend.service_names()[0]
    path = f"{API}/services/{service}/functions"
    first = get(emu, path, {"limit": "2"}).json()  # no token sent: nothing to repeat
    assert first["nextToken"]
    again = get(emu, path, {"limit": "2", "nextToken": first["nextToken"]}).json()
    assert again["nextToken"] == first["nextToken"]
    assert [f["functionName"] for f in again["functions"]] == emu.backend.function_names(service)[2:4]
    assert emu.stats()["faults"]["repeat-token"] == 1


def test_delete_removes_the_function_when_its_configs_are_listed(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, always(FaultKind.DELETE))
    service, function, path = configs_path(emu)
    reply = get(emu, path)
    assert (reply.status, reply.code) == (404, "FunctionNotFound")
    assert (get(emu, path).status, get(emu, path).code) == (404, "FunctionNotFound")
    listed = get(emu, f"{API}/services/{service}/functions", {"limit": "100"}).json()["functions"]
    assert function not in [f["functionName"] for f in listed]
    truth = {
        (r["service"], r["function"]): r["status"]
        for r in emu.backend.truth_records()
        if r["type"] == "function"
    }
    assert truth[(service, function)] == "gone"
    assert sum(1 for s in truth.values() if s == "gone") == 1
    stats = emu.stats()
    assert stats["faults"]["delete"] == 1
    assert stats["deleted"] == {"functions": 1, "services": 0}


def test_delete_can_take_the_whole_service(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, always(FaultKind.DELETE, delete_service_share=1.0))
    service, _, path = configs_path(emu)
    reply = get(emu, path)
    assert (reply.status, reply.code) == (404, "ServiceNotFound")
    assert service not in [s["serviceName"] for s in get(emu, f"{API}/services").json()["services"]]
    gone = {
        r["function"]
        for r in emu.backend.truth_records()
        if r["type"] == "function" and r["status"] == "gone"
    }
    assert len(gone) == 10  # every function of the service
    assert emu.stats()["deleted"] == {"functions": 0, "services": 1}


@pytest.mark.parametrize(
    ("status", "code", "hint", "header"),
    [
        (429, "ResourceExhausted", "none", None),
        (503, "ResourceThrottled", "retry-after", "Retry-After"),
        (429, "ResourceExhausted", "x-acs-retry-after", "x-acs-retry-after"),
    ],
)
def test_the_quota_throttles_above_its_burst(
    emulator_factory: EmulatorFactory, status: int, code: str, hint: Any, header: str | None
) -> None:
    faults = FaultConfig(quota_rps=0.5, quota_burst=2, throttle_status=status, retry_hint=hint)
    emu = emulator_factory(ACCOUNT, faults)
    replies = [get(emu, f"{API}/services") for _ in range(5)]
    assert [r.status for r in replies] == [200, 200, status, status, status]
    throttled = replies[2]
    assert throttled.code == code
    if header is None:
        assert "Retry-After" not in throttled.headers
        assert "x-acs-retry-after" not in throttled.headers
    else:
        value = int(throttled.headers[header])
        assert value >= 1
        assert value <= (2 if header == "Retry-After" else 2000)  # one token every 2 s
    stats = emu.stats()
    assert stats["throttled"] == 3
    assert stats["routes"]["ListServices"] == {"200": 2, str(status): 3}


def test_latency_adds_at_least_the_fixed_part(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, FaultConfig(latency_ms=80, jitter_ms=20))
    started = time.monotonic()
    assert get(emu, f"{API}/services").status == 200
    assert time.monotonic() - started >= 0.08


def test_fault_decisions_are_seeded() -> None:
    config = FaultConfig(seed=5, jitter_ms=10, rates={FaultKind.RESET: 0.3, FaultKind.HTTP_500: 0.2})
    runs = []
    for _ in range(2):
        injector = FaultInjector(config)
        runs.append([(injector.draw_generic(), round(injector.latency(), 9)) for _ in range(200)])
    assert runs[0] == runs[1]
    kinds = [k for k, _ in runs[0]]
    assert {FaultKind.RESET, FaultKind.HTTP_500, None} == set(kinds)
    assert all(0 <= lat <= 0.010 for _, lat in runs[0])
    other = FaultInjector(FaultConfig(seed=6, rates=config.rates))
    assert [other.draw_generic() for _ in range(200)] != kinds


def test_the_same_seed_fails_the_same_requests(emulator_factory: EmulatorFactory) -> None:
    outcomes = []
    for _ in range(2):
        emu = emulator_factory(ACCOUNT, FaultConfig(seed=9, rates={FaultKind.HTTP_500: 0.5}))
        outcomes.append([get(emu, f"{API}/services").status for _ in range(12)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 500}


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [None, None, None]
    assert bucket.take() == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.take() is None
    now[0] = 100.0
    assert [bucket.take() is None for _ in range(4)] == [True, True, True, False]


def test_stats_track_the_busiest_second_and_the_series() -> None:
    now = [0.0]
    stats = ServerStats(clock=lambda: now[0])
    for t in (0.1, 0.2, 0.3, 1.05, 1.1, 1.15, 1.25, 3.5):
        now[0] = t
        stats.on_arrival()
    snap = stats.snapshot()
    assert snap["per_second"] == [3, 4, 0, 1]
    assert snap["max_requests_in_1s"] == 5  # (0.15, 1.15] holds 0.2, 0.3, 1.05, 1.1, 1.15
    assert snap["requests"] == 8


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("reset=0.1", (FaultKind.RESET, 0.1)),
        ("500=1", (FaultKind.HTTP_500, 1.0)),
        ("Repeat-Token=0", (FaultKind.REPEAT_TOKEN, 0.0)),
    ],
)
def test_parse_fault_spec(spec: str, expected: tuple[FaultKind, float]) -> None:
    assert parse_fault_spec(spec) == expected


@pytest.mark.parametrize(
    "spec", ["reset", "reset=", "reset=x", "reset=1.5", "reset=-0.1", "boom=0.1", "reset=nan"]
)
def test_bad_fault_specs_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_fault_spec(spec)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency_ms": -1},
        {"quota_rps": 0},
        {"quota_burst": 0},
        {"throttle_status": 500},
        {"retry_hint": "later"},
        {"stall_seconds": 0},
        {"delete_service_share": 2},
        {"rates": {"reset": 2.0}},
        {"rates": {"explode": 0.1}},
    ],
)
def test_bad_fault_configs_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        FaultConfig(**kwargs)
