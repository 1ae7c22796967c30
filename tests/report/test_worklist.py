"""The HTML report's worklist: every finding of the audit in the page, grouped per function, worst first,
whatever ``max_findings`` lists — from ``summarize --report`` and ``--format html`` alike —
and a page that says so when it holds only the report's listed findings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.audit.catalogue import Severity
from crawler.audit.rules import Finding
from crawler.emulator import AccountSpec, generate_account
from crawler.report.html.page import render_html
from crawler.report.html.worklist import FIELD_NAMES, Worklist, remediation_words
from tests.support.audit_support import batch, config, policy, run_records, summarize, summarize_lines
from tests.support.crawl_support import run_cli
from tests.support.html_support import ParsedPage

#: an account with a few thousand findings: more than the report lists (``max_findings``, 1,000)
ACCOUNT = AccountSpec(seed=5, services=6, functions=900)


def worklist_of(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="worklist-data">(.*?)</script>', html, re.S)
    assert found is not None
    document: dict[str, Any] = orjson.loads(found.group(1))
    return document


def rows(document: dict[str, Any]) -> list[tuple[str, ...]]:
    """Each finding of the document as (rule, severity, account, region, service, function, qualifier,
    message), in the document's order."""
    s, f = document["strings"], document["findings"]
    out: list[tuple[str, ...]] = []
    for i in range(len(f["function"])):
        account, region, service, function = (s[n] for n in document["functions"][f["function"][i]])
        out.append(
            (
                document["rules"][f["rule"][i]]["id"],
                ("info", "low", "medium", "high")[f["severity"][i]],
                account,
                region,
                service,
                function,
                s[f["qualifier"][i]],
                s[f["message"][i]],
            )
        )
    return out


def file_rows(path: Path) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for line in path.read_bytes().splitlines():
        d = orjson.loads(line)
        out.append(
            (
                d["ruleId"],
                d["severity"],
                d["account"],
                d["region"],
                d["service"],
                d["function"],
                d["qualifier"] or "",
                d["message"],
            )
        )
    return out


@pytest.fixture
def truth_file(tmp_path: Path) -> Path:
    path = tmp_path / "truth.ndjson"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in generate_account(ACCOUNT).truth_records()))
    return path


def test_every_finding_is_in_the_page_grouped_per_function_worst_first(
    truth_file: Path, tmp_path: Path
) -> None:
    page, findings = tmp_path / "report.html", tmp_path / "findings.ndjson"
    code = run_cli(["summarize", str(truth_file), "--report", str(page), "--findings", str(findings)])
    assert code in (0, 3)  # the ground truth has no run records: incomplete, not an error
    document = worklist_of(page.read_text("utf-8"))
    written = file_rows(findings)
    assert len(written) > 1_000  # more than the report lists
    shown = rows(document)
    assert sorted(shown) == sorted(written)  # every finding --findings writes, each once
    assert document["total"] == len(written)
    assert document["complete"] is True
    assert set(document["findings"]) == set(FIELD_NAMES)
    # grouped: each function's findings follow one another; functions worst first, then most findings
    order: list[tuple[str, ...]] = []
    per_function: dict[tuple[str, ...], list[int]] = {}
    for row in shown:
        target = row[2:6]
        if not order or order[-1] != target:
            assert target not in per_function, f"{target} is listed in two places"
            order.append(target)
        per_function.setdefault(target, []).append(("info", "low", "medium", "high").index(row[1]))
    keys = [(-max(per_function[t]), -per_function[t].count(3), -len(per_function[t]), *t) for t in order]
    assert keys == sorted(keys)  # worst first, then most high, most findings, then by name (as the rollup)
    for severities in per_function.values():
        assert severities == sorted(severities, reverse=True)
    assert len(order) == len({r[2:6] for r in written})
    # the page's text says how many functions the findings are in
    assert (
        f"{len(written):,} finding(s) in {len(order):,} function(s)"
        in ParsedPage(page.read_text("utf-8")).text
    )


def test_format_html_carries_every_finding_too(
    truth_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    findings = tmp_path / "findings.ndjson"
    run_cli(["summarize", str(truth_file), "--format", "html", "--findings", str(findings)])
    printed = worklist_of(capsys.readouterr().out)
    assert sorted(rows(printed)) == sorted(file_rows(findings))


def test_a_page_of_the_listed_findings_says_it_holds_only_those() -> None:
    lines = [orjson.dumps(r) + b"\n" for r in generate_account(ACCOUNT).truth_records()]
    report = summarize_lines(lines, policy({"max_findings": 50}))
    html = render_html(report)  # no worklist: the report's 50 listed findings
    document = worklist_of(html)
    assert len(document["findings"]["rule"]) == 50
    assert document["complete"] is False
    assert document["total"] == report.findings_total > 50
    assert f"This page holds 50 of the audit's {report.findings_total:,} findings" in ParsedPage(html).text


def test_each_finding_carries_its_remediation_filled_in() -> None:
    report = summarize(run_records([batch(config(retries=0)), batch(config(), function="other")]))
    html = render_html(report, worklist=Worklist.of(report.findings, complete=True))
    document = worklist_of(html)
    f, s, commands = document["findings"], document["strings"], document["commands"]
    shown = {
        (document["rules"][r]["id"], s[document["functions"][fn][3]]): (s[w - 1], commands[c - 1])
        for fn, r, w, c in zip(f["function"], f["rule"], f["remediation"], f["command"], strict=True)
    }
    expected = {
        (x.rule_id, x.function): (x.remediation["summary"], x.remediation["aliyun"]["fc2"])
        for x in report.findings
    }
    assert shown == expected
    assert any(command.startswith("aliyun fc-open PUT ") for _, command in shown.values())
    assert "how to fix" in ParsedPage(html).text  # the rules table has the column


def test_past_the_limit_the_commands_stay_in_the_findings_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crawler.report.html.worklist.COMMAND_LIMIT", 3)
    report = summarize(run_records([batch(config(retries=0), function=f"fn{n}") for n in range(5)]))
    worklist = Worklist.of(report.findings, complete=True)
    document = orjson.loads(worklist.to_json({}, len(report.findings)))
    assert worklist.commands is False
    assert document["commands"] is None
    assert set(document["findings"]["command"]) == {0}
    assert all(w > 0 for w in document["findings"]["remediation"])  # the words stay
    assert not any(s.startswith("aliyun ") for s in document["strings"])  # nor do they weigh on the page


def test_the_same_evidence_is_kept_once_but_one_and_true_stay_apart() -> None:
    def finding(function: str, evidence: dict[str, Any]) -> Finding:
        return Finding("value-out-of-range", Severity.MEDIUM, "1", "r", "svc", function, None, "m", evidence)

    worklist = Worklist.of(
        [
            finding("a", {"value": 1}),
            finding("b", {"value": True}),  # equal to 1 as a dict key, but not the same evidence
            finding("c", {"value": 1}),
            finding("d", {"value": [1, 2]}),  # not hashable: the slow path
            finding("e", {"value": [1, 2]}),
        ],
        complete=True,
    )
    document = orjson.loads(worklist.to_json({}, 5))
    s, f = document["strings"], document["findings"]
    shown = {
        s[document["functions"][fn][3]]: [s[n] for n in document["evidence"][ev]]
        for fn, ev in zip(f["function"], f["evidence"], strict=True)
    }
    assert shown == {
        "a": ["value", "1"],
        "b": ["value", "true"],
        "c": ["value", "1"],
        "d": ["value", "[1,2]"],
        "e": ["value", "[1,2]"],
    }
    assert len(document["evidence"]) == 3


def test_the_words_are_the_remediation_summary_for_every_rule() -> None:
    lines = [orjson.dumps(r) + b"\n" for r in generate_account(ACCOUNT).truth_records()]
    report = summarize_lines(lines, policy({"max_findings": 100_000, "require_stateful": True}))
    assert len({f.rule_id for f in report.findings}) >= 8
    for f in report.findings:
        assert remediation_words(f) == f.remediation["summary"], f.rule_id
