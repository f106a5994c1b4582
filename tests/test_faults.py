"""Faults of the storage, tried: the disk filling up, or the outputs turning read-only, at each point
where publication writes a file. Each leaves the live release intact byte for byte, comes back as
the storage's own error (the CLI's exit 3: tests/test_cli.py), and the next run publishes with no
cleanup by hand. (A run killed at any point: tests/test_release.py; interrupted: test_interruption.)"""

from __future__ import annotations

import builtins
import errno
import io
import os
from pathlib import Path

import pytest

from flows.run import run_year
from tests.test_release import bump_figure, snapshot


class StorageFault:
    """Open for writing under `root` fails with `code` from the `at`-th time on (counting from 0),
    as a full or read-only disk fails every write after the first that fails."""

    def __init__(self, root: Path, at: int, code: int):
        self.root, self.at, self.code, self.opened = str(root), at, code, 0
        self.real_open, self.real_io_open = builtins.open, io.open

    def opener(self, real):
        def open_(file, mode="r", *args, **kwargs):
            writes = isinstance(file, (str, os.PathLike)) and any(m in mode for m in "wax+")
            if writes and os.path.abspath(file).startswith(self.root):
                if self.opened >= self.at:
                    raise OSError(self.code, os.strerror(self.code), os.fspath(file))
                self.opened += 1
            return real(file, mode, *args, **kwargs)

        return open_

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(builtins, "open", self.opener(self.real_open))
        monkeypatch.setattr(io, "open", self.opener(self.real_io_open))


@pytest.fixture(scope="module")
def writes_of_a_correction(tmp_path_factory) -> int:
    """How many files a correction's publication opens for writing under the outputs."""
    import shutil

    from tests.conftest import SOURCES

    root = tmp_path_factory.mktemp("count")
    sources = Path(shutil.copytree(SOURCES, root / "sources"))
    outputs = root / "outputs"
    run_year(2021, sources, outputs)
    bump_figure(sources)
    counter = StorageFault(outputs, 1 << 30, errno.ENOSPC)
    mp = pytest.MonkeyPatch()
    counter.install(mp)
    try:
        run_year(2021, sources, outputs)
    finally:
        mp.undo()
    return counter.opened


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
def test_a_storage_fault_while_publishing_leaves_the_live_release_and_the_next_run_recovers(
    sources_copy, tmp_path, monkeypatch, writes_of_a_correction, share, code
):
    """Before `latest` is switched, the fault leaves it on 1.0.0; after (the check reports are
    written last), 1.1.0 is published whole. Either way 1.0.0 is as it was, and the next run ends
    with 1.1.0 live and its check reports written."""
    from flows.release.verify import verify

    outputs = tmp_path / "outputs"
    first = run_year(2021, sources_copy, outputs).publication
    year = outputs / "2021"
    live = snapshot(first.path), (year / f"{first.version}.zip").read_bytes()
    bump_figure(sources_copy)
    fault = StorageFault(outputs, int(share * writes_of_a_correction), code)
    fault.install(monkeypatch)
    with pytest.raises(OSError) as raised:
        run_year(2021, sources_copy, outputs)
    assert raised.value.errno == code
    monkeypatch.undo()
    assert (snapshot(first.path), (year / f"{first.version}.zip").read_bytes()) == live
    switched = os.readlink(year / "latest")
    assert switched in ("1.0.0", "1.1.0")
    if switched == "1.1.0":
        assert all(v.passed for v in verify(year / "1.1.0"))
    again = run_year(2021, sources_copy, outputs).publication  # no cleanup by hand
    assert again.version == "1.1.0" and again.new == (switched == "1.0.0")
    assert os.readlink(year / "latest") == "1.1.0"
    assert (outputs / "checks" / "2021" / "index.html").is_file()


def test_a_storage_fault_is_one_line_saying_what_was_published(sources_copy, tmp_path, monkeypatch, capsys):
    """The CLI's answer: exit 3, one line naming the storage's error and whether latest moved."""
    from flows.cli import main

    outputs = tmp_path / "outputs"
    run_year(2021, sources_copy, outputs)
    bump_figure(sources_copy)
    StorageFault(outputs, 0, errno.ENOSPC).install(monkeypatch)
    status = main(["run", "2021", "--sources", str(sources_copy), "--outputs", str(outputs), "--runner", "threads"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 3
    assert len(err) == 1 and "存储空间已满" in err[0] and "latest 未改动（1.0.0）" in err[0], err


# -- A workbook changed while it is read ----------------------------------------------------------------
# A department's workbook is read once, into memory (flows/intake/files.py inspect): the hash, the
# figures, the findings and the bytes kept for publication (flows/intake/kept.py) all come from that
# one read. Rewritten after it, the release ships what was checked and the run says the file changed;
# caught half-written by the read, the workbook is refused (F0) and nothing is published.


def checked_and_replacement(sources: Path) -> tuple[bytes, bytes]:
    """household.xlsx corrected (+3, left in place: what the run reads), and corrected again (+5
    more: what a clerk saves over it while the run goes on)."""
    workbook = sources / "2021" / "household.xlsx"
    bump_figure(sources)
    checked = workbook.read_bytes()
    bump_figure(sources, by=5)
    replacement = workbook.read_bytes()
    workbook.write_bytes(checked)
    return checked, replacement


def rewrite_household(monkeypatch, module, name: str, before=None, after=None) -> None:
    """`module.name` (a reading step taking the file's path first) does `before(path)`, reads, then
    `after(path)`, for household.xlsx and once."""
    real, done = getattr(module, name), []

    def reading(path, *args, **kwargs):
        mine = Path(path).name == "household.xlsx" and not done
        if mine:
            done.append(path)
        if mine and before:
            before(Path(path))
        try:
            return real(path, *args, **kwargs)
        finally:
            if mine and after:
                after(Path(path))

    monkeypatch.setattr(module, name, reading)


def run_cli(sources: Path, outputs: Path) -> int:
    from flows.cli import main

    return main(["run", "2021", "--sources", str(sources), "--outputs", str(outputs), "--runner", "threads", "--quiet"])


def test_a_workbook_rewritten_right_after_its_read_ships_as_checked(sources_copy, tmp_path, monkeypatch, capsys):
    """The release has the bytes read, and its cells are theirs (verify re-reads them); the run says
    the file changed (exit 0: what was checked is published); the next run publishes the new file."""
    from flows.intake import workbook
    from flows.release.verify import verify

    outputs = tmp_path / "outputs"
    first = run_year(2021, sources_copy, outputs).publication
    live = snapshot(first.path)
    checked, replacement = checked_and_replacement(sources_copy)
    rewrite_household(monkeypatch, workbook, "load_sheets", after=lambda path: path.write_bytes(replacement))

    assert run_cli(sources_copy, outputs) == 0
    said = capsys.readouterr().err.strip().splitlines()
    monkeypatch.undo()
    (notice,) = [line for line in said if "household.xlsx" in line]
    assert "检查之后被替换" in notice and "nianbao run 2021" in notice, said
    year = outputs / "2021"
    assert os.readlink(year / "latest") == "1.1.0" and snapshot(first.path) == live
    assert (year / "1.1.0" / "submissions" / "household.xlsx").read_bytes() == checked
    assert all(v.passed for v in verify(year / "1.1.0"))  # the cells are the checked workbook's
    published = {(r["unit_id"], r["row"], r["column"]): r["value"] for r in cells(year / "1.1.0")}
    corrected = workbook.read_workbook(sources_copy / "2021" / "household.xlsx", 2021, "household")[0]
    layout = corrected.edition.tables["applications"]
    new = corrected.values["applications"][layout.row_index["new"], layout.column_index["total"]]
    assert int(published[("household", "new", "total")]) == int(new) - 5  # the figure as checked

    again = run_year(2021, sources_copy, outputs).publication  # the file as it is now: checked and published
    assert (again.version, again.new, again.replaced) == ("1.2.0", True, ())
    assert (again.path / "submissions" / "household.xlsx").read_bytes() == replacement
    assert snapshot(first.path) == live


def cells(release: Path) -> list[dict]:
    import csv

    with open(release / "data" / "cells.csv", encoding="utf-8", newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["table"] == "applications"]


def test_a_workbook_read_while_half_written_is_refused_and_the_next_run_publishes_it(
    sources_copy, tmp_path, monkeypatch, capsys
):
    """A clerk's save (or a sync client) caught midway: the read gets half a file, which is refused
    (F0, naming the file) and blocks publication (exit 1); the last release stays as it was, byte for
    byte, and the next run reads the whole file and publishes it."""
    from flows.intake import workbook

    outputs = tmp_path / "outputs"
    first = run_year(2021, sources_copy, outputs).publication
    year = outputs / "2021"
    live = snapshot(first.path), (year / "1.0.0.zip").read_bytes()
    _, replacement = checked_and_replacement(sources_copy)
    rewrite_household(
        monkeypatch,
        workbook,
        "inspect",
        before=lambda path: path.write_bytes(replacement[: len(replacement) // 2]),
        after=lambda path: path.write_bytes(replacement),
    )

    assert run_cli(sources_copy, outputs) == 1
    said = capsys.readouterr().err
    monkeypatch.undo()
    assert "[household]" in said and "household.xlsx" in said and "已损坏或不完整" in said, said
    assert os.readlink(year / "latest") == "1.0.0"
    assert (snapshot(first.path), (year / "1.0.0.zip").read_bytes()) == live
    assert sorted(p.name for p in year.iterdir() if not p.name.startswith(".")) == ["1.0.0", "1.0.0.zip", "latest"]

    again = run_year(2021, sources_copy, outputs).publication
    assert (again.version, again.new) == ("1.1.0", True)
    assert (again.path / "submissions" / "household.xlsx").read_bytes() == replacement
