"""Releases on disk: every publication of a year is a version in its own folder, never overwritten.

    outputs/<year>/<version>/       the release (a Data Package), and <version>.zip beside it
    outputs/<year>/latest           a link to the newest version: switching it publishes one

A re-run whose files equal the latest version's publishes nothing; one whose figures changed is a
new minor version, any other change a patch version, each with the cells that changed and why.
Writing is atomic: a release is written aside and moved into place, then `latest` is switched.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from flows import places
from flows.checks.accepted import Accepted
from flows.format.report import Finding, Report
from flows.format.values import format_value
from flows.intake.bureau import Bureau
from flows.intake.previous import load_release
from flows.merge import Merged
from flows.release.dcat import catalog_jsonld
from flows.release.package import TABLE_FILES, PackageFiles, base_url, build_package
from flows.release.sign import MANIFEST, SIGNATURE, manifest_bytes, sign

FIRST_VERSION = "1.0.0"


@dataclass(frozen=True)
class Publication:
    path: Path  # the version's folder
    version: str
    new: bool  # False when the inputs gave the latest version again: nothing was written


def latest_release(year_folder: Path) -> Path | None:
    link = Path(year_folder) / places.LATEST
    return link.resolve() if link.is_dir() else None


def next_version(version: str, figures_changed: bool) -> str:
    major, minor, patch = (int(p) for p in version.split("."))
    return f"{major}.{minor + 1}.0" if figures_changed else f"{major}.{minor}.{patch + 1}"


def changed_cells(old: dict[str, Report], merged: Merged) -> list[dict]:
    """Every published cell whose value differs from the previous version's, by unit."""
    new = {r.unit: r for r in (merged.bureau, *merged.departments)}
    rows = []
    for unit in sorted(set(old) | set(new)):
        before, after = old.get(unit), new.get(unit)
        edition = (after or before).edition
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
    """Publish the year's release as a new version, unless it equals the latest one; with `key`,
    sign its manifest. `map` renders the reports (a process pool's, for a large bureau)."""
    year_folder = places.year_folder(outputs, merged.bureau.year)
    latest = latest_release(year_folder)
    _tidy(year_folder, latest)
    build = partial(build_package, merged, bureau, findings, accepted, texts=texts, map=map)
    if latest is None:
        return _catalogued(_write(partial(build, version=FIRST_VERSION), year_folder, FIRST_VERSION, key), bureau)
    current, meta = latest.name, _meta_of(latest)
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
    figures_changed = any(again.sha256.get(name) != _sha256_of(latest / name) for name in TABLE_FILES)
    version = next_version(current, figures_changed)
    _, old = load_release(latest)
    build = partial(build, version=version, changes=changed_cells(old, merged), reason=reason, previous_version=current)
    return _catalogued(_write(build, year_folder, version, key), bureau)


def _tidy(year_folder: Path, latest: Path | None) -> None:
    """Remove what a run killed midway left: files written aside, and versions written but never
    switched to (publication is the switch of `latest`), which are newer than it."""
    if not year_folder.is_dir():
        return
    newest = _version_key(latest.name) if latest else (-1,)
    for path in year_folder.iterdir():
        stem = path.name.removesuffix(".zip")
        orphan = _is_version(stem) and _version_key(stem) > newest
        if path.name.startswith(".") or orphan:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _is_version(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split("."))


def _catalogued(publication: Publication, bureau: Bureau) -> Publication:
    write_catalog(publication.path.parent.parent, bureau)
    return publication


def write_catalog(outputs: Path, bureau: Bureau) -> None:
    """catalog.json and catalog.jsonld (DCAT-AP) in `outputs`: every year and version published."""
    descriptors, releases = [], []
    for path in sorted(Path(outputs).glob("*/*/datapackage.json")):
        release = path.parent
        if release.is_symlink() or not release.parent.name.isdigit():
            continue
        descriptor = json.loads(path.read_text("utf-8"))
        latest = latest_release(release.parent) == release.resolve()
        descriptors.append(descriptor)
        releases.append(
            {
                "year": int(release.parent.name),
                "version": release.name,
                "created": descriptor["created"],
                "path": f"{release.parent.name}/{release.name}/datapackage.json",
                "zip": f"{release.parent.name}/{release.name}.zip",
                "latest": latest,
            }
        )
    releases.sort(key=lambda r: (r["year"], _version_key(r["version"])))
    catalog = {
        "name": bureau.id,
        "title": f"{bureau.name}政府信息公开工作年度报告统计数据",
        "dcat": places.CATALOG_DCAT,
        "releases": releases,
    }
    for name, content in (
        (places.CATALOG, (json.dumps(catalog, ensure_ascii=False, indent=1) + "\n").encode("utf-8")),
        (places.CATALOG_DCAT, catalog_jsonld(descriptors, bureau, base_url(bureau))),
    ):
        partial = Path(outputs) / f".{name}.partial"
        partial.write_bytes(content)
        os.replace(partial, Path(outputs) / name)


def _sealed(files: PackageFiles, key: Path | None) -> PackageFiles:
    """The files with their manifest of hashes, and its signature when a key is given."""
    manifest = manifest_bytes(files.sha256)
    files[MANIFEST] = manifest
    if key is not None:
        files[SIGNATURE] = sign(manifest, key)
    return files


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
    """The release as one zip under `root/`, each file added as soon as it is complete (the flow's
    process zips the tables and cells while the workers still render the documents), in the order
    the release writes them and with fixed timestamps: the same files always give the same bytes."""

    def __init__(self, target: Path, root: str):
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        stamp = datetime.fromtimestamp(int(epoch), timezone.utc).timetuple()[:6] if epoch else ZIP_EPOCH
        self.stamp, self.root = max(stamp, ZIP_EPOCH), root
        self.archive = zipfile.ZipFile(target, "w")

    def _info(self, name: str, size: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(f"{self.root}/{name}", date_time=self.stamp)
        info.compress_type = zipfile.ZIP_STORED if Path(name).suffix.lower() in COMPRESSED else zipfile.ZIP_DEFLATED
        # Deflate level 1: a third of the default's time for a few percent more bytes (cells.csv
        # of ten thousand departments is 340 MB). ZipFile.open takes the level only from here.
        info._compresslevel = 1
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


def _write(build, year_folder: Path, version: str, key: Path | None) -> Publication:
    """Build the version aside (build(files=…) writes each file as it is made), move it into
    place, then switch `latest`: a run killed at any point leaves `latest` on the previous
    release, untouched, and nothing half-written under a version's name."""
    target = year_folder / version
    if target.exists():
        raise FileExistsError(f"{target} 已存在：已发布的版本不会被覆盖")
    year_folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=year_folder))
    partial_zip = year_folder / f".{version}.zip.partial"
    archive = None
    try:
        archive = ReleaseZip(partial_zip, version)
        _sealed(build(files=PackageFiles(staging, archive)), key)
        archive.close()
        staging.rename(target)
        os.replace(partial_zip, year_folder / f"{version}.zip")
    except BaseException:
        if archive is not None:
            with suppress(Exception):  # the zip is half-written and removed next: only its file is closed
                archive.close()
        shutil.rmtree(staging, ignore_errors=True)
        partial_zip.unlink(missing_ok=True)
        raise
    temporary = year_folder / f".{places.LATEST}.new"
    temporary.symlink_to(version)
    os.replace(temporary, year_folder / places.LATEST)
    return Publication(target, version, new=True)
