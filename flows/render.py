"""The annual report as people read it, from the validated data: a standalone HTML page (printable
on A4, readable on a phone) and a Word document, both in the official layout of the edition:
title, sections 一 to 六, and the three tables as the template draws them."""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from html import escape

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from .report import Report
from .template import Span, table_grid
from .text import ReportText, sections
from .values import format_value

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


def _figure(report: Report, table: str, span: Span) -> str:
    layout = report.edition.tables[table]
    row, column = span.cell
    r, c = layout.row_index[row], layout.column_index[column]
    return format_value(int(report.values[table][r, c]), layout.columns[c])


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


def _table_html(report: Report, table: str) -> str:
    rows = defaultdict(list)
    for span in table_grid(report.edition.tables[table]):
        rows[span.r0].append(span)
    html = []
    for r in sorted(rows):
        cells = []
        for span in sorted(rows[r], key=lambda s: s.c0):
            extent = (f' rowspan="{span.r1 - span.r0 + 1}"' if span.r1 > span.r0 else "") + (
                f' colspan="{span.c1 - span.c0 + 1}"' if span.c1 > span.c0 else "")
            if span.kind == "label":
                cells.append(f"<th{extent}>{escape(span.text)}</th>")
            else:
                cells.append(f'<td class="value"{extent} data-cell="{span.cell[0]}.{span.cell[1]}">{_figure(report, table, span)}</td>')
        html.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="wrap"><table data-table="{table}">\n' + "\n".join(html) + "\n</table></div>"


def render_html(report: Report, name: str, text: ReportText | None) -> str:
    title = title_of(report, name)
    body = [f"<h1>{escape(title)}</h1>"]
    for numeral, spec in sections().items():
        body.append(f'<h2 id="section-{numeral}">{numeral}、{escape(spec["title"])}</h2>')
        body += [f"<p>{escape(p)}</p>" for p in _paragraphs(text.sections.get(numeral, "") if text else "")]
        if "table" in spec:
            body.append(_table_html(report, spec["table"]))
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _table_docx(document, report: Report, table: str) -> None:
    spans = table_grid(report.edition.tables[table])
    grid = document.add_table(rows=1 + max(s.r1 for s in spans), cols=1 + max(s.c1 for s in spans))
    grid.style = "Table Grid"
    # Every cell once, before merging: table.cell() walks the whole table at each call. Spans do not
    # overlap, so merging one leaves the others' cells valid.
    cells = [list(row.cells) for row in grid.rows]
    for span in spans:
        cell = cells[span.r0][span.c0]
        if (span.r1, span.c1) != (span.r0, span.c0):
            cell = cell.merge(cells[span.r1][span.c1])
        cell.text = span.text if span.kind == "label" else _figure(report, table, span)
        for paragraph in cell.paragraphs:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if span.kind == "value" else WD_ALIGN_PARAGRAPH.CENTER
            for run in paragraph.runs:
                run.font.size = Pt(9)


def render_docx(report: Report, name: str, text: ReportText | None, created) -> bytes:
    """The Word document; `created` (a datetime) fixes its timestamps, so the same data gives the
    same bytes."""
    document = Document()
    document.core_properties.title = title_of(report, name)
    document.core_properties.author = name
    document.core_properties.created = document.core_properties.modified = created
    document.core_properties.last_modified_by = "nianbao"
    heading = document.add_heading(title_of(report, name), level=1)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for numeral, spec in sections().items():
        document.add_heading(f"{numeral}、{spec['title']}", level=2)
        for paragraph in _paragraphs(text.sections.get(numeral, "") if text else ""):
            document.add_paragraph(paragraph)
        if "table" in spec:
            _table_docx(document, report, spec["table"])
    out = io.BytesIO()
    document.save(out)
    return _fixed_zip_times(out.getvalue())


def _fixed_zip_times(content: bytes) -> bytes:
    """A .docx is a zip whose entries python-docx stamps with the current time: restamp them."""
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()
