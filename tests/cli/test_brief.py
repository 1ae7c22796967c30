"""``--brief`` (issue 16, item 4): the verdict, the headline figures and the top findings in at most 25
lines of at most 80 columns, with where the full report is; the demo prints it by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.emulator.server import EmulatorThread
from crawler.report.render import BRIEF_LINES
from tests.support.crawl_support import clean_env, run_cli, target_args, use_emulator_keys
from tests.support.fixtures import EmulatorFactory


def test_crawl_brief_is_at_most_25_lines_and_names_the_full_report(
    emulator: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env(monkeypatch, tmp_path)
    use_emulator_keys(monkeypatch, emulator)
    monkeypatch.setenv("COLUMNS", "80")
    report = tmp_path / "report.html"
    argv = ["crawl", *target_args(emulator), "-o", str(tmp_path / "o.ndjson"), "--report", str(report), "-q"]
    assert run_cli([*argv, "--brief"]) == 0
    printed = capsys.readouterr().out.rstrip("\n").splitlines()
    assert 4 <= len(printed) <= BRIEF_LINES == 25
    assert max(len(line) for line in printed[:-1]) <= 80  # all but the path
    assert printed[0].startswith("fcaudit: ")  # the verdict first
    assert "functions" in printed[1]
    assert "findings " in "\n".join(printed)
    assert printed[-1] == f"full report: {report}"
    assert "Overview" not in "\n".join(printed)  # not the full table


def test_summarize_brief_points_at_the_full_table(
    emulator: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env(monkeypatch, tmp_path)
    use_emulator_keys(monkeypatch, emulator)
    records = tmp_path / "o.ndjson"
    assert run_cli(["crawl", *target_args(emulator), "-o", str(records), "-q", "--format", "json"]) == 0
    capsys.readouterr()
    assert run_cli(["summarize", str(records), "--brief", "--width", "80", "--fail-on", "high"]) == 1
    printed = capsys.readouterr().out.rstrip("\n").splitlines()
    assert len(printed) <= 25
    assert printed[0] == "fcaudit: FAIL: findings at or above high (--fail-on)"
    assert printed[-1] == f"full report: fcaudit summarize {records}"
    assert any(line.startswith("top ") and "findings, most severe first" in line for line in printed)


def test_brief_is_a_table_not_json(
    emulator: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env(monkeypatch, tmp_path)
    use_emulator_keys(monkeypatch, emulator)
    assert run_cli(["crawl", *target_args(emulator), "-o", "/dev/null", "--brief", "--format", "json"]) == 2
    assert "--brief" in capsys.readouterr().err


def test_the_demo_prints_the_brief_by_default_with_the_report_path(
    emulator_factory: EmulatorFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out_dir = tmp_path / "demo"
    assert run_cli(["demo", "--functions", "200", "--seed", "4", "--output-dir", str(out_dir)]) == 0
    printed = capsys.readouterr().out.rstrip("\n").splitlines()
    assert len(printed) <= 25
    brief = printed[: next(i for i, line in enumerate(printed) if line.startswith("full report:"))]
    assert max(len(line) for line in brief) <= 80  # the demo's first line and the brief
    assert f"full report: {out_dir / 'report.html'} (open it in a browser)" in printed
    assert "Overview" not in "\n".join(printed)
    assert run_cli(["demo", "--functions", "200", "--seed", "4", "--output-dir", str(out_dir), "--full"]) == 0
    assert "Overview" in capsys.readouterr().out  # --full: the whole table
