"""Writes the example bureau's workbooks in sources/ (run: python -m tests.make_example_bureau).

`traffic` 2020 carries the figures of a published report (沅江市公安局交通警察大队, 2020; sources/README.md) as the
brigade would have typed them into the official table; every other figure is invented.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from flows.documents.template import write_workbook
from flows.format.edition import edition_for_year
from flows.intake.bureau import load_bureau
from flows.synth import synthetic_report
from tests.official_layout import write_official_layout

SOURCES = Path(__file__).resolve().parent.parent / "sources"

# The reference report's cells, as published (沅江市公安局交通警察大队, 2020): what is not listed
# here was left blank. Table 四 prints two zeros without their columns: we put them under the
# 总计 of 行政复议 and of 未经复议直接起诉.
REFERENCE_2020 = {
    ("proactive_disclosure", "rules", "made"): 0,
    ("proactive_disclosure", "rules", "published"): 0,
    ("proactive_disclosure", "rules", "total_published"): 0,
    ("proactive_disclosure", "normative_documents", "made"): 0,
    ("proactive_disclosure", "normative_documents", "published"): 0,
    ("proactive_disclosure", "normative_documents", "total_published"): 0,
    ("proactive_disclosure", "licensing", "previous_items"): 25,
    ("proactive_disclosure", "licensing", "change"): "不变",
    ("proactive_disclosure", "licensing", "decisions"): 25,
    ("proactive_disclosure", "other_services", "previous_items"): 0,
    ("proactive_disclosure", "other_services", "change"): "不变",
    ("proactive_disclosure", "other_services", "decisions"): 0,
    ("proactive_disclosure", "penalties", "previous_items"): 121,
    ("proactive_disclosure", "penalties", "change"): "不变",
    ("proactive_disclosure", "penalties", "decisions"): 121,
    ("proactive_disclosure", "enforcement", "previous_items"): 31,
    ("proactive_disclosure", "enforcement", "change"): "不变",
    ("proactive_disclosure", "enforcement", "decisions"): 31,
    ("proactive_disclosure", "fees", "previous_items"): 0,
    ("proactive_disclosure", "fees", "change"): 0,
    ("proactive_disclosure", "procurement", "projects"): 12,
    ("proactive_disclosure", "procurement", "amount"): 4920735,
    ("applications", "new", "total"): 0,
    ("applications", "carried_in", "total"): 0,
    ("applications", "results_total", "total"): 0,
    ("applications", "carried_over", "total"): 0,
    ("review_litigation", "cases", "review_total"): 0,
    ("review_litigation", "cases", "suit_direct_total"): 0,
}


def main() -> None:
    bureau = load_bureau(SOURCES)
    rng = np.random.default_rng(2020)
    carried_over = {}
    for year in (2020, 2021):
        edition = edition_for_year(year)
        folder = SOURCES / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        for department in bureau.departments:
            path = folder / f"{department.id}.xlsx"
            if (department.id, year) == ("traffic", 2020):
                write_official_layout(path, edition, REFERENCE_2020)
                carried_over[department.id] = np.zeros(7, dtype=np.int64)
                continue
            previous = carried_over.get(department.id)
            report = synthetic_report(edition, department.id, year, rng, carried_in=previous)
            table = edition.tables["applications"]
            carried_over[department.id] = report.values["applications"][table.row_index["carried_over"]].copy()
            write_workbook(
                path, edition, year, report, department.id, department.name, created=datetime(year + 1, 1, 6)
            )
            print("wrote", path)


if __name__ == "__main__":
    main()
