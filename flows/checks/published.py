"""Checking a published report (a web page, Word file, PDF or copied text): read it, then run
every rule of its edition on its tables and the text rules on its six sections, with each
finding naming its place in the document."""

from __future__ import annotations

from pathlib import Path

from flows.checks.check import Checked, check_report
from flows.checks.rules import Context
from flows.checks.text import rule_d6, rule_w5, rule_w6, rule_w7
from flows.format.edition import rules
from flows.format.report import Report, make_finding
from flows.format.text import ReportText
from flows.intake.document import Unreadable
from flows.intake.published import Published, read_published


def check_published(
    path: Path,
    year: int | None,
    unit: str | None,
    context: Context = Context(),
    previous_text: ReportText | None = None,
) -> tuple[Checked, Published | None]:
    """Read and check one published report; never raises for what the file holds (F0 says why
    it cannot be read). `previous_text`: last year's sections, for W7. Without a year or unit,
    those its title gives (read_published)."""
    path = Path(path)
    try:
        published = read_published(path, year, unit)
    except Unreadable as error:
        unit = unit or path.stem
        finding = make_finding(
            "F0", unit, variant=error.variant, file=str(path), file_name=path.name, reason=str(error)
        )
        return Checked(path, unit, None, [finding], unreadable=str(error)), None
    year, unit = published.report.year, published.report.unit
    findings = list(published.findings)
    if not any(f.rule == "F2" for f in findings):
        findings += published.relocate(check_report(published.report, context))
    text, catalogue = published.text, rules()
    for rule_id, rule in (("D6", rule_d6), ("W5", rule_w5), ("W6", rule_w6)):
        editions = catalogue[rule_id].editions
        if editions is None or published.report.edition.code in editions:
            findings += rule(text, published.report)
    findings += rule_w7(text, previous_text, year - 1)
    return Checked(path, unit, published.report, findings), published


def published_json(checked: Checked, published: Published | None) -> dict:
    """What `nianbao import --json` prints of a report: its unit as printed, year, edition, the
    figures in the project's codes (numbers; null for a cell the document did not give), the six
    sections' text and every finding."""
    report = published.report if published else None
    return {
        "path": str(checked.path),
        "unit": published.title.unit if published else None,
        "year": report.year if report else None,
        "edition": report.edition.code if report else None,
        "tables": tables_json(report) if report else None,
        "sections": published.text.sections if published else None,
        "findings": [f.as_dict() for f in checked.findings],
    }


def tables_json(report: Report) -> dict:
    """proactive_disclosure {row: {field: value}}, applications {row: {column: value}},
    review_litigation {column: value}: each cell of the template, as a number."""
    tables: dict[str, dict] = {}
    for code, layout in report.edition.tables.items():
        rows: dict[str, dict] = {}
        for r, c in layout.cells:
            column = layout.columns[c]
            read = report.source(code, r, c) is not None
            rows.setdefault(layout.rows[r].code, {})[column.code] = _number(report, code, r, c) if read else None
        tables[code] = rows["cases"] if len(layout.rows) == 1 else rows
    return tables


def _number(report: Report, table: str, r: int, c: int) -> int | float:
    """A figure as JSON gives it: a whole number as an integer, an amount with decimals as a float."""
    scale = 10 ** report.edition.tables[table].columns[c].decimals
    value = int(report.values[table][r, c])
    return value // scale if value % scale == 0 else value / scale
