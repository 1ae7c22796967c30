"""Failures that say what is wrong (issue 16, item 3): an endpoint that never answers costs seconds,
not minutes, and ends with one last line naming it, the cause, the attempts and the time — no empty
audit tables; retries are warnings that say which attempt, why and the next delay; the summary's
problems name each failed target and listing; a rate cut is debug, a refused credential an error, and
a debug request line names its service and function."""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
import pytest

from crawler.app.commands import EXIT_INCOMPLETE, EXIT_USAGE
from crawler.emulator.server import EmulatorThread
from tests.support.crawl_support import clean_env, run_cli, target_args, use_emulator_keys
from tests.support.hostile.silent import SilentPort, closed_port

ACCOUNT = "1234567890123456"
LAST_LINE = re.compile(
    r"fcaudit: error: cannot reach (?P<endpoint>\S+) "
    r"\((?P<cause>.+), (?P<n>\d+) attempts? in (?P<t>[\d.]+) s\)"
)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    clean_env(monkeypatch, home)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIunreachable0")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-a-real-secret")


def json_logs(err: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_an_endpoint_that_accepts_and_never_answers_costs_seconds(
    keys: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: six read timeouts of 10 s (64 s measured) and ~50 lines of all-zero tables."""
    summary = tmp_path / "summary.json"
    with SilentPort() as port:
        argv = ["crawl", "--endpoint", port.endpoint, "--account", ACCOUNT, "--region", "cn-hangzhou"]
        argv += ["-o", str(tmp_path / "out.ndjson"), "--summary", str(summary), "--log-format", "json"]
        started = time.monotonic()
        code = run_cli([*argv, "--unreachable-after", "1.5", "--connect-timeout", "1"])
        took = time.monotonic() - started
    assert code == EXIT_INCOMPLETE
    assert 1.4 <= took < 8, took  # the give-up time, loosely: seconds, not minutes
    out, err = capsys.readouterr()
    last = err.rstrip("\n").splitlines()[-1]
    match = LAST_LINE.fullmatch(last)
    assert match is not None, last
    assert match["endpoint"] == port.endpoint
    assert "unreachable_after (1.5 s)" in match["cause"]
    assert int(match["n"]) >= 1
    assert 1.4 <= float(match["t"]) < 8
    assert "Overview" not in out + err  # no empty audit tables
    # the summary file is still written, and its problems name the target and the listing
    problems = orjson.loads(summary.read_bytes())["problems"]
    named = [
        p["message"] for p in problems["items"] if "ListServices (the whole target) failed" in p["message"]
    ]
    assert named, problems
    assert f"account {ACCOUNT} region cn-hangzhou" in named[0]
    assert "EndpointUnreachable" in named[0]


def test_the_give_up_time_and_connect_timeout_come_from_the_config_file_too(
    keys: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same names everywhere: ``[crawl] unreachable_after``, ``connect_timeout``. With a read
    timeout shorter than the give-up time the attempts before it are retried, each retry a warning that
    says which attempt, why and when the next one goes."""
    config = tmp_path / "fcaudit.toml"
    config.write_text('[crawl]\nunreachable_after = "2s"\nconnect_timeout = 1\nread_timeout = 0.4\n')
    with SilentPort() as port:
        argv = ["crawl", "--endpoint", port.endpoint, "--account", ACCOUNT, "--region", "cn-hangzhou"]
        started = time.monotonic()
        code = run_cli([*argv, "--config", str(config), "-o", "/dev/null", "--log-format", "json"])
        took = time.monotonic() - started
    assert code == EXIT_INCOMPLETE
    assert 1.9 <= took < 8, took
    err = capsys.readouterr().err
    retries = [e for e in json_logs(err) if e["event"] == "retry.scheduled"]
    assert retries, err
    first = retries[0]
    assert first["level"] == "warning"
    assert first["attempt"] == 1
    assert "read_timeout (0.4 s)" in str(first["cause"])
    assert isinstance(first["next_delay"], float)
    assert first["endpoint"] == port.endpoint
    match = LAST_LINE.fullmatch(err.rstrip("\n").splitlines()[-1])
    assert match is not None
    assert int(match["n"]) == len(retries) + 1  # every attempt counted
    assert "read_timeout (0.4 s)" in match["cause"]  # what the attempts ran into


def test_a_refused_connection_names_its_cause(keys: None, capsys: pytest.CaptureFixture[str]) -> None:
    endpoint = closed_port()
    argv = [
        "crawl",
        "--endpoint",
        endpoint,
        "--account",
        ACCOUNT,
        "--region",
        "cn-hangzhou",
        "-o",
        "/dev/null",
    ]
    started = time.monotonic()
    assert run_cli([*argv, "--unreachable-after", "1", "-q"]) == EXIT_INCOMPLETE
    assert time.monotonic() - started < 8
    match = LAST_LINE.fullmatch(capsys.readouterr().err.rstrip("\n").splitlines()[-1])
    assert match is not None
    assert "Connection refused" in match["cause"] or "cannot connect" in match["cause"]


def test_a_refused_credential_is_an_error_and_debug_lines_name_service_and_function(
    emulator: EmulatorThread, keys: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    assert run_cli(["crawl", *target_args(emulator), "-o", "/dev/null", "--log-format", "json", "-v"]) == 0
    requests = [e for e in json_logs(capsys.readouterr().err) if e["event"] == "client.request"]
    listed = [e for e in requests if e["route"] == "ListFunctionAsyncInvokeConfigs"]
    assert listed
    assert all(e.get("service") and e.get("function") for e in listed)
    assert all(e.get("service") and "function" not in e for e in requests if e["route"] == "ListFunctions")

    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "the-wrong-secret")
    assert run_cli(["crawl", *target_args(emulator), "-o", "/dev/null", "--log-format", "json"]) == EXIT_USAGE
    refused = [e for e in json_logs(capsys.readouterr().err) if e["event"] == "crawl.target_refused"]
    assert [e["level"] for e in refused] == ["error"]
