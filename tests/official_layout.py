"""Workbooks as departments really make them: the official Word table pasted into Excel.

All three tables stacked on one sheet under their section headings (or one sheet each), merged
cells, header labels broken by line breaks or spaces, half-width punctuation, blank rows between
blocks, and cells holding whatever was typed ("不变", blanks, "4,920,735元").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import xlsxwriter

from flows.documents.template import table_grid
from flows.format.edition import Edition

HALF_WIDTH = str.maketrans({"（": "(", "）": ")", "：": ":", "“": '"', "”": '"'})


def broken(label: str) -> str:
    """A label as Word wraps it: "本年新\\n制作数量", "商业 企业"."""
    if len(label) >= 6:
        return label[:3] + "\n" + label[3:]
    if len(label) == 4:
        return label[:2] + " " + label[2:]
    return label


def write_official_layout(
    path: Path,
    edition: Edition,
    cells: dict[tuple[str, str, str], object],
    *,
    stacked: bool = True,
    break_labels: bool = True,
    half_width: bool = False,
    blank_rows: bool = True,
    preface: tuple[str, ...] = ("一、总体情况", "（正文略）"),
    retext: Callable[[int, str], str] = lambda i, text: text,
) -> Path:
    """Write `cells` ((table, row, column) → what the clerk typed; missing = blank) in Word's layout.

    `retext(i, text)`: what is written for the i-th text of the tables (headings and labels, in
    writing order), before it is broken over lines: a clerk's typo.
    """
    book = xlsxwriter.Workbook(str(path))
    texts = iter(range(1 << 30))
    book.set_properties({"created": datetime(2021, 1, 6)})  # the same bytes on every build
    sheet, r = None, 0
    for code, table in edition.tables.items():
        if sheet is None or not stacked:
            sheet, r = book.add_worksheet("Sheet1" if stacked else f"表{table.heading[0]}"), 0
            for line in preface if code == "proactive_disclosure" else ():
                sheet.write(r, 0, line)
                r += 1
        sheet.write(r, 0, retext(next(texts), table.heading))
        r += 1
        grid = table_grid(table)
        last_caption_row, offset = None, 0
        for span in grid:
            if blank_rows and span.kind == "label" and span.text.startswith("第二十条") and span.r0 != last_caption_row:
                offset += span.r0 > 0  # a blank row before every caption but the first
                last_caption_row = span.r0
            r0, r1 = r + span.r0 + offset, r + span.r1 + offset
            if span.kind == "value":
                value = cells.get((code, *span.cell), "")
            else:
                value = retext(next(texts), span.text) if span.text else ""
                if (break_labels and r0 != r1) or (break_labels and span.c0 > 0):
                    value = broken(value)
                if half_width:
                    value = value.translate(HALF_WIDTH)
            if (r0, span.c0) == (r1, span.c1):
                sheet.write(r0, span.c0, value)
            else:
                sheet.merge_range(r0, span.c0, r1, span.c1, value)
        r += max(s.r1 for s in grid) + offset + 2
    book.close()
    return Path(path)
