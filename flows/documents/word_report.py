"""The annual report in Word: templates/annual_report.docx (made by tests/make_report_template.py:
A4, the fonts and headings of official documents, page numbers, the closing agency and date)
filled by docxtpl, with each section's text rendered from Markdown and each table drawn from the
edition's layout, so that a new edition needs no new template.

`nianbao report` writes this document for every unit asked for, in worker processes when there are
many: what does not change between reports (the template read and compiled, each edition's tables
drawn) is done once per process.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Twips
from docxtpl import DocxTemplate, RichText  # type: ignore[import-untyped]
from jinja2 import Environment, FunctionLoader, Template

from flows.documents.markdown import Block, Run, to_blocks
from flows.documents.template import Span, table_grid
from flows.format.edition import TableLayout, edition_named
from flows.format.text import ReportText, sections

TEMPLATE = Path(__file__).resolve().parent / "templates" / "annual_report.docx"
TEXT_WIDTH = 8844  # twips: A4's 210 mm less the margins of 28 and 26 mm
CELL_PADDING = 2 * 57  # twips: 1 mm each side
TABLE_CHAR = 180  # twips: the width of a character of the 9 pt table text
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the same data gives the same bytes, whenever it is rendered
# XML 1.0 has no place for most control characters: a report text's stray ones are left out of Word.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# -- the tables, drawn once per edition ------------------------------------------------------------
def _cell_number(layout: TableLayout, span: Span) -> int:
    row, column = span.codes
    return layout.cell_index[(layout.row_index[row], layout.column_index[column])]


def _need(span: Span, figures: bool) -> tuple[int, int]:
    """(fewest, most) characters a cell's column needs. A label may wrap to three lines a row it
    spans, keeping at least four characters a line (two over a column of figures, whose header
    rows have room to wrap), so that a row's label does not break every other character; a
    figure stays on one line."""
    if span.kind == "value":
        return 3, 6
    length, rows = len(span.text), span.r1 - span.r0 + 1
    return min(length, max(2 if figures else 4, -(-length // (3 * rows)))), length


def column_widths(spans: list[Span]) -> list[int]:
    """Each column's width in twips, fitted to the labels as a browser's automatic table layout
    does: every column its fewest characters, the width left shared in proportion to what each
    would need on one line, and the whole the page's text width."""
    count = 1 + max(s.c1 for s in spans)
    least, most = [1] * count, [1] * count
    figures = {s.c0 for s in spans if s.kind == "value"}
    for span in spans:
        if span.c0 == span.c1:
            fewest, longest = _need(span, span.c0 in figures)
            least[span.c0], most[span.c0] = max(least[span.c0], fewest), max(most[span.c0], longest)
    chars = _shared(least, most, (TEXT_WIDTH - count * CELL_PADDING) / TABLE_CHAR)
    return [round(c * TABLE_CHAR) + CELL_PADDING for c in chars]


def _shared(least: list[int], most: list[int], available: float) -> list[float]:
    if sum(least) >= available:  # too narrow even so: every column shrinks alike
        return [n * available / sum(least) for n in least]
    if sum(most) <= available:  # room to spare: every column grows alike
        return [n * available / sum(most) for n in most]
    extra = (available - sum(least)) / (sum(most) - sum(least))
    return [lo + (hi - lo) * extra for lo, hi in zip(least, most, strict=True)]


def header_rows(layout: TableLayout, spans: list[Span]) -> int:
    """The rows above the first figure: the column headers Word repeats on each page. Table 二 has
    a header per captioned block, none of them the whole table's: nothing is repeated."""
    return 0 if any(block.caption for block in layout.blocks) else min(s.r0 for s in spans if s.kind == "value")


@cache
def _table_xml(code: str, table: str) -> str:
    """The table as a Jinja template: the layout's labels, and in each value cell the figure's
    expression; columns fitted to the labels, the header rows repeated on each page."""
    layout = edition_named(code).tables[table]
    spans = table_grid(layout)
    template = _prepared().template
    document = template.get_docx()  # the template's styles; the table is drawn in it, never saved
    grid = document.add_table(rows=1 + max(s.r1 for s in spans), cols=1 + max(s.c1 for s in spans))
    grid.style = document.styles["Table Grid"]
    widths = column_widths(spans)
    for column, width in zip(grid.columns, widths, strict=True):
        column.width = Twips(width)
    _fixed_layout(grid)
    # Every cell once, before merging: table.cell() walks the whole table at each call. Spans do not
    # overlap, so merging one leaves the others' cells valid.
    cells = [list(row.cells) for row in grid.rows]
    # The style's id set in the XML, once looked up: python-docx's setter reads every style of the
    # template at each call (2 of the 2.3 s the tables took to draw).
    table_text = document.styles["Table Text"].style_id
    for span in spans:
        cell = cells[span.r0][span.c0]
        if (span.r1, span.c1) != (span.r0, span.c0):
            cell = cell.merge(cells[span.r1][span.c1])
        cell.width = Twips(sum(widths[span.c0 : span.c1 + 1]))
        paragraph = cell.paragraphs[0]
        paragraph._p.style = table_text
        paragraph.text = (
            span.text if span.kind == "label" else f"{{{{ figures.{table}[{_cell_number(layout, span)}] }}}}"
        )
    _rows_kept_whole(grid, header_rows(layout, spans))
    xml = template.xml_to_string(grid._tbl)
    grid._tbl.getparent().remove(grid._tbl)
    return xml


def _fixed_layout(grid) -> None:
    """Widths as given: Word's and LibreOffice's autofit would undo the fitting."""
    properties = grid._tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    properties.append(layout)
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        margin = OxmlElement(f"w:{side}")
        margin.set(qn("w:w"), str(CELL_PADDING // 2))
        margin.set(qn("w:type"), "dxa")
        margins.append(margin)
    properties.append(margins)


def _rows_kept_whole(grid, headers: int) -> None:
    """No row split across pages; the first `headers` rows repeated at the top of each page."""
    for i, row in enumerate(grid.rows):
        properties = row._tr.get_or_add_trPr()
        properties.append(OxmlElement("w:cantSplit"))
        if i < headers:
            properties.append(OxmlElement("w:tblHeader"))


def _fragment(name: str) -> str | None:
    """The Jinja loader's templates: "table/<edition>/<table>"."""
    kind, code, table = name.split("/")
    return _table_xml(code, table) if kind == "table" else None


# -- the template, compiled once ----------------------------------------------------------------
@cache
def _environment() -> Environment:
    return Environment(autoescape=True, loader=FunctionLoader(_fragment), auto_reload=False)


# -- a report ------------------------------------------------------------------------------------
BREAKS = {"\t": "<w:r><w:tab/></w:r>", "\n": "<w:r><w:br/></w:r>"}


def _rich(runs: list[Run]) -> RichText:
    """Runs as docxtpl's RichText; a tab (after a list's marker) and a line break as Word's own."""
    text = RichText()
    for run in runs:
        if run.text in BREAKS:
            text.xml += BREAKS[run.text]
        else:
            text.add(NOT_XML.sub("", run.text.replace("\t", " ")), bold=run.bold, italic=run.italic)
    return text


def _block(block: Block) -> dict:
    if block.kind == "table":
        return {"kind": "table", "rows": [[_rich(cell) for cell in row] for row in block.rows]}
    return {"kind": block.kind, "runs": _rich(block.runs)}


def _sections(code: str, text: ReportText | None) -> list[dict]:
    return [
        {
            "heading": f"{numeral}、{spec['title']}",
            "blocks": [_block(b) for b in to_blocks(text.sections.get(numeral, "") if text else "")],
            "table": f"table/{code}/{spec['table']}" if "table" in spec else None,
        }
        for numeral, spec in sections().items()
    ]


@dataclass(frozen=True)
class _Prepared:
    """What docxtpl does to the template at each rendering, done once: the body's XML with its tags
    cleaned for Jinja (docxtpl's patch_xml) and compiled; the document part around the body; the
    core properties as a template; every other part (none may hold a tag: checked) deflated."""

    template: DocxTemplate
    body: Template
    head: str
    tail: str
    core: Template
    rest: bytes


DOCUMENT_PART, CORE_PART = "word/document.xml", "docProps/core.xml"
TEMPLATE_TIME = "2000-01-01T00:00:00Z"  # the template's own, see tests/make_report_template.py


@cache
def _prepared() -> _Prepared:
    template = DocxTemplate(TEMPLATE)
    template.init_docx()
    environment = _environment()
    with zipfile.ZipFile(TEMPLATE) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    rest = io.BytesIO()
    with zipfile.ZipFile(rest, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            if name in (DOCUMENT_PART, CORE_PART):
                continue
            if re.search(rb"\{[{%]", data):
                raise ValueError(f"{TEMPLATE}: {name} holds a template tag, which only the body may")
            target.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    document = parts[DOCUMENT_PART].decode("utf-8")
    head, tail = document[: document.index("<w:body>")], document[document.index("</w:body>") + len("</w:body>") :]
    core = parts[CORE_PART].decode("utf-8").replace(TEMPLATE_TIME, "{{ created }}")
    return _Prepared(
        template,
        environment.from_string(template.patch_xml(template.get_xml())),
        head,
        tail,
        environment.from_string(core),
        rest.getvalue(),
    )


def render(title: str, agency: str, code: str, figures: dict, text: ReportText | None, created: datetime) -> bytes:
    """The Word document; `created` dates it and fixes its timestamps, so the same data gives the
    same bytes."""
    context = {
        "title": NOT_XML.sub("", title),
        "agency": NOT_XML.sub("", agency),
        "date": f"{created.year}年{created.month}月{created.day}日",
        "sections": _sections(code, text),
        "figures": figures,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    prepared = _prepared()
    body = prepared.body.render(context)
    if any(block["kind"] == "table" for section in context["sections"] for block in section["blocks"]):
        # A table of report.md: docxtpl's {%tc %} gave its rows as many cells as the text has, fix_tables
        # gives its grid as many columns.
        body = prepared.template.xml_to_string(prepared.template.fix_tables(body))
    parts = {CORE_PART: prepared.core.render(context), DOCUMENT_PART: prepared.head + body + prepared.tail}
    out = io.BytesIO(prepared.rest)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as target:  # appends: the rest is copied as it was deflated
        for name, xml in parts.items():
            # Level 1: a third of the default's time, for a few hundred bytes more.
            target.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIME), xml.encode("utf-8"), zipfile.ZIP_DEFLATED, 1)
    return out.getvalue()
