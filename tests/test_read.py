"""Reading workbooks: the reference report, the template round trip, and the layouts departments
really send, each cell keeping its sheet, reference and raw content."""

from __future__ import annotations

import numpy as np
import pytest

from flows.checks.check import check_workbook
from flows.documents.template import write_workbook
from flows.format.edition import edition_for_year
from flows.intake.workbook import read_workbook
from tests.conftest import SOURCES, valid_report
from tests.make_example_bureau import REFERENCE_2020
from tests.official_layout import write_official_layout


def cell(report, table, row, column):
    layout = report.edition.tables[table]
    return int(report.values[table][layout.row_index[row], layout.column_index[column]])


# The reference report (沅江市公安局交通警察大队 2020, sources/README.md) as published, figure by figure.
PUBLISHED = {
    ("proactive_disclosure", "licensing", "previous_items"): 25,
    ("proactive_disclosure", "licensing", "change"): 0,
    ("proactive_disclosure", "licensing", "decisions"): 25,
    ("proactive_disclosure", "penalties", "previous_items"): 121,
    ("proactive_disclosure", "penalties", "decisions"): 121,
    ("proactive_disclosure", "enforcement", "previous_items"): 31,
    ("proactive_disclosure", "enforcement", "decisions"): 31,
    ("proactive_disclosure", "procurement", "projects"): 12,
    ("proactive_disclosure", "procurement", "amount"): 4920735_00,  # 元, held in 分
}


def test_reference_report_reads_into_its_published_figures():
    checked = check_workbook(SOURCES / "2020" / "traffic.xlsx", 2020, "traffic")
    report, findings = checked.report, checked.findings
    assert report.edition.code == "2019"
    for (table, row, column), value in PUBLISHED.items():
        assert cell(report, table, row, column) == value, (table, row, column)
    # Everything else the brigade reported is zero: no applications, no review, no litigation.
    for table in ("applications", "review_litigation"):
        assert not report.values[table].any()
    pd = report.values["proactive_disclosure"].copy()
    layout = report.edition.tables["proactive_disclosure"]
    for _, row, column in PUBLISHED:
        pd[layout.row_index[row], layout.column_index[column]] = 0
    assert not pd.any()
    # What the spec observed in this very report: blanks and "不变" (V2), an amount without unit
    # (C5), decisions equal to item counts on every row (W1). Nothing else.
    assert {f.rule for f in findings} == {"V2", "C5", "W1"}
    assert [f.cell for f in findings if f.rule == "C5"] == [report.source("proactive_disclosure", 7, 7).cell]


def test_reference_report_warns_of_each_normalised_cell_and_keeps_the_raw_text():
    report, findings = read_workbook(SOURCES / "2020" / "traffic.xlsx", 2020, "traffic")
    words = [f for f in findings if "不变" in f.message]
    assert [(f.row, f.column) for f in words] == [
        ("licensing", "change"),
        ("other_services", "change"),
        ("penalties", "change"),
        ("enforcement", "change"),
    ]
    licensing = report.edition.tables["proactive_disclosure"]
    source = report.source("proactive_disclosure", licensing.row_index["licensing"], licensing.column_index["change"])
    assert (source.sheet, source.cell, source.raw) == ("Sheet1", words[0].cell, "不变")
    blanks = [f for f in findings if "空白" in f.message]
    typed = sum(1 for (t, _, _), v in REFERENCE_2020.items() if t != "proactive_disclosure")
    assert len(blanks) == 161 + 15 - typed  # every blank cell of tables 三 and 四, once
    assert all(f.severity == "warning" and f.sheet == "Sheet1" for f in findings)


def test_template_round_trip(tmp_path, year):
    """template → filled → read → the same cells, from the cells the template drew."""
    original = valid_report(year, seed=year)
    path = write_workbook(tmp_path / "filled.xlsx", original.edition, year, original, "d1", "部门")
    report, findings = read_workbook(path, year, "d1")
    assert findings == []
    for table in original.values:
        np.testing.assert_array_equal(report.values[table], original.values[table])
    src = report.source("applications", 0, 0)
    assert src.sheet == "三、依申请公开" and src.raw == original.values["applications"][0, 0]


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"stacked": False},
        {"half_width": True},
        {"break_labels": False},
        {"blank_rows": False, "preface": ()},
        {"stacked": False, "half_width": True, "blank_rows": False},
    ],
    ids=["stacked", "sheet-per-table", "half-width", "unbroken-labels", "no-blank-rows", "mixed"],
)
def test_official_word_layouts(tmp_path, year, variant):
    original, path = _official(tmp_path, year, seed=7, **variant)
    report, findings = read_workbook(path, year, "d1")
    assert findings == []
    for table in original.values:
        np.testing.assert_array_equal(report.values[table], original.values[table])


def test_a_cell_typed_with_group_and_label_together_is_found(tmp_path):
    """A clerk who types "（三）不予公开 1.属于国家秘密" in one cell still gets that row read."""
    from openpyxl import load_workbook

    edition = edition_for_year(2021)
    report = valid_report(2021)
    path = write_workbook(tmp_path / "f.xlsx", edition, 2021, report)
    book = load_workbook(path)
    sheet = book["三、依申请公开"]
    for row in sheet.iter_rows():
        for c in row:
            if c.value == "1.属于国家秘密":
                c.value = "（三）不予公开 1.属于国家秘密"
    book.save(path)
    again, findings = read_workbook(path, 2021, "d1")
    assert findings == []
    np.testing.assert_array_equal(again.values["applications"], report.values["applications"])


def _read_everything(path, unit):
    report, findings = read_workbook(path, 2020, unit)
    cells = {code: list(report.provenance[code]) for code in report.values}
    return {code: v.tolist() for code, v in report.values.items()}, cells, [f.as_dict() for f in findings]


def test_a_layout_found_once_serves_every_workbook_with_the_same_labels(tmp_path):
    """A bureau's workbooks share the template's layout, found once: each still reads as it would
    alone, with its own figures, cells and findings, in its own name."""
    from openpyxl import load_workbook

    from flows.intake import workbook as read

    paths = []
    for i in range(4):
        report = valid_report(2020, seed=i)
        paths.append(write_workbook(tmp_path / f"d{i}.xlsx", report.edition, 2020, report))
    _edit(paths[1], "三、依申请公开", "（六）其他处理", "六)其他处理")  # F3, a finding of the layout
    _edit(paths[3], "三、依申请公开", "（六）其他处理", "六)其他处理")
    book = load_workbook(paths[2])
    book["四、复议诉讼"]["B5"] = "两件"  # V1, a finding of a value
    book.save(paths[2])
    read._PLACEMENTS.clear()
    together = [_read_everything(path, f"d{i}") for i, path in enumerate(paths)]
    assert len(read._PLACEMENTS) == 2  # the template's, and the one with the near-miss label
    for i, path in enumerate(paths):
        read._PLACEMENTS.clear()
        assert _read_everything(path, f"d{i}") == together[i]
    assert [f["unit"] for f in together[3][2]] == ["d3"]


def test_a_layout_found_by_the_last_resort_is_not_reused(tmp_path):
    """A row found only in a cell that also holds its group is found by reading every text, so the
    layout does not carry to a workbook whose label cells are the same but lacks that row."""
    from flows.intake import workbook as read

    report = valid_report(2021)
    combined = write_workbook(tmp_path / "combined.xlsx", report.edition, 2021, report)
    missing = write_workbook(tmp_path / "missing.xlsx", report.edition, 2021, report)
    _edit(combined, "三、依申请公开", "1.属于国家秘密", "（三）不予公开 1.属于国家秘密")
    _edit(missing, "三、依申请公开", "1.属于国家秘密", None)
    read._PLACEMENTS.clear()
    assert read_workbook(combined, 2021, "d1")[1] == []
    _, findings = read_workbook(missing, 2021, "d2")
    assert [(f.rule, f.row) for f in findings if f.rule == "F1"] == [("F1", "withheld_state_secret")]


def test_wrong_edition_is_one_f2_error_naming_both(tmp_path):
    report_2021 = valid_report(2021)
    path = write_workbook(tmp_path / "f.xlsx", report_2021.edition, 2021, report_2021)
    report, findings = read_workbook(path, 2020, "d1")
    assert [f.rule for f in findings] == ["F2"]
    f2 = findings[0]
    assert (f2.expected, f2.actual, f2.severity) == ("2019", "2021", "error")
    assert "本年制发件数" in f2.message and "本年新制作数量" in f2.message and "2020" in f2.message
    assert report.edition.code == "2021"


def _edit(path, sheet_name, old, new):
    from openpyxl import load_workbook

    book = load_workbook(path)
    for row in book[sheet_name].iter_rows():
        for c in row:
            if c.value == old:
                c.value = new
                book.save(path)
                return c.coordinate
    raise AssertionError(f"{old!r} not in {sheet_name}")


def test_a_label_too_far_from_the_template_is_f1_naming_its_cell(tmp_path):
    """What stands where a row must be is named, once: not the template's, not close enough to be
    read as it (schemas/labels.yaml), so its figures are not read under a label they may not be of."""
    report = valid_report(2020)
    path = write_workbook(tmp_path / "f.xlsx", report.edition, 2020, report)
    ref = _edit(path, "三、依申请公开", "2.重复申请", "2.其他事项")
    _, findings = read_workbook(path, 2020, "d1")
    (f1,) = [f for f in findings if f.rule == "F1"]
    assert (f1.row, f1.sheet, f1.cell, f1.actual) == ("unprocessed_repeated", "三、依申请公开", ref, "2.其他事项")
    assert "此处应为“2.重复申请”，实为“2.其他事项”" in f1.message


def test_a_misspelt_row_is_read_by_its_place_with_f3(tmp_path):
    report = valid_report(2020)
    path = write_workbook(tmp_path / "f.xlsx", report.edition, 2020, report)
    ref = _edit(path, "三、依申请公开", "2.重复申请", "2.重复")
    again, findings = read_workbook(path, 2020, "d1")
    assert [(f.rule, f.row, f.cell, f.actual, f.expected) for f in findings] == [
        ("F3", "unprocessed_repeated", ref, "2.重复", "2.重复申请")
    ]
    np.testing.assert_array_equal(again.values["applications"], report.values["applications"])


def test_near_miss_label_is_mapped_with_f3(tmp_path):
    report = valid_report(2020)
    path = write_workbook(tmp_path / "f.xlsx", report.edition, 2020, report)
    ref = _edit(path, "三、依申请公开", "（六）其他处理", "六)其他处理")
    again, findings = read_workbook(path, 2020, "d1")
    assert [(f.rule, f.cell, f.actual, f.expected) for f in findings] == [("F3", ref, "六)其他处理", "（六）其他处理")]
    np.testing.assert_array_equal(again.values["applications"], report.values["applications"])


def test_text_in_a_count_cell_is_v1_at_that_cell(tmp_path):
    report = valid_report(2021)
    path = write_workbook(tmp_path / "f.xlsx", report.edition, 2021, report)
    from openpyxl import load_workbook

    book = load_workbook(path)
    book["四、复议诉讼"]["B5"] = "两件"
    book.save(path)
    _, findings = read_workbook(path, 2021, "d1")
    v1 = [f for f in findings if f.rule == "V1"]
    assert [(f.sheet, f.cell, f.table, f.column) for f in v1] == [
        ("四、复议诉讼", "B5", "review_litigation", "review_corrected")
    ]
    assert "两件" in v1[0].message and "非负整数" in v1[0].message


# -- issue 3: near-miss labels (F3), subtotal rows, units stated in headers --------------------------
def _official(tmp_path, year, seed=3, **variant):
    report = valid_report(year, seed=seed)
    edition = report.edition
    typed = {}
    for table, layout in edition.tables.items():
        for r, row in enumerate(layout.rows):
            for c, column in enumerate(layout.columns):
                if layout.applicable[r, c]:
                    value = int(report.values[table][r, c])
                    typed[(table, row.code, column.code)] = value / 10**column.decimals if column.decimals else value
    return report, write_official_layout(tmp_path / "dept.xlsx", edition, typed, **variant)


@pytest.mark.parametrize(
    "year, sheet_text, typed, expected",
    [
        (2021, "行政规范性文件", "规范性文件", "行政规范性文件"),
        (2021, "本年制\n发件数", "本年新 制发数量", "本年制发件数"),
        (
            2020,
            "三、收到和处理政府信息公开申请情况",
            "三、行政机关收到和处理政府信息公开申请情况",
            "三、收到和处理政府信息公开申请情况",
        ),
    ],
)
def test_near_miss_labels_seen_in_real_reports(tmp_path, year, sheet_text, typed, expected):
    report, path = _official(tmp_path, year)
    ref = _edit(path, "Sheet1", sheet_text, typed)
    again, findings = read_workbook(path, year, "d1")
    assert [(f.rule, f.severity, f.cell, f.expected) for f in findings] == [("F3", "warning", ref, expected)]
    for table in report.values:
        np.testing.assert_array_equal(again.values[table], report.values[table])


def _insert_subtotal(path, group_label, values_by_column):
    """Insert a row above the group's first sub-row holding the group label and `values`."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    sheet = book["三、依申请公开"]
    first = next(c.row for row in sheet.iter_rows() for c in row if c.value == group_label)
    for rng in list(sheet.merged_cells.ranges):  # openpyxl does not move merges: drop them
        sheet.unmerge_cells(str(rng))
    sheet.insert_rows(first)
    sheet.cell(row=first, column=2, value=group_label)
    for column, value in values_by_column.items():
        sheet.cell(row=first, column=column, value=value)
    book.save(path)
    return first


def test_subtotal_row_is_checked_then_dropped(tmp_path):
    report = valid_report(2021, seed=12)
    path = write_workbook(tmp_path / "f.xlsx", report.edition, 2021, report)
    layout = report.edition.tables["applications"]
    withheld = [i for i, row in enumerate(layout.rows) if row.groups[-1:] == ("（三）不予公开",)]
    sums = report.values["applications"][withheld].sum(axis=0)
    row = _insert_subtotal(path, "（三）不予公开", {4 + c: int(v) for c, v in enumerate(sums)})
    again, findings = read_workbook(path, 2021, "d1")
    assert [(f.rule, f.severity, f.cell) for f in findings] == [("F3", "warning", f"A{row}")]
    assert "小计行" in findings[0].message
    np.testing.assert_array_equal(again.values["applications"], report.values["applications"])


def test_subtotal_row_that_disagrees_is_an_error_at_its_cell(tmp_path):
    report = valid_report(2021, seed=12)
    path = write_workbook(tmp_path / "f.xlsx", report.edition, 2021, report)
    layout = report.edition.tables["applications"]
    withheld = [i for i, row in enumerate(layout.rows) if row.groups[-1:] == ("（三）不予公开",)]
    sums = [int(v) for v in report.values["applications"][withheld].sum(axis=0)]
    sums[0] += 1
    row = _insert_subtotal(path, "（三）不予公开", {4 + c: v for c, v in enumerate(sums)})
    _, findings = read_workbook(path, 2021, "d1")
    (error,) = [f for f in findings if f.is_error]
    assert (error.rule, error.cell, error.column, error.expected, error.actual) == (
        "A2",
        f"D{row}",
        "natural_person",
        str(sums[0] - 1),
        str(sums[0]),
    )


@pytest.mark.parametrize(
    "header, typed, read_as", [("采购总金额（万元）", 492.0735, 4920735_00), ("采购总金额(元)", 4920735, 4920735_00)]
)
def test_amount_header_states_its_unit(tmp_path, header, typed, read_as):
    cells = dict(REFERENCE_2020)
    cells[("proactive_disclosure", "procurement", "amount")] = typed
    path = write_official_layout(tmp_path / "t.xlsx", edition_for_year(2020), cells)
    _edit(path, "Sheet1", "采购总金额", header)
    checked = check_workbook(path, 2020, "traffic")
    assert cell(checked.report, "proactive_disclosure", "procurement", "amount") == read_as
    assert "C5" not in {f.rule for f in checked.findings}  # the unit is stated: nothing to warn of
