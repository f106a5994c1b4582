"""`nianbao check`, `import` and `audit` on published reports: the real reports of
tests/data/published/ (their pages' text, and the web page, Word and PDF forms rendered from them)
read to the figures index.yaml lists, the JSON and exit statuses of workbooks, the imported
workbook and text ready for sources/, and a folder of reports audited into a browsable index."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from flows.cli import main
from flows.format.text import parse_sections
from flows.intake.workbook import read_workbook
from tests.conftest import SOURCES
from tests.test_backfill import web_page
from tests.test_pages import ERROR_RED, browser, cells  # noqa: F401 - browser: the fixture
from tests.test_published import BY_NUMBER, FORMS, HERE, INDEX, _known, _year, listed, whole_rows

TEXTS = [HERE / r["file"] for r in INDEX]


def _run(capsys, *argv: str) -> tuple[int, dict]:
    status = main(list(argv))
    return status, json.loads(capsys.readouterr().out)


def _expected(path: Path) -> dict:
    return BY_NUMBER[path.name[:3]]


@pytest.mark.parametrize("path", TEXTS + FORMS, ids=[p.name for p in TEXTS + FORMS])
def test_import_reads_every_listed_figure_of_every_form(path, capsys):
    report = _expected(path)
    status, document = _run(capsys, "import", str(path), "--year", str(_year(report)), "--json")
    (read,) = document["files"]
    assert (read["path"], read["year"], read["edition"]) == (str(path), _year(report), report["edition"])
    assert set(read["sections"]) <= set("一二三四五六") and read["findings"]
    whole = whole_rows(report) if path.suffix == ".pdf" else None
    compared = 0
    for table, row, column, text in listed(report):
        if whole is not None and (table, row) not in whole:
            continue
        cells = read["tables"][table] if table == "review_litigation" else read["tables"][table][row]
        assert format(cells[column], "g") == text, (table, row, column)
        compared += 1
    assert compared == len(list(listed(report))) if whole is None else compared > 0
    assert status == (1 if any(f["severity"] == "error" for f in read["findings"]) else 0)
    if path.parent.name == "forms":
        assert read["unit"] == report["issuer"]  # the name as printed


@pytest.mark.parametrize("path", TEXTS + FORMS, ids=[p.name for p in TEXTS + FORMS])
def test_check_finds_every_known_error_in_every_form(path, capsys):
    report = _expected(path)
    level = ["--level", "township"] if report["level"] == "township" else []
    status, document = _run(capsys, "check", str(path), "--year", str(_year(report)), "--json", *level)
    (checked,) = document["files"]
    assert checked["edition"] == report["edition"]
    assert status == (1 if any(f["severity"] == "error" for f in checked["findings"]) else 0)
    found = {(f["rule"], f"{f['table']}.{f['row']}" if f["row"] else f["table"]) for f in checked["findings"]}
    assert _known(report) <= found | {("F2", "proactive_disclosure")} if report.get("known_errors") else True
    if any(e["rule"] == "F2" for e in report.get("known_errors", [])):
        assert "F2" in {f["rule"] for f in checked["findings"]}
    assert all(set(f) >= {"rule", "severity", "unit", "sheet", "cell", "message"} for f in checked["findings"])


def test_check_names_the_place_in_the_document_and_the_page_of_a_pdf(capsys):
    _, document = _run(
        capsys, "check", str(HERE / "forms" / "004-suijiang-huiyizhen-2021.pdf"), "--year", "2021", "--json"
    )
    cells = [f["cell"] for f in document["files"][0]["findings"] if f["cell"]]
    assert any("，第 2 页" in cell for cell in cells)
    _, document = _run(capsys, "check", str(HERE / "004-suijiang-huiyizhen-2021.txt"), "--year", "2021", "--json")
    a3 = {f["cell"] for f in document["files"][0]["findings"] if f["rule"] == "A3"}
    assert "“一、本年新收政府信息公开申请数量” / “总计”" in a3


def test_figures_that_ran_together_two_ways_are_an_error_with_both_candidates(tmp_path, capsys):
    path = tmp_path / "report.txt"
    path.write_text(
        "某局2021年政府信息公开工作年度报告\n二、主动公开政府信息情况\n三、收到和处理政府信息公开申请情况\n"
        "一、本年新收政府信息公开申请数量 | 111 | 0 | 0 | 0 | 0 | 0 |\n",
        "utf-8",
    )
    status, document = _run(capsys, "check", str(path), "--year", "2021", "--json")
    run = [f for f in document["files"][0]["findings"] if f["rule"] == "V1" and f["row"] == "new"]
    assert status == 1 and len(run) == 1
    assert "1 | 11 | 0 | 0 | 0 | 0 | 0" in run[0]["message"] and "11 | 1 | 0 | 0 | 0 | 0 | 0" in run[0]["message"]


def test_a_file_that_is_no_report_exits_2_as_an_unreadable_workbook_does(tmp_path, capsys):
    path = tmp_path / "report.htm"
    path.write_text("<html><body><p>通知</p></body></html>", "utf-8")
    status, document = _run(capsys, "check", str(path), "--year", "2021", "--json")
    assert status == 2 and [f["rule"] for f in document["files"][0]["findings"]] == ["F0"]


def test_import_out_writes_the_workbook_and_text_for_sources(tmp_path, capsys):
    form = HERE / "forms" / "004-suijiang-huiyizhen-2021.docx"
    assert main(["import", str(form), "--out", str(tmp_path), "--unit", "huiyi", "--json"]) == 1
    (read,) = json.loads(capsys.readouterr().out)["files"]
    report, findings = read_workbook(tmp_path / "huiyi.xlsx", 2021, "huiyi")
    assert report.edition.code == "2021" and not [f for f in findings if f.rule in ("F1", "F2", "V1")]
    for table, rows in read["tables"].items():
        layout = report.edition.tables[table]
        for row, columns in ({"cases": rows} if table == "review_litigation" else rows).items():
            for column, value in columns.items():
                assert report.values[table][layout.row_index[row], layout.column_index[column]] == (value or 0)
    sections = parse_sections((tmp_path / "huiyi.md").read_text("utf-8"))
    assert set(sections) == {"一", "五", "六"} and "镇党委" in sections["一"]
    assert main(["import", str(form), "--out", str(tmp_path), "--unit", "huiyi"]) == 2  # no overwriting
    assert "已存在" in capsys.readouterr().err


def test_check_previous_may_be_a_published_report(tmp_path, capsys):
    """Last year's published report gives the figures for D1–D4 and the text for W7."""
    report, _ = read_workbook(SOURCES / "2020" / "household.xlsx", 2020, "household")
    last = tmp_path / "household-2020.htm"
    last.write_text(web_page(report, "户政管理大队"), "utf-8")
    this = str(SOURCES / "2021" / "household.xlsx")
    _, by_workbook = _run(
        capsys, "check", this, "--year", "2021", "--json", "--previous", str(SOURCES / "2020" / "household.xlsx")
    )
    _, by_page = _run(capsys, "check", this, "--year", "2021", "--json", "--previous", str(last))
    rules = [f["rule"] for f in by_page["files"][0]["findings"]]
    assert rules == [f["rule"] for f in by_workbook["files"][0]["findings"]] and "D0" not in rules
    form_2021 = str(HERE / "forms" / "004-suijiang-huiyizhen-2021.htm")  # 五 as the 2020 form prints it
    _, document = _run(
        capsys,
        "check",
        form_2021,
        "--year",
        "2021",
        "--json",
        "--previous",
        str(HERE / "forms" / "010-liwan-nanyuanjiedao-2020.htm"),
    )
    assert "W7" in [f["rule"] for f in document["files"][0]["findings"]]


# -- audit -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A folder of 52 reports (the 31 texts, 14 web pages, 7 Word files, a subfolder) audited in two
    worker processes."""
    root = tmp_path_factory.mktemp("audit")
    folder = root / "reports"
    (folder / "words").mkdir(parents=True)
    for path in TEXTS + [p for p in FORMS if p.suffix == ".htm"]:
        shutil.copy(path, folder / path.name)
    for path in [p for p in FORMS if p.suffix == ".docx"][:7]:
        shutil.copy(path, folder / "words" / path.name)
    status = main(["audit", str(folder), "--out", str(root / "audit"), "--workers", "2", "--quiet"])
    return folder, root / "audit", status


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_audit_writes_index_reports_and_findings(audited, capsys):
    folder, out, status = audited
    reports, findings = _csv(out / "reports.csv"), _csv(out / "findings.csv")
    assert status == 1 and len(reports) == 52
    assert {r["report"] for r in reports} == {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
    }
    errors = [int(r["errors"]) for r in reports]
    assert errors == sorted(errors, reverse=True)  # most errors first
    total = sum(int(r["errors"]) + int(r["warnings"]) for r in reports)
    assert len(findings) == total
    one = next(r for r in reports if r["report"] == "004-suijiang-huiyizhen-2021.txt")
    assert (one["unit"], one["year"], one["edition"]) == ("会仪镇人民政府", "2021", "2021")
    _, document = _run(capsys, "check", str(folder / one["report"]), "--year", "2021", "--json")
    mine = [f for f in findings if f["report"] == one["report"]]
    assert [f["rule"] for f in mine] == [f["rule"] for f in document["files"][0]["findings"]]
    assert {f["unit"] for f in mine} == {"会仪镇人民政府"}
    index = (out / "index.html").read_text("utf-8")
    assert all(f'href="{r["page"]}"' in index for r in reports) and all((out / r["page"]).is_file() for r in reports)


def test_an_audit_with_no_error_exits_0(tmp_path):
    report, _ = read_workbook(SOURCES / "2021" / "household.xlsx", 2021, "household")
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "household.htm").write_text(web_page(report, "户政管理大队"), "utf-8")
    assert main(["audit", str(folder), "--out", str(tmp_path / "audit"), "--quiet"]) == 0
    (line,) = _csv(tmp_path / "audit" / "reports.csv")
    assert (line["unit"], line["year"], line["errors"], line["warnings"]) == ("户政管理大队", "2021", "0", "0")


def test_a_report_page_of_the_audit_marks_the_wrong_cells(audited, browser):  # noqa: F811 - the fixture
    _, out, _ = audited
    line = next(r for r in _csv(out / "reports.csv") if r["report"] == "004-suijiang-huiyizhen-2021.txt")
    page = browser.new_page()
    page.goto((out / line["page"]).as_uri())
    assert page.text_content("#status") == "有错误"
    errors = {(c["table"], c["row"], c["column"]): c for c in cells(page, "td.value.error")}
    for row in ("new", "disclosed"):  # A3: 总计 printed 0, the applicants' columns add up to 1
        wrong = errors[("applications", row, "total")]
        assert (wrong["text"][:1], wrong["background"]) == ("0", ERROR_RED) and "自然人" in wrong["title"]
    read = cells(page, "td.value")
    assert any(c["row"] == "licensing" and c["text"].startswith("213") for c in read)
    page.goto((out / "index.html").as_uri())
    page.click("#reports th:nth-child(6)")  # by errors: the fewest first once clicked again
    page.click("#reports th:nth-child(6)")
    shown = page.eval_on_selector_all("#reports tbody tr", "rows => rows.map(r => Number(r.cells[5].textContent))")
    assert shown == sorted(shown) and len(shown) == 52
