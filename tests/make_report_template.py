"""Builds flows/documents/templates/annual_report.docx, the Word report's template:
`python -m tests.make_report_template` (then commit the file; tests/test_word_report.py holds it
to what this script makes).

The layout of official documents (GB/T 9704-2012, 党政机关公文格式): A4, margins 37/35/28/26 mm
(top/bottom/left/right), a line every 28.95 pt; title in 2号小标宋, body in 3号仿宋, headings "一、"
in 3号黑体 and "（一）" in 3号楷体, all black; page numbers "— 1 —" in 4号宋体 under the text; the
report closes with the issuing agency and the date, right-aligned. Fonts are named as official
documents name them (方正小标宋简体, 仿宋, 黑体, 楷体, 宋体), with the text's language zh-CN so that
a machine without them substitutes a Simplified Chinese face (see test_word_report.py).

The body is a docxtpl (Jinja2) template: the title, each section's heading and blocks (the
rendered Markdown of report.md), each section's table (included from the edition's layout, drawn in
flows/documents/word_report.py), and the closing block. Its tags stand in paragraphs of their own
({%p %}), so Word shows the template as a readable outline of the report.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

TEMPLATE = Path(__file__).resolve().parent.parent / "flows" / "documents" / "templates" / "annual_report.docx"
TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the file's bytes depend on this script only

# (eastAsia font, Latin font): the names official documents specify.
XIAOBIAOSONG, FANGSONG, HEITI, KAITI, SONGTI = "方正小标宋简体", "仿宋", "黑体", "楷体", "宋体"
LATIN = "Times New Roman"
LINE = Pt(28.95)  # GB/T 9704: 22 lines on a 225 mm high text area


def _run_properties(style, east_asia: str, size: float, bold: bool = False) -> None:
    """The style's run properties, replaced whole: no theme font, no colour but black, zh-CN."""
    rpr = style.element.get_or_add_rPr()
    for child in list(rpr):
        rpr.remove(child)
    fonts = OxmlElement("w:rFonts")
    for attribute in ("ascii", "hAnsi", "cs"):
        fonts.set(qn(f"w:{attribute}"), LATIN)
    fonts.set(qn("w:eastAsia"), east_asia)
    rpr.append(fonts)
    if bold:
        rpr.append(OxmlElement("w:b"))
        rpr.append(OxmlElement("w:bCs"))
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "000000")
    rpr.append(color)
    for tag in ("w:sz", "w:szCs"):
        half_points = OxmlElement(tag)
        half_points.set(qn("w:val"), str(round(size * 2)))
        rpr.append(half_points)
    rpr.append(_language())


def _language():
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "en-US")  # Latin text (figures, URLs) stays English
    lang.set(qn("w:eastAsia"), "zh-CN")
    return lang


def _paragraph_properties(style, *, indent_chars: int = 0, line=LINE, align=WD_ALIGN_PARAGRAPH.JUSTIFY) -> None:
    pf = style.paragraph_format
    pf.alignment = align
    pf.space_before = pf.space_after = Pt(0)
    pf.line_spacing = line
    pf.widow_control = False  # Chinese text has no widows to avoid; it would leave ragged pages
    ppr = style.element.get_or_add_pPr()
    for stale in ppr.findall(qn("w:ind")):
        ppr.remove(stale)
    if indent_chars:
        ind = OxmlElement("w:ind")
        ind.set(qn("w:firstLineChars"), str(indent_chars * 100))
        ppr.append(ind)


def _styles(document) -> None:
    styles = document.styles
    defaults = styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    for stale in defaults.findall(qn("w:rFonts")) + defaults.findall(qn("w:lang")):
        defaults.remove(stale)
    fonts = OxmlElement("w:rFonts")
    for attribute in ("ascii", "hAnsi", "cs"):
        fonts.set(qn(f"w:{attribute}"), LATIN)
    fonts.set(qn("w:eastAsia"), FANGSONG)
    defaults.insert(0, fonts)
    defaults.append(_language())

    _run_properties(styles["Normal"], FANGSONG, 16)
    _paragraph_properties(styles["Normal"], indent_chars=2)
    title = styles["Title"]
    _run_properties(title, XIAOBIAOSONG, 22)
    _paragraph_properties(title, line=Pt(36), align=WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.space_after = LINE
    _border_off(title)
    for name, font, bold in (("Heading 1", HEITI, False), ("Heading 2", KAITI, False), ("Heading 3", FANGSONG, True)):
        _run_properties(styles[name], font, 16, bold)
        _paragraph_properties(styles[name], indent_chars=2)
        styles[name].paragraph_format.keep_with_next = True
    _list_style(styles)
    _table_styles(styles)
    signature = styles.add_style("Signature Block", 1)  # 1: a paragraph style
    signature.base_style = styles["Normal"]
    _paragraph_properties(signature, align=WD_ALIGN_PARAGRAPH.RIGHT)
    signature.paragraph_format.right_indent = Pt(16 * 4)  # GB/T 9704: the date ends four characters in
    _run_properties(styles["Footer"], SONGTI, 14)
    _paragraph_properties(styles["Footer"], line=None, align=WD_ALIGN_PARAGRAPH.CENTER)


def _border_off(style) -> None:
    """python-docx's Title has a blue rule under it: official titles have none."""
    ppr = style.element.get_or_add_pPr()
    for border in ppr.findall(qn("w:pBdr")):
        ppr.remove(border)


def _list_style(styles) -> None:
    """A list item: its marker ("1." or "•") as text, hanging, the text aligned after it."""
    item = styles.add_style("Report List", 1)
    item.base_style = styles["Normal"]
    _paragraph_properties(item)
    item.paragraph_format.left_indent = Pt(16 * 4)
    item.paragraph_format.first_line_indent = Pt(-16 * 2)


def _table_styles(styles) -> None:
    """Table text: 9 pt (小五) 仿宋, single-spaced, centred; the grid is python-docx's Table Grid."""
    cell = styles.add_style("Table Text", 1)
    cell.base_style = styles["Normal"]
    _run_properties(cell, FANGSONG, 9)
    _paragraph_properties(cell, line=1.0, align=WD_ALIGN_PARAGRAPH.CENTER)


def _page(document) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = Mm(15), Mm(23)
    paragraph = section.footer.paragraphs[0]
    paragraph.style = document.styles["Footer"]
    paragraph.add_run("— ")
    _field(paragraph, "PAGE")
    paragraph.add_run(" —")


def _field(paragraph, instruction: str) -> None:
    """A field Word computes when it lays out the page (the page number), showing 1 until then."""
    for kind in ("begin", "instruction", "separate", "result", "end"):
        run = paragraph.add_run("1" if kind == "result" else None)
        if kind == "instruction":
            code = OxmlElement("w:instrText")
            code.set(qn("xml:space"), "preserve")
            code.text = f" {instruction} "
            run._r.append(code)
        elif kind != "result":
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)


def _body(document) -> None:
    add = document.add_paragraph
    add("{{ title }}", "Title")
    add("{%p for section in sections %}")
    add("{{ section.heading }}", "Heading 1")
    add("{%p for block in section.blocks %}")
    add('{%p if block.kind == "heading" %}')
    add("{{r block.runs }}", "Heading 2")
    add('{%p elif block.kind == "subheading" %}')
    add("{{r block.runs }}", "Heading 3")
    add('{%p elif block.kind == "item" %}')
    add("{{r block.runs }}", "Report List")
    add('{%p elif block.kind == "table" %}')
    _markdown_table(document)
    add("{%p else %}")
    add("{{r block.runs }}")
    add("{%p endif %}")
    add("{%p endfor %}")
    add("{%p if section.table %}")
    add("{%p include section.table %}")
    add("{%p endif %}")
    add("{%p endfor %}")
    add("")
    add("{{ agency }}", "Signature Block")
    add("{{ date }}", "Signature Block")


def _markdown_table(document) -> None:
    """A table of report.md: as many rows and columns as it has (docxtpl's {%tr %} and {%tc %})."""
    table = document.add_table(rows=3, cols=3)
    table.style = document.styles["Table Grid"]
    texts = [
        ["{%tr for row in block.rows %}", "", ""],
        ["{%tc for cell in row %}", "{{r cell }}", "{%tc endfor %}"],
        ["{%tr endfor %}", "", ""],
    ]
    for row, row_texts in zip(table.rows, texts, strict=True):
        for cell, text in zip(row.cells, row_texts, strict=True):
            cell.text = text
            cell.paragraphs[0].style = document.styles["Table Text"]


def build() -> bytes:
    document = Document()
    _styles(document)
    _page(document)
    _body(document)
    props = document.core_properties
    props.title, props.author, props.last_modified_by, props.comments = "{{ title }}", "{{ agency }}", "nianbao", ""
    saved = io.BytesIO()
    document.save(saved)
    return _fixed_times(saved.getvalue())


def _fixed_times(docx: bytes) -> bytes:
    """The same script gives the same bytes: every part stamped with one time, core times too."""
    source, out = zipfile.ZipFile(io.BytesIO(docx)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "docProps/core.xml":
                data = _core_times(data)
            target.writestr(zipfile.ZipInfo(name, date_time=TIMESTAMP), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _core_times(xml: bytes) -> bytes:
    return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2000-01-01T00:00:00Z", xml)


def main() -> None:
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE.write_bytes(build())
    print(TEMPLATE)


if __name__ == "__main__":
    main()
