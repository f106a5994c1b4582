"""A child bureau's submission: its published release (docs/rollup.md).

A county sums its bureaus as a bureau sums its departments, but a child bureau submits the release
`nianbao run` published for it (sources/<year>/<id>.zip, or its folder <id>/), not a workbook. The
parent verifies it before anything of it is merged (flows.release.verify.verify_child: hashes,
manifest, signature with the key bureau.yaml gives, Table Schemas, rules, sums), and a release that
fails, is unsigned where a key is given, or is another year's or another unit's is that child's E4
(variant `release`), never merged: its siblings merge without it. The child's figures are its own
bureau row; each carries where it comes from (the release's version and manifest's SHA-256), which
the parent's cells.csv publishes so that `nianbao trace` can follow a figure down, level by level.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flows.checks.accepted import CARRIED, Accepted
from flows.checks.check import Checked, check_report
from flows.checks.rules import Context
from flows.format.report import Finding, Report, make_finding
from flows.intake.kept import Pack
from flows.intake.previous import PreviousYearError, load_release
from flows.release.sign import MANIFEST
from flows.release.untrusted import Refused, files_of, offline, opened
from flows.release.verify import Verification, verify_child

# A zip made of a child's release folder: fixed timestamps, so the same folder gives the same bytes
# (the parent ships them, and a re-run must find them unchanged).
FOLDER_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass
class ChildReport(Report):
    """A child bureau's figures: its bureau row in its release, with which release that is (its
    version and the SHA-256 of its MANIFEST.sha256), its level (data/units.csv), the exceptions
    its release accepted on its bureau row, and the units below it that filed a nil return (paths
    from it: b/d00003, b/c/d00007)."""

    version: str = ""
    manifest_sha256: str = ""
    level: str | None = None
    exceptions: tuple[dict, ...] = ()
    nil_returns: tuple[str, ...] = ()


def is_release(path: Path) -> bool:
    """Whether a submission is a child bureau's release (a zip or a folder), not a workbook: what
    discovery submits for a unit of kind bureau (flows.intake.bureau)."""
    return Path(path).is_dir() or Path(path).suffix.lower() == ".zip"


def release_bytes(path: Path) -> bytes:
    """The release as one zip's bytes: the zip as submitted, or its folder zipped (files sorted,
    fixed timestamps, stored); Refused for a folder holding what no release may (a symlink)."""
    path = Path(path)
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in files_of(path.resolve()):
            info = zipfile.ZipInfo(name, date_time=FOLDER_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, (path / name).read_bytes())
    return buffer.getvalue()


def check_child(
    path: Path,
    year: int,
    unit: str,
    name: str,
    public_key: Path | None,
    previous: Report | None,
    keep: Pack | None = None,
) -> Checked:
    """Verify a child bureau's release and read its figures, checked at the child's own level (C3,
    C4's scale) and against last year's figures of it (D1–D4; D0 without). Never raises for what
    the release holds: a release refused is the child's E4, and its Checked has no report."""
    path = Path(path)
    try:
        data = release_bytes(path)
    except (Refused, OSError) as error:
        problems = error.problems if isinstance(error, Refused) else [str(error)]
        return _refused(path, unit, name, [f"发布包无法读取：{problems[0]}"], ["the release cannot be read"])
    with tempfile.TemporaryDirectory(prefix="nianbao-child-") as tmp, offline():
        copy = Path(tmp) / f"{unit}.zip"
        copy.write_bytes(data)
        try:
            with opened(copy) as release:
                tables: dict[str, Report] = {}  # as verification read them: read once
                verifications = verify_child(release, public_key, tables)
                failed = [v for v in verifications if not v.passed]
                if failed:
                    return _refused(path, unit, name, [_said(v) for v in failed], [v.name for v in failed])
                try:
                    report, problem = _figures(release.folder, year, unit, tables)
                except (OSError, KeyError, ValueError, csv.Error) as error:  # verified, yet not as nianbao writes it
                    report, problem = None, f"发布包无法读取（{type(error).__name__}: {error}）"
        except Refused as refused:
            return _refused(path, unit, name, refused.problems[:3], ["the release is unsafe to open"])
    if report is None:
        return _refused(path, unit, name, [problem], [problem])
    report.file, report.sha256 = str(path), hashlib.sha256(data).hexdigest()
    if keep is not None:
        keep.add(report, data, path)
    context = Context(report.level, previous, unit_level=report.level or "department")
    findings = check_report(report, context)
    findings += [make_finding("E7", unit, actual=below, file=str(path)) for below in report.nil_returns]
    if previous is None:
        findings.append(make_finding("D0", unit, previous_year=year - 1))
    return Checked(path, unit, report, findings)


def _said(verification: Verification) -> str:
    more = f"等 {len(verification.problems)} 处" if len(verification.problems) > 1 else ""
    return f"“{verification.name}”未通过（{verification.problems[0]}{more}）"


def _refused(path: Path, unit: str, name: str, failed: list[str], failed_en: list[str]) -> Checked:
    finding = make_finding(
        "E4",
        unit,
        variant="release",
        file=str(path),
        unit_name=name,
        file_name=path.name,
        failed="；".join(failed),
        failed_en="; ".join(failed_en),
    )
    return Checked(path, unit, None, [finding], unreadable=finding.message)


def _figures(
    folder: Path, year: int, unit: str, reports: dict[str, Report] | None = None
) -> tuple[ChildReport | None, str]:
    """The child's bureau row of a verified release (`reports`: its tables, if read already), with
    its lineage; (None, why) when the release is another year's or another unit's."""
    descriptor = json.loads((folder / "datapackage.json").read_text("utf-8"))
    meta = descriptor["nianbao"]
    if (meta["bureau"], meta["year"]) != (unit, year):
        return None, f"它是 {meta['bureau']} 的 {meta['year']} 年度发布包，应为 {unit} 的 {year} 年度"
    if not reports:
        try:
            _, reports = load_release(folder)
        except PreviousYearError as error:
            return None, str(error)
    own = reports[unit]
    units = _csv(folder, "units")
    level = next((u["level"] or None for u in units if u["unit_id"] == unit), None)
    report = ChildReport(
        unit,
        year,
        own.edition,
        own.values,
        Report.zeros(unit, year, own.edition).provenance,
        version=str(descriptor["version"]),
        manifest_sha256=hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest(),
        level=level,
        exceptions=tuple(r for r in _csv(folder, "exceptions") if r["unit_id"] == unit),
        nil_returns=_nil_returns(folder, unit),
    )
    return report, ""


def _nil_returns(folder: Path, unit: str) -> tuple[str, ...]:
    """The units below a child that filed a nil return, as paths from it: its departments'
    (submissions.csv) and those its own children's releases hold (its E7 findings)."""
    own = [f"{unit}/{r['unit_id']}" for r in _csv(folder, "submissions") if r["file"].endswith("nil_returns.yaml")]
    below = [f"{unit}/{r['actual']}" for r in _csv(folder, "findings") if r["rule"] == "E7" and r["actual"]]
    return tuple(own + below)


def _csv(folder: Path, name: str) -> list[dict]:
    """The rows of data/<name>.csv; none when the release has no such table (units.csv came later)."""
    path = folder / "data" / f"{name}.csv"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def accepted_in_children(findings: list[Finding], checked: list[Checked]) -> list[Accepted]:
    """The parent's findings on a child's figures that the child's own release accepted (its
    exceptions.csv, on its bureau row): accepted here too, with a reason that points to the child's
    release and entry. Its E1 on its bureau row is A2, A3 or B1 here, where its row is a unit's:
    the same rule on the same figures, with the same expected and actual values."""
    children = {c.unit: c.report for c in checked if isinstance(c.report, ChildReport)}
    accepted = []
    for finding in findings:
        child = children.get(finding.unit)
        if child is None or not finding.is_error:
            continue
        for entry in child.exceptions:
            rules = CARRIED["E1"] if entry["rule"] == "E1" else (entry["rule"],)
            place = (entry["table"] or None, entry["row"] or None, entry["column"] or None)
            values = (entry["expected"] or None, entry["actual"] or None)
            if (
                finding.rule in rules
                and (finding.table, finding.row, finding.column) == place
                and (finding.expected, finding.actual) == values
            ):
                reason = f"下级机关 {child.unit} 的发布包 {child.version} 已接受（exceptions.csv，{entry['rule']}）：{entry['reason']}"
                accepted.append(
                    Accepted(finding, reason, entry["accepted_by"], entry["date"], carried_from=(child.unit,))
                )
                break
    return accepted
