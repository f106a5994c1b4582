"""The fill-in workbook of an edition, drawn from its layout: the template's labels, merged headers,
data validation on every value cell, locked labels, and instructions in Chinese.

`write_workbook` with a Report writes that report's figures into the same layout (examples, tests).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import xlsxwriter

from flows.format.edition import Edition, TableLayout, edition_named
from flows.format.report import Report

SHEET_NAMES = {
    "proactive_disclosure": "二、主动公开",
    "applications": "三、依申请公开",
    "review_litigation": "四、复议诉讼",
}
INFO_SHEET = "填报说明"
INFO_LABELS = {"unit_id": "单位代码", "unit_name": "单位名称", "year": "报告年度", "edition": "格式版本"}


@dataclass(frozen=True)
class Span:
    """A cell of the drawn table, spanning rows r0..r1 and columns c0..c1 (zero-based, inclusive).

    `kind` is "label" for printed text, or "value" with the (row, column) codes of the figure.
    """

    r0: int
    c0: int
    r1: int
    c1: int
    text: str = ""
    kind: str = "label"
    cell: tuple[str, str] | None = None

    @property
    def html_extent(self) -> str:
        """The span as an HTML cell's rowspan and colspan attributes ("" for one cell)."""
        return (f' rowspan="{self.r1 - self.r0 + 1}"' if self.r1 > self.r0 else "") + (
            f' colspan="{self.c1 - self.c0 + 1}"' if self.c1 > self.c0 else ""
        )

    @property
    def codes(self) -> tuple[str, str]:
        """A value span's `cell`: the (row, column) codes of its figure. A label span has none."""
        if self.cell is None:
            raise ValueError(f"the label span {self.text!r} has no figure")
        return self.cell


def _nested_header(labels, depth: int, r0: int, c0: int) -> list[Span]:
    """Header rows for labels with group paths: groups span their members, leaves span down."""
    spans = []
    for level in range(depth):
        c = 0
        while c < len(labels):
            path = (*labels[c].groups, labels[c].label)
            if level >= len(path):
                c += 1
                continue
            end = c
            if level < len(path) - 1:  # a group: span the neighbours that share the path so far
                while (
                    end + 1 < len(labels)
                    and (*labels[end + 1].groups, labels[end + 1].label)[: level + 1] == path[: level + 1]
                ):
                    end += 1
                spans.append(Span(r0 + level, c0 + c, r0 + level, c0 + end, path[level]))
            else:  # the leaf: down to the last header row
                spans.append(Span(r0 + level, c0 + c, r0 + depth - 1, c0 + c, path[level]))
            c = end + 1
    return spans


def table_grid(table: TableLayout, state_measures: bool = False) -> list[Span]:
    """The table as the official template draws it, in cells relative to its top-left corner.

    `state_measures`: amount headers say their measure, which the official template leaves unsaid.
    """
    if table.code == "proactive_disclosure":
        return _blocks_grid(table, state_measures)
    label_cols = 1 + max(len(row.groups) for row in table.rows) if len(table.rows) > 1 else 0
    header_rows = 1 + max(len(col.groups) for col in table.columns)
    spans = []
    if label_cols:
        spans.append(Span(0, 0, header_rows - 1, label_cols - 1, table.note or ""))
    spans += _nested_header(table.columns, header_rows, 0, label_cols)
    if label_cols:
        # Row labels are a nested header turned on its side.
        for s in _nested_header(table.rows, label_cols, 0, 0):
            spans.append(Span(header_rows + s.c0, s.r0, header_rows + s.c1, s.r1, s.text))
    for r, row in enumerate(table.rows):
        for c, col in enumerate(table.columns):
            spans.append(
                Span(
                    header_rows + r, label_cols + c, header_rows + r, label_cols + c, "", "value", (row.code, col.code)
                )
            )
    return spans


def header_label(column) -> str:
    """A column's header as the template prints it: amounts always say their measure."""
    if column.kind == "amount" and column.measure not in column.label:
        return f"{column.label}（{column.measure}）"
    return column.label


def _blocks_grid(table: TableLayout, state_measures: bool) -> list[Span]:
    width = 1 + max(len(b.columns) for b in table.blocks)
    spans, r = [], 0
    for block in table.blocks:
        spans.append(Span(r, 0, r, width - 1, block.caption or ""))
        spans.append(Span(r + 1, 0, r + 1, 0, table.row_header or ""))
        last = len(block.columns)
        for c, code in enumerate(block.columns):
            col = table.columns[table.column_index[code]]
            spans.append(
                Span(
                    r + 1,
                    1 + c,
                    r + 1,
                    width - 1 if c == last - 1 else 1 + c,
                    header_label(col) if state_measures else col.label,
                )
            )
        for code in block.rows:
            r_row = r + 2 + block.rows.index(code)
            spans.append(Span(r_row, 0, r_row, 0, table.rows[table.row_index[code]].label))
            for c, col_code in enumerate(block.columns):
                spans.append(
                    Span(r_row, 1 + c, r_row, width - 1 if c == last - 1 else 1 + c, "", "value", (code, col_code))
                )
        r += 2 + len(block.rows)
    return spans


@cache
def grid_rows(edition_code: str, table: str) -> tuple[tuple[Span, ...], ...]:
    """The drawn table's spans, row by row and left to right (once per edition and table: every
    page of every department draws it)."""
    rows = defaultdict(list)
    for span in table_grid(edition_named(edition_code).tables[table]):
        rows[span.r0].append(span)
    return tuple(tuple(sorted(rows[r], key=lambda s: s.c0)) for r in sorted(rows))


def _validation(column) -> dict:
    if column.kind == "amount":
        return {"validate": "decimal", "criteria": ">=", "value": 0, "error_message": "请填写不小于 0 的金额"}
    if column.kind == "signed":
        return {
            "validate": "integer",
            "criteria": "between",
            "minimum": -(10**9),
            "maximum": 10**9,
            "error_message": "请填写整数，减少填负数",
        }
    return {"validate": "integer", "criteria": ">=", "value": 0, "error_message": "请填写不小于 0 的整数"}


INSTRUCTIONS = [
    "本工作簿用于填报政府信息公开工作年度报告的三张统计表（{edition} 版格式，{issued_by}）。",
    "1. 只在白色单元格内填写数字；标签单元格已锁定，请勿修改表格结构。",
    "2. 件数填写不小于 0 的整数；“本年增/减”减少时填负数；金额按列标题注明的单位填写。",
    "3. 没有发生的事项请填 0，不要留空或填写“无”“不变”等文字。",
    "4. （三）表的勾稽关系：第一项加第二项之和，等于第三项加第四项之和；（七）总计等于各办理结果之和；总计列等于各申请人列之和。",
    "5. （四）表每一类的总计等于结果维持、结果纠正、其他结果、尚未审结之和。",
    "6. 填好后可运行 nianbao check 文件名 --year 年度 自查，按提示的单元格修改。",
]


def write_workbook(
    path: Path,
    edition: Edition,
    year: int,
    report: Report | None = None,
    unit_id: str = "",
    unit_name: str = "",
    created: datetime | None = None,
) -> Path:
    """Write the fill-in workbook of `edition` (with `report`'s figures when given).

    `created` fixes the document's timestamp, so the same input gives the same bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), {"in_memory": True})  # no temporary file per part
    book.set_properties(
        {"title": f"政府信息公开工作年度报告统计表 {year}", "created": created or datetime(year + 1, 1, 1)}
    )
    label = book.add_format(
        {"bold": True, "border": 1, "align": "center", "valign": "vcenter", "text_wrap": True, "bg_color": "#EEEEEE"}
    )
    left = book.add_format({"border": 1, "valign": "vcenter", "text_wrap": True, "bg_color": "#EEEEEE"})
    value = book.add_format({"border": 1, "locked": False, "align": "right"})
    editable = book.add_format({"locked": False, "border": 1})
    heading = book.add_format({"bold": True, "font_size": 13})

    info = book.add_worksheet(INFO_SHEET)
    info.set_column(0, 0, 14)
    info.set_column(1, 1, 90)
    info.write(0, 0, f"政府信息公开工作年度报告统计表（{year} 年度）", heading)
    details = {"unit_id": unit_id, "unit_name": unit_name, "year": year, "edition": edition.code}
    for i, (key, text) in enumerate(INFO_LABELS.items()):
        info.write(2 + i, 0, text, left)
        info.write(2 + i, 1, details[key], editable if key in ("unit_id", "unit_name") else left)
    for i, line in enumerate(INSTRUCTIONS):
        info.write(8 + i, 1, line.format(edition=edition.code, issued_by=edition.issued_by))
    info.protect()

    for code, table in edition.tables.items():
        sheet = book.add_worksheet(SHEET_NAMES[code])
        sheet.write(0, 0, table.heading, heading)
        sheet.set_column(0, 0, 30)
        sheet.set_column(1, 20, 13)
        for span in table_grid(table, state_measures=True):
            r0, r1 = span.r0 + 1, span.r1 + 1
            if span.kind == "value":
                row_code, col_code = span.codes
                column = table.columns[table.column_index[col_code]]
                figure: str | int | float = ""
                if report is not None:
                    scaled = int(report.values[code][table.row_index[row_code], table.column_index[col_code]])
                    figure = float(Decimal(scaled).scaleb(-column.decimals)) if column.decimals else scaled
                if (r0, span.c0) == (r1, span.c1):
                    sheet.write(r0, span.c0, figure, value)
                else:
                    sheet.merge_range(r0, span.c0, r1, span.c1, figure, value)
                sheet.data_validation(r0, span.c0, r1, span.c1, _validation(column))
            elif (r0, span.c0) == (r1, span.c1):
                sheet.write(r0, span.c0, span.text, left if span.c0 == 0 else label)
            else:
                sheet.merge_range(r0, span.c0, r1, span.c1, span.text, label)
        sheet.protect()
    book.close()
    return path
