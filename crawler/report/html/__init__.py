"""The audit as one self-contained HTML page: ``render_html`` and ``write_html`` (``page``).

``page`` renders the Jinja2 template (autoescape on) with its inlined CSS and script under a strict
content security policy; ``overview``, ``sections`` and ``charts`` turn the report model into what the
template shows (SVG charts, no network); ``worklist`` keeps every finding, compact, for the page's
worklist (a finding sink the commands feed). Importing any of them loads ``page`` and Jinja2 anyway.
"""

from crawler.report.html.page import render_html, write_html

__all__ = ["render_html", "write_html"]
