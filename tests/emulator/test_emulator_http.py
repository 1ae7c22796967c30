"""The emulator over a real socket with raw, hand-signed requests: every refusal and every paging rule."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import Any

import aiohttp
import orjson
import pytest

from crawler.emulator import AccountSpec, generate_account
from crawler.emulator.fc2_routes import API
from crawler.emulator.gateway import is_loopback
from crawler.emulator.server import EmulatorThread, run_emulator
from crawler.wire.signing import http_date
from tests.support.emulator_support import call, get, signed_headers
from tests.support.fixtures import EmulatorFactory
from tests.support.signing_support import fc2_authorization

ACCOUNT = AccountSpec(seed=31, services=3, functions=150, big_functions=1)


@pytest.fixture
def emu(emulator_factory: EmulatorFactory) -> EmulatorThread:
    return emulator_factory(ACCOUNT)


def first_function(emu: EmulatorThread) -> tuple[str, str]:
    service = emu.backend.service_names()[0]
    return service, emu.backend.function_names(service)[0]


def listing_paths(emu: EmulatorThread) -> list[str]:
    service, function = first_function(emu)
    return [
        f"{API}/services",
        f"{API}/services/{service}/functions",
        f"{API}/services/{service}/functions/{function}/async-invoke-configs",
    ]


@pytest.mark.parametrize("limit", ["0", "101", "abc", "", "2.5"])
def test_a_bad_limit_is_400_invalid_argument_on_every_listing(emu: EmulatorThread, limit: str) -> None:
    for path in listing_paths(emu):
        reply = get(emu, path, {"limit": limit})
        assert (reply.status, reply.code) == (400, "InvalidArgument"), path
        assert "limit" in reply.json()["ErrorMessage"]


def test_limit_defaults_to_20_and_caps_at_100(emu: EmulatorThread) -> None:
    service = emu.backend.service_names()[0]
    path = f"{API}/services/{service}/functions"
    assert len(get(emu, path).json()["functions"]) == 20
    assert len(get(emu, path, {"limit": "100"}).json()["functions"]) == 50


def test_a_forged_token_is_400_invalid_argument(emu: EmulatorThread) -> None:
    for path in listing_paths(emu):
        for forged in ("garbage", "AXNlcnZpY2UtMDAwMQ", base64.urlsafe_b64encode(b"\x01x" * 20).decode()):
            reply = get(emu, path, {"nextToken": forged})
            assert (reply.status, reply.code) == (400, "InvalidArgument"), (path, forged)


def test_a_token_from_another_listing_is_400_invalid_argument(emu: EmulatorThread) -> None:
    first, second = emu.backend.service_names()[:2]
    token = get(emu, f"{API}/services/{first}/functions", {"limit": "5"}).json()["nextToken"]
    assert get(emu, f"{API}/services/{first}/functions", {"limit": "5", "nextToken": token}).status == 200
    other = get(emu, f"{API}/services/{second}/functions", {"limit": "5", "nextToken": token})
    assert (other.status, other.code) == (400, "InvalidArgument")
    services = get(emu, f"{API}/services", {"nextToken": token})
    assert (services.status, services.code) == (400, "InvalidArgument")
    prefixed = get(emu, f"{API}/services/{first}/functions", {"nextToken": token, "prefix": "a"})
    assert (prefixed.status, prefixed.code) == (400, "InvalidArgument")


def test_paging_with_tokens_returns_every_function_once(emu: EmulatorThread) -> None:
    service = emu.backend.service_names()[0]
    names: list[str] = []
    params = {"limit": "7"}
    while True:
        page = get(emu, f"{API}/services/{service}/functions", params).json()
        names += [f["functionName"] for f in page["functions"]]
        if not page["nextToken"]:
            break
        params = {"limit": "7", "nextToken": page["nextToken"]}
    assert names == emu.backend.function_names(service)
    assert page["nextToken"] == ""  # the last page says "" by default


def test_the_last_page_can_omit_next_token(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, empty_last_token=False)
    page = get(emu, f"{API}/services", {"limit": "100"}).json()
    assert "nextToken" not in page
    assert len(page["services"]) == 3


def test_a_function_without_configs_can_answer_without_the_key(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, omit_empty_configs=True)
    empty = next(r for r in emu.backend.truth_records() if r["type"] == "function" and r["status"] == "none")
    path = f"{API}/services/{empty['service']}/functions/{empty['function']}/async-invoke-configs"
    assert get(emu, path).json() == {}


def test_a_token_survives_the_deletion_of_the_item_it_points_at(emu: EmulatorThread) -> None:
    service = emu.backend.service_names()[0]
    page = get(emu, f"{API}/services/{service}/functions", {"limit": "3"}).json()
    names = emu.backend.function_names(service)
    emu.call(lambda: emu.backend.delete_function(service, names[3]))
    resumed = get(emu, f"{API}/services/{service}/functions", {"limit": "3", "nextToken": page["nextToken"]})
    assert [f["functionName"] for f in resumed.json()["functions"]] == names[3:6]  # names lost names[3]


def test_prefix_and_start_key_on_the_name_listings(emu: EmulatorThread) -> None:
    services = emu.backend.service_names()
    start = get(emu, f"{API}/services", {"startKey": services[1]}).json()["services"]
    assert [s["serviceName"] for s in start] == services[1:]
    word = services[0].split("-")[0]
    prefixed = get(emu, f"{API}/services", {"prefix": word + "-"}).json()["services"]
    assert [s["serviceName"] for s in prefixed] == [s for s in services if s.startswith(word + "-")]
    service = services[0]
    functions = emu.backend.function_names(service)
    fword = functions[-1].split("-")[0]
    expected = [f for f in functions if f.startswith(fword)]
    seen: list[str] = []
    params = {"prefix": fword, "limit": "2"}
    while True:
        page = get(emu, f"{API}/services/{service}/functions", params).json()
        seen += [f["functionName"] for f in page["functions"]]
        if not page["nextToken"]:
            break
        params = {"prefix": fword, "limit": "2", "nextToken": page["nextToken"]}
    assert seen == expected
    after = get(emu, f"{API}/services/{service}/functions", {"prefix": fword, "startKey": expected[-1]})
    assert [f["functionName"] for f in after.json()["functions"]] == expected[-1:]


def test_an_unknown_key_missing_or_malformed_authorization_is_403(emu: EmulatorThread) -> None:
    path = f"{API}/services"
    unknown = get(emu, path, key_id="LTAIunknown")
    assert (unknown.status, unknown.code) == (403, "InvalidAccessKeyID")
    date = {"Date": http_date(time.time())}
    missing = call(emu, "GET", path, headers=date)
    assert (missing.status, missing.code) == (403, "AccessDenied")
    malformed = call(emu, "GET", path, headers={**date, "Authorization": "Bearer abc"})
    assert (malformed.status, malformed.code) == (403, "AccessDenied")
    wrong = get(emu, path, secret="wrong")
    assert (wrong.status, wrong.code) == (403, "SignatureNotMatch")


@pytest.mark.parametrize(
    ("date", "code"),
    [
        ("", "AccessDenied"),
        ("yesterday", "AccessDenied"),
        ("Mon, 02 Jan 2006 15:04:05", "AccessDenied"),  # no zone
        (-20 * 60, "RequestTimeTooSkewed"),
        (20 * 60, "RequestTimeTooSkewed"),
    ],
)
def test_a_missing_bad_or_skewed_date_is_403(emu: EmulatorThread, date: str | int, code: str) -> None:
    # A skew is an offset from now, taken when the test runs (not when it is collected).
    header = http_date(time.time() + date) if isinstance(date, int) else date
    reply = get(emu, f"{API}/services", date=header)
    assert (reply.status, reply.code) == (403, code)


def test_a_date_within_fifteen_minutes_is_accepted(emu: EmulatorThread) -> None:
    assert get(emu, f"{API}/services", date=http_date(time.time() - 14 * 60)).status == 200


def test_the_sts_token_is_required_when_configured(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT, security_token="sts-secret-token")
    missing = get(emu, f"{API}/services")
    assert (missing.status, missing.code) == (403, "InvalidSecurityToken")
    wrong = get(emu, f"{API}/services", token="sts-other")
    assert (wrong.status, wrong.code) == (403, "InvalidSecurityToken")
    assert get(emu, f"{API}/services", token="sts-secret-token").status == 200


def test_the_query_is_not_signed_and_the_path_is_signed_decoded(emu: EmulatorThread) -> None:
    service = emu.backend.service_names()[0]
    # signed over the path only; the query (and its order) does not matter
    assert get(emu, f"{API}/services", {"limit": "2", "prefix": ""}).status == 200
    encoded = f"{API}/services/%{ord(service[0]):02X}{service[1:]}/functions"
    decoded = f"{API}/services/{service}/functions"
    ok = call(emu, "GET", encoded, headers=signed_headers(emu, "GET", decoded))
    assert ok.status == 200
    bad = call(emu, "GET", encoded, headers=signed_headers(emu, "GET", encoded))
    assert (bad.status, bad.code) == (403, "SignatureNotMatch")


def test_not_found_errors_have_the_fc_shape(emu: EmulatorThread) -> None:
    service, function = first_function(emu)
    cases = [
        (f"{API}/services/no-such-svc/functions", 404, "ServiceNotFound"),
        (f"{API}/services/no-such-svc/functions/{function}/async-invoke-configs", 404, "ServiceNotFound"),
        (f"{API}/services/{service}/functions/no-such-fn/async-invoke-configs", 404, "FunctionNotFound"),
        (
            f"{API}/services/{service}.nope/functions/{function}/async-invoke-config",
            404,
            "AsyncConfigNotExists",
        ),
        (f"{API}/services/{service}.b@d/functions/{function}/async-invoke-config", 400, "InvalidArgument"),
        (f"{API}/triggers", 404, "PathNotSupported"),
    ]
    for path, status, code in cases:
        reply = get(emu, path)
        assert (reply.status, reply.code) == (status, code), path
        assert set(reply.json()) == {"ErrorCode", "ErrorMessage"}
        assert reply.headers["Content-Type"].startswith("application/json")
    post = call(emu, "POST", f"{API}/services")
    assert (post.status, post.code) == (405, "MethodNotAllowed")


def test_every_response_carries_a_distinct_request_id(emu: EmulatorThread) -> None:
    replies = [
        get(emu, f"{API}/services"),
        get(emu, f"{API}/services", {"limit": "0"}),
        get(emu, f"{API}/services", secret="wrong"),
        get(emu, f"{API}/nowhere"),
    ]
    ids = [r.headers.get("X-Fc-Request-Id") for r in replies]
    assert all(ids)
    assert len(set(ids)) == len(ids)


def test_get_with_qualifier_in_the_path_and_latest_spelled_empty(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(ACCOUNT)
    record = next(
        r for r in emu.backend.truth_records() if r["type"] == "config" and r["qualifier"] == "LATEST"
    )
    service, function = record["service"], record["function"]
    path = f"{API}/services/{service}.LATEST/functions/{function}/async-invoke-config"
    assert get(emu, path).json() == record["config"]
    bare = f"{API}/services/{service}/functions/{function}/async-invoke-config"
    assert get(emu, bare).json() == record["config"]  # no qualifier means LATEST


def test_put_checks_content_md5_and_json(emu: EmulatorThread) -> None:
    service, function = first_function(emu)
    path = f"{API}/services/{service}.prod/functions/{function}/async-invoke-config"
    body = orjson.dumps({"maxAsyncRetryAttempts": 2})
    good_md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    ok = call(emu, "PUT", path, body=body, extra={"Content-MD5": good_md5})
    assert ok.status == 200
    assert ok.json()["maxAsyncRetryAttempts"] == 2
    bad = call(emu, "PUT", path, body=body, extra={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
    assert (bad.status, bad.code) == (400, "InvalidArgument")
    not_json = call(emu, "PUT", path, body=b"{nope")
    assert (not_json.status, not_json.code) == (400, "InvalidArgument")
    deleted = call(emu, "DELETE", path)
    assert deleted.status == 204
    assert deleted.headers.get("X-Fc-Request-Id")


@pytest.mark.parametrize(
    ("remote", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.7", False),
        ("::ffff:10.0.0.7", False),
        ("2001:db8::1", False),
        (None, False),
        ("x", False),
    ],
)
def test_stats_answer_loopback_peers_only(remote: str | None, allowed: bool) -> None:
    assert is_loopback(remote) is allowed


def test_run_emulator_serves_from_the_current_loop() -> None:
    backend = generate_account(AccountSpec(seed=2, services=2, functions=4))

    async def scenario() -> tuple[int, dict[str, Any]]:
        async with run_emulator(backend) as running, aiohttp.ClientSession() as session:
            headers = {"Date": http_date(time.time())}
            path = f"{API}/services"
            auth = fc2_authorization(running.access_key_id, running.access_key_secret, "GET", path, headers)
            async with session.get(
                running.endpoint + path, headers={**headers, "Authorization": auth}
            ) as resp:
                return resp.status, running.stats()

    status, stats = asyncio.run(scenario())
    assert status == 200
    assert stats["routes"] == {"ListServices": {"200": 1}}


def test_stats_are_unsigned_and_count_routes_and_outcomes(emu: EmulatorThread) -> None:
    get(emu, f"{API}/services")
    get(emu, f"{API}/services", {"limit": "0"})
    get(emu, f"{API}/services/nope/functions")
    reply = call(emu, "GET", "/_emulator/stats", headers={})
    assert reply.status == 200
    stats = reply.json()
    assert stats["routes"]["ListServices"] == {"200": 1, "400": 1}
    assert stats["routes"]["ListFunctions"] == {"404": 1}
    assert stats["requests"] == 3
    assert stats["max_requests_in_1s"] >= 1
    assert sum(stats["per_second"]) == 3
    assert stats == {**emu.stats(), "uptime_seconds": stats["uptime_seconds"]}
