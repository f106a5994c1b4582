"""The submissions' bytes as they were read, checked and hashed, kept for publication (outputs/.checked/).

Publication ships these bytes, not the files in sources/<year>/: a file replaced after its check (a
clerk's corrected workbook, a sync client catching up) could otherwise be published unchecked,
under the checked file's hash. Kept on disk, not in memory: ten thousand departments' workbooks
of about 30 KB are 300 MB, which would take a run's processes past 1 GiB and travel through
Prefect's cache. And one file a batch of about 200 departments (a pack), not one a workbook:
creating a file costs 0.2–0.9 ms of kernel time, up to 6 ms on a busy disk, and ten thousand more
would add seconds to a run; written as the batch is read, a pack holds one workbook in memory at
a time.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from flows.format.report import Kept, Report


class Pack:
    """The bytes of a batch's submissions, appended as each is read into a file of its own, named by
    its content once complete (so a pack under its name is whole), each report then pointed at its
    bytes (Report.kept). Use as a context manager: a batch that fails leaves nothing."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.aside = self.folder / f".{uuid.uuid4().hex}"
        self.digest, self.size = hashlib.sha256(), 0
        self.handle: BinaryIO | None = None
        self.parts: list[tuple[Report, int, int, float | None]] = []  # report, offset, size, received

    def add(self, report: Report, data: bytes, source: Path) -> None:
        """`data`, as read from `source` for `report`; with the time `source` was last modified
        (when it was received), or None if it is gone already."""
        if self.handle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.aside, "wb")  # noqa: SIM115 - closed by __exit__, once the batch is read
        self.handle.write(data)
        self.digest.update(data)
        self.parts.append((report, self.size, len(data), _modified(source)))
        self.size += len(data)

    def __enter__(self) -> Pack:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if self.handle is None:
            return
        self.handle.close()
        if kind is not None:
            self.aside.unlink(missing_ok=True)
            return
        path = self.folder / self.digest.hexdigest()
        os.replace(self.aside, path)  # one there already has these very bytes
        for report, offset, size, received in self.parts:
            report.kept = Kept(str(path), offset, size, received)


def kept_bytes(kept: Kept) -> bytes | None:
    """A submission's bytes from its pack; None if the pack is gone."""
    try:
        with open(kept.path, "rb") as handle:
            handle.seek(kept.offset)
            return handle.read(kept.size)
    except FileNotFoundError:
        return None


def all_kept(reports: Iterable[Report | None]) -> bool:
    """Whether the packs the reports' bytes were kept in are all still there (a cached check names
    packs of an earlier run, which may have been removed since)."""
    return all(r is None or r.kept is None or Path(r.kept.path).is_file() for r in reports)


def keep_only(folder: Path, wanted: Iterable[str]) -> None:
    """Remove from `folder` every pack but the `wanted` paths (the run's), and what a killed run left
    aside: the folder holds one run's submissions, not every version of every file ever read."""
    folder, names = Path(folder), {Path(p).name for p in wanted}
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.name not in names and path.is_file():
            path.unlink(missing_ok=True)


def changed_since_check(job: tuple[str, str]) -> bool:
    """Whether a file (job: the file, the SHA-256 of its bytes when checked) no longer holds those
    bytes, or is gone. One file a job, for a process pool's map."""
    file, sha256 = job
    digest = hashlib.sha256()
    try:
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        return True
    return digest.hexdigest() != sha256


def _modified(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return None
