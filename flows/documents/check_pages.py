"""Check reports for people: per department an HTML page (its three tables as submitted, the cells
with findings highlighted, expected against actual, what to do) and a JSON document; for the
bureau an index page of every department's status. Standalone files, everything escaped."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import cache
from html import escape
from pathlib import Path

from flows.checks.accepted import Accepted
from flows.checks.check import Checked
from flows.documents.template import grid_rows
from flows.format.edition import edition_named
from flows.format.report import Finding, Report, typed_text

SEVERITY = {"error": "错误", "warning": "警告"}
STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.5em;color:#222;max-width:80em}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0} th,td{border:1px solid #999;padding:.25em .45em;font-size:.9em}
th{background:#f0f0f0;font-weight:normal} td.value{text-align:right;min-width:3em}
td.error{background:#f8c8c8;outline:2px solid #c00} td.warning{background:#fff0b3}
.status-error{color:#b00;font-weight:bold} .status-ok{color:#070;font-weight:bold}
.findings td{vertical-align:top} .wrap{overflow-x:auto}
@media print{body{margin:0} .wrap{overflow:visible}}
"""


def status_of(checked: Checked) -> str:
    if checked.unreadable:
        return "无法读取"
    return "有错误" if checked.errors else "通过"


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _table_html(report: Report, table: str, findings: list[Finding], numbers: dict[int, int]) -> str:
    """The table in the template's layout, each value cell showing what was typed."""
    layout, provenance = report.edition.tables[table], report.provenance.get(table)
    by_cell = defaultdict(list)
    for f in findings:
        if f.table == table and f.column:
            by_cell[(f.row or layout.rows[0].code, f.column)].append(f)
    html = []
    for pieces in _table_pieces(report.edition.code, table):
        cells = []
        for piece in pieces:
            if piece.__class__ is str:
                cells.append(piece)
                continue
            extent, row_code, col_code, i = piece
            text = escape(typed_text(provenance.raws[i])) if provenance and provenance.sheets[i] is not None else ""
            attrs = f' data-row="{row_code}" data-column="{col_code}"'
            found = by_cell.get((row_code, col_code))
            if not found:  # most cells
                cells.append(f'<td class="value"{extent}{attrs}>{text}</td>')
                continue
            css = "value error" if any(f.is_error for f in found) else "value warning"
            marks = "".join(f'<sup><a href="#f{numbers[id(f)]}">{numbers[id(f)]}</a></sup>' for f in found)
            tip = escape(" ".join(f.message for f in found), quote=True)
            cells.append(f'<td class="{css}"{extent}{attrs} title="{tip}">{text}{marks}</td>')
        html.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<h2>{escape(layout.heading)}</h2>\n<div class="wrap"><table data-table="{table}">\n'
        + "\n".join(html)
        + "\n</table></div>"
    )


@cache
def _table_pieces(code: str, table: str) -> tuple[tuple, ...]:
    """The table's rows, made once per edition: each label cell's HTML, and for each value cell its
    extent (rowspan, colspan), row and column codes, and number among the layout's cells."""
    layout, rows = edition_named(code).tables[table], []
    for spans in grid_rows(code, table):
        pieces: list[str | tuple[str, str, str, int]] = []
        for span in spans:
            if span.kind == "label":
                pieces.append(f"<th{span.html_extent}>{escape(span.text)}</th>")
            else:
                row_code, col_code = span.codes
                i = layout.cell_index[(layout.row_index[row_code], layout.column_index[col_code])]
                pieces.append((span.html_extent, row_code, col_code, i))
        rows.append(tuple(pieces))
    return tuple(rows)


def _accepted_note(accepted: Accepted | None) -> str:
    """What the message cell adds for an accepted finding: that it is, and why (for a bureau error
    carried up from its departments, which entries of exceptions.yaml it is the sum of)."""
    if accepted is None:
        return ""
    why = f"{escape(accepted.reason)}（{escape(accepted.accepted_by)}，{escape(accepted.date)}）"
    return f'<br><span class="accepted">已接受：{why}</span>'


def _findings_html(
    findings: list[Finding], numbers: dict[int, int], accepted: dict[Finding, Accepted] | None = None
) -> str:
    if not findings:
        return "<p>没有发现问题。</p>"
    accepted = accepted or {}
    rows = "".join(
        f'<tr id="f{numbers[id(f)]}" class="{f.severity}{" accepted" if f in accepted else ""}">'
        f"<td>{numbers[id(f)]}</td><td>{SEVERITY[f.severity]}{'（已接受）' if f in accepted else ''}</td>"
        f"<td>{escape(f.rule)}</td><td>{escape(f'{f.sheet}!{f.cell}' if f.cell else '')}</td>"
        f"<td>{escape(f.expected or '')}</td><td>{escape(f.actual or '')}</td>"
        f"<td>{escape(f.message)}{_accepted_note(accepted.get(f))}</td></tr>"
        for f in findings
    )
    return (
        '<table class="findings"><tr><th>#</th><th>严重程度</th><th>规则</th><th>单元格</th><th>应为</th>'
        f"<th>实填</th><th>说明与修改方法</th></tr>{rows}</table>"
    )


def department_page(checked: Checked, name: str, year: int, accepted: dict[Finding, Accepted] | None = None) -> str:
    findings = sorted(checked.findings, key=lambda f: not f.is_error)
    numbers = {id(f): i for i, f in enumerate(findings, start=1)}
    status = status_of(checked)
    css = "status-ok" if status == "通过" else "status-error"
    title = f"{name}（{checked.unit}）{year} 年度报表检查结果"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p>结论：<span class="{css}" id="status">{status}</span>，错误 {checked.errors} 个，警告 {checked.warnings} 个。'
        f"文件：{escape(checked.path.name)}"
        + (
            f"（{escape(checked.report.edition.code)} 版格式，SHA-256 {escape(checked.report.sha256 or '')}）"
            if checked.report
            else ""
        )
        + "</p>",
        "<p>红色单元格为错误（须修改后重新报送），黄色为警告（请核对）；鼠标悬停可看说明，上标数字对应下方清单。</p>",
    ]
    if checked.report is not None:
        body += [_table_html(checked.report, t, findings, numbers) for t in checked.report.edition.tables]
    body += ["<h2>检查发现</h2>", _findings_html(findings, numbers, accepted)]
    return _page(title, "\n".join(body))


def department_json(checked: Checked, name: str) -> dict:
    return {
        "unit": checked.unit,
        "name": name,
        "file": checked.path.name,
        "sha256": checked.report.sha256 if checked.report else None,
        "edition": checked.report.edition.code if checked.report else None,
        "status": status_of(checked),
        "findings": [f.as_dict() | {"file": Path(f.file).name if f.file else None} for f in checked.findings],
    }


def safe_name(unit: str) -> str:
    """A file name for a unit id that cannot leave its folder or hide."""
    return re.sub(r"[^0-9A-Za-z_.-]", "_", unit).lstrip(".") or "_"


def index_page(outcome) -> str:
    names = {d.id: d.name for d in outcome.bureau.departments}
    verdict = (
        f"已发布：版本 {outcome.publication.version}"
        if outcome.publication
        else f"未发布：有 {len(outcome.errors)} 个错误"
    )
    rows = []
    for c in sorted(outcome.checked, key=lambda c: c.unit):
        status = status_of(c)
        css = "status-ok" if status == "通过" else "status-error"
        rows.append(
            f'<tr data-unit="{escape(c.unit)}"><td>{escape(names.get(c.unit, c.unit))}</td><td>{escape(c.unit)}</td>'
            f'<td class="{css}">{status}</td><td>{c.errors}</td><td>{c.warnings}</td>'
            f'<td><a href="{safe_name(c.unit)}.html">检查报告</a></td></tr>'
        )
    checked_units = {c.unit for c in outcome.checked}
    others = [f for f in outcome.findings if f.unit not in checked_units]
    numbers = {id(f): i for i, f in enumerate(others, start=1)}
    title = f"{outcome.bureau.name} {outcome.year} 年度报表检查汇总"
    body = (
        f'<h1>{escape(title)}</h1><p id="verdict">{escape(verdict)}</p>'
        "<table><tr><th>部门</th><th>代码</th><th>状态</th><th>错误</th><th>警告</th><th></th></tr>"
        + "".join(rows)
        + "</table><h2>本机关及报送情况的检查发现</h2>"
        + _findings_html(others, numbers, {a.finding: a for a in outcome.accepted})
    )
    return _page(title, body)


def write_department(
    folder: Path, checked: Checked, name: str, year: int, accepted: dict[Finding, Accepted] | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(checked.unit)
    (folder / f"{stem}.json").write_text(
        json.dumps(department_json(checked, name), ensure_ascii=False, indent=1), "utf-8"
    )
    path = folder / f"{stem}.html"
    path.write_text(department_page(checked, name, year, accepted), "utf-8")
    return path


def _write_department_job(job: tuple) -> None:
    write_department(*job)


def start_department_pages(outcome, folder: Path, map=map):
    """Every department's check report, written into `folder` by `map`: a process pool's map starts
    them all at once (while the flow publishes), the built-in one as they are waited for. Iterate
    the result to wait."""
    names = {d.id: d.name for d in outcome.bureau.departments}
    accepted: defaultdict[str, dict[Finding, Accepted]] = defaultdict(dict)
    for a in outcome.accepted:  # each department's only: what its job sends to the worker
        accepted[a.finding.unit][a.finding] = a
    jobs = [(folder, c, names.get(c.unit, c.unit), outcome.year, accepted.get(c.unit, {})) for c in outcome.checked]
    return map(_write_department_job, jobs)


def write_check_pages(outcome, folder: Path, map=map, started=None) -> Path:
    """Every department's check report (`started` already, or now by `map`) and the bureau's index
    into `folder`; the index's path."""
    for _ in started if started is not None else start_department_pages(outcome, folder, map):
        pass
    index = folder / "index.html"
    folder.mkdir(parents=True, exist_ok=True)  # when no department submitted, none made it
    index.write_text(index_page(outcome), "utf-8")
    return index
