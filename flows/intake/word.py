"""A Word file (.docx) → Document: its paragraphs and its tables' rows in the order of the body,
each cell once with its spans (a vertically merged cell's continuation is no cell of its own).

The body's XML is read with lxml, from the zip, after the same limits as a workbook's parts:
python-docx builds an object for every run of every paragraph, which cost more than reading the
report (docs/published-reports.md).
"""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from flows.intake.document import Document, Line, Unreadable
from flows.intake.files import limits

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _text(element) -> str:
    """A paragraph's or cell's text: its runs' texts, a tab or break as a space, paragraphs apart."""
    parts = []
    for node in element.iter(f"{W}t", f"{W}tab", f"{W}br", f"{W}p"):
        if node.tag == f"{W}t":
            parts.append(node.text or "")
        elif (node.tag == f"{W}p" and parts) or node.tag != f"{W}p":
            parts.append(" ")
    return " ".join("".join(parts).replace("\u3000", " ").split())


def _rows(table, index: int) -> list[Line]:
    """A table's rows; a cell's rowspan counted from the continuations (vMerge) below it."""
    grid: list[list[tuple[int, str, int, bool]]] = []  # per row: (column, text, colspan, continues)
    for tr in table.iterchildren(f"{W}tr"):
        row, column = [], 0
        for tc in tr.iterchildren(f"{W}tc"):
            properties = tc.find(f"{W}tcPr")
            span, merge = 1, None
            if properties is not None:
                grid_span = properties.find(f"{W}gridSpan")
                if grid_span is not None:
                    span = max(1, int(grid_span.get(f"{W}val", "1")))
                merge = properties.find(f"{W}vMerge")
            continues = merge is not None and merge.get(f"{W}val", "continue") == "continue"
            row.append((column, _text(tc), span, continues))
            column += span
        grid.append(row)
    continuing = {(r, column) for r, row in enumerate(grid) for column, _, _, continues in row if continues}
    lines = []
    for r, row in enumerate(grid):
        cells, spans = [], []
        for column, text, span, continues in row:
            if continues:
                continue
            down = 1
            while (r + down, column) in continuing:
                down += 1
            cells.append(text)
            spans.append((down, span))
        if cells:
            lines.append(Line(tuple(cells), table=index, spans=tuple(spans)))
    return lines


def read_docx(data: bytes) -> Document:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.flag_bits & 1:
                raise Unreadable("Word 文档已加密，无法读取：请取消密码后再检查")
            if info.file_size > limits()["unzipped_bytes"]:
                raise Unreadable(f"Word 文档解压后过大（{info.file_size} 字节）")
            xml = archive.read(info)
            images = sum(name.startswith("word/media/") for name in archive.namelist())
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as error:
        raise Unreadable(f"Word 文档已损坏或不完整（{error}）") from None
    if b"<!DOCTYPE" in xml[:4096] or b"<!ENTITY" in xml[:4096]:
        raise Unreadable("Word 文档含有 XML 实体声明（DOCTYPE/ENTITY），拒绝读取")
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as error:
        raise Unreadable(f"Word 文档的正文无法解析（{error}）") from None
    body = root.find(f"{W}body")
    lines: list[Line] = []
    tables = 0
    for element in body if body is not None else ():
        if element.tag == f"{W}p":
            text = _text(element)
            if text:
                lines.append(Line((text,)))
        elif element.tag == f"{W}tbl":
            lines += _rows(element, tables)
            tables += 1
    return Document("docx", lines, blanks_kept=True, images=images)
