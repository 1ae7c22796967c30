"""Crash, resume and clean shutdown, end to end: a killed or interrupted crawl is finished by ``--resume``
with exactly the records an uninterrupted crawl writes, each function once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig, FaultKind
from crawler.emulator.server import EmulatorThread
from crawler.store.writer import scan_for_resume
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

RESUME_ACCOUNT = AccountSpec(seed=21, services=6, functions=150, big_functions=2)
#: slow enough that a subprocess can be stopped in the middle of its crawl: at 2 requests in flight the
#: crawl takes about 3 s, while the writer flushes every second (a kill at 60 functions must beat the end)
SLOW = FaultConfig(seed=1, latency_ms=30.0, jitter_ms=10.0)


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def crawl_argv(emulator: EmulatorThread, out: Path, *extra: str) -> list[str]:
    return ["crawl", *target_args(emulator), "-o", str(out), "-q", *extra]


#: a fixed ceiling starts at full pace (no slow start): quick runs where pacing is not under test
FAST = ("--rate", "3000")


def function_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b'"type":"function"')
    except FileNotFoundError:
        return 0


def assert_one_complete_run(path: Path, emulator: EmulatorThread) -> None:
    records = read_ndjson(path)
    crawled = Crawled.of(records)
    assert_matches_truth(crawled, emulator.backend.truth_records())
    assert [r["phase"] for r in records if r["type"] == "run"] == ["start", "end"]
    assert crawled.end[0]["complete"] is True


@pytest.mark.parametrize("cut", ["after-start", "torn-line", "after-a-function", "half"])
def test_resume_finishes_a_file_cut_anywhere(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cut: str
) -> None:
    emulator = emulator_factory(RESUME_ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    assert run_cli(crawl_argv(emulator, out, *FAST)) == 0
    data = out.read_bytes()
    lines = data.splitlines(keepends=True)
    if cut == "after-start":
        kept = lines[0]
    elif cut == "torn-line":
        kept = b"".join(lines[: len(lines) // 3]) + lines[len(lines) // 3][:17]
    elif cut == "after-a-function":
        n = max(i for i, line in enumerate(lines[: len(lines) // 2]) if b'"type":"function"' in line)
        kept = b"".join(lines[: n + 1])
    else:
        kept = data[: len(data) // 2]
    out.write_bytes(kept)
    requests_before = emulator.stats()["requests"]

    assert run_cli(crawl_argv(emulator, out, "--resume", *FAST)) == 0

    assert_one_complete_run(out, emulator)
    if cut == "after-a-function":
        resumed_requests = emulator.stats()["requests"] - requests_before
        assert resumed_requests < requests_before  # the finished functions were not fetched again


def test_resume_refuses_a_file_from_another_crawl(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory(RESUME_ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    first = emulator.backend.service_names()[0]
    assert run_cli(crawl_argv(emulator, out, "--service", first, *FAST)) == 0
    out.write_bytes(out.read_bytes().splitlines(keepends=True)[0])
    capsys.readouterr()

    assert run_cli(crawl_argv(emulator, out, "--resume", *FAST)) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--force-resume" in err[0]
    assert run_cli(crawl_argv(emulator, out, "--resume", "--force-resume", *FAST)) == 0


def spawn_crawl(emulator: EmulatorThread, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    """``fcaudit crawl`` in a child process (stderr to a file beside the output, for a failing test)."""
    argv = [sys.executable, "-m", "crawler", *crawl_argv(emulator, out, "--concurrency", "2", *extra)]
    with open(out.with_suffix(".stderr"), "wb") as stderr:
        return subprocess.Popen(argv, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=stderr)


def wait_for_functions(proc: subprocess.Popen[bytes], out: Path, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while function_lines(out) < count:
        if proc.poll() is not None:
            pytest.fail(f"the crawl ended early: {out.with_suffix('.stderr').read_text()}")
        if time.monotonic() > deadline:
            pytest.fail("the crawl wrote too little in time")
        time.sleep(0.05)


@pytest.mark.parametrize("written", [1, 60])
def test_resume_after_sigkill(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    written: int,
) -> None:
    emulator = emulator_factory(RESUME_ACCOUNT, SLOW)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    proc = spawn_crawl(emulator, out)
    try:
        wait_for_functions(proc, out, written)
    finally:
        proc.kill()
        proc.wait()
    assert function_lines(out) < RESUME_ACCOUNT.functions  # killed before the end

    assert run_cli(crawl_argv(emulator, out, "--resume", "--concurrency", "16", *FAST)) == 0

    assert_one_complete_run(out, emulator)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_cleanly_and_the_file_resumes(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    signum: signal.Signals,
    code: int,
) -> None:
    emulator = emulator_factory(RESUME_ACCOUNT, SLOW)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    proc = spawn_crawl(emulator, out)
    try:
        wait_for_functions(proc, out, 10)
        proc.send_signal(signum)
        assert proc.wait(timeout=20) == code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = read_ndjson(out)  # every line whole: nothing torn by a clean stop
    end = records[-1]
    assert (end["type"], end["phase"], end["complete"]) == ("run", "end", False)
    assert end["interrupted"] == signum.name
    stopped = Crawled.of(records)
    assert len(stopped.functions) < 150

    assert run_cli(crawl_argv(emulator, out, "--resume", "--concurrency", "16", *FAST)) == 0

    assert_one_complete_run(out, emulator)


STALLED = FaultConfig(seed=2, rates={FaultKind.STALL: 1.0}, stall_seconds=60.0)


def spawn_stalled_crawl(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, out: Path, grace: str
) -> subprocess.Popen[bytes]:
    """Workers whose every request hangs for a minute (longer than the read timeout of 30 s).

    Pairs come from a targets file: a signal cancels discovery at once (it writes nothing), so only a
    worker's request in flight is what the grace period is about."""
    emulator = emulator_factory(RESUME_ACCOUNT, STALLED)
    use_emulator_keys(monkeypatch, emulator)
    service = emulator.backend.service_names()[0]
    targets = out.with_suffix(".targets")
    targets.write_text("".join(f"{service}/{fn}\n" for fn in emulator.backend.function_names(service)))
    proc = spawn_crawl(emulator, out, "--grace", grace, "--targets", str(targets))
    deadline = time.monotonic() + 30
    while emulator.stats()["requests"] < 1:  # a request is in flight (and hanging)
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the crawl did not start: {out.with_suffix('.stderr').read_text()}")
        time.sleep(0.05)
    time.sleep(0.2)  # let it settle into the hanging request
    return proc


def assert_stopped_whole(out: Path) -> None:
    records = read_ndjson(out)  # every line parses: nothing torn
    end = records[-1]
    assert (end["type"], end["phase"], end["complete"], end["interrupted"]) == ("run", "end", False, "SIGINT")
    state = scan_for_resume(out)
    assert state is not None  # and the file can be resumed


def test_in_flight_requests_are_cancelled_after_the_grace_period(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "out.ndjson"
    proc = spawn_stalled_crawl(emulator_factory, monkeypatch, out, grace="0.5")
    try:
        proc.send_signal(signal.SIGINT)
        # the hanging request would hold the crawl for 30 s (read timeout); the grace ends it first
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_stopped_whole(out)


def test_a_second_sigint_stops_at_once(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "out.ndjson"
    proc = spawn_stalled_crawl(emulator_factory, monkeypatch, out, grace="300")
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert proc.poll() is None  # the first one waits for the request in flight (grace 300 s)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_stopped_whole(out)
