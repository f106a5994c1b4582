"""Reading honestly: a table cell is read as what the clerk sees in Excel, or a finding says why not.

Error values (#REF! …) are V1 errors, not blanks; a value cell under a merged range is I3; formulas
whose saved values Excel would recalculate are I4; formulas that refer to another workbook are I5.
Each workbook is the example department's, its XML edited as another program would have written it.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from flows.checks.check import check_workbook
from flows.intake.files import _links
from tests.conftest import SOURCES

TEMPLATE = SOURCES / "2021" / "household.xlsx"
PROACTIVE, APPLICATIONS, REVIEW = "xl/worksheets/sheet2.xml", "xl/worksheets/sheet3.xml", "xl/worksheets/sheet4.xml"
EXCEL_CALC = b'<calcPr calcId="191029"/>'  # as Excel writes it: the saved values are its last word


Edits = dict[str, list[tuple[bytes, bytes]]]  # part → (old bytes, new bytes) of each replacement


def edited(
    tmp_path: Path, cells: dict[tuple[str, str], str] | None = None, added: dict | None = None, **replaced: Edits
) -> Path:
    """The example workbook with `cells` ((sheet part, cell) → its new <c> element) put in place of
    the template's, the replacements of each of `replaced` made, and the parts `added` put in."""
    edits: Edits = {}
    for each in replaced.values():
        for part, pairs in each.items():
            edits.setdefault(part, []).extend(pairs)
    out = tmp_path / "household.xlsx"
    with zipfile.ZipFile(TEMPLATE) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = (added or {}).get(info.filename) or source.read(info.filename)
            for (part, ref), element in (cells or {}).items():
                if part == info.filename:
                    data, n = re.subn(rb'<c r="%s"[^>]*?(?:/>|>.*?</c>)' % ref.encode(), element.encode(), data)
                    assert n == 1, ref
            for old, new in edits.get(info.filename, ()):
                assert old in data, old
                data = data.replace(old, new)
            target.writestr(info.filename, data)
        for part, data in (added or {}).items():
            if part not in source.namelist():
                target.writestr(part, data)
    return out


def calculation(calc: bytes) -> Edits:
    return {"xl/workbook.xml": [(b'<calcPr calcId="124519" fullCalcOnLoad="1"/>', calc)]}


def found(path: Path, *rules: str) -> list:
    checked = check_workbook(path, 2021, "household")
    assert checked.report is not None, checked.unreadable
    return [f for f in checked.findings if f.rule in rules]


# -- none of it in an ordinary workbook -------------------------------------------------------------
@pytest.mark.parametrize("unit", ["household", "traffic", "exit_entry", "public_order"])
def test_the_template_s_workbooks_say_nothing(unit):
    """The template merges its headers, labels and table 二's wide value cells, and asks Excel to
    recalculate on opening (as every workbook a program writes does): none of it is a finding."""
    with zipfile.ZipFile(SOURCES / "2021" / f"{unit}.xlsx") as book:
        assert b'fullCalcOnLoad="1"' in book.read("xl/workbook.xml") and b"<mergeCell " in book.read(PROACTIVE)
    assert check_workbook(SOURCES / "2021" / f"{unit}.xlsx", 2021, unit).findings == []


def test_formulas_beside_the_tables_or_saved_by_excel_say_nothing(tmp_path):
    """A formula outside the tables is not read; one in a table cell of a workbook Excel calculated
    and saved gives the value Excel showed."""
    outside = {(REVIEW, "A1"): '<c r="A1" t="str"><f>"四、"&amp;"复议"</f><v>四、复议</v></c>'}
    assert found(edited(tmp_path, outside), "I4", "I5", "V1") == []
    inside = {(REVIEW, "A5"): '<c r="A5" s="5"><f>1+1</f><v>2</v></c>'}
    path = edited(tmp_path, inside, calc=calculation(EXCEL_CALC))
    assert found(path, "I4", "I5", "V1") == []
    assert check_workbook(path, 2021, "household").report.values["review_litigation"][0, 0] == 2


# -- error values ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "element, error",
    [
        ('<c r="A5" s="5" t="e"><f>#REF!+1</f><v>#REF!</v></c>', "#REF!"),
        ('<c r="A5" s="5" t="e"><f>1/0</f><v>#DIV/0!</v></c>', "#DIV/0!"),
        ('<c r="A5" s="5" t="e"><v>#N/A</v></c>', "#N/A"),  # pasted as a value: no formula left
        ("<c r='A5' s='5' t='e'><f>\"a\"+1</f><v>#VALUE!</v></c>", "#VALUE!"),  # quoted as XML allows
    ],
    ids=["ref", "div0", "na-pasted", "value-single-quotes"],
)
def test_an_error_value_is_an_error_naming_the_cell_and_the_error(tmp_path, element, error):
    findings = found(edited(tmp_path, {(REVIEW, "A5"): element}), "V1", "V2")
    (v1,) = findings  # not the blank (V2) calamine reads it as
    assert v1.is_error and (v1.sheet, v1.cell, v1.column) == ("四、复议诉讼", "A5", "review_upheld")
    assert v1.actual == error and f"错误值 {error}" in v1.message and error in v1.message_en


def test_an_error_value_calamine_does_not_know_is_named(tmp_path):
    """calamine knows Excel 2007's error values only: a newer one stops it reading the workbook,
    and the refusal names the cell rather than calamine's words."""
    path = edited(tmp_path, {(APPLICATIONS, "J7"): '<c r="J7" s="5" t="e"><f>SORT(D7:I7)</f><v>#SPILL!</v></c>'})
    checked = check_workbook(path, 2021, "household")
    assert [f.rule for f in checked.findings] == ["F0"]
    assert "三、依申请公开!J7" in checked.findings[0].message and "#SPILL!" in checked.findings[0].message


def test_error_values_in_a_workbook_whose_xml_has_a_prefix(tmp_path):
    """The Open XML SDK writes <x:c>, <x:f>, <x:v>: the same cells, and the same findings."""
    with zipfile.ZipFile(TEMPLATE) as book:
        sheet = book.read(REVIEW).replace(b'<c r="A5" s="5"><v>2</v></c>', b'<c r="A5" s="5" t="e"><v>#REF!</v></c>')
    prefixed = re.sub(rb"<(/?)(?!\?)(\w+)([ >/])", rb"<\1x:\2\3", sheet).replace(b"xmlns=", b"xmlns:x=")
    (v1,) = found(edited(tmp_path, added={REVIEW: prefixed}), "V1", "V2")
    assert (v1.cell, v1.actual) == ("A5", "#REF!")


# -- merged ranges ---------------------------------------------------------------------------------
def merged(ref: bytes) -> Edits:
    return {REVIEW: [(b'<mergeCells count="9">', b'<mergeCells count="10"><mergeCell ref="%s"/>' % ref)]}


def test_a_figure_hidden_under_a_merged_range_is_an_error(tmp_path):
    """A5:B5 merged: Excel shows A5's 2 over both; B5's 1 is in the file but seen by no one."""
    (i3,) = found(edited(tmp_path, merge=merged(b"A5:B5")), "I3")
    assert i3.is_error and (i3.sheet, i3.cell, i3.column) == ("四、复议诉讼", "B5", "review_corrected")
    assert "A5:B5" in i3.message and "只显示 A5 的内容" in i3.message and "“1”" in i3.message


def test_a_blank_under_a_merged_range_and_a_header_merged_into_the_values(tmp_path):
    """O4:O5: the header 总计 stretched over its value cell, which holds no figure anyone can see;
    and every value cell a merge covers is named, each once."""
    path = edited(tmp_path, {(REVIEW, "O5"): '<c r="O5" s="5"/>'}, merge=merged(b"O4:O5"))
    (i3,) = found(path, "I3")
    assert (i3.cell, i3.column) == ("O5", "suit_after_review_total") and "没有可见的数字" in i3.message
    wide = found(edited(tmp_path, merge=merged(b"K5:O5")), "I3")
    assert [f.cell for f in wide] == ["L5", "M5", "N5", "O5"]


def test_a_merge_whose_first_cell_is_the_value_cell_is_read_as_shown(tmp_path):
    """A5:A6: the value cell is the merge's first, the rest is below the table: what Excel shows."""
    assert found(edited(tmp_path, merge=merged(b"A5:A6")), "I3") == []


# -- recalculation ----------------------------------------------------------------------------------
def test_formulas_in_a_workbook_that_asks_to_be_recalculated(tmp_path):
    """A program wrote sums with a placeholder value and asked Excel to recalculate on opening, as
    xlsxwriter does: the figures read are the placeholders, which the warning names."""
    cells = {(REVIEW, ref): f'<c r="{ref}" s="5"><f>A5+B5+C5+D5</f><v>0</v></c>' for ref in ("E5", "J5")}
    cells[(APPLICATIONS, "J7")] = '<c r="J7" s="5"><f>SUM(D7:I7)</f><v>0</v></c>'
    (i4,) = found(edited(tmp_path, cells), "I4")
    assert i4.severity == "warning" and "3 个单元格是公式" in i4.message
    assert "三、依申请公开!J7、四、复议诉讼!E5、四、复议诉讼!J5" in i4.message  # in the tables' order
    assert "打开时由 Excel 重新计算" in i4.message and (i4.table, i4.cell) == ("applications", "J7")


def test_many_formulas_are_named_by_the_first_few_and_counted(tmp_path):
    letters = "DEFGHIJ"
    cells = {(APPLICATIONS, f"{c}7"): f'<c r="{c}7" s="5"><f>0+0</f><v>0</v></c>' for c in letters}
    (i4,) = found(edited(tmp_path, cells), "I4")
    assert "7 个单元格是公式" in i4.message and "三、依申请公开!H7…" in i4.message and "I7" not in i4.message


@pytest.mark.parametrize(
    "calc, warned",
    [
        (b'<calcPr calcId="191029" calcMode="manual" calcOnSave="0"/>', True),
        (b'<calcPr calcId="191029" calcCompleted="0"/>', True),
        (b'<calcPr calcId="191029" calcMode="manual"/>', False),  # manual, but recalculated on saving
    ],
    ids=["manual-not-on-save", "unfinished", "manual-saved"],
)
def test_values_saved_without_recalculation_may_be_stale(tmp_path, calc, warned):
    cells = {(REVIEW, "E5"): '<c r="E5" s="5"><f>A5+B5+C5+D5</f><v>5</v></c>'}
    findings = found(edited(tmp_path, cells, calc=calculation(calc)), "I4")
    assert [f.cell for f in findings] == (["E5"] if warned else [])
    assert all("可能已经过时" in f.message for f in findings)


def test_a_formula_saved_without_its_value_stays_v1_not_i4(tmp_path):
    """openpyxl saves formulas without a value (and asks for recalculation): the blank is V1 alone."""
    path = tmp_path / "household.xlsx"
    shutil.copy(TEMPLATE, path)
    book = load_workbook(path)
    book["四、复议诉讼"]["A5"] = "=1+1"
    book.save(path)
    assert [(f.rule, f.variant_cell) for f in []] == []  # placeholder removed below
    findings = found(path, "V1", "I4", "V2")
    assert [(f.rule, f.cell) for f in findings] == [("V1", "A5")] and "没有保存计算结果" in findings[0].message


# -- links to other workbooks -------------------------------------------------------------------------
LINK = {
    "xl/externalLinks/externalLink1.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><externalBook r:id="rId1">'
    b'<sheetNames><sheetName val="Sheet1"/></sheetNames></externalBook></externalLink>',
    "xl/externalLinks/_rels/externalLink1.xml.rels": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath" '
    b'Target="file:///C:/Users/clerk/Desktop/%E5%8E%BB%E5%B9%B4%E5%8F%B0%E8%B4%A6.xlsx" TargetMode="External"/>'
    b"</Relationships>",
}
LINKED: Edits = {
    "xl/workbook.xml": [
        (b"</sheets>", b'</sheets><externalReferences><externalReference r:id="rId9"/></externalReferences>')
    ],
    "xl/_rels/workbook.xml.rels": [
        (
            b"</Relationships>",
            (
                b'<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                b'externalLink" Target="externalLinks/externalLink1.xml"/></Relationships>'
            ),
        )
    ],
}


def test_a_formula_referring_to_another_workbook_is_an_error(tmp_path):
    cells = {
        (REVIEW, "A5"): '<c r="A5" s="5"><f>[1]Sheet1!A5</f><v>2</v></c>',
        # Excel shares one formula along a row: B5 and C5 say only that they share A5's text.
        (REVIEW, "K5"): '<c r="K5" s="5"><f t=\'shared\' ref="K5:L5" si="0">\'[1]Sheet 1\'!K5*1</f><v>1</v></c>',
        (REVIEW, "L5"): '<c r="L5" s="5"><f t=\'shared\' si="0"/><v>1</v></c>',
    }
    path = edited(tmp_path, cells, LINK, calc=calculation(EXCEL_CALC), link=LINKED)
    findings = found(path, "I5", "I4")
    assert [(f.rule, f.cell) for f in findings] == [("I5", "A5"), ("I5", "K5"), ("I5", "L5")]
    assert all(f.is_error and "去年台账.xlsx" in f.message for f in findings)
    assert "公式 =[1]Sheet1!A5 引用了另一个工作簿" in findings[0].message
    assert "与 K5 共用公式 ='[1]Sheet 1'!K5*1" in findings[2].message
    assert check_workbook(path, 2021, "household").report.values["review_litigation"][0, 0] == 2  # read, and said


def test_a_link_through_a_defined_name_and_a_recalculated_link(tmp_path):
    """=去年结转 names [1]Sheet1!$J$29: a link all the same. In a workbook asking for recalculation
    it is both a link (I5) and a formula Excel would recalculate (I4)."""
    name = '<definedNames><definedName name="去年">[1]Sheet1!$J$29</definedName></definedNames>'.encode()
    cells = {(APPLICATIONS, "D6"): '<c r="D6" s="5"><f>去年</f><v>3</v></c>'}
    path = edited(tmp_path, cells, LINK, link=LINKED, name={"xl/workbook.xml": [(b"</sheets>", b"</sheets>" + name)]})
    findings = found(path, "I5", "I4")
    assert [(f.rule, f.cell) for f in findings] == [("I5", "D6"), ("I4", "D6")]


def test_what_is_a_reference_to_another_workbook():
    assert _links("[1]Sheet1!A1+'[2]My Sheet'!B3*[1]!Rate") == (1, 2)
    assert _links("SUM(Table1[2020])+Table1[[#This Row],[1]]") == ()  # a table's columns
    assert _links('"[3]Sheet1!A1"&A1') == ()  # text
    assert _links("Rate*2", {"rate": (4,)}) == (4,) and _links("Rates*2", {"rate": (4,)}) == ()


def test_the_check_page_marks_the_cells(tmp_path):
    """The department's check page colours the hidden figure's cell and the linked cell as errors."""
    from flows.documents.check_pages import department_page

    cells = {(REVIEW, "A5"): '<c r="A5" s="5"><f>[1]Sheet1!A5</f><v>2</v></c>'}
    path = edited(tmp_path, cells, LINK, link=LINKED, merge=merged(b"K5:L5"))
    page = department_page(check_workbook(path, 2021, "household"), "户政", 2021)
    marked = re.findall(r'<td class="value error"[^>]*data-column="(\w+)"', page)
    assert marked == ["review_upheld", "suit_after_review_corrected"]
    assert "<td>I3</td>" in page and "<td>I5</td>" in page
