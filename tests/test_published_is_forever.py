"""Published is forever: no run deletes or rewrites a published version, whatever became of
`latest` (lost in a copy, left dangling, rolled back by an operator), no version number is given
to other bytes, and nothing else in the outputs (a web server's dotfiles) is touched."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from pathlib import Path

import pytest

from flows.cli import main
from flows.intake.bureau import load_bureau
from flows.intake.previous import NoLiveRelease, live_release
from flows.release import versions
from flows.run import run_year
from tests.test_release import bump_figure, snapshot


@pytest.fixture
def published(sources_copy, tmp_path) -> tuple[Path, Path]:
    """Two published versions of 2021: 1.0.0, then 1.1.0 with a corrected figure (live)."""
    outputs = tmp_path / "outputs"
    assert run_year(2021, sources_copy, outputs).publication.version == "1.0.0"
    bump_figure(sources_copy)
    assert run_year(2021, sources_copy, outputs).publication.version == "1.1.0"
    return sources_copy, outputs


def catalogued(outputs: Path) -> dict[str, bool]:
    releases = json.loads((outputs / "catalog.json").read_text("utf-8"))["releases"]
    return {r["version"]: r["latest"] for r in releases if r["year"] == 2021}


def test_a_lost_latest_is_restored_from_the_catalog(published):
    sources, outputs = published
    year = outputs / "2021"
    before = snapshot(year)
    (year / "latest").unlink()  # restored by a tool that drops links
    assert live_release(outputs, 2021) == year / "1.1.0"
    again = run_year(2021, sources, outputs).publication
    assert (again.version, again.new) == ("1.1.0", False)  # the same inputs: nothing new, nothing lost
    assert os.readlink(year / "latest") == "1.1.0"
    assert snapshot(year) == before


def test_a_dangling_latest_is_restored_from_the_catalog(published):
    sources, outputs = published
    year = outputs / "2021"
    (year / "latest").unlink()
    (year / "latest").symlink_to("/nowhere/1.1.0")
    assert run_year(2021, sources, outputs).publication.version == "1.1.0"
    assert os.readlink(year / "latest") == "1.1.0" and (year / "1.0.0" / "datapackage.json").is_file()


def test_without_latest_or_catalog_the_run_refuses_in_one_line(published, capsys):
    sources, outputs = published
    year = outputs / "2021"
    (year / "latest").unlink()
    (outputs / "catalog.json").unlink()
    before = snapshot(year)
    status = main(["run", "2021", "--sources", str(sources), "--outputs", str(outputs), "--runner", "threads"])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1
    assert "latest 缺失" in error and "1.0.0、1.1.0" in error and "ln -sfn" in error
    assert snapshot(year) == before  # nothing deleted, nothing published as 1.0.0 again


def test_a_latest_copied_as_a_folder_is_refused_not_trusted(published):
    sources, outputs = published
    year = outputs / "2021"
    (year / "latest").unlink()
    shutil.copytree(year / "1.0.0", year / "latest")  # a Windows share makes a folder of the link
    with pytest.raises(NoLiveRelease, match="普通目录或文件"):
        run_year(2021, sources, outputs)
    assert sorted(p.name for p in year.iterdir()) == ["1.0.0", "1.0.0.zip", "1.1.0", "1.1.0.zip", "latest"]


def test_a_rollback_keeps_the_newer_versions_and_their_numbers(published):
    """An operator points `latest` back at 1.0.0; the next correction is 1.2.0, not a second 1.1.0."""
    sources, outputs = published
    year = outputs / "2021"
    newer = snapshot(year / "1.1.0"), (year / "1.1.0.zip").read_bytes()
    (year / "latest").unlink()
    (year / "latest").symlink_to("1.0.0")
    bump_figure(sources, by=5)
    corrected = run_year(2021, sources, outputs).publication
    assert corrected.version == "1.2.0"
    assert (snapshot(year / "1.1.0"), (year / "1.1.0.zip").read_bytes()) == newer
    assert catalogued(outputs) == {"1.0.0": False, "1.1.0": False, "1.2.0": True}
    changelog = (corrected.path / "CHANGELOG.md").read_text("utf-8")
    assert "更正版本 1.0.0" in changelog  # the changes are against the version that was live


def test_a_run_leaves_everything_but_its_own_staging_alone(published):
    sources, outputs = published
    year = outputs / "2021"
    (year / ".htaccess").write_text("Options -Indexes\n")
    (year / ".well-known").mkdir()
    (year / ".well-known" / "security.txt").write_text("Contact: mailto:office@example.org\n")
    (year / "notes.txt").write_text("留档说明\n")
    (year / ".1.2.0.abcd1234").mkdir()  # staging of a run killed midway
    (year / ".1.2.0.zip.partial").write_bytes(b"half")
    bump_figure(sources)
    assert run_year(2021, sources, outputs).publication.version == "1.2.0"
    names = {p.name for p in year.iterdir()}
    assert {".htaccess", ".well-known", "notes.txt"} <= names
    assert not {".1.2.0.abcd1234", ".1.2.0.zip.partial"} & names


def test_a_version_never_switched_to_is_kept_and_its_number_skipped(published):
    """A run that died after writing 1.2.0 in full but before switching left it: it was never
    published (not live, not catalogued), and differs from what the next run makes."""
    sources, outputs = published
    year = outputs / "2021"
    shutil.copytree(year / "1.0.0", year / "1.2.0")
    orphan = snapshot(year / "1.2.0")
    bump_figure(sources)
    assert run_year(2021, sources, outputs).publication.version == "1.3.0"
    assert snapshot(year / "1.2.0") == orphan
    assert "1.2.0" not in catalogued(outputs)


def test_catalog_failure_after_the_switch_is_said(published, monkeypatch):
    from flows.cli import verdict

    sources, outputs = published

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(versions, "write_catalog", disk_full)
    bump_figure(sources)
    outcome = run_year(2021, sources, outputs)
    assert outcome.publication.new and os.readlink(outputs / "2021" / "latest") == "1.2.0"
    said = verdict(outcome)
    assert any("已发布 1.2.0，但 catalog.json 未更新" in line and "No space left on device" in line for line in said)


def _write_catalog_repeatedly(outputs: str, sources: str) -> None:
    bureau = load_bureau(Path(sources))
    for _ in range(30):
        versions.write_catalog(Path(outputs), bureau)


def test_two_runs_write_the_catalog_without_colliding(published):
    sources, outputs = published
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_catalog_repeatedly, args=(str(outputs), str(sources))) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert catalogued(outputs) == {"1.0.0": False, "1.1.0": True}
    assert not [p.name for p in outputs.iterdir() if p.name.startswith(".catalog.json")]


@pytest.mark.parametrize("command", ["synth", "template"])
def test_synth_and_template_refuse_to_overwrite_without_force(tmp_path, capsys, command):
    if command == "synth":
        target = tmp_path / "bureau.yaml"
        argv = ["synth", "--departments", "2", "--year", "2021", "--out", str(tmp_path)]
    else:
        target = tmp_path / "household.xlsx"  # a submitted workbook
        argv = ["template", "2021", "-o", str(target)]
    target.write_text("已填好的内容")
    assert main(argv) == 2
    assert "已存在：不会覆盖" in capsys.readouterr().err and target.read_text() == "已填好的内容"
    assert main([*argv, "--force"]) == 0 and target.read_bytes() != "已填好的内容".encode()
