"""The HTML report's parts: chart geometry and scales, durations and timestamps, and run records of the
wrong shape (files anyone may have edited) shown as unknown instead of breaking the page."""

from __future__ import annotations

import pytest

from crawler.audit.report_model import RunInfo
from crawler.report.html.charts import (
    COLUMN_HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    Category,
    column_chart,
    nice_scale,
    row_chart,
    share,
    stacked_bar,
)
from crawler.report.html.overview import duration, run_view, timestamp
from crawler.report.html.page import render_html, visible
from crawler.store.records import RunRecord
from tests.support.audit_support import batch, config, run_records, summarize
from tests.support.html_support import ParsedPage


@pytest.mark.parametrize("largest", [0, 1, 2, 3, 5, 7, 10, 49, 131, 154, 999, 1000, 1001, 12_345, 987_654])
def test_scales_cover_the_largest_value_in_few_round_steps(largest: int) -> None:
    axis, step = nice_scale(largest)
    assert axis >= largest
    assert axis - step < max(largest, 1)  # no empty step on top
    assert axis // step <= 4
    assert str(step).rstrip("0") in ("1", "2", "5")


def test_column_heights_are_proportional_and_zero_is_flat() -> None:
    chart = column_chart("c", "t", "cap", [Category("a", 0), Category("b", 50), Category("c", 100)])
    a, b, c = chart.bars
    plot = COLUMN_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    assert a.height == 0
    assert b.height == pytest.approx(c.height / 2, abs=0.1)
    assert c.height == pytest.approx(plot)  # 100 is the top of a 0-100 scale
    assert all(bar.y + bar.height == pytest.approx(chart.baseline, abs=0.1) for bar in chart.bars)
    assert all(bar.x >= 0 and bar.x + bar.width <= chart.width for bar in chart.bars)
    assert [bar.share for bar in chart.bars] == ["0%", "33%", "67%"]
    assert [g.label for g in chart.gridlines] == ["0", "50", "100"]


def test_row_bars_start_at_the_axis_and_fit() -> None:
    chart = row_chart("r", "t", "cap", [Category("long label", 3), Category("x", 12)])
    for bar in chart.bars:
        assert bar.x == chart.baseline
        assert bar.value_x + 40 <= chart.width
    assert chart.bars[1].width == pytest.approx(4 * chart.bars[0].width, abs=0.2)


def test_an_empty_chart_draws_nothing_and_says_so() -> None:
    chart = column_chart("c", "t", "cap", [Category("a", 0), Category("b", 0)])
    assert all(bar.height == 0 for bar in chart.bars)
    assert {bar.share for bar in chart.bars} == {"-"}
    stacked = stacked_bar("s", "t", "cap", [Category("a", 0)])
    assert stacked.segments[0].width == 0


def test_stacked_segments_fill_the_bar_in_order() -> None:
    bar = stacked_bar("s", "t", "cap", [Category("a", 1), Category("b", 0), Category("c", 3)])
    a, b, c = bar.segments
    assert (a.x, b.width) == (0, 0)
    assert c.x + c.width == pytest.approx(bar.width, abs=0.1)
    assert a.width * 3 == pytest.approx(c.width, abs=0.2)


def test_shares_never_hide_a_small_count() -> None:
    assert share(1, 1000) == "<1%"
    assert share(0, 1000) == "0%"
    assert share(5, 0) == "-"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.04, "0.0 s"),
        (12.34, "12.3 s"),
        (59.9, "59.9 s"),
        (65, "1 min 05 s"),
        (3600, "1 h 00 min"),
        (7_620, "2 h 07 min"),
    ],
)
def test_durations_read_like_a_person_would_say_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_timestamps_show_utc_and_pass_anything_else_through() -> None:
    assert timestamp("2026-06-01T12:30:05+00:00") == "2026-06-01 12:30:05 UTC"
    assert timestamp("2026-06-01T12:30:05+08:00") == "2026-06-01 12:30:05+08:00"
    assert timestamp("yesterday") == "yesterday"
    assert timestamp(None) == "unknown"
    assert timestamp(17) == "unknown"


def test_run_records_of_the_wrong_shape_show_as_unknown() -> None:
    start = {"targets": "all of them", "startedAt": 5}
    end = {"complete": True, "elapsedSeconds": "long", "requests": True, "throttled": None, "aborted": "x"}
    view = run_view(1, RunInfo(start, end, 1, 9))
    assert view.targets == ()
    assert (view.started, view.duration, view.requests, view.throttled) == ("unknown", "-", "-", "-")
    assert view.state == "complete"
    missing_end = run_view(2, RunInfo({"startedAt": "2026-06-01T00:00:00+00:00"}, None, 1, None))
    assert missing_end.state == "unfinished: no end record"
    assert not missing_end.complete


def test_a_run_that_was_interrupted_or_stopped_says_why() -> None:
    end = {
        "complete": False,
        "interrupted": "SIGINT",
        "aborted": {"code": "AuthError", "message": "wrong key"},
        "discoveryErrors": [{"account": "1"}],
        "resumedFunctions": 1200,
    }
    view = run_view(1, RunInfo({}, end, 1, 2))
    assert view.state == "interrupted (SIGINT)"
    assert view.notes == (
        "stopped: AuthError: wrong key",
        "1 listing(s) of services or functions failed",
        "resumed: 1,200 functions came from an earlier attempt",
    )


def test_the_page_renders_odd_run_records() -> None:
    records = [
        RunRecord("start", {"targets": [{"account": 1}, "junk"], "startedAt": []}),
        *run_records([batch(config())])[1:-1],
        RunRecord(
            "end", {"complete": "yes", "finishedAt": {"a": 1}, "discoveryErrors": ["junk", {"error": 3}]}
        ),
    ]
    page = ParsedPage(render_html(summarize(records)))
    assert "1 / ?" in page.by_id["run"]


def test_visible_keeps_text_and_shows_what_would_hide() -> None:
    assert visible("plain ünïcødé\ttab\nline") == "plain ünïcødé\ttab\nline"
    assert visible("a\x00b\x1bc\u200bd\u2066e\ufefff") == "a\\u0000b\\u001bc\\u200bd\\u2066e\\ufefff"
    assert visible(None) == ""
    assert visible(3) == 3
