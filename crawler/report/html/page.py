"""The audit as one self-contained HTML file: for people who will not read NDJSON or a terminal table.

Jinja2 renders it (``templates/report.html.j2`` beside it) with autoescaping on for every template, so a
service called ``<script>alert(1)</script>`` is shown as text, never run; a ``finalize`` hook also turns
invisible and direction-changing characters (controls, bidi overrides) into visible ``\\uXXXX`` escapes
so a name cannot hide or reorder what is printed next to it. Styles and the one script (the worklist's
filter, search and pages; sorting the services table; unfolding everything for printing) are inlined
from ``templates/``; charts are inline SVG (``crawler.report.html.charts``). Every finding travels as
one JSON document in a ``<script type="application/json">`` element, which is data, never run
(``crawler.report.html.worklist``). Nothing is fetched: the page carries a Content-Security-Policy that
allows no network at all and only our own style and script, by hash — so even a bug in escaping could
not run a script or load anything.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from crawler import __version__
from crawler.audit.report_model import AuditReport
from crawler.report.html.charts import COLUMN_WIDTH
from crawler.report.html.overview import number
from crawler.report.html.sections import build_view
from crawler.report.html.worklist import Worklist, shown
from crawler.store.atomic_file import write_atomically

TEMPLATE: Final = "report.html.j2"


def visible(value: object) -> object:
    """Jinja's ``finalize``: every ``{{ value }}`` passes here before it is escaped. ``None`` prints as
    nothing; characters that would be invisible or reorder the text print as ``\\uXXXX``."""
    if value is None:
        return ""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return shown(value)


@dataclass(frozen=True, slots=True)
class Asset:
    """A file inlined into the page, and its CSP source expression (``'sha256-…'``)."""

    text: Markup
    csp: str


@cache
def asset(name: str) -> Asset:
    text = resources.files("crawler.report.html").joinpath("templates", name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Asset(Markup(text), f"'sha256-{digest}'")


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("crawler.report.html", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=visible,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = number
    return env


def content_security_policy(style: Asset, script: Asset) -> str:
    """No network, no plugins, no forms; only our inline style and script (by hash) and data: icons."""
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src {style.csp}",
            f"script-src {script.csp}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def render_html(report: AuditReport, *, source: str | None = None, worklist: Worklist | None = None) -> str:
    """The whole page as text. ``source``: where the records came from (a file name), if worth saying;
    ``worklist``: every finding of the audit (without it the page lists the report's listed findings)."""
    style, script = asset("report.css"), asset("report.js")
    view = build_view(report, source=source, worklist=worklist)
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            view=view,
            # already safe inside <script type="application/json"> (no "<", ">" or "&" in it)
            worklist_data=Markup(view.worklist_data),
            style=style.text,
            script=script.text,
            csp=content_security_policy(style, script),
            version=__version__,
            chart_width=COLUMN_WIDTH,
        )
    )


def write_html(
    report: AuditReport,
    path: Path,
    *,
    source: str | None = None,
    what: str = "--report",
    worklist: Worklist | None = None,
) -> None:
    """Write the report to ``path`` atomically (a reader never sees half a page)."""
    page = render_html(report, source=source, worklist=worklist)
    write_atomically(path, page.encode("utf-8"), what=what)
