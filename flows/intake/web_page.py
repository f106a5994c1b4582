"""A saved web page → Document: its paragraphs and its tables' rows in reading order, each cell
once with its rowspan and colspan, as Word's "save as web page" and the sites' editors write them.

lxml's HTML parser (libxml2): docs/published-reports.md gives the measurements it was chosen on.
"""

from __future__ import annotations

import re

from lxml import etree

from flows.intake.document import Document, Line, Unreadable

# Elements whose start and end break a line of text; what is inside the others runs on.
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "section",
        "article",
        "header",
        "footer",
        "br",
        "tr",
        "title",
        "blockquote",
        "pre",
        "center",
    ]
)
_SKIPPED = frozenset(["script", "style", "head", "noscript", "template", "iframe", "object", "select", "option"])
_SPACE = re.compile(r"\s+")
_PARSER = etree.HTMLParser(no_network=True, remove_comments=True, remove_pis=True)


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text.replace("\xa0", " ").replace("\u3000", " ")).strip()


def _span(cell, name: str) -> int:
    try:
        return max(1, min(int(cell.get(name, "1") or 1), 1000))
    except ValueError:
        return 1


class _Walk:
    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.buffer: list[str] = []
        self.tables = 0
        self.images = 0

    def flush(self) -> None:
        text = _clean("".join(self.buffer))
        if text:
            self.lines.append(Line((text,)))
        self.buffer = []

    def visit(self, element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        tag = tag.lower()
        if tag in _SKIPPED or not tag:
            self.buffer.append(element.tail or "")
            return
        if tag == "img":
            self.images += 1
        if tag == "table" and not element.xpath(".//table"):
            self.flush()
            self.table(element)
            self.buffer.append(element.tail or "")
            return
        block = tag in _BLOCKS or tag in ("table", "td", "th")
        if block:
            self.flush()
        self.buffer.append(element.text or "")
        for child in element:
            self.visit(child)
        if block:
            self.flush()
        self.buffer.append(element.tail or "")

    def table(self, table) -> None:
        """A data table (one holding no other): its rows, each cell's text and spans."""
        index = self.tables
        self.tables += 1
        for row in table.iter("tr"):
            cells, spans = [], []
            for cell in row:
                if not isinstance(cell.tag, str) or cell.tag.lower() not in ("td", "th"):
                    continue
                self.images += sum(1 for _ in cell.iter("img"))
                cells.append(_clean(" ".join(cell.itertext())))
                spans.append((_span(cell, "rowspan"), _span(cell, "colspan")))
            if cells:
                self.lines.append(Line(tuple(cells), table=index, spans=tuple(spans)))


def read_html(data: bytes) -> Document:
    # lxml.etree's HTML parser, not lxml.html's: the same libxml2 parse without a Python class
    # looked up for every element (a third of the time of reading a page's tables).
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as error:
        raise Unreadable(f"网页无法解析（{error}）") from None
    if root is None:
        raise Unreadable("网页是空的，没有可读取的内容")
    walk = _Walk()
    title = root.find(".//title")
    if title is not None and _clean("".join(title.itertext())):
        walk.lines.append(Line((_clean("".join(title.itertext())),)))
    body = root.find(".//body")
    walk.visit(body if body is not None else root)
    walk.flush()
    return Document("html", walk.lines, blanks_kept=True, images=walk.images)
