"""Each accounting rule: a case that passes and a case that fails with the exact finding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.check import check_report
from flows.edition import normalise_label
from flows.rules import rule_a1, rule_a2, rule_a3, rule_b1
from flows.synth import synthetic_report
from tests.conftest import valid_report


def at(report, table, row, column):
    layout = report.edition.tables[table]
    return layout.row_index[row], layout.column_index[column]


def bump(report, table, row, column, by):
    report.values[table][at(report, table, row, column)] += by


def test_valid_reports_pass_every_rule(year):
    assert check_report(valid_report(year)) == []


def test_a1_balance_of_a_column(year):
    report = valid_report(year)
    bump(report, "applications", "carried_over", "natural_person", 2)
    bump(report, "applications", "carried_over", "total", 2)  # keep A3 true: only A1 breaks
    finding, total = rule_a1(report)
    assert (total.row, total.column) == ("carried_over", "total")
    r, c = at(report, "applications", "new", "natural_person")
    m = report.values["applications"]
    assert (finding.rule, finding.row, finding.column) == ("A1", "carried_over", "natural_person")
    left = int(m[r, c] + m[r + 1, c])
    assert (finding.expected, finding.actual) == (str(left), str(left + 2))
    assert "相差 2" in finding.message
    assert check_report(report) == [finding, total]


def test_a2_results_total(year):
    report = valid_report(year)
    bump(report, "applications", "disclosed", "natural_person", 6)
    bump(report, "applications", "disclosed", "total", 6)
    findings = list(rule_a2(report))
    assert [(f.row, f.column) for f in findings] == [("results_total", "natural_person"), ("results_total", "total")]
    total = report.values["applications"][at(report, "applications", "results_total", "natural_person")]
    assert findings[0].expected == str(total + 6) and findings[0].actual == str(total)
    assert "（七）总计 / 自然人" in findings[0].message and "应为" in findings[0].message and "相差 6" in findings[0].message
    assert {f.rule for f in check_report(report)} == {"A2"}


def test_a3_row_total(year):
    report = valid_report(year)
    bump(report, "applications", "new", "research_institution", 1)
    findings = list(rule_a3(report))
    assert [(f.row, f.column) for f in findings] == [("new", "total")]
    assert int(findings[0].expected) == int(findings[0].actual) + 1


def test_b1_each_block(year):
    report = valid_report(year)
    bump(report, "review_litigation", "cases", "suit_after_review_pending", 3)
    (finding,) = rule_b1(report)
    assert (finding.rule, finding.table, finding.row, finding.column) == ("B1", "review_litigation", None, "suit_after_review_total")
    assert int(finding.expected) == int(finding.actual) + 3
    assert "复议后起诉 总计" in finding.message


def test_findings_name_the_cell_they_were_read_from(tmp_path):
    from flows.read import read_workbook
    from flows.template import write_workbook

    report = valid_report(2021)
    bump(report, "review_litigation", "cases", "review_upheld", 1)
    path = write_workbook(tmp_path / "f.xlsx", report.edition, 2021, report)
    read, _ = read_workbook(path, 2021, "d1")
    (finding,) = check_report(read)
    assert (finding.rule, finding.sheet, finding.cell) == ("B1", "四、复议诉讼", "E5")
    assert "（四、复议诉讼!E5）" in finding.message


CELLS = st.sampled_from(["applications", "review_litigation"])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), year=st.sampled_from([2020, 2021]), table=CELLS, data=st.data())
def test_changing_any_single_application_or_review_cell_is_caught(seed, year, table, data):
    """Every cell of tables 三 and 四 is in some total: no single change goes unnoticed."""
    report = synthetic_report(valid_report(year).edition, "d", year, np.random.default_rng(seed))
    shape = report.values[table].shape
    r = data.draw(st.integers(0, shape[0] - 1))
    c = data.draw(st.integers(0, shape[1] - 1))
    report.values[table][r, c] += data.draw(st.integers(1, 50))
    assert any(f.severity == "error" for f in check_report(report))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), year=st.sampled_from([2020, 2021]))
def test_synthetic_reports_are_valid(seed, year):
    report = synthetic_report(valid_report(year).edition, "d", year, np.random.default_rng(seed))
    assert check_report(report) == []


@pytest.mark.parametrize("typed, official", [("一，本年新收", "一、本年新收"), ("1、属于国家秘密", "1.属于国家秘密"),
                                             ("（ 七 ）总 计", "(七)总计"), ("3.危及\"三安全一稳定\"", "3.危及“三安全一稳定”")])
def test_label_variants_compare_equal(typed, official):
    assert normalise_label(typed) == normalise_label(official)
