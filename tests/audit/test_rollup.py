"""Findings rolled up per function (one row per function, its rules and qualifiers, most severe first)
and the short list to fix first; the findings file keeps one finding per rule and qualifier."""

from __future__ import annotations

from crawler.audit.rollup import WHOLE_FUNCTION, fix_first, rollup
from crawler.report.render import render
from tests.support.audit_support import arn_queue, batch, config, findings_of, run_records, summarize

QUEUE = arn_queue()
BATCHES = [
    batch(config("prod"), config("1"), config("LATEST", failure=QUEUE), function="many"),  # 2 medium
    batch(config(retries=0), config("beta", failure=arn_queue(region="cn-beijing")), function="worst"),
    batch(status="none", function="idle"),  # low, about the whole function
    batch(config(failure=QUEUE), function="clean"),
]


def test_one_row_per_function_with_its_rules_and_qualifiers_most_severe_first() -> None:
    found = findings_of(*BATCHES)
    rows = rollup(found)
    assert [r.function for r in rows] == ["worst", "many", "idle"]
    worst, many, idle = rows
    assert worst.rules == ("retries-disabled-no-failure-destination", "cross-region-destination")
    assert worst.qualifiers == ("LATEST", "beta")
    assert worst.by_severity == {"high": 1, "medium": 0, "low": 1, "info": 0}
    assert worst.fix.startswith("add an onFailure destination")
    assert (many.rules, many.qualifiers, many.findings) == (("no-failure-destination",), ("1", "prod"), 2)
    assert idle.qualifiers == (WHOLE_FUNCTION,)
    assert [r.function for r in fix_first(rows)] == ["worst"]  # the functions with a high finding
    assert [r.function for r in fix_first(rows[1:], limit=1)] == ["many"]  # none high: the most severe
    assert len(found) == 5  # the findings themselves stay one per rule and qualifier


def test_the_table_and_markdown_list_functions_and_what_to_fix_first() -> None:
    report = summarize(run_records(BATCHES))
    assert report.functions_with_findings == 3
    table = render(report, "table", width=120)
    assert "Fix these first" in table
    assert "Findings per function" in table
    assert "3 of 3 functions with findings, most severe first" in table
    text = render(report, "markdown")
    assert "### Fix these first" in text
    assert (
        "1. **svc/worst** (high: `retries-disabled-no-failure-destination`, `cross-region-destination`"
        in text
    )
    assert (
        "| high | svc/worst | retries-disabled-no-failure-destination, cross-region-destination "
        "| LATEST, beta | 2 |" in text
    )
