"""The Word report as its readers open it: the template's design declared in the file (A4, the fonts
of official documents, zh-CN, black headings, fitted columns, repeated table headers, page numbers,
the closing agency and date), report.md's Markdown in it, and the file converted to PDF by
LibreOffice (headless), read back with pypdf: A4, no text outside the page, CJK fonts, the figures.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from pypdf import PdfReader, mult

from flows.documents.annual_report import render_docx
from flows.documents.template import table_grid
from flows.documents.word_report import TEMPLATE, TEXT_WIDTH, column_widths
from flows.format.text import ReportText
from flows.format.values import figures
from tests.conftest import valid_report
from tests.make_report_template import build

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
FONTS = Path(__file__).parent / "data" / "official-fonts.conf"
A4 = (595.3, 841.9)  # points
CREATED = datetime(2022, 1, 20)
TEXT = {
    "一": "本局**依法**推进政务公开，\n全年新收申请{n}件。\n\n"
    "## （一）主要工作\n\n1. 完善**制度{n}件**；\n2. 见[门户网站](https://www.example.gov.cn/)。\n\n"
    "- 甲\n- 乙\n\n| 项目 | 数量 |\n|---|---|\n| 发布信息 | 214 |\n\n<b>原样</b>",
    # Enough text before table 三 that it runs onto a second page, where its header must repeat.
    "三": "\n\n".join(["本年度依申请公开工作平稳有序，各部门按时答复，未发生超期答复情形。"] * 9),
    "五": "问题。",
    "六": "本年度未收取信息处理费。",
}


def report_text(report) -> ReportText:
    new = str(report.values["applications"][0, 6])
    return ReportText(report.unit, Path("report.md"), {k: v.replace("{n}", new) for k, v in TEXT.items()})


@pytest.fixture(scope="module")
def report():
    return valid_report(2021, seed=3)


@pytest.fixture(scope="module")
def docx(report) -> bytes:
    return render_docx(report, "示例县公安局", report_text(report), CREATED)


def part(docx: bytes, name: str) -> str:
    return zipfile.ZipFile(io.BytesIO(docx)).read(name).decode("utf-8")


# -- the template ----------------------------------------------------------------------------------
def test_the_template_is_what_its_script_makes():
    """flows/documents/templates/annual_report.docx is made by `python -m tests.make_report_template`."""
    assert TEMPLATE.read_bytes() == build(), "re-make it: python -m tests.make_report_template"


def test_a4_official_fonts_zh_cn_and_black_headings(docx):
    document = Document(io.BytesIO(docx))
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin)] == [37, 35]
    assert [round(m.mm) for m in (section.left_margin, section.right_margin)] == [28, 26]
    fonts = {}
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Table Text", "Footer"):
        rpr = document.styles[name].element.rPr
        fonts[name] = rpr.find(qn("w:rFonts")).get(qn("w:eastAsia"))
        assert rpr.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN", name
        assert rpr.find(qn("w:color")).get(qn("w:val")) == "000000", name
    assert fonts == {
        "Normal": "仿宋",
        "Title": "方正小标宋简体",
        "Heading 1": "黑体",
        "Heading 2": "楷体",
        "Table Text": "仿宋",
        "Footer": "宋体",
    }
    styles = part(docx, "word/styles.xml")
    defaults = re.search(r"<w:rPrDefault>.*?</w:rPrDefault>", styles, re.S).group()
    assert 'w:eastAsia="仿宋"' in defaults and 'w:eastAsia="zh-CN"' in defaults and "Theme" not in defaults


def test_page_numbers_and_the_closing_agency_and_date(docx):
    document = Document(io.BytesIO(docx))
    footer = part(docx, "word/footer1.xml")
    assert "<w:instrText" in footer and " PAGE " in footer and "— " in footer
    closing = document.paragraphs[-2:]
    assert [p.text for p in closing] == ["示例县公安局", "2022年1月20日"]
    assert {p.style.name for p in closing} == {"Signature Block"}


def test_table_columns_fit_their_labels_and_headers_repeat(docx):
    document = Document(io.BytesIO(docx))
    proactive, applications, review = document.tables[1:]  # the first is report.md's own
    grid = [int(c.get(qn("w:w"))) for c in applications._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert sum(grid) <= TEXT_WIDTH and len(set(grid)) > 2  # not every column alike
    assert grid[2] == max(grid)  # the long labels ("1.属于国家秘密") get the widest column
    assert min(grid[3:]) >= 3 * 180  # a column of figures holds at least six digits
    headers = [row._tr.trPr.find(qn("w:tblHeader")) is not None for row in applications.rows]
    assert headers[:3] == [True] * 3 and not any(headers[3:])
    assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for row in applications.rows)
    assert not any(row._tr.trPr.find(qn("w:tblHeader")) is not None for row in proactive.rows)  # a header per block
    assert sum(1 for row in review.rows if row._tr.trPr.find(qn("w:tblHeader")) is not None) == 3


def test_column_widths_share_the_text_width():
    layout = valid_report(2021).edition.tables["review_litigation"]
    widths = column_widths(table_grid(layout))
    assert len(widths) == 15 and abs(sum(widths) - TEXT_WIDTH) < 15


# -- Markdown --------------------------------------------------------------------------------------
def test_markdown_renders_as_runs_lists_links_and_tables(docx, report):
    document = Document(io.BytesIO(docx))
    paragraphs = {p.text: p for p in document.paragraphs}
    new = str(report.values["applications"][0, 6])
    joined = paragraphs[f"本局依法推进政务公开，全年新收申请{new}件。"]  # one paragraph, no space between the lines
    assert [r.text for r in joined.runs if r.bold] == ["依法"]
    assert paragraphs["（一）主要工作"].style.name == "Heading 2"
    item = paragraphs[f"1.\t完善制度{new}件；"]  # a placeholder inside bold inside a list
    assert item.style.name == "Report List" and [r.text for r in item.runs if r.bold] == [f"制度{new}件"]
    assert "2.\t见门户网站（https://www.example.gov.cn/）。" in paragraphs and "•\t甲" in paragraphs
    assert "<b>原样</b>" in paragraphs  # raw HTML is text
    table = document.tables[0]
    assert [[c.text for c in row.cells] for row in table.rows] == [["项目", "数量"], ["发布信息", "214"]]


# -- as LibreOffice prints it ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def pdf(docx, tmp_path_factory) -> PdfReader:
    if not SOFFICE:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is not installed: .ci/run installs libreoffice-writer-nogui")
        pytest.skip("needs LibreOffice (apt-get install libreoffice-writer-nogui fonts-noto-cjk)")
    folder = tmp_path_factory.mktemp("pdf")
    (folder / "report.docx").write_bytes(docx)
    env = os.environ | {"FONTCONFIG_FILE": str(FONTS), "HOME": str(folder)}
    # A profile of its own: another LibreOffice running on the machine does not take the conversion over.
    profile = f"-env:UserInstallation={(folder / 'profile').as_uri()}"
    subprocess.run(
        [SOFFICE, profile, "--headless", "--convert-to", "pdf", "--outdir", str(folder), str(folder / "report.docx")],
        env=env,
        capture_output=True,
        timeout=180,
        check=True,
    )
    return PdfReader(folder / "report.pdf")


def test_every_page_is_a4(pdf):
    assert len(pdf.pages) >= 3
    assert {(round(float(p.mediabox.width), 1), round(float(p.mediabox.height), 1)) for p in pdf.pages} == {A4}


def _extent(text: str, size: float) -> float:
    return size * sum(1 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in text)


def test_no_text_outside_the_page(pdf):
    outside = []
    for number, page in enumerate(pdf.pages, start=1):
        width, height = float(page.mediabox.width), float(page.mediabox.height)

        def visit(text, cm, tm, font, size, number=number, width=width, height=height):
            scale, _, _, _, x, y = mult(tm, cm)
            if text.strip() and not (
                0 <= x <= x + _extent(text.strip(), size * abs(scale)) <= width and 0 <= y <= height
            ):
                outside.append((number, text, round(x), round(y)))

        page.extract_text(visitor_text=visit)
    assert outside == []


def _fonts(page) -> set[str]:
    return {str(f.get_object()["/BaseFont"]) for f in page["/Resources"]["/Font"].values()}


def test_chinese_text_is_set_in_cjk_fonts(pdf):
    """仿宋, 黑体, 楷体 and 小标宋 are Windows' and Founder's fonts, not on a Linux machine: LibreOffice
    substitutes what fontconfig maps them to, here (tests/data/official-fonts.conf) Noto Serif CJK SC
    for 仿宋, 楷体 and 小标宋, Noto Sans CJK SC for 黑体; Times New Roman (figures) becomes its
    metric twin Liberation Serif. The PDF names the Noto faces by their shared CFF table
    ("NotoSerifCJKjp-…") whichever region's face set them: the zh-CN language and the SC faces the
    aliases name are what choose the Simplified Chinese glyphs."""
    fonts = set().union(*(_fonts(p) for p in pdf.pages))
    assert any("NotoSerifCJK" in f for f in fonts) and any("NotoSansCJK" in f for f in fonts), fonts
    assert all("CJK" in f or "Liberation" in f or "DejaVu" in f for f in fonts), fonts


def test_the_tables_figures_and_the_closing_block_are_in_the_pdf(pdf, report):
    numbers = set(re.findall(r"\d+(?:\.\d+)?", "\n".join(p.extract_text() for p in pdf.pages)))
    for code, layout in report.edition.tables.items():
        assert set(figures(report.values[code], layout)) - {""} <= numbers, code
    last = re.sub(r"\s", "", pdf.pages[-1].extract_text())
    assert "示例县公安局" in last and "2022年1月20日" in last
    assert "—1—" in re.sub(r"\s", "", pdf.pages[0].extract_text())  # the page number


def test_table_three_repeats_its_header_on_each_page(pdf):
    """Section 三's text pushes table 三 onto two pages: its header rows ("申请人情况") head both."""
    pages = [re.sub(r"\s", "", p.extract_text()) for p in pdf.pages]
    first = next(i for i, t in enumerate(pages) if "一、本年新收政府信息公开申请数量" in t)
    last = next(i for i, t in enumerate(pages) if "四、结转下年度继续办理" in t)
    assert last > first, "the table fits one page: lengthen section 三's text"
    assert all("申请人情况" in pages[i] for i in range(first, last + 1))
