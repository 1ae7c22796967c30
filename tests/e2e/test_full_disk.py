"""A full disk anywhere is a clean stop (issue 12, part 9): on every output — the records (``--output``),
``--findings`` (written while the crawl runs), ``--summary``, ``--report``, ``--metrics``, merge's output,
summarize's outputs — fcaudit stops with one line naming the file, the cause and what to do, exit 2; no
temporary file is left; the NDJSON stays whole (every line parses) and ``--resume`` finishes it.

The disk is a small tmpfs, filled up, with a page or two left so a write fails part-way (the case that
used to leave temporary files). Where a test cannot mount one (no root, a container that forbids it),
the cases that can run in a child process under ``RLIMIT_FSIZE`` (SIGXFSZ ignored, so a write past the
limit fails with EFBIG) do so; the others skip.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.app.commands import EXIT_OK, EXIT_USAGE
from crawler.emulator.server import EmulatorThread
from tests.support.crawl_support import Crawled, assert_matches_truth, clean_env, run_cli, target_args

PAGE = 4096


@dataclass
class FullDisk:
    """A mounted tmpfs at ``path``, filled to the last byte by ``filler``."""

    path: Path

    @property
    def filler(self) -> Path:
        return self.path / "filler"

    def fill(self, leave: int = 0) -> None:
        """Fill the disk, then free ``leave`` bytes (whole pages)."""
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * PAGE)
            except OSError:
                pass
        size = self.filler.stat().st_size
        os.truncate(self.filler, max(0, size - size % PAGE - leave))

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def _mount(path: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[FullDisk | None]:
    """A small full tmpfs, or ``None`` where none can be mounted (the RLIMIT_FSIZE fallback)."""
    path = tmp_path / "full"
    if not _mount(path):
        yield None
        return
    try:
        yield FullDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def env(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> EmulatorThread:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    return emulator


def run_capturing(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = run_cli(argv)
    return code, capsys.readouterr().err.strip().splitlines()


def run_child(argv: list[str], fsize: int) -> tuple[int, list[str]]:
    """``fcaudit ARGV`` in a child process whose files may not grow past ``fsize`` bytes."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    done = subprocess.run(
        [sys.executable, "-m", "crawler", *argv], capture_output=True, preexec_fn=limit, timeout=60
    )
    return done.returncode, done.stderr.decode().strip().splitlines()


def temporary_files(*folders: Path) -> list[str]:
    return [p.name for folder in folders for p in folder.iterdir() if p.name.endswith(".tmp")]


def whole_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path``, each one a whole JSON object (no torn tail)."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), "the file ends in a torn line"
    return [orjson.loads(line) for line in data.splitlines()]


def assert_one_line(err: list[str], *words: str) -> None:
    assert len(err) == 1, err
    assert err[0].startswith("fcaudit: error: cannot write"), err
    assert "Traceback" not in err[0]
    for word in words:
        assert word in err[0], err


DISK_FULL_WORDS = ("No space left on device", "File too large")


def assert_disk_full(err: list[str], *words: str) -> None:
    assert_one_line(err, *words)
    assert any(cause in err[0] for cause in DISK_FULL_WORDS), err


# -- the crawl's records -------------------------------------------------------------------------------


def test_full_disk_under_the_records_stops_cleanly_and_resume_finishes(
    env: EmulatorThread, disk: FullDisk | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if disk is not None:
        out = disk.path / "out.ndjson"
        disk.fill(leave=2 * PAGE)
        code, err = run_capturing(["crawl", *target_args(env), "-o", str(out), "-qq"], capsys)
        disk.free()
    else:
        out = tmp_path / "out.ndjson"
        code, err = run_child(["crawl", *target_args(env), "-o", str(out), "-qq"], fsize=3 * PAGE)
    assert code == EXIT_USAGE
    assert_disk_full(err, str(out), "--resume")
    assert temporary_files(out.parent) == []
    before = whole_lines(out)
    assert before[0]["phase"] == "start"
    assert before[-1]["type"] == "function" or len(before) == 1  # the failed write was cut back off

    assert run_cli(["crawl", *target_args(env), "-o", str(out), "--resume", "-qq"]) == EXIT_OK
    assert_matches_truth(Crawled.of(whole_lines(out)), env.backend.truth_records())


def test_full_disk_under_findings_mid_crawl_stops_cleanly_and_resume_finishes(
    env: EmulatorThread, disk: FullDisk | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if disk is None:
        pytest.skip("needs a tmpfs: under RLIMIT_FSIZE the records, the biggest file, would fail first")
    out, findings = tmp_path / "out.ndjson", disk.path / "findings.ndjson"
    disk.fill(leave=PAGE)
    argv = ["crawl", *target_args(env), "-o", str(out), "--findings", str(findings), "-qq"]
    code, err = run_capturing(argv, capsys)
    assert code == EXIT_USAGE
    assert_disk_full(err, f"--findings {findings}", "--resume")
    assert temporary_files(disk.path, tmp_path) == []
    assert not findings.exists()
    records = whole_lines(out)
    assert records[-1]["phase"] == "end"
    assert records[-1]["complete"] is False
    assert records[-1]["aborted"]["code"] == "OutputError"  # the file says why it stopped

    disk.free()
    assert run_cli([*argv, "--resume"]) == EXIT_OK
    assert_matches_truth(Crawled.of(whole_lines(out)), env.backend.truth_records())
    assert findings.exists()


@pytest.mark.parametrize("flag", ["--summary", "--report", "--metrics"])
def test_full_disk_under_an_output_written_after_the_crawl(
    env: EmulatorThread,
    disk: FullDisk | None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
) -> None:
    out = tmp_path / "out.ndjson"
    if disk is None:  # the records go down a pipe, not subject to the limit; the output is the big file
        target = tmp_path / "target"
        code, err = run_child(["crawl", *target_args(env), flag, str(target), "-qq"], fsize=PAGE)
        assert "Traceback" not in "\n".join(err)
        err = err[-1:]  # after the summary, which goes to stderr when the records take stdout
    else:
        target = disk.path / "target"
        disk.fill(leave=PAGE)  # one page: the write starts, then fails
        code, err = run_capturing(
            ["crawl", *target_args(env), "-o", str(out), flag, str(target), "-qq"], capsys
        )
    assert code == EXIT_USAGE
    assert_disk_full(err, f"{flag} {target}")
    assert temporary_files(target.parent) == []
    assert not target.exists()
    if disk is None:
        return
    assert f"fcaudit summarize {out}" in err[0]  # the records are whole: no need to crawl again
    assert "--resume" not in err[0]
    records = whole_lines(out)
    assert records[-1]["phase"] == "end"
    assert records[-1]["complete"] is True
    disk.free()
    assert (
        run_cli(["crawl", *target_args(env), "-o", str(out), flag, str(target), "--resume", "-qq"]) == EXIT_OK
    )
    assert target.stat().st_size > 0


# -- summarize and merge ---------------------------------------------------------------------------------


@pytest.fixture
def crawled(env: EmulatorThread, tmp_path: Path) -> Path:
    out = tmp_path / "crawled.ndjson"
    assert run_cli(["crawl", *target_args(env), "-o", str(out), "-qq"]) == EXIT_OK
    return out


@pytest.mark.parametrize("flag", ["--summary", "--findings", "--metrics"])
def test_full_disk_under_a_summarize_output(
    crawled: Path, disk: FullDisk | None, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    folder = disk.path if disk is not None else tmp_path
    target = folder / "target"
    argv = ["summarize", str(crawled), flag, str(target)]
    if disk is not None:
        disk.fill(leave=PAGE)
        capsys.readouterr()
        code, err = run_capturing(argv, capsys)
    else:
        code, err = run_child(argv, fsize=PAGE)
    assert code == EXIT_USAGE
    assert_disk_full(err, f"{flag} {target}")
    assert temporary_files(folder) == []
    assert not target.exists()


def test_full_disk_under_merge_output(
    env: EmulatorThread, disk: FullDisk | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shards = [tmp_path / f"shard{k}.ndjson" for k in range(2)]
    for k, shard in enumerate(shards):
        assert run_cli(["crawl", *target_args(env), "--shard", f"{k}/2", "-o", str(shard), "-qq"]) == EXIT_OK
    folder = disk.path if disk is not None else tmp_path
    merged = folder / "merged.ndjson"
    argv = ["merge", "-o", str(merged), *map(str, shards)]
    if disk is not None:
        disk.fill(leave=PAGE)
        capsys.readouterr()
        code, err = run_capturing(argv, capsys)
    else:
        code, err = run_child(argv, fsize=PAGE)
    assert code == EXIT_USAGE
    assert_disk_full(err, f"the merged file {merged}")
    assert temporary_files(folder) == []
    assert not merged.exists()
