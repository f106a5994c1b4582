"""Render real reports' transcribed figures as their publishers' tools would: a web page as Word's
"save as web page" writes its tables (rowspan/colspan, MsoNormal paragraphs in cells), a .docx with
real Word tables (merged cells as gridSpan/vMerge, via python-docx), and a PDF with a text layer
whose tables run over pages with the header row repeated (fpdf2, Noto Sans CJK).

No original Word or PDF file could be fetched (no internet on the machine that built the corpus):
these forms carry the figures and the text of tests/data/published/index.yaml's real reports, not
their publishers' files. `python -m tests.make_published_forms` rewrites tests/data/published/forms/.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import yaml

from flows.format.edition import TableLayout, edition_named

HERE = Path(__file__).resolve().parent / "data" / "published"
FORMS = HERE / "forms"
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SC = 2  # Noto Sans CJK's simplified Chinese face in the collection


def reports() -> list[dict]:
    return [r for r in yaml.safe_load((HERE / "index.yaml").read_text("utf-8"))["reports"] if r.get("tables")]


def figure(value) -> str:
    if value is None:
        return ""
    return format(value, "g") if isinstance(value, float) else str(value)


def cells_of(report: dict, table: TableLayout) -> dict[tuple[str, str], str]:
    """(row, column) → the published figure; cells the corpus does not list are left blank."""
    printed = report["tables"].get(table.code) or {}
    given = {"cases": printed} if table.code == "review_litigation" else printed
    return {(row, col): figure(v) for row, cols in given.items() for col, v in cols.items()}


# -- a table as rows of (text, rowspan, colspan), in the official layout ----------------------


def table_rows(table: TableLayout, values: dict[tuple[str, str], str]) -> list[list[tuple[str, int, int]]]:
    if table.code == "proactive_disclosure":
        return _proactive(table, values)
    if table.code == "applications":
        return _applications(table, values)
    return _review(table, values)


def _proactive(table, values):
    width = max(len(b.columns) for b in table.blocks) + 1
    rows = []
    for block in table.blocks:
        rows.append([(block.caption, 1, width)])
        header = [(table.row_header, 1, 1)]
        labels = [table.columns[table.column_index[c]].label for c in block.columns]
        spans = _spread(len(labels), width - 1)
        header += [(label, 1, span) for label, span in zip(labels, spans, strict=True)]
        rows.append(header)
        for code in block.rows:
            row = [(table.rows[table.row_index[code]].label, 1, 1)]
            row += [(values.get((code, c), ""), 1, span) for c, span in zip(block.columns, spans, strict=True)]
            rows.append(row)
    return rows


def _spread(n: int, width: int) -> list[int]:
    """n cells over `width` columns, as Word widens the last cell of a shorter block."""
    return [1] * (n - 1) + [width - n + 1]


def _applications(table, values):
    columns = [c.code for c in table.columns]
    rows = [
        [(table.note, 3, 3), ("申请人情况", 1, 7)],
        [("自然人", 2, 1), ("法人或其他组织", 1, 5), ("总计", 2, 1)],
        [(c.label, 1, 1) for c in table.columns[1:6]],
    ]
    groups_done: set[str] = set()
    for i, row in enumerate(table.rows):
        line = []
        depth = len(row.groups)
        if depth == 0:
            line.append((row.label, 1, 3))
        else:
            top = row.groups[0]
            if top not in groups_done:
                groups_done.add(top)
                line.append((top, sum(r.groups[:1] == (top,) for r in table.rows), 1))
            if depth == 1:
                line.append((row.label, 1, 2))
            else:
                sub = row.groups[1]
                if sub not in groups_done:
                    groups_done.add(sub)
                    line.append((sub, sum(r.groups[1:2] == (sub,) for r in table.rows), 1))
                line.append((row.label, 1, 1))
        line += [(values.get((row.code, c), ""), 1, 1) for c in columns]
        rows.append(line)
        del i
    return rows


def _review(table, values):
    leaves = [c.label for c in table.columns]
    return [
        [("行政复议", 1, 5), ("行政诉讼", 1, 10)],
        [*[(label, 2, 1) for label in leaves[:5]], ("未经复议直接起诉", 1, 5), ("复议后起诉", 1, 5)],
        [(label, 1, 1) for label in leaves[5:]],
        [(values.get(("cases", c.code), ""), 1, 1) for c in table.columns],
    ]


def paragraphs(report: dict) -> tuple[str, list[str]]:
    """The title and the first section's text as the real report prints them (its stored text)."""
    text = (HERE / report["file"]).read_text("utf-8")
    first = []
    for raw in text.splitlines():
        line = raw.strip()
        if line[:2] in ("二、", "三、", "四、", "五、", "六、"):
            break
        if line and not line.startswith("一、") and "|" not in line:
            first.append(line)
    year = report["year"] or 2021
    title = f"{report['issuer']}{year}年政府信息公开工作年度报告"
    return title, first[-3:] or ["（本节正文见原报告）"]


TAIL = [
    ("五、存在的主要问题及改进情况", "本年度政府信息公开工作仍有不足，将进一步加强。"),
    ("六、其他需要报告的事项", "本年度未收取信息处理费。"),
]


# -- the forms --------------------------------------------------------------------------------


def word_html(report: dict) -> str:
    edition = edition_named(report["edition"])
    title, first = paragraphs(report)
    out = [
        '<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word">',
        '<head><meta http-equiv=Content-Type content="text/html; charset=utf-8"><meta name=Generator content="Microsoft Word 15">',
        f"<title>{html.escape(title)}</title></head><body lang=ZH-CN style='tab-interval:21.0pt'>",
        "<div class=WordSection1>",
        f"<p class=MsoNormal align=center><b><span style='font-size:16.0pt'>{html.escape(title)}</span></b></p>",
        "<p class=MsoNormal><span>一、总体情况</span></p>",
    ]
    out += [f"<p class=MsoNormal><span>{html.escape(p)}</span></p>" for p in first]
    for numeral, code in (("二", "proactive_disclosure"), ("三", "applications"), ("四", "review_litigation")):
        table = edition.tables[code]
        out.append(f"<p class=MsoNormal><b><span>{html.escape(table.heading)}</span></b></p>")
        out.append("<table class=MsoNormalTable border=1 cellspacing=0 cellpadding=0 style='border-collapse:collapse'>")
        for row in table_rows(table, cells_of(report, table)):
            out.append(" <tr style='height:20.0pt'>")
            for text, down, across in row:
                spans = (f" rowspan={down}" if down > 1 else "") + (f" colspan={across}" if across > 1 else "")
                body = html.escape(text or "")
                lines = "".join(
                    f"<p class=MsoNormal align=center><span lang=EN-US>{part}</span></p>" for part in body.split("\n")
                )
                out.append(
                    f"  <td{spans} valign=center style='border:solid windowtext 1.0pt'>{lines or '<p class=MsoNormal>&nbsp;</p>'}</td>"
                )
            out.append(" </tr>")
        out.append("</table>")
        del numeral
    for heading, body in TAIL:
        out += [f"<p class=MsoNormal><b><span>{heading}</span></b></p>", f"<p class=MsoNormal><span>{body}</span></p>"]
    out.append("</div></body></html>")
    return "\n".join(out)


def word_docx(report: dict) -> bytes:
    import docx

    edition = edition_named(report["edition"])
    title, first = paragraphs(report)
    document = docx.Document()
    document.add_paragraph(title)
    document.add_paragraph("一、总体情况")
    for p in first:
        document.add_paragraph(p)
    for code in ("proactive_disclosure", "applications", "review_litigation"):
        table = edition.tables[code]
        document.add_paragraph(table.heading)
        rows = table_rows(table, cells_of(report, table))
        width = sum(across for _, _, across in rows[0]) if code != "proactive_disclosure" else rows[0][0][2]
        grid = document.add_table(rows=len(rows), cols=width)
        grid.style = "Table Grid"
        taken: set[tuple[int, int]] = set()
        for r, row in enumerate(rows):
            c = 0
            for text, down, across in row:
                while (r, c) in taken:
                    c += 1
                cell = grid.cell(r, c)
                if down > 1 or across > 1:
                    cell = cell.merge(grid.cell(r + down - 1, c + across - 1))
                cell.text = text or ""
                taken |= {(r + dr, c + dc) for dr in range(down) for dc in range(across)}
                c += across
    for heading, body in TAIL:
        document.add_paragraph(heading)
        document.add_paragraph(body)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def word_pdf(report: dict) -> bytes:
    """The report as a PDF: text, then each table drawn with its borders; a table that does not fit
    its page goes on over the next with its header rows printed again, as Word prints a table whose
    header rows repeat."""
    from fpdf import FPDF

    edition = edition_named(report["edition"])
    title, first = paragraphs(report)
    pdf = FPDF(format="A4")
    pdf.add_font("noto", fname=str(FONT), collection_font_number=SC)
    pdf.set_font("noto", size=9)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def paragraph(text: str, size: int = 9) -> None:
        pdf.set_font("noto", size=size)
        if pdf.get_y() > pdf.h - 30:
            pdf.add_page()
        pdf.multi_cell(width, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("noto", size=9)

    paragraph(title, 14)
    paragraph("一、总体情况")
    for p in first:
        paragraph(p)
    for code in ("proactive_disclosure", "applications", "review_litigation"):
        table = edition.tables[code]
        paragraph(table.heading)
        rows = table_rows(table, cells_of(report, table))
        header = 3 if code != "proactive_disclosure" else 0
        _pdf_table(pdf, rows, header, width)
    for heading, body in TAIL:
        paragraph(heading)
        paragraph(body)
    return bytes(pdf.output())


def _pdf_table(pdf, rows, header: int, width: float) -> None:
    """Rows of (text, rowspan, colspan) drawn cell by cell; spanned ranges drawn once."""
    columns = max(sum(a for _, _, a in row) for row in rows[:1]) if rows else 1
    if rows and rows[0][0][2] == columns and len(rows[0]) == 1:  # table 二: the widest row sets it
        columns = max(sum(a for _, _, a in row) for row in rows)
    if columns <= 5:  # table 二: a wide label column
        widths = [width * 0.4] + [width * 0.6 / (columns - 1)] * (columns - 1)
    elif columns == 10:  # table 三: three columns of labels, as wide as Word makes them
        widths = [width * 0.08, width * 0.12, width * 0.3] + [width * 0.5 / 7] * 7
    else:
        widths = [width / columns] * columns
    height = 9.0
    layout = _positions(rows)
    r = 0
    while r < len(rows):
        group = _group_end(layout, r)
        if pdf.get_y() + height * (group - r) > pdf.h - 15:
            pdf.add_page()
            if header and r >= header:
                _draw(pdf, layout, 0, header, widths, height, pdf.get_y())
                pdf.set_y(pdf.get_y() + height * header)
        y = pdf.get_y()
        _draw(pdf, layout, r, group, widths, height, y)
        pdf.set_y(y + height * (group - r))
        r = group
    pdf.ln(3)


def _positions(rows):
    """(row, column, text, rowspan, colspan) of every printed cell, spans placed as a grid places them."""
    taken, cells = set(), []
    for r, row in enumerate(rows):
        c = 0
        for text, down, across in row:
            while (r, c) in taken:
                c += 1
            cells.append((r, c, text, down, across))
            taken |= {(r + dr, c + dc) for dr in range(down) for dc in range(across)}
            c += across
    return cells


def _group_end(layout, r: int) -> int:
    """The first row after r that no cell starting at or above r spans into: rows drawn together."""
    end = r + 1
    changed = True
    while changed:
        changed = False
        for row, _, _, down, _ in layout:
            if r <= row < end and row + down > end:
                end, changed = row + down, True
    return end


def _draw(pdf, layout, first: int, end: int, widths, height: float, y: float) -> None:
    for row, c, text, down, across in layout:
        if not first <= row < end:
            continue
        x = pdf.l_margin + sum(widths[:c])
        w, h = sum(widths[c : c + across]), height * down
        pdf.rect(x, y + height * (row - first), w, h)
        pdf.set_xy(x, y + height * (row - first))
        size = 7 if pdf.get_string_width(text or "") > w * 2 - 2 else 8
        pdf.set_font("noto", size=size)
        pdf.multi_cell(
            w, h if pdf.get_string_width(text or "") <= w - 1 else h / 2, text or "", align="C", max_line_height=4
        )
    pdf.set_font("noto", size=9)


FORMED = ("004", "015", "017", "019", "022", "024", "027", "028", "030", "031", "001", "010", "013", "023")


def main() -> None:
    FORMS.mkdir(exist_ok=True)
    for report in reports():
        stem = Path(report["file"]).stem
        if stem[:3] not in FORMED:
            continue
        (FORMS / f"{stem}.htm").write_text(word_html(report), "utf-8")
        (FORMS / f"{stem}.docx").write_bytes(word_docx(report))
        (FORMS / f"{stem}.pdf").write_bytes(word_pdf(report))
        print(stem)


if __name__ == "__main__":
    main()
