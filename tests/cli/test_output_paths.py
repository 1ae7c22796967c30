"""Inputs are never destroyed: an output that is an input (or another output) — by name, through a
symbolic link or as a hard link — is refused before anything is opened; an output that is a symbolic
link is refused unless ``--follow-symlinks``; replacing a file keeps its mode. On every command that
writes files: crawl, summarize, merge, demo."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crawler.app.output_paths import check_files
from crawler.emulator.server import EmulatorThread
from crawler.store.atomic_file import same_file
from tests.support.crawl_support import (
    Crawled,
    isolated_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)
from tests.support.fixtures import EmulatorFactory

FAST = ("--rate", "3000", "-q")


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


@pytest.fixture
def emu(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> EmulatorThread:
    emulator = emulator_factory()
    use_emulator_keys(monkeypatch, emulator)
    return emulator


def crawl(emu: EmulatorThread, *extra: str) -> int:
    return run_cli(["crawl", *target_args(emu), *FAST, *extra])


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def another_name(how: str, original: Path, alias: Path) -> Path:
    """A second name for ``original``: the same path, a symbolic link, or a hard link at ``alias``."""
    if how == "symlink":
        alias.symlink_to(original)
    elif how == "hardlink":
        alias.hardlink_to(original)
    else:
        return original
    return alias


@pytest.fixture
def inputs(emu: EmulatorThread, tmp_path: Path) -> dict[str, Path]:
    """A --config, a --targets and a --baseline file, each one a crawl could read."""
    config = tmp_path / "ci.toml"
    config.write_text('[crawl]\nconcurrency = 4\n[audit]\nfail_on = "none"\n', encoding="utf-8")
    targets = tmp_path / "pairs.txt"
    service = emu.backend.service_names()[0]
    targets.write_text("".join(f"{service}/{fn}\n" for fn in emu.backend.function_names(service)))
    baseline = tmp_path / "last-night.ndjson"
    assert crawl(emu, "-o", str(baseline)) == 0
    return {"--config": config, "--targets": targets, "--baseline": baseline}


@pytest.mark.parametrize("alias", ["same-path", "symlink", "hardlink"])
@pytest.mark.parametrize("flag", ["--config", "--targets", "--baseline"])
@pytest.mark.parametrize("output", ["--output", "--summary", "--metrics"])
def test_crawl_refuses_to_write_over_an_input(
    emu: EmulatorThread,
    inputs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    alias: str,
    output: str,
) -> None:
    original = inputs[flag]
    before = original.read_bytes()
    target = another_name(alias, original, tmp_path / f"alias{original.suffix}")
    requests = emu.stats()["requests"]
    capsys.readouterr()

    assert crawl(emu, flag, str(original), output, str(target)) == 2

    line = one_line(capsys)
    assert f"{output} {target} is the same file as {flag} {original}" in line
    assert original.read_bytes() == before  # untouched
    assert emu.stats()["requests"] == requests  # refused before the first request


def test_outputs_must_be_different_files(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "audit.out"
    assert (
        crawl(emu, "-o", str(tmp_path / "o.ndjson"), "--summary", str(report), "--findings", str(report)) == 2
    )
    assert "--findings" in one_line(capsys)
    assert not report.exists()
    record = tmp_path / "o.ndjson"
    assert crawl(emu, "-o", str(record), "--report", str(tmp_path / "." / "o.ndjson")) == 2
    assert "--report" in one_line(capsys)
    assert not record.exists()


def test_crawl_does_not_write_through_a_symlinked_output_unless_asked(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "out.ndjson"
    link.symlink_to(victim)

    assert crawl(emu, "-o", str(link)) == 2

    line = one_line(capsys)
    assert "symbolic link" in line
    assert "--follow-symlinks" in line
    assert victim.read_text() == "keep me\n"
    assert link.is_symlink()

    assert crawl(emu, "-o", str(link), "--follow-symlinks") == 0  # asked: the link's target is written

    assert link.is_symlink()
    assert Crawled.of(read_ndjson(victim)).end[0]["complete"] is True


def test_atomic_outputs_refuse_a_symlink_too_and_follow_it_when_asked(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "real-summary.json"
    target.write_text("{}")
    link = tmp_path / "summary.json"
    link.symlink_to(target)

    assert crawl(emu, "-o", str(tmp_path / "o.ndjson"), "--summary", str(link)) == 2
    assert "--summary" in one_line(capsys)
    assert link.is_symlink()

    assert crawl(emu, "-o", str(tmp_path / "o.ndjson"), "--summary", str(link), "--follow-symlinks") == 0
    assert link.is_symlink()  # the link stays; its target was replaced
    assert '"schemaVersion"' in target.read_text()


def test_a_special_file_is_written_through(emu: EmulatorThread) -> None:
    assert crawl(emu, "-o", os.devnull) == 0  # /dev/null: nothing there to destroy, nothing to lock


@pytest.mark.parametrize("flag", ["--summary", "--findings", "--report", "--metrics"])
def test_crawl_keeps_the_mode_of_a_replaced_file(emu: EmulatorThread, tmp_path: Path, flag: str) -> None:
    path = tmp_path / "private.out"
    path.write_text("old\n")
    path.chmod(0o600)

    assert crawl(emu, "-o", str(tmp_path / "o.ndjson"), flag, str(path)) == 0

    assert path.read_text() != "old\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_resume_and_restart_keep_the_outputs_mode(emu: EmulatorThread, tmp_path: Path) -> None:
    out = tmp_path / "o.ndjson"
    out.write_text("")
    out.chmod(0o640)
    assert crawl(emu, "-o", str(out)) == 0
    assert crawl(emu, "-o", str(out), "--resume") == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_summarize_protects_its_input_and_keeps_modes(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.ndjson"
    assert crawl(emu, "-o", str(run)) == 0
    before = run.read_bytes()
    twin = tmp_path / "twin.ndjson"
    twin.hardlink_to(run)
    capsys.readouterr()

    for flag in ("--summary", "--findings", "--metrics"):
        assert run_cli(["summarize", str(run), flag, str(twin)]) == 2
        assert f"{flag} {twin} is the same file as the input {run}" in one_line(capsys)
    assert run.read_bytes() == before
    cfg = tmp_path / "audit.toml"
    cfg.write_text('[audit]\nfail_on = "none"\n')
    assert run_cli(["summarize", str(run), "--config", str(cfg), "--summary", str(cfg)]) == 2
    assert "--config" in one_line(capsys)
    assert cfg.read_text() == '[audit]\nfail_on = "none"\n'

    summary = tmp_path / "summary.json"
    summary.write_text("{}")
    summary.chmod(0o600)
    assert run_cli(["summarize", str(run), "--summary", str(summary)]) == 0
    assert stat.S_IMODE(summary.stat().st_mode) == 0o600
    assert '"schemaVersion"' in summary.read_text()


def test_merge_protects_the_shards_and_keeps_modes(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shards = [tmp_path / f"shard-{k}.ndjson" for k in range(2)]
    for k, shard in enumerate(shards):
        assert crawl(emu, "--shard", f"{k}/2", "-o", str(shard)) == 0
    before = shards[0].read_bytes()
    merged = tmp_path / "merged.ndjson"
    capsys.readouterr()

    assert run_cli(["merge", "-o", str(merged), *map(str, shards), "--summary", str(shards[0])]) == 2
    assert f"--summary {shards[0]} is the same file as the shard file {shards[0]}" in one_line(capsys)
    assert shards[0].read_bytes() == before
    assert not merged.exists()

    merged.write_text("")
    merged.chmod(0o600)
    assert run_cli(["merge", "-o", str(merged), *map(str, shards)]) == 0
    assert stat.S_IMODE(merged.stat().st_mode) == 0o600
    capsys.readouterr()
    link = tmp_path / "link.ndjson"
    link.symlink_to(merged)
    assert run_cli(["merge", "-o", str(link), *map(str, shards)]) == 2
    assert "symbolic link" in one_line(capsys)


def test_demo_refuses_a_symlinked_file_in_its_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "precious.md"
    victim.write_text("keep me\n")
    out_dir = tmp_path / "demo"
    out_dir.mkdir()
    (out_dir / "summary.json").symlink_to(victim)

    assert run_cli(["demo", "--functions", "20", "--output-dir", str(out_dir), "-q"]) == 2

    assert "summary.json is a symbolic link" in one_line(capsys)
    assert victim.read_text() == "keep me\n"
    assert not (out_dir / "configs.ndjson").exists()  # refused before anything was written


def test_check_files_compares_resolved_paths_and_inodes(tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.write_text("x")
    (tmp_path / "sub").mkdir()
    assert same_file(a, tmp_path / "sub" / ".." / "a")
    assert same_file(tmp_path / "new", tmp_path / "." / "new")  # neither exists yet: the same path
    assert not same_file(a, tmp_path / "b")
    assert check_files(
        [("--config", None)], [("--output", a), ("--summary", None)], follow_symlinks=False
    ) == {"--output": a}
