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
