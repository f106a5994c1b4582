"""Departments' reports → the bureau's: the cell-wise sum, its totals recomputed and compared (E1)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from flows.checks.rules import rule_e1
from flows.format.report import Finding, Report, Source


@dataclass
class Merged:
    """The bureau's report and the department reports it sums, in unit order (the lineage)."""

    bureau: Report
    departments: tuple[Report, ...]
    findings: list[Finding]

    def lineage(self, table: str, r: int, c: int) -> Iterator[tuple[Report, Source | None]]:
        """The department cells a bureau cell is the sum of, with the file (by SHA-256) of each."""
        for department in self.departments:
            yield department, department.source(table, r, c)


def merge(bureau_id: str, reports: Sequence[Report]) -> Merged:
    """Sum `reports` (one year, one edition) into the bureau's report. Order does not matter."""
    if not reports:
        raise ValueError("nothing to merge: no department report")
    first = reports[0]
    if any(r.edition is not first.edition or r.year != first.year for r in reports):
        raise ValueError("reports of different years or editions cannot be merged")
    departments = tuple(sorted(reports, key=lambda r: r.unit))
    bureau = Report.zeros(bureau_id, first.year, first.edition)
    for report in departments:
        for table, values in report.values.items():
            bureau.values[table] += values
    return Merged(bureau, departments, list(rule_e1(bureau)))
