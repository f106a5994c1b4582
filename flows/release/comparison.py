"""`nianbao compare A B`: two published releases side by side, written to outputs/compare/<a>-<b>/
(index.html and comparison.xlsx). A and B name a year (its live version), a year and version
(2021/1.0.0), or a release's folder; the page is flows/documents/compare.py's."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from flows import places
from flows.documents.compare import Side, compare, render_html, render_xlsx
from flows.format.text import parse_sections
from flows.intake.previous import PreviousYearError, catalog_releases, live_release, load_release
from flows.release.versions import replace_file

COMPARE = "compare"
PAGE, WORKBOOK = "index.html", "comparison.xlsx"


class NoSuchRelease(PreviousYearError):
    """A release named on the command line that is not published; the message says which."""


def release_named(outputs: Path, name: str) -> Path:
    """The release folder `name` names: YEAR (the live version), YEAR/VERSION, or a folder."""
    path = Path(name)
    if path.is_dir() and (path / "datapackage.json").is_file():
        return path
    year, _, version = name.partition("/")
    if not year.isdigit():
        raise NoSuchRelease(f"{name} 不是年度、年度/版本或发布包目录")
    found = places.year_folder(outputs, int(year)) / version if version else live_release(outputs, int(year))
    if found is None or not (found / "datapackage.json").is_file():
        raise NoSuchRelease(f"{outputs} 中没有已发布的 {name}")
    return found


def side(release: Path) -> Side:
    """A release's figures, report texts and units' names."""
    year, reports = load_release(release)
    version = json.loads((release / "datapackage.json").read_text("utf-8"))["version"]
    texts = {p.stem: parse_sections(p.read_text("utf-8")) for p in sorted((release / "report").glob("*.md"))}
    units = release / "data" / "units.csv"
    names = {}
    if units.is_file():  # releases published before units.csv name no unit
        names = {row["unit_id"]: row["name"] for row in csv.DictReader(io.StringIO(units.read_text("utf-8")))}
    return Side(year, version, reports, texts, names)


def history(outputs: Path, bureau: str) -> list:
    """(year, the bureau's report) of every year's live version, oldest first."""
    years = sorted({int(r["year"]) for r in catalog_releases(outputs) or []})
    found = []
    for year in years:
        release = live_release(outputs, year)
        if release is not None:
            report = load_release(release)[1].get(bureau)
            if report is not None:
                found.append((year, report))
    return found


def write_comparison(outputs: Path, a: str, b: str, units: list[str] | None = None, out: Path | None = None) -> Path:
    """Compare release `a` with release `b` and write the page and the workbook; the page's path."""
    outputs = Path(outputs)
    first, second = side(release_named(outputs, a)), side(release_named(outputs, b))
    bureau = json.loads((release_named(outputs, b) / "datapackage.json").read_text("utf-8"))["nianbao"]["bureau"]
    comparison = compare(first, second, bureau, units, history(outputs, bureau))
    folder = Path(out) if out else comparison_folder(outputs, first, second)
    folder.mkdir(parents=True, exist_ok=True)
    replace_file(folder / WORKBOOK, render_xlsx(comparison))
    replace_file(folder / PAGE, render_html(comparison).encode("utf-8"))
    return folder / PAGE


def comparison_folder(outputs: Path, a: Side, b: Side) -> Path:
    """outputs/compare/2020-2021/ for two years; with their versions when they are of one year."""
    name = f"{a.year}-{b.year}" if a.year != b.year else f"{a.year}-{a.version}-{b.version}"
    return Path(outputs) / COMPARE / name
