"""Labels read as departments type them: found by their place in the table (flows/intake/labels.py).

The workbooks are the official Word table pasted into Excel (tests/official_layout.py), stacked on
one sheet or a sheet per table, with merged headers and labels broken over lines.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flows.format.edition import edition_for_year, normalise_label
from flows.intake.labels import align, similarity
from flows.intake.workbook import known_texts, read_workbook
from tests.conftest import valid_report
from tests.official_layout import write_official_layout

VARIANTS = Path(__file__).parent / "data" / "published" / "labels.yaml"


def _typed(report) -> dict:
    """The report's figures as a clerk types them: counts whole, amounts in their measure."""
    typed = {}
    for table, layout in report.edition.tables.items():
        for r, row in enumerate(layout.rows):
            for c, column in enumerate(layout.columns):
                if layout.applicable[r, c]:
                    value = int(report.values[table][r, c])
                    typed[(table, row.code, column.code)] = value / 10**column.decimals if column.decimals else value
    return typed


@cache
def _texts_written(year: int, stacked: bool) -> tuple[str, ...]:
    """Every heading and label the official layout writes, in writing order (retext's numbering)."""
    written: list[str] = []
    report = valid_report(year, seed=3)
    write_official_layout(
        Path("/dev/null"), report.edition, {}, stacked=stacked, retext=lambda i, text: written.append(text) or text
    )
    return tuple(written)


def _write(path: Path, year: int, stacked: bool, changed: dict[int, str]):
    report = valid_report(year, seed=3)
    write_official_layout(path, report.edition, _typed(report), stacked=stacked, retext=changed.get)
    return report


def _same_figures(again, report) -> bool:
    return all(np.array_equal(again.values[table], report.values[table]) for table in report.values)


# -- the property ---------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_one_typo_in_a_label_is_one_f3_and_the_same_figures(tmp_path, data):
    """One character inserted, deleted or replaced in any label of four characters or more, in
    either layout: the same figures, one F3 naming that label, never an F1. A typo that makes the
    text another label of the template is not one: that text is that label's."""
    year = data.draw(st.sampled_from([2020, 2021]), label="year")
    stacked = data.draw(st.booleans(), label="stacked")
    written = _texts_written(year, stacked)
    n = data.draw(st.sampled_from([i for i, text in enumerate(written) if len(text) >= 4]), label="label")
    label = written[n]
    edit = data.draw(st.sampled_from(["insert", "delete", "replace"]), label="edit")
    at = data.draw(st.integers(0, len(label) - (edit != "insert")), label="at")
    char = data.draw(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF) | st.sampled_from("0123456789"))
    typo = {
        "insert": label[:at] + char + label[at:],
        "delete": label[:at] + label[at + 1 :],
        "replace": label[:at] + char + label[at + 1 :],
    }[edit]
    edition = edition_for_year(year)
    assume(normalise_label(typo) != normalise_label(label) and normalise_label(typo) not in known_texts(edition))
    path = tmp_path / f"{n}-{edit}-{at}.xlsx"
    report = _write(path, year, stacked, {n: typo})
    again, findings = read_workbook(path, year, "d1")
    assert [(f.rule, f.expected, normalise_label(f.actual)) for f in findings] == [("F3", label, normalise_label(typo))]
    assert findings[0].cell is not None
    assert _same_figures(again, report)


# -- real variants ---------------------------------------------------------------------------------
def _variants() -> list[dict]:
    return yaml.safe_load(VARIANTS.read_text("utf-8"))["variants"]


def test_the_real_variants_are_enough():
    """At least 40 distinct variants from at least 15 issuers, both editions; those a careful
    reader maps by place (36 of 42 gathered) are read with F3, the others refused (F1)."""
    distinct = {(v["edition"], v["table"], v["code"], normalise_label(v["published"])): v for v in _variants()}
    assert len(distinct) >= 40
    assert sum(v["expect"] == "f3" for v in distinct.values()) >= 36
    assert len({v["url"] for v in _variants()}) >= 15
    assert {v["edition"] for v in distinct.values()} == {"2019", "2021"}


@pytest.mark.parametrize(
    "variant", _variants(), ids=lambda v: f"{v['edition']}-{v['code']}-{v['published'][:12]}-{v['url'][-12:]}"
)
def test_a_real_variant_reads_as_a_careful_reader_reads_it(tmp_path, variant):
    """Each label as a real report printed it, in its place in the official layout: read with F3
    and the same figures, or, where no careful reader could be sure (expect: f1), an F1 and not one
    figure read under a label it may not belong to. A text broken over cells (" / ") is written
    broken over lines in one cell."""
    if variant.get("split") == "rows":
        pytest.skip("the parts stand in rows of their own with their own figures: no one cell shows it")
    year = {"2019": 2020, "2021": 2021}[variant["edition"]]
    written = _texts_written(year, True)
    n = written.index(variant["official"])
    typed = variant["published"].replace(" / ", "\n")
    path = tmp_path / "dept.xlsx"
    report = _write(path, year, True, {n: typed})
    again, findings = read_workbook(path, year, "d1")
    if variant["expect"] == "f3":
        assert _same_figures(again, report)
        assert not [f for f in findings if f.is_error]
        if normalise_label(typed) != normalise_label(variant["official"]):
            assert [(f.rule, f.expected) for f in findings] == [("F3", variant["official"])]
    else:
        errors = [f for f in findings if f.is_error]
        assert {f.rule for f in errors} == {"F1"}
        assert variant["code"] in {f.row if variant["kind"] == "row" else f.column for f in errors}
        # Not one figure read under a label it may not belong to: each is the published one, or unread.
        for table in report.values:
            read = again.values[table]
            assert ((read == report.values[table]) | (read == 0)).all()
        # The label's own cells are not read: in the first block that has it (the one changed).
        layout = report.edition.tables[variant["table"]]
        block = next(b for b in layout.blocks if variant["code"] in (b.rows if variant["kind"] == "row" else b.columns))
        for row in block.rows if variant["kind"] != "row" else [variant["code"]]:
            for column in block.columns if variant["kind"] == "row" else [variant["code"]]:
                assert again.values[variant["table"]][layout.row_index[row], layout.column_index[column]] == 0


# -- what cannot be read is said once, where it stands ----------------------------------------------
def test_a_header_typo_never_costs_its_neighbours(tmp_path):
    """One unreadable header: one F1 naming its cell and what it says; every other column read."""
    written = _texts_written(2021, False)
    n = written.index("科研机构")
    report = _write(tmp_path / "d.xlsx", 2021, False, {n: "其它单位"})
    again, findings = read_workbook(tmp_path / "d.xlsx", 2021, "d1")
    (f1,) = findings
    assert (f1.rule, f1.column, normalise_label(f1.actual)) == ("F1", "research_institution", "其它单位")
    assert f1.sheet == "表三" and f1.cell is not None and "此处应为“科研机构”" in f1.message
    layout = report.edition.tables["applications"]
    others = [c for c in range(len(layout.columns)) if layout.columns[c].code != "research_institution"]
    np.testing.assert_array_equal(again.values["applications"][:, others], report.values["applications"][:, others])


def test_a_row_whose_label_was_deleted_is_named_once_at_its_label_cell(tmp_path):
    """Figures with no label beside them: one F1 at the cell where the label should be, saying it is
    blank, not a second one calling the row unknown."""
    from openpyxl import load_workbook

    from flows.documents.template import write_workbook

    report = valid_report(2021, seed=3)
    path = write_workbook(tmp_path / "d.xlsx", report.edition, 2021, report)
    book = load_workbook(path)
    sheet = book["三、依申请公开"]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == "2.重复申请")
    cell.value = None
    book.save(path)
    _, findings = read_workbook(path, 2021, "d1")
    (f1,) = findings
    assert (f1.rule, f1.row, f1.cell, f1.actual) == ("F1", "unprocessed_repeated", cell.coordinate, "（空白）")


def test_two_plausible_readings_are_an_error_naming_both(tmp_path):
    """本年新制作数量 printed over both of the first two columns (a real 2019 report did): neither
    column is read, and the error names both cells."""
    written = _texts_written(2020, True)
    n = written.index("本年新公开数量")
    report = _write(tmp_path / "d.xlsx", 2020, True, {n: "本年新制作数量"})
    again, findings = read_workbook(tmp_path / "d.xlsx", 2020, "d1")
    errors = [f for f in findings if f.is_error]
    assert {(f.rule, f.column) for f in errors} == {("F1", "made"), ("F1", "published")}
    two = next(f for f in errors if f.column == "made")
    assert "既可能是此处的“本年新 制作数量”，也可能是" in two.message
    layout = report.edition.tables["proactive_disclosure"]
    for code in ("made", "published"):
        assert not again.values["proactive_disclosure"][:, layout.column_index[code]].any()


def test_the_alignment_keeps_order_and_refuses_a_close_second():
    scores = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.8, 0.75, 0.0], [0.0, 0.0, 0.0, 1.0]])
    alignment = align(scores)
    assert alignment.read == {0: 0, 2: 3}
    assert alignment.rivals == {1: (1, [("found", 2)])}
    clear = align(np.array([[1.0, 0.0], [0.0, 0.9]]))
    assert clear.read == {0: 0, 1: 1} and not clear.rivals
    # A label with no text close enough has its place named when the count leaves one.
    assert align(np.array([[1.0, 0.0, 0.0], [0.0, 0.2, 0.0], [0.0, 0.0, 1.0]])).places == {1: 1}


@pytest.mark.parametrize(
    "label, found, read",
    [
        ("现行有效件数", "现行有效数量", True),
        ("本年废止件数", "本年废纸件数", True),
        ("现行有效件数", "现行有效件数（历史累计）", True),
        ("1.属于国家秘密", "（1）属于国家秘密", True),
        ("1.属于国家秘密", "①属于国家秘密", True),
        (
            "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
            "（二）部分公开（区分处理的，只计这一情况，不计其他情形）",
            True,
        ),
        ("结果维持", "结果纠正", False),
        ("行政许可", "行政处罚", False),
    ],
)
def test_close_enough_is_what_schemas_say(label, found, read):
    from flows.intake.labels import settings as label_settings

    assert (similarity(label, found) >= label_settings()["close_enough"]) is read
