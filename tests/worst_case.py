"""What the largest workbooks the limits admit cost to check, measured (not asserted): a script.

    python tests/worst_case.py [--keep DIR]

Builds, for .xlsx, .xls and .ods, workbooks at the limits of schemas/limits.yaml (a sheet's grid, all
the grids together, the text made of the cells, the file's and its parts' sizes), each shaped to cost
the most in some way, checks each with `nianbao check` in a process of its own (its address space
capped at 6 GiB, so that a mistake costs a failed run and not the machine) and prints its peak memory
(ru_maxrss) and wall time. docs/hostile-input.md quotes the figures.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import xlwt

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "sources" / "2021" / "household.xlsx"
SHEET = "xl/worksheets/sheet2.xml"  # 二、主动公开, whose tables stay as they are
CHECK = """
import resource, sys
from flows.cli import main
status = main(["check", sys.argv[1], "--year", "2021", "--json"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, status, file=sys.stderr)
"""


def _rows(cells: dict[int, bytes]) -> bytes:
    return b"".join(b'<row r="%d">%s</row>' % (r, row) for r, row in sorted(cells.items()))


def _column(index: int) -> bytes:
    letters = b""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = bytes([65 + rest]) + letters
    return letters


def _sheet(rows: bytes) -> bytes:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}"><sheetData>'.encode()
        + rows
        + (b"</sheetData></worksheet>")
    )


def xlsx_with_sheets(path: Path, extra: list[bytes], strings: list[str] | None = None) -> Path:
    """The example workbook with sheets `extra` added (their whole XML) and shared strings added."""
    with zipfile.ZipFile(TEMPLATE) as source:
        parts = {info.filename: source.read(info.filename) for info in source.infolist()}
    names, relations = b"", b""
    for i, sheet in enumerate(extra, 10):
        parts[f"xl/worksheets/sheet{i}.xml"] = sheet
        names += b'<sheet name="extra%d" sheetId="%d" r:id="rId%d"/>' % (i, i, i)
        relations += (
            b'<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'worksheet" Target="worksheets/sheet%d.xml"/>' % (i, i)
        )
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b"</sheets>", names + b"</sheets>")
    rels = "xl/_rels/workbook.xml.rels"
    parts[rels] = parts[rels].replace(b"</Relationships>", relations + b"</Relationships>")
    if strings:
        added = "".join(f"<si><t>{s}</t></si>" for s in strings).encode()
        parts["xl/sharedStrings.xml"] = parts["xl/sharedStrings.xml"].replace(b"</sst>", added + b"</sst>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


def xlsx_numbers(path: Path) -> Path:
    """One sheet a 1,000 × 1,000 grid of numbers (22 MB of XML), another a grid of 999,000 with only
    its corners: with the example's own sheets, two million cells."""
    full = _rows(
        {r: b"".join(b'<c r="%s%d"><v>%d</v></c>' % (_column(c), r, c) for c in range(1000)) for r in range(1, 1001)}
    )
    corners = _rows({1: b'<c r="A1"><v>1</v></c>', 999: b'<c r="ALL999"><v>1</v></c>'})
    return xlsx_with_sheets(path, [_sheet(full), _sheet(corners)])


def xlsx_strings(path: Path) -> Path:
    """As many distinct shared strings as the limits let cells show: 400,000 of 8 characters."""
    rng, count = random.Random(0), 400_000
    strings = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8)) for _ in range(count)]
    first = 82  # the example workbook's own strings come first
    cells = {
        r: b"".join(b'<c r="%s%d" t="s"><v>%d</v></c>' % (_column(c), r, first + (r - 1) * 600 + c) for c in range(600))
        for r in range(1, count // 600 + 1)
    }
    return xlsx_with_sheets(path, [_sheet(_rows(cells))], strings)


def xlsx_long_texts(path: Path) -> Path:
    """Ten million characters of text: 305 cells showing one string of 32,767 (Excel's most)."""
    rng = random.Random(1)
    strings = ["".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(32_700))]
    cells = {r: b'<c r="A%d" t="s"><v>82</v></c>' % r for r in range(1, 306)}
    return xlsx_with_sheets(path, [_sheet(_rows(cells))], strings)


def xlsx_unknown_rows(path: Path) -> Path:
    """The tables, and below the last of them 220,000 rows of figures the template does not have:
    each an unknown row (F1)."""
    rows = _rows(
        {
            r: b"".join(b'<c r="%s%d"><v>1</v></c>' % (c, r) for c in (b"A", b"B", b"C", b"D"))
            for r in range(16, 220_016)
        }
    )
    target = path
    with zipfile.ZipFile(TEMPLATE) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            out.writestr(
                info.filename, data.replace(b"</sheetData>", rows + b"</sheetData>") if info.filename == SHEET else data
            )
    return target


ODS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
)


def _ods(path: Path, tables: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr(
            "content.xml", ODS_HEAD + tables + "</office:spreadsheet></office:body></office:document-content>"
        )
        archive.writestr(
            "META-INF/manifest.xml",
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
    return path


def ods_repeated(path: Path) -> Path:
    """Two tables of a million numbers each (less the example's own), made by repeating one cell and
    one row."""
    cell = '<table:table-cell table:number-columns-repeated="1000" office:value-type="float" office:value="7"/>'
    table = f'<table:table table:name="T{{}}"><table:table-row table:number-rows-repeated="999">{cell}</table:table-row></table:table>'
    return _ods(path, table.format(1) + table.format(2))


def ods_written(path: Path) -> Path:
    """One table of 440,000 numbers written out (30 MB of XML), as many as the unpacked size admits."""
    rng = random.Random(3)
    cell = '<table:table-cell office:value-type="float" office:value="{}"/>'
    rows = (
        "<table:table-row>" + "".join(cell.format(rng.randrange(10**6)) for _ in range(440)) + "</table:table-row>"
        for _ in range(1000)
    )
    return _ods(path, f'<table:table table:name="T">{"".join(rows)}</table:table>')


def ods_text(path: Path) -> Path:
    """Ten million characters: one cell of 10,000 repeated a thousand times."""
    cell = f'<table:table-cell table:number-columns-repeated="1000" office:value-type="string"><text:p>{"文" * 9_800}</text:p></table:table-cell>'
    return _ods(path, f'<table:table table:name="T"><table:table-row>{cell}</table:table-row></table:table>')


def xls_numbers(path: Path) -> Path:
    """One sheet a 4,000 × 250 grid of numbers (a million, 14 MB), another a million-cell grid with
    only its corners."""
    book = xlwt.Workbook()
    full, corners = book.add_sheet("full"), book.add_sheet("corners")
    for r in range(4000):
        row = full.row(r)
        for c in range(250):
            row.set_cell_number(c, r * 250 + c + 0.5)  # not an RK: 14 bytes each
        if r % 100 == 0:
            full.flush_row_data()
    corners.write(0, 0, 1)
    corners.write(3999, 249, 1)
    book.save(str(path))
    return path


def xls_text(path: Path) -> Path:
    """Ten million characters: 305 cells showing one string of 32,767."""
    book, rng = xlwt.Workbook(), random.Random(2)
    sheet = book.add_sheet("text")
    text = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(32_767))
    for r in range(305):
        sheet.write(r, 0, text)
    book.save(str(path))
    return path


CASES = {
    "xlsx: two grids of a million cells": ("numbers.xlsx", xlsx_numbers),
    "xlsx: 400,000 distinct strings": ("strings.xlsx", xlsx_strings),
    "xlsx: 10 million characters of text": ("texts.xlsx", xlsx_long_texts),
    "xlsx: 220,000 unknown rows": ("rows.xlsx", xlsx_unknown_rows),
    "xls: a million numbers and a million-cell grid": ("numbers.xls", xls_numbers),
    "xls: 10 million characters of text": ("texts.xls", xls_text),
    "ods: two repeated grids of a million cells": ("repeated.ods", ods_repeated),
    "ods: 440,000 numbers written out": ("written.ods", ods_written),
    "ods: 10 million characters of text": ("text.ods", ods_text),
}


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))


def measure(path: Path) -> tuple[int, float, str]:
    """(peak memory in MB, seconds, the findings' rules) of `nianbao check` on `path`, in a process of its own."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(path)], capture_output=True, text=True, preexec_fn=_capped, cwd=ROOT
    )
    seconds = time.perf_counter() - start
    *_, rss, status = result.stderr.split()
    rules = sorted({line.split('"')[3] for line in result.stdout.splitlines() if '"rule":' in line})
    return int(rss) // 1024, seconds, f"exit {status}, rules {', '.join(rules) or '—'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the workbooks here and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nianbao-worst-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for title, (name, build) in CASES.items():
            path = folder / name
            if not path.exists():
                build(path)
            megabytes, seconds, outcome = measure(path)
            size = path.stat().st_size / 1e6
            print(f"{title:48} {size:6.1f} MB file  {megabytes:5d} MB peak  {seconds:6.1f} s  {outcome}")
    finally:
        if args.keep is None:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
