"""Flags that several commands share, declared once so they read and behave the same everywhere.

Argument parsing only: what the flags mean is ``crawler.app.outputs`` (policy, threshold, outputs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.app.outputs import FAIL_ON_CHOICES, FINDINGS_FORMATS, SEVERITY_LABELS


def add_fail_on(parser: Any) -> None:
    """``--fail-on``: resolved by ``audit.policy.resolve_fail_on`` (the flag, else ``[audit] fail_on``)."""
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        default=None,
        help="exit 1 when a finding is at least this severe ('none': never; default: the config "
        "file's [audit] fail_on, else never)",
    )


def add_follow_symlinks(parser: Any) -> None:
    """``--follow-symlinks``: ``crawler.app.output_paths`` refuses an output that is a link without it."""
    parser.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="an output path that is a symbolic link is written at the link's target (default: refused)",
    )


def add_audit_config(parser: Any, *, only_audit: bool = True) -> None:
    """``--config``: the TOML config file; commands that do not crawl read only its ``[audit]`` table."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML config file; only its [audit] table is used" if only_audit else "TOML config file",
    )


def add_finding_selection(parser: Any) -> None:
    """``--rule``/``--exclude-rule``/``--severity``/``--exclude-severity``: which rules run
    (``AuditPolicy.select``), on every command that audits (``add_audit_outputs`` adds them)."""
    parser.add_argument(
        "--rule", action="append", default=[], metavar="GLOB", help="only the rules these globs name (repeat)"
    )
    parser.add_argument(
        "--exclude-rule", action="append", default=[], metavar="GLOB", help="not the rules these globs name"
    )
    parser.add_argument(
        "--severity",
        action="append",
        default=[],
        choices=SEVERITY_LABELS,
        help="only the rules of this severity (repeat for several)",
    )
    parser.add_argument(
        "--exclude-severity", action="append", default=[], choices=SEVERITY_LABELS, help="not this severity"
    )


def add_audit_outputs(parser: Any, *, whose: str = "the audit") -> None:
    """The four audit outputs, the same on every command that audits (``crawler.app.outputs``), the
    findings file's format, and which rules run (``add_finding_selection``)."""
    parser.add_argument(
        "--summary", metavar="FILE", type=Path, help=f"write {whose}'s summary to FILE as JSON"
    )
    parser.add_argument(
        "--findings",
        metavar="FILE",
        type=Path,
        help=f"write every finding of {whose} to FILE (NDJSON; CSV for *.csv, OCSF JSON for *.ocsf.json)",
    )
    parser.add_argument(
        "--findings-format",
        choices=FINDINGS_FORMATS,
        default=None,
        help="the format of --findings (default: from its suffix, else ndjson)",
    )
    parser.add_argument(
        "--report", metavar="FILE", type=Path, help=f"write {whose} to FILE as a self-contained HTML page"
    )
    parser.add_argument(
        "--metrics",
        metavar="FILE",
        type=Path,
        help=f"write {whose}'s Prometheus metrics to FILE (node_exporter textfile collector)",
    )
    add_finding_selection(parser)


def add_triggers(parser: Any, *, config_file: bool = True) -> None:
    """``--triggers``: every command that crawls (``[crawl] triggers = true`` in the config file too, for
    the commands that read one)."""
    default = "[crawl] triggers, else off" if config_file else "off"
    parser.add_argument(
        "--triggers",
        action="store_true",
        default=None,
        help="also list each function's triggers (one more listing per function) and record its async "
        f"exposure: async, sync or unknown (default: {default})",
    )


def add_emulated_role(parser: Any, *, what: str) -> None:
    """``--role`` and ``--session-seconds`` of the commands that serve an emulated account (``demo``,
    ``emulator``): the emulator also serves STS with a central RAM user and a role in that account."""
    parser.add_argument(
        "--role",
        action="store_true",
        help=f"{what} through a role, as an estate is audited: the emulator also serves STS, with a central "
        "RAM user and a read-only role in the emulated account that trusts it (with an external id)",
    )
    parser.add_argument(
        "--session-seconds",
        type=float,
        metavar="SECONDS",
        help="with --role: how long each role session lasts (default 3600; at least 5; a few seconds "
        "shows credentials being refreshed)",
    )


def add_brief(parser: Any) -> None:
    """``--brief``: the short summary (``report.render.render_brief``) instead of the full table."""
    parser.add_argument(
        "--brief",
        action="store_true",
        help="print only the verdict, the headline figures and the top findings (at most 25 lines) "
        "and where the full report is, instead of the full table",
    )
