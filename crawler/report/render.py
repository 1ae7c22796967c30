"""The audit report for people and programs: a terminal table, versioned JSON, Markdown, HTML, findings.

Every format is a pure function of ``AuditReport`` (no fold internals), so adding one is local. The
table is built with rich and exported as plain text at a given width (80 columns stays readable);
JSON is ``AuditReport.to_dict()`` as is (its ``schemaVersion`` documents the shape); Markdown uses the
same sections as the table, for a ticket or a pull request; HTML is the self-contained page of
``crawler.report.html.page``. Findings files are written atomically.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal

import orjson
from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from crawler.audit.report_model import AGE_KEYS, AGE_LABELS, RETRY_KEYS, AuditReport, Figures, ServiceFigures
from crawler.audit.rollup import FunctionRollup, fix_first, rollup
from crawler.audit.rules import RULE_TITLES, Finding, Severity
from crawler.report import markdown
from crawler.store.atomic_file import AtomicFile

if TYPE_CHECKING:
    from crawler.report.html.worklist import Worklist

Format = Literal["table", "json", "markdown", "html"]
#: the formats of a text on stdout; a command that writes the HTML page with ``--report`` offers these
TEXT_FORMATS: Final = ("table", "json", "markdown")
FORMATS: Final = (*TEXT_FORMATS, "html")
LISTED_FINDINGS: Final = 20
#: functions in the per-function roll-up of the table and Markdown
LISTED_FUNCTIONS: Final = 20
LISTED_SERVICES: Final = 15
LISTED_PROBLEMS: Final = 10

_COVERAGE = (
    ("both", "both"),
    ("successOnly", "success only"),
    ("failureOnly", "failure only"),
    ("none", "none"),
)
_KINDS = (
    ("mns-queue", "MNS queue"),
    ("mns-topic", "MNS topic"),
    ("fc-function", "FC function"),
    ("eventbridge", "EventBridge"),
    ("rocketmq", "RocketMQ"),
    ("unknown", "unknown"),
    ("malformed", "malformed"),
)


def render(
    report: AuditReport,
    fmt: Format,
    *,
    width: int = 80,
    source: str | None = None,
    worklist: Worklist | None = None,
) -> str:
    """``source``: where the records came from, named in the HTML page; ``worklist``: every finding, for
    the page's worklist (the other formats ignore both)."""
    if fmt == "html":
        from crawler.report.html.page import render_html  # Jinja2 and the templates: only for HTML

        return render_html(report, source=source, worklist=worklist)
    if fmt == "json":
        return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "table":
        return _table(report, width)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


# --- shared wording ---------------------------------------------------------------------------------
def _status_line(report: AuditReport) -> str:
    state = "complete" if report.complete else "INCOMPLETE (see problems)"
    runs = len(report.runs)
    return f"fcaudit audit: {state}; {report.lines:,} lines, {runs} run(s)"


def _target(f: Finding) -> str:
    q = f":{f.qualifier}" if f.qualifier else ""
    return f"{f.service}/{f.function}{q}"


def _settings_rows(t: Figures) -> list[tuple[str, str, str]]:
    """(group, label, value) rows for the destination/stateful section."""
    rows = [("coverage", label, f"{t.destination_coverage[k]:,}") for k, label in _COVERAGE]
    shown = t.to_dict()  # kinds as the JSON shows them (fc2 + fc3 read as one fc-function)
    by_kind, forms = shown["destinationsByKind"], shown["fcFunctionForms"]
    for key, label in _KINDS:
        extra = (
            f" (2.0: {forms['fc2']:,}, 3.0: {forms['fc3']:,})"
            if key == "fc-function" and by_kind[key]
            else ""
        )
        rows.append(("kind", label, f"{by_kind[key]:,}{extra}"))
    rows.append(("where", "other region", f"{t.cross_region:,}"))
    rows.append(("where", "other account", f"{t.cross_account:,}"))
    on, off, bad = t.stateful["on"], t.stateful["off"], t.stateful["invalid"]
    rows.append(("stateful", "on / off", f"{on:,} / {off:,}" + (f" ({bad:,} invalid)" if bad else "")))
    return rows


def _ranked_services(report: AuditReport) -> list[ServiceFigures]:
    def key(s: ServiceFigures) -> tuple[int, ...]:
        f = s.figures.findings_by_severity
        return (-f["high"], -f["medium"], -f["low"], -f["info"], -s.figures.functions)

    return sorted(report.services, key=key)[:LISTED_SERVICES]


def _rollup_target(r: FunctionRollup) -> str:
    return r.target


def _fix_caption(report: AuditReport, first: list[FunctionRollup]) -> str:
    high = [r for r in first if r.severity == Severity.HIGH]
    if high:
        return f"the functions with a high finding ({len(high)} shown): each loses events or loops"
    return "no high finding: the most severe functions"


def _rollup_caption(report: AuditReport, shown: int) -> str:
    listed = len({f.key for f in report.findings})
    text = f"{shown:,} of {report.functions_with_findings:,} functions with findings, most severe first"
    if listed < report.functions_with_findings:
        text += f" (from the {len(report.findings):,} findings listed; --findings FILE writes all)"
    return text


# --- table (rich) -----------------------------------------------------------------------------------
def _new_table(title: str, *columns: str, caption: str | None = None) -> Table:
    table = Table(
        title=title, caption=caption, box=box.SIMPLE_HEAD, title_justify="left", caption_justify="left"
    )
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right", overflow="fold")
    return table


def _overview(report: AuditReport) -> Table:
    t = report.totals
    table = _new_table("Overview", "figure", "count")
    for column in table.columns:
        column.justify = "left"
    status = ", ".join(f"{k} {v:,}" for k, v in t.functions_by_status.items())
    quals = ", ".join(f"{k} {v:,}" for k, v in t.qualifiers.items())
    table.add_row("accounts / regions", f"{len(report.accounts):,} / {len(report.regions):,}")
    table.add_row("services", f"{report.services_total:,}" + ("+" if report.services_truncated else ""))
    table.add_row("functions", f"{t.functions:,} ({status})")
    table.add_row("configs", f"{t.configs:,} ({quals})")
    table.add_row("no config (defaults)", f"{t.on_defaults:,}: counted as 3 retries, 1 day, no destinations")
    if report.error_codes:
        table.add_row("error codes", ", ".join(f"{k} {v:,}" for k, v in report.error_codes.items()))
    sev = ", ".join(f"{s.label} {t.findings_by_severity[s.label]:,}" for s in sorted(Severity, reverse=True))
    table.add_row("findings", f"{report.findings_total:,} ({sev})")
    table.add_row("functions with findings", f"{report.functions_with_findings:,}")
    if t.suppressed:
        table.add_row("suppressed", f"{t.suppressed:,}")
    table.add_row("problems", f"{report.problems_total:,}")
    return table


def _distributions(t: Figures) -> list[Table]:
    note = f"{t.units:,} settings (configs + functions on defaults)"
    retries = _new_table(
        "Retry attempts (maxAsyncRetryAttempts)",
        *RETRY_KEYS[:9],
        "out",
        caption=f"{note}; {t.retry_attempts_defaulted:,} unset, counted as 3",
    )
    retries.add_row(*(f"{t.retry_attempts[k]:,}" for k in RETRY_KEYS))
    ages = _new_table(
        "Max event age (maxAsyncEventAgeInSeconds)",
        *AGE_LABELS,
        caption=f"{t.max_event_age_defaulted:,} unset, counted as 1 day",
    )
    ages.add_row(*(f"{t.max_event_age[k]:,}" for k in AGE_KEYS))
    for table in (retries, ages):
        for column in table.columns:
            column.justify = "right"
    dest = _new_table("Destinations and stateful invocation", "", "", "count")
    for group, label, value in _settings_rows(t):
        dest.add_row(group, label, value)
    return [retries, ages, dest]


def _finding_tables(report: AuditReport) -> list[Table]:
    tables = []
    if report.findings_by_rule or report.suppressed_by_rule:
        rules = _new_table("Findings by rule", "rule", "severity", "count", "suppressed")
        ids = set(report.findings_by_rule) | set(report.suppressed_by_rule)
        for rule_id in sorted(ids, key=lambda r: (-report.policy.severities[r], r)):
            rules.add_row(
                rule_id,
                report.policy.severities[rule_id].label,
                f"{report.findings_by_rule.get(rule_id, 0):,}",
                f"{report.suppressed_by_rule.get(rule_id, 0):,}",
            )
        tables.append(rules)
    rows = rollup(report.findings)
    if rows:
        first = fix_first(rows)
        fix = _new_table("Fix these first", "#", "function", "why", caption=_fix_caption(report, first))
        for column in fix.columns:
            column.justify = "left"
        for i, r in enumerate(first, 1):
            fix.add_row(str(i), _rollup_target(r), f"{r.severity.label}: {', '.join(r.rules)}\nfix: {r.fix}")
        tables.append(fix)
        shown = rows[:LISTED_FUNCTIONS]
        listing = _new_table(
            "Findings per function",
            "severity",
            "function",
            "rules",
            "qualifiers",
            "n",
            caption=_rollup_caption(report, len(shown)),
        )
        for column in listing.columns[:4]:
            column.justify = "left"
        for r in shown:
            listing.add_row(
                r.severity.label,
                _rollup_target(r),
                "\n".join(r.rules),
                ", ".join(r.qualifiers),
                f"{r.findings:,}",
            )
        tables.append(listing)
    return tables


def _services_table(report: AuditReport) -> Table:
    caption = (
        f"{LISTED_SERVICES} of {len(report.services):,}" if len(report.services) > LISTED_SERVICES else None
    )
    table = _new_table(
        "Services (most findings first)",
        "service",
        "functions",
        "configs",
        "defaults",
        "high",
        "med",
        "low",
        "info",
        caption=caption,
    )
    for s in _ranked_services(report):
        figures = s.figures
        fs = figures.findings_by_severity
        table.add_row(
            s.service,
            f"{figures.functions:,}",
            f"{figures.configs:,}",
            f"{figures.on_defaults:,}",
            *(f"{fs[k]:,}" for k in ("high", "medium", "low", "info")),
        )
    return table


def _longest_token(cells: Iterable[object]) -> int:
    return max((len(token) for cell in cells for token in str(cell).split()), default=1)


def _fit(console: Console, table: Table) -> RenderableType:
    """``table`` as it fits the console without breaking a word, an id or an ARN inside: each column at
    least as wide as its longest token. When those widths do not fit side by side, the last two columns
    become one, each cell the two stacked (a finding's target, rule and message on lines of their own
    rather than cut in the middle), until the table fits; a table of figures instead lists each row as
    its name over its figures. A token wider than the whole console is the only thing ever folded."""
    while True:
        for column in table.columns:
            column.min_width = min(_longest_token([column.header, *column.cells]), console.width)
        if len(table.columns) < 2 or _narrowest(table) <= console.width:
            return table
        if all(_FIGURES.fullmatch(str(cell)) for cell in table.columns[-1].cells):
            return _as_records(table)
        table = _stack_last_columns(table)


#: a cell of figures only (``1,234``, ``0 / 3``): stacking two such columns would read as one number
_FIGURES: Final = re.compile(r"[\d,.\s/()%+-]*")


def _as_records(table: Table) -> RenderableType:
    """Each row as its first cell on a line of its own, then ``header value`` for the others."""
    headers = [str(column.header) for column in table.columns]
    parts: list[RenderableType] = []
    if table.title:
        parts.append(Text(str(table.title)))
    for first, *rest in zip(*(list(column.cells) for column in table.columns), strict=True):
        parts.append(Padding(Text(str(first)), (0, 0, 0, 2)))
        figures = " · ".join(f"{h} {v}" for h, v in zip(headers[1:], rest, strict=True))
        parts.append(Padding(Text(figures), (0, 0, 0, 4)))
    if table.caption:
        parts.append(Text(str(table.caption)))
    parts.append(Text(""))
    return Group(*parts)


def _narrowest(table: Table) -> int:
    """The table's width with every column at its ``min_width``: the columns, their padding (one space
    each side) and the box's edges and separators (one character each)."""
    columns = table.columns
    edges = (2 if table.show_edge else 0) + len(columns) - 1 if table.box is not None else 0
    return sum(column.min_width or 0 for column in columns) + 2 * len(columns) + edges


def _stack_last_columns(table: Table) -> Table:
    """A copy of ``table`` whose last two columns are one: header ``a / b``, each cell ``a`` over ``b``."""
    *keep, left, right = table.columns
    stacked = Table(
        title=table.title,
        caption=table.caption,
        box=table.box,
        title_justify=table.title_justify,
        caption_justify=table.caption_justify,
    )
    for column in keep:
        stacked.add_column(column.header, justify=column.justify, overflow="fold")
    header = (
        f"{left.header} / {right.header}" if left.header and right.header else left.header or right.header
    )
    stacked.add_column(header, justify="left", overflow="fold")
    rows = zip(*(list(column.cells) for column in keep), left.cells, right.cells, strict=True)
    for *cells, a, b in rows:
        stacked.add_row(*cells, "\n".join(str(x) for x in (a, b) if str(x)))
    return stacked


def _table(report: AuditReport, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False, highlight=False)

    def print_fitted(table: Table) -> None:
        console.print(_fit(console, table))

    console.print(_status_line(report))
    print_fitted(_overview(report))
    for table in _distributions(report.totals):
        print_fitted(table)
    if report.top_destinations:
        exact = (
            None
            if report.destinations_exact
            else "approximate: too many distinct destinations to count exactly"
        )
        top = _new_table("Most referenced destinations", "refs", "kind", "destination", caption=exact)
        top.columns[2].justify = "left"
        for d in report.top_destinations:
            top.add_row(f"{d.count:,}", d.kind, d.destination)
        top.columns[0].justify = "right"
        print_fitted(top)
    for table in _finding_tables(report):
        print_fitted(table)
    if report.services:
        print_fitted(_services_table(report))
    if report.problems:
        console.print(f"Problems ({report.problems_total:,}):")
        for p in report.problems[:LISTED_PROBLEMS]:
            console.print(f"  - {p}", overflow="fold")
    return out.getvalue()


# --- brief ------------------------------------------------------------------------------------------
#: the most lines ``render_brief`` prints
BRIEF_LINES: Final = 25
#: the rules ``render_brief`` lists with their counts (the rest are counted in one line)
BRIEF_RULES: Final = 6


def _clip(text: str, width: int) -> str:
    """One line of at most ``width`` characters: cut with an ellipsis, never wrapped."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def render_brief(
    report: AuditReport,
    *,
    width: int = 80,
    fail_on: Severity | None = None,
    full: str | None = None,
    lines: int = BRIEF_LINES,
) -> str:
    """The verdict, the headline figures and the top findings in at most ``lines`` lines (25), each at
    most ``width`` wide; ``full``: where the whole audit is (a path, or a command), said last."""
    t = report.totals
    sev = t.findings_by_severity
    if not report.complete:
        verdict = f"INCOMPLETE: {report.problems_total:,} problem(s); the audit covers what was crawled"
    elif fail_on is not None and report.fails(fail_on):
        verdict = f"FAIL: findings at or above {fail_on.label} (--fail-on)"
    elif report.findings_total:
        verdict = "findings to review" + (f"; none at or above {fail_on.label}" if fail_on else "")
    else:
        verdict = "clean: no findings"
    counts = ", ".join(f"{sev[s.label]:,} {s.label}" for s in sorted(Severity, reverse=True) if sev[s.label])
    status = ", ".join(f"{n:,} {k}" for k, n in t.functions_by_status.items() if n or k == "error")
    head = [
        f"fcaudit: {verdict}",
        f"  {t.functions:,} functions ({status or 'none'}), {t.configs:,} configs",
        f"  {report.services_total:,} services, {len(report.accounts):,} account(s), "
        f"{len(report.regions):,} region(s)",
        f"  findings {report.findings_total:,}" + (f" ({counts})" if counts else ""),
    ]
    if report.problems_total:
        head.append(f"  problems {report.problems_total:,}: {report.problems[0]}")
    by_rule = report.findings_by_rule
    rules = sorted(by_rule, key=lambda r: (-report.policy.severities[r], -by_rule[r], r))
    body: list[str] = []
    if rules:
        body.append("by rule:")
        for rule_id in rules[:BRIEF_RULES]:
            label = report.policy.severities[rule_id].label
            body.append(f"  {label:<6} {by_rule[rule_id]:>7,}  {rule_id}")
        if len(rules) > BRIEF_RULES:
            body.append(f"  ... and {len(rules) - BRIEF_RULES} more rule(s)")
    tail = [f"full report: {full}"] if full else []
    room = lines - len(head) - len(body) - len(tail) - 1  # one line for the findings' heading
    shown = report.findings[: max(room // 2, 0)]
    if shown:
        more = f" of {report.findings_total:,}" if report.findings_total > len(shown) else ""
        body.append(f"top {len(shown)}{more} findings, most severe first:")
        for finding in shown:
            body.append(f"  {finding.severity.label:<6} {_target(finding)}")
            body.append(f"         {finding.rule_id}: {finding.message}")
    # the path is never cut: a long one overflows the line rather than lose its end
    return "\n".join([*(_clip(line, width) for line in head + body), *tail]) + "\n"


# --- markdown ---------------------------------------------------------------------------------------
def _md_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    return [*markdown.table(header, rows), ""]


def _markdown(report: AuditReport) -> str:
    t = report.totals
    lines = ["## fcaudit audit", "", f"**{_status_line(report)}**", ""]
    lines += [f"> note: {markdown.text(note)}" for note in report.notes] + ([""] if report.notes else [])
    lines += _md_table(
        ["figure", "count"],
        [
            ["accounts", len(report.accounts)],
            ["regions", len(report.regions)],
            ["services", report.services_total],
            ["functions", t.functions],
            *[[f"functions: {k}", v] for k, v in t.functions_by_status.items()],
            ["configs", t.configs],
            *[[f"qualifiers: {k}", v] for k, v in t.qualifiers.items()],
            ["functions on platform defaults", t.on_defaults],
            ["findings", report.findings_total],
            ["functions with findings", report.functions_with_findings],
            ["problems", report.problems_total],
        ],
    )
    lines += ["### Retry attempts", ""]
    lines += _md_table([*RETRY_KEYS[:9], "out of range"], [[t.retry_attempts[k] for k in RETRY_KEYS]])
    lines += ["### Max event age", ""]
    lines += _md_table(AGE_LABELS, [[t.max_event_age[k] for k in AGE_KEYS]])
    lines += [
        f"{t.units} settings: {t.configs} configs and {t.on_defaults} functions with no config "
        "(platform defaults). Unset fields counted at their defaults: maxAsyncRetryAttempts "
        f"{t.retry_attempts_defaulted}, maxAsyncEventAgeInSeconds {t.max_event_age_defaulted}.",
        "",
    ]
    lines += ["### Destinations and stateful invocation", ""]
    lines += _md_table(["", "", "count"], _settings_rows(t))
    if report.top_destinations:
        lines += ["### Most referenced destinations", ""]
        lines += _md_table(
            ["destination", "kind", "refs"],
            [[d.destination, d.kind, d.count] for d in report.top_destinations],
        )
    if report.findings_by_rule or report.suppressed_by_rule:
        lines += ["### Findings by rule", ""]
        ids = sorted(
            set(report.findings_by_rule) | set(report.suppressed_by_rule),
            key=lambda r: (-report.policy.severities[r], r),
        )
        lines += _md_table(
            ["rule", "severity", "count", "suppressed", "what it means"],
            [
                [
                    r,
                    report.policy.severities[r].label,
                    report.findings_by_rule.get(r, 0),
                    report.suppressed_by_rule.get(r, 0),
                    RULE_TITLES[r],
                ]
                for r in ids
            ],
        )
    rows = rollup(report.findings)
    if rows:
        first = fix_first(rows)
        lines += ["### Fix these first", "", f"_{markdown.text(_fix_caption(report, first))}_", ""]
        lines += [
            f"{i}. **{markdown.text(r.target)}** ({r.severity.label}: "
            f"{', '.join(markdown.code(rule) for rule in r.rules)}; {markdown.text(', '.join(r.qualifiers))})"
            f" — {markdown.text(r.fix)}"
            for i, r in enumerate(first, 1)
        ] + [""]
        shown = rows[:LISTED_FUNCTIONS]
        lines += [f"### Findings per function ({markdown.text(_rollup_caption(report, len(shown)))})", ""]
        lines += _md_table(
            ["severity", "function", "rules", "qualifiers", "findings"],
            [
                [r.severity.label, r.target, ", ".join(r.rules), ", ".join(r.qualifiers), r.findings]
                for r in shown
            ],
        )
    if report.services:
        lines += ["### Services (most findings first)", ""]
        lines += _md_table(
            ["service", "functions", "configs", "defaults", "high", "medium", "low", "info"],
            [
                [
                    s.service,
                    s.figures.functions,
                    s.figures.configs,
                    s.figures.on_defaults,
                    *(s.figures.findings_by_severity[k] for k in ("high", "medium", "low", "info")),
                ]
                for s in _ranked_services(report)
            ],
        )
    if report.problems:
        lines += [f"### Problems ({report.problems_total})", ""]
        lines += [f"- {markdown.text(p)}" for p in report.problems[:LISTED_PROBLEMS]] + [""]
    return "\n".join(lines)


# --- findings NDJSON --------------------------------------------------------------------------------
class FindingsFile:
    """Findings written one NDJSON line each as they are made, renamed into place whole on success."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file = AtomicFile(path, what="--findings")

    def write(self, finding: Finding) -> None:
        self._file.write(orjson.dumps(finding.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
        self.count += 1

    def __enter__(self) -> FindingsFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._file.__exit__(kind, exc, tb)


def write_findings(report: AuditReport, path: Path | str) -> int:
    """Write the report's listed findings as NDJSON (``--findings`` streams all of them instead)."""
    with FindingsFile(Path(path)) as out:
        for finding in report.findings:
            out.write(finding)
    return out.count
