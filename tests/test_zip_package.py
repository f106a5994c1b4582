"""The zip is the package: datapackage.json at its root, so that `frictionless validate <version>.zip`
validates every resource and frictionless.Package opens it; every table's unit_id refers to units
(a foreign key frictionless checks); and zips published before, with their files under <version>/,
still verify (published is forever)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import frictionless
import pytest

from flows.release.verify import verify
from flows.run import run_year
from tests.conftest import SOURCES
from tests.test_verify import edit_csv, rehash


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return run_year(2021, SOURCES, tmp_path_factory.mktemp("outputs")).release


def failed(path: Path) -> dict[str, list[str]]:
    return {c.name: c.problems for c in verify(path) if not c.passed}


def zip_of(folder: Path, target: Path, root: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, root + path.relative_to(folder).as_posix())
    return target


def test_the_zip_is_the_package(published):
    zipped = published.parent / "1.0.0.zip"
    names = zipfile.ZipFile(zipped).namelist()
    assert "datapackage.json" in names and not [n for n in names if n.startswith("1.0.0/")]
    package = frictionless.Package(str(zipped))
    report = package.validate()
    assert report.valid, report.flatten(["resourcePath", "type", "note"])
    assert len(report.tasks) == len(package.resources) == 13  # every resource, not the zip as one file
    assert failed(zipped) == {}


def test_frictionless_validate_on_the_command_line_checks_every_resource(published):
    cli = shutil.which("frictionless") or pytest.skip("no frictionless command")
    result = subprocess.run(
        [cli, "validate", "--json", str(published.parent / "1.0.0.zip")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.count('"resourcePath"') >= 12 or result.stdout.count('"name": "') >= 12


def test_a_zip_of_the_earlier_layout_still_verifies(published, tmp_path):
    """Zips published earlier hold the files under <version>/: published is forever."""
    old = zip_of(published, tmp_path / "1.0.0.zip", root="1.0.0/")
    assert failed(old) == {}


def test_a_dangling_unit_fails_frictionless_and_verify(published, tmp_path):
    release = Path(shutil.copytree(published, tmp_path / "1.0.0"))
    edit_csv(release / "data" / "units.csv", "traffic,交通警察大队,department,yuanjiang-psb-example\n", "")
    rehash(release, "data/units.csv")
    report = frictionless.validate(str(release / "datapackage.json"))
    assert {error.type for task in report.tasks for error in task.errors} == {"foreign-key"}
    invalid = {task.name for task in report.tasks if not task.valid}
    assert invalid == {"proactive_disclosure", "applications", "review_litigation", "cells", "submissions", "reports"}
    (tmp_path / "zipped").mkdir()
    problems = failed(zip_of(release, tmp_path / "zipped" / "1.0.0.zip"))
    said = problems["每个资源符合其 Table Schema（frictionless）"]
    assert any(p.startswith("cells ") and '"traffic" not found' in p for p in said), said


def test_a_unit_row_without_its_unit_fails(published, tmp_path):
    """A table row naming a unit units.csv does not list (a forged department) is a foreign key error."""
    release = Path(shutil.copytree(published, tmp_path / "1.0.0"))
    edit_csv(release / "data" / "review_litigation.csv", "\ntraffic,", "\nforged,")
    rehash(release, "data/review_litigation.csv")
    report = frictionless.validate(str(release / "datapackage.json"))
    assert [(task.name, error.type) for task in report.tasks for error in task.errors] == [
        ("review_litigation", "foreign-key")
    ]
