"""The audit for people and programs: renderers of the report model, and the files they write.

``render`` (table, JSON, Markdown, the findings file), ``drift_render`` (a drift report as text, JSON,
Markdown), ``markdown`` (the one Markdown escaper, code spans and tables of both), ``prometheus`` (the
textfile for node_exporter) and ``html`` (the self-contained page, Jinja2). Imports ``audit`` and
``store`` only. Nothing is re-exported here on purpose: ``html`` loads Jinja2, which a run imports only
when it writes a page.
"""
