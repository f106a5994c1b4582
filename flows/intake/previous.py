"""Last year's reports, for the rules across years (C2, D1–D4, E2): from the previous year's
published package (bureau and departments) or from a single workbook."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from flows.format.edition import edition_named
from flows.format.report import Report
from flows.format.values import parse_cell
from flows.intake.workbook import UnreadableWorkbook, read_workbook
from flows.places import latest


class PreviousYearError(Exception):
    """Last year's data cannot be used; the message says why, in Chinese."""


def load_release(path: Path) -> tuple[int, dict[str, Report]]:
    """The year and every unit's Report of a published package (its folder or datapackage.json)."""
    path = Path(path)
    descriptor_path = path / "datapackage.json" if path.is_dir() else path
    try:
        descriptor = json.loads(descriptor_path.read_text("utf-8"))
        meta = descriptor["nianbao"]
        year, edition = int(meta["year"]), edition_named(meta["edition"])
        reports: dict[str, Report] = {}
        for resource in descriptor["resources"]:
            if resource["name"] not in edition.tables:
                continue
            layout = edition.tables[resource["name"]]
            with open(descriptor_path.parent / resource["path"], encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    unit = row["unit_id"]
                    report = reports.setdefault(unit, Report.zeros(unit, year, edition, file=str(descriptor_path)))
                    r = layout.row_index[row["row"]] if "row" in row else 0
                    for c, column in enumerate(layout.columns):
                        if row[column.code]:
                            value = parse_cell(row[column.code], column).value
                            if value is None:
                                raise ValueError(
                                    f"{resource['path']} 中 {unit} 的 {column.code} 为“{row[column.code]}”，不是合法数值"
                                )
                            report.values[layout.code][r, c] = value
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PreviousYearError(f"发布包 {descriptor_path} 无法读取（{type(error).__name__}: {error}）") from None
    return year, reports


def previous_release(outputs: Path, year: int) -> dict[str, Report]:
    """The units' reports of the latest release of `year - 1` in `outputs`, or {} when there is none."""
    path = latest(outputs, year - 1) / "datapackage.json"
    return load_release(path)[1] if path.is_file() else {}


def previous_texts(outputs: Path, year: int) -> dict:
    """The report texts published for `year - 1` (report/<unit>.md of its latest release), by unit."""
    from flows.format.text import ReportText, parse_sections

    folder = latest(outputs, year - 1) / "report"
    return {p.stem: ReportText(p.stem, p, parse_sections(p.read_text("utf-8"))) for p in sorted(folder.glob("*.md"))}


def load_previous(path: Path, year: int, unit: str) -> Report | None:
    """`unit`'s report of `year - 1` from a workbook or a published package; None if it has none."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".json":
        found_year, reports = load_release(path)
        if found_year != year - 1:
            raise PreviousYearError(f"{path} 是 {found_year} 年度的发布包，而上年应为 {year - 1} 年度")
        return reports.get(unit)
    try:
        report, findings = read_workbook(path, year - 1, unit)
    except UnreadableWorkbook as error:
        raise PreviousYearError(f"上年报表 {path} 无法读取：{error}") from None
    if any(f.is_error for f in findings):
        raise PreviousYearError(f"上年报表 {path} 本身有错误（{findings[0].message}），请先修正")
    return report
