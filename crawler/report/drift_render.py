"""A ``DriftReport`` for people and programs: a plain-text table, JSON, or Markdown for a ticket.

Pure functions of the report, like ``crawler.report.render`` for the audit. The table and Markdown list every
change (a diff that hides changes is not a diff); added and removed configs are listed by key, changed
ones field by field, ``old → new``. JSON carries everything, including the fields of added and removed
configs; a field absent on one side has no ``old`` (or ``new``) key.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import orjson

from crawler.audit.drift import ABSENT, ConfigChange, DriftReport, FindingChange
from crawler.report import markdown

DiffFormat = Literal["table", "json", "markdown"]
DIFF_FORMATS: Final = ("table", "json", "markdown")


def render_diff(report: DriftReport, fmt: DiffFormat) -> str:
    if fmt == "json":
        return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "table":
        return _table(report)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(DIFF_FORMATS)})")


def headline(report: DriftReport) -> str:
    c = report.counts()
    if not report.drifted:
        text = f"No drift from {report.old} to {report.new}"
    else:
        text = (
            f"Drift from {report.old} to {report.new}: {c['added']} added, {c['removed']} removed, "
            f"{c['changed']} changed config(s); {c['newFindings']} new, {c['resolvedFindings']} resolved "
            "finding(s)"
            + (f" ({c['supersededFindings']} superseded by a worse rule)" if c["supersededFindings"] else "")
        )
    if report.unverified_configs or report.unverified_findings:
        text += (
            f" ({report.unverified_configs} config(s) and {report.unverified_findings} finding(s) could "
            "not be compared: a listing failed or only one crawl covered them)"
        )
    return text


def _value(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    if isinstance(value, str):
        return value if value else '""'
    return orjson.dumps(value).decode()


def _where(change: ConfigChange) -> str:
    account, region, service, function, qualifier = change.key
    return f"{account} {region} {service}/{function} {qualifier}"


def _finding_where(change: FindingChange) -> str:
    f = change.finding
    qualifier = f":{f.qualifier}" if f.qualifier else ""
    return f"{f.account} {f.region} {f.service}/{f.function}{qualifier}"


def _succession(change: FindingChange) -> str:
    """ "superseded by RULE (severity, id)" or "supersedes RULE (...)", or ""."""
    other = change.superseded_by or change.supersedes
    if other is None:
        return ""
    verb = "superseded by" if change.superseded_by is not None else "supersedes"
    return f"{verb} {other.rule_id} ({other.severity.label}, {other.finding_id})"


def _table(report: DriftReport) -> str:
    lines = [headline(report)]
    lines += [f"warning: {w}" for w in report.warnings]
    for title, changes in (
        ("Added configs", report.added),
        ("Removed configs", report.removed),
        ("Changed configs", report.changed),
    ):
        if not changes:
            continue
        lines += ["", f"{title} ({len(changes)})"]
        for change in changes:
            lines.append(f"  {_where(change)}")
            if change.kind == "changed":
                lines += [f"      {f.path}: {_value(f.old)} → {_value(f.new)}" for f in change.fields]
    for title, findings in (
        ("New findings", report.new_findings),
        ("Resolved findings", report.resolved_findings),
    ):
        if not findings:
            continue
        lines += ["", f"{title} ({len(findings)})"]
        for found in findings:
            f = found.finding
            lines.append(f"  {f.severity.label:<6} {f.rule_id}  {_finding_where(found)}  {f.finding_id}")
            lines.append(f"      {f.message}")
            if _succession(found):
                lines.append(f"      {_succession(found)}")
    return "\n".join(lines) + "\n"


def _markdown(report: DriftReport) -> str:
    lines = ["## Drift", "", headline(report) + "."]
    lines += [f"> warning: {markdown.text(w)}" for w in report.warnings]
    key_header = ("account", "region", "service", "function", "qualifier")
    for title, changes in (("Added configs", report.added), ("Removed configs", report.removed)):
        if changes:
            lines += ["", f"### {title} ({len(changes)})", ""]
            lines += markdown.table(key_header, (c.key for c in changes))
    if report.changed:
        lines += ["", f"### Changed configs ({len(report.changed)})", ""]
        field_rows = [
            (*c.key, markdown.code(f.path), _value(f.old), _value(f.new))
            for c in report.changed
            for f in c.fields
        ]
        lines += markdown.table((*key_header, "field", "old", "new"), field_rows)
    for title, findings in (
        ("New findings", report.new_findings),
        ("Resolved findings", report.resolved_findings),
    ):
        if findings:
            lines += ["", f"### {title} ({len(findings)})", ""]
            found = [
                (
                    c.finding.severity.label,
                    markdown.code(c.finding.rule_id),
                    _finding_where(c),
                    c.finding.message,
                    _succession(c),
                )
                for c in findings
            ]
            lines += markdown.table(("severity", "rule", "where", "message", "succession"), found)
    return "\n".join(lines) + "\n"
