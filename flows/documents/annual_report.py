"""The annual report as people read it, from the validated data: a standalone HTML page (printable
on A4, readable on a phone; templates/report.html.j2) and a Word document (word_report.py), both in
the official layout of the edition: title, sections 一 to 六 (report.md rendered from Markdown), and
the three tables as the template draws them."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup

from flows.documents import word_report
from flows.documents.markdown import to_html
from flows.documents.pages import drawn, fill, table_cells, template
from flows.format.report import Report
from flows.format.text import ReportText, sections
from flows.format.values import figures


def title_of(report: Report, name: str) -> str:
    return f"{name}{report.year}年政府信息公开工作年度报告"


def _figures(report: Report) -> dict[str, list[str]]:
    """table → the published text of each value cell, in the order of its layout's cells."""
    return {code: figures(report.values[code], layout) for code, layout in report.edition.tables.items()}


def _section_html(text: ReportText | None, numeral: str) -> Markup:
    """A section's text, rendered from Markdown (escaped there: Markup here, so not twice)."""
    return Markup(to_html(text.sections.get(numeral, ""))) if text else Markup("")


def _table_html(code: str, table: str, texts: list[str]) -> Markup:
    return fill(drawn("table.html.j2", table=table, rows=table_cells(code, table)), lambda key: texts[int(key)])


def render_html(report: Report, name: str, text: ReportText | None, compared: str | None = None) -> str:
    """The report as a page of templates/report.html.j2; `compared`, a relative link to the comparison
    with last year's release (flows/release/comparison.py), when there is one."""
    code, texts = report.edition.code, _figures(report)
    sections_ = [
        {
            "numeral": numeral,
            "title": spec["title"],
            "text": _section_html(text, numeral),
            "table": _table_html(code, spec["table"], texts[spec["table"]]) if "table" in spec else "",
        }
        for numeral, spec in sections().items()
    ]
    return template("report.html.j2").render(
        title=title_of(report, name), sections=sections_, compared=compared, year=report.year
    )


def render_docx(report: Report, name: str, text: ReportText | None, created: datetime) -> bytes:
    """The Word document (flows/documents/word_report.py); `created` dates it and fixes its
    timestamps, so the same data gives the same bytes."""
    return word_report.render(title_of(report, name), name, report.edition.code, _figures(report), text, created)
