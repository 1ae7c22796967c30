"""The report's severity colours, read from its stylesheet: each badge's ink on its fill, and each severity's
text colour on the page, has a contrast of at least 4.5:1 (WCAG AA for normal text); high and medium
differ by more than hue (a dark solid badge against a pale one, and an icon of their own)."""

from __future__ import annotations

import re

from crawler.report.html.page import asset, render_html
from tests.support.audit_support import batch, config, run_records, summarize

SEVERITIES = ("high", "medium", "low", "info")
PAGE_BACKGROUNDS = ("#ffffff", "#fafbfc")  # the paper, and a table's striped row


def variables() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", asset("report.css").text, re.S)
    assert root is not None
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root.group(1)))


def luminance(colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    x, y = sorted((luminance(a), luminance(b)), reverse=True)
    return (x + 0.05) / (y + 0.05)


def test_the_contrast_formula() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic "just fails AA" grey


def test_every_badge_and_severity_text_is_readable() -> None:
    v = variables()
    for sev in SEVERITIES:
        assert contrast(v[f"{sev}-ink"], v[f"{sev}-fill"]) >= 4.5, sev
        for background in PAGE_BACKGROUNDS:
            assert contrast(v[sev], background) >= 4.5, (sev, background)


def test_high_and_medium_differ_by_more_than_hue() -> None:
    v = variables()
    # one badge dark with light ink, the other pale with dark ink: far apart in lightness
    assert contrast(v["high-fill"], v["medium-fill"]) >= 3.0
    assert luminance(v["high-ink"]) > luminance(v["high-fill"])
    assert luminance(v["medium-ink"]) < luminance(v["medium-fill"])
    # each badge carries its own icon beside its label
    html = render_html(summarize(run_records([batch(config(retries=0)), batch(config(), function="f")])))
    badge = r'<span class="badge sev-(\w+)"><span class="icon" aria-hidden="true">(.)</span>\1</span>'
    badges = set(re.findall(badge, html))
    icons = dict(badges)
    assert len(badges) == len(icons) == 4  # every severity, each with one icon
    assert len(set(icons.values())) == 4
    assert (icons["high"], icons["medium"]) == ("\u25b2", "\u25c6")
