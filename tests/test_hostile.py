"""Hostile and broken input: every file gets a clear finding or error that names it, the run goes
on for the other departments, and nothing is silently dropped, coerced or overwritten."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from flows.checks.check import check_workbook
from flows.documents.template import write_workbook
from flows.intake.bureau import discover, load_bureau
from flows.run import run_year
from tests.conftest import SOURCES, valid_report

TEMPLATE = SOURCES / "2021" / "household.xlsx"


def rules_of(checked) -> list[str]:
    return [f.rule for f in checked.findings]


def refused(path: Path, says: str) -> None:
    checked = check_workbook(path, 2021, "household")
    assert checked.report is None and rules_of(checked) == ["F0"], checked.findings
    assert says in checked.unreadable and path.name in checked.findings[0].message


def rezip(tmp_path: Path, name: str, parts: dict[str, bytes]) -> Path:
    """The example workbook with `parts` put in, replacing those of the same name."""
    out = tmp_path / name
    with zipfile.ZipFile(TEMPLATE) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename not in parts:
                target.writestr(info.filename, source.read(info.filename))
        for part, content in parts.items():
            target.writestr(part, content)
    return out


# -- not a workbook at all ---------------------------------------------------------------------
def test_empty_file(tmp_path):
    (tmp_path / "household.xlsx").write_bytes(b"")
    refused(tmp_path / "household.xlsx", "文件是空的")


def test_pdf_renamed(tmp_path):
    (tmp_path / "household.xlsx").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    refused(tmp_path / "household.xlsx", "这是 PDF 文件")


def test_random_bytes(tmp_path):
    (tmp_path / "household.xlsx").write_bytes(bytes(range(256)) * 40)
    refused(tmp_path / "household.xlsx", "不是 Excel 工作簿")


def test_word_document_renamed(tmp_path):
    out = tmp_path / "household.xlsx"
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    refused(out, "这是 Word 文档")


def test_truncated_workbook(tmp_path):
    data = TEMPLATE.read_bytes()
    (tmp_path / "household.xlsx").write_bytes(data[: len(data) // 2])
    refused(tmp_path / "household.xlsx", "文件已损坏或不完整")


def test_csv_of_one_table(tmp_path):
    (tmp_path / "household.csv").write_text("自然人,商业企业\n1,2\n", "utf-8")
    refused(tmp_path / "household.csv", "CSV 文件只能容纳一张表")


def test_password_protected_workbook(tmp_path):
    # An encrypted .xlsx is an OLE container whose directory names an EncryptionInfo stream.
    ole = bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504 + "EncryptionInfo".encode("utf-16-le") + b"\0" * 1024
    (tmp_path / "household.xlsx").write_bytes(ole)
    refused(tmp_path / "household.xlsx", "设有密码保护")


def test_legacy_xls_is_read(tmp_path):
    import xlwt

    book = xlwt.Workbook()
    book.add_sheet("Sheet1").write(0, 0, "二、主动公开政府信息情况")
    book.save(str(tmp_path / "household.xls"))
    checked = check_workbook(tmp_path / "household.xls", 2021, "household")
    assert checked.report is not None and "F0" not in rules_of(checked) and "F1" in rules_of(checked)  # read; no tables


def test_ods_is_read(tmp_path):
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
        '<table:table table:name="Sheet1"><table:table-row><table:table-cell office:value-type="string">'
        "<text:p>规章</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet>"
        "</office:body></office:document-content>"
    )
    out = tmp_path / "household.ods"
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr(
            "META-INF/manifest.xml",
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
    checked = check_workbook(out, 2021, "household")
    assert checked.report is not None and "F0" not in rules_of(checked)


def test_xlsm_values_read_macros_never_run(tmp_path):
    path = rezip(tmp_path, "household.xlsm", {"xl/vbaProject.bin": b'Attribute VB_Name = "Evil"'})
    checked = check_workbook(path, 2021, "household")
    assert rules_of(checked) == ["I1"] and checked.findings[0].severity == "warning"
    assert checked.report.values["applications"].any()  # the figures were read


# -- resource attacks -------------------------------------------------------------------------------
def test_zip_bomb(tmp_path):
    path = rezip(tmp_path, "household.xlsx", {"xl/media/padding.bin": b"\0" * (8 << 20)})
    refused(path, "疑似“压缩炸弹”")


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol3;</t></si></sst>"""
EXTERNAL = (
    b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><sst><si><t>&x;</t></si></sst>"""
)


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_xml_entities(tmp_path, payload):
    refused(rezip(tmp_path, "household.xlsx", {"xl/sharedStrings.xml": payload}), "含有 XML 实体声明")


def test_parts_stored_unpacked_are_read(tmp_path):
    """Intake unpacks the parts' starts itself (flows/intake/files.py _unpacked): a workbook saved
    without compression is read like any other."""
    path = tmp_path / "household.xlsx"
    with zipfile.ZipFile(TEMPLATE) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    stored, deflated = check_workbook(path, 2021, "household"), check_workbook(TEMPLATE, 2021, "household")
    assert stored.findings == [] and stored.report.values.keys() == deflated.report.values.keys()
    assert all((stored.report.values[t] == deflated.report.values[t]).all() for t in deflated.report.values)


def test_a_part_packed_another_way_or_broken(tmp_path):
    path = tmp_path / "household.xlsx"
    with zipfile.ZipFile(TEMPLATE) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            method = zipfile.ZIP_BZIP2 if info.filename == "xl/styles.xml" else zipfile.ZIP_DEFLATED
            target.writestr(info.filename, source.read(info), compress_type=method)
    refused(path, "压缩方式")
    data = bytearray(TEMPLATE.read_bytes())
    start = zipfile.ZipFile(TEMPLATE).getinfo("xl/workbook.xml").header_offset
    data[start : start + 4] = b"PK\x05\x06"  # the central directory points at no local header
    path.write_bytes(bytes(data))
    refused(path, "文件已损坏")


def test_a_zip_that_needs_an_unknown_zip_version(tmp_path):
    """A flipped byte in the zip's directory (found by flipping random bytes of a workbook):
    zipfile raises NotImplementedError, which is one more way of being a broken file."""
    data = bytearray(TEMPLATE.read_bytes())
    record = data.index(b"PK\x01\x02")  # the first entry of the central directory
    data[record + 6 : record + 8] = (250).to_bytes(2, "little")  # "needs zip version 25.0"
    path = tmp_path / "household.xlsx"
    path.write_bytes(bytes(data))
    refused(path, "文件已损坏")


def test_thousands_of_sheets(tmp_path):
    sheets = {f"xl/worksheets/extra{i}.xml": b"<worksheet/>" for i in range(60)}
    refused(rezip(tmp_path, "household.xlsx", sheets), "工作表过多")


def test_a_sheet_of_millions_of_cells(tmp_path):
    sheet = zipfile.ZipFile(TEMPLATE).read("xl/worksheets/sheet2.xml")
    huge = sheet.replace(b'<dimension ref="', b'<dimension ref="A1:Z2000000" old="', 1)
    refused(rezip(tmp_path, "household.xlsx", {"xl/worksheets/sheet2.xml": huge}), "的区域过大")


def test_millions_of_shared_strings(tmp_path):
    import random

    rng = random.Random(0)
    strings = b"".join(b"<si><t>%x</t></si>" % rng.getrandbits(64) for _ in range(500_000))
    payload = (
        b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + strings
        + b"</sst>"
    )
    refused(rezip(tmp_path, "household.xlsx", {"xl/sharedStrings.xml": payload}), "共享字符串过大")


# -- content surprises ------------------------------------------------------------------------------
def test_formula_without_cached_value(tmp_path):
    path = tmp_path / "household.xlsx"
    shutil.copy(TEMPLATE, path)
    book = load_workbook(path)
    book["四、复议诉讼"]["A5"] = "=1+1"  # openpyxl saves formulas without a value
    book.save(path)
    checked = check_workbook(path, 2021, "household")
    (error,) = [f for f in checked.findings if f.is_error and f.rule == "V1"]
    assert (error.sheet, error.cell, error.column) == ("四、复议诉讼", "A5", "review_upheld")
    assert "请在 Excel 中打开并保存" in error.message


def test_decimals_negatives_and_huge_numbers_in_count_cells(tmp_path):
    path = tmp_path / "household.xlsx"
    shutil.copy(TEMPLATE, path)
    book = load_workbook(path)
    sheet = book["四、复议诉讼"]
    sheet["A5"], sheet["B5"], sheet["C5"] = 1.5, -2, 10**12
    book["二、主动公开"]["B15"] = 1e30  # an amount past any year's fees, and past 64-bit integers once scaled
    book.save(path)
    checked = check_workbook(path, 2021, "household")
    assert sorted(f.cell for f in checked.findings if f.rule == "V1") == ["A5", "B15", "B5", "C5"]


def test_hidden_sheet_with_a_second_copy_is_reported(tmp_path):
    path = tmp_path / "household.xlsx"
    shutil.copy(TEMPLATE, path)
    book = load_workbook(path)
    copy = book.copy_worksheet(book["三、依申请公开"])
    copy.title, copy.sheet_state = "旧版本", "hidden"
    book.save(path)
    checked = check_workbook(path, 2021, "household")
    (warning,) = [f for f in checked.findings if f.rule == "I2"]
    assert warning.sheet == "旧版本" and "未被读取" in warning.message


def test_two_tables_of_the_same_kind(tmp_path):
    path = tmp_path / "household.xlsx"
    shutil.copy(TEMPLATE, path)
    book = load_workbook(path)
    book.copy_worksheet(book["三、依申请公开"]).title = "第二份"
    book.save(path)
    checked = check_workbook(path, 2021, "household")
    (error,) = [f for f in checked.findings if f.rule == "F1"]
    assert error.sheet == "第二份" and "出现了两次" in error.message and "三、依申请公开!" in error.message


def test_a_table_split_across_sheets(tmp_path):
    path = tmp_path / "household.xlsx"
    shutil.copy(TEMPLATE, path)
    book = load_workbook(path)
    sheet = book["三、依申请公开"]
    rest = book.create_sheet("续表")
    for row in sheet.iter_rows(min_row=15):
        for cell in row:
            if type(cell).__name__ != "MergedCell":  # merged areas keep their first cell's value
                rest[cell.coordinate] = cell.value
                cell.value = None
    book.save(path)
    checked = check_workbook(path, 2021, "household")
    missing = [f for f in checked.findings if f.rule == "F1"]
    assert missing and all(f.table == "applications" for f in missing) and checked.errors


def test_declared_department_and_year_must_be_the_files(tmp_path):
    report = valid_report(2021)
    path = write_workbook(tmp_path / "household.xlsx", report.edition, 2020 + 1, report, unit_id="traffic")
    checked = check_workbook(path, 2021, "household")
    (e5,) = [f for f in checked.findings if f.rule == "E5"]
    assert "单位代码是“traffic”" in e5.message
    book = load_workbook(path)
    book["填报说明"]["B5"] = 2022
    book.save(path)
    checked = check_workbook(path, 2021, "household")
    assert [f.actual for f in checked.findings if f.rule == "F2"] == ["2022"]


# -- submissions ------------------------------------------------------------------------------------
def test_odd_submissions_are_named_and_none_shadows_another(sources_copy, tmp_path):
    folder = sources_copy / "2021"
    shutil.copy(folder / "traffic.xlsx", folder / "traffic (1).xlsx")
    shutil.copy(folder / "household.xlsx", folder / "police.xlsx")
    shutil.copy(folder / "exit_entry.xlsx", folder / "trаffic.xlsx")  # a Cyrillic а
    shutil.copy(folder / "exit_entry.xlsx", folder / "..xlsx")
    shutil.copy(folder / "exit_entry.xlsx", folder / "public_order\x07.xlsx")
    submitted, findings = discover(sources_copy, 2021, load_bureau(sources_copy))
    assert sorted(submitted) == ["exit_entry", "household", "public_order", "traffic"]
    assert submitted["traffic"].name == "traffic.xlsx" and submitted["public_order"].name == "public_order.xlsx"
    messages = {f.message for f in findings}
    (hidden,) = [f for f in findings if f.rule != "E5"]  # a name starting with a dot is hidden: not a submission
    assert hidden.rule == "E6" and not hidden.is_error and "“..xlsx”" in hidden.message
    assert all(f.rule == "E5" and f.is_error for f in findings if f is not hidden) and len(findings) == 5
    assert any("像是“traffic”报表的另一份副本" in m for m in messages)
    assert any("“police.xlsx”不对应" in m for m in messages)
    assert any("U+0430" in m for m in messages)
    assert any("public_order\\x07.xlsx" in m for m in messages)  # the bell is shown, not rung
    outcome = run_year(2021, sources_copy, tmp_path / "outputs")
    assert outcome.release is None and not (tmp_path / "outputs" / "2021").exists()


def test_bureau_ids_cannot_name_paths(tmp_path):
    from flows.intake.bureau import BureauConfigError

    (tmp_path / "bureau.yaml").write_text("id: b\nname: 局\ndepartments:\n  - {id: ../etc, name: 部门}\n", "utf-8")
    with pytest.raises(BureauConfigError, match="只能由字母、数字"):
        load_bureau(tmp_path)


def test_workbook_text_cannot_become_a_formula_in_csv(sources_copy, tmp_path):
    book = load_workbook(sources_copy / "2021" / "household.xlsx")
    book["三、依申请公开"].title = "=cmd|' calc'!A0"  # a sheet name travels into cells.csv
    book.save(sources_copy / "2021" / "household.xlsx")
    release = run_year(2021, sources_copy, tmp_path / "outputs").release
    text = (release / "data" / "cells.csv").read_text("utf-8")
    assert ",'=cmd|' calc'!A0," in text and ",=cmd" not in text


def test_one_broken_file_costs_no_other_department(sources_copy, tmp_path):
    from flows.run import write_pages

    broken = sources_copy / "2021" / "household.xlsx"
    broken.write_bytes(b"\x00garbage" * 100)
    before = broken.read_bytes()
    outcome = run_year(2021, sources_copy, tmp_path / "outputs")
    status = {c.unit: (c.report is not None, c.errors) for c in outcome.checked}
    assert status == {"exit_entry": (True, 0), "household": (False, 1), "public_order": (True, 0), "traffic": (True, 0)}
    assert outcome.release is None and broken.read_bytes() == before  # blocked; the original kept as sent
    index = write_pages(outcome, tmp_path / "outputs")
    assert {p.name for p in index.parent.glob("*.html")} == {
        "index.html",
        "exit_entry.html",
        "household.html",
        "public_order.html",
        "traffic.html",
    }
    assert "不是 Excel 工作簿" in (index.parent / "household.html").read_text()
