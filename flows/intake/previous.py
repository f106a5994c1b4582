"""Last year's reports, for the rules across years (C2, D1–D4, E2): from the previous year's
published package (bureau and departments), from a single workbook, or, for a year nianbao did
not publish, from the units' reports as they were published (sources/<year>/published/)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from flows import places
from flows.format.edition import TableLayout, edition_named
from flows.format.report import Finding, Report
from flows.format.text import ReportText
from flows.format.values import parse_cell
from flows.intake.document import Unreadable, read_bytes, sniff
from flows.intake.workbook import UnreadableWorkbook, read_workbook


class PreviousYearError(Exception):
    """Last year's data cannot be used; the message says why, in Chinese."""


class NoLiveRelease(PreviousYearError):
    """Versions of a year exist but which one is live cannot be told; the message says what to do."""


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
            values = _Values(layout)
            with open(descriptor_path.parent / resource["path"], encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    unit = row["unit_id"]
                    report = reports.get(unit)
                    if report is None:
                        report = reports[unit] = Report.zeros(unit, year, edition, file=str(descriptor_path))
                    r = layout.row_index[row["row"]] if "row" in row else 0
                    matrix = report.values[layout.code]
                    for c, column in enumerate(layout.columns):
                        if text := row[column.code]:
                            matrix[r, c] = values.parsed(text, c, resource["path"], unit)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PreviousYearError(f"发布包 {descriptor_path} 无法读取（{type(error).__name__}: {error}）") from None
    return year, reports


class _Values:
    """A table's published texts parsed, each text once a column: a release of a thousand units
    writes the same few hundred numbers again and again (a city's parent reads 140,000 cells)."""

    def __init__(self, layout: TableLayout):
        self.columns = layout.columns
        self.known: list[dict[str, int]] = [{} for _ in layout.columns]

    def parsed(self, text: str, c: int, path: str, unit: str) -> int:
        known = self.known[c]
        value = known.get(text)
        if value is None:
            column = self.columns[c]
            value = parse_cell(text, column).value
            if value is None:
                raise ValueError(f"{path} 中 {unit} 的 {column.code} 为“{text}”，不是合法数值")
            known[text] = value
        return value


def is_version(name: str) -> bool:
    """Whether a name is a version's: three whole numbers, 1.0.0."""
    parts = name.split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts)


def version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split("."))


def complete_versions(outputs: Path, year: int) -> list[str]:
    """The versions of `year` written in full (moved into place with their manifest), oldest first."""
    folder = places.year_folder(outputs, year)
    found = [
        p.name
        for p in (folder.iterdir() if folder.is_dir() else ())
        if is_version(p.name) and p.is_dir() and not p.is_symlink() and (p / "MANIFEST.sha256").is_file()
    ]
    return sorted(found, key=version_key)


def catalog_releases(outputs: Path) -> list[dict] | None:
    """The releases catalog.json lists, or None when there is no catalog. Raises NoLiveRelease for
    one that cannot be read: it is the record of what was published, not to be guessed past."""
    path = Path(outputs) / places.CATALOG
    if not path.is_file():
        return None
    try:
        releases = json.loads(path.read_text("utf-8"))["releases"]
        return [r for r in releases if isinstance(r, dict) and is_version(str(r["version"])) and int(r["year"])]
    except (ValueError, KeyError, TypeError) as error:
        raise NoLiveRelease(f"{path} 无法读取（{type(error).__name__}: {error}）：请从备份恢复它") from None


def live_release(outputs: Path, year: int) -> Path | None:
    """The version of `year` that is live: the one `latest` links to, or, when that link is missing
    or broken (a copy that dropped links, a restore), the one catalog.json marks latest. None when
    nothing of the year was ever published; NoLiveRelease when versions exist but neither says
    which is live. Reads only: publishing (release.versions) restores the link."""
    folder, link = places.year_folder(outputs, year), places.latest(outputs, year)
    versions = complete_versions(outputs, year)
    target = link.resolve() if link.is_symlink() else None
    if target is not None and target.parent == folder.resolve() and target.name in versions:
        return folder / target.name
    if link.exists() and not link.is_symlink():
        raise NoLiveRelease(
            f"{link} 是普通目录或文件而不是指向版本的链接（复制时丢失了链接？）：请把它移出 {folder}，"
            "nianbao 将按 catalog.json 恢复链接"
        )
    listed = [r for r in catalog_releases(outputs) or [] if int(r["year"]) == year]
    marked = [str(r["version"]) for r in listed if r.get("latest")]
    if len(marked) == 1 and marked[0] in versions:
        return folder / marked[0]
    if not versions and not listed:
        return None
    what = "失效" if link.is_symlink() else "缺失"
    raise NoLiveRelease(
        f"{link} {what}，catalog.json 也未指明当前版本（已有版本：{'、'.join(versions) or '无'}）："
        f"请用 ln -sfn <版本> {link} 指定当前版本后再运行"
    )


def previous_release(outputs: Path, year: int) -> dict[str, Report]:
    """The units' reports of the live release of `year - 1` in `outputs`, or {} when there is none."""
    release = live_release(outputs, year - 1)
    return load_release(release)[1] if release else {}


def previous_texts(outputs: Path, year: int) -> dict:
    """The report texts published for `year - 1` (report/<unit>.md of its live release), by unit."""
    from flows.format.text import ReportText, parse_sections

    release = live_release(outputs, year - 1)
    if release is None:
        return {}
    texts = sorted((release / "report").glob("*.md"))
    return {p.stem: ReportText(p.stem, p, parse_sections(p.read_text("utf-8"))) for p in texts}


def published_year(sources: Path, year: int) -> tuple[dict[str, Report], dict[str, ReportText]]:
    """Every unit's report and text of `year` as published, from sources/<year>/published/: a
    file a unit, named by its id (<department id>.htm, .docx, .pdf, .txt; the bureau's by its id),
    read by its content. The figures are used as read: a back-filled year's errors were published.
    PreviousYearError for a file that is no readable report, or a unit given twice."""
    from flows.intake.published import read_published

    folder = places.published_reports(sources, year)
    reports: dict[str, Report] = {}
    texts: dict[str, ReportText] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        if not path.is_file() or path.name.startswith((".", "~$")):
            continue
        unit = path.stem
        if unit in reports:
            raise PreviousYearError(f"{folder} 中 {unit} 有两份报告（{reports[unit].file} 与 {path}）：请只保留一份")
        try:
            published = read_published(path, year, unit)
        except Unreadable as error:
            raise PreviousYearError(f"{year} 年度发布的报告 {path} 无法读取：{error}") from None
        reports[unit], texts[unit] = published.report, published.text
    return reports, texts


def is_published_report(path: Path) -> bool:
    """Whether a file is a published report (web page, Word, PDF, text) rather than a workbook."""
    try:
        sniff(read_bytes(path))
    except Unreadable:
        return False
    return True


def load_previous_text(path: Path, year: int, unit: str) -> ReportText | None:
    """Last year's text, for W7, when `path` is a published report; None for a workbook or release."""
    from flows.intake.published import read_published

    path = Path(path)
    if path.is_dir() or not is_published_report(path):
        return None
    try:
        return read_published(path, year - 1, unit).text
    except Unreadable:
        return None


def load_previous(path: Path, year: int, unit: str) -> tuple[Report | None, list[Finding] | None]:
    """`unit`'s report of `year - 1` from a workbook or a published package (None if it has none),
    and, for a workbook, the errors found in reading it: the cross-year rules use its figures as
    read, whatever else is wrong with it, and say so (checks.check.previous_flaws). A release's
    figures passed the rules when published (None: nothing to look into)."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".json":
        found_year, reports = load_release(path)
        if found_year != year - 1:
            raise PreviousYearError(f"{path} 是 {found_year} 年度的发布包，而上年应为 {year - 1} 年度")
        return reports.get(unit), None
    if is_published_report(path):
        from flows.intake.published import read_published

        try:
            published = read_published(path, year - 1, unit)
        except Unreadable as error:
            raise PreviousYearError(f"上年报告 {path} 无法读取：{error}") from None
        return published.report, [f for f in published.findings if f.is_error]
    try:
        report, findings = read_workbook(path, year - 1, unit)
    except UnreadableWorkbook as error:
        raise PreviousYearError(f"上年报表 {path} 无法读取：{error}") from None
    return report, [f for f in findings if f.is_error]
