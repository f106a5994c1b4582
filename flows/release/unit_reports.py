"""`nianbao report`: a unit's annual report, HTML and Word, rendered on demand from a release.

A release renders the bureau's own report only (package._reports says why); a department's or a
child bureau's is made here from what the release publishes: its figures (the three tables), its
name (data/units.csv, the bureau's row included), its text (report/<unit>.md) and the release's date
(datapackage.json's `created`), by the very functions publication uses, so that the bureau's report
made here is its release's byte for byte (the comparison link aside: see link_from_reports).

Nothing is rendered from bytes the release does not vouch for: MANIFEST.sha256 names the SHA-256 of
datapackage.json and of the texts (which are no resources), datapackage.json those of the tables.
Each file is read once, held to its hash, and parsed from the bytes that matched, so a file changed
meanwhile cannot slip in between. The manifest's own signature is `nianbao verify --key`'s to check.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from flows.documents.annual_report import render_docx, render_html
from flows.format.report import Report
from flows.format.text import ReportText, parse_sections
from flows.intake.previous import PreviousYearError, load_release
from flows.release.sign import MANIFEST, parse_manifest
from flows.release.untrusted import Outside, Refused, inside, opened

TABLES = ("proactive_disclosure", "applications", "review_litigation")
SHOWN = 5  # units named when one asked for is not in the release
CHUNK = 25  # units a worker renders per job (~0.2 s of work)
# Fewer units than this are rendered here. A unit's two documents take about 7 ms of one core, a
# worker's start (spawned, its imports, the Word template compiled) about 1.5 s: with two cores,
# workers pay for themselves from some 500 units (1,000 units measured: 6.5 s of one core here).
IN_PROCESS = 500


class NotARelease(Exception):
    """What was named is no release (missing, no datapackage.json, not a zip): a wrong call."""


class NotVouched(Exception):
    """The release cannot be rendered from: a file that does not match its hash, cannot be read
    safely, or a unit it does not hold. The message, one line in Chinese, names the file or unit."""


@dataclass(frozen=True)
class UnitJob:
    """What a worker needs to render one unit's two documents into `out`."""

    report: Report
    name: str
    text: ReportText | None
    created: datetime
    out: Path
    compared: str | None


@dataclass(frozen=True)
class Rendered:
    """The release's year, version and bureau, the folder written, and each unit's two files there."""

    year: int
    version: str
    bureau: str
    out: Path
    files: tuple[tuple[str, Path, Path], ...]  # (unit, html, docx)


def link_from_reports(outputs: Path, year: int) -> str | None:
    """The link from places.reports_folder to the comparison of last year's live release with this year's,
    when that page exists (publication writes it when last year has a live release): relative, so it
    holds where outputs/ is served and on disk. A release's own report/ is one level deeper and links
    by ../../../ (comparison.link_from_report)."""
    from flows.release.comparison import COMPARE, PAGE  # here: a worker process need not import it

    if not (Path(outputs) / COMPARE / f"{year - 1}-{year}" / PAGE).is_file():
        return None
    return f"../../{COMPARE}/{year - 1}-{year}/{PAGE}"


def render_reports(
    release: Path,
    out: Path | None = None,
    units: list[str] | None = None,
    compared: str | None = None,
    workers: int | None = None,
    default_out=None,
) -> Rendered:
    """Each of `units` (default: every unit of data/reports.csv) of the release at `release` (a
    folder or its zip) rendered as <unit>.html and <unit>.docx into `out` (or, when None,
    `default_out(bureau, year, version)`). `compared`: the link to last year's comparison, the
    bureau's to its top and a department's to its own part (#unit-<id>), as publication links
    them. NotARelease for no release; NotVouched, before anything is written, when a file read
    does not match its hash or a unit is not in the release."""
    release = Path(release)
    if not release.exists():
        raise NotARelease(f"找不到发布包：{release}")
    if not release.is_dir() and not _is_zip(release):
        raise NotARelease(f"{release} 既不是发布目录，也不是发布包 zip")
    try:
        with opened(release) as safe:
            year, version, bureau, jobs = _jobs(safe.folder, release, units, compared)
    except Refused as refused:
        raise NotVouched(f"{release} 无法安全读取：{refused.problems[0]}") from None
    out = Path(out) if out is not None else Path(default_out(bureau, year, version))
    jobs = [replace(job, out=out) for job in jobs]  # known once the descriptor is read
    out.mkdir(parents=True, exist_ok=True)
    return Rendered(year, version, bureau, out, tuple(_rendered(jobs, workers or os.cpu_count() or 1)))


def _is_zip(path: Path) -> bool:
    import zipfile

    return path.is_file() and zipfile.is_zipfile(path)


def _jobs(
    folder: Path, release: Path, units: list[str] | None, compared: str | None
) -> tuple[int, str, str, list[UnitJob]]:
    """Every file needed read once and held to its hash; the year, version, bureau and the jobs."""
    if not (folder / "datapackage.json").is_file():
        raise NotARelease(f"{release} 不是发布包：其中没有 datapackage.json")
    if not (folder / MANIFEST).is_file():
        raise NotVouched(f"{release} 中没有 {MANIFEST}：无从核对其文件的哈希，不据此生成报告")
    try:
        manifest = parse_manifest((folder / MANIFEST).read_bytes())
    except (OSError, ValueError) as error:
        raise NotVouched(f"{release} 的 {MANIFEST} 不可用：{error}") from None
    raw = _vouched(folder, "datapackage.json", manifest.get("datapackage.json"), MANIFEST)
    try:
        descriptor = json.loads(raw)
        meta, resources = descriptor["nianbao"], {r["name"]: r for r in descriptor["resources"]}
        year, version, bureau, created = (
            int(meta["year"]),
            str(descriptor["version"]),
            meta["bureau"],
            descriptor["created"],
        )
        # As package._start_documents dates the bureau's Word report: naive, in UTC.
        created = datetime.fromisoformat(created.replace("Z", "+00:00")).replace(tzinfo=None)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise NotVouched(
            f"{release} 的 datapackage.json 缺少生成报告所需的内容（{type(error).__name__}: {error}）"
        ) from None
    read = {
        name: _vouched(folder, _path(resources, name, release), resources[name].get("hash"), "datapackage.json")
        for name in (*TABLES, "units", "reports")
    }
    try:  # bytes that match their hashes, yet a publisher's fault may still make them unreadable
        names = {row["unit_id"]: row["name"] for row in _csv_rows(read["units"])}
        wanted = _wanted(_csv_rows(read["reports"]), units, release)
        texts = {
            row["unit_id"]: ReportText(
                row["unit_id"],
                Path(row["text"]),
                parse_sections(_vouched(folder, row["text"], manifest.get(row["text"]), MANIFEST).decode("utf-8")),
            )
            for row in wanted
            if row["text"]
        }
    except (UnicodeDecodeError, csv.Error, KeyError) as error:
        raise NotVouched(f"{release} 的单位或报告文字无法读取（{type(error).__name__}: {error}）") from None
    reports = _tables(raw, resources, read, release)
    jobs = []
    for row in wanted:
        unit = row["unit_id"]
        if unit not in reports or unit not in names:
            where = "三张表" if unit not in reports else "data/units.csv"
            raise NotVouched(f"{release} 的 data/reports.csv 列有单位 {unit}，{where}中却没有它：发布包不完整")
        # A department's report opens the comparison at its own part, the bureau's at its top.
        link = compared and (compared if unit == bureau else f"{compared}#unit-{unit}")
        jobs.append(UnitJob(reports[unit], names[unit], texts.get(unit), created, Path(), link))
    return year, version, bureau, jobs


def _path(resources: dict, name: str, release: Path) -> str:
    if name not in resources:
        raise NotVouched(f"{release} 的 datapackage.json 中没有资源 {name}（data/{name}.csv）：无法生成报告")
    return resources[name].get("path")


def _vouched(folder: Path, relative: str, expected: str | None, by: str) -> bytes:
    """The bytes of a file of the release, when their SHA-256 is the one `by` gives for it."""
    try:
        target = inside(folder, relative, "文件")
        data = target.read_bytes()
    except Outside as error:
        raise NotVouched(f"{by} 中的{error}") from None
    except OSError as error:
        raise NotVouched(f"发布包中的 {relative} 无法读取（{error.strerror or error}）：不据此生成报告") from None
    expected = (expected or "").removeprefix("sha256:")
    if not expected:
        raise NotVouched(f"发布包中的 {relative} 在 {by} 中没有 SHA-256：无从核对，不据此生成报告")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise NotVouched(
            f"发布包中的 {relative} 与 {by} 记录的 SHA-256 不符（应为 {expected[:16]}…，实为 {actual[:16]}…）："
            "它在发布后被改动过，不据此生成报告；nianbao verify 可核验整个发布包"
        )
    return data


def _csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _wanted(listed: list[dict], units: list[str] | None, release: Path) -> list[dict]:
    """The rows of data/reports.csv asked for, in the order asked (all, in the file's, by default)."""
    rows = {row["unit_id"]: row for row in listed}
    if units is None:
        return listed
    for unit in units:
        if unit not in rows:
            shown = "、".join(list(rows)[:SHOWN]) + ("……" if len(rows) > SHOWN else "")
            raise NotVouched(f"{release} 中没有单位 {unit}（其 {len(rows)} 个单位：{shown}）")
    return [rows[unit] for unit in dict.fromkeys(units)]


def _tables(descriptor: bytes, resources: dict, read: dict[str, bytes], release: Path) -> dict[str, Report]:
    """Every unit's Report, by flows.intake.previous.load_release, from the bytes that matched (set
    down in a private folder: load_release reads files)."""
    with tempfile.TemporaryDirectory(prefix="nianbao-report-") as tmp:
        (Path(tmp) / "datapackage.json").write_bytes(descriptor)
        for name in TABLES:
            target = Path(tmp) / resources[name]["path"]  # confined: _vouched read it through inside()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read[name])
        try:
            return load_release(Path(tmp))[1]
        except PreviousYearError as error:
            raise NotVouched(str(error).replace(str(Path(tmp) / "datapackage.json"), str(release))) from None


def _rendered(jobs: list[UnitJob], workers: int) -> Iterator[tuple[str, Path, Path]]:
    """Each job rendered, here or (many units) in worker processes as flows/audit.py does."""
    if workers == 1 or len(jobs) < IN_PROCESS:
        yield from map(write_unit, jobs)
        return
    # spawn, not fork: a forked child of a process holding threads may hang.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield from pool.map(write_unit, jobs, chunksize=CHUNK)
    except BaseException:  # Ctrl+C: what is not started is dropped, the workers not waited for
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def write_unit(job: UnitJob) -> tuple[str, Path, Path]:
    """A worker's job: one unit's HTML and Word report, rendered as package._unit_documents renders
    the bureau's, each written aside and moved into place (never a half file)."""
    unit = job.report.unit
    html, docx = job.out / f"{unit}.html", job.out / f"{unit}.docx"
    _replace(html, render_html(job.report, job.name, job.text, job.compared).encode("utf-8"))
    _replace(docx, render_docx(job.report, job.name, job.text, job.created))
    return unit, html, docx


def _replace(path: Path, content: bytes) -> None:
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    aside.write_bytes(content)
    os.replace(aside, path)
