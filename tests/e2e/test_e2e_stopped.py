"""After an interrupt fcaudit prints the counts and the exact command that resumes, not the audit of a
partial run (issue 16, item 3); the command it prints does resume the crawl to the end."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.emulator.faults import FaultConfig
from crawler.emulator.model import AccountSpec
from tests.support.crawl_support import read_ndjson, run_cli, target_args, use_emulator_keys
from tests.support.fixtures import EmulatorFactory

ACCOUNT = AccountSpec(seed=21, services=6, functions=150, big_functions=2)
SLOW = FaultConfig(seed=1, latency_ms=30.0, jitter_ms=10.0)


def functions_in(path: Path) -> int:
    try:
        return path.read_bytes().count(b'"type":"function"')
    except FileNotFoundError:
        return 0


def test_an_interrupted_crawl_prints_its_counts_and_the_command_that_resumes(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT, SLOW)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    argv = ["crawl", *target_args(emulator), "-o", str(out), "--concurrency", "2", "--format", "table"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", *argv],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while functions_in(out) < 10:
            assert proc.poll() is None, "the crawl ended early"
            assert time.monotonic() < deadline, "the crawl did not get going"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert b"Overview" not in stdout + stderr  # not the audit of a partial run
    lines = stderr.decode().rstrip("\n").splitlines()
    counts, how = lines[-2], lines[-1]
    assert counts.startswith("fcaudit: stopped by SIGINT after ")
    assert "functions done of" in counts
    prefix = f"fcaudit: the records in {out} are whole; to go on: "
    assert how.startswith(prefix), how
    command = shlex.split(how.removeprefix(prefix))
    assert command == ["fcaudit", *argv, "--resume"]  # exactly what was typed, plus --resume

    assert run_cli([*command[1:], "--rate", "3000", "-q"]) == 0  # and it does resume, to the end
    end = read_ndjson(out)[-1]
    assert (end["phase"], end["complete"]) == ("end", True)
