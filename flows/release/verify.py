"""Verifying a release without trusting its publisher: `nianbao verify PATH` (folder or zip).

Each verification re-derives what the release claims from what it ships: hashes and sizes, the Table
Schemas (through frictionless), the format's rules on the published tables, every bureau figure
against the sum of its department rows and of its `cells` rows, and the submitted workbooks
(re-read) against `cells`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
import zipfile
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from flows.checks.check import check_report
from flows.format.edition import SCHEMAS
from flows.format.report import Report, place
from flows.format.values import format_value
from flows.intake.previous import PreviousYearError, load_release
from flows.intake.workbook import UnreadableWorkbook, read_workbook
from flows.release.sign import MANIFEST, SIGNATURE, parse_manifest, signature_valid

MAX_UNZIPPED = 2 << 30  # a release zip that inflates beyond this is refused, not extracted


class NotARelease(Exception):
    """The path holds no release to verify; the message says why."""


@dataclass
class Verification:
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


@contextmanager
def _opened(path: Path):
    """The release folder: `path` itself, or a zip extracted aside (names checked first)."""
    path = Path(path)
    if path.is_dir():
        yield path
        return
    if not zipfile.is_zipfile(path):
        raise NotARelease(f"{path} 既不是发布目录，也不是发布包 zip")
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as tmp:
        names = archive.namelist()
        if any(n.startswith("/") or ".." in Path(n).parts for n in names):
            raise NotARelease(f"{path} 含有指向包外的路径，拒绝解压")
        if sum(i.file_size for i in archive.infolist()) > MAX_UNZIPPED:
            raise NotARelease(f"{path} 解压后过大，拒绝解压")
        archive.extractall(tmp)
        roots = {Path(n).parts[0] for n in names}
        yield Path(tmp) / roots.pop() if len(roots) == 1 else Path(tmp)


def _rows(folder: Path, name: str) -> list[dict]:
    with open(folder / "data" / f"{name}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def verify_hashes(folder: Path, descriptor: dict) -> Verification:
    result = Verification("文件的 SHA-256 与字节数与 datapackage.json 一致")
    for resource in descriptor["resources"]:
        target = folder / resource["path"]
        if not target.is_file():
            result.problems.append(f"{resource['path']}：文件缺失")
            continue
        content = target.read_bytes()
        algorithm, _, expected = resource["hash"].partition(":")
        actual = hashlib.new(algorithm, content).hexdigest()
        if actual != expected:
            result.problems.append(f"{resource['path']}：SHA-256 应为 {expected}，实为 {actual}")
        if len(content) != resource["bytes"]:
            result.problems.append(f"{resource['path']}：应为 {resource['bytes']} 字节，实为 {len(content)} 字节")
    return result


def verify_schemas(folder: Path) -> Verification:
    import frictionless  # only here: it is slow to import and verify is its only runtime user

    result = Verification("每个资源符合其 Table Schema（frictionless）")
    report = frictionless.validate(str(folder / "datapackage.json"))
    for task in report.tasks:
        for error in task.errors:
            row = getattr(error, "row_number", None)
            result.problems.append(f"{task.name}" + (f" 第 {row} 行" if row else "") + f"：{error.message}")
    return result


def verify_submissions(folder: Path) -> Verification:
    result = Verification("报送文件与 submissions.csv 的 SHA-256 一致")
    for row in _rows(folder, "submissions"):
        target = folder / row["file"]
        if not target.is_file():
            result.problems.append(f"{row['file']}：文件缺失")
            continue
        actual = hashlib.sha256(target.read_bytes()).hexdigest()
        if actual != row["sha256"]:
            result.problems.append(f"{row['file']}（{row['unit_id']}）：SHA-256 应为 {row['sha256']}，实为 {actual}")
    return result


def verify_rules(reports: dict[str, Report], folder: Path) -> Verification:
    result = Verification("已发布的表格符合格式的各项规则（已接受的例外除外）")
    accepted = {
        (r["rule"], r["unit_id"], r["table"], r["row"] or None, r["column"] or None)
        for r in _rows(folder, "exceptions")
    }
    for unit, report in sorted(reports.items()):
        for f in check_report(report):
            if f.is_error and (f.rule, f.unit, f.table, f.row, f.column) not in accepted:
                result.problems.append(f"[{unit}] {f.rule} {f.message}")
    return result


def verify_bureau_sums(reports: dict[str, Report], bureau_id: str, folder: Path) -> Verification:
    result = Verification("本机关每个数字等于各部门之和，也等于 cells.csv 中对应各行之和")
    bureau = reports.get(bureau_id)
    if bureau is None:
        result.problems.append(f"表格中没有本机关（{bureau_id}）的行")
        return result
    departments = [r for u, r in reports.items() if u != bureau_id]
    cells = defaultdict(Decimal)
    for row in _rows(folder, "cells"):
        cells[(row["table"], row["row"], row["column"])] += Decimal(row["value"] or "0")
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
    return result


def verify_cells_against_workbooks(reports: dict[str, Report], folder: Path, year: int) -> Verification:
    result = Verification("重新读取报送文件，每个单元格与 cells.csv 一致")
    by_unit = defaultdict(list)
    for row in _rows(folder, "cells"):
        by_unit[row["unit_id"]].append(row)
    for submission in _rows(folder, "submissions"):
        unit, path = submission["unit_id"], folder / submission["file"]
        if path.name == "nil_returns.yaml":
            reread = None  # a nil return: every figure 0
        else:
            try:
                reread, _ = read_workbook(path, year, unit)
            except (UnreadableWorkbook, OSError) as error:
                result.problems.append(f"{submission['file']}：无法读取（{error}）")
                continue
        base = reread or reports.get(unit)
        if base is None:
            result.problems.append(f"{submission['file']}：{unit} 不在表格中")
            continue
        for row in by_unit.pop(unit, []):
            layout = base.edition.tables[row["table"]]
            r = layout.row_index[row["row"]] if row["row"] else 0
            c = layout.column_index[row["column"]]
            value = format_value(int(reread.values[row["table"]][r, c]), layout.columns[c]) if reread else "0"
            source = reread.source(row["table"], r, c) if reread else None
            where = f"{submission['file']} {place(layout, r, c)}"
            if value != row["value"]:
                result.problems.append(f"{where}：文件中为 {value}，cells.csv 为 {row['value']}")
            if source is not None and (source.sheet, source.cell) != (row["sheet"], row["cell"]):
                result.problems.append(
                    f"{where}：文件中位于 {source.sheet}!{source.cell}，cells.csv 记为 {row['sheet']}!{row['cell']}"
                )
    for unit in by_unit:
        result.problems.append(f"cells.csv 中的 {unit} 没有对应的报送文件")
    return result


def verify_departments_match_cells(reports: dict[str, Report], bureau_id: str, folder: Path) -> Verification:
    result = Verification("各部门的表格行与 cells.csv 一致")
    seen = set()
    for row in _rows(folder, "cells"):
        report = reports.get(row["unit_id"])
        if report is None:
            result.problems.append(f"cells.csv 的 {row['unit_id']} 不在表格中")
            continue
        layout = report.edition.tables[row["table"]]
        r, c = (layout.row_index[row["row"]] if row["row"] else 0), layout.column_index[row["column"]]
        seen.add((row["unit_id"], row["table"], r, c))
        value = format_value(int(report.values[row["table"]][r, c]), layout.columns[c])
        if value != row["value"]:
            result.problems.append(
                f"{row['unit_id']} {place(layout, r, c)}：表格为 {value}，cells.csv 为 {row['value']}"
            )
    for unit, report in reports.items():
        if unit == bureau_id:
            continue
        for code, layout in report.edition.tables.items():
            missing = sum((unit, code, r, c) not in seen for r, c in layout.cells)
            if missing:
                result.problems.append(f"{unit} 表{layout.heading[0]}：{missing} 个单元格在 cells.csv 中缺失")
    return result


def verify_rows_complete(reports: dict[str, Report], folder: Path) -> Verification:
    """Each table has each unit's rows exactly once (a missing row would read as zeros)."""
    result = Verification("每张表中每个单位的各行齐全且不重复")
    edition = next(iter(reports.values())).edition
    for code, layout in edition.tables.items():
        expected = [row.code for row in layout.rows] if len(layout.rows) > 1 else [""]
        seen = defaultdict(int)
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
    return result


def verify_manifest(folder: Path) -> Verification:
    """Every file of the release is in MANIFEST.sha256 with its hash, and nothing else is there."""
    result = Verification("每个文件与 MANIFEST.sha256 中的哈希一致，没有多出或缺少的文件")
    try:
        entries = parse_manifest((folder / MANIFEST).read_bytes())
    except (OSError, ValueError) as error:
        result.problems.append(f"{MANIFEST} 不可用：{error}")
        return result
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST, SIGNATURE}
    for name in sorted(set(entries) | present):
        if name not in present:
            result.problems.append(f"{name}：清单中有，发布包中缺失")
        elif name not in entries:
            result.problems.append(f"{name}：发布包中有，清单中没有")
        elif hashlib.sha256((folder / name).read_bytes()).hexdigest() != entries[name]:
            result.problems.append(f"{name}：SHA-256 与清单不符")
    return result


def verify_signature(folder: Path, public_key: Path) -> Verification:
    result = Verification(f"签名由 {public_key.name} 对应的私钥签署")
    try:
        manifest, signature = (folder / MANIFEST).read_bytes(), (folder / SIGNATURE).read_bytes()
    except OSError:
        result.problems.append(f"发布包没有签名（{SIGNATURE}）")
        return result
    if not signature_valid(manifest, signature, public_key):
        result.problems.append(f"{SIGNATURE} 与 {MANIFEST} 不符：发布包在签署后被改动，或并非此公钥对应的私钥所签")
    return result


def verify_profile(descriptor: dict) -> Verification:
    import jsonschema

    result = Verification("datapackage.json 符合 Data Package v2 规范")
    profile = json.loads((SCHEMAS / "profiles" / "datapackage.json").read_text("utf-8"))
    for error in jsonschema.Draft7Validator(profile).iter_errors(descriptor):
        result.problems.append(f"{'/'.join(map(str, error.absolute_path)) or '（顶层）'}：{error.message}")
    return result


def verify(path: Path, public_key: Path | None = None) -> list[Verification]:
    """Every verification of the release at `path` (a folder or its zip), and its signature when a public
    key is given. Raises NotARelease."""
    with _opened(Path(path)) as folder:
        try:
            descriptor = json.loads((folder / "datapackage.json").read_text("utf-8"))
            year, bureau_id = int(descriptor["nianbao"]["year"]), descriptor["nianbao"]["bureau"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise NotARelease(f"{path} 中没有可用的 datapackage.json（{error}）") from None
        results = [verify_profile(descriptor), verify_hashes(folder, descriptor), verify_manifest(folder)]
        if public_key is not None:
            results.append(verify_signature(folder, public_key))
        results += [verify_schemas(folder), verify_submissions(folder)]
        try:
            _, reports = load_release(folder)
        except PreviousYearError as error:
            return [*results, Verification("读取已发布的表格", [str(error)])]
        results += [
            verify_rows_complete(reports, folder),
            verify_rules(reports, folder),
            verify_bureau_sums(reports, bureau_id, folder),
            verify_departments_match_cells(reports, bureau_id, folder),
            verify_cells_against_workbooks(reports, folder, year),
        ]
        return results
