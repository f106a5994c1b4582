"""Bounded by construction: no input takes the machine.

Each file here was crafted to make a reader allocate gigabytes (or a regular expression run for
hours) before the fix; each must now get its one-line answer, and the process checking it must stay
small. Memory is measured, in a process of its own (`checked_apart`), as a correctness property: the
check of a 12 KB file that used to abort on a 512 GiB allocation must not take 400 MB. That process's
address space is capped, so a regression fails a test here instead of taking the machine.
"""

from __future__ import annotations

import json
import random
import re
import resource
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import xlwt
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from flows.checks.check import check_workbook
from flows.intake import bounds
from flows.intake.bureau import BureauConfigError, load_bureau
from flows.intake.files import Refused, inspect, limits
from tests.conftest import ROOT, SOURCES

TEMPLATE = SOURCES / "2021" / "household.xlsx"
SHEET = "xl/worksheets/sheet2.xml"  # 二、主动公开
MEMORY_MB = 400  # a generous bound: checking the example workbook takes some 40 MB


# -- running a check apart ----------------------------------------------------------------------------
CHECK = """
import resource, sys
from flows.cli import main
status = main(["check", *sys.argv[1:], "--year", "2021", "--json"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(status)
"""


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def checked_apart(*paths: Path) -> tuple[list[list[dict]], int]:
    """`nianbao check --json` of `paths` in a process of its own → (each one's findings, the process's
    peak memory in MB)."""
    result = subprocess.run(
        [sys.executable, "-c", CHECK, *map(str, paths)], capture_output=True, text=True, preexec_fn=_capped, cwd=ROOT
    )
    assert "Traceback" not in result.stderr and result.returncode in (0, 1, 2), result.stderr[-2000:]
    files = json.loads(result.stdout)["files"]
    return [document["findings"] for document in files], int(result.stderr.split()[-1]) // 1024


def refused(says: str, *paths: Path) -> list[str]:
    """The one F0 `nianbao check` gives each of `paths`, saying `says`, its process staying small."""
    documents, megabytes = checked_apart(*paths)
    messages = []
    for findings in documents:
        assert [f["rule"] for f in findings] == ["F0"], findings
        message = findings[0]["message"]
        assert says in message and "\n" not in message and len(message) < 400, message
        messages.append(message)
    assert megabytes < MEMORY_MB, f"{megabytes} MB"
    return messages


def read(path: Path) -> None:
    """Read, as any other workbook: no F0."""
    checked = check_workbook(path, 2021, "household")
    assert checked.report is not None and "F0" not in [f.rule for f in checked.findings], checked.findings


def rezip(tmp_path: Path, parts: dict[str, bytes], name: str = "household.xlsx", source: Path = TEMPLATE) -> Path:
    """The example workbook with `parts` put in, replacing those of the same name."""
    out = tmp_path / name
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in original.infolist():
            if info.filename not in parts:
                target.writestr(info.filename, original.read(info.filename))
        for part, content in parts.items():
            target.writestr(part, content)
    return out


def part(name: str) -> bytes:
    with zipfile.ZipFile(TEMPLATE) as archive:
        return archive.read(name)


def with_rows(rows: bytes, sheet: bytes | None = None) -> bytes:
    """The sheet 二、主动公开 with `rows` added at the end of its sheetData."""
    return (sheet or part(SHEET)).replace(b"</sheetData>", rows + b"</sheetData>")


# -- .xlsx: the grid a reader builds is what the cells span, not what <dimension> says ----------------
def test_one_cell_at_the_end_of_excels_grid(tmp_path):
    """12 KB: calamine built A1:XFD1048576, 17 billion cells, and the process aborted."""
    path = rezip(tmp_path, {SHEET: with_rows(b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')})
    (message,) = refused("区域过大", path)
    assert "工作表“二、主动公开”" in message and "A1 到 XFD1048576" in message


def test_a_far_cell_that_passed_before(tmp_path):
    """A cell at CV1000000 under the sheet's honest <dimension ref="A1:D15">: 100 million cells,
    4 GB, and it passed the check of the stated area."""
    path = rezip(tmp_path, {SHEET: with_rows(b'<row r="1000000"><c r="CV1000000"><v>1</v></c></row>')})
    assert b'<dimension ref="A1:D15"/>' in part(SHEET)
    refused("从 A1 到 CV1000000 共 100000000 个单元格", path)


WRITTEN_ANY_WAY = {
    "prefixed": b'<x:row r="1000000"><x:c r="CV1000000"><x:v>1</x:v></x:c></x:row>',
    "no-r": b'<row r="1000000"><c/><c/><c><v>1</v></c></row>',  # cells by their place in the row
    "r-not-first": b'<row r="1000000" spans="1:3"><c s="1" r="CV1000000"><v>1</v></c></row>',
    "comment": b'<!-- <c r="A1"> --><row r="1000000"><c r="CV1000000"><v>1</v></c></row>',
    "single-quotes": b"<row r='1000000'><c r='CV1000000' t='n'><v>1</v></c></row>",
    "lower-case": b'<row r="1000000"><c r="cv1000000"><v>1</v></c></row>',
}


def test_cells_written_any_way_are_counted_as_calamine_reads_them(tmp_path):
    """Each 100 million cells (3 GB) to calamine, written otherwise than Excel writes cells."""
    paths = [rezip(tmp_path, {SHEET: with_rows(rows)}, f"{name}.xlsx") for name, rows in WRITTEN_ANY_WAY.items()]
    refused("区域过大", *paths)


def test_a_cell_naming_two_places(tmp_path):
    """calamine takes one "r" and a count might take the other: neither is guessed."""
    path = rezip(tmp_path, {SHEET: with_rows(b'<row r="16"><c r="A16" r="CV1000000"><v>1</v></c></row>')})
    refused("写了两次", path)


def test_a_styled_empty_cell_far_away_is_read(tmp_path):
    """A cell with a style and no value is no cell to calamine: formatting far away is no reason to
    refuse a workbook."""
    path = rezip(tmp_path, {SHEET: with_rows(b'<row r="1048576"><c r="XFD1048576" s="1"/></row>')})
    read(path)


def test_one_long_shared_string_shown_by_many_cells(tmp_path):
    """calamine copies a shared string into each cell showing it: 30,000 characters shown by 20,000
    cells were 600 MB of text, from 70 KB."""
    strings = part("xl/sharedStrings.xml").replace(b"</sst>", b"<si><t>" + b"x" * 30_000 + b"</t></si></sst>")
    columns = [b"E", b"F", b"G", b"H", b"I", b"J", b"K", b"L", b"M", b"N"]
    rows = b"".join(
        b'<row r="%d">' % r + b"".join(b'<c r="%s%d" t="s"><v>82</v></c>' % (c, r) for c in columns) + b"</row>"
        for r in range(100, 2100)
    )
    path = rezip(tmp_path, {"xl/sharedStrings.xml": strings, SHEET: with_rows(rows)})
    refused("文字过多", path)


def test_a_sheet_listed_many_times(tmp_path):
    """Forty sheets naming one part of 400,000 cells: each within the limit, 16 million together."""
    workbook = part("xl/workbook.xml").replace(
        b"</sheets>",
        b"".join(b'<sheet name="copy%d" sheetId="%d" r:id="rId2"/>' % (i, 10 + i) for i in range(40)) + b"</sheets>",
    )
    sheet = with_rows(b'<row r="100000"><c r="C100000"><v>1</v></c></row>')
    refused("区域合计过大", rezip(tmp_path, {"xl/workbook.xml": workbook, SHEET: sheet}))


def test_a_shared_string_count_beyond_reason(tmp_path):
    """calamine reserves room for as many strings as <sst uniqueCount> says: 10^15 aborts it."""
    strings = part("xl/sharedStrings.xml").replace(b'uniqueCount="82"', b'uniqueCount="1000000000000000"')
    refused("声明的字符串数", rezip(tmp_path, {"xl/sharedStrings.xml": strings}))


def test_a_part_larger_than_it_says(tmp_path):
    """The sizes the limits are held to are the zip's own word: a part that unpacks to more is refused."""
    path = rezip(
        tmp_path,
        {SHEET: with_rows(b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (r, r) for r in range(16, 5000)))},
    )
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(SHEET).header_offset
    struct.pack_into("<I", data, local + 22, 1000)  # the local header's uncompressed size
    at = data.find(b"PK\x01\x02")
    while at != -1:  # and the central directory's
        (length,) = struct.unpack_from("<H", data, at + 28)
        if data[at + 46 : at + 46 + length] == SHEET.encode():
            struct.pack_into("<I", data, at + 24, 1000)
        at = data.find(b"PK\x01\x02", at + 46)
    path.write_bytes(bytes(data))
    refused("超过了它声明的大小", path)


def test_an_xlsb_in_disguise(tmp_path):
    """calamine opens a zip as .xlsb when it cannot as .xlsx: a binary sheet nothing here counts."""
    path = rezip(tmp_path, {"xl/workbook.bin": b"\0" * 16})
    refused(".xlsb", path)


def test_a_sheet_name_longer_than_excel_allows(tmp_path):
    """A 6 MB sheet name in a 4 MB workbook made a 1 GB cells.csv: it travels into every line."""
    rng = random.Random(0)
    name = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(2_000_000))  # 6 MB, packed to 4 MB
    workbook = part("xl/workbook.xml").replace("二、主动公开".encode(), name.encode())
    path = rezip(tmp_path, {"xl/workbook.xml": workbook})
    assert 3_000_000 < path.stat().st_size < 5_000_000
    (message,) = refused("工作表名称过长", path)
    assert f"（{len(name)} 个字符，Excel 的上限是 31 个）：“{name[:31]}…”" in message


def test_a_cell_longer_than_excel_allows(tmp_path):
    cell = b'<row r="16"><c r="A16" t="inlineStr"><is><t>' + b"x" * 40_000 + b"</t></is></c></row>"
    (message,) = refused("文字过长", rezip(tmp_path, {SHEET: with_rows(cell)}))
    assert "工作表“二、主动公开”的单元格 A16" in message and "40000 个字符" in message


def test_findings_of_a_kind_beyond_a_thousand_are_counted(tmp_path):
    """A row the template does not have is an F1 each: 220,000 of them (2 MB) were 220,000 findings
    and 1.1 GB to print. The first thousand are listed, the rest counted in one more F1 error."""
    rows = b"".join(
        b'<row r="%d"><c r="A%d"><v>1</v></c><c r="B%d"><v>2</v></c></row>' % (r, r, r) for r in range(16, 3016)
    )
    checked = check_workbook(rezip(tmp_path, {SHEET: with_rows(rows)}), 2021, "household")
    unknown = [f for f in checked.findings if f.rule == "F1"]
    assert len(unknown) == limits()["findings_of_a_kind"] + 1 and all(f.is_error for f in unknown)
    assert unknown[-1].actual == "2000" and "还有 2000 处，未逐一列出" in unknown[-1].message


# -- .ods: what number-columns-repeated, number-rows-repeated and <text:s text:c> make ------------------
ODS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
)
ODS_TAIL = "</office:spreadsheet></office:body></office:document-content>"
NUMBER = '<table:table-cell office:value-type="float" office:value="1"/>'


def ods(tmp_path: Path, tables: str) -> Path:
    out = tmp_path / "household.ods"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", ODS_HEAD + tables + ODS_TAIL)
        archive.writestr(
            "META-INF/manifest.xml",
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
    return out


def test_an_ods_cell_repeated_into_a_hundred_million(tmp_path):
    """Under 1 KB: 6,000 rows of 16,384 repeated numbers, 98 million cells, 5 GB."""
    row = '<table:table-row table:number-rows-repeated="6000"><table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1"/></table:table-row>'
    path = ods(tmp_path, f'<table:table table:name="S">{row}</table:table>')
    assert path.stat().st_size < 1000
    refused("区域过大", path)


def test_ods_spaces_repeated(tmp_path):
    """<text:s text:c="2000000000"/> is two billion spaces to calamine."""
    cell = '<table:table-cell office:value-type="string"><text:p>a<text:s text:c="2000000000"/>b</text:p></table:table-cell>'
    path = ods(tmp_path, f'<table:table table:name="S"><table:table-row>{cell}</table:table-row></table:table>')
    refused("文字过多", path)


def test_an_ods_text_repeated(tmp_path):
    cell = f'<table:table-cell table:number-columns-repeated="100" office:value-type="string"><text:p>{"x" * 2000}</text:p></table:table-cell>'
    row = f'<table:table-row table:number-rows-repeated="100">{cell}</table:table-row>'
    refused("文字过多", ods(tmp_path, f'<table:table table:name="S">{row}</table:table>'))


def test_ods_rows_as_written(tmp_path):
    """Each row puts its last number in column 16,384: a narrow grid, but calamine builds every row
    16,384 cells wide before it."""
    row = f'<table:table-row><table:table-cell table:number-columns-repeated="16383"/>{NUMBER}</table:table-row>'
    refused("区域合计过大", ods(tmp_path, f'<table:table table:name="S">{row * 200}</table:table>'))


def test_libreoffices_repeated_empty_rows_and_columns_are_read(tmp_path):
    """LibreOffice ends a sheet with a million empty rows of a thousand empty cells, repeated: they
    hold nothing, calamine builds nothing for them, and the workbook is read."""
    first = f'<table:table-row>{NUMBER}<table:table-cell table:number-columns-repeated="1023"/></table:table-row>'
    rest = '<table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    read(ods(tmp_path, f'<table:table table:name="S">{first}{rest}</table:table>'))


# -- .xls: the records of the workbook stream, and the OLE container around them ------------------------
def xls(tmp_path: Path, fill, name: str = "household.xls") -> Path:
    book = xlwt.Workbook()
    fill(book, book.add_sheet("Sheet1"))
    book.save(str(tmp_path / name))
    return tmp_path / name


def _far(book, sheet) -> None:
    sheet.write(0, 0, 1)
    sheet.write(65535, 255, 1)


def _patched(path: Path, record: bytes, at: int, value: bytes) -> Path:
    """`path` with `value` written `at` bytes into the data of its first `record` (type and length)."""
    data = bytearray(path.read_bytes())
    start = data.index(record) + 4 + at
    data[start : start + len(value)] = value
    path.write_bytes(bytes(data))
    return path


DIMENSIONS = struct.pack("<HH", 0x0200, 14)


def test_xls_far_cells_under_a_small_dimensions(tmp_path):
    """Two cells 65,535 rows and 255 columns apart, the sheet saying it is one cell: 1.2 GB."""
    path = _patched(xls(tmp_path, _far), DIMENSIONS, 0, struct.pack("<IIHH", 0, 1, 0, 1))
    refused("从 A1 到 IV65536 共 16777216 个单元格", path)


def test_xls_dimensions_stating_billions(tmp_path):
    """calamine reserves room for the area DIMENSIONS states, before reading a cell."""
    path = _patched(
        xls(tmp_path, lambda b, s: s.write(0, 0, 1)), DIMENSIONS, 0, struct.pack("<IIHH", 0, 0xFFFFFFFF, 0, 0xFF)
    )
    refused("声明的区域过大", path)


def test_xls_one_long_string_shown_by_many_cells(tmp_path):
    def fill(book, sheet):
        for row in range(1000):
            sheet.write(row, 0, "x" * 30_000)

    refused("文字过多", xls(tmp_path, fill))


def test_xls_too_many_sheets(tmp_path):
    def fill(book, sheet):
        for i in range(60):
            book.add_sheet(f"s{i}")

    refused("工作表过多", xls(tmp_path, fill))


def test_xls_container_looping_or_beyond_the_file(tmp_path):
    """calamine follows a sector chain to its end (one pointing back at itself never ends), and
    reserves room for as many FAT sectors as the header says."""
    looping, beyond = (xls(tmp_path, lambda b, s: s.write(0, 0, 1), name) for name in ("loop.xls", "beyond.xls"))
    data = bytearray(looping.read_bytes())
    (fat,), (directory,) = struct.unpack_from("<I", data, 76), struct.unpack_from("<I", data, 48)
    struct.pack_into("<I", data, 512 + fat * 512 + directory * 4, directory)
    looping.write_bytes(bytes(data))
    data = bytearray(beyond.read_bytes())
    struct.pack_into("<I", data, 44, 0xFFFFFFF0)
    beyond.write_bytes(bytes(data))
    refused("OLE 复合文档", looping, beyond)


def test_an_ordinary_xls_is_read(tmp_path):
    path = xls(tmp_path, lambda b, s: s.write(0, 0, "二、主动公开政府信息情况"))
    read(path)


# -- the count is never below what calamine builds ------------------------------------------------------
def _xlsx(tmp_path: Path, sheet_data: bytes) -> Path:
    """A workbook of one sheet, nothing else: what calamine needs to read it."""
    out = tmp_path / "one.xlsx"
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    relation = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="r" Type="{relation}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{relation}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{relation}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{main}" xmlns:x="{main}"><sheetData>'.encode()
            + sheet_data
            + b"</sheetData></worksheet>",
        )
    return out


def _row_xml(draw) -> bytes:
    cells = []
    for _ in range(draw(st.integers(0, 4))):
        prefix = draw(st.sampled_from([b"", b"x:"]))
        reference = draw(st.one_of(st.none(), st.tuples(st.integers(0, 30), st.integers(0, 60))))
        r = b"" if reference is None else b' r="%s"' % bounds.cell_name(reference[1], reference[0]).encode()
        value = draw(st.sampled_from([b"", b"<%sv>7</%sv>" % (prefix, prefix)]))
        closing = b"/>" if not value and draw(st.booleans()) else b">" + value + b"</%sc>" % prefix
        cells.append(b"<%sc%s%s" % (prefix, r, closing))
    row = draw(st.one_of(st.none(), st.integers(1, 80)))
    noise = draw(st.sampled_from([b"", b"<!-- c -->", b"<![CDATA[<c r='A1'>]]>"]))
    return (b"<row>" if row is None else b'<row r="%d">' % row) + noise + b"".join(cells) + b"</row>"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_the_count_is_never_below_what_calamine_builds(tmp_path_factory, data):
    """Random sheets written every way a sheet can be: where the count admits one, the grid calamine
    builds is no larger than counted."""
    rows = b"".join(_row_xml(data.draw) for _ in range(data.draw(st.integers(0, 5))))
    path = _xlsx(tmp_path_factory.mktemp("x"), rows)
    archive_bytes = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    counted = bounds.xlsx_part(archive_bytes, info, "S", [], limits())
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    built = sheet.height * sheet.width if sheet.to_python() else 0
    assert counted is not None and built <= counted.cells
    if built:
        assert counted.top <= sheet.start[0] and counted.left <= sheet.start[1]
        assert counted.bottom >= sheet.end[0] and counted.right >= sheet.end[1]


def _template_row(draw) -> bytes:
    """A row as the template's are written (bounds.QUICK_SHEET), now and then beyond its bound."""
    r = draw(st.sampled_from([1, 2, 15, 999, 1000]))  # 1000 and column 26 (AA): beyond the bound
    cells = []
    for column in draw(st.lists(st.sampled_from([0, 1, 3, 25, 26]), max_size=4)):
        ref = bounds.cell_name(r - 1, column).encode()
        inner = draw(st.sampled_from([None, b"", b"<v>7</v>", b"<f>A1+1</f><v>8</v>", b"<f t='shared' si='0'/>"]))
        typed = draw(st.sampled_from([b"", b' s="1"', b' t="s"', b' s="2" t="s"']))
        cells.append(b'<c r="%s"%s%s' % (ref, typed, b"/>" if inner is None else b">" + inner + b"</c>"))
    return b'<row r="%d" spans="1:4">' % r + b"".join(cells) + b"</row>"


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_a_bounded_grid_is_no_smaller_than_the_count(tmp_path_factory, data):
    """A sheet written as the template is has its grid bounded, not counted cell by cell (bounds._quick):
    the rest it finds as the count does, and the grid it bounds holds every cell the count finds."""
    kinds = st.sampled_from([_row_xml, _template_row, _template_row, _template_row])
    rows = b"".join(data.draw(kinds)(data.draw) for _ in range(data.draw(st.integers(0, 5))))
    path = _xlsx(tmp_path_factory.mktemp("x"), rows)
    archive_bytes = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    quick = bounds.xlsx_part(archive_bytes, info, "S", [7, 30], limits(), quick=True)
    counted = bounds.xlsx_part(archive_bytes, info, "S", [7, 30], limits())
    assert quick is not None and counted is not None and not counted.bound
    if not quick.bound:
        assert quick == counted
    else:
        assert (quick.merges, quick.formulas) == (counted.merges, counted.formulas) and quick.text >= counted.text
        assert quick.cells >= counted.cells
        assert counted.bottom < bounds.QUICK_ROWS and counted.right < bounds.QUICK_COLUMNS


def test_bounds_beyond_a_limit_are_counted_cell_by_cell():
    """The template's sheets are bounded (A1:Z999 each); where the bounds pass a limit their cells
    are counted one by one, and the workbook is refused only if that count says so, in its words."""
    data = TEMPLATE.read_bytes()
    with zipfile.ZipFile(TEMPLATE) as archive:
        infos = archive.infolist()
    sheets = [info for info in infos if info.filename.startswith("xl/worksheets/")]
    assert all(bounds.xlsx_part(data, info, "S", [], limits(), quick=True).bound for info in sheets)
    cells = sum(bounds.xlsx_part(data, info, "S", [], limits()).cells for info in sheets)
    bounds.xlsx(data, infos, dict(limits(), workbook_cells=cells))
    with pytest.raises(bounds.Exceeded, match=f"（{cells} 个单元格，上限 {cells - 1} 个）"):
        bounds.xlsx(data, infos, dict(limits(), workbook_cells=cells - 1))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 40),  # rows repeated
            st.lists(st.tuples(st.integers(1, 40), st.sampled_from(["", NUMBER, "<text:p>a</text:p>"])), max_size=4),
        ),
        max_size=5,
    )
)
def test_the_ods_count_is_never_below_what_calamine_builds(tmp_path_factory, rows):
    def cell(repeats: int, content: str) -> str:
        if content == NUMBER:
            return NUMBER.replace("/>", f' table:number-columns-repeated="{repeats}"/>')
        if content:
            return f'<table:table-cell table:number-columns-repeated="{repeats}" office:value-type="string">{content}</table:table-cell>'
        return f'<table:table-cell table:number-columns-repeated="{repeats}"/>'

    xml = "".join(
        f'<table:table-row table:number-rows-repeated="{n}">' + "".join(cell(*c) for c in cells) + "</table:table-row>"
        for n, cells in rows
    )
    path = ods(tmp_path_factory.mktemp("o"), f'<table:table table:name="S">{xml}</table:table>')
    with zipfile.ZipFile(path) as archive:
        content = archive.read("content.xml")
    ((_, counted),) = bounds.ods_tables(content)
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    built = sheet.height * sheet.width if sheet.to_python() else 0
    assert built <= counted.cells


# -- text: linear in its input, and capped -------------------------------------------------------------
TEXT_RULES = """
import sys
from pathlib import Path
from flows.checks.text import check_text
from tests.conftest import valid_report
path = Path(sys.argv[1])
text, findings = check_text(path, valid_report(2021))
print(len(findings))
"""


@pytest.mark.parametrize(
    "body",
    ["1" * 200_000 + "个部门", "{{" + " " * 20_000 + "x", "{{" * 50_000],
    ids=["d6-digits", "placeholder-spaces", "placeholder-braces"],
)
def test_text_rules_are_linear_in_their_input(tmp_path, body):
    """D6 tried its pattern from each digit of a run (40,000 digits: 30 s; 200,000: hours) and the
    placeholder pattern every way of sharing spaces (4,000 spaces: minutes). Run apart, with a
    bound on running at all (not a measure of speed: the patterns now take milliseconds)."""
    path = tmp_path / "household.md"
    path.write_text("".join(f"# {n}、x\n\n{body if n == '一' else '正文。'}\n\n" for n in "一二三四五六"), "utf-8")
    result = subprocess.run(
        [sys.executable, "-c", TEXT_RULES, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]


FORMULAS = """
import sys
from pathlib import Path
from flows.intake.files import inspect
print(sorted(inspect(Path(sys.argv[1])).cells("二、主动公开", frozenset({"A40"}))))
"""


def test_formulas_are_looked_for_in_linear_time(tmp_path):
    """A cell's XML was "<c …>(.*?)</c>", tried from each "<c-x>" to the end of the sheet when no
    </c> followed: 16,000 of them took 16 s, and 200,000 (1 MB) would take most of an hour. Run
    apart, with a bound on running at all."""
    sheet = with_rows(b'<row r="40"><c r="A40"><f>1+1</f><v>2</v></c></row>') + b"<c-x>" * 200_000
    path = rezip(tmp_path, {SHEET: sheet})
    result = subprocess.run(
        [sys.executable, "-c", FORMULAS, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert result.returncode == 0 and result.stdout.strip() == "['A40']", result.stderr[-2000:]


@given(st.text(alphabet="0123456789 件项宗个{}x。", max_size=40))
def test_the_linear_patterns_find_what_the_old_ones_did(text):
    from flows.checks.text import PLACEHOLDER

    old_placeholder = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
    assert [m.group(1) for m in old_placeholder.finditer(text)] == [
        m.group(1).strip() for m in PLACEHOLDER.finditer(text)
    ]
    old_d6, new_d6 = re.compile(r"(\d+)\s*(件|项|宗)"), re.compile(r"(?<!\d)(\d+)\s*(件|项|宗)")
    assert old_d6.findall(text) == new_d6.findall(text)


def test_a_report_text_larger_than_any_report(tmp_path):
    from flows.checks.text import check_text
    from tests.conftest import valid_report

    path = tmp_path / "household.md"
    path.write_bytes(b"# \xe4\xb8\x80\xe3\x80\x81x\n" + b"a" * (limits()["report_text_bytes"] + 1))
    text, findings = check_text(path, valid_report(2021))
    (finding,) = findings
    assert finding.rule == "T1" and finding.is_error and "文件过大" in finding.message and not text.sections


# -- YAML: no aliases, and a size --------------------------------------------------------------------------
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


LOAD = """
import sys
from pathlib import Path
from flows.intake.bureau import BureauConfigError, load_bureau, load_year_file
sources, name = Path(sys.argv[1]), sys.argv[2]
try:
    load_bureau(sources) if name == "bureau.yaml" else load_year_file(sources, 2021, Path(name).name)
except BureauConfigError as error:
    print(error)
"""


def test_billion_laughs_in_every_yaml_file(sources_copy):
    """1 KB of nested aliases: a billion entries once followed (as the dates' walk followed them).
    Loaded apart, in a process whose memory is capped."""
    for name in ("bureau.yaml", "2021/nil_returns.yaml", "2021/exceptions.yaml"):
        path = sources_copy / name
        original = path.read_bytes() if path.exists() else None
        path.write_text(LAUGHS, "utf-8")
        assert path.stat().st_size < 1200
        result = subprocess.run(
            [sys.executable, "-c", LOAD, str(sources_copy), name],
            capture_output=True,
            text=True,
            preexec_fn=_capped,
            cwd=ROOT,
        )
        message = result.stdout.strip()
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert str(path) in message and "第 1 行" in message and "锚点和别名" in message and "\n" not in message
        if original is None:
            path.unlink()
        else:
            path.write_bytes(original)


def test_a_yaml_file_larger_than_any_bureaus(sources_copy):
    path = sources_copy / "bureau.yaml"
    path.write_text("# " + "x" * limits()["yaml_bytes"] + "\n", "utf-8")
    with pytest.raises(BureauConfigError, match="过大"):
        load_bureau(sources_copy)


def test_bounds_refuse_before_calamine_opens_the_file(tmp_path):
    """Intake's own answer, so that no reader has opened the file when it is refused."""
    path = rezip(tmp_path, {SHEET: with_rows(b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')})
    with pytest.raises(Refused, match="区域过大"):
        inspect(path)
