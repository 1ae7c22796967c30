"""The official SDK (``aliyun-fc2``), unchanged, against the emulator: the independent witness.

If the SDK — which signs, builds paths and reads answers its own way — pages every listing to exactly
the ground truth, can shape configs, and is refused for a wrong secret, then the emulator speaks FC 2.0
as the outside world does, not merely as our own client does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fc2
import pytest
from fc2.fc_exceptions import FcError

from crawler.emulator import AccountSpec
from tests.support.fixtures import EmulatorFactory

#: more than 100 functions per service and a few functions with more than 100 configs
SDK_ACCOUNT = AccountSpec(seed=21, services=2, functions=230, big_functions=3)


def client(emu: Any, *, secret: str | None = None, key_id: str | None = None, token: str = "") -> Any:
    return fc2.Client(
        endpoint=emu.endpoint,
        accessKeyID=key_id or emu.access_key_id,
        accessKeySecret=secret or emu.access_key_secret,
        securityToken=token,
        Timeout=10,
    )


def page_all(fetch: Callable[[str | None], Any], key: str) -> tuple[list[Any], int]:
    items: list[Any] = []
    token: str | None = None
    pages = 0
    while True:
        data = fetch(token).data
        pages += 1
        items += data.get(key, [])
        token = data.get("nextToken")
        if not token:
            return items, pages


def at_100(method: Callable[..., Any], *args: str) -> Callable[[str | None], Any]:
    """One SDK listing call at limit=100, resumed from a token."""

    def fetch(token: str | None) -> Any:
        return method(*args, limit=100, nextToken=token)

    return fetch


def crawl_with_sdk(sdk: Any, account: str, region: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    records: list[dict[str, Any]] = []
    pages = {"services": 0, "functions": 0, "configs": 0}
    base = {"account": account, "region": region}
    services, n = page_all(at_100(sdk.list_services), "services")
    pages["services"] += n
    for service in (s["serviceName"] for s in services):
        functions, n = page_all(at_100(sdk.list_functions, service), "functions")
        pages["functions"] += n
        for listed in functions:
            function = listed["functionName"]
            configs, n = page_all(
                at_100(sdk.list_function_async_invoke_configs, service, function), "configs"
            )
            pages["configs"] += n
            for config in configs:
                records.append(
                    {
                        "type": "config",
                        **base,
                        "service": service,
                        "function": function,
                        "qualifier": config.get("qualifier") or "LATEST",  # not the crawler's own normalising
                        "config": config,
                    }
                )
            records.append(
                {
                    "type": "function",
                    **base,
                    "service": service,
                    "function": function,
                    "status": "ok" if configs else "none",
                    "configs": len(configs),
                    "timeout": listed.get("timeout"),
                    "exposure": "unknown",  # no trigger listed
                }
            )
    return records, pages


def test_the_sdk_pages_every_listing_to_exactly_the_ground_truth(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(SDK_ACCOUNT)
    records, pages = crawl_with_sdk(client(emu), emu.account_id, emu.region)
    assert records == list(emu.backend.truth_records())
    assert pages["functions"] > SDK_ACCOUNT.services  # ListFunctions needed a second page
    assert sum(1 for r in records if r["type"] == "function" and r["configs"] > 100) == 3
    stats = emu.stats()
    assert stats["outcomes"] == {"200": sum(pages.values())}


def test_the_sdk_pages_services_one_at_a_time(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(AccountSpec(seed=3, services=5, functions=10))
    services, pages = page_all(lambda t: client(emu).list_services(limit=1, nextToken=t), "services")
    assert [s["serviceName"] for s in services] == emu.backend.service_names()
    assert pages == 5


def test_the_sdk_puts_gets_and_deletes_a_config(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(AccountSpec(seed=4, services=1, functions=3))
    sdk = client(emu)
    service = emu.backend.service_names()[0]
    function = emu.backend.function_names(service)[0]
    body = {
        "maxAsyncRetryAttempts": 1,
        "maxAsyncEventAgeInSeconds": 600,
        "destinationConfig": {
            "onFailure": {"destination": f"acs:mns:cn-hangzhou:{emu.account_id}:/queues/q/messages"}
        },
        "statefulInvocation": True,
    }
    put = sdk.put_function_async_invoke_config(service, "canary-x", function, body).data
    assert put["qualifier"] == "canary-x"
    assert put["maxAsyncRetryAttempts"] == 1
    assert put["destinationConfig"] == body["destinationConfig"]
    got = sdk.get_function_async_invoke_config(service, "canary-x", function).data
    assert got == put
    listed, _ = page_all(
        lambda t: sdk.list_function_async_invoke_configs(service, function, limit=100, nextToken=t), "configs"
    )
    assert put in listed
    truth = [r for r in emu.backend.truth_records() if r["type"] == "config" and r["qualifier"] == "canary-x"]
    assert [r["config"] for r in truth] == [put]
    sdk.delete_function_async_invoke_config(service, "canary-x", function)
    with pytest.raises(FcError) as caught:
        sdk.get_function_async_invoke_config(service, "canary-x", function)
    assert (caught.value.status_code, caught.value.err_code) == (404, "AsyncConfigNotExists")
    assert caught.value.request_id  # from X-Fc-Request-Id


@pytest.mark.parametrize(
    "body",
    [
        {"maxAsyncRetryAttempts": 9},
        {"maxAsyncRetryAttempts": -1},
        {"maxAsyncEventAgeInSeconds": 0},
        {"maxAsyncEventAgeInSeconds": 2592001},
        {"statefulInvocation": "yes"},
        {"destinationConfig": {"onFailure": {"destination": "not-an-arn"}}},
        {"destinationConfig": {"onElsewhere": {}}},
    ],
)
def test_put_validates_ranges_like_the_real_service(
    emulator_factory: EmulatorFactory, body: dict[str, Any]
) -> None:
    emu = emulator_factory(AccountSpec(seed=4, services=1, functions=1))
    service = emu.backend.service_names()[0]
    function = emu.backend.function_names(service)[0]
    with pytest.raises(FcError) as caught:
        client(emu).put_function_async_invoke_config(service, "prod", function, body)
    assert (caught.value.status_code, caught.value.err_code) == (400, "InvalidArgument")


def test_a_wrong_secret_is_refused_with_signature_not_match(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(AccountSpec(seed=4, services=1, functions=1))
    with pytest.raises(FcError) as caught:
        client(emu, secret="not-the-secret").list_services()
    assert (caught.value.status_code, caught.value.err_code) == (403, "SignatureNotMatch")
    with pytest.raises(FcError) as caught:
        client(emu, key_id="LTAInobodyhasthiskey").list_services()
    assert (caught.value.status_code, caught.value.err_code) == (403, "InvalidAccessKeyID")


def test_the_sdk_with_an_sts_token(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(AccountSpec(seed=4, services=2, functions=2), security_token="sts-token-1")
    assert emu.security_token == "sts-token-1"
    data = client(emu, token="sts-token-1").list_services().data
    assert [s["serviceName"] for s in data["services"]] == emu.backend.service_names()
    for token in ("", "sts-token-2"):
        with pytest.raises(FcError) as caught:
            client(emu, token=token).list_services()
        assert (caught.value.status_code, caught.value.err_code) == (403, "InvalidSecurityToken")
