"""Whole estates through the command line, against the emulator over real sockets: four shards merged
equal one unsharded crawl; ``--api fc3`` and ``--api auto`` find the configs ``--api fc2`` finds, in far
fewer requests; ``--baseline`` prints the drift at the end of a crawl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.emulator import AccountSpec
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
from tests.wire.test_fc3 import assert_same_configs

ESTATE_ACCOUNT = AccountSpec(seed=23, services=12, functions=120, big_functions=2, distribution="skewed")


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def body(records: list[dict[str, Any]]) -> list[bytes]:
    """The config and function lines, in a canonical order (shards finish in their own order)."""
    return sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records if r["type"] != "run")


@pytest.mark.parametrize("api", ["fc2", "fc3"])
def test_four_shards_merged_equal_one_unsharded_crawl(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    api: str,
) -> None:
    emu = emulator_factory(ESTATE_ACCOUNT)
    use_emulator_keys(monkeypatch, emu)
    crawl = ["crawl", *target_args(emu), "--api", api, "-q"]
    whole = tmp_path / "whole.ndjson"
    assert run_cli([*crawl, "--output", str(whole)]) == 0
    shards = []
    for k in range(4):
        path = tmp_path / f"shard-{k}.ndjson"
        assert run_cli([*crawl, "--shard", f"{k}/4", "--output", str(path)]) == 0
        shards.append(path)
        start, end = read_ndjson(path)[0], read_ndjson(path)[-1]
        assert start["shard"] == end["shard"] == {"index": k, "count": 4}
    parts = [read_ndjson(p) for p in shards]
    assert all(any(r["type"] == "function" for r in part) for part in parts)  # every shard got some
    merged = tmp_path / "merged.ndjson"
    capsys.readouterr()

    assert run_cli(["merge", "-o", str(merged), *map(str, reversed(shards)), "--format", "json"]) == 0

    summary = orjson.loads(capsys.readouterr().out)
    whole_records, merged_records = read_ndjson(whole), read_ndjson(merged)
    assert body(merged_records) == body(whole_records)
    if api == "fc2":
        assert_matches_truth(Crawled.of(merged_records), emu.backend.truth_records())
    assert merged_records[0]["fingerprint"] == whole_records[0]["fingerprint"]  # the same run, unsharded
    assert merged_records[0]["runFingerprint"] == whole_records[0]["runFingerprint"]
    end, whole_end = merged_records[-1], whole_records[-1]
    assert end["complete"] is True
    assert end["functions"] == whole_end["functions"]
    assert end["configs"] == whole_end["configs"]
    assert summary["complete"] is True
    assert summary["totals"]["configs"] == whole_end["configs"]

    capsys.readouterr()
    assert run_cli(["diff", str(whole), str(merged), "--fail-on-drift"]) == 0  # no drift between them


def test_a_shard_file_cannot_be_resumed_as_another_shard(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emu = emulator_factory(AccountSpec(seed=3, services=4, functions=12))
    use_emulator_keys(monkeypatch, emu)
    path = tmp_path / "shard.ndjson"
    assert run_cli(["crawl", *target_args(emu), "--shard", "0/2", "--output", str(path), "-q"]) == 0
    resumed = ["crawl", *target_args(emu), "--shard", "1/2", "--output", str(path), "--resume", "-q"]
    assert run_cli(resumed) == 2


@pytest.mark.parametrize("api", ["fc3", "auto"])
def test_fc3_and_auto_crawls_find_the_configs_an_fc2_crawl_finds(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: str
) -> None:
    emu = emulator_factory(ESTATE_ACCOUNT)
    use_emulator_keys(monkeypatch, emu)
    fc2, other = tmp_path / "fc2.ndjson", tmp_path / f"{api}.ndjson"
    assert run_cli(["crawl", *target_args(emu), "--api", "fc2", "--output", str(fc2), "-q"]) == 0
    assert run_cli(["crawl", *target_args(emu), "--api", api, "--output", str(other), "-q"]) == 0
    fc2_records, other_records = read_ndjson(fc2), read_ndjson(other)
    assert_same_configs(fc2_records, other_records)
    key = f"{emu.account_id}/{emu.region}"
    assert fc2_records[-1]["apis"] == {key: "fc2"}
    assert other_records[-1]["apis"] == {key: "fc3"}
    assert other_records[0]["api"] == api
    assert other_records[-1]["requests"] * 10 < fc2_records[-1]["requests"]
    assert run_cli(["diff", str(fc2), str(other), "--fail-on-drift"]) == 0  # FC 3.0 spelling is not drift


def test_baseline_prints_the_drift_at_the_end_of_a_crawl(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = emulator_factory(AccountSpec(seed=5, services=3, functions=20))
    use_emulator_keys(monkeypatch, emu)
    before = tmp_path / "before.ndjson"
    assert run_cli(["crawl", *target_args(emu), "--output", str(before), "-q"]) == 0
    service = emu.backend.service_names()[0]
    function = emu.backend.function_names(service)[0]
    emu.call(lambda: emu.backend.put_config(service, function, "drifted", {}, "2024-01-01T00:00:00Z"))
    after = tmp_path / "after.ndjson"
    capsys.readouterr()

    argv = ["crawl", *target_args(emu), "--output", str(after), "--baseline", str(before), "--format", "json"]
    assert run_cli([*argv, "--fail-on-drift", "-q"]) == 1

    out = capsys.readouterr().out
    drift = orjson.loads(out[out.index('{\n  "old"') :])
    assert drift["counts"]["added"] == 1
    assert [(c["function"], c["qualifier"]) for c in drift["configs"]] == [(function, "drifted")]
    again = tmp_path / "again.ndjson"
    assert run_cli(["crawl", *target_args(emu), "--output", str(again), "--baseline", str(after), "-q"]) == 0
    assert "No drift from" in capsys.readouterr().out
    assert run_cli(["crawl", *target_args(emu), "--output", str(after), "--baseline", str(after), "-q"]) == 2
    assert "writing it would destroy that input" in capsys.readouterr().err  # never over its own baseline
    assert run_cli(["crawl", *target_args(emu), "--fail-on-drift", "-q"]) == 2
    assert run_cli(["crawl", *target_args(emu), "--baseline", str(tmp_path / "nope.ndjson"), "-q"]) == 2
