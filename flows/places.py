"""Where every file of sources/ and outputs/ lives: the one module that spells those paths.

sources/bureau.yaml                    the bureau, its departments, its publishing metadata
sources/<year>/<unit>.xlsx             a department's workbook (any name: see intake.bureau)
sources/<year>/report.md               the bureau's report text; <unit>.md a department's
sources/<year>/exceptions.yaml         accepted exceptions
sources/<year>/nil_returns.yaml        departments with nothing to report
sources/<year>/published/<unit>.<ext>  a year before nianbao: each unit's report as published
                                       (web page, Word, PDF or text), read for the rules across years

outputs/<year>/<version>/, <version>.zip   a published version, never rewritten
outputs/<year>/latest                  the version live now (a link: switching it publishes)
outputs/checks/<year>/                 check reports, per department and index.html
outputs/reports/<year>/                units' annual reports rendered on demand (nianbao report)
outputs/catalog.json, catalog.jsonld   every year and version, for portals
outputs/.<year>.lock                   held while a run of the year is in progress
outputs/.checked/<year>/               the bytes of each submission as the last run read them:
                                       what publication ships (private: not to be served)
"""

from __future__ import annotations

from pathlib import Path

BUREAU_FILE = "bureau.yaml"
REPORT_TEXT = "report.md"
EXCEPTIONS = "exceptions.yaml"
NIL_RETURNS = "nil_returns.yaml"
PUBLISHED = "published"
LATEST = "latest"
CATALOG = "catalog.json"
CATALOG_DCAT = "catalog.jsonld"
CHECK_INDEX = "index.html"


def bureau_file(sources: Path) -> Path:
    return Path(sources) / BUREAU_FILE


def year_folder(root: Path, year: int) -> Path:
    """sources/<year>/ (the submissions) or outputs/<year>/ (the versions published)."""
    return Path(root) / str(year)


def report_text(sources: Path, year: int, unit: str | None = None) -> Path:
    """The bureau's report text, or with `unit` a department's own."""
    return year_folder(sources, year) / (f"{unit}.md" if unit else REPORT_TEXT)


def published_reports(sources: Path, year: int) -> Path:
    """sources/<year>/published/: the reports of a year nianbao did not publish, as published."""
    return year_folder(sources, year) / PUBLISHED


def latest(outputs: Path, year: int) -> Path:
    return year_folder(outputs, year) / LATEST


def checks_folder(outputs: Path, year: int) -> Path:
    return Path(outputs) / "checks" / str(year)


def reports_folder(outputs: Path, year: int) -> Path:
    """Where `nianbao report YEAR` writes the units' reports, beside checks/<year>/."""
    return Path(outputs) / "reports" / str(year)


def lock_file(outputs: Path, year: int) -> Path:
    return Path(outputs) / f".{year}.lock"


def checked_copies(outputs: Path, year: int) -> Path:
    return Path(outputs) / ".checked" / str(year)
