"""Check reports for people: per department an HTML page (its three tables as submitted, the cells
with findings highlighted, expected against actual, what to do) and a JSON document; for the
bureau an index page of every department's status. Standalone files from the Jinja2 templates
check_*.html.j2 (templates/), everything escaped."""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

from markupsafe import Markup

from flows.checks.accepted import Accepted
from flows.checks.check import Checked
from flows.documents.pages import Cell, drawn, table_cells, template
from flows.format.edition import edition_named
from flows.format.report import Finding, Report, typed_text


def status_of(checked: Checked) -> str:
    if checked.unreadable:
        return "无法读取"
    return "有错误" if checked.errors else "通过"


@cache
def _value_cells(code: str, table: str) -> dict[int, Cell]:
    return {cell.number: cell for row in table_cells(code, table) for cell in row if cell.label is None}


@cache
def _plain_cells(code: str, table: str) -> dict[int, tuple[str, str]]:
    """Each value cell with no finding, drawn once per edition: its markup before and after the text
    (plain strings: a page adds the escaped text between them)."""
    value_cell = template("check_table.html.j2").module.value_cell  # type: ignore[attr-defined]
    halves = {i: str(value_cell(cell, Markup("\x00"))).split("\x00") for i, cell in _value_cells(code, table).items()}
    return {i: (before, after) for i, (before, after) in halves.items()}


@cache
def _drawn_table(code: str, table: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The table drawn once per edition (templates/check_table.html.j2): its literal text, and
    between each two the number of the value cell that stands there."""
    heading = edition_named(code).tables[table].heading
    pieces = drawn("check_table.html.j2", heading=heading, table=table, rows=table_cells(code, table))
    return pieces[0::2], tuple(map(int, pieces[1::2]))


def _table_html(report: Report, table: str, findings: list[Finding], numbers: dict[int, int]) -> Markup:
    """The table in the template's layout, each value cell showing what was typed, the cells with
    findings marked. A page has a few hundred cells, ten thousand pages a run: the cells without
    findings, most of them, are put between their drawn halves as plain text."""
    layout, provenance, code = report.edition.tables[table], report.provenance.get(table), report.edition.code
    by_cell = defaultdict(list)
    for f in findings:
        if f.table == table and f.column:
            by_cell[(f.row or layout.rows[0].code, f.column)].append(f)
    cells, plain = _value_cells(code, table), _plain_cells(code, table)
    value_cell = template("check_table.html.j2").module.value_cell  # type: ignore[attr-defined]
    literals, slots = _drawn_table(code, table)
    raws, read = (provenance.raws.tolist(), provenance.sheets.tolist()) if provenance else ([], [])
    out = [literals[0]]
    for i, literal in zip(slots, literals[1:], strict=True):
        text = typed_text(raws[i]) if read and read[i] is not None else ""
        found = by_cell.get((cells[i].row, cells[i].column)) if by_cell else None
        if found:
            out.append(value_cell(cells[i], text, found, [numbers[id(f)] for f in found]))
        else:
            before, after = plain[i]
            out += (before, text if text.isdigit() else html.escape(text), after)
        out.append(literal)
    return Markup("".join(out))


def tables_html(report: Report, findings: list[Finding]) -> list[Markup]:
    """The report's tables with the cells of `findings` marked, numbered as the findings table
    numbers them (in the order given, from 1)."""
    numbers = {id(f): i for i, f in enumerate(findings, start=1)}
    return [_table_html(report, t, findings, numbers) for t in report.edition.tables]


def department_page(checked: Checked, name: str, year: int, accepted: dict[Finding, Accepted] | None = None) -> str:
    findings = sorted(checked.findings, key=lambda f: not f.is_error)
    report = checked.report
    return template("check_department.html.j2").render(
        title=f"{name}（{checked.unit}）{year} 年度报表检查结果",
        checked=checked,
        status=status_of(checked),
        report=report,
        tables=tables_html(report, findings) if report else [],
        findings=findings,
        accepted=accepted or {},
    )


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
    departments = [
        (c, names.get(c.unit, c.unit), status_of(c), f"{safe_name(c.unit)}.html")
        for c in sorted(outcome.checked, key=lambda c: c.unit)
    ]
    checked_units = {c.unit for c in outcome.checked}
    return template("check_index.html.j2").render(
        title=f"{outcome.bureau.name} {outcome.year} 年度报表检查汇总",
        verdict=verdict,
        departments=departments,
        findings=[f for f in outcome.findings if f.unit not in checked_units],
        accepted={a.finding: a for a in outcome.accepted},
    )


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
