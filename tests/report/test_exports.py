"""Findings as CSV and as OCSF Detection Finding JSON, each checked against its format's definition:
CSV read back with the ``csv`` module (header, one row per finding, every value round-tripped), OCSF by
constructing py-ocsf-models' ``DetectionFinding`` (what Prowler uses) from each event and checking that
the model kept every key we wrote (pydantic drops unknown keys silently, so a misspelled one would
vanish)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pytest
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from crawler.audit.rules import Finding
from crawler.errors import UsageError
from crawler.report.exports import CSV_COLUMNS, FindingsWriter, findings_format
from tests.support.audit_support import arn_queue, batch, config, findings_of
from tests.support.crawl_support import run_cli

QUEUE = arn_queue()


def _findings() -> list[Finding]:
    return findings_of(
        batch(config("prod", success=QUEUE), function="a"),
        batch(config(retries=0, failure='not, an "arn"\nat all'), function="b"),
        batch(status="none", function="c"),
        batch(status="error", error={"code": "AccessDenied"}, function="d"),
    )


def _kept(ours: Any, dumped: Any, where: str = "") -> None:
    """Every key and value we wrote is in the model's dump (nothing dropped or changed)."""
    if isinstance(ours, dict):
        assert isinstance(dumped, dict), where
        for key, value in ours.items():
            assert key in dumped, f"{where}.{key} was dropped by the OCSF model"
            _kept(value, dumped[key], f"{where}.{key}")
    elif isinstance(ours, list) and ours and isinstance(ours[0], dict):
        assert isinstance(dumped, list), where
        assert len(dumped) == len(ours), where
        for i, (a, b) in enumerate(zip(ours, dumped, strict=True)):
            _kept(a, b, f"{where}[{i}]")
    else:
        assert ours == dumped, where


def test_the_suffix_or_the_flag_picks_the_format() -> None:
    assert findings_format(Path("f.csv"), None) == "csv"
    assert findings_format(Path("f.OCSF.json"), None) == "ocsf"
    assert findings_format(Path("f.json"), None) == "ndjson"
    assert findings_format(Path("f.csv"), "ndjson") == "ndjson"
    with pytest.raises(UsageError, match="--findings-format 'xml'"):
        findings_format(Path("f"), "xml")


def test_csv_round_trips_through_the_csv_module(tmp_path: Path) -> None:
    found = _findings()
    path = tmp_path / "findings.csv"
    with FindingsWriter(path, "csv") as out:
        for f in found:
            out.write(f)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(found) + 1
    for row, f in zip(rows[1:], found, strict=True):
        record = dict(zip(CSV_COLUMNS, row, strict=True))
        assert record["id"] == f.finding_id
        assert (record["ruleId"], record["severity"], record["function"]) == (
            f.rule_id,
            f.severity.label,
            f.function,
        )
        assert record["qualifier"] == (f.qualifier or "")
        assert record["message"] == f.message  # commas, quotes and newlines survive
        assert orjson.loads(record["evidence"]) == orjson.loads(orjson.dumps(dict(f.evidence)))
        assert record["fix"] == f.remediation["summary"]
        assert int(record["line"]) == f.line


def test_ocsf_events_are_detection_findings_by_the_model(tmp_path: Path) -> None:
    found = _findings()
    path = tmp_path / "findings.ocsf.json"
    with FindingsWriter(path, "ocsf", time_ms=1_764_288_000_000) as out:
        for f in found:
            out.write(f)
    events = orjson.loads(path.read_bytes())
    assert len(events) == len(found)
    for event, f in zip(events, found, strict=True):
        model = DetectionFinding(**event)
        _kept(event, model.model_dump(mode="json", exclude_none=True))
        assert model.class_uid == 2004
        assert model.finding_info.uid == f.finding_id
        assert model.severity_id.value == {"info": 1, "low": 2, "medium": 3, "high": 4}[f.severity.label]
        assert model.cloud is not None
        assert model.cloud.account is not None
        assert model.cloud.account.uid == f.account
        assert model.remediation is not None
        assert model.remediation.desc == f.remediation["summary"]


def test_an_empty_ocsf_file_is_an_empty_array(tmp_path: Path) -> None:
    path = tmp_path / "none.ocsf.json"
    with FindingsWriter(path, "ocsf"):
        pass
    assert orjson.loads(path.read_bytes()) == []


def test_summarize_writes_the_format_the_suffix_asks_for(tmp_path: Path) -> None:
    from crawler.store.records import to_bytes
    from tests.support.audit_support import run_records

    src = tmp_path / "in.ndjson"
    src.write_bytes(b"".join(to_bytes(r) for r in run_records([batch(config())])))
    out_csv, out_ocsf, out_flag = tmp_path / "f.csv", tmp_path / "f.ocsf.json", tmp_path / "f.txt"
    assert run_cli(["summarize", str(src), "--findings", str(out_csv), "-q"][:-1]) == 0
    assert out_csv.read_text("utf-8").startswith(",".join(CSV_COLUMNS))
    assert run_cli(["summarize", str(src), "--findings", str(out_ocsf)]) == 0
    assert orjson.loads(out_ocsf.read_bytes())[0]["class_uid"] == 2004
    assert run_cli(["summarize", str(src), "--findings", str(out_flag), "--findings-format", "csv"]) == 0
    assert out_flag.read_text("utf-8").startswith("id,severity,ruleId")
