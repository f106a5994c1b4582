"""A published report as any of its forms gives it: lines of cells in reading order.

A web page, a Word file, a PDF and text copied from a page all become one `Document`: its lines,
each a paragraph (one cell) or a table row (its cells as printed, each once, with its spans), and
for a PDF the page of each line. Reading the tables from it (flows/intake/published.py) never
asks which form it came from. The kind of a file is told from its bytes, not its name.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from flows.format.edition import rules
from flows.intake.files import limits


class Unreadable(Exception):
    """The file is no report nianbao can read; the message says why, in Chinese (rule F0).
    `variant`: the catalogue's wording of F0 for the case, when it has one."""

    def __init__(self, reason: str, variant: str | None = None):
        super().__init__(reason)
        self.variant = variant


def refused(variant: str) -> Unreadable:
    """Unreadable for a case the catalogue words (schemas/rules.yaml F0 variants)."""
    return Unreadable(rules()["F0"].variants[variant]["reason"], variant)


@dataclass(frozen=True)
class Line:
    """A paragraph (one cell) or a table row (its cells as printed, left to right)."""

    cells: tuple[str, ...]
    page: int | None = None  # a PDF's page, from 1
    table: int | None = None  # which table of the document the row is in (None: not a table's)
    spans: tuple[tuple[int, int], ...] = ()  # (rowspan, colspan) of each cell; () when all are 1


@dataclass
class Document:
    kind: str  # html, docx, pdf or text
    lines: list[Line] = field(default_factory=list)
    # Whether an empty cell stands for a blank cell (a table's) or may have been dropped (text
    # copied from a page, where blank cells are often lost): see published.py, how cells are placed.
    blanks_kept: bool = True
    images: int = 0  # pictures where text might be expected (a page whose tables are images)

    def text(self) -> str:
        """The document as text, a line a line and a table row's cells joined by " | "."""
        return "\n".join(" | ".join(line.cells) for line in self.lines)


def expanded(rows: list[Line]) -> list[list[str]]:
    """A table's rows as a grid, every rowspan and colspan expanded: the text stands in the
    spanned range's first cell and "" in the others, as a spreadsheet shows merged cells."""
    grid: list[list[str]] = []
    covered: dict[tuple[int, int], bool] = {}
    for r, line in enumerate(rows):
        row: list[str] = []
        spans = line.spans or ((1, 1),) * len(line.cells)
        c = 0
        for text, (down, across) in zip(line.cells, spans, strict=True):
            while covered.pop((r, c), False):
                row.append("")
                c += 1
            row.append(text)
            row.extend([""] * (across - 1))
            for dr in range(down):
                for dc in range(across):
                    if dr or dc:
                        covered[(r + dr, c + dc)] = True
            c += across
        while covered.pop((r, c), False):
            row.append("")
            c += 1
        grid.append(row)
    return grid


def sniff(data: bytes) -> str:
    """The kind of a published report, from its bytes: pdf, docx, html or text; Unreadable for
    anything else (a workbook goes to flows/intake/workbook.py, not here)."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise Unreadable("文件已损坏或不完整（不是可读取的压缩文档）") from None
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            raise Unreadable("这是 Excel 工作簿，不是发布的年度报告：请按工作簿检查")
        raise Unreadable("压缩文件中没有 Word 文档，不是可读取的年度报告")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise Unreadable("这是旧版 Office 文件（.doc 或 .xls），无法读取：请另存为 .docx 或网页后再检查")
    if re.match(rb"(?i)(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body|meta|table|div|p)\b", head, re.S):
        return "html"
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Unreadable("不是文本、网页、Word 或 PDF 文件，无法作为年度报告读取")
    return "text"


def decode(data: bytes) -> str:
    """Text as a page's copy is saved: UTF-8 (with or without a BOM), UTF-16 with its BOM, else
    GB18030 (what Notepad and WPS save on a Chinese Windows)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise Unreadable("文本既不是 UTF-8 也不是 GB18030 编码，无法读取") from None


def read_bytes(path) -> bytes:
    """The file's bytes, within the size limit workbooks have (limits.yaml file_bytes)."""
    with open(path, "rb") as handle:
        data = handle.read(limits()["file_bytes"] + 1)
    if not data:
        raise Unreadable("文件是空的（0 字节）")
    if len(data) > limits()["file_bytes"]:
        raise Unreadable(f"文件过大（超过 {limits()['file_bytes']} 字节）")
    return data


_PIPE = re.compile(r"\s*\|\s*")


def text_lines(text: str) -> Document:
    """Text copied from a page: a line a paragraph or a row. Cells are separated by "|" where the
    copy kept them (the last "|" of a line ends it and is no empty cell); a line without one is one
    cell, and blank lines are no cells (a copy that prints one cell a line puts them between)."""
    lines: list[Line] = []
    piped = False
    for raw in text.splitlines():
        line = raw.strip().replace("\u3000", " ").strip()
        if not line:
            continue
        if "|" in line:
            piped = True
            cells = _PIPE.split(line)
            if line.endswith("|"):
                cells = cells[:-1]
            lines.append(Line(tuple(cell.strip() for cell in cells), table=0))
        else:
            lines.append(Line((line,)))
    return Document("text", lines, blanks_kept=piped)
