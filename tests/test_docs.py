"""The README, CONTRIBUTING.md and docs/*.md hold together: every relative link (and its ``#anchor``)
resolves, and every ``fcaudit`` command shown in a fenced block parses with today's command line.

Links: ``[text](target)`` outside fenced blocks and code spans; a target with a scheme (``https:``,
``mailto:``) is not checked. An anchor is checked against the target's headings, slugged as GitHub does
(lower case, punctuation dropped, spaces to ``-``, ``-1``, ``-2`` for repeats).

Commands: in every fenced block, each shell command (``|``, ``&&``, ``||`` and ``;`` separate commands; a
line ending in ``\\`` continues; ``# comment`` ends the line) whose first word is ``fcaudit`` is parsed by
the real parser (``crawler.cli.main.build_parser``) — argparse only, nothing runs. In a YAML block, the lines
that follow an ``fcaudit`` line at its own indentation (a folded ``>-`` scalar) continue it. Conventions for
values a reader fills in: ``${NAME}`` and ``${{ expr }}`` (shell and GitHub Actions expressions) read as
``0``; ``...`` is an ordinary word. A line the reader is not meant to run verbatim does not start with
``fcaudit``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
EXPRESSION = re.compile(r"\$\{\{[^}]*\}\}|\$\{[^}]*\}")
SEPARATORS = {"|", "||", "&&", ";", "&"}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the first line inside the fence
    lang: str
    lines: tuple[str, ...]


def split_page(page: Path) -> tuple[list[tuple[int, str]], list[Block]]:
    """The page's prose lines (numbered) and its fenced blocks."""
    prose: list[tuple[int, str]] = []
    blocks: list[Block] = []
    fence: str | None = None
    lang, start = "", 0
    body: list[str] = []
    for number, line in enumerate(page.read_text("utf-8").splitlines(), 1):
        opened = FENCE.match(line)
        if fence is None and opened:
            fence, lang, start, body = opened.group(1), opened.group(2).lower(), number + 1, []
        elif fence is not None and line.strip().startswith(fence) and not line.strip()[len(fence) :].strip():
            blocks.append(Block(page, start, lang, tuple(body)))
            fence = None
        elif fence is not None:
            body.append(line)
        else:
            prose.append((number, line))
    assert fence is None, f"{page.name}: a fenced block opened at line {start - 1} is never closed"
    return prose, blocks


def slug(heading: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in split_page(page)[0]:
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    found.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", page.read_text("utf-8")))
    return found


def links(page: Path) -> list[tuple[int, str]]:
    return [
        (number, match.group(1))
        for number, line in split_page(page)[0]
        for match in LINK.finditer(CODE_SPAN.sub("", line))
    ]


def commands(block: Block) -> list[tuple[int, str]]:
    """The block's command lines, continuations joined, each with the line it starts on."""
    found: list[tuple[int, str]] = []
    lines = block.lines
    i = 0
    while i < len(lines):
        raw = lines[i]
        text = raw.strip().removeprefix("$ ").removeprefix("- run: ").removeprefix("run: ")
        start = i
        if not text or text.startswith("#"):
            i += 1
            continue
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + " " + lines[i].strip()
        if block.lang in {"yaml", "yml"} and text.startswith("fcaudit"):
            indent = len(raw) - len(raw.lstrip())
            while i + 1 < len(lines):
                follower = lines[i + 1]
                if not follower.strip() or len(follower) - len(follower.lstrip()) != indent:
                    break
                i += 1
                text += " " + follower.strip()
        found.append((block.line + start, text))
        i += 1
    return found


def fcaudit_argvs(text: str) -> list[list[str]]:
    """Each ``fcaudit ...`` command of a shell line, as the argv fcaudit would get (redirections dropped)."""
    if not re.search(r"(^|[|;&]\s*)fcaudit(\s|$)", text):  # "fcaudit: error: ..." is output, not a command
        return []  # another program's line (jq's quotes may span lines): not lexed
    lexer = shlex.shlex(EXPRESSION.sub("0", text), posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    argvs: list[list[str]] = []
    current: list[str] = []
    skip_next = False
    for token in lexer:
        if token in SEPARATORS:
            argvs.append(current)
            current = []
        elif set(token) <= set("<>&"):
            skip_next = True  # a redirection: its target is not an argument
            if current and current[-1].isdigit():
                current.pop()  # `2>` : the descriptor neither
        elif skip_next:
            skip_next = False
        else:
            current.append(token)
    argvs.append(current)
    return [argv[1:] for argv in argvs if argv and argv[0] == "fcaudit"]


def all_commands() -> list[tuple[str, list[str] | None]]:
    """Each ``fcaudit`` command shown, where it is, and its argv (``None``: not a shell line at all)."""
    found: list[tuple[str, list[str] | None]] = []
    for page in PAGES:
        for block in split_page(page)[1]:
            for number, text in commands(block):
                where = f"{page.relative_to(ROOT)}:{number}"
                try:
                    argvs = fcaudit_argvs(text)
                except ValueError as exc:  # an unclosed quote: reported, with its place, not a crash
                    found.append((f"{where}: {text[:80]} ({exc})", None))
                    continue
                found.extend((where, argv) for argv in argvs)
    return found


def test_the_pages_exist() -> None:
    names = {p.name for p in PAGES}
    for name in ("README.md", "records.md", "rules.md", "estates.md", "drift.md", "report.md", "emulator.md"):
        assert name in names
    for name in ("performance.md", "troubleshooting.md", "design.md", "crawling.md"):
        assert name in names


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = []
    checked = 0
    for page in PAGES:
        for number, target in links(page):
            if SCHEME.match(target):
                continue
            path_part, _, anchor = target.partition("#")
            resolved = (page.parent / path_part).resolve() if path_part else page
            where = f"{page.relative_to(ROOT)}:{number}: {target}"
            checked += 1
            if not resolved.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{where} (no heading #{anchor} in {resolved.name})")
    assert checked > 30  # the pages do link to each other: a parser that finds nothing is itself broken
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_fcaudit_command_shown_parses(capsys: pytest.CaptureFixture[str]) -> None:
    found = all_commands()
    assert len(found) > 20
    failures = []
    for where, argv in found:
        if argv is None:
            failures.append(f"{where}: not a shell command")
            continue
        try:
            build_parser(argv).parse_args(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):
                failures.append(f"{where}: fcaudit {shlex.join(argv)}: {capsys.readouterr().err.strip()}")
    assert not failures, "commands that do not parse:\n" + "\n".join(failures)


def test_the_checker_catches_a_bad_flag_a_bad_link_and_reads_continuations(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n\n## A `flag` & more\n\nSee [x](#a-flag--more), [y](#nowhere) and [z](missing.md).\n\n"
        "```sh\nfcaudit crawl --account 1 \\\n  --region cn-hangzhou  # a comment\n"
        "cat x | fcaudit summarize - > out.txt 2>&1\n"
        "fcaudit: refused: the key's secret (output, not a command)\n```\n\n"
        "```yaml\n- run: >-\n    fcaudit merge -o all.ndjson shard-${{ matrix.shard }}.ndjson\n"
        "    --fail-on high\n"
        "  env: {}\n```\n",
        "utf-8",
    )
    assert anchors(page) == {"top", "a-flag--more"}
    assert [target for _, target in links(page)] == ["#a-flag--more", "#nowhere", "missing.md"]
    argvs = [
        argv for block in split_page(page)[1] for _, text in commands(block) for argv in fcaudit_argvs(text)
    ]
    assert argvs == [
        ["crawl", "--account", "1", "--region", "cn-hangzhou"],
        ["summarize", "-"],
        ["merge", "-o", "all.ndjson", "shard-0.ndjson", "--fail-on", "high"],
    ]
    with pytest.raises(SystemExit) as exc:
        build_parser(["crawl"]).parse_args(["crawl", "--no-such-flag"])
    assert exc.value.code == 2
