"""The accounting rules, one small function each, on a Report's matrices.

Each rule returns its findings; which rules run for an edition, their severity and their messages
come from the catalogue (schemas/rules.yaml). Row and column codes are the spec's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .edition import TableLayout
from .report import Finding, Report, make_finding

APPLICANTS = (
    "natural_person",
    "commercial_enterprise",
    "research_institution",
    "social_welfare_organization",
    "legal_service_institution",
    "other_organization",
)
BLOCKS = ("review", "suit_direct", "suit_after_review")
OUTCOMES = ("upheld", "corrected", "other", "pending")


def _mismatches(report: Report, rule: str, table: str, expected: np.ndarray, actual: np.ndarray, cells) -> Iterator[Finding]:
    """A finding for each position where expected ≠ actual; `cells(i)` → (r, c) of the cell to name."""
    for i in np.flatnonzero(expected != actual):
        r, c = cells(i)
        yield make_finding(rule, report.unit, report=report, table=table, r=r, c=c, expected=int(expected[i]), actual=int(actual[i]))


def _result_rows(table: TableLayout) -> list[int]:
    """The rows of 三、本年度办理结果 that carry a value: （一） to （六）, before （七）总计."""
    index = table.row_index
    return list(range(index["disclosed"], index["results_total"]))


def rule_a1(report: Report, rule: str = "A1") -> Iterator[Finding]:
    """Every column: new + carried_in = results_total + carried_over (the template's stated rule)."""
    table = report.edition.tables["applications"]
    m, i = report.values["applications"], table.row_index
    yield from _mismatches(
        report, rule, "applications",
        m[i["new"]] + m[i["carried_in"]],
        m[i["results_total"]] + m[i["carried_over"]],
        lambda c: (i["carried_over"], c),
    )


def rule_a2(report: Report, rule: str = "A2") -> Iterator[Finding]:
    """Every column: results_total = the sum of the result rows."""
    table = report.edition.tables["applications"]
    m, total = report.values["applications"], table.row_index["results_total"]
    yield from _mismatches(
        report, rule, "applications", m[_result_rows(table)].sum(axis=0), m[total], lambda c: (total, c)
    )


def rule_a3(report: Report, rule: str = "A3") -> Iterator[Finding]:
    """Every row: total = the sum of the six applicant columns."""
    table = report.edition.tables["applications"]
    m, j = report.values["applications"], table.column_index
    total = j["total"]
    yield from _mismatches(
        report, rule, "applications", m[:, [j[c] for c in APPLICANTS]].sum(axis=1), m[:, total], lambda r: (r, total)
    )


def rule_b1(report: Report, rule: str = "B1") -> Iterator[Finding]:
    """Each block of table 四: total = upheld + corrected + other + pending."""
    table = report.edition.tables["review_litigation"]
    row, j = report.values["review_litigation"][0], table.column_index
    parts = np.array([[row[j[f"{b}_{o}"]] for o in OUTCOMES] for b in BLOCKS]).sum(axis=1)
    totals = np.array([row[j[f"{b}_total"]] for b in BLOCKS])
    yield from _mismatches(report, rule, "review_litigation", parts, totals, lambda k: (0, j[f"{BLOCKS[k]}_total"]))


def rule_e1(bureau: Report) -> Iterator[Finding]:
    """The bureau's totals, recomputed from its summed parts, equal the summed totals."""
    for rule in (rule_a2, rule_a3, rule_b1):
        yield from rule(bureau, "E1")


RULES: dict[str, Callable[[Report], Iterator[Finding]]] = {
    "A1": rule_a1,
    "A2": rule_a2,
    "A3": rule_a3,
    "B1": rule_b1,
}
