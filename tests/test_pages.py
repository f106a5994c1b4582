"""Check reports as a clerk sees them: opened in a real headless browser (Debian's chromium driven
by Playwright), asserting which cells are highlighted and what the page says."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from flows.cli import main
from flows.documents.template import write_workbook
from flows.run import run_year, write_pages
from tests.conftest import SOURCES, valid_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ERROR_RED, WARNING_YELLOW = "rgb(248, 200, 200)", "rgb(255, 240, 179)"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed: .ci/run installs it")
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def cells(page, css: str) -> list[dict]:
    return page.eval_on_selector_all(
        css,
        "els => els.map(e => ({table: e.closest('table').dataset.table, row: e.dataset.row, column: e.dataset.column,"
        " text: e.textContent, background: getComputedStyle(e).backgroundColor, title: e.title}))",
    )


def test_department_report_highlights_the_cells_with_findings(browser, tmp_path, capsys):
    report = valid_report(2021, seed=5)
    report.values["review_litigation"][0, 0] += 1  # 行政复议 总计 no longer adds up: B1
    path = write_workbook(tmp_path / "household.xlsx", report.edition, 2021, report)
    from openpyxl import load_workbook

    book = load_workbook(path)
    book["二、主动公开"]["B4"] = "无"  # 规章 本年制发件数 typed as text: V2
    book["二、主动公开"]["C4"] = "<b>3</b>"  # markup typed into a cell: V1, shown as text, not as HTML
    book.save(path)

    status = main(["check", str(path), "--year", "2021", "--html", str(tmp_path / "html")])
    assert status == 1
    page = browser.new_page()
    page.goto((tmp_path / "html" / "household.html").as_uri())
    assert page.text_content("#status") == "有错误"

    errors = cells(page, "td.value.error")
    assert {(c["table"], c["row"], c["column"]) for c in errors} == {
        ("review_litigation", "cases", "review_total"),
        ("proactive_disclosure", "rules", "repealed"),
    }
    assert {c["background"] for c in errors} == {ERROR_RED}
    b1 = next(c for c in errors if c["column"] == "review_total")
    assert "结果维持、结果纠正、其他结果、尚未审结之和" in b1["title"]
    warnings = cells(page, "td.value.warning")
    assert [(c["row"], c["column"], c["text"][:1], c["background"]) for c in warnings] == [
        ("rules", "issued", "无", WARNING_YELLOW)
    ]
    markup = next(c for c in errors if c["column"] == "repealed")
    assert markup["text"].startswith("<b>3</b>")  # escaped: the clerk sees what was typed
    assert page.locator("td.value b").count() == 0
    # Every finding is listed with expected against actual; the cell marks link to it.
    listed = page.eval_on_selector_all("table.findings tr[id]", "rows => rows.map(r => r.children[2].textContent)")
    assert sorted(listed) == ["B1", "V1", "V2"]
    page.screenshot(path=str(tmp_path / "household.png"), full_page=True)
    document = json.loads((tmp_path / "html" / "household.json").read_text())
    assert document["status"] == "有错误" and sorted(f["rule"] for f in document["findings"]) == ["B1", "V1", "V2"]


def test_bureau_index_lists_every_department(browser, tmp_path):
    outcome = run_year(2020, SOURCES, tmp_path / "outputs")
    index = write_pages(outcome, tmp_path / "outputs")
    page = browser.new_page()
    page.goto(index.as_uri())
    rows = page.eval_on_selector_all(
        "tr[data-unit]", "rows => rows.map(r => [r.dataset.unit, r.children[2].textContent, r.children[4].textContent])"
    )
    assert rows == [
        ["exit_entry", "通过", "1"],
        ["household", "通过", "1"],
        ["public_order", "通过", "1"],
        ["traffic", "通过", "177"],
    ]
    assert page.text_content("#verdict") == "已发布：版本 1.0.0"
    page.click("tr[data-unit=traffic] a")
    assert page.text_content("h1") == "交通警察大队（traffic）2020 年度报表检查结果"
    assert len(cells(page, "td.value.warning")) == 174 + 1  # V2 cells and the amount with no measure (C5)


def test_a_pages_cells_are_what_the_templates_value_cell_draws(tmp_path):
    """A check page puts a cell without findings between the halves its template draws, as plain
    text (ten thousand pages a run): each cell must be what value_cell draws of it, findings or
    not, a text to escape too."""
    from flows.checks.check import check_workbook
    from flows.documents.check_pages import _value_cells, tables_html, template
    from flows.format.report import typed_text
    from flows.synth import write_synthetic_bureau

    write_synthetic_bureau(tmp_path, 2021, 12, errors=8)
    checked = [check_workbook(path, 2021, path.stem) for path in sorted((tmp_path / "2021").glob("*.xlsx"))]
    assert sum(1 for c in checked for f in c.findings if f.column) >= 8  # cells with findings, marked
    provenance = checked[0].report.provenance["applications"]
    provenance.raws[provenance.sheets != None] = "1<2&3>"  # noqa: E711 - numpy's elementwise comparison
    value_cell = template("check_table.html.j2").module.value_cell
    for c in checked:
        findings = sorted(c.findings, key=lambda f: not f.is_error)
        numbers = {id(f): i for i, f in enumerate(findings, start=1)}
        drawn = "".join(tables_html(c.report, findings))
        for table, layout in c.report.edition.tables.items():
            provenance = c.report.provenance[table]
            for i, cell in _value_cells(c.report.edition.code, table).items():
                place = (cell.row, cell.column)
                found = [f for f in findings if f.table == table and (f.row or layout.rows[0].code, f.column) == place]
                text = typed_text(provenance.raws[i]) if provenance.sheets[i] is not None else ""
                expected = str(value_cell(cell, text, found, [numbers[id(f)] for f in found]))
                assert expected in drawn, (table, cell)
    assert "1&lt;2&amp;3&gt;" in "".join(tables_html(checked[0].report, checked[0].findings))
