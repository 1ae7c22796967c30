"""Markdown (GitHub-flavoured) for the audit and drift reports: one escaper, code spans, tables.

Values come from the input (names, ARNs, messages quoting config values), so none is written raw:
``text`` escapes every character that would start inline markup, end a table cell or the row, and
``code`` makes a code span that holds whatever it is given. A cell therefore always reads as its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

#: what ``text`` puts a backslash before: the escape itself, code, emphasis, strikethrough, links and
#: images, HTML and entities, and the table's cell separator
ESCAPED: Final = "\\`*_~[]<>&|"
_TEXT: Final = {ord(c): "\\" + c for c in ESCAPED} | {ord("\n"): " ", ord("\r"): " "}


def text(value: object) -> str:
    """``value`` as plain text in a table cell or a list item: markup escaped, line breaks as spaces."""
    return str(value).translate(_TEXT)


class Code(str):
    """A cell already made a code span by ``code``: ``table`` writes it as is."""

    __slots__ = ()


def code(value: object) -> Code:
    """``value`` as a code span (shown verbatim, in a monospace font). Backslashes cannot escape inside
    one, so the fence is one backtick longer than the longest run of backticks in the value; a pipe
    still needs its backslash, which GFM removes before it reads the span."""
    raw = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    longest = run = 0
    for c in raw:
        run = run + 1 if c == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if raw.startswith(("`", " ")) or raw.endswith(("`", " ")) else ""
    inner = raw.replace("|", "\\|")
    return Code(f"{fence}{pad}{inner}{pad}{fence}")


def _cell(value: object) -> str:
    return value if isinstance(value, Code) else text(value)


def table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> list[str]:
    """A table's lines; every cell through ``text`` unless it is a ``Code``."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
