"""Versions, never overwritten: a stable `latest`, no new version for the same inputs, a changelog
of exactly which cells changed, byte-identical rebuilds, and atomic publication."""

from __future__ import annotations

import csv
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from flows.documents.template import write_workbook
from flows.intake.workbook import read_workbook
from flows.release import versions
from flows.release.versions import next_version
from flows.run import run_year


@pytest.fixture
def sources(sources_copy) -> Path:
    return sources_copy


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def bump_figure(sources: Path, unit: str = "household", by: int = 3) -> None:
    """A corrected workbook: more applications disclosed, and so handled, by natural persons."""
    path = sources / "2021" / f"{unit}.xlsx"
    report, _ = read_workbook(path, 2021, unit)
    layout = report.edition.tables["applications"]
    for row in ("new", "disclosed", "results_total"):
        for column in ("natural_person", "total"):
            report.values["applications"][layout.row_index[row], layout.column_index[column]] += by
    write_workbook(path, report.edition, 2021, report)


def test_semantic_versions():
    assert next_version("1.0.0", figures_changed=True) == "1.1.0"
    assert next_version("1.1.0", figures_changed=False) == "1.1.1"


def test_versions_are_never_overwritten(sources, tmp_path):
    outputs = tmp_path / "outputs"
    first = run_year(2021, sources, outputs).publication
    assert (first.version, first.new) == ("1.0.0", True)
    year = outputs / "2021"
    assert (year / "latest").resolve() == first.path and (year / "1.0.0.zip").is_file()
    before = snapshot(first.path)
    # The zip is written as the files are made: it holds each of them whole, once, at its root.
    with zipfile.ZipFile(year / "1.0.0.zip") as archive:
        names = archive.namelist()
        assert len(names) == len(set(names)) and archive.testzip() is None
        assert {name: archive.read(name) for name in names} == before

    again = run_year(2021, sources, outputs).publication
    assert (again.version, again.new, again.path) == ("1.0.0", False, first.path)
    assert sorted(p.name for p in year.iterdir()) == ["1.0.0", "1.0.0.zip", "latest"]

    bump_figure(sources)
    corrected = run_year(2021, sources, outputs, reason="户政管理大队更正依申请公开数").publication
    assert (corrected.version, corrected.new) == ("1.1.0", True)
    assert (year / "latest").resolve() == corrected.path
    assert snapshot(first.path) == before  # the old version stays untouched
    with open(corrected.path / "data" / "changes.csv", encoding="utf-8") as handle:
        changes = list(csv.DictReader(handle))
    changed = {(c["unit_id"], c["row"], c["column"]) for c in changes}
    assert changed == {
        (unit, row, column)
        for unit in ("household", "yuanjiang-psb-example")
        for row in ("new", "disclosed", "results_total")
        for column in ("natural_person", "total")
    }
    assert all(int(c["new"]) - int(c["old"]) == 3 for c in changes)
    changelog = (corrected.path / "CHANGELOG.md").read_text()
    assert "版本 1.1.0（更正版本 1.0.0）" in changelog and "原因：户政管理大队更正依申请公开数" in changelog
    assert "| household | applications | new | natural_person |" in changelog


def test_a_change_of_warnings_only_is_a_patch(sources, tmp_path):
    outputs = tmp_path / "outputs"
    run_year(2021, sources, outputs)
    (sources / "2021" / "exceptions.yaml").write_text(
        "- {rule: A1, unit: traffic, reason: 过时的例外条目, accepted_by: 王某, date: '2022-01-01'}\n", "utf-8"
    )
    patch = run_year(2021, sources, outputs).publication
    assert (patch.version, patch.new) == ("1.0.1", True)  # X1 joins the findings; no figure changed


def test_a_release_is_built_once_when_a_submitted_file_changed(sources, tmp_path, monkeypatch):
    """A release is built again in memory, to compare with the live one, only when every submitted
    file is the one the live release was made from: otherwise it differs, and is built once."""
    outputs = tmp_path / "outputs"
    run_year(2021, sources, outputs)
    built = []
    build_package = versions.build_package
    monkeypatch.setattr(versions, "build_package", lambda *a, **k: built.append(k["version"]) or build_package(*a, **k))
    path = sources / "2021" / "household.xlsx"
    report, _ = read_workbook(path, 2021, "household")
    write_workbook(path, report.edition, 2021, report)  # saved again: other bytes, the same figures
    resaved = run_year(2021, sources, outputs).publication
    assert (resaved.version, resaved.new, built) == ("1.0.1", True, ["1.0.1"])  # a patch: no figure changed
    again = run_year(2021, sources, outputs).publication
    assert (again.version, again.new, built[1:]) == ("1.0.1", False, ["1.0.1"])  # compared, not published
    bump_figure(sources)
    corrected = run_year(2021, sources, outputs).publication
    assert (corrected.version, corrected.new, built[2:]) == ("1.1.0", True, ["1.1.0"])


def test_rebuilding_the_same_inputs_gives_the_same_bytes(sources, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH")  # `created` then comes from the inputs themselves
    twin = Path(shutil.copytree(sources, tmp_path / "twin"))  # copytree keeps modification times
    one = run_year(2021, sources, tmp_path / "one").publication
    two = run_year(2021, twin, tmp_path / "two").publication
    assert snapshot(one.path) == snapshot(two.path)
    assert (one.path.parent / "1.0.0.zip").read_bytes() == (two.path.parent / "1.0.0.zip").read_bytes()


@pytest.mark.parametrize("errno, strerror", [(28, "No space left on device"), (13, "Permission denied")])
def test_a_publication_that_fails_midway_leaves_the_last_release(sources, tmp_path, monkeypatch, errno, strerror):
    outputs = tmp_path / "outputs"
    first = run_year(2021, sources, outputs).publication
    before = snapshot(outputs / "2021")
    bump_figure(sources)
    written = []
    real_write = Path.write_bytes

    def disk_full(self, data):
        written.append(self)
        if len(written) > 5:
            raise OSError(errno, strerror)
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(OSError, match=strerror):
        run_year(2021, sources, outputs)
    monkeypatch.undo()
    assert snapshot(outputs / "2021") == before  # no 1.1.0, no staging folder, latest unchanged
    assert sorted(os.listdir(outputs / "2021")) == ["1.0.0", "1.0.0.zip", "latest"]
    assert run_year(2021, sources, outputs).publication.version == "1.1.0"  # and the next run completes
    assert (outputs / "2021" / "latest").resolve() != first.path


def test_a_zip_that_fails_midway_fails_the_publication_and_leaves_the_last_release(sources, tmp_path, monkeypatch):
    """What fails while zipping fails the publication too, and leaves nothing behind."""
    import flows.release.versions as release

    outputs = tmp_path / "outputs"
    run_year(2021, sources, outputs)
    before = snapshot(outputs / "2021")
    bump_figure(sources)
    entries, real_info = [], release.ReleaseZip._info

    def disk_full(self, name, size):
        entries.append(name)
        if len(entries) > 5:
            raise OSError(28, "No space left on device")
        return real_info(self, name, size)

    monkeypatch.setattr(release.ReleaseZip, "_info", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        run_year(2021, sources, outputs)
    monkeypatch.undo()
    assert snapshot(outputs / "2021") == before
    assert sorted(os.listdir(outputs / "2021")) == ["1.0.0", "1.0.0.zip", "latest"]


KILLER = """
import os, signal, sys
from pathlib import Path
import flows.release.versions as release
from flows.run import run_year

point, count = sys.argv[1], int(sys.argv[2])
calls = {"n": 0}
def dying(real):
    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == count:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return wrapper
if point == "write":
    Path.write_bytes = dying(Path.write_bytes)
else:
    release.os.replace = dying(os.replace)
run_year(2021, Path(sys.argv[3]), Path(sys.argv[4]))
"""


@pytest.mark.parametrize(
    "point, count", [("write", 1), ("write", 8), ("write", 16), ("replace", 1), ("replace", 2), ("replace", 3)]
)
def test_a_run_killed_at_any_point_leaves_the_last_release(sources, tmp_path, point, count):
    import subprocess
    import sys

    outputs = tmp_path / "outputs"
    first = run_year(2021, sources, outputs).publication
    before = snapshot(first.path)
    bump_figure(sources)
    result = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(count), str(sources), str(outputs)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
    )
    assert result.returncode == -9, result.stderr.decode()[-2000:]
    latest = (outputs / "2021" / "latest").resolve()
    visible = sorted(p.name for p in (outputs / "2021").iterdir() if not p.name.startswith("."))
    assert snapshot(first.path) == before
    if latest == first.path:  # killed before the switch: 1.1.0 was never published
        assert "1.1.0" not in visible or (outputs / "2021" / "1.1.0" / "MANIFEST.sha256").is_file()
    else:  # killed after the new version was complete and switched to
        assert latest.name == "1.1.0"
    assert run_year(2021, sources, outputs).publication.version == "1.1.0"  # the next run completes
    assert not [p for p in (outputs / "2021").iterdir() if p.name.startswith(".")]  # leftovers cleared
