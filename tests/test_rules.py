"""Each accounting rule: a case that passes and a case that fails with the exact finding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.checks.check import check_report
from flows.checks.rules import (
    Context,
    rule_a1,
    rule_a2,
    rule_a3,
    rule_b1,
    rule_c1,
    rule_c2,
    rule_c3,
    rule_c4,
    rule_c5,
    rule_d1,
    rule_d2,
    rule_d3,
    rule_d4,
    rule_e2,
    rule_e3,
    rule_w1,
    rule_w3,
)
from flows.format.edition import normalise_label
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
    assert (
        "（七）总计 / 自然人" in findings[0].message
        and "应为" in findings[0].message
        and "相差 6" in findings[0].message
    )
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
    assert (finding.rule, finding.table, finding.row, finding.column) == (
        "B1",
        "review_litigation",
        None,
        "suit_after_review_total",
    )
    assert int(finding.expected) == int(finding.actual) + 3
    assert "复议后起诉 总计" in finding.message


def test_findings_name_the_cell_they_were_read_from(tmp_path):
    from flows.documents.template import write_workbook
    from flows.intake.workbook import read_workbook

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


@pytest.mark.parametrize(
    "typed, official",
    [
        ("一，本年新收", "一、本年新收"),
        ("1、属于国家秘密", "1.属于国家秘密"),
        ("（ 七 ）总 计", "(七)总计"),
        ('3.危及"三安全一稳定"', "3.危及“三安全一稳定”"),
    ],
)
def test_label_variants_compare_equal(typed, official):
    assert normalise_label(typed) == normalise_label(official)


# -- issue 3: table 二 rules, warnings, and the rules across years --------------------------------


def set_cell(report, table, row, column, value):
    report.values[table][at(report, table, row, column)] = value


def test_c1_parts_within_total_published():
    report = valid_report(2020)
    assert list(rule_c1(report, Context())) == []
    set_cell(report, "proactive_disclosure", "normative_documents", "total_published", 3)
    set_cell(report, "proactive_disclosure", "normative_documents", "made", 5)
    set_cell(report, "proactive_disclosure", "normative_documents", "published", 3)
    (finding,) = rule_c1(report, Context())
    assert (finding.rule, finding.row, finding.column, finding.expected, finding.actual) == (
        "C1",
        "normative_documents",
        "made",
        "3",
        "5",
    )
    assert "本年新制作数量 5 大于对外公开总数量 3" in finding.message


def test_c2_repealed_within_last_years_in_force_plus_issued():
    last, this = valid_report(2021, seed=1), valid_report(2021, seed=2)
    set_cell(last, "proactive_disclosure", "normative_documents", "in_force", 10)
    set_cell(this, "proactive_disclosure", "normative_documents", "issued", 2)
    set_cell(this, "proactive_disclosure", "normative_documents", "repealed", 12)
    assert list(rule_c2(this, Context(previous=last))) == []
    set_cell(this, "proactive_disclosure", "normative_documents", "repealed", 13)
    (finding,) = rule_c2(this, Context(previous=last))
    assert (finding.row, finding.column, finding.expected, finding.actual) == (
        "normative_documents",
        "repealed",
        "12",
        "13",
    )
    assert list(rule_c2(this, Context())) == []  # no previous year: nothing to compare


def test_c3_rules_zero_below_prefecture_level():
    report = valid_report(2021)
    set_cell(report, "proactive_disclosure", "rules", "in_force", 2)
    assert list(rule_c3(report, Context(level="prefecture"))) == []
    (finding,) = rule_c3(report, Context(level="county"))
    assert (finding.rule, finding.row, finding.column, finding.expected, finding.actual) == (
        "C3",
        "rules",
        "in_force",
        "0",
        "2",
    )
    assert "县级机关无权制定规章" in finding.message


def test_c4_fees_that_look_like_yuan():
    report = valid_report(2021)
    set_cell(report, "proactive_disclosure", "fees", "amount_10k_yuan", 12_345600)  # 12.3456 万元
    assert list(rule_c4(report, Context())) == []
    set_cell(report, "proactive_disclosure", "fees", "amount_10k_yuan", 123456_000000)  # 123456 万元 = 12 亿元
    (finding,) = rule_c4(report, Context())
    assert (finding.rule, finding.row, finding.actual) == ("C4", "fees", "123456")
    assert "是否误按“元”填写" in finding.message


def test_c4_scale_is_the_units_level():
    """A city's real fee total (96171.6 万元) is no error at its level; at a department's it is."""
    report = valid_report(2021)
    set_cell(report, "proactive_disclosure", "fees", "amount_10k_yuan", 96171_600000)
    assert list(rule_c4(report, Context(level="prefecture", unit_level="prefecture"))) == []
    (finding,) = rule_c4(report, Context())
    assert "对部门而言异常偏大" in finding.message


def test_c4_last_years_figure_says_more_than_the_level():
    report, previous = valid_report(2021), valid_report(2021, seed=1)
    set_cell(previous, "proactive_disclosure", "fees", "amount_10k_yuan", 20000_000000)  # 2 亿元 last year
    set_cell(report, "proactive_disclosure", "fees", "amount_10k_yuan", 25000_000000)
    assert list(rule_c4(report, Context(previous=previous))) == []  # large, but as large as last year
    set_cell(previous, "proactive_disclosure", "fees", "amount_10k_yuan", 5_200000)  # 5.2 万元 last year
    set_cell(report, "proactive_disclosure", "fees", "amount_10k_yuan", 52000_000000)  # 5.2 万 typed in 元
    (finding,) = rule_c4(report, Context(previous=previous, unit_level="province"))
    assert "是上年（5.2 万元）的 10,000 倍" in finding.message


def test_c5_amount_without_unit():
    report = valid_report(2020)
    assert list(rule_c5(report, Context())) == []
    r, c = at(report, "proactive_disclosure", "procurement", "amount")
    report.no_measure.add(("proactive_disclosure", r, c))
    (finding,) = rule_c5(report, Context())
    assert (finding.rule, finding.row, finding.column) == ("C5", "procurement", "amount")
    report.values["proactive_disclosure"][r, c] = 0
    assert list(rule_c5(report, Context())) == []  # 0 needs no unit


def test_w1_decisions_equal_item_counts_on_every_row():
    report = valid_report(2020)
    assert list(rule_w1(report, Context())) == []
    for row in ("licensing", "other_services", "penalties", "enforcement"):
        set_cell(report, "proactive_disclosure", row, "decisions", 7)
        set_cell(report, "proactive_disclosure", row, "previous_items", 7)
    (finding,) = rule_w1(report, Context())
    assert finding.column == "decisions" and "行政许可 7/7" in finding.message
    set_cell(report, "proactive_disclosure", "enforcement", "decisions", 8)  # one row differs: fine
    assert list(rule_w1(report, Context())) == []


def test_w3_other_share():
    report = valid_report(2020)
    m = report.values["applications"]
    layout = report.edition.tables["applications"]
    i, j = layout.row_index, layout.column_index
    m[:] = 0
    m[i["new"], [j["natural_person"], j["total"]]] = 20
    m[i["disclosed"], [j["natural_person"], j["total"]]] = 14
    m[i["other"], [j["natural_person"], j["total"]]] = 6  # 30%: not above the share
    m[i["results_total"], [j["natural_person"], j["total"]]] = 20
    assert check_report(report) == [] and list(rule_w3(report, Context())) == []
    m[i["disclosed"], [j["natural_person"], j["total"]]] = 13
    m[i["other"], [j["natural_person"], j["total"]]] = 7
    (finding,) = rule_w3(report, Context())
    assert (finding.row, finding.column, finding.actual) == ("other", "total", "7") and "35%" in finding.message


def test_d1_carry_over_across_the_edition_change():
    last, this = valid_report(2020, seed=3), valid_report(2021, seed=4)
    carried = last.values["applications"][last.edition.tables["applications"].row_index["carried_over"]]
    this.values["applications"][this.edition.tables["applications"].row_index["carried_in"]] = carried
    assert list(rule_d1(this, Context(previous=last))) == []
    this.values["applications"][at(this, "applications", "carried_in", "natural_person")] += 1
    this.values["applications"][at(this, "applications", "carried_in", "total")] += 1
    findings = list(rule_d1(this, Context(previous=last)))
    assert [(f.rule, f.row, f.column) for f in findings] == [
        ("D1", "carried_in", "natural_person"),
        ("D1", "carried_in", "total"),
    ]
    assert int(findings[0].actual) == int(findings[0].expected) + 1 and "2020 年度" in findings[0].message


def test_d2_in_force_follows_from_last_year():
    last, this = valid_report(2021, seed=5), valid_report(2021, seed=6)
    for row in ("rules", "normative_documents"):
        set_cell(this, "proactive_disclosure", row, "in_force", _d2_expected(last, this, row))
    assert list(rule_d2(this, Context(previous=last))) == []
    this.values["proactive_disclosure"][at(this, "proactive_disclosure", "normative_documents", "in_force")] += 2
    (finding,) = rule_d2(this, Context(previous=last))
    assert (finding.row, finding.column, int(finding.actual) - int(finding.expected)) == (
        "normative_documents",
        "in_force",
        2,
    )


def _d2_expected(last, this, row):
    def get(r, col):
        return int(r.values["proactive_disclosure"][at(r, "proactive_disclosure", row, col)])

    return get(last, "in_force") + get(this, "issued") - get(this, "repealed")


def test_d3_and_d4_within_the_2019_edition():
    last, this = valid_report(2019, seed=7), valid_report(2020, seed=8)
    pd = "proactive_disclosure"

    def get(r, row, col):
        return int(r.values[pd][at(r, pd, row, col)])

    for row in ("licensing", "other_services", "penalties", "enforcement", "fees"):
        set_cell(this, pd, row, "previous_items", get(last, row, "previous_items") + get(last, row, "change"))
    for row in ("rules", "normative_documents"):
        set_cell(this, pd, row, "total_published", get(last, row, "total_published") + get(this, row, "published"))
    assert list(rule_d3(this, Context(previous=last))) == [] and list(rule_d4(this, Context(previous=last))) == []
    this.values[pd][at(this, pd, "penalties", "previous_items")] += 1
    this.values[pd][at(this, pd, "normative_documents", "total_published")] -= 1
    (d3,) = rule_d3(this, Context(previous=last))
    (d4,) = rule_d4(this, Context(previous=last))
    assert (d3.rule, d3.row, d3.column) == ("D3", "penalties", "previous_items")
    assert (d4.rule, d4.row, d4.column) == ("D4", "normative_documents", "total_published")


def test_d5_no_d2_d3_d4_across_the_edition_change():
    """对外公开总数量 (2019) and 现行有效件数 (2021) are different concepts: not compared."""
    last, this = valid_report(2020, seed=9), valid_report(2021, seed=10)
    context = Context(previous=last)
    assert list(rule_d2(this, context)) == list(rule_d3(this, context)) == list(rule_d4(this, context)) == []
    this2020 = valid_report(2020, seed=11)
    assert list(rule_d2(this2020, Context(previous=valid_report(2021)))) == []


def test_e2_units_changed():
    bureau = valid_report(2021, unit="bureau")
    assert list(rule_e2(bureau, {"a", "b"}, {"a", "b"}, 2020)) == []
    (finding,) = rule_e2(bureau, {"a", "c"}, {"a", "b"}, 2020)
    assert (finding.rule, finding.unit) == ("E2", "bureau") and "新增 c，减少 b" in finding.message


def test_e3_item_counts_summed_across_departments():
    from flows.merge import merge

    one, two = valid_report(2020, "a", 1), valid_report(2020, "b", 2)
    for report in (one, two):
        report.values["proactive_disclosure"][:, :] = 0
    set_cell(one, "proactive_disclosure", "licensing", "previous_items", 5)
    merged = merge("bureau", [one, two])
    assert list(rule_e3(merged.bureau, merged.departments)) == []
    set_cell(two, "proactive_disclosure", "licensing", "previous_items", 3)
    merged = merge("bureau", [one, two])
    (finding,) = rule_e3(merged.bureau, merged.departments)
    assert (finding.rule, finding.row, finding.column) == (
        "E3",
        "licensing",
        "previous_items",
    ) and "2 个部门" in finding.message


def test_c4_at_the_bureau_is_at_its_level(sources_copy, tmp_path):
    """Each department's fees are plausible for a department; their sum is not for a township."""
    from openpyxl import load_workbook

    from flows.run import run_year

    bureau_yaml = sources_copy / "bureau.yaml"
    bureau_yaml.write_text(bureau_yaml.read_text("utf-8").replace("level: county", "level: township"), "utf-8")
    for path in sorted((sources_copy / "2021").glob("*.xlsx")):
        book = load_workbook(path)
        sheet = book["二、主动公开"]
        fees = next(c for row in sheet.iter_rows() for c in row if c.value == "行政事业性收费")
        sheet.cell(row=fees.row, column=2, value=6000)  # 6,000 万元: within a department's scale
        book.save(path)
    outcome = run_year(2021, sources_copy, tmp_path / "outputs")
    c4 = [f for f in outcome.findings if f.rule == "C4"]
    assert [f.unit for f in c4] == [outcome.bureau.id]
    assert "对乡镇而言异常偏大" in c4[0].message
