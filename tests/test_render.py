"""The annual report as people read it: the text sections and their rules, the HTML in a real
browser (structure as displayed), and the Word document read back with python-docx."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from flows.checks.text import check_text
from flows.documents.annual_report import render_docx
from flows.release.unit_reports import render_reports
from tests.conftest import valid_report
from tests.test_pages import CHROMIUM, FLAGS, browser  # noqa: F401  (the browser fixture)


@pytest.fixture(scope="module")
def on_demand(releases, tmp_path_factory) -> Path:
    """Every unit's report of the 2020 release, made on demand (`nianbao report`): a release holds the
    bureau's only."""
    folder = tmp_path_factory.mktemp("reports")
    render_reports(releases[2020], folder)
    return folder


# -- text -----------------------------------------------------------------------------------------
def write(tmp_path, text: str) -> Path:
    path = tmp_path / "report.md"
    path.write_text(text, "utf-8")
    return path


FULL = "# 一、总体情况\n\n新收申请{{applications.new.total}}件。\n\n# 五、存在的主要问题及改进情况\n\n问题。\n\n# 六、其他需要报告的事项\n\n未收取信息处理费。\n"


def test_placeholders_are_filled_from_the_tables(tmp_path):
    report = valid_report(2021)
    text, findings = check_text(write(tmp_path, FULL), report)
    new_total = report.values["applications"][0, 6]
    assert findings == [] and text.sections["一"] == f"新收申请{new_total}件。"


def test_a_missing_section_is_an_error_naming_it(tmp_path):
    _, findings = check_text(
        write(tmp_path, FULL.replace("# 五、存在的主要问题及改进情况\n\n问题。\n\n", "")), valid_report(2021)
    )
    assert [(f.rule, f.severity, f.expected) for f in findings] == [("T1", "error", "五、存在的主要问题及改进情况")]
    _, findings = check_text(tmp_path / "absent.md", valid_report(2021))
    assert sorted(f.expected for f in findings if f.rule == "T1") == [
        "一、总体情况",
        "五、存在的主要问题及改进情况",
        "六、其他需要报告的事项",
    ]


def test_an_unknown_placeholder_is_an_error(tmp_path):
    _, findings = check_text(
        write(tmp_path, FULL.replace("applications.new.total", "applications.nwe.total")), valid_report(2021)
    )
    assert [(f.rule, f.actual) for f in findings] == [("T1", "{{applications.nwe.total}}")]
    assert "report.md 一、总体情况" in findings[0].message


def test_d6_a_quoted_number_that_is_no_table_figure(tmp_path):
    report = valid_report(2021)
    figures = {str(v) for m in report.values.values() for v in m.ravel()}
    absent = next(n for n in range(900, 2000) if str(n) not in figures)
    _, findings = check_text(write(tmp_path, FULL.replace("问题。", f"全年受理咨询{absent}件，发布信息35篇。")), report)
    (d6,) = findings
    assert (d6.rule, d6.actual) == ("D6", str(absent)) and f"“全年受理咨询{absent}件，" in d6.message


def test_w5_w6_in_the_2021_edition_only(tmp_path):
    long_text = FULL.replace("新收申请", "很" * 1200).replace("未收取信息处理费。", "无。")
    _, findings = check_text(write(tmp_path, long_text), valid_report(2021))
    assert sorted(f.rule for f in findings) == ["W5", "W6"]
    _, findings = check_text(write(tmp_path, long_text), valid_report(2020))
    assert findings == []


def test_w7_section_five_the_same_as_last_year(tmp_path):
    last, _ = check_text(write(tmp_path, FULL), valid_report(2020))
    _, findings = check_text(write(tmp_path, FULL), valid_report(2021), previous=last)
    assert [(f.rule, f.severity) for f in findings] == [("W7", "warning")] and "2020 年度" in findings[0].message
    _, findings = check_text(write(tmp_path, FULL.replace("问题。", "新的问题。")), valid_report(2021), previous=last)
    assert findings == []


def test_the_release_lists_every_units_report_and_holds_the_bureaus(releases, on_demand):
    with open(releases[2020] / "data" / "reports.csv", encoding="utf-8") as handle:
        rows = {r["unit_id"]: r for r in csv.DictReader(handle)}
    assert sorted(rows) == ["exit_entry", "household", "public_order", "traffic", "yuanjiang-psb-example"]
    assert rows["traffic"]["title"] == "交通警察大队2020年政府信息公开工作年度报告"
    assert rows["traffic"]["text"] == "report/traffic.md" and rows["household"]["text"] == ""
    # The bureau's report is in the release; a department's is made on demand from its tables and text.
    bureau = rows.pop("yuanjiang-psb-example")
    assert (bureau["html"], bureau["docx"]) == (
        "report/yuanjiang-psb-example.html",
        "report/yuanjiang-psb-example.docx",
    )
    assert all(r["html"] == r["docx"] == "" for r in rows.values())
    assert sorted(p.name for p in (releases[2020] / "report").iterdir()) == [
        "traffic.md",
        "yuanjiang-psb-example.docx",
        "yuanjiang-psb-example.html",
        "yuanjiang-psb-example.md",
    ]
    assert sorted(p.name for p in on_demand.iterdir()) == sorted(
        f"{u}.{x}" for u in [*rows, "yuanjiang-psb-example"] for x in ("html", "docx")
    )


# -- HTML in a browser ------------------------------------------------------------------------------
SPANS = "els => els.map(e => [e.textContent.trim(), e.rowSpan, e.colSpan])"


def table_cells(page, table: str) -> tuple[list, dict]:
    labels = page.eval_on_selector_all(f"table[data-table={table}] th", SPANS)
    values = dict(
        page.eval_on_selector_all(
            f"table[data-table={table}] td", "els => els.map(e => [e.dataset.cell, e.textContent])"
        )
    )
    return labels, values


def test_reference_report_in_the_browser_carries_the_published_figures(browser, on_demand, tmp_path):  # noqa: F811 - the fixture
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    page.goto((on_demand / "traffic.html").as_uri())  # made from the release by `nianbao report`
    assert page.text_content("h1") == "交通警察大队2020年政府信息公开工作年度报告"
    assert page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)") == [
        "一、总体情况",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
        "五、存在的主要问题及改进情况",
        "六、其他需要报告的事项",
    ]
    assert "发布信息214篇" in page.text_content("body")  # the brigade's own text
    labels, values = table_cells(page, "proactive_disclosure")
    assert [values[f"licensing.{c}"] for c in ("previous_items", "change", "decisions")] == ["25", "0", "25"]
    assert [values[f"penalties.{c}"] for c in ("previous_items", "change", "decisions")] == ["121", "0", "121"]
    assert [values[f"enforcement.{c}"] for c in ("previous_items", "change", "decisions")] == ["31", "0", "31"]
    assert (values["procurement.projects"], values["procurement.amount"]) == ("12", "4920735")
    assert len(values) == 22 and ["第二十条第（九）项", 1, 4] in labels
    labels, values = table_cells(page, "applications")
    assert len(values) == 161 and set(values.values()) == {"0"}
    assert ["申请人情况", 1, 7] in labels and ["法人或其他组织", 1, 5] in labels
    assert ["自然人", 2, 1] in labels and ["总计", 2, 1] in labels
    assert (
        ["三、本年度办理结果", 20, 1] in labels
        and ["（三）不予公开", 8, 1] in labels
        and ["（四）无法提供", 3, 1] in labels
    )
    assert any("本列数据的勾稽关系为" in text for text, _, _ in labels)
    labels, values = table_cells(page, "review_litigation")
    assert len(values) == 15 and ["行政复议", 1, 5] in labels and ["行政诉讼", 1, 10] in labels
    assert ["未经复议直接起诉", 1, 5] in labels and ["复议后起诉", 1, 5] in labels
    page.screenshot(path=str(tmp_path / "traffic-2020.png"), full_page=True)


def test_2021_edition_layout_in_the_browser(browser, releases):  # noqa: F811 - the fixture imported above
    page = browser.new_page(viewport={"width": 390, "height": 800})  # a phone
    page.goto((releases[2021] / "report" / "yuanjiang-psb-example.html").as_uri())
    labels, values = table_cells(page, "applications")
    assert len(values) == 175 and ["三、本年度办理结果", 22, 1] in labels and ["（六）其他处理", 3, 1] in labels
    labels, values = table_cells(page, "proactive_disclosure")
    assert len(values) == 10 and "行政规范性文件" in [text for text, _, _ in labels]
    # The page itself does not scroll sideways on a phone; wide tables scroll in their own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert "本年度未收取信息处理费" in page.text_content("#section-六 + p")


# -- Word -------------------------------------------------------------------------------------------
def spans_of(table) -> list[tuple[str, int, bool]]:
    """(text, gridSpan, starts a vertical merge) of each distinct cell of a python-docx table."""
    seen, out = set(), []  # the elements themselves: ids of lxml proxies are reused once freed
    for row in table.rows:
        for cell in row.cells:
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            tc_pr = cell._tc.tcPr
            span = tc_pr.find(qn("w:gridSpan")) if tc_pr is not None else None
            vmerge = tc_pr.find(qn("w:vMerge")) if tc_pr is not None else None
            out.append(
                (
                    cell.text,
                    int(span.get(qn("w:val"))) if span is not None else 1,
                    vmerge is not None and vmerge.get(qn("w:val")) == "restart",
                )
            )
    return out


def test_docx_has_the_same_tables_figures_and_merges(on_demand):
    document = Document(str(on_demand / "traffic.docx"))
    assert document.paragraphs[0].text == "交通警察大队2020年政府信息公开工作年度报告"
    proactive, applications, review = document.tables
    cells = spans_of(proactive)
    assert ("政府集中采购", 1, False) in cells and ("4920735", 2, False) in cells
    cells = spans_of(applications)
    assert ("申请人情况", 7, False) in cells and ("法人或其他组织", 5, False) in cells
    assert ("三、本年度办理结果", 1, True) in cells and ("（三）不予公开", 1, True) in cells
    assert sum(1 for text, _, _ in cells if text == "0") == 161
    cells = spans_of(review)
    assert ("行政复议", 5, False) in cells and ("行政诉讼", 10, False) in cells
    texts = [p.text for p in document.paragraphs]
    assert "一、总体情况" in texts and "六、其他需要报告的事项" in texts and "无其他需要报告的事项" in texts


def test_docx_bytes_do_not_depend_on_when_they_are_made():
    from datetime import datetime

    report = valid_report(2021)
    assert render_docx(report, "部门", None, datetime(2022, 1, 1)) == render_docx(
        report, "部门", None, datetime(2022, 1, 1)
    )


def test_docx_carries_text_with_markup_characters_and_the_figures_of_each_report():
    import io
    from datetime import datetime

    from flows.format.text import ReportText

    report = valid_report(2021)
    text = ReportText(report.unit, Path("x.md"), {"一": "第一段 <甲> & “乙”\x07\n\n第二段", "六": "无"})
    document = Document(io.BytesIO(render_docx(report, "A&B 部门", text, datetime(2022, 1, 1))))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "A&B 部门2021年政府信息公开工作年度报告" == document.core_properties.title
    start = texts.index("一、总体情况")
    assert texts[start + 1 : start + 4] == ["第一段 <甲> & “乙”", "第二段", "二、主动公开政府信息情况"]
    assert texts[texts.index("六、其他需要报告的事项") + 1] == "无"
    assert texts[-2:] == ["A&B 部门", "2022年1月1日"]  # the closing agency and date
    report.values["proactive_disclosure"][0, 0] = 4321
    document = Document(io.BytesIO(render_docx(report, "部门", None, datetime(2022, 1, 1))))
    assert "4321" in {cell.text for row in document.tables[0].rows for cell in row.cells}


def test_markdown_renders_in_the_html_report(browser):  # noqa: F811 - the fixture imported above
    """report.md is Markdown: bold, lists, links and tables render, a paragraph wrapped over two lines
    stays one (with no space between Chinese lines), raw HTML shows as typed, a placeholder inside
    bold or a list is filled."""
    from flows.documents.annual_report import render_html
    from flows.format.text import ReportText

    report = valid_report(2021)
    markdown = (
        "全年新收申请**{{applications.new.total}}件**，\n均按时答复。\n\n"
        "- 完善制度{{applications.new.total}}项\n- 见[门户网站](https://www.example.gov.cn/)\n\n"
        "| 渠道 | 条数 |\n|---|---|\n| 微信 | 214 |\n\n<script>alert(1)</script><b>原样</b>"
    )
    filled, findings = check_text_of(markdown, report)
    assert findings == []
    page = browser.new_page()
    page.set_content(render_html(report, "部门", ReportText(report.unit, Path("report.md"), filled)))
    new = str(report.values["applications"][0, 6])
    section = "#section-一 ~ "
    assert page.text_content(f"{section}p") == f"全年新收申请{new}件，均按时答复。"
    assert page.text_content(f"{section}p strong") == f"{new}件"
    assert page.eval_on_selector_all(f"{section}ul li", "els => els.map(e => e.textContent)") == [
        f"完善制度{new}项",
        "见门户网站",
    ]
    assert page.get_attribute(f"{section}ul a", "href") == "https://www.example.gov.cn/"
    assert page.eval_on_selector_all(f"{section}table td", "els => els.map(e => e.textContent)")[:2] == ["微信", "214"]
    assert page.locator("script, b").count() == 0 and "<script>alert(1)</script><b>原样</b>" in page.text_content(
        "body"
    )


def check_text_of(markdown: str, report) -> tuple[dict[str, str], list]:
    """Section 一 as report.md holds it, placeholders filled as check_text fills them."""
    from flows.checks.text import fill

    text, findings = fill(markdown, report, Path("report.md"), "一")
    return {"一": text, "五": "问题。", "六": "无。"}, findings
