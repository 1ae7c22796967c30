"""The seeded account generator and the backend's ground truth: determinism, mix, shape, mutations."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.emulator import AccountSpec, Backend, EmulatorApiError, generate_account
from crawler.errors import OutputError, UsageError

DEFAULT = AccountSpec()
CONFIG_FIELDS = (
    "qualifier",
    "createdTime",
    "lastModifiedTime",
    "destinationConfig",
    "maxAsyncRetryAttempts",
    "maxAsyncEventAgeInSeconds",
    "statefulInvocation",
)


def truth_bytes(backend: Backend) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in backend.truth_records())


def configs_of(spec: AccountSpec) -> list[dict[str, Any]]:
    return [r["config"] for r in generate_account(spec).truth_records() if r["type"] == "config"]


def test_same_seed_gives_a_byte_identical_account(tmp_path: Path) -> None:
    spec = AccountSpec(seed=5, services=6, functions=300, distribution="skewed", big_functions=2)
    first, second = generate_account(spec), generate_account(spec)
    assert truth_bytes(first) == truth_bytes(second)
    assert (first.account_id, first.access_key_id, first.access_key_secret) == (
        second.account_id,
        second.access_key_id,
        second.access_key_secret,
    )
    lines = first.dump_truth(tmp_path / "a.ndjson")
    second.dump_truth(tmp_path / "b.ndjson")
    assert (tmp_path / "a.ndjson").read_bytes() == (tmp_path / "b.ndjson").read_bytes() == truth_bytes(first)
    assert lines == len(list(first.truth_records()))


def test_another_seed_gives_another_account() -> None:
    one, two = generate_account(AccountSpec(seed=1)), generate_account(AccountSpec(seed=2))
    assert truth_bytes(one) != truth_bytes(two)
    assert one.access_key_secret != two.access_key_secret
    assert one.account_id != two.account_id


def test_lazy_materialisation_does_not_depend_on_the_order_of_access() -> None:
    spec = AccountSpec(seed=9, services=3, functions=30)
    touched = generate_account(spec)
    for service in reversed(touched.service_names()):  # materialise back to front first
        for function in reversed(touched.function_names(service)):
            touched.config_keys(service, function)
            touched.function_info(service, function)
    assert truth_bytes(touched) == truth_bytes(generate_account(spec))


def test_uniform_spreads_functions_evenly() -> None:
    backend = generate_account(AccountSpec(services=7, functions=100))
    sizes = sorted(len(backend.function_names(s)) for s in backend.service_names())
    assert sum(sizes) == 100
    assert sizes[-1] - sizes[0] <= 1


def test_skewed_gives_a_few_large_services_and_many_small_ones() -> None:
    backend = generate_account(AccountSpec(services=50, functions=20_000, distribution="skewed"))
    sizes = sorted(len(backend.function_names(s)) for s in backend.service_names())
    assert sum(sizes) == 20_000
    assert min(sizes) >= 1
    assert sizes[-1] >= 1000  # thousands in the largest
    assert sizes[len(sizes) // 2] * 20 < sizes[-1]  # the median service is small by comparison


def test_a_hundred_thousand_functions_generate_with_unique_valid_names() -> None:
    backend = generate_account(AccountSpec(services=100, functions=100_000, distribution="skewed"))
    assert backend.counts() == {"services": 100, "functions": 100_000}
    name = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
    for service in backend.service_names()[:5]:
        names = backend.function_names(service)
        assert names == sorted(set(names))
        assert all(name.match(n) for n in names)


def test_big_functions_have_more_than_a_hundred_configs() -> None:
    backend = generate_account(AccountSpec(seed=4, services=3, functions=40, big_functions=3))
    counts = [r["configs"] for r in backend.truth_records() if r["type"] == "function"]
    assert sum(1 for c in counts if c > 100) == 3


def test_the_mix_covers_what_the_audit_must_recognise() -> None:
    configs = configs_of(AccountSpec(seed=2, services=5, functions=400))
    arns = [
        side["destination"]
        for c in configs
        if isinstance(c.get("destinationConfig"), dict)
        for side in c["destinationConfig"].values()
    ]
    kinds = {
        "mns queue": r"^acs:mns:[^:]+:\d+:/queues/[^/]+/messages$",
        "mns topic": r"^acs:mns:[^:]+:\d+:/topics/[^/]+/messages$",
        "fc2": r"^acs:fc:[^:]+:\d+:services/[^/]+\.[^/]+/functions/[^/]+$",
        "fc3": r"^acs:fc:[^:]+:\d+:functions/[^/]+$",
        "eventbridge": r"^acs:eventbridge:[^:]+:\d+:eventbus/[^/]+$",
        "rocketmq": r"^acs:mq:[^:]+:\d+:/instances/[^/]+/topic/[^/]+$",
    }
    for kind, pattern in kinds.items():
        assert any(re.match(pattern, a) for a in arns), kind
    account = generate_account(AccountSpec(seed=2, services=5, functions=400)).account_id
    assert any(
        a.startswith("acs:") and f":{account}:" not in a and a.count(":") >= 4 for a in arns
    )  # x-account
    assert any(a.startswith("acs:") and ":cn-hangzhou:" not in a and "::" not in a for a in arns)  # x-region
    assert any(not any(re.match(p, a) for p in kinds.values()) for a in arns)  # malformed
    own = {
        side["destination"]
        for c in configs
        if isinstance(c.get("destinationConfig"), dict) and "service" in c
        for side in c["destinationConfig"].values()
        if side["destination"].endswith(
            f"services/{c['service']}.{c['qualifier'] or 'LATEST'}/functions/{c['function']}"
        )
    }
    assert own  # self-referencing
    assert {c.get("statefulInvocation") for c in configs} >= {True, False}
    assert any("service" in c for c in configs)
    assert any("serviceName" in c and "functionName" in c for c in configs)
    retries = Counter(c.get("maxAsyncRetryAttempts") for c in configs)
    assert set(range(0, 9)) - {7} <= set(retries)
    assert any(r is not None and not 0 <= r <= 8 for r in retries)  # beyond the documented range
    ages = {c.get("maxAsyncEventAgeInSeconds") for c in configs}
    assert any(a is not None and not 1 <= a <= 2592000 for a in ages)
    assert None in ages  # a missing field
    assert any(c.get("destinationConfig") == {} for c in configs)
    assert any("jobConfig" in c for c in configs)  # an unknown field to keep
    assert {c["qualifier"] for c in configs} >= {"LATEST", "", "prod", "1"}


def test_config_fields_come_in_a_stable_order() -> None:
    for config in configs_of(AccountSpec(seed=3, services=2, functions=60)):
        names = list(config)
        assert names[:2] in (["service", "function"], ["serviceName", "functionName"])
        known = [n for n in names[2:] if n in CONFIG_FIELDS]
        assert known == [f for f in CONFIG_FIELDS if f in config]


def test_the_showcase_function_covers_every_case_in_a_tiny_account() -> None:
    spec = AccountSpec(seed=1, services=1, functions=2, big_functions=0, max_qualifiers=6)
    counts = [r["configs"] for r in generate_account(spec).truth_records() if r["type"] == "function"]
    assert 10 in counts  # the showcase: one config per case
    configs = configs_of(spec)
    assert any(c.get("maxAsyncRetryAttempts") == 9 for c in configs)
    assert any(c.get("maxAsyncEventAgeInSeconds") == 0 for c in configs)
    assert any(c.get("destinationConfig") is None for c in configs)


def test_truth_records_have_the_crawler_shapes() -> None:
    backend = generate_account(AccountSpec(seed=8, services=2, functions=20))
    records = list(backend.truth_records())
    functions = [r for r in records if r["type"] == "function"]
    assert len(functions) == 20
    for record in records:
        assert record["account"] == backend.account_id
        assert record["region"] == "cn-hangzhou"
    for f in functions:
        assert set(f) == {
            "type",
            "account",
            "region",
            "service",
            "function",
            "status",
            "configs",
            "timeout",
            "exposure",
        }
        assert f["exposure"] == "unknown"  # no triggers asked for
        assert f["status"] == ("ok" if f["configs"] else "none")
    configs = [r for r in records if r["type"] == "config"]
    assert all(c["qualifier"] == (c["config"]["qualifier"] or "LATEST") for c in configs)
    assert sum(f["configs"] for f in functions) == len(configs)


def test_deleted_functions_and_services_are_gone_in_the_truth() -> None:
    backend = generate_account(AccountSpec(seed=8, services=2, functions=20))
    first, second = backend.service_names()
    victim = backend.function_names(first)[0]
    backend.delete_function(first, victim)
    backend.delete_service(second)
    status = {(r["service"], r["function"]): r for r in backend.truth_records() if r["type"] == "function"}
    assert status[(first, victim)]["status"] == "gone"
    assert status[(first, victim)]["configs"] == 0
    assert all(r["status"] == "gone" for (s, _), r in status.items() if s == second)
    assert victim not in backend.function_names(first)
    assert backend.service_names() == [first]
    with pytest.raises(EmulatorApiError) as caught:
        backend.config_keys(first, victim)
    assert caught.value.code == "FunctionNotFound"
    with pytest.raises(EmulatorApiError) as caught:
        backend.function_names(second)
    assert (caught.value.http, caught.value.code) == (404, "ServiceNotFound")


def test_backend_shaping_put_get_delete() -> None:
    backend = Backend(account_id="1234567890123456")
    backend.add_service("svc")
    backend.add_function("svc", "fn")
    assert backend.config_keys("svc", "fn") == []
    put = backend.put_config("svc", "fn", "prod", {"maxAsyncRetryAttempts": 0}, "2024-01-01T00:00:00Z")
    assert list(put)[:3] == ["service", "function", "qualifier"]
    again = backend.put_config("svc", "fn", "prod", {}, "2024-02-01T00:00:00Z")
    assert again["createdTime"] == "2024-01-01T00:00:00Z"
    assert again["lastModifiedTime"] == "2024-02-01T00:00:00Z"
    assert backend.get_config("svc", "fn", "prod") is again
    backend.put_config("svc", "fn", "LATEST", {}, "2024-01-01T00:00:00Z")
    assert backend.config_keys("svc", "fn") == ["LATEST", "prod"]
    assert backend.get_config("svc", "fn", "") is backend.get_config("svc", "fn", "LATEST")
    backend.delete_config("svc", "fn", "prod")
    with pytest.raises(EmulatorApiError) as caught:
        backend.get_config("svc", "fn", "prod")
    assert caught.value.code == "AsyncConfigNotExists"
    with pytest.raises(EmulatorApiError):
        backend.add_service("svc")
    assert "secret" not in repr(backend)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": -1},
        {"services": -1},
        {"services": 0, "functions": 5},
        {"distribution": "zipf"},
        {"account_id": "12ab"},
        {"region": ""},
        {"big_functions": -1},
        {"max_qualifiers": 0},
        {"edge_rate": 1.5},
    ],
)
def test_bad_account_specs_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        AccountSpec(**kwargs)


def test_an_unwritable_truth_path_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="truth file"):
        generate_account(AccountSpec(functions=2, services=1)).dump_truth(tmp_path / "missing" / "t.ndjson")


def test_materialise_builds_everything_and_changes_nothing() -> None:
    spec = AccountSpec(seed=12, services=3, functions=50)
    eager = generate_account(spec)
    configs = eager.materialise()
    assert configs == sum(1 for r in eager.truth_records() if r["type"] == "config")
    assert truth_bytes(eager) == truth_bytes(generate_account(spec))
