"""``fcaudit demo``: a new user's first command finishes, writes files that parse, and says where they are."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.support.crawl_support import Crawled, read_ndjson, run_cli


def test_demo_crawls_an_emulated_account_and_names_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pins that the demo's crawl rides out its injected faults (HTTP 500s, resets, truncated answers,
    throttling) with retries and finishes complete: exit 0, an end record with ``complete: true`` and
    no function in ``error``. Each fault outlasting six attempts is far too unlikely to flake."""
    out_dir = tmp_path / "demo"

    code = run_cli(["demo", "--functions", "300", "--seed", "4", "--output-dir", str(out_dir), "-q"])

    printed = capsys.readouterr().out
    records_path = out_dir / "configs.ndjson"
    assert code == 0
    crawled = Crawled.of(read_ndjson(records_path))
    assert len(crawled.functions) == 300  # deleted ones too: they end as `gone`, never missing
    assert crawled.configs
    [end] = crawled.end
    assert end["complete"] is True
    assert end["functions"]["error"] == 0
    assert sum(end["functions"].values()) == 300
    assert {r["status"] for r in crawled.functions.values()} <= {"ok", "none", "gone"}
    assert "0 error" in printed
    assert str(records_path) in printed
    summary = orjson.loads((out_dir / "summary.json").read_bytes())  # JSON, as --summary everywhere
    assert summary["findings"]["total"] == len((out_dir / "findings.ndjson").read_bytes().splitlines())
    findings = (out_dir / "findings.ndjson").read_bytes().splitlines()
    assert findings
    assert all(orjson.loads(line)["ruleId"] for line in findings)
    assert "<html" in (out_dir / "report.html").read_text(encoding="utf-8")


def test_demo_refuses_a_silly_size(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli(["demo", "--functions", "0", "--output-dir", str(tmp_path)]) == 2
    assert "--functions" in capsys.readouterr().err
