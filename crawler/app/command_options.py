"""One module per ``fcaudit`` subcommand; each exposes ``register(subparsers)``.

Flags that several commands share are declared here once, so they read and behave the same everywhere.
"""

from __future__ import annotations

from typing import Any

from crawler.audit.rules import FAIL_ON_CHOICES


def add_fail_on(parser: Any) -> None:
    """``--fail-on``: resolved by ``audit.rules.resolve_fail_on`` (the flag, else ``[audit] fail_on``)."""
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
