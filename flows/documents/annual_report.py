"""The annual report as people read it, from the validated data: a standalone HTML page (printable
on A4, readable on a phone) and a Word document, both in the official layout of the edition:
title, sections 一 to 六, and the three tables as the template draws them."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from html import escape
from xml.sax.saxutils import escape as xml_escape

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from flows.documents.template import grid_rows, table_grid
from flows.format.edition import edition_named
from flows.format.report import Report
from flows.format.text import ReportText, sections
from flows.format.values import figures

STYLE = """
body{font-family:"Noto Serif CJK SC","SimSun","Songti SC",serif;max-width:60em;margin:2em auto;padding:0 1em;color:#000;line-height:1.7}
h1{font-size:1.5em;text-align:center} h2{font-size:1.15em;margin-top:1.5em}
p{text-indent:2em;margin:.4em 0}
.wrap{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #000;padding:.2em .4em;text-align:center;font-weight:normal}
td.value{text-align:right;min-width:2.5em}
@page{size:A4;margin:2cm}
@media print{body{margin:0;max-width:none;font-size:11pt} .wrap{overflow:visible} table{page-break-inside:auto} tr{page-break-inside:avoid}}
"""


def title_of(report: Report, name: str) -> str:
    return f"{name}{report.year}年政府信息公开工作年度报告"


def _figures(report: Report) -> dict[str, list[str]]:
    """table → the published text of each value cell, in the order of its layout's cells."""
    return {code: figures(report.values[code], layout) for code, layout in report.edition.tables.items()}


def _cell_number(code: str, table: str, row: str, column: str) -> int:
    """The position of a value cell (by its codes) among its table's cells."""
    layout = edition_named(code).tables[table]
    return layout.cell_index[(layout.row_index[row], layout.column_index[column])]


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


@cache
def _html_table(code: str, table: str) -> tuple[str | int, ...]:
    """The table of edition `code` as HTML: literal text, and the cell number where a figure goes."""
    pieces: list[str | int] = [f'<div class="wrap"><table data-table="{table}">\n']
    for spans in grid_rows(code, table):
        pieces.append("<tr>")
        for span in spans:
            if span.kind == "label":
                pieces.append(f"<th{span.html_extent}>{escape(span.text)}</th>")
            else:
                pieces += [
                    f'<td class="value"{span.html_extent} data-cell="{span.codes[0]}.{span.codes[1]}">',
                    _cell_number(code, table, *span.codes),
                    "</td>",
                ]
        pieces.append("</tr>\n")
    pieces.append("</table></div>")
    return tuple(pieces)


def _table_html(report: Report, table: str, texts: list[str]) -> str:
    return "".join(p if isinstance(p, str) else texts[p] for p in _html_table(report.edition.code, table))


def render_html(report: Report, name: str, text: ReportText | None) -> str:
    title, texts = title_of(report, name), _figures(report)
    body = [f"<h1>{escape(title)}</h1>"]
    for numeral, spec in sections().items():
        body.append(f'<h2 id="section-{numeral}">{numeral}、{escape(spec["title"])}</h2>')
        body += [f"<p>{escape(p)}</p>" for p in _paragraphs(text.sections.get(numeral, "") if text else "")]
        if "table" in spec:
            body.append(_table_html(report, spec["table"], texts[spec["table"]]))
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _table_docx(document, edition, table: str) -> None:
    """The table as the template draws it, with a marker in each value cell for the figure."""
    spans = table_grid(edition.tables[table])
    grid = document.add_table(rows=1 + max(s.r1 for s in spans), cols=1 + max(s.c1 for s in spans))
    grid.style = "Table Grid"
    # Every cell once, before merging: table.cell() walks the whole table at each call. Spans do not
    # overlap, so merging one leaves the others' cells valid.
    cells = [list(row.cells) for row in grid.rows]
    for span in spans:
        cell = cells[span.r0][span.c0]
        if (span.r1, span.c1) != (span.r0, span.c0):
            cell = cell.merge(cells[span.r1][span.c1])
        cell.text = span.text if span.kind == "label" else _marker("figure", table, *span.codes)
        for paragraph in cell.paragraphs:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if span.kind == "value" else WD_ALIGN_PARAGRAPH.CENTER
            for run in paragraph.runs:
                run.font.size = Pt(9)


def _marker(*key: str) -> str:
    return "⟦" + "|".join(key) + "⟧"


MARKER = re.compile(r"⟦([^⟧]+)⟧")
PLACEHOLDER_TIME = datetime(1900, 1, 1)


@dataclass(frozen=True)
class DocxSkeleton:
    """An edition's Word document with markers where a report's title, text and figures go: built
    once with python-docx (merges and all), then filled by string for each report, since building a
    document of three merged tables costs python-docx a quarter of a second."""

    document: tuple[str | tuple[str, ...], ...]  # word/document.xml: literal text and marker keys
    core: str  # docProps/core.xml with markers for the title, author and times
    rest: bytes  # a zip of every other part, deflated once


@cache
def docx_skeleton(code: str) -> DocxSkeleton:
    """The Word report's skeleton of the edition with this code."""
    edition = edition_named(code)
    document = Document()
    document.core_properties.title = _marker("title")
    document.core_properties.author = _marker("author")
    document.core_properties.created = document.core_properties.modified = PLACEHOLDER_TIME
    document.core_properties.last_modified_by = "nianbao"
    document.add_heading(_marker("title"), level=1).alignment = WD_ALIGN_PARAGRAPH.CENTER
    for numeral, spec in sections().items():
        document.add_heading(f"{numeral}、{spec['title']}", level=2)
        document.add_paragraph(_marker("section", numeral))
        if "table" in spec:
            _table_docx(document, edition, spec["table"])
    saved = io.BytesIO()
    document.save(saved)
    source, rest = zipfile.ZipFile(saved), io.BytesIO()
    with zipfile.ZipFile(rest, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            if name not in (DOCUMENT_PART, CORE_PART):
                target.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIME), source.read(name), zipfile.ZIP_DEFLATED)
    xml = source.read(DOCUMENT_PART).decode("utf-8")
    # A section's paragraph is replaced whole: by as many paragraphs as the text has (or none).
    xml = re.sub(r"<w:p><w:r><w:t>(⟦section\|[^⟧]+⟧)</w:t></w:r></w:p>", r"\1", xml)
    pieces = tuple(_slot(code, p) if i % 2 else p for i, p in enumerate(MARKER.split(xml)))
    stamp = PLACEHOLDER_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    core = source.read(CORE_PART).decode("utf-8").replace(stamp, _marker("time"))
    return DocxSkeleton(pieces, core, rest.getvalue())


def _slot(code: str, marker: str) -> tuple:
    """A marker's key; a figure's by table and cell number."""
    key = tuple(marker.split("|"))
    return ("figure", key[1], _cell_number(code, *key[1:])) if key[0] == "figure" else key


DOCUMENT_PART, CORE_PART = "word/document.xml", "docProps/core.xml"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the same data gives the same bytes, whenever it is rendered


def render_docx(report: Report, name: str, text: ReportText | None, created: datetime) -> bytes:
    """The Word document; `created` fixes its timestamps, so the same data gives the same bytes."""
    skeleton, title, texts = docx_skeleton(report.edition.code), title_of(report, name), _figures(report)

    def fill(key: tuple) -> str:
        if key[0] == "figure":
            return texts[key[1]][key[2]]
        if key[0] == "section":
            paragraphs = _paragraphs(text.sections.get(key[1], "") if text else "")
            return "".join(f'<w:p><w:r><w:t xml:space="preserve">{_xml_text(p)}</w:t></w:r></w:p>' for p in paragraphs)
        return _xml_text({"title": title, "author": name, "time": created.strftime("%Y-%m-%dT%H:%M:%SZ")}[key[0]])

    document = "".join(p if isinstance(p, str) else fill(p) for p in skeleton.document)
    core = MARKER.sub(lambda m: fill(tuple(m.group(1).split("|"))), skeleton.core)
    out = io.BytesIO(skeleton.rest)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as target:  # appends: the rest is copied as it was deflated
        for part, xml in ((CORE_PART, core), (DOCUMENT_PART, document)):
            # Level 1: a third of the default's time, for 600 bytes more in a 40 KB document.
            target.writestr(zipfile.ZipInfo(part, date_time=ZIP_TIME), xml.encode("utf-8"), zipfile.ZIP_DEFLATED, 1)
    return out.getvalue()


# XML 1.0 has no place for most control characters: a report text's stray ones are left out of Word.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return xml_escape(NOT_XML.sub("", text))
