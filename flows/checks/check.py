"""Checking one unit: read its workbook, then run the catalogue's rules for its edition."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flows.checks.rules import RULES, Context
from flows.format.edition import rules
from flows.format.report import Finding, Report, make_finding
from flows.intake.kept import Pack
from flows.intake.workbook import UnreadableWorkbook, read_workbook


def check_report(report: Report, context: Context = Context(), only: tuple[str, ...] | None = None) -> list[Finding]:
    """The findings of every rule in RULES (or `only` those) that the catalogue applies to the
    report's edition."""
    catalogue = rules()
    findings: list[Finding] = []
    for rule_id, rule in RULES.items():
        editions = catalogue[rule_id].editions
        if (only is None or rule_id in only) and (editions is None or report.edition.code in editions):
            findings.extend(rule(report, context))
    return findings


@dataclass
class Checked:
    """One submitted file, read and checked. `report` is None when the file could not be read."""

    path: Path
    unit: str
    report: Report | None
    findings: list[Finding] = field(default_factory=list)
    unreadable: str | None = None  # why the file is no workbook at all

    @property
    def errors(self) -> int:
        return sum(f.is_error for f in self.findings)

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors


def previous_flaws(unit: str, year: int, previous: Report, reading: list[Finding], listed: int = 3) -> list[Finding]:
    """A D0 warning when last year's report has errors of its own (`reading`, and its tables'
    rules): which and where. Empty when it has none."""
    flaws = reading + [f for f in check_report(previous) if f.is_error]
    if not flaws:
        return []
    named = [f"{f.rule} {f.sheet + '!' + f.cell if f.sheet and f.cell else f.table or ''}".strip() for f in flaws]
    more = "…" if len(flaws) > listed else ""
    return [
        make_finding(
            "D0",
            unit,
            variant="flawed",
            previous_year=year - 1,
            count=len(flaws),
            listed="、".join(named[:listed]) + more,
            listed_en=", ".join(named[:listed]) + more,
        )
    ]


def check_workbook(path: Path, year: int, unit: str, context: Context = Context(), keep: Pack | None = None) -> Checked:
    """Read and check one department's workbook; never raises for what the file holds. With `keep`,
    the bytes read are kept in that pack for publication (see read_workbook)."""
    try:
        report, findings = read_workbook(path, year, unit, keep)
    except UnreadableWorkbook as error:
        finding = make_finding("F0", unit, file=str(path), file_name=Path(path).name, reason=str(error))
        return Checked(Path(path), unit, None, [finding], unreadable=str(error))
    if not any(f.rule in ("F1", "F2") for f in findings):
        findings += check_report(report, context)
    return Checked(Path(path), unit, report, findings)
