"""Fuzzing: workbooks mutated in their cells, labels, merged ranges and raw sheet XML always end
in a finding or a clean pass, never a traceback, within a time bound per file (the deadline)."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from flows.checks.check import check_workbook
from flows.format.edition import rules
from tests.conftest import SOURCES

ORIGINAL = SOURCES / "2021" / "household.xlsx"
SHEETS = ["二、主动公开", "三、依申请公开", "四、复议诉讼"]
VALUES = st.one_of(
    st.none(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30),
    st.sampled_from(["不变", "无", "—", "１２", "3件", "=A1", "1,234", "+5", "12.5万元", "#DIV/0!"]),
)
# NIANBAO_FUZZ_EXAMPLES=1000 for a longer hunt than CI's.
FUZZ = settings(
    max_examples=int(os.environ.get("NIANBAO_FUZZ_EXAMPLES", "25")),
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def assert_clear_answer(path: Path) -> None:
    checked = check_workbook(path, 2021, "household")  # must not raise
    catalogue = rules()
    for finding in checked.findings:
        assert finding.rule in catalogue and finding.message and finding.severity in ("error", "warning")
    assert (checked.report is None) == (checked.unreadable is not None)


@FUZZ
@given(
    edits=st.lists(st.tuples(st.sampled_from(SHEETS), st.integers(1, 40), st.integers(1, 12), VALUES), max_size=8),
    merges=st.lists(st.tuples(st.sampled_from(SHEETS), st.integers(1, 30), st.integers(1, 10)), max_size=3),
)
def test_mutated_cells_labels_and_merges(edits, merges):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "household.xlsx"
        shutil.copy(ORIGINAL, path)
        book = load_workbook(path)
        for sheet, row, column, value in edits:
            cell = book[sheet].cell(row=row, column=column)
            if type(cell).__name__ != "MergedCell":
                cell.value = value if not isinstance(value, float) or math.isfinite(value) else str(value)
        for sheet, row, column in merges:
            book[sheet].merge_cells(start_row=row, start_column=column, end_row=row + 1, end_column=column + 2)
        book.save(path)
        assert_clear_answer(path)


@FUZZ
@given(
    part=st.sampled_from(["xl/worksheets/sheet2.xml", "xl/worksheets/sheet3.xml", "xl/workbook.xml", "xl/styles.xml"]),
    cuts=st.lists(st.tuples(st.integers(0, 20000), st.integers(0, 40), st.binary(max_size=12)), min_size=1, max_size=4),
)
def test_mutated_sheet_xml(part, cuts):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "household.xlsx"
        with zipfile.ZipFile(ORIGINAL) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                data = source.read(info.filename)
                if info.filename == part:
                    for offset, length, insert in cuts:
                        at = offset % max(len(data), 1)
                        data = data[:at] + insert + data[at + length :]
                target.writestr(info.filename, data)
        assert_clear_answer(path)


@FUZZ
@given(data=st.binary(min_size=0, max_size=4096))
def test_arbitrary_bytes(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "household.xlsx"
        path.write_bytes(b"PK\x03\x04" + data if data[:1] == b"\x00" else data)
        assert_clear_answer(path)
