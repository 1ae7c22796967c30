"""One output vocabulary on every command that audits (``crawler.app.outputs``): crawl, summarize, merge,
diff and demo each write ``--summary`` (JSON), ``--findings`` (NDJSON, every finding), ``--report`` (HTML)
and ``--metrics`` (Prometheus text) the same way — and all four describe the same audit as
``fcaudit summarize --format json`` of the records the command read or wrote.

One seeded emulator and its crawls (a whole one, two shards) are made once for the module; each test
runs one command with one output flag against them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.app.outputs import exit_code
from crawler.audit.policy import Severity
from crawler.audit.summary import Summarizer
from crawler.emulator import generate_account
from crawler.emulator.server import EmulatorThread
from tests.support.crawl_support import clean_env, read_ndjson, run_cli, target_args, use_emulator_keys
from tests.support.fixtures import SMALL_ACCOUNT

FAST = ("--rate", "3000", "-q")
OUTPUTS = ("--summary", "--findings", "--report", "--metrics")
COMMANDS = ("crawl", "summarize", "merge", "diff", "demo")


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The emulator, one whole crawl of it and its two shards (made once: the commands only read them)."""
    base = tmp_path_factory.mktemp("estate")
    with EmulatorThread(generate_account(SMALL_ACCOUNT)) as emu, pytest.MonkeyPatch.context() as mp:
        clean_env(mp, base)
        use_emulator_keys(mp, emu)
        records = base / "records.ndjson"
        assert run_cli(["crawl", *target_args(emu), "-o", str(records), *FAST]) == 0
        shards = [base / f"shard-{k}.ndjson" for k in range(2)]
        for k, shard in enumerate(shards):
            assert run_cli(["crawl", *target_args(emu), "--shard", f"{k}/2", "-o", str(shard), *FAST]) == 0
        yield {"emu": emu, "records": records, "shards": shards}


def expected_audit(records: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """What ``summarize --format json`` says of ``records``: the audit every output must describe."""
    capsys.readouterr()
    assert run_cli(["summarize", str(records), "--format", "json"]) == 0
    audit: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return audit


def command_argv(command: str, estate: dict[str, Any], tmp_path: Path) -> tuple[list[str], Path]:
    """``command``'s arguments, and the records it reads or writes (what its audit is of)."""
    emu: EmulatorThread = estate["emu"]
    out = tmp_path / "out.ndjson"
    if command == "crawl":
        return ["crawl", *target_args(emu), "-o", str(out), *FAST], out
    if command == "summarize":
        return ["summarize", str(estate["records"])], estate["records"]
    if command == "merge":
        return ["merge", "-o", str(out), *map(str, estate["shards"])], out
    if command == "diff":  # the audit of NEW
        return ["diff", str(estate["shards"][0]), str(estate["records"])], estate["records"]
    demo = ["demo", "--functions", "40", "--output-dir", str(tmp_path / "demo"), "-o", str(out), "-q"]
    return demo, out


@pytest.mark.parametrize("flag", OUTPUTS)
@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_writes_each_audit_output_the_same_way(
    command: str,
    flag: str,
    estate: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env(monkeypatch, tmp_path)
    use_emulator_keys(monkeypatch, estate["emu"])
    target = tmp_path / f"output{flag[1:]}"
    target.write_text("an earlier run's file\n")
    target.chmod(0o640)

    argv, records = command_argv(command, estate, tmp_path)
    assert run_cli([*argv, flag, str(target)]) == 0

    assert target.stat().st_mode & 0o777 == 0o640  # replaced atomically, its mode kept
    expected = expected_audit(records, capsys)
    total = expected["findings"]["total"]
    assert total > 0  # the small account has findings: the outputs below are not trivially empty
    if flag == "--summary":  # JSON whatever --format printed, the same audit as summarize's
        written = orjson.loads(target.read_bytes())
        assert written["findings"]["total"] == total
        assert written["totals"] == expected["totals"]
    elif flag == "--findings":  # every finding (not only the listed ones), one JSON object a line
        findings = read_ndjson(target)
        assert len(findings) == total
        assert sorted(f["ruleId"] for f in findings) == sorted(
            rule for rule, n in expected["findings"]["byRule"].items() for _ in range(n)
        )
    elif flag == "--report":
        page = target.read_text(encoding="utf-8")
        assert page.lstrip().lower().startswith("<!doctype html")
        assert "an earlier run" not in page
    else:
        metrics = target.read_text(encoding="utf-8")
        assert "# TYPE fcaudit_findings gauge" in metrics
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("fcaudit_findings{")
        )
        assert counted == total


@pytest.mark.parametrize("command", ["summarize", "merge", "diff", "crawl", "demo"])
def test_an_output_in_a_missing_directory_is_refused_before_anything_runs(
    command: str,
    estate: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env(monkeypatch, tmp_path)
    use_emulator_keys(monkeypatch, estate["emu"])
    missing = tmp_path / "no-such-dir" / "report.html"
    argv, _records = command_argv(command, estate, tmp_path)
    assert run_cli([*argv, "--report", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--report {missing}: directory {missing.parent} does not exist" in err
    assert not (tmp_path / "out.ndjson").exists()  # refused before the records were written


def test_summarize_strict_incomplete_beats_findings_as_on_crawl(
    estate: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the exit code is one function for every command: an audit of part of the estate is not a verdict
    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(b"".join(estate["records"].read_bytes().splitlines(keepends=True)[:-1]))  # no end record
    assert run_cli(["summarize", str(cut), "--fail-on", "info"]) == 1
    assert run_cli(["summarize", str(cut), "--fail-on", "info", "--strict"]) == 3
    assert run_cli(["summarize", str(estate["records"]), "--fail-on", "info", "--strict"]) == 1


@pytest.mark.parametrize("flag", OUTPUTS)
def test_a_refused_input_leaves_every_output_as_it_was(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")
    target = tmp_path / "kept"
    target.write_text("an earlier run's file\n")
    assert run_cli(["summarize", str(empty), flag, str(target)]) == 2
    assert "is empty" in capsys.readouterr().err
    assert target.read_text() == "an earlier run's file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.ndjson", "kept"]  # no temporary left


def test_exit_code_interrupted_beats_incomplete_beats_findings(
    estate: dict[str, Any], tmp_path: Path
) -> None:
    summarizer = Summarizer()
    with estate["records"].open("rb") as records:
        summarizer.add_lines(records)
    report = summarizer.report()
    assert report.fails(Severity.INFO)
    assert exit_code(report, Severity.INFO, complete=False, interrupted="SIGTERM") == 143
    assert exit_code(report, Severity.INFO, complete=False, interrupted="SIGINT") == 130
    assert exit_code(report, Severity.INFO, complete=False) == 3
    assert exit_code(report, Severity.INFO) == 1
    assert exit_code(report, None) == 0
    assert exit_code(None, Severity.INFO) == 0  # nothing audited (diff without NEW's audit)
