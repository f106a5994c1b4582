"""What `nianbao audit` writes for a folder of published reports: a page per report (its tables as
read, the wrong cells marked, and its findings), index.html (every report, sortable, its errors
first), findings.csv (one line a finding) and reports.csv (one line a report). Pages from the
Jinja2 templates audit_*.html.j2, everything escaped."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from flows.checks.check import Checked
from flows.documents.check_pages import status_of, tables_html
from flows.documents.pages import template

REPORTS = "reports"  # the folder of the report pages, under the audit's
FINDING_FIELDS = ("report", "unit", "year", "rule", "severity", "table", "row", "column", "place", "message")
REPORT_FIELDS = ("report", "unit", "year", "edition", "status", "errors", "warnings", "page")


@dataclass
class Audited:
    """One report's line of the audit: what it is, how it fared, where its page is."""

    report: str  # its path under the folder audited
    unit: str | None  # as its title prints it
    year: int | None
    edition: str | None
    status: str
    errors: int
    warnings: int
    page: str  # under the audit's folder
    findings: list[dict] = field(default_factory=list)  # FINDING_FIELDS but the report's own


def audited(checked: Checked, report: str, unit: str | None, page: str) -> Audited:
    found = checked.report
    return Audited(
        report,
        unit,
        found.year if found else None,
        found.edition.code if found else None,
        status_of(checked),
        checked.errors,
        checked.warnings,
        page,
        [
            {
                "rule": f.rule,
                "severity": f.severity,
                "table": f.table or "",
                "row": f.row or "",
                "column": f.column or "",
                "place": " ".join(p for p in (f.sheet, f.cell) if p),
                "message": f.message,
            }
            for f in checked.findings
        ],
    )


def write_report_page(out: Path, checked: Checked, line: Audited) -> Path:
    """The report's page: its tables as read with the cells of its findings marked."""
    findings = sorted(checked.findings, key=lambda f: not f.is_error)
    path = out / line.page
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        template("audit_report.html.j2").render(
            title=f"{line.unit or line.report} {line.year or ''} 年度报告检查结果",
            line=line,
            checked=checked,
            tables=tables_html(checked.report, findings) if checked.report else [],
            findings=findings,
            accepted={},
        ),
        "utf-8",
    )
    return path


def by_errors(lines: list[Audited]) -> list[Audited]:
    """Most errors first, then most warnings, then by report."""
    return sorted(lines, key=lambda a: (-a.errors, -a.warnings, a.report))


def write_index(out: Path, folder: Path, lines: list[Audited]) -> Path:
    """index.html, findings.csv and reports.csv of the audit; the index's path."""
    out.mkdir(parents=True, exist_ok=True)
    ordered = by_errors(lines)
    with open(out / "reports.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, REPORT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(vars(a) for a in ordered)
    with open(out / "findings.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, FINDING_FIELDS)
        writer.writeheader()
        for a in sorted(lines, key=lambda a: a.report):
            writer.writerows({"report": a.report, "unit": a.unit or "", "year": a.year or ""} | f for f in a.findings)
    index = out / "index.html"
    index.write_text(
        template("audit_index.html.j2").render(
            title=f"{folder.name} 发布的年度报告检查汇总",
            lines=ordered,
            reports=len(lines),
            with_errors=sum(a.errors > 0 for a in lines),
            errors=sum(a.errors for a in lines),
            warnings=sum(a.warnings for a in lines),
        ),
        "utf-8",
    )
    return index
