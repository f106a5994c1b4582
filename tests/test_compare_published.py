"""The comparison with last year, written at publication: publishing 2021 after 2020 writes
outputs/compare/2020-2021/ (what `nianbao compare 2020 2021` writes), and 2021's HTML reports link to
it by a relative link that resolves from the report, through `latest` or the version's folder; 2020
(no 2019) links to nothing and writes no comparison; a correction of either year writes it again."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from flows.cli import main
from flows.documents.template import write_workbook
from flows.intake.workbook import read_workbook
from flows.release.comparison import write_comparison
from flows.release.verify import verify
from flows.run import run_year
from tests.conftest import SOURCES

BUREAU = "yuanjiang-psb-example"
LINK = re.compile(r'<p class="compared"[^>]*><a href="([^"]+)">')


def bump(sources: Path, year: int, by: int = 3) -> None:
    """A corrected workbook of `year`: more applications disclosed, and so handled, by natural persons."""
    path = sources / str(year) / "household.xlsx"
    report, _ = read_workbook(path, year, "household")
    layout = report.edition.tables["applications"]
    for row in ("new", "disclosed", "results_total"):
        for column in ("natural_person", "total"):
            report.values["applications"][layout.row_index[row], layout.column_index[column]] += by
    write_workbook(path, report.edition, year, report)


def links(report: Path) -> list[str]:
    return LINK.findall(report.read_text("utf-8"))


def followed(report: Path, href: str) -> tuple[Path, str]:
    """Where a browser goes from `report` by `href`: the path resolved as text (file:// URLs do not
    follow `latest` before `..`), and the fragment."""
    path, _, fragment = href.partition("#")
    return Path(os.path.normpath(report.parent / path)), fragment


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    outputs = tmp_path_factory.mktemp("outputs")
    for year in (2020, 2021):
        run_year(year, SOURCES, outputs)
    return outputs


def test_publishing_2021_after_2020_writes_their_comparison(outputs, tmp_path):
    page = outputs / "compare" / "2020-2021" / "index.html"
    assert page.is_file() and (page.parent / "comparison.xlsx").is_file()
    # The very page `nianbao compare 2020 2021` writes.
    again = write_comparison(outputs, "2020", "2021", out=tmp_path / "again")
    assert again.read_bytes() == page.read_bytes()
    # Nothing written for 2020 (no 2019), nor left aside.
    assert sorted(p.name for p in (outputs / "compare").iterdir()) == [".compare.lock", "2020-2021"]
    assert sorted(p.name for p in page.parent.iterdir()) == ["comparison.xlsx", "index.html"]


@pytest.mark.parametrize("through", ["latest", "1.0.0"])
def test_the_2021_bureau_report_links_to_it_and_the_link_resolves(outputs, through):
    report = outputs / "2021" / through / "report" / f"{BUREAU}.html"
    assert sorted(p.name for p in report.parent.glob("*.html")) == [report.name]  # the bureau's only
    page = outputs / "compare" / "2020-2021" / "index.html"
    (href,) = links(report)
    assert followed(report, href) == (page, "")  # the bureau's report opens the page at its top
    # Served at base_url, the same link resolves as a URL.
    from urllib.parse import urljoin

    base = "https://example.org/outputs/"
    url = urljoin(base + report.relative_to(outputs).as_posix(), href)
    assert url == base + "compare/2020-2021/index.html"


def test_the_2021_reports_made_on_demand_link_to_it_and_the_link_resolves(outputs):
    """`nianbao report 2021` writes every unit's report into outputs/reports/2021/, from where its link
    resolves too: a department's to its own part of the page."""
    assert main(["report", "2021", "--outputs", str(outputs)]) == 0
    page = outputs / "compare" / "2020-2021" / "index.html"
    html = page.read_text("utf-8")
    reports = sorted((outputs / "reports" / "2021").glob("*.html"))
    assert len(reports) == 5  # the bureau and four departments
    for report in reports:
        (href,) = links(report)
        target, fragment = followed(report, href)
        assert target == page, href
        unit = report.stem
        assert fragment == ("" if unit == BUREAU else f"unit-{unit}")
        assert not fragment or f'id="{fragment}"' in html


def test_the_2020_reports_link_to_nothing(outputs):
    for report in (outputs / "2020" / "latest" / "report").glob("*.html"):
        text = report.read_text("utf-8")
        assert links(report) == [] and "compare/" not in text and 'class="compared"' not in text


def test_the_linked_release_verifies_and_a_rerun_publishes_nothing_new(outputs):
    assert all(v.passed for v in verify(outputs / "2021" / "latest"))
    again = run_year(2021, SOURCES, outputs).publication
    assert (again.version, again.new) == ("1.0.0", False)  # the link is the same bytes every time


@pytest.mark.parametrize("corrected", [2020, 2021])
def test_a_correction_of_either_year_writes_the_comparison_again(tmp_path, corrected):
    sources = Path(shutil.copytree(SOURCES, tmp_path / "sources"))
    outputs = tmp_path / "outputs"
    for year in (2020, 2021):
        run_year(year, sources, outputs)
    page = outputs / "compare" / "2020-2021" / "index.html"
    before = page.read_bytes()
    bump(sources, corrected)
    publication = run_year(corrected, sources, outputs).publication
    assert (publication.version, publication.new, publication.catalog_problem) == ("1.1.0", True, None)
    after = page.read_text("utf-8")
    assert after.encode("utf-8") != before
    assert f"{corrected} 年（1.1.0）" in after  # the title names the corrected version
    assert page.read_bytes() == write_comparison(outputs, "2020", "2021", out=tmp_path / "again").read_bytes()
    # The corrected 2021 still links to it; the corrected 2020 still links to nothing.
    report = outputs / str(corrected) / "latest" / "report" / f"{BUREAU}.html"
    assert [followed(report, h)[0] for h in links(report)] == ([page] if corrected == 2021 else [])


def test_a_year_published_before_its_last_year_gets_the_link_in_its_next_version(tmp_path):
    """2021 first, then 2020 (a back-fill, say): 2020's publication writes the comparison, and the
    next run of 2021 publishes a patch version whose reports link to it (a release is never rewritten)."""
    outputs = tmp_path / "outputs"
    run_year(2021, SOURCES, outputs)
    assert not (outputs / "compare").exists()
    run_year(2020, SOURCES, outputs)
    page = outputs / "compare" / "2020-2021" / "index.html"
    assert page.is_file()
    assert links(outputs / "2021" / "1.0.0" / "report" / f"{BUREAU}.html") == []
    again = run_year(2021, SOURCES, outputs).publication
    assert (again.version, again.new) == ("1.0.1", True)
    report = again.path / "report" / f"{BUREAU}.html"
    assert [followed(report, h)[0] for h in links(report)] == [page]
