"""Chart geometry for the HTML report: bar charts and a stacked bar, computed here, drawn as inline SVG.

Why server-side SVG and not a chart library: the report must open with no network and no script
(an auditor's laptop, a ticket attachment, a printout), and a handful of bar charts do not need a
library's weight or its upkeep. This module only does arithmetic (where each bar goes, a readable
scale); the template (``crawler/report/html/templates/report.html.j2``) turns the numbers into ``<rect>`` and
``<text>`` elements, where Jinja2's autoescaping covers every label. No markup is built here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

#: drawing area of a column chart (SVG user units; the SVG scales to its container)
COLUMN_WIDTH: Final = 560
COLUMN_HEIGHT: Final = 240
MARGIN_LEFT: Final = 44
MARGIN_TOP: Final = 22
MARGIN_BOTTOM: Final = 40
ROW_HEIGHT: Final = 26
ROW_LABEL_WIDTH: Final = 120
ROW_VALUE_WIDTH: Final = 70


@dataclass(frozen=True, slots=True)
class Category:
    """One input bar: its label, its count, and a CSS class naming its meaning (``tone-bad`` ...)."""

    label: str
    value: int
    tone: str = "tone-plain"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    share: str
    tone: str
    x: float
    y: float
    width: float
    height: float
    #: where its label and its value are written
    label_x: float
    label_y: float
    value_x: float
    value_y: float


@dataclass(frozen=True, slots=True)
class Gridline:
    """A horizontal (column chart) or vertical (row chart) reference line with its value."""

    position: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A drawable chart: ``kind`` is ``columns`` (vertical bars) or ``rows`` (horizontal bars)."""

    chart_id: str
    title: str
    caption: str
    kind: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    gridlines: tuple[Gridline, ...]
    #: the axis the bars stand on: y of the baseline (columns) or x of it (rows)
    baseline: float
    #: the extent of the gridlines across the bars: x (columns) or y (rows), from and to
    plot_from: float
    plot_to: float
    total: int


@dataclass(frozen=True, slots=True)
class Segment:
    label: str
    value: int
    share: str
    tone: str
    x: float
    width: float


@dataclass(frozen=True, slots=True)
class StackedBar:
    """One bar split into shares that add up to 100 % (destination coverage)."""

    chart_id: str
    title: str
    caption: str
    width: int
    height: int
    segments: tuple[Segment, ...]
    total: int


def share(value: int, total: int) -> str:
    """``"12%"``; ``"<1%"`` for a small non-zero share, so nothing present reads as nothing."""
    if not total:
        return "-"
    pct = 100 * value / total
    if 0 < pct < 1:
        return "<1%"
    return f"{pct:.0f}%"


def nice_scale(largest: int, ticks: int = 4) -> tuple[int, int]:
    """(axis maximum, step): the smallest 1-2-5 step that covers ``largest`` in at most ``ticks`` steps,
    and the axis ending at the first step at or above ``largest``."""
    if largest <= 0:
        return 1, 1
    raw = largest / ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    # 10 x magnitude always covers: 10 ** (floor(log10(raw)) + 1) > raw
    step = next(s for s in (magnitude, 2 * magnitude, 5 * magnitude, 10 * magnitude) if s * ticks >= largest)
    return step * math.ceil(largest / step), step


def _ticks(axis_max: int, step: int) -> list[int]:
    return list(range(0, axis_max + 1, step))


def column_chart(chart_id: str, title: str, caption: str, categories: Sequence[Category]) -> Chart:
    """Vertical bars, one per category, on a 1-2-5 scale with gridlines."""
    total = sum(c.value for c in categories)
    axis_max, step = nice_scale(max((c.value for c in categories), default=0))
    plot_w = COLUMN_WIDTH - MARGIN_LEFT - 8
    plot_h = COLUMN_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    baseline = MARGIN_TOP + plot_h
    slot = plot_w / max(1, len(categories))
    bar_w = slot * 0.68
    bars = []
    for i, c in enumerate(categories):
        h = plot_h * c.value / axis_max
        x = MARGIN_LEFT + i * slot + (slot - bar_w) / 2
        centre = x + bar_w / 2
        bars.append(
            Bar(
                label=c.label,
                value=c.value,
                share=share(c.value, total),
                tone=c.tone,
                x=round(x, 1),
                y=round(baseline - h, 1),
                width=round(bar_w, 1),
                height=round(h, 1),
                label_x=round(centre, 1),
                label_y=baseline + 16,
                value_x=round(centre, 1),
                value_y=round(baseline - h - 5, 1),
            )
        )
    grid = tuple(
        Gridline(round(baseline - plot_h * t / axis_max, 1), f"{t:,}") for t in _ticks(axis_max, step)
    )
    return Chart(
        chart_id=chart_id,
        title=title,
        caption=caption,
        kind="columns",
        width=COLUMN_WIDTH,
        height=COLUMN_HEIGHT,
        bars=tuple(bars),
        gridlines=grid,
        baseline=baseline,
        plot_from=MARGIN_LEFT,
        plot_to=COLUMN_WIDTH - 8,
        total=total,
    )


def row_chart(chart_id: str, title: str, caption: str, categories: Sequence[Category]) -> Chart:
    """Horizontal bars (long labels read better sideways): label, bar, value."""
    total = sum(c.value for c in categories)
    axis_max, step = nice_scale(max((c.value for c in categories), default=0))
    top = 8
    width = COLUMN_WIDTH
    plot_w = width - ROW_LABEL_WIDTH - ROW_VALUE_WIDTH
    height = top + ROW_HEIGHT * len(categories) + 22
    bars = []
    for i, c in enumerate(categories):
        w = plot_w * c.value / axis_max
        y = top + i * ROW_HEIGHT + 4
        bar_h = ROW_HEIGHT - 8
        bars.append(
            Bar(
                label=c.label,
                value=c.value,
                share=share(c.value, total),
                tone=c.tone,
                x=ROW_LABEL_WIDTH,
                y=y,
                width=round(w, 1),
                height=bar_h,
                label_x=ROW_LABEL_WIDTH - 8,
                label_y=y + bar_h / 2 + 4,
                value_x=round(ROW_LABEL_WIDTH + w + 6, 1),
                value_y=y + bar_h / 2 + 4,
            )
        )
    grid = tuple(
        Gridline(round(ROW_LABEL_WIDTH + plot_w * t / axis_max, 1), f"{t:,}") for t in _ticks(axis_max, step)
    )
    return Chart(
        chart_id=chart_id,
        title=title,
        caption=caption,
        kind="rows",
        width=width,
        height=height,
        bars=tuple(bars),
        gridlines=grid,
        baseline=ROW_LABEL_WIDTH,
        plot_from=top,
        plot_to=top + ROW_HEIGHT * len(categories),
        total=total,
    )


def stacked_bar(chart_id: str, title: str, caption: str, categories: Sequence[Category]) -> StackedBar:
    """One full-width bar split by share; categories with no count take no room (the legend keeps them)."""
    total = sum(c.value for c in categories)
    width, height = COLUMN_WIDTH, 36
    x = 0.0
    segments = []
    for c in categories:
        w = width * c.value / total if total else 0.0
        segments.append(Segment(c.label, c.value, share(c.value, total), c.tone, round(x, 1), round(w, 1)))
        x += w
    return StackedBar(chart_id, title, caption, width, height, tuple(segments), total)
