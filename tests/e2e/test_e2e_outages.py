"""Refusals and outages through the command line, over real sockets: a refusal stops only what was
refused, an endpoint that goes dark for a second is waited for, and ``--resume`` crawls again what ended
in error, so "resume until complete" converges on the emulator's ground truth."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
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
from tests.support.estate_support import AccountEmulator, RegionSpec, targets_toml
from tests.support.fixtures import EmulatorFactory
from tests.support.hostile import HostileServer, Upstream
from tests.support.hostile.outages import REQUESTS, RestartingServer, denying, forwarding, refusing

GOOD, STALE = "1111111111111111", "2222222222222222"
OUTAGE_ACCOUNT = AccountSpec(seed=31, services=12, functions=1500, big_functions=2)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as servers:
        yield servers


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def function_keys(records: Iterator[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [
        (r["account"], r["region"], r["service"], r["function"]) for r in records if r["type"] == "function"
    ]


def test_a_refused_target_stops_only_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        AccountEmulator(GOOD, 61, [RegionSpec("cn-hangzhou", 1), RegionSpec("cn-shanghai", 2)]) as good,
        AccountEmulator(STALE, 62, [RegionSpec("cn-beijing", 3)]) as stale,
    ):
        accounts = {"GOOD": good, "STALE": stale}
        for prefix, emulator in accounts.items():
            for name, value in emulator.env(prefix).items():
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("STALE_KEY_SECRET", "rotated-away-secret")  # a stale key: SignatureNotMatch
        config = tmp_path / "estate.toml"
        config.write_text(targets_toml(accounts) + "\n[crawl]\nconcurrency = 8\n")
        out = tmp_path / "estate.ndjson"

        code = run_cli(["crawl", "--config", str(config), "--output", str(out), "-q"])

        assert code == 3  # incomplete, not "bad input": the good account was crawled
        err = capsys.readouterr().err.strip().splitlines()
        assert err, "the refused target is named on stderr"
        assert STALE in err[-1]
        assert "cn-beijing" in err[-1]
        assert "SignatureNotMatch" in err[-1]
        assert stale.access_key_id in err[-1]
        assert all("rotated-away-secret" not in line for line in err)
        crawled = Crawled.of(read_ndjson(out))
        assert_matches_truth(crawled, good.truth())  # every function of the good account, right
        end = crawled.end[0]
        assert end["complete"] is False
        assert end["aborted"] is None
        refused = [
            (d["account"], d["region"], d["service"], d["error"]["code"]) for d in end["discoveryErrors"]
        ]
        assert refused == [(STALE, "cn-beijing", None, "SignatureNotMatch")]
        assert stale.stats("cn-beijing")["requests"] <= 2  # stopped at its first refusal


def test_a_403_on_one_function_is_an_error_for_that_pair_only(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(AccountSpec(seed=7, services=4, functions=60))
    use_emulator_keys(monkeypatch, emulator)
    truth = list(emulator.backend.truth_records())
    denied = next(
        (r["account"], r["region"], r["service"], r["function"])
        for r in truth
        if r["type"] == "function" and r["status"] == "ok"
    )
    upstream = Upstream(emulator.endpoint)
    with HostileServer(denying(upstream, {(denied[2], denied[3])})) as proxy:
        out = tmp_path / "out.ndjson"
        argv = ["crawl", "--endpoint", proxy.endpoint, "--account", emulator.account_id]
        code = run_cli([*argv, "--region", emulator.region, "-o", str(out), "-q"])

    assert code == 3
    crawled = Crawled.of(read_ndjson(out))
    record = crawled.functions[denied]
    assert record["status"] == "error"
    assert (record["error"]["code"], record["error"]["http"], record["error"]["attempts"]) == (
        "AccessDenied",
        403,
        1,
    )
    others = set(function_keys(iter(truth))) - {denied}
    assert_matches_truth(crawled.restrict(others), truth, only=others)
    end = crawled.end[0]
    assert end["discoveryErrors"] == []
    assert end["aborted"] is None
    assert end["functions"]["error"] == 1


def test_a_denied_service_listing_and_function_leave_the_rest_whole(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(AccountSpec(seed=8, services=4, functions=40))
    use_emulator_keys(monkeypatch, emulator)
    truth = list(emulator.backend.truth_records())
    keys = function_keys(iter(truth))
    blind_service = keys[0][2]
    denied = next(k for k in keys if k[2] != blind_service)
    emulator.backend.deny(blind_service)  # its ListFunctions is 403
    emulator.backend.deny(denied[2], denied[3])  # this function's configs are 403
    out = tmp_path / "out.ndjson"

    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "-q"]) == 3

    crawled = Crawled.of(read_ndjson(out))
    assert crawled.functions[denied]["error"]["code"] == "AccessDenied"
    visible = {k for k in keys if k[2] != blind_service and k != denied}
    assert_matches_truth(crawled.restrict(visible), truth, only=visible)
    assert not any(k[2] == blind_service for k in crawled.functions)
    errors = crawled.end[0]["discoveryErrors"]
    assert [(e["service"], e["error"]["code"]) for e in errors] == [(blind_service, "AccessDenied")]


def test_every_target_refused_stops_fast_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = refusing("InvalidAccessKeyId"), refusing("InvalidSecurityToken.Expired")
    with HostileServer(first) as one, HostileServer(second) as two:
        blocks = []
        for n, (account, server) in enumerate(((GOOD, one), (STALE, two))):
            monkeypatch.setenv(f"K{n}_ID", f"LTAIstaleKey{n:010d}")
            monkeypatch.setenv(f"K{n}_SECRET", "stale-secret")
            blocks.append(
                f'[[targets]]\naccount = "{account}"\nregions = ["cn-hangzhou"]\n'
                f'endpoint = "{server.endpoint}"\n'
                f'access_key_id_env = "K{n}_ID"\naccess_key_secret_env = "K{n}_SECRET"\n'
            )
        config = tmp_path / "refused.toml"
        config.write_text("\n".join(blocks) + "[crawl]\nconcurrency = 16\n")
        out = tmp_path / "out.ndjson"
        started = time.monotonic()

        code = run_cli(["crawl", "--config", str(config), "-o", str(out), "-q"])

        assert time.monotonic() - started < 5
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    err = [line for line in lines if line.startswith("fcaudit:")]  # besides the error-level log lines
    assert len(err) == 1, lines
    assert err[0] == lines[-1]
    assert GOOD in err[0]
    assert STALE in err[0]
    assert "InvalidAccessKeyId" in err[0]
    assert "InvalidSecurityToken.Expired" in err[0]
    assert "stale-secret" not in err[0]
    assert first[REQUESTS].requests + second[REQUESTS].requests <= 4  # about one request per target
    end = read_ndjson(out)[-1]
    assert end["complete"] is False
    assert end["aborted"]["http"] == 403
    assert {e["account"] for e in end["discoveryErrors"]} == {GOOD, STALE}


def dark_proxy(emulator_endpoint: str, after: int, seconds: float = 1.0) -> RestartingServer:
    return RestartingServer(
        forwarding(Upstream(emulator_endpoint), go_dark_after=after, dark_seconds=seconds)
    )


# The outage aborts live sockets on both sides (the proxy's transports, the crawler's pooled connections);
# under load the garbage collector may reach one before its owner closes it. That ResourceWarning says
# nothing about fcaudit's behaviour, which the assertions check; it must not fail the test.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_one_second_outage_is_ridden_out_and_resume_converges(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(OUTAGE_ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    with dark_proxy(emulator.endpoint, after=250) as proxy:
        argv = ["crawl", "--endpoint", proxy.endpoint, "--account", emulator.account_id]
        argv += ["--region", emulator.region, "-o", str(out), "-q", "--concurrency", "32"]
        first = run_cli(argv)
        assert proxy.outages == 1
        assert proxy.back.wait(5)
        again = run_cli([*argv, "--resume"])

    records = read_ndjson(out)
    assert first == 0, records[-1]  # the run waited for the endpoint: nothing in error
    assert again == 0, records[-1]
    crawled = Crawled.of(records)
    assert_matches_truth(crawled, emulator.backend.truth_records())
    assert crawled.end[-1]["complete"] is True


def test_resume_retries_the_functions_that_ended_in_error(
    stack: ExitStack,
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory(AccountSpec(seed=9, services=5, functions=80))
    use_emulator_keys(monkeypatch, emulator)
    truth = list(emulator.backend.truth_records())
    keys = function_keys(iter(truth))
    failing = {(k[2], k[3]) for k in keys[3:9]}  # six functions end in error (what made them fail is moot)
    proxy = HostileServer(denying(Upstream(emulator.endpoint), failing, status=400, code="InvalidArgument"))
    stack.enter_context(proxy)
    out, summary = tmp_path / "out.ndjson", tmp_path / "summary.json"
    crawl = ["crawl", "--endpoint", proxy.endpoint, "--account", emulator.account_id, "--region"]
    crawl += [emulator.region, "-o", str(out), "-q", "--shard", "0/1"]
    assert run_cli(crawl) == 3
    assert Crawled.of(read_ndjson(out)).end[0]["functions"]["error"] == 6
    assert run_cli([*crawl, "--resume", "--resume-skip-errors"]) == 3  # kept as they are: still incomplete
    failing.clear()  # the cause goes away

    assert run_cli([*crawl, "--resume", "--summary", str(summary)]) == 0

    records = read_ndjson(out)
    assert sum(r["type"] == "function" for r in records) == len(keys) + 6  # nothing written is lost
    last = Crawled.of(records)  # the last record of each function
    assert last.replaced_errors == 6
    assert_matches_truth(last, truth)  # configs once each, statuses as in the truth
    assert records[-1]["complete"] is True
    assert records[-1]["functions"]["error"] == 0
    live = orjson.loads(summary.read_bytes())
    capsys.readouterr()
    assert run_cli(["summarize", str(out), "--format", "json"]) == 0
    from_file = orjson.loads(capsys.readouterr().out)
    merged = tmp_path / "merged.ndjson"
    assert run_cli(["merge", "-o", str(merged), str(out), "--format", "json"]) == 0
    from_merge = orjson.loads(capsys.readouterr().out)
    for report in (live, from_file, from_merge):
        assert report["complete"] is True
        assert report["totals"]["functionsByStatus"]["error"] == 0
        assert report["totals"]["functions"] == len(keys)
        assert report["errorCodes"] == {}
        assert report["findings"]["byRule"]["pair-error"] == 0
    assert live["totals"] == from_file["totals"] == from_merge["totals"]
    fresh = tmp_path / "fresh.ndjson"
    assert run_cli([*crawl[:7], "-o", str(fresh), "-q"]) == 0
    capsys.readouterr()
    assert run_cli(["diff", str(fresh), str(out), "--format", "json", "--fail-on-drift"]) == 0
    drift = orjson.loads(capsys.readouterr().out)
    assert drift["counts"]["unverifiedConfigs"] == 0
    assert drift["counts"]["unverifiedFindings"] == 0


def test_an_outage_longer_than_outage_wait_stops_the_target_and_resume_finishes_it(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(AccountSpec(seed=12, services=8, functions=600))
    use_emulator_keys(monkeypatch, emulator)
    config = tmp_path / "c.toml"
    config.write_text("[crawl]\noutage_wait = 0.3\nconcurrency = 16\n")
    out = tmp_path / "out.ndjson"
    with dark_proxy(emulator.endpoint, after=150, seconds=2.0) as proxy:
        argv = ["crawl", "--endpoint", proxy.endpoint, "--account", emulator.account_id, "--region"]
        argv += [emulator.region, "--config", str(config), "-o", str(out), "-q"]
        first = run_cli(argv)
        gave_up_first = not proxy.back.is_set()  # the run ended while the endpoint was still down
        first_end = read_ndjson(out)[-1]
        assert proxy.back.wait(5)
        again = run_cli([*argv, "--resume"])

    assert first == 3
    assert gave_up_first  # it gave up after outage_wait, not after the outage
    assert first_end["complete"] is False
    assert [e["error"]["code"] for e in first_end["discoveryErrors"]] == ["EndpointUnreachable"]
    assert again == 0
    crawled = Crawled.of(read_ndjson(out))
    assert_matches_truth(crawled, emulator.backend.truth_records())
    assert crawled.end[-1]["complete"] is True
