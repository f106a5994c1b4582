"""A release is readable by whoever the user's umask lets read it: a web server running as another
user serves outputs/ without Permission denied (mkdtemp and mkstemp make 0700 and 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flows import places
from flows.release.versions import umask
from flows.run import run_year
from tests.test_release import bump_figure


def modes(outputs: Path, year: int) -> dict[str, int]:
    """The mode of everything a publication makes: the year's folder, each version's folder and
    everything in it, each zip, the catalog files; `latest` counted as the folder it points to."""
    folder = places.year_folder(outputs, year)
    found = {"<year>": folder.stat().st_mode}
    for path in folder.rglob("*"):
        found[path.relative_to(folder).as_posix()] = path.stat().st_mode  # follows `latest`
    for name in (places.CATALOG, places.CATALOG_DCAT):
        found[name] = (outputs / name).stat().st_mode
    return found


@pytest.fixture
def user_umask(request):
    before = os.umask(request.param)
    yield request.param
    os.umask(before)


@pytest.mark.parametrize(
    "user_umask, folder_mode, file_mode",
    [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)],
    ids=["umask022", "umask027"],
    indirect=["user_umask"],
)
def test_a_release_has_the_modes_the_umask_gives(sources_copy, tmp_path, user_umask, folder_mode, file_mode):
    assert umask() == user_umask
    outputs = tmp_path / "outputs"
    first = run_year(2021, sources_copy, outputs).publication
    bump_figure(sources_copy)  # a second version, published over the first: the catalog rewritten
    second = run_year(2021, sources_copy, outputs).publication
    assert first is not None and second is not None and second.version != first.version
    latest = places.year_folder(outputs, 2021) / places.LATEST
    assert latest.is_symlink() and latest.resolve() == second.path
    found = modes(outputs, 2021)
    assert {f"{v}.zip" for v in (first.version, second.version)} <= set(found)
    assert {f"{v}/data/cells.csv" for v in (first.version, second.version)} <= set(found)
    wrong = {
        name: oct(stat.S_IMODE(mode))
        for name, mode in found.items()
        if stat.S_IMODE(mode) != (folder_mode if stat.S_ISDIR(mode) else file_mode)
    }
    assert not wrong, f"expected {oct(folder_mode)} (folders) and {oct(file_mode)} (files): {wrong}"


def test_reading_the_umask_leaves_it_as_it_was():
    before = os.umask(0o027)
    try:
        assert umask() == 0o027 and umask() == 0o027
        assert os.umask(0o027) == 0o027
    finally:
        os.umask(before)
