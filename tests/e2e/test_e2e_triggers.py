"""End to end: ``--triggers`` and the function facts (``timeout``, ``triggers``, ``exposure``) on the records.

The expected triggers, modes and exposures come from the emulator's ground truth, which classifies with
its own table (``crawler.emulator.model.invocation_mode``), never the crawler's. Both APIs: FC 2.0 lists a
function's triggers under its service, FC 3.0 under ``{service}${function}`` with ``triggerConfig`` as a
JSON string. The page size is small so the trigger listings page too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig, FaultKind
from crawler.emulator.server import EmulatorThread
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

#: every trigger profile of the generator (its first 15 functions) and a random mix after them
ACCOUNT = AccountSpec(seed=4, services=2, functions=40, big_functions=0)


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def facts(records: Any) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """Each function's (status, timeout, exposure, triggers or None) by key."""
    return {
        (r["service"], r["function"]): (r["status"], r["timeout"], r["exposure"], r.get("triggers"))
        for r in records
        if r["type"] == "function"
    }


def crawl(emulator: EmulatorThread, out: Path, *extra: str) -> int:
    return run_cli(["crawl", *target_args(emulator), "--output", str(out), "-q", "--page-size", "2", *extra])


def route_count(emulator: EmulatorThread, route: str) -> int:
    return sum(emulator.stats()["routes"].get(route, {}).values())


@pytest.mark.parametrize(
    ("api", "route"), [("fc2", "ListTriggers"), ("fc3", "ListTriggersV3"), ("auto", "ListTriggersV3")]
)
def test_triggers_and_exposure_are_the_emulators_truth(
    api: str, route: str, emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "records.ndjson"

    code = crawl(emulator, out, "--triggers", "--api", api)

    assert code == 0
    records = read_ndjson(out)
    truth = list(emulator.backend.truth_records(triggers=True))
    if api == "fc2":  # FC 3.0 spells configs its own way (test_e2e_listings compares those)
        assert_matches_truth(Crawled.of(records), truth)
    assert facts(records) == facts(truth)
    exposures = {f[2] for f in facts(records).values()}
    assert exposures == {"async", "sync", "unknown"}
    modes = {t["mode"] for f in facts(records).values() for t in f[3] or ()}
    assert modes == {"async", "sync", "unknown"}
    assert any(f[3] == [] for f in facts(records).values()), "no function without triggers"
    end = records[-1]
    assert end["complete"] is True
    assert end["triggerErrors"] == 0
    # every trigger request reached the server and is counted once; with two a page, the function with
    # five triggers needed three pages
    assert end["triggerRequests"] == route_count(emulator, route)
    assert end["triggerRequests"] > ACCOUNT.functions
    assert end["requests"] == emulator.stats()["requests"]


def test_without_triggers_no_trigger_is_listed_and_the_timeout_is_recorded(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "records.ndjson"

    assert crawl(emulator, out) == 0

    records = read_ndjson(out)
    assert route_count(emulator, "ListTriggers") == 0  # not one extra request
    assert records[-1]["triggerRequests"] == 0
    assert records[-1]["requests"] == emulator.stats()["requests"]
    assert facts(records) == facts(emulator.backend.truth_records())
    functions = [r for r in records if r["type"] == "function"]
    assert all("triggers" not in r and r["exposure"] == "unknown" for r in functions)
    assert {r["timeout"] for r in functions} >= {3, 600}  # the seeded timeouts, not one global value


def test_the_config_file_turns_triggers_on_and_overrides_modes(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    config = tmp_path / "fcaudit.toml"
    config.write_text(
        '[crawl]\ntriggers = true\n\n[audit]\ntrigger_modes = { timer = "sync", alb = "sync" }\n'
    )
    out = tmp_path / "records.ndjson"

    assert crawl(emulator, out, "--config", str(config)) == 0

    records = read_ndjson(out)
    overrides = {"timer": "sync", "alb": "sync"}
    assert facts(records) == facts(emulator.backend.truth_records(triggers=True, trigger_modes=overrides))
    timers = [t for f in facts(records).values() for t in f[3] or () if t["type"] == "timer"]
    assert timers
    assert all(t["mode"] == "sync" for t in timers)
    assert records[0]["triggerModes"]["timer"] == "sync"


def test_an_unknown_mode_in_the_config_is_one_line_and_exit_2(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    config = tmp_path / "fcaudit.toml"
    config.write_text('[audit]\ntrigger_modes = { timer = "sometimes" }\n')
    out = tmp_path / "records.ndjson"

    code = crawl(emulator, out, "--triggers", "--config", str(config))

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert "trigger_modes.timer" in err[0]
    assert "sometimes" in err[0]
    assert emulator.stats()["requests"] == 0


@pytest.mark.parametrize("api", ["fc2", "fc3"])
def test_a_failed_trigger_listing_leaves_the_function_whole_with_unknown_exposure(
    api: str, emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    backend = emulator.backend
    service = backend.service_names()[0]
    victim = backend.function_names(service)[2]  # the timer-only profile: async when listed
    backend.deny_triggers(service, victim)
    out = tmp_path / "records.ndjson"

    code = crawl(emulator, out, "--triggers", "--api", api)

    assert code == 0  # the configs are whole: the run is complete
    records = read_ndjson(out)
    truth = facts(backend.truth_records(triggers=True))
    got = facts(records)
    record = next(r for r in records if r["type"] == "function" and r["function"] == victim)
    assert record["exposure"] == "unknown"
    assert "triggers" not in record
    assert record["triggersError"]["code"] == "AccessDenied"
    assert record["status"] == truth[(service, victim)][0]
    assert truth[(service, victim)][2] == "async"
    del got[(service, victim)], truth[(service, victim)]
    assert got == truth
    assert records[-1]["triggerErrors"] == 1
    assert records[-1]["complete"] is True


def test_a_targets_pair_has_no_timeout(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    service = emulator.backend.service_names()[0]
    function = emulator.backend.function_names(service)[1]
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(f"{service}/{function}\n")
    out = tmp_path / "records.ndjson"

    assert crawl(emulator, out, "--targets", str(pairs), "--triggers") == 0

    (record,) = [r for r in read_ndjson(out) if r["type"] == "function"]
    assert record["timeout"] is None  # not listed: the crawl was not told
    assert record["triggers"] == facts(emulator.backend.truth_records(triggers=True))[(service, function)][3]


def test_trigger_listings_ride_out_server_faults_like_any_listing(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    faults = FaultConfig(seed=5, rates={FaultKind.HTTP_500: 0.08, FaultKind.RESET: 0.03})
    emulator = emulator_factory(ACCOUNT, faults)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "records.ndjson"

    assert crawl(emulator, out, "--triggers") == 0

    records = read_ndjson(out)
    assert facts(records) == facts(emulator.backend.truth_records(triggers=True))
    end = records[-1]
    served = emulator.stats()["routes"]["ListTriggers"]
    assert set(served) - {"200"}, "no trigger listing met a fault"
    assert end["triggerRequests"] == sum(served.values())  # retries included, as `requests` counts them
    assert end["retries"] > 0


def test_resume_refuses_to_finish_a_file_crawled_without_triggers(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "records.ndjson"
    assert crawl(emulator, out) == 0
    before = out.read_bytes()

    code = crawl(emulator, out, "--resume", "--triggers")

    assert code == 2
    assert "--force-resume" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_merged_shards_keep_the_trigger_counts(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    emulator.backend.deny_triggers(
        emulator.backend.service_names()[0],
        emulator.backend.function_names(emulator.backend.service_names()[0])[0],
    )
    shards = [tmp_path / f"shard-{k}.ndjson" for k in range(2)]
    for k, shard in enumerate(shards):
        assert crawl(emulator, shard, "--triggers", "--shard", f"{k}/2") == 0
    merged = tmp_path / "merged.ndjson"

    assert run_cli(["merge", "-o", str(merged), *map(str, shards)]) == 0

    ends = [read_ndjson(s)[-1] for s in shards]
    end = read_ndjson(merged)[-1]
    assert (
        end["triggerRequests"]
        == sum(e["triggerRequests"] for e in ends)
        == route_count(emulator, "ListTriggers")
    )
    assert end["triggerErrors"] == 1
    assert facts(read_ndjson(merged)) == facts(read_ndjson(shards[0])) | facts(read_ndjson(shards[1]))


def test_a_malformed_trigger_answer_is_that_functions_triggers_error(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    backend = emulator.backend
    service = backend.service_names()[0]
    victim = backend.function_names(service)[1]
    backend.add_trigger(service, victim, {"triggerName": 7, "triggerType": "http"})  # not a string name
    out = tmp_path / "records.ndjson"

    assert crawl(emulator, out, "--triggers") == 0

    records = read_ndjson(out)
    record = next(r for r in records if r["type"] == "function" and r["function"] == victim)
    assert record["triggersError"]["code"] == "ProtocolError"
    assert record["exposure"] == "unknown"
    assert record["status"] in ("ok", "none")
    assert records[-1]["triggerErrors"] == 1
