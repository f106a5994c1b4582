"""Published reports read from their forms: the real reports of tests/data/published/ as their
pages' text gives them (every figure index.yaml lists, every error they really contain), and the
same reports rendered as a Word-saved web page, a .docx and a PDF (tests/make_published_forms.py);
what cannot be read is F0 naming why."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from flows.checks.check import check_report
from flows.checks.published import check_published
from flows.checks.rules import Context
from flows.format.edition import edition_named
from flows.format.values import format_value
from flows.intake.document import Line, Unreadable, expanded, sniff, text_lines
from flows.intake.published import read_document, read_published, title_of

HERE = Path(__file__).resolve().parent / "data" / "published"
INDEX = yaml.safe_load((HERE / "index.yaml").read_text("utf-8"))["reports"]
FORMS = sorted((HERE / "forms").iterdir())
BY_NUMBER = {report["file"][:3]: report for report in INDEX}
TABLE_RULES = ("A3", "B1", "C1", "C3", "C5")


def _year(report: dict) -> int:
    return report["year"] or 2021  # 027 prints no year; its table is the 2021 edition's


def listed(report: dict):
    """(table, row, column, published text) of every figure the corpus transcribed and is sure of."""
    uncertain = set(report.get("uncertain", []))
    for table, given in (report.get("tables") or {}).items():
        rows = {"cases": given} if table == "review_litigation" else given
        for row, columns in rows.items():
            for column, value in columns.items():
                if f"{table}.{row}" in uncertain or f"{table}.{row}.{column}" in uncertain:
                    continue
                text = "0" if value is None else format(value, "g") if isinstance(value, float) else str(value)
                yield table, row, column, text


def whole_rows(report: dict) -> set[tuple[str, str]]:
    """The rows the corpus lists whole and without a blank cell: a PDF's text layer has nothing
    where a cell is blank, so the figures of another row cannot be placed (docs/published-reports.md)."""
    whole = set()
    for table, rows in (report.get("tables") or {}).items():
        layout = edition_named(report["edition"]).tables[table]
        for row, columns in ({"cases": rows} if table == "review_litigation" else rows).items():
            block = next(b for b in layout.blocks if row in b.rows)
            if len(columns) == len(block.columns) and None not in columns.values():
                whole.add((table, row))
    return whole


def assert_figures(published, report: dict, rows: set[tuple[str, str]] | None = None) -> int:
    edition = published.report.edition
    count = 0
    for table, row, column, text in listed(report):
        if rows is not None and (table, row) not in rows:
            continue
        layout = edition.tables[table]
        r, c = layout.row_index[row], layout.column_index[column]
        assert published.report.source(table, r, c) is not None, (table, row, column)
        assert format_value(int(published.report.values[table][r, c]), layout.columns[c]) == text, (table, row, column)
        count += 1
    return count


@pytest.mark.parametrize("report", INDEX, ids=[r["file"][:3] for r in INDEX])
def test_every_published_figure_is_read_from_the_pages_text(report):
    published = read_published(HERE / report["file"], _year(report), "u")
    assert published.report.edition.code == report["edition"]
    assert assert_figures(published, report) == len(list(listed(report)))


def _errors(published, report: dict) -> set[tuple[str, str]]:
    """The table rules' findings, on rows the corpus holds whole (a row cut short by the stored
    copy's end is not one the report printed so)."""
    level = "township" if report["level"] == "township" else None
    found = set()
    for finding in check_report(published.report, Context(level=level), only=TABLE_RULES):
        layout = published.report.edition.tables[finding.table]
        if finding.rule == "A3":
            r = layout.row_index[finding.row]
            if any(published.report.source(finding.table, r, c) is None for c in range(len(layout.columns))):
                continue
        found.add((finding.rule, f"{finding.table}.{finding.row}"))
    return found | {("F2", "proactive_disclosure") for f in published.findings if f.rule == "F2"}


def _known(report: dict) -> set[tuple[str, str]]:
    return {(e["rule"], ".".join(e["cell"].split(".")[:2])) for e in report.get("known_errors", [])}


@pytest.mark.parametrize("report", INDEX, ids=[r["file"][:3] for r in INDEX])
def test_every_error_a_report_contains_is_found_and_no_other(report):
    published = read_published(HERE / report["file"], _year(report), "u")
    assert _errors(published, report) == _known(report)


@pytest.mark.parametrize("path", FORMS, ids=[p.name for p in FORMS])
def test_the_web_page_word_and_pdf_forms_read_the_same_figures(path):
    report = BY_NUMBER[path.name[:3]]
    published = read_published(path, _year(report), "u")
    assert published.document.kind == {".htm": "html", ".docx": "docx", ".pdf": "pdf"}[path.suffix]
    rows = whole_rows(report) if path.suffix == ".pdf" else None
    assert assert_figures(published, report, rows) > 0
    assert _errors(published, report) == _known(report)
    assert published.title.unit == report["issuer"]


def test_the_corpus_and_its_forms_cover_thirty_reports_and_every_form():
    figures = sum(len(list(listed(r))) for r in INDEX)
    assert len(INDEX) >= 31 and figures >= 600
    assert {p.suffix for p in FORMS} == {".htm", ".docx", ".pdf"}
    assert {BY_NUMBER[p.name[:3]]["edition"] for p in FORMS} == {"2019", "2021"}


def test_findings_name_the_place_in_the_document():
    checked, published = check_published(HERE / "004-suijiang-huiyizhen-2021.txt", 2021, "u")
    a3 = [f for f in checked.findings if f.rule == "A3"]
    assert {f.row for f in a3} == {"new", "disclosed"}
    new = next(f for f in a3 if f.row == "new")
    assert new.sheet == "表三" and new.cell == "“一、本年新收政府信息公开申请数量” / “总计”"
    assert "（表三 “一、本年新收政府信息公开申请数量” / “总计”）" in new.message
    assert published is not None and "镇党委" in published.text.sections["一"]
    pdf = read_published(HERE / "forms" / "004-suijiang-huiyizhen-2021.pdf", 2021, "u")
    f3 = [f for f in pdf.findings if f.cell and "第" in f.cell and "页" in f.cell]
    assert f3 or all(s is None or s.sheet for s in pdf.report.provenance["applications"])
    assert any("，第 2 页" in place for place in pdf.places.values())


def test_a_report_in_the_other_edition_is_one_f2():
    published = read_published(HERE / "006-pingli-zhengyangzhen-2021.txt", 2021, "u")
    assert [f.rule for f in published.findings][:1] == ["F2"] and published.report.edition.code == "2019"


def _document(text: str, year: int = 2021):
    return read_document(text_lines(text), year, "u")


HEAD = "二、主动公开政府信息情况\n三、收到和处理政府信息公开申请情况\n"


def test_figures_that_ran_together_are_cut_when_one_reading_fits():
    published = _document(HEAD + "一、本年新收政府信息公开申请数量 | 12 | 0 | 0 | 0 | 0 | 012 |\n")
    layout = published.report.edition.tables["applications"]
    assert published.report.values["applications"][layout.row_index["new"]].tolist() == [12, 0, 0, 0, 0, 0, 12]
    assert [f.message for f in published.findings if f.rule == "V2"] == [
        "表三 一、本年新收政府信息公开申请数量（表三 “一、本年新收政府信息公开申请数量”）：“12 0 0 0 0 012”中的数字连在一起，按格式只能读作 12 | 0 | 0 | 0 | 0 | 0 | 12，已按此读取"
    ]


def test_figures_that_ran_together_two_ways_are_an_error_naming_both():
    published = _document(HEAD + "一、本年新收政府信息公开申请数量 | 111 | 0 | 0 | 0 | 0 | 0 |\n")
    (error,) = [f for f in published.findings if f.rule == "V1"]
    assert "1 | 11 | 0 | 0 | 0 | 0 | 0" in error.message and "11 | 1 | 0 | 0 | 0 | 0 | 0" in error.message
    assert published.report.source("applications", 0, 0) is None


def test_title_unit_and_year():
    for number, unit, year in [
        ("004", "会仪镇人民政府", 2021),
        ("021", "螅镇", 2022),
        ("017", "盐边县新九镇人民政府", 2021),
        ("023", "桃江县松木塘镇人民政府", 2022),
        ("010", "广州市荔湾区人民政府南源街道办事处", 2020),
    ]:
        title = title_of(text_lines((HERE / BY_NUMBER[number]["file"]).read_text("utf-8")))
        assert (title.unit, title.year) == (unit, year), number


def test_rowspan_and_colspan_are_expanded_as_a_spreadsheet_shows_them():
    rows = [Line(("a", "b"), table=0, spans=((2, 1), (1, 2))), Line(("c", "d"), table=0, spans=((1, 1), (1, 1)))]
    assert expanded(rows) == [["a", "b", ""], ["", "c", "d"]]


def test_the_kind_is_told_by_content_not_by_name(tmp_path):
    html = (HERE / "forms" / "004-suijiang-huiyizhen-2021.htm").read_bytes()
    assert sniff(html) == "html" and sniff("规章 | 0".encode()) == "text"
    assert sniff((HERE / "forms" / "004-suijiang-huiyizhen-2021.docx").read_bytes()) == "docx"
    disguised = tmp_path / "report.txt"
    disguised.write_bytes((HERE / "forms" / "004-suijiang-huiyizhen-2021.pdf").read_bytes())
    assert read_published(disguised, 2021, "u").document.kind == "pdf"


def _f0(path: Path) -> tuple[str | None, str]:
    checked, _ = check_published(path, 2021, "u")
    (finding,) = checked.findings
    assert finding.rule == "F0" and checked.report is None
    return checked.unreadable and finding.message, finding.message


def test_an_encrypted_pdf_is_f0(tmp_path):
    import pypdf

    writer = pypdf.PdfWriter(clone_from=io.BytesIO((HERE / "forms" / "004-suijiang-huiyizhen-2021.pdf").read_bytes()))
    writer.encrypt("secret", algorithm="AES-256")
    path = tmp_path / "report.pdf"
    writer.write(path)
    assert "已加密" in _f0(path)[1]


def test_a_scanned_pdf_without_text_is_f0(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50, style="F")  # a scan is a picture: no character at all
    path = tmp_path / "scan.pdf"
    path.write_bytes(bytes(pdf.output()))
    assert "没有文字层" in _f0(path)[1]


def test_a_page_whose_tables_are_images_is_f0(tmp_path):
    path = tmp_path / "page.htm"
    path.write_text(
        "<html><body><p>某某局2021年政府信息公开工作年度报告</p><p>一、总体情况</p><p>本年度……</p>"
        '<p>二、主动公开政府信息情况</p><p><img src="t2.png"></p><p>三、收到和处理政府信息公开申请情况</p>'
        '<p><img src="t3.png"></p></body></html>',
        "utf-8",
    )
    assert "表格是图片" in _f0(path)[1]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "空的"),
        ("会议纪要\n今天开会讨论了工作安排。".encode(), "不是政府信息公开工作年度报告"),
        (b"PK\x03\x04broken", "损坏"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版 Office"),
        (b"\x00\x01\x02\x03" * 100, "不是文本"),
    ],
)
def test_a_file_that_is_no_report_is_f0_never_a_traceback(tmp_path, content, words):
    path = tmp_path / "file.txt"
    path.write_bytes(content)
    assert words in _f0(path)[1]


def test_the_size_limit_of_workbooks_holds(tmp_path, monkeypatch):
    from flows.intake import files

    monkeypatch.setitem(files.limits(), "file_bytes", 100)
    path = tmp_path / "big.txt"
    path.write_text("二、主动公开政府信息情况\n" * 20, "utf-8")
    with pytest.raises(Unreadable, match="过大"):
        read_published(path, 2021, "u")
