"""Valid synthetic reports: invented figures that satisfy every accounting rule of their edition.

For the example bureau, property tests and load tests. Deterministic for a given generator.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from flows.checks.rules import APPLICANTS, BLOCKS, OUTCOMES
from flows.format.edition import Edition
from flows.format.report import Report


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
        for outcome, n in zip(OUTCOMES, parts, strict=True):
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
    j = table.column_index
    r = table.row_index["normative_documents"]
    for total, parts in (("total_published", ("made", "published")), ("in_force", ("issued", "repealed"))):
        if total in j:  # a total is at least each of its parts (rules C1, C2)
            m[r, j[total]] = max(m[r, j[p]] for p in parts) + rng.integers(0, 20)


def synthetic_report(
    edition: Edition, unit: str, year: int, rng: np.random.Generator, carried_in: np.ndarray | None = None
) -> Report:
    """A valid report; `carried_in` (by column) continues a previous year's carried_over (rule D1)."""
    report = Report.zeros(unit, year, edition)
    _proactive_disclosure(report, rng)
    _applications(report, rng, carried_in)
    _review_litigation(report, rng)
    return report


SYNTHETIC_TEXT = """# 一、总体情况

（合成数据）全年新收政府信息公开申请{{applications.new.total}}件。

# 五、存在的主要问题及改进情况

（合成数据）{year} 年度的问题与改进措施。

# 六、其他需要报告的事项

（合成数据）未收取信息处理费。
"""


def synthetic_files(out: Path, year: int, departments: int) -> list[Path]:
    """Every file write_synthetic_bureau writes."""
    out = Path(out)
    units = [out / str(year) / f"d{i:05d}.xlsx" for i in range(1, departments + 1)]
    return [out / "bureau.yaml", out / str(year) / "report.md", out / f"errors-{year}.csv", *units]


def write_synthetic_bureau(
    out: Path,
    year: int,
    departments: int,
    seed: int = 0,
    errors: int = 0,
    head: dict | None = None,
    units: list[dict] | None = None,
    errors_file: bool = True,
) -> list[dict]:
    """A bureau of `departments` valid workbooks for `year` in `out` (bureau.yaml, <year>/, report.md),
    deterministic from `seed`; `errors` of them get one known error each, returned (and written to
    out/errors-<year>.csv unless not `errors_file`) with the cell and the rules that must catch it.
    `head`: bureau.yaml's id, name and level instead of the example's; `units`: more units to list
    (a tree's child bureaus, flows/province.py)."""
    import csv

    import yaml

    from flows.documents.template import SHEET_NAMES, table_grid, write_workbook
    from flows.format.edition import edition_for_year
    from flows.format.report import cell_ref

    out, edition, rng = Path(out), edition_for_year(year), np.random.default_rng(seed)
    names = [path.stem for path in synthetic_files(out, year, departments)[3:]]
    (out / str(year)).mkdir(parents=True, exist_ok=True)
    (out / "bureau.yaml").write_text(
        yaml.safe_dump(
            {
                **(head or {"id": "synthetic", "name": "合成示例局", "level": "county"}),
                "base_url": "https://example.org/synthetic",
                "note": "合成数据，全部数字均为虚构。Synthetic data: every figure is invented.",
                # A release must name its licence (Data Package v2), or `nianbao verify` fails it.
                "licenses": [
                    {
                        "name": "CC-BY-4.0",
                        "path": "https://creativecommons.org/licenses/by/4.0/",
                        "title": "Creative Commons Attribution 4.0",
                    }
                ],
                "departments": [{"id": u, "name": f"合成部门{u}"} for u in names] + (units or []),
            },
            allow_unicode=True,
            sort_keys=False,
        ),
        "utf-8",
    )
    (out / str(year) / "report.md").write_text(SYNTHETIC_TEXT.replace("{year}", str(year)), "utf-8")
    layout = edition.tables["applications"]
    positions = {
        span.cell: cell_ref(span.r0 + 1, span.c0)
        for span in table_grid(layout, state_measures=True)
        if span.kind == "value"
    }
    broken = set(rng.choice(len(names), size=min(errors, len(names)), replace=False).tolist()) if errors else set()
    injected = []
    for i, unit in enumerate(names):
        report = synthetic_report(edition, unit, year, rng)
        if i in broken:  # one more application disclosed than the totals say: A2 and A3 must catch it
            row, column = "disclosed", APPLICANTS[int(rng.integers(len(APPLICANTS)))]
            report.values["applications"][layout.row_index[row], layout.column_index[column]] += 1
            injected.append(
                {
                    "unit": unit,
                    "sheet": SHEET_NAMES["applications"],
                    "cell": positions[(row, column)],
                    "row": row,
                    "column": column,
                    "rules": "A2 A3",
                }
            )
        write_workbook(
            out / str(year) / f"{unit}.xlsx",
            edition,
            year,
            report,
            unit,
            f"合成部门{unit}",
            created=datetime(year + 1, 1, 6),
        )
    if errors_file:
        with open(out / f"errors-{year}.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["unit", "sheet", "cell", "row", "column", "rules"])
            writer.writeheader()
            writer.writerows(injected)
    return injected
