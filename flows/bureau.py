"""The reporting bureau (sources/bureau.yaml) and which file each department submitted."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .report import Finding, make_finding

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
# Files a year's folder may hold besides workbooks; they are not submissions.
AUXILIARY = {"exceptions.yaml", "report.md", "README.md"}


@dataclass(frozen=True)
class Department:
    id: str
    name: str


@dataclass(frozen=True)
class Bureau:
    id: str
    name: str
    departments: tuple[Department, ...]
    metadata: dict = field(default_factory=dict)  # publisher, licence, contact… for publishing

    def department(self, unit: str) -> Department | None:
        return next((d for d in self.departments if d.id == unit), None)


class BureauConfigError(Exception):
    pass


def load_bureau(sources: Path) -> Bureau:
    path = Path(sources) / "bureau.yaml"
    try:
        spec = yaml.safe_load(path.read_text("utf-8"))
        departments = tuple(Department(str(d["id"]), str(d["name"])) for d in spec["departments"])
        bureau = Bureau(str(spec["id"]), str(spec["name"]), departments, spec)
    except FileNotFoundError:
        raise BureauConfigError(f"找不到 {path}：请在报送目录中放置 bureau.yaml") from None
    except (yaml.YAMLError, KeyError, TypeError) as error:
        raise BureauConfigError(f"{path} 格式有误（{type(error).__name__}: {error}）：需要 id、name 和 departments（每项含 id、name）") from None
    ids = [d.id for d in departments]
    if len(set(ids)) != len(ids):
        raise BureauConfigError(f"{path}：部门代码重复：{sorted({i for i in ids if ids.count(i) > 1})}")
    return bureau


def discover(sources: Path, year: int, bureau: Bureau) -> tuple[dict[str, Path], list[Finding]]:
    """Each department's submitted file for `year`, and findings for what is missing or unexpected.

    A department with no file is E4; a file that names no department, or a second file for one, is E5.
    """
    folder = Path(sources) / str(year)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in AUXILIARY) if folder.is_dir() else []
    submitted: dict[str, Path] = {}
    findings = []
    for path in files:
        unit = path.stem
        if path.suffix.lower() not in WORKBOOK_SUFFIXES or bureau.department(unit) is None:
            findings.append(_e5(bureau.id, path, "不对应 bureau.yaml 中的任何部门：文件名应为“部门代码.xlsx”", "names no department of bureau.yaml"))
        elif unit in submitted:
            findings.append(_e5(unit, path, f"与“{submitted[unit].name}”重复：每个部门只能报送一个文件", f"a second file for {unit}"))
        else:
            submitted[unit] = path
    for department in bureau.departments:
        if department.id not in submitted:
            findings.append(
                make_finding("E4", department.id, unit_name=department.name, year=year, expected=f"{year}/{department.id}.xlsx")
            )
    return submitted, findings


def _e5(unit: str, path: Path, problem: str, problem_en: str) -> Finding:
    return make_finding("E5", unit, file=str(path), file_name=path.name, problem=problem, problem_en=problem_en)
