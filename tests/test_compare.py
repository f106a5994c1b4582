"""`nianbao compare 2020 2021` on the example bureau: the page renders in a real browser (chromium, as
tests/test_pages.py drives it) with its charts drawn, every figure shown is the releases' figure, and
the workbook lists every figure; texts are compared paragraph by paragraph."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from flows.cli import main
from flows.documents.compare import compared_texts
from flows.run import run_year
from tests.conftest import SOURCES
from tests.test_pages import browser  # noqa: F401 - the fixture


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    outputs = tmp_path_factory.mktemp("outputs")
    for year in (2020, 2021):
        run_year(year, SOURCES, outputs)
    return outputs


def published(outputs: Path, year: int) -> dict[tuple[str, str, str, str], Decimal]:
    """(unit, table, row, column) → figure, as the live release's CSVs say ("" for table 四's row)."""
    from flows.format.edition import edition_for_year

    found = {}
    for code, layout in edition_for_year(year).tables.items():
        text = (outputs / str(year) / "latest" / "data" / f"{code}.csv").read_text("utf-8")
        for row in csv.DictReader(io.StringIO(text)):
            for column in layout.columns:
                if row[column.code]:
                    found[(row["unit_id"], code, row.get("row", ""), column.code)] = Decimal(row[column.code])
    return found


def test_compare_renders_with_its_charts_and_the_releases_figures(outputs, browser, capsys):  # noqa: F811
    assert main(["compare", "2020", "2021", "--outputs", str(outputs)]) == 0
    page_path = outputs / "compare" / "2020-2021" / "index.html"
    page = browser.new_page()
    page.goto(page_path.as_uri())
    sizes = page.eval_on_selector_all(
        "svg.chart", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height] })"
    )
    assert len(sizes) == 7 and all(w > 0 and h > 0 for w, h in sizes)  # outcomes, and six figures across years
    bars = page.eval_on_selector_all(
        "svg.chart rect.bar", "els => els.map(e => e.getBoundingClientRect()).map(r => r.width * r.height)"
    )
    assert len(bars) > 12 and sum(1 for area in bars if area > 10) > 12
    shown = page.eval_on_selector_all(
        "section.unit tr[data-table]",
        "rows => rows.map(r => [r.closest('section').dataset.unit, r.dataset.table, r.dataset.row,"
        " r.dataset.column, r.querySelector('.a').textContent, r.querySelector('.b').textContent,"
        " r.querySelector('.change').textContent])",
    )
    before, after = published(outputs, 2020), published(outputs, 2021)
    assert len(shown) > 300
    for unit, table, row, column, a, b, change in shown:
        key = (unit, table, row, column)
        assert a == ("—" if key not in before else f"{before[key]:f}")
        assert b == ("—" if key not in after else f"{after[key]:f}")
        if key in before and key in after:
            assert Decimal(change) == after[key] - before[key]
    # The largest change of the bureau comes first.
    bureau = [s for s in shown if s[0] == "yuanjiang-psb-example" and s[6] != "—"]
    assert abs(Decimal(bureau[0][6])) == max(abs(Decimal(s[6])) for s in bureau)
    assert page.locator("table.texts").count() >= 3
    page.screenshot(path=str(page_path.with_suffix(".png")), full_page=True)

    book = load_workbook(page_path.parent / "comparison.xlsx", read_only=True)
    rows = list(book["数字"].iter_rows(min_row=2, values_only=True))
    listed = {(r[0], r[2], r[3] or "", r[4]): (r[6], r[7]) for r in rows}
    assert {k for k, (a, _) in listed.items() if a is not None} == set(before)
    assert {k for k, (_, b) in listed.items() if b is not None} == set(after)
    assert all(Decimal(str(b)) == after[k] for k, (_, b) in listed.items() if b is not None)


def test_units_chooses_the_departments_listed(outputs, tmp_path):
    assert (
        main(["compare", "2020", "2021", "--outputs", str(outputs), "--units", "traffic", "--out", str(tmp_path)]) == 0
    )
    html = (tmp_path / "index.html").read_text("utf-8")
    assert 'data-unit="traffic"' in html and 'data-unit="household"' not in html
    assert 'data-unit="yuanjiang-psb-example"' in html


def test_a_year_never_published_is_a_wrong_call(outputs, capsys):
    assert main(["compare", "2019", "2021", "--outputs", str(outputs)]) == 2


def test_texts_are_compared_paragraph_by_paragraph():
    rows = compared_texts(
        "甲段。\n\n乙段有<b>旧</b>字。\n\n丙段。", "甲段。\n\n乙段有<b>新</b>字。\n\n丁段。\n\n戊段。"
    )
    assert [r["kind"] for r in rows] == ["equal", "changed", "changed", "added"]
    assert "<del>旧</del>" in str(rows[1]["a"]).replace("&lt;b&gt;", "") or "<del>" in str(rows[1]["a"])
    assert "&lt;b&gt;" in str(rows[1]["b"])  # typed markup is shown, never interpreted
    assert str(rows[3]["b"]) == "戊段。"
