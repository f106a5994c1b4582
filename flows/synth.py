"""Valid synthetic reports: invented figures that satisfy every accounting rule of their edition.

For the example bureau, property tests and load tests. Deterministic for a given generator.
"""

from __future__ import annotations

import numpy as np

from .edition import Edition
from .report import Report
from .rules import APPLICANTS, BLOCKS, OUTCOMES


def _applications(report: Report, rng: np.random.Generator, carried_in: np.ndarray | None) -> None:
    table = report.edition.tables["applications"]
    m, i, j = report.values["applications"], table.row_index, table.column_index
    results = list(range(i["disclosed"], i["results_total"]))
    for k, code in enumerate(APPLICANTS):
        c = j[code]
        m[i["new"], c] = rng.integers(0, 40 if k == 0 else 6)
        m[i["carried_in"], c] = rng.integers(0, 4) if carried_in is None else carried_in[c]
        pending = m[i["new"], c] + m[i["carried_in"], c]
        handled = int(rng.integers(0, pending + 1))
        m[results, c] = rng.multinomial(handled, np.full(len(results), 1 / len(results)))
        m[i["results_total"], c] = handled
        m[i["carried_over"], c] = pending - handled
    m[:, j["total"]] = m[:, [j[a] for a in APPLICANTS]].sum(axis=1)


def _review_litigation(report: Report, rng: np.random.Generator) -> None:
    table = report.edition.tables["review_litigation"]
    row, j = report.values["review_litigation"][0], table.column_index
    for block in BLOCKS:
        parts = rng.integers(0, 3, len(OUTCOMES))
        for outcome, n in zip(OUTCOMES, parts):
            row[j[f"{block}_{outcome}"]] = n
        row[j[f"{block}_total"]] = parts.sum()


def _proactive_disclosure(report: Report, rng: np.random.Generator) -> None:
    table = report.edition.tables["proactive_disclosure"]
    m = report.values["proactive_disclosure"]
    for r, row in enumerate(table.rows):
        for c, column in enumerate(table.columns):
            if not table.applicable[r, c] or row.code == "rules":
                continue  # 规章 stay 0: a county-level body makes none (rule C3)
            if column.kind == "signed":
                m[r, c] = rng.integers(-3, 4)
            elif column.kind == "amount":
                m[r, c] = int(rng.integers(0, 10**6)) * 10 ** max(column.decimals - 4, 0)
            else:
                m[r, c] = rng.integers(0, 150)
    c = table.column_index
    r = table.row_index["normative_documents"]
    for total, parts in (("total_published", ("made", "published")), ("in_force", ("issued", "repealed"))):
        if total in c:  # a total is at least each of its parts (rules C1, C2)
            m[r, c[total]] = max(m[r, c[p]] for p in parts) + rng.integers(0, 20)


def synthetic_report(
    edition: Edition, unit: str, year: int, rng: np.random.Generator, carried_in: np.ndarray | None = None
) -> Report:
    """A valid report; `carried_in` (by column) continues a previous year's carried_over (rule D1)."""
    report = Report.zeros(unit, year, edition)
    _proactive_disclosure(report, rng)
    _applications(report, rng, carried_in)
    _review_litigation(report, rng)
    return report
