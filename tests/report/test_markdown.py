"""The one Markdown escaper, pinned character by character, its code spans, and both reports using it."""

from __future__ import annotations

import string

from crawler.audit.drift import ConfigChange, DriftReport, FieldChange
from crawler.report import markdown
from crawler.report.drift_render import render_diff
from crawler.report.markdown import Code, code, table, text


def test_text_escapes_exactly_the_characters_that_start_markup_or_end_a_cell() -> None:
    escaped = {c for c in string.printable if text(c) == "\\" + c}
    assert escaped == set("\\`*_~[]<>&|")
    assert markdown.ESCAPED == "\\`*_~[]<>&|"
    assert text("a\nb\r\nc\rd") == "a b  c d"  # a line break would end the table row
    kept = set(string.printable) - escaped - set("\n\r")
    assert all(text(c) == c for c in kept)


def test_text_reads_as_its_value() -> None:
    assert text("bad|arn`x") == "bad\\|arn\\`x"
    assert text("q_1 **bold** [link](http://x) <b>&amp;") == (
        "q\\_1 \\*\\*bold\\*\\* \\[link\\](http://x) \\<b\\>\\&amp;"
    )
    assert text(3) == "3"
    assert text("a\\|b") == "a\\\\\\|b"  # a backslash before a pipe cannot escape it away


def test_a_code_span_holds_backticks_and_pipes() -> None:
    assert code("maxAsyncRetryAttempts") == "`maxAsyncRetryAttempts`"
    assert code("a|b") == "`a\\|b`"
    assert code("x`y") == "``x`y``"
    assert code("`edge``") == "``` `edge`` ```"
    assert code("a\nb") == "`a b`"
    assert isinstance(code("x"), Code)


def test_a_table_escapes_every_cell_but_code_spans() -> None:
    assert table(["a|b", "c"], [[code("d|e"), "f*"]]) == [
        "| a\\|b | c |",
        "|---|---|",
        "| `d\\|e` | f\\* |",
    ]


def _cells(row: str) -> list[str]:
    """A GFM table row split as GitHub splits it: at every pipe not escaped by a backslash."""
    cells, cell, escaped = [], "", False
    for c in row.strip()[1:-1]:
        if c == "|" and not escaped:
            cells.append(cell)
            cell = ""
        else:
            cell += c
        escaped = c == "\\" and not escaped
    return [*cells, cell]


def test_a_drift_row_keeps_its_columns_whatever_the_values_hold() -> None:
    odd = FieldChange("destinationConfig.on`Failure|x", "ends in a backslash\\", "a\\|b")
    key = ("1", "cn-hangzhou", "s_1", "f*", "LATEST")
    report = DriftReport("old", "new", (), (), (ConfigChange("changed", key, (odd,)),), (), (), 0, 0)
    rows = [line for line in render_diff(report, "markdown").splitlines() if line.startswith("| 1 ")]
    assert len(rows) == 1
    assert len(_cells(rows[0])) == 8
    assert "``destinationConfig.on`Failure\\|x``" in rows[0]
