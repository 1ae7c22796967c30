"""Rendering: a table readable at 80 columns, a stable versioned JSON, Markdown, NDJSON findings."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from crawler.audit.report_model import AuditReport
from crawler.report.render import render, write_findings
from tests.support.audit_support import REGION, arn_queue, batch, config, run_records, summarize

LONG = "s" + "x" * 127  # the longest service name FC allows


def _report() -> AuditReport:
    batches = [
        batch(config(success=arn_queue("a" * 60)), service=LONG, function="f" + "y" * 127),
        batch(config("prod", retries=0, failure="bad|arn`x"), service="orders", function="create"),
        batch(
            config("1", retries=9, failure=arn_queue(region="cn-shanghai")), service="orders", function="pay"
        ),
        batch(config(retries=0), service="orders", function="fire-and-forget"),
        batch(status="none", service="orders", function="cron"),
        batch(status="error", service="billing", function="x", error={"code": "Timeout", "attempts": 6}),
    ]
    return summarize(run_records(batches, end=False))


def test_table_fits_80_columns_and_shows_the_answer() -> None:
    text = render(_report(), "table", width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    for heading in (
        "Overview",
        "Retry attempts",
        "Max event age",
        "Destinations and stateful invocation",
        "Most referenced destinations",
        "Findings by rule",
        "Findings",
        "Services",
        "Problems",
    ):
        assert heading in text
    assert "INCOMPLETE" in text
    assert "retries-disabled-no-failure-destination" in text
    assert "Timeout 1" in text


def test_table_uses_a_wider_terminal() -> None:
    text = render(_report(), "table", width=140)
    assert max(len(line) for line in text.splitlines()) <= 140
    assert any(len(line) > 80 for line in text.splitlines())


def test_json_is_versioned_stable_and_complete() -> None:
    report = _report()
    text = render(report, "json")
    assert text == render(report, "json")
    data = orjson.loads(text)
    assert data["schemaVersion"] == 1
    assert list(data) == [
        "schemaVersion",
        "complete",
        "lines",
        "records",
        "runs",
        "accounts",
        "regions",
        "services",
        "totals",
        "errorCodes",
        "destinations",
        "findings",
        "notes",
        "perService",
        "perServiceTruncated",
        "problems",
        "policy",
    ]
    assert data["complete"] is False
    assert data["regions"] == [REGION]
    assert data["totals"]["functionsByStatus"] == {"ok": 4, "none": 1, "gone": 0, "error": 1}
    assert data["findings"]["total"] == report.findings_total == len(data["findings"]["items"])
    assert data["findings"]["items"][0]["severity"] == "high"
    assert {s["service"] for s in data["perService"]} == {LONG, "orders", "billing"}
    assert data["problems"]["byKind"] == {"run-missing-end": 1}


def test_markdown_has_tables_and_escapes_what_it_shows() -> None:
    text = render(_report(), "markdown")
    assert text.startswith("## fcaudit audit")
    assert "| figure | count |" in text
    assert "### Findings by rule" in text
    assert "bad\\|arn\\`x" in text
    assert "bad|arn" not in text.replace("bad\\|arn", "")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(_report(), "yaml")  # type: ignore[arg-type]


def test_write_findings_writes_ndjson_atomically(tmp_path: Path) -> None:
    report = _report()
    path = tmp_path / "findings.ndjson"
    assert write_findings(report, path) == len(report.findings)
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line)["ruleId"] for line in lines] == [f.rule_id for f in report.findings]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.ndjson"]
    first = orjson.loads(lines[0])
    assert set(first) == {
        "id",
        "ruleId",
        "severity",
        "account",
        "region",
        "service",
        "function",
        "qualifier",
        "message",
        "evidence",
        "line",
        "remediation",
    }
