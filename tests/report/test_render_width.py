"""At 80 columns no table breaks inside a token (issue 16, item 4): a target, a rule id, an ARN is on one
line whole; a row that cannot keep its cells side by side stacks them (a finding becomes several lines)
rather than cutting one. Only a token wider than the whole terminal is ever folded."""

from __future__ import annotations

import re

import pytest

from crawler.audit.report_model import AuditReport
from crawler.report.render import render
from tests.support.audit_support import arn_queue, batch, config, run_records, summarize


def _report() -> AuditReport:
    """Names of a real estate's length: a target of 45 characters, a 39-character rule id, a 71-character
    destination ARN; side by side they take more than 80 columns."""
    batches = [
        batch(config("LATEST", retries=0), service="analytics-ingestion", function="thumbnail-worker-15"),
        batch(config("staging", retries=0), service="payments-settlement", function="reconcile-ledger"),
        batch(
            config("prod", failure=arn_queue("reservations-dlq", region="cn-shanghai")),
            service="inventory",
            function="reserve-stock",
        ),
    ]
    return summarize(run_records(batches))


def tokens_of(report: AuditReport) -> set[str]:
    """What must never be cut: every function with a finding (the table rolls findings up per function),
    every rule id, every destination."""
    tokens = {f"{f.service}/{f.function}" for f in report.findings}
    tokens |= {f.rule_id for f in report.findings}
    tokens |= {d.destination for d in report.top_destinations}
    return tokens


@pytest.mark.parametrize("width", [80, 100])
def test_no_token_is_broken_and_no_line_is_too_long(width: int) -> None:
    report = _report()
    text = render(report, "table", width=width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    words = {word for line in lines for word in re.split(r"\s+", line.strip())}
    for token in tokens_of(report):
        assert token in words, f"{token!r} is broken across lines at {width} columns:\n{text}"


def test_a_row_that_does_not_fit_one_line_stacks_its_cells() -> None:
    text = render(_report(), "table", width=80)
    fix_first = text[text.index("Fix these first") :]
    at = fix_first.index("analytics-ingestion/thumbnail-worker-15")
    after = fix_first[at:].splitlines()
    assert after[0].strip() == "analytics-ingestion/thumbnail-worker-15"  # its own line
    assert after[1].strip() == "high: retries-disabled-no-failure-destination"  # the rule below it
    assert after[2].strip().startswith("fix: add an onFailure destination")  # then the fix


def test_a_wide_terminal_keeps_a_function_on_one_row() -> None:
    text = render(_report(), "table", width=160)
    per_function = text[text.index("Findings per function") :]
    row = next(
        line for line in per_function.splitlines() if "analytics-ingestion/thumbnail-worker-15" in line
    )
    assert "retries-disabled-no-failure-destination" in row
    assert "LATEST" in row
