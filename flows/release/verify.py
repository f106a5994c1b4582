"""Verifying a release without trusting its publisher: `nianbao verify PATH` (folder or zip).

Each verification re-derives what the release claims from what it ships: hashes and sizes, the Table
Schemas (through frictionless), the format's rules on the published tables, every bureau figure
against the sum of its department rows and of its `cells` rows, and the submitted workbooks
(re-read) against `cells`. The release may have been crafted to fool or break them: it is opened
by flows.release.untrusted (refused when unsafe), read offline, and a file the checks cannot read
fails the check that reads it, with the reason, instead of ending verify in a traceback.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

import numpy as np

from flows.checks.accepted import CARRIED
from flows.checks.check import check_report
from flows.format.edition import SCHEMAS, Edition, edition_named
from flows.format.report import Report, place
from flows.format.values import figures, format_value
from flows.intake.document import Unreadable
from flows.intake.previous import PreviousYearError, is_published_report, load_release
from flows.intake.published import read_published
from flows.intake.workbook import UnreadableWorkbook, read_workbook
from flows.release.sign import (
    MANIFEST,
    SIGNATURE,
    SigningKeyError,
    parse_manifest,
    signature_of_key,
    signature_valid,
)
from flows.release.untrusted import Opened, Outside, Refused, files_of, inside, offline, opened

CHUNK = 1 << 20
# The columns the checks read of each file they read (the statistical tables' are the edition's).
COLUMNS = {
    "cells": ("unit_id", "table", "row", "column", "value", "sheet", "cell"),
    "submissions": ("unit_id", "file", "sha256"),
    "exceptions": ("rule", "unit_id", "table", "row", "column"),
}
# Where a descriptor may name another file, which frictionless would read, or fetch when it is a URL;
# the profiles frictionless knows by name (fiscal-data-package is fetched, so it is not among them).
PACKAGE_REFERENCES, PACKAGE_PROFILES = ("profile", "profiles"), {"data-package", "tabular-data-package"}
RESOURCE_REFERENCES, RESOURCE_PROFILES = (
    ("path", "extrapaths", "schema", "dialect", "profile"),
    {"data-resource", "tabular-data-resource"},
)
STRUCTURE = "发布包自成一体：只有普通文件与目录、没有重名，datapackage.json 可读且只引用包内的文件"


class NotARelease(Exception):
    """The path is no release at all (missing, or a file that is no zip): a wrong call."""


class Malformed(Exception):
    """A file of the release that cannot be read as the format says; the message says which and why."""


@dataclass
class Verification:
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def _check(name: str) -> Callable[[Callable[..., None]], Callable[..., Verification]]:
    """A verification named `name` whose check adds problems to its result: a release crafted to break
    the check fails it, with the reason (and the problems found until then), never raises."""

    def decorate(check: Callable[..., None]) -> Callable[..., Verification]:
        @functools.wraps(check)
        def run(*args) -> Verification:
            result = Verification(name)
            try:
                check(result, *args)
            except (Malformed, Outside) as error:
                result.problems.append(str(error))
            except BrokenExecutor:  # a worker process validating tables ended: the run's fault, not the release's
                raise
            except Exception as error:  # anything else a hostile file provokes in the libraries beneath
                result.problems.append(f"核验无法完成（{type(error).__name__}: {error}）")
            return result

        return run

    return decorate


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


_READ: ContextVar[dict | None] = ContextVar("_READ", default=None)  # see _verify_release


def _rows(folder: Path, name: str) -> list[dict]:
    """The rows of data/<name>.csv (read once in a release's verification: cells.csv is read by
    three checks and has 2 million rows for 10,000 departments); Malformed when it is missing,
    unreadable, lacks a column the checks read or has a row of more or fewer fields than its header."""
    read = _READ.get()
    if read is None:
        return _read_rows(folder, name)
    if (folder, name) not in read:
        try:
            read[(folder, name)] = _read_rows(folder, name)
        except Malformed as error:
            read[(folder, name)] = error
    rows = read[(folder, name)]
    if isinstance(rows, Malformed):
        raise rows
    return rows


def _read_rows(folder: Path, name: str) -> list[dict]:
    path, rows = f"data/{name}.csv", []
    try:
        with open(folder / path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            missing = [c for c in COLUMNS.get(name, ("unit_id",)) if c not in header]
            if missing:
                raise Malformed(f"{path} 缺少列 {'、'.join(missing)}")
            for row in reader:
                if len(row) != len(header):
                    if not row:  # a blank line, as csv.DictReader skips it
                        continue
                    raise Malformed(f"{path} 第 {reader.line_num} 行的列数与表头不符")
                rows.append(dict(zip(header, row, strict=True)))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise Malformed(f"{path} 无法读取（{error}）") from None
    return rows


def _position(edition: Edition, row: dict, where: str) -> tuple:
    """(layout, row index, column index) of a `cells` row; Malformed when the edition has no such cell."""
    layout = edition.tables.get(row["table"])
    r = (layout.row_index.get(row["row"]) if row["row"] else 0) if layout else None
    c = layout.column_index.get(row["column"]) if layout else None
    if layout is None or r is None or c is None:
        cell = f"{row['table']}/{row['row'] or '—'}/{row['column']}"
        raise Malformed(f"{where}：{row['unit_id']} 的单元格 {cell} 不在 {edition.code} 版格式中")
    return layout, r, c


def _decimal(row: dict) -> Decimal:
    try:
        return Decimal(row["value"] or "0")
    except InvalidOperation:
        raise Malformed(
            f"cells.csv：{row['unit_id']} {row['table']}/{row['column']} 的值 {row['value']!r} 不是数字"
        ) from None


@_check("文件的 SHA-256 与字节数与 datapackage.json 一致")
def verify_hashes(result: Verification, folder: Path, descriptor: dict) -> None:
    for resource in descriptor["resources"]:
        where = resource["path"]
        target = inside(folder, where, f"资源 {resource.get('name')} 的 path")
        if not target.is_file():
            result.problems.append(f"{where}：文件缺失")
            continue
        algorithm, _, expected = str(resource.get("hash", "")).partition(":")
        actual = _sha256(target)
        if algorithm != "sha256" or not expected:
            result.problems.append(f"{where}：datapackage.json 中没有 sha256 哈希（hash 为 {resource.get('hash')!r}）")
        elif actual != expected:
            result.problems.append(f"{where}：SHA-256 应为 {expected}，实为 {actual}")
        size = target.stat().st_size
        if resource.get("bytes") != size:
            result.problems.append(f"{where}：应为 {resource.get('bytes')} 字节，实为 {size} 字节")


@_check("每个资源符合其 Table Schema（frictionless）")
def verify_schemas(result: Verification, folder: Path, descriptor: dict) -> None:
    import frictionless  # only here: it is slow to import and verify is its only runtime user

    _frictionless_problems(result, frictionless.validate(str(folder / "datapackage.json")), descriptor)


@_check("各表格（cells 除外）符合其 Table Schema（frictionless）")
def verify_table_schemas(
    result: Verification, folder: Path, descriptor: dict, map=map, started: Started | None = None
) -> None:
    """verify_schemas on the tabular resources but cells (see verify_staged), the package as
    frictionless validates it, then the tables by `map` (a process pool's, for a large bureau), a
    share at a time (_shares): the largest first, to share them out. The tables `started` validating
    as they were written are not validated again if the descriptor gives them as they were then."""
    import frictionless

    tables = _staged_tables(descriptor)
    chosen = {**descriptor, "resources": tables}
    try:
        package = frictionless.Package(chosen, basepath=str(folder))
        package.to_descriptor(validate=True)  # as Package.validate starts
    except frictionless.FrictionlessException as error:
        _frictionless_problems(result, frictionless.Report.from_validation(errors=error.to_errors()), chosen)
        return
    reports = _started_reports(started, chosen) if started else {}
    rest = [i for i in range(len(tables)) if i not in reports]
    shares = [
        [rest[j] for j in share]
        for share in _shares([tables[i] for i in rest], [_size(folder, tables[i]) for i in rest])
    ]
    names = [[tables[i]["name"] for i in share] for share in shares]
    if len(shares) <= 1:  # nothing to share out: the package just opened validates them, here
        found = [_validated(package, share) for share in names]
    else:
        packages = [_with_references(chosen, [tables[i] for i in share]) for share in shares]
        found = map(_tables_report, [str(folder)] * len(shares), packages, names)
    reports |= dict(zip([i for share in shares for i in share], [r for rs in found for r in rs], strict=True))
    report = frictionless.Report.from_validation_reports(
        time=0, reports=[frictionless.Report.from_descriptor(reports[i]) for i in range(len(tables))]
    )
    _frictionless_problems(result, report, chosen)


# frictionless checks some 30,000 rows a second, and opens each table in some 10 ms whatever its
# size (its metadata validated and copied again): a table of this many bytes or more is validated
# on its own, by a worker of its own; the smaller ones together, in one package (a county's nine
# tables cost 0.15 s so, 0.18–0.20 s one by one).
ALONE_BYTES = 1 << 20


def _shares(tables: list[dict], sizes: list[int]) -> list[list[int]]:
    """The tables (by index), largest first, in shares to validate: each large one alone, then the
    small ones together."""
    order = sorted(range(len(tables)), key=lambda i: -sizes[i])
    small = [i for i in order if sizes[i] < ALONE_BYTES]
    return [[i] for i in order if sizes[i] >= ALONE_BYTES] + ([small] if small else [])


class Started(NamedTuple):
    """The large tables of a release being written, handed to `map` as soon as each was complete
    (start_validating): each share's package as frictionless was given it, and the reports to come."""

    packages: list[dict]
    names: list[list[str]]
    reports: Iterator[list[dict]]


def start_validating(folder: Path, package: dict, map=map) -> Started:
    """The tables of `package` (a release's descriptor so far: its `$schema` and the resources
    written) that are validated alone (_shares), handed to `map` now: a large bureau's worker
    processes have finished its documents while this process still writes cells.csv, the copies and
    the zip, and the largest table, validated after them, held the end of the run (the last 8 s of
    a 10,000-department run's 47). Each with the resources its foreign keys refer to, as
    verify_table_schemas would give it: it takes these reports only if the finished descriptor
    gives the same package. The files are written once and never again, so these are their bytes."""
    package = json.loads(json.dumps(package))  # as the descriptor is read back: nothing shared with the writer
    tables = _staged_tables(package)
    sizes = [_size(folder, t) for t in tables]
    shares = [share for share in _shares(tables, sizes) if sizes[share[0]] >= ALONE_BYTES]
    packages = [_with_references(package, [tables[i] for i in share]) for share in shares]
    names = [[tables[i]["name"] for i in share] for share in shares]
    return Started(packages, names, map(_tables_report, [str(folder)] * len(shares), packages, names))


def _started_reports(started: Started, package: dict) -> dict[int, dict]:
    """The reports `started` brings, by the table's index among `package`'s resources, for the shares
    the package gives as they were validated; a share frictionless could not open is validated
    again, and the words are then verify_table_schemas's."""
    import frictionless

    index = {t.get("name"): i for i, t in enumerate(package["resources"])}
    found: dict[int, dict] = {}
    try:
        for given, names, reports in zip(started.packages, started.names, started.reports, strict=True):
            share = [index[name] for name in names if name in index]
            if len(share) == len(names) and given == _with_references(
                package, [package["resources"][i] for i in share]
            ):
                found |= dict(zip(share, reports, strict=True))
    except frictionless.FrictionlessException:
        pass
    return found


def _staged_tables(descriptor: dict) -> list[dict]:
    """The resources of a release that publication validates with frictionless (see STAGED_SKIPS)."""
    return [r for r in descriptor["resources"] if r.get("type") == "table" and r.get("name") not in STAGED_SKIPS]


def _size(folder: Path, resource: dict) -> int:
    path = folder / str(resource.get("path", ""))
    return path.stat().st_size if path.is_file() else 0


def _with_references(package: dict, tables: list[dict]) -> dict:
    """The package with `tables` and the tables their foreign keys refer to: no other resource, and
    none of the package's own metadata (validated once, by verify_table_schemas), which frictionless
    would validate again for each share, and which lists every department twice (sources,
    contributors): 7 of the 25 s of CPU the tables of 10,000 departments took."""
    referred = set()
    for table in tables:
        keys = table.get("schema", {}).get("foreignKeys", []) if isinstance(table.get("schema"), dict) else None
        if not isinstance(keys, list):
            return package  # frictionless says what is wrong with it
        referred |= {
            k["reference"].get("resource") for k in keys if isinstance(k, dict) and isinstance(k.get("reference"), dict)
        }
    others = [r for r in package["resources"] if all(r is not t for t in tables) and r.get("name") in referred]
    return {k: package[k] for k in ("$schema", "profile") if k in package} | {"resources": [*tables, *others]}


def _tables_report(folder: str, descriptor: dict, names: list[str]) -> list[dict]:
    """frictionless's report on each table `names` of the package (its others are what their foreign
    keys refer to), as Package.validate(name=…) makes it, the package opened once."""
    import frictionless

    return _validated(frictionless.Package(descriptor, basepath=folder), names)


def _validated(package, names: list[str]) -> list[dict]:
    return [package.get_resource(name).validate().to_descriptor() for name in names]


def _frictionless_problems(result: Verification, report, descriptor: dict) -> None:
    # An error of the package itself (two resources of one name, say) stops frictionless before it
    # validates any resource: its report then holds no task and no error of a resource.
    for error in report.errors:
        result.problems.append(f"datapackage.json：{error.message}")
    for task in report.tasks:
        for error in task.errors:
            row = getattr(error, "row_number", None)
            result.problems.append(f"{task.name}" + (f" 第 {row} 行" if row else "") + f"：{error.message}")
    listed = len(descriptor["resources"])
    if len(report.tasks) != listed:
        result.problems.append(f"frictionless 核验了 {len(report.tasks)} 个资源，datapackage.json 列出 {listed} 个")


@_check("报送文件与 submissions.csv 的 SHA-256 一致")
def verify_submissions(result: Verification, folder: Path) -> None:
    for row in _rows(folder, "submissions"):
        try:
            target = inside(folder, row["file"], f"submissions.csv 中 {row['unit_id']} 的文件")
        except Outside as error:
            result.problems.append(str(error))
            continue
        if not target.is_file():
            result.problems.append(f"{row['file']}：文件缺失")
            continue
        actual = _sha256(target)
        if actual != row["sha256"]:
            result.problems.append(f"{row['file']}（{row['unit_id']}）：SHA-256 应为 {row['sha256']}，实为 {actual}")


@_check("已发布的表格符合格式的各项规则（已接受的例外除外）")
def verify_rules(result: Verification, reports: dict[str, Report], folder: Path) -> None:
    # A bureau's accepted E1 is its A2, A3 or B1 here: E1 is those rules run on its summed figures
    # (rules.rule_e1), which check_report runs as A2, A3, B1.
    accepted = {
        (rule, r["unit_id"], r["table"], r["row"] or None, r["column"] or None)
        for r in _rows(folder, "exceptions")
        for rule in (CARRIED["E1"] if r["rule"] == "E1" else (r["rule"],))
    }
    for unit, report in sorted(reports.items()):
        for f in check_report(report):
            if f.is_error and (f.rule, f.unit, f.table, f.row, f.column) not in accepted:
                result.problems.append(f"[{unit}] {f.rule} {f.message}")


@_check("本机关每个数字等于各部门之和，也等于 cells.csv 中对应各行之和")
def verify_bureau_sums(result: Verification, reports: dict[str, Report], bureau_id: str, folder: Path) -> None:
    bureau = reports.get(bureau_id)
    if bureau is None:
        result.problems.append(f"表格中没有本机关（{bureau_id}）的行")
        return
    departments = [r for u, r in reports.items() if u != bureau_id]
    cells: defaultdict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row in _rows(folder, "cells"):
        cells[(row["table"], row["row"], row["column"])] += _decimal(row)
    for code, layout in bureau.edition.tables.items():
        summed = sum((d.values[code] for d in departments), np.zeros_like(bureau.values[code]))
        for r, c in layout.cells:
            column = layout.columns[c]
            where = place(layout, r, c)
            figure = int(bureau.values[code][r, c])
            if int(summed[r, c]) != figure:
                result.problems.append(
                    f"{where}：本机关 {format_value(figure, column)}，各部门之和 {format_value(int(summed[r, c]), column)}"
                )
            row_code = layout.rows[r].code if len(layout.rows) > 1 else ""
            in_cells = cells[(code, row_code, column.code)]
            if in_cells != Decimal(format_value(figure, column)):
                result.problems.append(f"{where}：本机关 {format_value(figure, column)}，cells.csv 之和 {in_cells}")


@_check("重新读取报送文件，每个单元格与 cells.csv 一致")
def verify_cells_against_workbooks(result: Verification, reports: dict[str, Report], folder: Path, year: int) -> None:
    by_unit = defaultdict(list)
    for row in _rows(folder, "cells"):
        by_unit[row["unit_id"]].append(row)
    for submission in _rows(folder, "submissions"):
        unit = submission["unit_id"]
        try:
            path = inside(folder, submission["file"], f"submissions.csv 中 {unit} 的文件")
        except Outside as error:
            result.problems.append(str(error))
            continue
        if path.name == "nil_returns.yaml":
            reread = None  # a nil return: every figure 0
        elif (
            path.suffix == ".zip"
        ):  # a child bureau's release (docs/rollup.md): verified in full, down to its workbooks
            result.problems += _child_release_problems(path, unit, year, by_unit.pop(unit, []))
            continue
        else:
            try:
                reread = _reread(path, year, unit)
            except (UnreadableWorkbook, Unreadable, OSError) as error:
                result.problems.append(f"{submission['file']}：无法读取（{error}）")
                continue
        base = reread or reports.get(unit)
        if base is None:
            result.problems.append(f"{submission['file']}：{unit} 不在表格中")
            continue
        for row in by_unit.pop(unit, []):
            try:
                layout, r, c = _position(base.edition, row, "cells.csv")
            except Malformed as error:
                result.problems.append(str(error))
                continue
            value = format_value(int(reread.values[row["table"]][r, c]), layout.columns[c]) if reread else "0"
            source = reread.source(row["table"], r, c) if reread else None
            where = f"{submission['file']} {place(layout, r, c)}"
            if value != row["value"]:
                result.problems.append(f"{where}：文件中为 {value}，cells.csv 为 {row['value']}")
            if source is None or reread is None:
                continue
            # A published report's figure stands at a place in words, which cells.csv gives.
            cell = (reread.places or {}).get((source.sheet, source.cell), source.cell)
            if (source.sheet, cell) != (row["sheet"], row["cell"]):
                result.problems.append(
                    f"{where}：文件中位于 {source.sheet}!{cell}，cells.csv 记为 {row['sheet']}!{row['cell']}"
                )
    for unit in by_unit:
        result.problems.append(f"cells.csv 中的 {unit} 没有对应的报送文件")


def _child_release_problems(path: Path, unit: str, year: int, rows: list[dict]) -> list[str]:
    """A child bureau's release shipped in its parent's release, verified as `nianbao verify` does
    (its own children's releases too, down to the workbooks), and its cells rows held to it: the
    child's bureau and year, its version and manifest's SHA-256, and each figure of its bureau row."""
    name = f"{path.parent.name}/{path.name}"
    try:
        with opened(path) as child:
            failed = [v for v in _verify_release(child, None, named=False) if not v.passed]
            problems = [f"{name}（{unit}）：{v.name}：{v.problems[0]}" for v in failed]
            if failed:
                return problems
            descriptor, _ = _descriptor(child.folder)
            meta, manifest = descriptor["nianbao"], _sha256(child.folder / MANIFEST)
            _, reports = load_release(child.folder)
    except Refused as refused:
        return [f"{name}（{unit}）：{p}" for p in refused.problems]
    if (meta["bureau"], meta["year"]) != (unit, year):
        return [f"{name}：是 {meta['bureau']} 的 {meta['year']} 年度发布包，应为 {unit} 的 {year} 年度"]
    report = reports[unit]
    for row in rows:
        layout, r, c = _position(report.edition, row, "cells.csv")
        value = format_value(int(report.values[row["table"]][r, c]), layout.columns[c])
        pinned = (row.get("release_version"), row.get("release_manifest_sha256"))
        if value != row["value"]:
            problems.append(f"{name} {place(layout, r, c)}：发布包中为 {value}，cells.csv 为 {row['value']}")
        if pinned != (descriptor.get("version"), manifest):
            problems.append(
                f"{name} {place(layout, r, c)}：cells.csv 记为版本 {pinned[0]}（清单 {pinned[1]}），"
                f"发布包为版本 {descriptor.get('version')}（清单 {manifest}）"
            )
    return problems


def _reread(path: Path, year: int, unit: str) -> Report:
    """A shipped submission read again: a workbook, or a back-filled year's published report."""
    if is_published_report(path):
        return read_published(path, year, unit).report
    return read_workbook(path, year, unit)[0]


@_check("各部门的表格行与 cells.csv 一致")
def verify_departments_match_cells(
    result: Verification, reports: dict[str, Report], bureau_id: str, folder: Path
) -> None:
    positions: dict[tuple[str, str, str], tuple] = {}  # as _position finds them, looked up at once
    texts: dict[str, dict[str, list[str]]] = {}  # unit → table → its cells' published texts (figures)
    seen = set()
    for row in _rows(folder, "cells"):
        unit = row["unit_id"]
        report = reports.get(unit)
        if report is None:
            result.problems.append(f"cells.csv 的 {unit} 不在表格中")
            continue
        key = (row["table"], row["row"], row["column"])
        found = positions.get(key)
        if found is None:
            try:
                layout, r, c = _position(report.edition, row, "cells.csv")
            except Malformed as error:
                result.problems.append(str(error))
                continue
            found = positions[key] = (layout, r, c, layout.cell_index.get((r, c)))
        layout, r, c, i = found
        seen.add((unit, layout.code, r, c))
        if i is None:  # no cell of the template: nothing the figures hold
            value = format_value(int(report.values[layout.code][r, c]), layout.columns[c])
        else:
            if unit not in texts:
                texts[unit] = {code: figures(report.values[code], t) for code, t in report.edition.tables.items()}
            value = texts[unit][layout.code][i]
        if value != row["value"]:
            result.problems.append(f"{unit} {place(layout, r, c)}：表格为 {value}，cells.csv 为 {row['value']}")
    for unit, report in reports.items():
        if unit == bureau_id:
            continue
        for code, layout in report.edition.tables.items():
            missing = sum((unit, code, r, c) not in seen for r, c in layout.cells)
            if missing:
                result.problems.append(f"{unit} 表{layout.heading[0]}：{missing} 个单元格在 cells.csv 中缺失")


@_check("每张表中每个单位的各行齐全且不重复")
def verify_rows_complete(result: Verification, reports: dict[str, Report], folder: Path) -> None:
    """Each table has each unit's rows exactly once (a missing row would read as zeros)."""
    edition = next(iter(reports.values())).edition
    for code, layout in edition.tables.items():
        expected = [row.code for row in layout.rows] if len(layout.rows) > 1 else [""]
        seen: defaultdict[tuple[str, str], int] = defaultdict(int)
        for row in _rows(folder, code):
            seen[(row["unit_id"], row.get("row", ""))] += 1
        for unit in sorted(reports):
            for row_code in expected:
                count = seen[(unit, row_code)]
                if count != 1:
                    what = "缺少" if count == 0 else f"重复 {count} 次"
                    result.problems.append(
                        f"{code}.csv：{unit} {what}" + (f"行 {row_code}" if row_code else "其唯一一行")
                    )


@_check("每个文件与 MANIFEST.sha256 中的哈希一致，没有多出或缺少的文件")
def verify_manifest(result: Verification, folder: Path) -> None:
    """Every file of the release is in MANIFEST.sha256 with its hash, and nothing else is there."""
    if not (folder / MANIFEST).is_file():
        raise Malformed(f"发布包中没有 {MANIFEST}")
    try:
        entries = parse_manifest((folder / MANIFEST).read_bytes())
    except (OSError, ValueError) as error:
        raise Malformed(f"{MANIFEST} 不可用：{error}") from None
    present = set(files_of(folder)) - {MANIFEST, SIGNATURE}
    for name in sorted(set(entries) | present):
        if name not in present:  # one naming a file elsewhere is said so, and never read
            result.problems.append(_outside(folder, name, f"{MANIFEST} 中的") or f"{name}：清单中有，发布包中缺失")
        elif name not in entries:
            result.problems.append(f"{name}：发布包中有，清单中没有")
        elif _sha256(folder / name) != entries[name]:
            result.problems.append(f"{name}：SHA-256 与清单不符")


def verify_signed_with(folder: Path, private_key: Path) -> Verification:
    """The signature against the public half of the key that made it (see verify_staged)."""
    result = Verification(f"签名可由 {private_key.name} 对应的公钥验证")
    manifest, signature = (folder / MANIFEST).read_bytes(), (folder / SIGNATURE).read_bytes()
    if not signature_of_key(manifest, signature, private_key):
        result.problems.append(f"{SIGNATURE} 与 {MANIFEST} 不符：公布的公钥将无法验证此发布包")
    return result


def verify_signature(folder: Path, public_key: Path) -> Verification:
    result = Verification(f"签名由 {public_key.name} 对应的私钥签署")
    if not (folder / SIGNATURE).is_file() or not (folder / MANIFEST).is_file():
        result.problems.append(f"发布包没有签名（{SIGNATURE}）或哈希清单（{MANIFEST}）")
        return result
    manifest, signature = (folder / MANIFEST).read_bytes(), (folder / SIGNATURE).read_bytes()
    if not signature_valid(manifest, signature, public_key):
        result.problems.append(f"{SIGNATURE} 与 {MANIFEST} 不符：发布包在签署后被改动，或并非此公钥对应的私钥所签")
    return result


@_check("datapackage.json 符合 Data Package v2 规范")
def verify_profile(result: Verification, descriptor: dict) -> None:
    # jsonschema-rs says whether it conforms in a millisecond, where jsonschema takes 0.15 s (every
    # field of every Table Schema tried against each field type): a sixth of a county's publication.
    # One that does not is explained by jsonschema, whose messages these have always been.
    if _profile_validator().is_valid(descriptor):
        return
    import jsonschema

    for error in jsonschema.Draft7Validator(_profile()).iter_errors(descriptor):
        result.problems.append(f"{'/'.join(map(str, error.absolute_path)) or '（顶层）'}：{error.message}")
    if not result.problems:  # should the two ever differ, what jsonschema-rs found
        for found in _profile_validator().iter_errors(descriptor):
            result.problems.append(f"{'/'.join(map(str, found.instance_path)) or '（顶层）'}：{found.message}")


@functools.cache
def _profile() -> dict:
    return json.loads((SCHEMAS / "profiles" / "datapackage.json").read_text("utf-8"))


@functools.cache
def _profile_validator():
    import jsonschema_rs

    # Formats not asserted, as jsonschema does not without a format checker.
    return jsonschema_rs.Draft7Validator(_profile(), validate_formats=False)


def verify_version(names: tuple[tuple[str, str], ...], version: object) -> Verification:
    """The name the release was given (its folder, or its zip and the zip's root folder) is the version
    its descriptor states: an older signed version renamed as a newer one keeps a valid signature."""
    result = Verification(f"目录名（或 zip 名及其根目录）与 datapackage.json 的版本 {version} 一致")
    for what, name in names:
        if name != version:
            result.problems.append(
                f"{what} {name} 与 datapackage.json 的版本 {version} 不符：旧版本被改名为新版本，"
                "或发布包未以 <版本> 或 <版本>.zip 命名"
            )
    return result


def _descriptor(folder: Path) -> tuple[dict, Edition]:
    """datapackage.json with what verify reads of it in place, and its edition; Malformed otherwise."""
    path = folder / "datapackage.json"
    if not path.is_file():
        raise Malformed("发布包中没有 datapackage.json" + ("（它是一个目录）" if path.is_dir() else ""))
    try:
        descriptor = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise Malformed(f"datapackage.json 不是有效的 JSON（{type(error).__name__}: {error}）") from None
    if not isinstance(descriptor, dict):
        raise Malformed("datapackage.json 应为一个 JSON 对象")
    meta = descriptor.get("nianbao")
    if not isinstance(meta, dict) or not isinstance(meta.get("year"), int) or not isinstance(meta.get("bureau"), str):
        raise Malformed("datapackage.json 的 nianbao 应含整数 year 与字符串 bureau")
    try:
        edition = edition_named(str(meta.get("edition")))
    except KeyError:
        raise Malformed(f"datapackage.json 的 nianbao.edition {meta.get('edition')!r} 不是已知的格式版本") from None
    resources = descriptor.get("resources")
    if not isinstance(resources, list) or not resources or not all(isinstance(r, dict) for r in resources):
        raise Malformed("datapackage.json 的 resources 应为非空的资源（JSON 对象）列表")
    return descriptor, edition


def _strings(value: object) -> list:
    return value if isinstance(value, list) else [value] if isinstance(value, str) else []


def _reference_problems(folder: Path, descriptor: dict, edition: Edition) -> list[str]:
    """Every file the descriptor names, confined to the release and never a URL (checked before
    frictionless sees it), and the files verify reads by name described where it reads them."""
    problems = []
    for key in PACKAGE_REFERENCES:
        for value in _strings(descriptor.get(key)):
            if value not in PACKAGE_PROFILES:
                problems.append(_outside(folder, value, f"datapackage.json 的 {key}"))
    for number, resource in enumerate(descriptor["resources"], start=1):
        name = resource.get("name", f"第 {number} 个")
        if resource.get("path") is None:
            problems.append(f"资源 {name} 没有 path：数据应是发布包中的文件")
        for key in RESOURCE_REFERENCES:
            value = resource.get(key)
            if key == "path" and value is not None:
                problems.append(_outside(folder, value, f"资源 {name} 的 path"))
            elif key != "path" and not (key == "profile" and value in RESOURCE_PROFILES):
                problems += [_outside(folder, v, f"资源 {name} 的 {key}") for v in _strings(value)]
    paths = {r.get("name"): r.get("path") for r in descriptor["resources"]}
    for name in (*edition.tables, *COLUMNS):
        if paths.get(name) != f"data/{name}.csv":
            problems.append(f"资源 {name} 应为 data/{name}.csv，datapackage.json 中为 {paths.get(name)!r}")
    return [p for p in problems if p]


def _outside(folder: Path, value: object, what: str) -> str:
    """Why `value` names no file of the release, or ""."""
    try:
        inside(folder, value, what)
    except Outside as error:
        return str(error)
    return ""


def _structure(release: Opened) -> tuple[dict | None, Verification]:
    """The descriptor (None when unusable), and whether it and what it names can be read safely."""
    structure = Verification(STRUCTURE)
    try:
        descriptor, edition = _descriptor(release.folder)
    except Malformed as error:
        structure.problems.append(str(error))
        return None, structure
    structure.problems += _reference_problems(release.folder, descriptor, edition)
    return descriptor, structure


def _reports(folder: Path) -> tuple[dict[str, Report], Verification]:
    """Every unit's Report of the published tables, and whether they could be read."""
    result = Verification("读取已发布的表格")
    try:
        _, reports = load_release(folder)
    except PreviousYearError as error:
        result.problems.append(str(error))
        return {}, result
    except Exception as error:  # a table crafted to break the reader fails this check, never verify
        result.problems.append(f"已发布的表格无法读取（{type(error).__name__}: {error}）")
        return {}, result
    if not reports:
        result.problems.append("已发布的表格中没有任何单位的行")
    return reports, result


def _verify_release(
    release: Opened,
    public_key: Path | None,
    named: bool = True,
    reread: bool = True,
    schemas: bool = True,
    tables: dict[str, Report] | None = None,
) -> list[Verification]:
    """Every verification of the release; `named`: its name must be its version; `reread`: its
    submissions are read again against cells; `schemas`: its descriptor and tables are validated
    by frictionless (see verify_child); `tables`, if given, receives every unit's Report as read."""
    token = _READ.set({})
    try:
        return _verifications(release, public_key, named, reread, schemas, tables)
    finally:
        _READ.reset(token)


def _verifications(
    release: Opened, public_key: Path | None, named: bool, reread: bool, schemas: bool, tables: dict[str, Report] | None
) -> list[Verification]:
    folder = release.folder
    descriptor, structure = _structure(release)
    signature = [verify_signature(folder, public_key)] if public_key is not None else []
    if descriptor is None or not structure.passed:
        # What the descriptor names cannot be read safely; the files can still be held to the manifest.
        return [structure, verify_manifest(folder), *signature]
    meta = descriptor["nianbao"]
    results = [
        structure,
        *([verify_version(release.names, descriptor.get("version"))] if named else []),
        *([verify_profile(descriptor)] if schemas else []),
        verify_hashes(folder, descriptor),
        verify_manifest(folder),
        *signature,
        *([verify_schemas(folder, descriptor)] if schemas else []),
        verify_submissions(folder),
    ]
    reports, read = _reports(folder)
    if not read.passed:
        return [*results, read]
    if tables is not None:
        tables.update(reports)
    return [
        *results,
        verify_rows_complete(reports, folder),
        verify_rules(reports, folder),
        verify_bureau_sums(reports, meta["bureau"], folder),
        verify_departments_match_cells(reports, meta["bureau"], folder),
        *([verify_cells_against_workbooks(reports, folder, meta["year"])] if reread else []),
    ]


def verify_child(
    release: Opened, public_key: Path | None, tables: dict[str, Report] | None = None
) -> list[Verification]:
    """A child bureau's release as its parent verifies it before merging it (docs/rollup.md): as
    `nianbao verify` does, but for two things. Its name is the child's id (sources/<year>/<id>.zip),
    not its version: the parent pins the version by the manifest's SHA-256, which it publishes. And
    when a key is given and the signature holds, its submissions are not read again (they are held
    to the signed manifest and submissions.csv all the same): re-reading would read the child's
    whole subtree at every level; an unsigned child is read again to the bottom. Nor are its
    descriptor and tables validated by frictionless again: the child's publication did so before
    signing (verify_staged), the signature says these are those bytes, and the figures are still
    read and held to every rule, to the child's sums and to its cells here (frictionless took 45 of a
    city's 93 s over its ten counties). An unsigned child is validated as `nianbao verify` does."""
    signed = public_key is not None
    return _verify_release(release, public_key, named=False, reread=not signed, schemas=not signed, tables=tables)


# What publication verifies of a release it has just written, before `latest` is switched to it: what
# writing cannot vouch for by itself. The hashes, sizes, manifest and submitted files' hashes were
# computed from the very bytes written, and the rules, the bureau's sums and the cells were checked
# on the figures the release was built from (`nianbao verify` re-derives them all: 5 times the
# publication's time). What remains: the descriptor (its references and the Data Package v2
# profile: a bureau.yaml without a licence), each table against its Table Schema, and the signature.
# cells.csv is left out: frictionless takes half its time there (2 million rows for 10,000
# departments), which would more than double the publication's time.
STAGED_SKIPS = frozenset({"cells"})


def verify_staged(
    folder: Path, private_key: Path | None = None, map=map, started: Started | None = None
) -> list[Verification]:
    """The verifications of a release written by this process (its folder's name is no version yet),
    signed with `private_key` when given; `map` validates its tables (verify_table_schemas), but
    those `started` as they were written (start_validating)."""
    with offline():
        descriptor, structure = _structure(Opened(Path(folder), ()))
        if descriptor is None or not structure.passed:
            return [structure]
        signature = [verify_signed_with(folder, private_key)] if private_key is not None else []
        return [
            structure,
            verify_profile(descriptor),
            verify_table_schemas(folder, descriptor, map, started),
            *signature,
        ]


def _zip_named(path: Path) -> bool:
    return path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path))


def verify(path: Path, public_key: Path | None = None) -> list[Verification]:
    """Every verification of the release at `path` (a folder or its zip), and its signature when a public
    key is given, all offline. A release unsafe or impossible to read fails a verification saying why;
    NotARelease when `path` is no candidate at all (missing, or a file that is no zip), SigningKeyError
    for a key that is missing or no Ed25519 public key: wrong calls."""
    path = Path(path)
    if not path.exists():
        raise NotARelease(f"找不到 {path}")
    if not path.is_dir() and not _zip_named(path):
        raise NotARelease(f"{path} 既不是发布目录，也不是发布包 zip")
    if public_key is not None:  # the auditor's own file: a wrong call, said before the release is opened
        if not Path(public_key).is_file():
            raise SigningKeyError(f"找不到公钥文件：{public_key}")
        signature_valid(b"", b"", public_key)  # loading it raises SigningKeyError for no Ed25519 public key
    with offline():
        try:
            with opened(path) as release:
                return _verify_release(release, public_key)
        except Refused as refused:
            return [Verification(STRUCTURE, refused.problems)]
