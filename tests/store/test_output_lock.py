"""One writer per output file: a second run on a locked output refuses at once (exit 2, one line naming
the holder's pid), the holder's file ends complete and exact, and the lock never outlives its run — not
after an error, not after ``kill -9`` (a stale sidecar is taken over: the lock decides, not the file)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig
from crawler.emulator.server import EmulatorThread
from crawler.errors import OutputError
from crawler.store.output_lock import lock_output, lock_path
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

ACCOUNT = AccountSpec(seed=21, services=6, functions=150, big_functions=2)
#: slow enough that a second run starts while the first is still crawling
SLOW = FaultConfig(seed=1, latency_ms=20.0, jitter_ms=10.0)
FAST = ("--rate", "3000")


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def crawl_argv(emulator: EmulatorThread, out: Path, *extra: str) -> list[str]:
    return ["crawl", *target_args(emulator), "-o", str(out), "-q", *extra]


def function_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b'"type":"function"')
    except FileNotFoundError:
        return 0


def spawn(emulator: EmulatorThread, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "crawler", *crawl_argv(emulator, out, "--concurrency", "4", *extra)]
    with open(out.with_suffix(".stderr"), "wb") as stderr:
        return subprocess.Popen(argv, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=stderr)


def wait_for_growth(proc: subprocess.Popen[bytes], out: Path, count: int) -> None:
    deadline = time.monotonic() + 30
    while function_lines(out) < count:
        if proc.poll() is not None:
            pytest.fail(f"the crawl ended early: {out.with_suffix('.stderr').read_text()}")
        if time.monotonic() > deadline:
            pytest.fail("the crawl wrote too little in time")
        time.sleep(0.02)


def assert_one_complete_run(path: Path, emulator: EmulatorThread) -> None:
    records = read_ndjson(path)  # every line parses
    crawled = Crawled.of(records)
    assert_matches_truth(crawled, emulator.backend.truth_records())
    assert [r["phase"] for r in records if r["type"] == "run"] == ["start", "end"]
    assert crawled.end[0]["complete"] is True


def half_a_crawl(emulator: EmulatorThread, out: Path) -> int:
    """A whole crawl cut in the middle (a torn line included): what a killed cron run leaves."""
    assert run_cli(crawl_argv(emulator, out, *FAST)) == 0
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return function_lines(out)


def test_a_second_resume_on_the_same_output_refuses_naming_the_first(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory(ACCOUNT, SLOW)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    kept = half_a_crawl(emulator, out)
    first = spawn(emulator, out, "--resume")
    try:
        wait_for_growth(first, out, kept + 3)  # the first resume is writing
        capsys.readouterr()

        assert run_cli(crawl_argv(emulator, out, "--resume", *FAST)) == 2

        err = capsys.readouterr().err.strip().splitlines()
        assert first.poll() is None, (
            "the first run ended before the second was refused: the test proves nothing"
        )
        assert len(err) == 1
        assert f"pid {first.pid}" in err[0]
        assert str(out) in err[0]
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert_one_complete_run(out, emulator)  # no bad line, no function twice, none lost
    assert not lock_path(out).exists()  # released (and removed) when the run ended


def test_a_sidecar_left_by_kill_9_does_not_block_the_next_run(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT, SLOW)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    proc = spawn(emulator, out)
    try:
        wait_for_growth(proc, out, 5)
    finally:
        proc.kill()
        proc.wait()
    sidecar = lock_path(out)
    assert sidecar.read_text().strip() == str(proc.pid)  # stale: its process is gone, its lock with it

    assert run_cli(crawl_argv(emulator, out, "--resume", "--concurrency", "16", *FAST)) == 0

    assert_one_complete_run(out, emulator)
    assert not sidecar.exists()


def test_the_lock_is_released_when_the_run_fails(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory()
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    out.write_bytes(b"not an fcaudit file\n")

    assert run_cli(crawl_argv(emulator, out, "--resume", *FAST)) == 2  # refused after taking the lock

    assert "cannot resume from" in capsys.readouterr().err
    assert not lock_path(out).exists()
    with lock_output(out, "--output"):  # nobody holds it
        pass
    assert run_cli(crawl_argv(emulator, out, *FAST)) == 0


def test_a_held_lock_refuses_crawl_shard_and_merge_outputs(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory()
    use_emulator_keys(monkeypatch, emulator)
    shards = [tmp_path / f"shard-{k}.ndjson" for k in range(2)]
    for k, shard in enumerate(shards):
        assert run_cli(crawl_argv(emulator, shard, "--shard", f"{k}/2", *FAST)) == 0
    merged = tmp_path / "merged.ndjson"
    before = shards[0].read_bytes()
    capsys.readouterr()

    with lock_output(shards[0], "--output"):  # as if another run were writing shard 0 (this process)
        assert run_cli(crawl_argv(emulator, shards[0], "--shard", "0/2", "--resume", *FAST)) == 2
        assert f"pid {os.getpid()}" in capsys.readouterr().err
    assert shards[0].read_bytes() == before
    with lock_output(merged, "the merged file"):
        assert run_cli(["merge", "-o", str(merged), *map(str, shards)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert f"pid {os.getpid()}" in err[0]
    assert not merged.exists()

    assert run_cli(["merge", "-o", str(merged), *map(str, shards)]) == 0
    assert not lock_path(merged).exists()


def test_lock_output_takes_over_a_stale_sidecar_and_refuses_a_held_one(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    lock_path(out).write_text("999999999\n")  # a dead run's sidecar
    with lock_output(out, "--output") as held:
        assert held.held
        assert lock_path(out).read_text() == f"{os.getpid()}\n"
        with pytest.raises(OutputError, match=f"pid {os.getpid()}"):
            lock_output(out, "--output")
    assert not lock_path(out).exists()
    special = lock_output(Path(os.devnull), "--output")  # /dev/null: nothing to guard, no sidecar in /dev
    assert not special.held
    with pytest.raises(OutputError, match=r"--output .*out.ndjson: directory .*missing does not exist"):
        lock_output(tmp_path / "missing" / "out.ndjson", "--output")
