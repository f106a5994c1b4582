"""`nianbao compare A B`: two published releases side by side, written to outputs/compare/<a>-<b>/
(index.html and comparison.xlsx). A and B name a year (its live version), a year and version
(2021/1.0.0), or a release's folder; the page is flows/documents/compare.py's. Publishing a year
writes its comparisons with the years before and after it too (written_beside), and its HTML
reports link to the one with last year (link_from_report)."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import re
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
    for name in (a, b):
        release_named(outputs, name)  # NoSuchRelease before anything is written
    beside = Path(out).parent if out else outputs / COMPARE
    beside.mkdir(parents=True, exist_ok=True)
    with open(beside / ".compare.lock", "a") as lock:
        # Two years' runs write one comparison: each reads the live releases once it holds the lock.
        fcntl.flock(lock, fcntl.LOCK_EX)
        first, second = side(release_named(outputs, a)), side(release_named(outputs, b))
        bureau = json.loads((release_named(outputs, b) / "datapackage.json").read_text("utf-8"))["nianbao"]["bureau"]
        comparison = compare(first, second, bureau, units, history(outputs, bureau))
        folder = Path(out) if out else comparison_folder(outputs, first, second)
        folder.mkdir(parents=True, exist_ok=True)
        for aside in folder.iterdir():  # left by a run killed while writing
            if _ASIDE.fullmatch(aside.name):
                aside.unlink()
        replace_file(folder / WORKBOOK, render_xlsx(comparison))
        replace_file(folder / PAGE, render_html(comparison).encode("utf-8"))
    return folder / PAGE


_ASIDE = re.compile(rf"\.(?:{re.escape(PAGE)}|{re.escape(WORKBOOK)})\.[a-z0-9_]{{8}}")


def link_from_report(outputs: Path, year: int) -> str | None:
    """The link from a release's report/ folder (outputs/<year>/<version>/report/, `latest` too) to
    the comparison of last year's live release with this year's, when last year has one: relative,
    so that it holds where outputs/ is served and on disk."""
    if live_release(outputs, year - 1) is None:
        return None
    return f"../../../{COMPARE}/{year - 1}-{year}/{PAGE}"


def written_beside(outputs: Path, year: int) -> list[Path]:
    """After a publication of `year` (a new version or none): its comparisons with the year before
    and the year after, where that year has a live release, written again; their pages' paths."""
    return [
        write_comparison(outputs, str(a), str(b))
        for a, b in ((year - 1, year), (year, year + 1))
        if live_release(outputs, a) is not None and live_release(outputs, b) is not None
    ]


def comparison_folder(outputs: Path, a: Side, b: Side) -> Path:
    """outputs/compare/2020-2021/ for two years; with their versions when they are of one year."""
    name = f"{a.year}-{b.year}" if a.year != b.year else f"{a.year}-{a.version}-{b.version}"
    return Path(outputs) / COMPARE / name
