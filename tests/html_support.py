"""Reading an HTML report back for tests: its elements and attributes, its text, and one element's text.

``html.parser`` (the standard library's, a real HTML tokenizer) sees the page the way a browser's
parser does at the token level: whatever it reports as a start tag *is* markup, whatever it reports as
data is text. That is what the escaping tests need: a hostile name must arrive as data, never as a tag
or an attribute.
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

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
