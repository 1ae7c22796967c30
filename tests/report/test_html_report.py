"""The HTML report: self-contained, escaped against hostile names, and showing what the audit found.

The escaping tests read the page back with a real HTML tokenizer (``tests.support.html_support``): a hostile
name must come out as text, never as a tag, an attribute or script.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.audit.report_model import AuditReport
from crawler.emulator import AccountSpec, generate_account
from crawler.errors import OutputError
from crawler.report.html.page import asset, render_html, write_html
from crawler.store.records import RunRecord
from tests.support.audit_support import arn_queue, batch, config, run_records, summarize, summarize_lines
from tests.support.html_support import (
    ARN,
    ERROR_MESSAGE,
    HOSTILE_ACCOUNT,
    QUOTES,
    SCRIPT,
    TITLE,
    UNICODE,
    ParsedPage,
    hostile_records,
)


def _hostile_page() -> tuple[str, ParsedPage]:
    html = render_html(summarize(hostile_records()), source=SCRIPT)
    return html, ParsedPage(html)


def test_hostile_names_are_text_never_markup() -> None:
    html, page = _hostile_page()
    tags = page.count()
    assert tags["script"] == 2  # the code, and the worklist's data (never run: a JSON type)
    assert [a.get("type") for t, a in page.tags if t == "script"] == ["application/json", None]
    assert tags["style"] == 1
    for forbidden in ("img", "iframe", "object", "embed", "base", "form", "b", "i"):
        assert tags[forbidden] == 0, forbidden
    assert tags["svg"] == 4  # our four charts, no more
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
    data, code = page.raw["script"]
    assert code == asset("report.js").text
    assert SCRIPT in orjson.loads(data)["strings"]  # the worklist carries the name as data, to show as text
    assert "<" not in data
    assert page.raw["style"] == [asset("report.css").text]
    for raw in (
        "<script>alert",
        "</style><img",
        "<svg onload",
        "<svg/onload",
        "<b onmouseover",
        "</script><script>",
    ):
        assert raw not in html, raw
    text = page.text
    for shown in (
        SCRIPT,
        QUOTES,
        TITLE,
        UNICODE,
        ARN,
        ERROR_MESSAGE,
        HOSTILE_ACCOUNT,
        "<i>Code</i>",
        '"rid"',
    ):
        assert shown in text, shown


def test_invisible_and_bidi_characters_are_shown_as_escapes() -> None:
    html, page = _hostile_page()
    assert "\u202e" not in html
    assert "evil\\u202etxt.exe" in page.text


def test_the_title_stays_a_title() -> None:
    html, page = _hostile_page()
    assert page.by_id.get("status-badge") == "incomplete"
    head_title = re.search(r"<title>(.*?)</title>", html, re.DOTALL)
    assert head_title is not None
    assert head_title.group(1) == "fcaudit audit — &lt;b onmouseover=alert(6)&gt;1&lt;/b&gt;"


def test_nothing_is_loaded_from_anywhere() -> None:
    """Self-contained: no src at all, links only to anchors in the page and the empty data: icon."""
    html = render_html(summarize(run_records([batch(config(retries=0))])))
    page = ParsedPage(html)
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag
        href = attrs.get("href")
        assert href is None or href.startswith("#") or href == "data:,", (tag, href)
    assert not re.search(r"url\(|@import", asset("report.css").text)
    assert "fetch(" not in asset("report.js").text
    assert "XMLHttpRequest" not in asset("report.js").text


def test_the_content_security_policy_allows_exactly_our_style_and_script() -> None:
    page = ParsedPage(render_html(summarize(run_records([batch(config())]))))
    csp = next(
        a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp is not None
    assert "default-src 'none'" in csp

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert f"script-src 'sha256-{digest(page.raw['script'][-1])}'" in csp
    assert f"style-src 'sha256-{digest(page.raw['style'][0])}'" in csp
    assert "unsafe-inline" not in csp


def _truth_report() -> tuple[AuditReport, list[dict[str, Any]]]:
    backend = generate_account(AccountSpec(seed=7, services=4, functions=40, big_functions=2))
    truth = list(backend.truth_records())
    return summarize_lines([orjson.dumps(r) + b"\n" for r in truth]), truth


def test_headline_figures_match_the_ground_truth() -> None:
    report, truth = _truth_report()
    page = ParsedPage(render_html(report))
    functions = [r for r in truth if r["type"] == "function"]
    configs = [r for r in truth if r["type"] == "config"]
    assert page.by_id["figure-functions"] == f"{len(functions):,}"
    assert page.by_id["figure-configs"] == f"{len(configs):,}"
    no_failure = sum(1 for c in configs if not (c["config"].get("destinationConfig") or {}).get("onFailure"))
    on_defaults = sum(1 for f in functions if f["status"] == "none")
    assert page.by_id["figure-no-failure-destination"] == f"{no_failure + on_defaults:,}"
    assert page.by_id["figure-findings"] == f"{report.findings_total:,}"
    assert page.by_id["figure-status"] == "incomplete"  # the truth has no run records


def test_charts_show_the_retry_distribution_of_the_truth() -> None:
    report, truth = _truth_report()
    page = ParsedPage(render_html(report))
    zero = sum(1 for r in truth if r["type"] == "config" and r["config"].get("maxAsyncRetryAttempts") == 0)
    retries = page.by_id["chart-retries"]
    assert f"0: {zero:,} (" in retries  # each bar's tooltip: label, count, share
    for chart in ("chart-ages", "chart-kinds", "chart-coverage"):
        assert chart in page.by_id


def test_findings_are_grouped_by_severity_then_rule_with_targets_and_evidence() -> None:
    report = summarize(
        run_records(
            [
                batch(config("prod", retries=0), service="orders", function="pay"),
                batch(config(success=arn_queue(), failure=arn_queue()), service="orders", function="ship"),
            ]
        )
    )
    page = ParsedPage(render_html(report))
    high = page.by_id["severity-high"]
    assert "retries-disabled-no-failure-destination" in high
    assert "orders/pay:prod" in high
    assert "maxAsyncRetryAttempts 0" in high  # evidence: key and value
    low = page.by_id["severity-low"]
    assert "same-destination-both" in low
    assert "orders/ship:LATEST" in low
    assert "severity-medium" not in page.by_id
    order = [t for t, a in page.tags if t == "div" and str(a.get("id", "")).startswith("severity-")]
    assert len(order) == 2


def test_error_pairs_and_failed_listings_are_listed() -> None:
    records = run_records(
        [
            batch(config(), service="ok", function="fine"),
            batch(
                status="error",
                service="billing",
                function="charge",
                error={"code": "ServiceUnavailable", "http": 503, "message": "try later", "attempts": 6},
            ),
        ],
        end=False,
    )
    records.append(
        RunRecord(
            "end",
            {
                "complete": False,
                "discoveryErrors": [
                    {"account": "1", "region": "cn-hangzhou", "service": None, "error": {"code": "Timeout"}}
                ],
            },
        )
    )
    page = ParsedPage(render_html(summarize(records)))
    pairs = page.by_id["error-pairs"]
    assert "billing/charge" in pairs
    assert "ServiceUnavailable 503 6 try later" in pairs
    assert "(listing services) 1 cn-hangzhou Timeout" in page.by_id["discovery-failures"]
    assert page.by_id["figure-errors"] == "1"


def test_services_are_ordered_by_findings() -> None:
    report = summarize(
        run_records(
            [
                batch(config(failure=arn_queue()), service="aaa-clean", function="f"),
                batch(config(), service="bbb-medium", function="f"),
                batch(config(retries=0), service="ccc-high", function="f"),
            ]
        )
    )
    page = ParsedPage(render_html(report))
    table = page.by_id["services-table"]
    assert table.index("ccc-high") < table.index("bbb-medium") < table.index("aaa-clean")


def test_long_rules_are_cut_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crawler.report.html.sections.LISTED_PER_RULE", 2)
    report = summarize(run_records([batch(config(), service="s", function=f"f{i}") for i in range(5)]))
    page = ParsedPage(render_html(report))
    rule = page.by_id["rule-no-failure-destination"]
    assert "… and 3 more not listed here" in rule
    assert rule.count("Fix:") == 2  # two listed, each with its remediation


def test_the_page_is_deterministic_and_names_its_source() -> None:
    report = summarize(run_records([batch(config())]))
    assert render_html(report, source="a.ndjson") == render_html(report, source="a.ndjson")
    assert "records from a.ndjson" in ParsedPage(render_html(report, source="a.ndjson")).text


def test_write_html_replaces_the_file_whole(tmp_path: Path) -> None:
    report = summarize(run_records([batch(config())]))
    path = tmp_path / "report.html"
    path.write_text("old")
    write_html(report, path)
    assert path.read_text(encoding="utf-8") == render_html(report)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_html_refuses_a_missing_directory(tmp_path: Path) -> None:
    report = summarize(run_records([batch(config())]))
    with pytest.raises(OutputError, match=r"--report .*nowhere"):
        write_html(report, tmp_path / "nowhere" / "report.html")
    with pytest.raises(OutputError, match="is a directory"):
        write_html(report, tmp_path)
