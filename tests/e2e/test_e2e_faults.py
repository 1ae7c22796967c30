"""The fault matrix, end to end: every fault the emulator injects, alone at 10% and all together.

A crawl must end with every discovered function exactly once; the ``ok``/``none`` ones identical to the
ground truth, ``gone`` exactly for the functions the emulator deleted, and ``error`` only where the
retries were exhausted — which, with the default attempts and a 10% fault rate, is never.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig, FaultKind
from tests.support.crawl_support import (
    Crawled,
    assert_matches_truth,
    isolated_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)
from tests.support.fixtures import EmulatorFactory

FAULT_ACCOUNT = AccountSpec(seed=31, services=5, functions=160, big_functions=2)
#: short timeouts and backoff so a stall costs a second, not thirty; the attempts stay the default
FAST_RETRIES = """
[crawl]
read_timeout = 0.5
total_timeout = 5.0
backoff_base = 0.01
backoff_cap = 0.2
"""

#: A random (not quota) 503 reads as throttling to the client, and the adaptive limiter cuts its rate for
#: each one: at 10% the rate collapses towards its floor (60 functions take a minute). The limiter must
#: tell a steady fraction of 503s it cannot influence from a quota it exceeds; until it does, these
#: cases would only time out.

ALONE = [
    pytest.param(FaultConfig(seed=1, rates={FaultKind.HTTP_500: 0.1}), id="500"),
    pytest.param(FaultConfig(seed=2, rates={FaultKind.HTTP_503: 0.1}), id="503"),
    pytest.param(FaultConfig(seed=3, rates={FaultKind.RESET: 0.1}), id="reset"),
    pytest.param(FaultConfig(seed=4, rates={FaultKind.TRUNCATED: 0.1}), id="truncated"),
    pytest.param(FaultConfig(seed=5, rates={FaultKind.STALL: 0.1}, stall_seconds=2.0), id="stall"),
    pytest.param(FaultConfig(seed=6, rates={FaultKind.MALFORMED: 0.1}), id="malformed"),
    pytest.param(FaultConfig(seed=7, rates={FaultKind.REPEAT_TOKEN: 0.1}), id="repeat-token"),
    pytest.param(FaultConfig(seed=8, rates={FaultKind.DELETE: 0.1}), id="delete"),
    pytest.param(FaultConfig(seed=9, quota_rps=150.0, quota_burst=10), id="throttle-429"),
    pytest.param(
        FaultConfig(seed=10, quota_rps=150.0, quota_burst=10, throttle_status=503, retry_hint="retry-after"),
        id="throttle-503-retry-after",
    ),
    pytest.param(
        FaultConfig(seed=11, quota_rps=150.0, quota_burst=10, retry_hint="x-acs-retry-after"),
        id="throttle-429-x-acs-retry-after",
    ),
]


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def crawl_with_faults(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, faults: FaultConfig
) -> tuple[int, Crawled, list[dict[str, Any]]]:
    emulator = emulator_factory(FAULT_ACCOUNT, faults)
    use_emulator_keys(monkeypatch, emulator)
    config = tmp_path / "fcaudit.toml"
    config.write_text(FAST_RETRIES)
    out = tmp_path / "out.ndjson"
    code = run_cli(["crawl", *target_args(emulator), "--config", str(config), "-o", str(out), "-q"])
    crawled = Crawled.of(read_ndjson(out))
    # whatever else happened: no function written twice, no config line duplicated
    assert crawled.function_lines == len(crawled.functions)
    assert len(crawled.configs) == len({ident for ident, _ in crawled.configs})
    # the truth after the crawl: functions deleted mid-crawl are ``gone`` in it
    return code, crawled, list(emulator.backend.truth_records())


@pytest.mark.parametrize("faults", ALONE)
def test_each_fault_alone_at_10_percent(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, faults: FaultConfig
) -> None:
    code, crawled, truth = crawl_with_faults(emulator_factory, monkeypatch, tmp_path, faults)

    errors = {k: f["error"] for k, f in crawled.functions.items() if f["status"] == "error"}
    assert not errors, errors
    assert crawled.end[0]["discoveryErrors"] == []
    assert code == 0
    assert_matches_truth(crawled, truth)


@pytest.mark.parametrize(
    "kinds",
    [
        pytest.param([k for k in FaultKind if k is not FaultKind.HTTP_503], id="all-but-503"),
        pytest.param(list(FaultKind), id="all"),
    ],
)
def test_all_faults_together(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kinds: list[FaultKind]
) -> None:
    rates = {kind: 0.03 if kind is FaultKind.STALL else 0.1 for kind in kinds}
    faults = FaultConfig(seed=12, rates=rates, stall_seconds=2.0, quota_rps=200.0, quota_burst=10)

    code, crawled, truth = crawl_with_faults(emulator_factory, monkeypatch, tmp_path, faults)

    errored = {k for k, f in crawled.functions.items() if f["status"] == "error"}
    for key in errored:  # an error only where the retries (or the run's retry budget) ran out
        error = crawled.functions[key]["error"]
        assert error["attempts"] == 6 or error["code"] in ("RetryBudgetExhausted", "PaginationError"), error
    codes = Counter(crawled.functions[key]["error"]["code"] for key in errored)
    assert crawled.end[0]["errorsByCode"] == dict(codes)  # the end record counts them by code
    failed_services = {d["service"] for d in crawled.end[0]["discoveryErrors"]}
    assert None not in failed_services
    expected = Crawled.of(truth)
    missing = set(expected.functions) - set(crawled.functions)
    assert {k[2] for k in missing} <= failed_services
    assert code == (3 if errored or failed_services else 0)
    exact = set(crawled.functions) - errored
    assert len(exact) > len(expected.functions) // 2
    assert_matches_truth(crawled.restrict(exact), truth, only=exact)


def test_a_whole_service_deleted_mid_crawl(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Functions of a service deleted mid-crawl were ``ok`` when read, or ``gone`` after: never lost."""
    faults = FaultConfig(seed=8, rates={FaultKind.DELETE: 0.05}, delete_service_share=0.5)

    code, crawled, truth = crawl_with_faults(emulator_factory, monkeypatch, tmp_path, faults)

    assert code == 0
    expected = Crawled.of(truth)
    deleted_services = {k[2] for k, f in expected.functions.items() if f["status"] == "gone"}
    deleted_services = {
        s
        for s in deleted_services
        if all(f["status"] == "gone" for k, f in expected.functions.items() if k[2] == s)
    }
    assert deleted_services, "no whole service was deleted; the test would prove nothing"
    # every function once; only a service deleted before its functions were listed may hide some
    assert set(crawled.functions) <= set(expected.functions)
    assert {k[2] for k in set(expected.functions) - set(crawled.functions)} <= deleted_services
    for key, record in crawled.functions.items():
        if key[2] in deleted_services:
            assert record["status"] in ("ok", "none", "gone")
    intact = {k for k in expected.functions if k[2] not in deleted_services}
    assert_matches_truth(crawled.restrict(intact), truth, only=intact)
