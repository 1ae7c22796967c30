"""Reading an HTML report back for tests (its elements and attributes, its text, one element's text),
and the hostile records the escaping tests render.

``html.parser`` (the standard library's, a real HTML tokenizer) sees the page the way a browser's
parser does at the token level: whatever it reports as a start tag *is* markup, whatever it reports as
data is text. That is what the escaping tests need: a hostile name must arrive as data, never as a tag
or an attribute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

from crawler.store.records import ConfigRecord, FunctionBatch, FunctionKey, FunctionRecord, Record, RunRecord

#: elements that separate words (as a browser's innerText would); inline ones (span, code, ...) do not
BLOCKS = frozenset(
    {"br", "dd", "details", "div", "dt", "figcaption", "h1", "h2", "h3", "li", "p", "section", "summary"}
    | {"table", "td", "text", "th", "title", "tr", "ul"}
)
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


class ParsedPage(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []
        #: raw content of each <script> / <style> element, in order
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self._open: list[tuple[str, dict[str, str | None], int]] = []
        #: text inside elements with an id, and inside elements with a data-figure attribute
        self.by_id: dict[str, str] = {}
        self.figures: dict[str, str] = {}
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in BLOCKS:
            self.data.append(" ")
        if tag in self.raw:
            self.raw[tag].append("")
        if tag not in VOID:
            self._open.append((tag, attributes, len(self.data)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS:
            self.data.append(" ")
        while self._open:
            name, attributes, start = self._open.pop()
            text = " ".join("".join(self.data[start:]).split())
            if attributes.get("id"):
                self.by_id[str(attributes["id"])] = text
            if attributes.get("data-figure"):
                self.figures[str(attributes["data-figure"])] = text
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        current = self._open[-1][0] if self._open else None
        if current in self.raw:
            self.raw[current][-1] += data
        else:
            self.data.append(data)

    @property
    def text(self) -> str:
        """All the text, whitespace collapsed."""
        return " ".join("".join(self.data).split())

    def count(self) -> Counter[str]:
        return Counter(tag for tag, _ in self.tags)


# --- hostile input ------------------------------------------------------------------------------------
SCRIPT = "<script>alert(1)</script>"
QUOTES = "say \"hi\" & 'bye' </style><img src=x onerror=alert(2)>"
TITLE = "</title><svg onload=alert(3)>"
UNICODE = "ünïcødé-函数-🚀"
BIDI = "evil\u202etxt.exe"
ARN = "acs:mns:<svg/onload=alert(4)>"
ERROR_MESSAGE = "</script><script>alert(5)</script>"
HOSTILE_ACCOUNT = "<b onmouseover=alert(6)>1</b>"


def hostile_records() -> list[Record]:
    """A crawl's records where every name, message and run field an attacker could choose is hostile."""

    def key(service: str, function: str) -> FunctionKey:
        return FunctionKey(HOSTILE_ACCOUNT, "cn-hangzhou", service, function)

    def one(service: str, function: str, qualifier: str, cfg: Mapping[str, Any]) -> FunctionBatch:
        k = key(service, function)
        return FunctionBatch((ConfigRecord(k, qualifier, cfg),), FunctionRecord(k, "ok", 1, 1))

    bad = {"maxAsyncRetryAttempts": 0, "destinationConfig": {"onSuccess": {"destination": ARN}}}
    batches = [
        one(SCRIPT, QUOTES, TITLE, bad),
        one(UNICODE, BIDI, "LATEST", {"maxAsyncRetryAttempts": 2}),
    ]
    failed = FunctionRecord(
        key(SCRIPT, "broken"),
        "error",
        0,
        0,
        {"code": "<i>Code</i>", "http": 500, "message": ERROR_MESSAGE, "requestId": '"rid"', "attempts": 6},
    )
    start = RunRecord(
        "start",
        {
            "targets": [
                {"account": HOSTILE_ACCOUNT, "region": "cn-hangzhou", "endpoint": "javascript:alert(7)"}
            ],
            "startedAt": SCRIPT,
        },
    )
    end = RunRecord(
        "end",
        {
            "complete": False,
            "finishedAt": QUOTES,
            "interrupted": SCRIPT,
            "discoveryErrors": [
                {"account": HOSTILE_ACCOUNT, "region": "x", "service": SCRIPT, "error": {"code": TITLE}}
            ],
        },
    )
    records: list[Record] = [start]
    for b in batches:
        records += [*b.configs, b.function]
    return [*records, failed, end]
