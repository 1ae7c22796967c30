"""``fcaudit summarize`` through the real command line: formats, files, exit codes, bad input."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import orjson
import pytest

from crawler.cli.main import main
from crawler.store.records import FunctionBatch
from tests.support.audit_support import arn_queue, batch, config, lines_of, run_records

GOOD = [batch(config(failure=arn_queue()), function=f"ok{i}") for i in range(3)]
MEDIUM = batch(config(success=arn_queue()), function="no-dlq")
HIGH = batch(config(retries=0), function="no-retries")


def _write(path: Path, batches: list[FunctionBatch] | None = None, *, end: bool = True) -> Path:
    records = run_records(batches if batches is not None else [*GOOD, MEDIUM], end=end)
    path.write_bytes(b"".join(lines_of(records)))
    return path


def test_table_to_stdout_and_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summarize", str(_write(tmp_path / "run.ndjson"))]) == 0
    out = capsys.readouterr()
    assert "fcaudit audit: complete" in out.out
    assert "no-failure-destination" in out.out
    assert out.err == ""


@pytest.mark.parametrize(
    ("fail_on", "code"), [("info", 1), ("low", 1), ("medium", 1), ("high", 0), ("none", 0)]
)
def test_fail_on_exit_codes(tmp_path: Path, fail_on: str, code: int) -> None:
    path = _write(tmp_path / "run.ndjson")
    assert main(["summarize", str(path), "--fail-on", fail_on, "--format", "json"]) == code


def test_fail_on_high(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.ndjson", [*GOOD, HIGH])
    assert main(["summarize", str(path), "--fail-on", "high", "--format", "json"]) == 1
    clean = _write(tmp_path / "clean.ndjson", GOOD)
    assert main(["summarize", str(clean), "--fail-on", "info", "--format", "json"]) == 0


def test_fail_on_from_the_audit_table_and_the_flag_wins(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.ndjson")
    cfg = tmp_path / "fcaudit.toml"
    cfg.write_text('[audit]\nfail_on = "medium"\n\n[crawl]\nconcurrency = 4\n', encoding="utf-8")
    assert main(["summarize", str(path), "--config", str(cfg), "--format", "json"]) == 1
    assert main(["summarize", str(path), "--config", str(cfg), "--fail-on", "none", "--format", "json"]) == 0


def test_config_suppression_applies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "run.ndjson")
    cfg = tmp_path / "fcaudit.toml"
    cfg.write_text('[[audit.suppress]]\nfunction = "no-*"\nreason = "known"\n', encoding="utf-8")
    assert main(["summarize", str(path), "--config", str(cfg), "--fail-on", "info", "--format", "json"]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["findings"]["suppressedByRule"] == {"no-failure-destination": 1}


def test_bad_audit_table_is_exit_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "run.ndjson")
    cfg = tmp_path / "fcaudit.toml"
    cfg.write_text('[audit.severity]\nself-destination = "dire"\n', encoding="utf-8")
    assert main(["summarize", str(path), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "audit.severity.self-destination" in err
    assert "Traceback" not in err
    cfg.write_text("[audit\n", encoding="utf-8")
    assert main(["summarize", str(path), "--config", str(cfg)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_json_and_markdown_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "run.ndjson")
    assert main(["summarize", str(path), "--format", "json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["totals"]["functions"] == 4
    assert main(["summarize", str(path), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("## fcaudit audit")


def test_findings_file_gets_every_finding_and_summary_file_gets_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = [batch(config(success=arn_queue()), function=f"f{i}") for i in range(30)]
    path = _write(tmp_path / "run.ndjson", many)
    cfg = tmp_path / "fcaudit.toml"
    cfg.write_text("[audit]\nmax_findings = 5\n", encoding="utf-8")
    findings, summary = tmp_path / "findings.ndjson", tmp_path / "summary.json"
    args = [
        "summarize",
        str(path),
        "--config",
        str(cfg),
        "--findings",
        str(findings),
        "--summary",
        str(summary),
    ]
    assert main(args) == 0
    rows = [orjson.loads(line) for line in findings.read_bytes().splitlines()]
    assert len(rows) == 30
    assert [r["function"] for r in rows] == [f"f{i}" for i in range(30)]
    data = orjson.loads(summary.read_bytes())
    assert data["schemaVersion"] == 1
    assert data["findings"]["total"] == 30
    assert data["findings"]["listed"] == 5
    assert "Overview" in capsys.readouterr().out


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    data = b"".join(lines_of(run_records(GOOD)))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["summarize", "-", "--format", "json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["totals"]["configs"] == 3


def test_bad_lines_are_warned_with_their_number_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = lines_of(run_records(GOOD))
    lines.insert(2, b"garbage\n")
    lines.insert(4, b'{"type":"weird"}\n')
    path = tmp_path / "run.ndjson"
    path.write_bytes(b"".join(lines))
    assert main(["summarize", str(path), "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "fcaudit: warning: line 3: not valid JSON" in out.err
    assert "fcaudit: warning: line 5: unknown record type 'weird'" in out.err
    assert "the input is incomplete" in out.err
    data = orjson.loads(out.out)
    assert data["totals"]["configs"] == 3
    assert [(p["line"], p["kind"]) for p in data["problems"]["items"]] == [
        (3, "malformed-line"),
        (5, "unknown-record-type"),
    ]


def test_file_without_end_record_is_summarised_but_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "run.ndjson", GOOD, end=False)
    assert main(["summarize", str(path), "--format", "json"]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["complete"] is False
    assert data["totals"]["configs"] == 3
    assert main(["summarize", str(path), "--format", "json", "--strict"]) == 3


def test_truncated_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = b"".join(lines_of(run_records(GOOD)))
    path = tmp_path / "cut.ndjson"
    path.write_bytes(whole[: len(whole) - 25])
    assert main(["summarize", str(path), "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "ends in the middle of a record" in out.err
    assert orjson.loads(out.out)["problems"]["byKind"]["truncated"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "is empty"),
        (b"hello world\nthis is not json\n", "holds no fcaudit records"),
        (b'{"a": 1}\n[2]\n', "holds no fcaudit records"),
    ],
)
def test_nothing_usable_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "in.ndjson"
    if content is not None:
        path.write_bytes(content)
    findings = tmp_path / "findings.ndjson"
    assert main(["summarize", str(path), "--findings", str(findings)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not findings.exists()


def test_directory_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summarize", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
