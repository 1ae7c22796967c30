"""The CI gate, on every command that audits: ``--fail-on``, else the config file's ``[audit] fail_on``,
else never. The small emulator account has high findings, so a config saying ``fail_on = "high"`` must
turn a complete crawl (and its merge, and its summary) into exit 1, and ``--fail-on none`` back into 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.audit.policy import resolve_fail_on
from crawler.audit.rules import Severity, default_policy, policy_from_table
from crawler.emulator.server import EmulatorThread
from tests.support.crawl_support import isolated_env, run_cli, target_args, use_emulator_keys
from tests.support.fixtures import EmulatorFactory

FAST = ("--rate", "3000", "-q")


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


@pytest.fixture
def emu(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> EmulatorThread:
    emulator = emulator_factory()
    use_emulator_keys(monkeypatch, emulator)
    return emulator


@pytest.fixture
def high_config(tmp_path: Path) -> Path:
    path = tmp_path / "ci.toml"
    path.write_text('[audit]\nfail_on = "high"\n', encoding="utf-8")
    return path


def test_resolve_fail_on_is_the_flag_else_the_file_else_never() -> None:
    file_high = policy_from_table({"fail_on": "high"}, today=default_policy().today)
    assert resolve_fail_on(None, file_high) is Severity.HIGH
    assert resolve_fail_on("low", file_high) is Severity.LOW
    assert resolve_fail_on("none", file_high) is None
    assert resolve_fail_on(None, default_policy()) is None
    assert resolve_fail_on("info", default_policy()) is Severity.INFO


@pytest.mark.parametrize(("extra", "code"), [((), 1), (("--fail-on", "none"), 0), (("--fail-on", "high"), 1)])
def test_crawl_honours_the_config_files_fail_on(
    emu: EmulatorThread, tmp_path: Path, high_config: Path, extra: tuple[str, ...], code: int
) -> None:
    out = tmp_path / "out.ndjson"
    assert run_cli(["crawl", *target_args(emu), "-o", str(out), *FAST]) == 0  # no gate without one
    argv = ["crawl", *target_args(emu), "-o", str(out), "--config", str(high_config), *FAST, *extra]
    assert run_cli(argv) == code


def test_merge_honours_the_config_files_fail_on(
    emu: EmulatorThread, tmp_path: Path, high_config: Path
) -> None:
    shards = [tmp_path / f"shard-{k}.ndjson" for k in range(2)]
    for k, shard in enumerate(shards):
        assert run_cli(["crawl", *target_args(emu), "--shard", f"{k}/2", "-o", str(shard), *FAST]) == 0
    merged = tmp_path / "merged.ndjson"
    assert run_cli(["merge", "-o", str(merged), *map(str, shards)]) == 0
    assert run_cli(["merge", "-o", str(merged), *map(str, shards), "--config", str(high_config)]) == 1
    assert (
        run_cli(
            ["merge", "-o", str(merged), *map(str, shards), "--config", str(high_config), "--fail-on", "none"]
        )
        == 0
    )
    assert run_cli(["merge", "-o", str(merged), *map(str, shards), "--fail-on", "high"]) == 1


def test_summarize_honours_the_config_files_fail_on(
    emu: EmulatorThread, tmp_path: Path, high_config: Path
) -> None:
    out = tmp_path / "out.ndjson"
    assert run_cli(["crawl", *target_args(emu), "-o", str(out), *FAST]) == 0
    assert run_cli(["summarize", str(out)]) == 0
    assert run_cli(["summarize", str(out), "--config", str(high_config)]) == 1
    assert run_cli(["summarize", str(out), "--config", str(high_config), "--fail-on", "none"]) == 0


def test_diff_honours_the_config_files_fail_on_for_the_later_crawl(
    emu: EmulatorThread, tmp_path: Path, high_config: Path
) -> None:
    old, new = tmp_path / "old.ndjson", tmp_path / "new.ndjson"
    for out in (old, new):
        assert run_cli(["crawl", *target_args(emu), "-o", str(out), *FAST]) == 0
    assert run_cli(["diff", str(old), str(new)]) == 0
    assert run_cli(["diff", str(old), str(new), "--config", str(high_config)]) == 1
    assert run_cli(["diff", str(old), str(new), "--config", str(high_config), "--fail-on", "none"]) == 0
    assert run_cli(["diff", str(old), str(new), "--fail-on", "high"]) == 1


@pytest.mark.parametrize("command", ["crawl", "summarize", "merge", "diff"])
def test_every_command_reads_the_config_file_one_way(
    emu: EmulatorThread, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # a typo outside [audit] is refused by every command, as crawl always did (the others read only
    # [audit] before, and ran on with a file crawl would refuse)
    out = tmp_path / "out.ndjson"
    assert run_cli(["crawl", *target_args(emu), "-o", str(out), *FAST, "--shard", "0/1"]) == 0
    typo = tmp_path / "typo.toml"
    typo.write_text('[audit]\nfail_on = "high"\n\n[crawl]\nconcurency = 4\n', encoding="utf-8")
    argv = {
        "crawl": ["crawl", *target_args(emu), "-o", str(tmp_path / "again.ndjson"), *FAST],
        "summarize": ["summarize", str(out)],
        "merge": ["merge", "-o", str(tmp_path / "merged.ndjson"), str(out)],
        "diff": ["diff", str(out), str(out)],
    }[command]
    capsys.readouterr()
    assert run_cli([*argv, "--config", str(typo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"config file {typo}" in err
    assert "concurency" in err
    assert "concurrency" in err  # the hint
