"""Merging departments into the bureau: exact sums, recomputed totals (E1), lineage, and a package
that does not depend on the order departments come in."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.checks.check import check_report
from flows.format.edition import edition_for_year
from flows.intake.bureau import Bureau, Department
from flows.merge import merge
from flows.release.package import build_package
from flows.synth import synthetic_report

YEARS = st.sampled_from([2020, 2021])


def departments(year: int, seeds: list[int]):
    edition = edition_for_year(year)
    return [synthetic_report(edition, f"d{i:02d}", year, np.random.default_rng(s)) for i, s in enumerate(seeds)]


def bureau_of(reports) -> Bureau:
    return Bureau("bureau", "示例局", tuple(Department(r.unit, f"部门{r.unit}") for r in reports), {})


@settings(max_examples=40, deadline=None)
@given(year=YEARS, seeds=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=8))
def test_sum_of_valid_departments_is_a_valid_bureau(year, seeds):
    reports = departments(year, seeds)
    merged = merge("bureau", reports)
    assert merged.findings == []
    assert check_report(merged.bureau) == []
    for table, values in merged.bureau.values.items():
        np.testing.assert_array_equal(values, sum(r.values[table] for r in reports))


@settings(max_examples=10, deadline=None)  # each example renders every unit's Word report twice
@given(year=YEARS, seeds=st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=4), data=st.data())
def test_department_order_does_not_change_the_package(year, seeds, data):
    reports = departments(year, seeds)
    shuffled = data.draw(st.permutations(reports))
    first = build_package(merge("bureau", reports), bureau_of(reports), [])
    second = build_package(merge("bureau", list(shuffled)), bureau_of(shuffled), [])
    assert first == second


def test_a_wrong_department_total_is_e1_at_bureau_level():
    reports = departments(2021, [1, 2, 3])
    layout = reports[0].edition.tables["applications"]
    r, c = layout.row_index["results_total"], layout.column_index["commercial_enterprise"]
    reports[1].values["applications"][r, c] += 4
    merged = merge("bureau", reports)
    e1 = [f for f in merged.findings if (f.row, f.column) == ("results_total", "commercial_enterprise")]
    assert len(e1) == 1 and e1[0].rule == "E1" and e1[0].unit == "bureau"
    assert int(e1[0].actual) - int(e1[0].expected) == 4


def test_each_bureau_cell_is_the_sum_of_its_lineage():
    reports = departments(2020, [5, 6, 7, 8])
    merged = merge("bureau", reports)
    for table, values in merged.bureau.values.items():
        for (r, c), value in np.ndenumerate(values):
            parts = [int(d.values[table][r, c]) for d, _ in merged.lineage(table, r, c)]
            assert sum(parts) == value
    assert [d.unit for d, _ in merged.lineage("applications", 0, 0)] == ["d00", "d01", "d02", "d03"]
