"""A section of report.md (its placeholders already filled) as Markdown: CommonMark with tables,
for the HTML report as HTML and for the Word report as blocks of styled runs.

Raw HTML is not Markdown here: `<b>` in a clerk's text is shown as typed, escaped. Two things
follow how Chinese reports are written rather than CommonMark's defaults: a line indented by four
spaces is a paragraph indented as Chinese paragraphs are, not code; and a line break inside a
paragraph joins two Chinese lines with nothing between them, where English text gets a space.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("code")


@dataclass(frozen=True)
class Run:
    text: str
    bold: bool = False
    italic: bool = False


@dataclass
class Block:
    """A paragraph of the Word report: kind "paragraph", "heading", "subheading", "item" (of a
    list: its marker and a tab to the item's indent in the runs) or "table" (rows of cells, each a
    list of runs)."""

    kind: str
    runs: list[Run] = field(default_factory=list)
    rows: list[list[list[Run]]] = field(default_factory=list)


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def _line_join(before: str, after: str) -> str:
    """What a line break inside a paragraph becomes: nothing next to Chinese, else a space."""
    return "" if (before and _wide(before[-1])) or (after and _wide(after[0])) else " "


def _neighbours(children: list[Token], i: int) -> tuple[str, str]:
    before = next((t.content for t in reversed(children[:i]) if t.content), "")
    after = next((t.content for t in children[i + 1 :] if t.content), "")
    return before, after


@lru_cache(maxsize=16)  # a unit's HTML and Word reports are rendered one after the other
def _tokens(text: str) -> list[Token]:
    """The parsed text, its headings two levels down: h2 is a section's heading in the report.
    Shared by the callers: read, never changed."""
    tokens = _parser().parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, max(3, int(token.tag[1]) + 1))}"
        if token.type == "inline":
            for i, child in enumerate(token.children or []):
                if child.type == "softbreak":
                    child.type, child.content = "text", _line_join(*_neighbours(token.children or [], i))
    return tokens


def to_html(text: str) -> str:
    """The section as HTML, every piece of text escaped."""
    parser = _parser()
    return parser.renderer.render(_tokens(text), parser.options, {})


def _runs(inline: Token) -> list[Run]:
    """An inline token's text as runs, bold and italic as marked; a link as its text and address."""
    runs, bold, italic, href = [], 0, 0, None
    for child in inline.children or []:
        kind = child.type
        if kind in ("text", "code_inline"):
            runs.append(Run(child.content, bold > 0, italic > 0))
        elif kind in ("strong_open", "strong_close"):
            bold += 1 if kind == "strong_open" else -1
        elif kind in ("em_open", "em_close"):
            italic += 1 if kind == "em_open" else -1
        elif kind == "hardbreak":
            runs.append(Run("\n"))
        elif kind == "image":
            runs.append(Run(child.content or str(child.attrs.get("alt", ""))))
        elif kind == "link_open":
            href = str(child.attrs.get("href", ""))
        elif kind == "link_close" and href:
            shown = "".join(r.text for r in runs)
            if not shown.endswith(href):  # an address written as itself is not repeated
                runs.append(Run(f"（{href}）"))
            href = None
    return [r for r in runs if r.text]


def to_blocks(text: str) -> list[Block]:
    """The section as the Word report's blocks, in order."""
    blocks: list[Block] = []
    lists: list[list] = []  # the open lists: [ordered, next number]
    marker, kind, table = "", "paragraph", None
    for token in _tokens(text):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists.append([token.type == "ordered_list_open", int(token.attrs.get("start", 1) or 1)])
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            ordered, number = lists[-1]
            marker = "　" * (len(lists) - 1) + (f"{number}{token.markup}" if ordered else "•")
            lists[-1][1] += 1
        elif token.type == "heading_open":
            kind = "heading" if token.tag == "h3" else "subheading"
        elif token.type == "table_open":
            table = Block("table")
        elif token.type == "tr_open" and table is not None:
            table.rows.append([])
        elif token.type == "table_close" and table is not None:
            blocks.append(table)
            table = None
        elif token.type == "inline" and table is not None:
            table.rows[-1].append(_runs(token))
        elif token.type == "inline":
            blocks.append(_block(token, kind, marker, bool(lists)))
            marker, kind = "", "paragraph"
        elif token.type in ("fence", "code_block"):
            blocks += [Block("paragraph", [Run(line)]) for line in token.content.splitlines() if line.strip()]
    return blocks


def _block(inline: Token, kind: str, marker: str, in_list: bool) -> Block:
    if in_list and kind == "paragraph":
        return Block("item", [*([Run(marker)] if marker else []), Run("\t"), *_runs(inline)])
    return Block(kind, _runs(inline))
