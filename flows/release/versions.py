"""Releases on disk: every publication of a year is a version in its own folder, never overwritten.

    outputs/<year>/<version>/       the release (a Data Package), and <version>.zip beside it
    outputs/<year>/latest           a link to the newest version: switching it publishes one

A re-run whose files equal the latest version's publishes nothing; one whose figures changed is a
new minor version, any other change a patch version, each with the cells that changed and why.
Writing is atomic: a release is written aside and moved into place, then `latest` is switched.
After it, the catalog, the panel and the comparisons with the adjacent years are written again.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO

from flows import places
from flows.checks.accepted import Accepted
from flows.format.report import Finding, Report
from flows.format.values import format_value
from flows.intake.bureau import Bureau
from flows.intake.previous import (
    NoLiveRelease,
    PreviousYearError,
    catalog_releases,
    complete_versions,
    live_release,
    load_release,
    version_key,
)
from flows.merge import Merged
from flows.release.dcat import catalog_jsonld
from flows.release.package import TABLE_FILES, PackageFiles, base_url, build_package, table_hashes
from flows.release.sign import MANIFEST, SIGNATURE, manifest_bytes, sign
from flows.release.verify import Started, verify_staged

FIRST_VERSION = "1.0.0"


@dataclass(frozen=True)
class Publication:
    path: Path  # the version's folder
    version: str
    new: bool  # False when the inputs gave the latest version again: nothing was written
    catalog_problem: str | None = None  # why the catalog, panel or comparisons could not be updated after publishing
    replaced: tuple[str, ...] = ()  # submitted files changed since their check: published as checked


def next_version(version: str, figures_changed: bool) -> str:
    major, minor, patch = (int(p) for p in version.split("."))
    return f"{major}.{minor + 1}.0" if figures_changed else f"{major}.{minor}.{patch + 1}"


def changed_cells(old: dict[str, Report], merged: Merged) -> list[dict]:
    """Every published cell whose value differs from the previous version's, by unit."""
    new = {r.unit: r for r in (merged.bureau, *merged.departments)}
    rows = []
    for unit in sorted(set(old) | set(new)):
        before, after = old.get(unit), new.get(unit)
        edition = (new[unit] if unit in new else old[unit]).edition
        for code, layout in edition.tables.items():
            for r, c in layout.cells:
                column = layout.columns[c]
                values = [
                    format_value(int(x.values[code][r, c]), column) if x is not None else "" for x in (before, after)
                ]
                if values[0] != values[1]:
                    rows.append(
                        {
                            "unit_id": unit,
                            "table": code,
                            "row": layout.rows[r].code if len(layout.rows) > 1 else "",
                            "column": column.code,
                            "old": values[0],
                            "new": values[1],
                        }
                    )
    return rows


def publish(
    merged: Merged,
    bureau: Bureau,
    findings: list[Finding],
    accepted: list[Accepted],
    outputs: Path,
    reason: str | None = None,
    key: Path | None = None,
    texts: dict | None = None,
    map=map,
) -> Publication:
    """Publish the year's release as a new version, unless it equals the live one; with `key`,
    sign its manifest. `map` renders the reports and validates the tables (a process pool's, for a
    large bureau).

    Nothing published is removed or rewritten, and no version number is given twice: a new version
    comes after every number the catalog lists or the live one has (after a rollback of `latest`
    too), and past any folder or zip left by a run that died before switching to it, unless that is
    byte for byte the version this run makes, whose publication this run then completes.

    When last year has a live release, the HTML reports link to the comparison with it, which
    _catalogued writes (the link is in the release: a year published before its last year gets
    it in its next version)."""
    from flows.release.comparison import link_from_report  # here: comparison writes with this module's helpers

    year = merged.bureau.year
    year_folder = places.year_folder(outputs, year)
    latest = live_release(outputs, year)
    _tidy(year_folder)
    compared = link_from_report(outputs, year)
    build = partial(build_package, merged, bureau, findings, accepted, texts=texts, map=map, compared=compared)
    if latest is None:
        return _catalogued(_write_next(build, year_folder, _published(outputs, year), True, key, map), bureau)
    _link_latest(year_folder, latest.name)  # restored from the catalog, if the link was lost
    current, meta = latest.name, _meta_of(latest)
    if _submissions_differ(merged, latest):  # then so does the release, whatever else does: no need to compare
        tables = table_hashes(merged, bureau)
    else:
        again = _sealed(
            build(
                version=current,
                changes=_changes_of(latest),
                reason=meta.get("reason"),
                previous_version=meta.get("previous_version"),
            ),
            key,
        )
        if _same_release(again, latest):
            return _catalogued(Publication(latest, current, new=False), bureau)
        tables = again.sha256
    figures_changed = any(tables.get(name) != _sha256_of(latest / name) for name in TABLE_FILES)
    _, old = load_release(latest)
    build = partial(build, changes=changed_cells(old, merged), reason=reason, previous_version=current)
    return _catalogued(_write_next(build, year_folder, _published(outputs, year), figures_changed, key, map), bureau)


def _published(outputs: Path, year: int) -> list[str]:
    """The versions of `year` ever published: listed in the catalog, or live; oldest first."""
    listed = {str(r["version"]) for r in catalog_releases(outputs) or [] if int(r["year"]) == year}
    live = live_release(outputs, year)
    return sorted(listed | ({live.name} if live else set()), key=version_key)


class NotVerified(Exception):
    """The release as written fails a verification `nianbao verify` would fail it on: not published
    (the CLI says so in one line, exit 1, with the check reports written)."""


def _verified(staging: Path, version: str, key: Path | None, map=map, started: Started | None = None) -> None:
    """NotVerified, in one line naming each verification failed and its first problems, unless the
    staged release passes what publication verifies (flows.release.verify.verify_staged)."""
    failed = [v for v in verify_staged(staging, key, map, started) if not v.passed]
    if failed:
        said = "；".join(
            f"「{v.name}」：{'；'.join(v.problems[:3])}" + ("……" if len(v.problems) > 3 else "") for v in failed
        )
        raise NotVerified(
            f"未发布 {version}，latest 未改动：发布前核验未通过：{' '.join(said.split())}；请修正后重新运行 nianbao run"
        )


class _VersionTaken(Exception):
    """A version's folder or zip is on disk (never published) and differs from this run's."""


def _write_next(build, year_folder: Path, published: list[str], figures_changed: bool, key: Path | None, map=map):
    """Write the version after the newest published one; past a number whose leftovers differ."""
    version = next_version(published[-1], figures_changed) if published else FIRST_VERSION
    while True:
        try:
            return _write(partial(build, version=version), year_folder, version, key, map)
        except _VersionTaken:
            version = next_version(version, figures_changed)


# What a run writes aside in outputs/<year>/ before moving it into place: the only names a run removes.
_STAGING = re.compile(r"\.\d+\.\d+\.\d+\.(?:[a-z0-9_]{8}|zip\.partial)|\.latest\.new")


def _tidy(year_folder: Path) -> None:
    """Remove what a run killed midway left aside. Versions, even one written in full but never
    switched to, and anything else in the folder (.htaccess, .well-known/) stay."""
    for path in year_folder.iterdir() if year_folder.is_dir() else ():
        if _STAGING.fullmatch(path.name):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _link_latest(year_folder: Path, version: str) -> None:
    """Point `latest` at `version`, atomically (publishing is this switch)."""
    link = year_folder / places.LATEST
    if link.is_symlink() and os.readlink(link) == version:
        return
    temporary = year_folder / f".{places.LATEST}.new"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(version)
    os.replace(temporary, link)


def _catalogued(publication: Publication, bureau: Bureau) -> Publication:
    """The publication, with the catalog, the panel and the comparisons with the years before and
    after updated; what cannot be written does not undo what was published, and is said."""
    from flows.release.comparison import written_beside  # here: these read releases with this module's helpers
    from flows.release.panel import write_panel

    outputs = publication.path.parent.parent
    try:
        write_catalog(outputs, bureau)
        write_panel(outputs)  # every year and version the catalog now lists
    except (OSError, NoLiveRelease) as error:
        return replace(publication, catalog_problem=f"catalog.json 未更新：{error}")
    try:
        written_beside(outputs, int(publication.path.parent.name))
    except (OSError, PreviousYearError) as error:
        return replace(publication, catalog_problem=f"{outputs / 'compare'} 中与相邻年度的对比页未更新：{error}")
    return publication


def write_catalog(outputs: Path, bureau: Bureau) -> None:
    """catalog.json and catalog.jsonld (DCAT-AP) in `outputs`: every version ever published, with
    the live one of each year marked. A version stays listed once listed; one written but never
    switched live is not listed. Without a catalog (a first run, or one lost), every complete
    version on disk is listed. Written under outputs/.catalog.lock: runs of two years share it."""
    outputs = Path(outputs)
    with _catalog_lock(outputs):
        for aside in outputs.glob(".catalog.json*.*"):  # left by a run killed while writing
            if _CATALOG_ASIDE.fullmatch(aside.name):
                aside.unlink()
        listed = catalog_releases(outputs)
        years = sorted(int(p.name) for p in outputs.iterdir() if p.name.isdigit() and p.is_dir())
        live = {year: release.name for year in years if (release := live_release(outputs, year))}
        wanted = {(int(r["year"]), str(r["version"])) for r in listed or []} | set(live.items())
        if listed is None:
            wanted |= {(year, version) for year in years for version in complete_versions(outputs, year)}
        descriptors, releases = [], []
        for year, version in sorted(wanted, key=lambda pair: (pair[0], version_key(pair[1]))):
            path = places.year_folder(outputs, year) / version / "datapackage.json"
            if not path.is_file():
                raise NoLiveRelease(f"catalog.json 列出的 {year} 年度版本 {version} 不在 {path.parent}：请从备份恢复它")
            descriptor = json.loads(path.read_text("utf-8"))
            descriptors.append(descriptor)
            releases.append(
                {
                    "year": year,
                    "version": version,
                    "created": descriptor["created"],
                    "path": f"{year}/{version}/datapackage.json",
                    "zip": f"{year}/{version}.zip",
                    "latest": live.get(year) == version,
                }
            )
        catalog = {
            "name": bureau.id,
            "title": f"{bureau.name}政府信息公开工作年度报告统计数据",
            "dcat": places.CATALOG_DCAT,
            "releases": releases,
        }
        for name, content in (
            (places.CATALOG, (json.dumps(catalog, ensure_ascii=False, indent=1) + "\n").encode("utf-8")),
            (places.CATALOG_DCAT, catalog_jsonld(descriptors, bureau, base_url(bureau), live)),
        ):
            replace_file(outputs / name, content)


_CATALOG_ASIDE = re.compile(r"\.catalog\.jsonl?d?\.[a-z0-9_]{8}")


@contextmanager
def _catalog_lock(outputs: Path):
    with open(outputs / ".catalog.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a few milliseconds: wait for the other year's run
        yield


def replace_file(path: Path, content: bytes) -> None:
    """Write `path` aside under a name of its own, then move it into place: a reader sees the old
    file or the new one, with the mode the user's umask gives."""
    with replacing(path) as out:
        out.write(content)


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """replace_file, for content written as it is made: the file to write, moved into place when
    the block ends, removed if it fails."""
    handle, aside = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~umask())  # mkstemp makes it 0600: the web server could not read it
        with os.fdopen(handle, "wb") as out:
            yield out
        os.replace(aside, path)
    except BaseException:
        Path(aside).unlink(missing_ok=True)
        raise


_UMASK_LOCK = threading.Lock()


def umask() -> int:
    """The process's umask: what the release's folders and files get, as any file the user makes.
    Read from /proc where Linux says it; elsewhere os.umask can only read it by setting it, for the
    whole process, so it is set to the strictest meanwhile (a file another thread makes then is
    private, never open to all) and under a lock (two readers would restore each other's)."""
    with suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _sealed(files: PackageFiles, key: Path | None) -> PackageFiles:
    """The files with their manifest of hashes, and its signature when a key is given."""
    manifest = manifest_bytes(files.sha256)
    files[MANIFEST] = manifest
    if key is not None:
        files[SIGNATURE] = sign(manifest, key)
    return files


def _submissions_differ(merged: Merged, release: Path) -> bool:
    """Whether the published `release` was made from other submitted files than `merged` (each
    unit's SHA-256, as its submissions.csv lists them), and so differs from what this run makes:
    then the release need not be built a first time in memory to be compared (3–15 s of a
    10,000-department bureau's re-run after one workbook changed). False when its submissions.csv
    does not tell."""
    try:
        with open(release / "data" / "submissions.csv", encoding="utf-8", newline="") as handle:
            published = sorted((row["unit_id"], row["sha256"]) for row in csv.DictReader(handle))
    except (OSError, KeyError, UnicodeDecodeError, csv.Error):
        return False
    return published != sorted((r.unit, r.sha256 or "") for r in merged.departments if r.file is not None)


def _same_release(files: PackageFiles, release: Path) -> bool:
    """Whether `files` are the published `release`: the same paths, manifest and signature."""
    published = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    return published == set(files.sha256) and all(
        files.sha256[name] == _sha256_of(release / name) for name in (MANIFEST, SIGNATURE) if name in published
    )


def _sha256_of(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _changes_of(release: Path) -> list[dict]:
    with open(release / "data" / "changes.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _meta_of(release: Path) -> dict:
    return json.loads((release / "datapackage.json").read_text("utf-8")).get("nianbao", {})


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
COMPRESSED = (".docx", ".xlsx", ".xlsm", ".zip")  # stored as they are: deflating them again gains nothing


class ReleaseZip:
    """The release as one zip, its files at the zip's root (datapackage.json there, so that the zip
    is the Data Package: `frictionless validate <version>.zip` and frictionless.Package open it;
    zips published earlier hold them under <version>/, which verify still accepts), each file
    added as soon as it is complete (the flow's process zips the tables and cells while the workers
    still render the documents), in the order the release writes them and with fixed timestamps:
    the same files always give the same bytes."""

    def __init__(self, target: Path):
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        stamp = datetime.fromtimestamp(int(epoch), UTC).timetuple()[:6] if epoch else ZIP_EPOCH
        self.stamp = max(stamp, ZIP_EPOCH)
        self.archive = zipfile.ZipFile(target, "w")

    def _info(self, name: str, size: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_STORED if Path(name).suffix.lower() in COMPRESSED else zipfile.ZIP_DEFLATED
        # Deflate level 1: a third of the default's time for a few percent more bytes (cells.csv
        # of ten thousand departments is 340 MB). ZipFile.open takes the level only from here.
        info._compresslevel = 1  # type: ignore[attr-defined]  # private (3.11), so typeshed leaves it out
        info.external_attr = 0o644 << 16
        info.file_size = size
        return info

    def add_bytes(self, name: str, content: bytes) -> None:
        with self.archive.open(self._info(name, len(content)), "w") as entry:
            entry.write(content)

    def add_file(self, name: str, path: Path) -> None:
        with open(path, "rb") as source, self.archive.open(self._info(name, path.stat().st_size), "w") as entry:
            shutil.copyfileobj(source, entry, 1 << 20)

    def close(self) -> None:
        self.archive.close()


def _write(build, year_folder: Path, version: str, key: Path | None, map=map) -> Publication:
    """Build the version aside (build(files=…) writes each file as it is made), move it into
    place, then switch `latest`: a run killed at any point leaves `latest` on the previous
    release, untouched, and nothing half-written under a version's name. Where a run died after
    moving this version's folder or zip into place but before the switch, what it left is kept:
    if it is what this run built, byte for byte, the publication is completed with it; otherwise
    _VersionTaken."""
    target, zipped = year_folder / version, year_folder / f"{version}.zip"
    if (target.exists() and not (target / MANIFEST).is_file()) or (zipped.exists() and not zipped.is_file()):
        raise _VersionTaken(version)  # no leftover of a publication: not this run's to complete
    year_folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=year_folder))
    os.chmod(staging, 0o777 & ~umask())  # mkdtemp makes it 0700: the web server could not enter it
    partial_zip = year_folder / f".{version}.zip.partial"
    archive = None
    try:
        archive = ReleaseZip(partial_zip)
        files = _sealed(build(files=PackageFiles(staging, archive)), key)
        archive.close()
        # Before anything is moved into place: a failure leaves no trace.
        _verified(staging, version, key, map, files.started)
        if target.exists() and _hashes(target) != _hashes(staging):
            raise _VersionTaken(version)
        if zipped.exists() and _sha256_of(zipped) != _sha256_of(partial_zip):
            raise _VersionTaken(version)
        if target.exists():  # the same files are in place already
            shutil.rmtree(staging)
        else:
            staging.rename(target)
        if zipped.exists():
            partial_zip.unlink()
        else:
            os.replace(partial_zip, zipped)
    except BaseException:
        if archive is not None:
            with suppress(Exception):  # the zip is half-written and removed next: only its file is closed
                archive.close()
        shutil.rmtree(staging, ignore_errors=True)
        partial_zip.unlink(missing_ok=True)
        raise
    _link_latest(year_folder, version)
    return Publication(target, version, new=True)


def _hashes(folder: Path) -> dict[str, str | None]:
    """Every file under `folder` by its path, with its SHA-256."""
    return {p.relative_to(folder).as_posix(): _sha256_of(p) for p in sorted(folder.rglob("*")) if p.is_file()}
