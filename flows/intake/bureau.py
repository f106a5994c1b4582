"""The reporting bureau (sources/bureau.yaml) and which file each department submitted."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import jsonschema
import yaml

from flows.format.edition import SCHEMAS
from flows.format.report import Finding, make_finding
from flows.places import EXCEPTIONS, NIL_RETURNS, REPORT_TEXT, bureau_file, year_folder

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SECOND_COPY = re.compile(r"^(?P<unit>.+?)\s*(?:[(（]\d+[)）]|[-_ ]?(?:副本|copy|拷贝)(?:\s*[(（]?\d*[)）]?)?)$", re.I)
# libyaml's loader where PyYAML was built with it: ten times faster on a list of 10,000 departments.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Files a year's folder may hold besides workbooks; they are not submissions.
AUXILIARY = {EXCEPTIONS, NIL_RETURNS, REPORT_TEXT, "README.md"}


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
        return self._by_id.get(unit)

    @cached_property
    def _by_id(self) -> dict[str, Department]:  # a provincial office has ten thousand
        return {d.id: d for d in self.departments}


class BureauConfigError(Exception):
    pass


def load_bureau(sources: Path) -> Bureau:
    path = bureau_file(sources)
    try:
        spec = yaml.load(path.read_text("utf-8"), Loader=SAFE_LOADER)
        departments = tuple(Department(str(d["id"]), str(d["name"])) for d in spec["departments"])
        bureau = Bureau(str(spec["id"]), str(spec["name"]), departments, spec)
    except FileNotFoundError:
        raise BureauConfigError(f"找不到 {path}：请在报送目录中放置 bureau.yaml") from None
    except (yaml.YAMLError, KeyError, TypeError) as error:
        raise BureauConfigError(
            f"{path} 格式有误（{type(error).__name__}: {error}）：需要 id、name 和 departments（每项含 id、name）"
        ) from None
    ids = [d.id for d in departments]
    bad = [i for i in [bureau.id, *ids] if not SAFE_ID.fullmatch(i)]
    if bad:  # ids name files in the outputs: nothing that could leave its folder or hide
        raise BureauConfigError(f"{path}：代码只能由字母、数字、下划线和连字符组成：{bad}")
    if len(set(ids)) != len(ids):
        raise BureauConfigError(f"{path}：部门代码重复：{sorted({i for i in ids if ids.count(i) > 1})}")
    return bureau


def load_year_file(sources: Path, year: int, name: str) -> list[dict]:
    """A list file of the year's folder (exceptions.yaml, nil_returns.yaml), checked against its
    JSON Schema in schemas/; [] when absent. Raises BureauConfigError naming the entry at fault."""
    path = year_folder(sources, year) / name
    if not path.is_file():
        return []
    schema = json.loads((SCHEMAS / name.replace(".yaml", ".schema.json")).read_text("utf-8"))
    try:
        entries = _dates_as_text(yaml.load(path.read_text("utf-8"), Loader=SAFE_LOADER) or [])
        jsonschema.validate(entries, schema)
    except yaml.YAMLError as error:
        raise BureauConfigError(f"{path} 不是有效的 YAML：{error}") from None
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "整个文件"
        raise BureauConfigError(f"{path} 第 {where} 项有误：{error.message}") from None
    return entries


def _dates_as_text(value):
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    return value.isoformat() if isinstance(value, date) else value


def discover(sources: Path, year: int, bureau: Bureau) -> tuple[dict[str, Path], list[Finding]]:
    """Each department's submitted file for `year`, and findings for what is missing or unexpected.

    A department with neither a file nor a nil return (nil_returns.yaml) is E4; a file or nil return
    that names no department, or a second submission for one, is E5. A nil return maps to the
    nil_returns.yaml file itself.
    """
    folder = year_folder(sources, year)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in AUXILIARY) if folder.is_dir() else []
    submitted: dict[str, Path] = {}
    findings = []
    for entry in load_year_file(sources, year, NIL_RETURNS):
        unit, path = entry["unit"], folder / NIL_RETURNS
        if bureau.department(unit) is None:
            findings.append(
                _e5(bureau.id, path, f"中的“{unit}”不是 bureau.yaml 中的部门", f"nil return for unknown unit {unit}")
            )
        elif unit in submitted:
            findings.append(_e5(unit, path, f"重复登记了“{unit}”的零报告", f"a second nil return for {unit}"))
        else:
            submitted[unit] = path
    for path in files:
        unit = path.stem
        if path.suffix == ".md" and bureau.department(unit) is not None:
            continue  # a department's own report text (see flows/checks/text.py)
        copy = SECOND_COPY.match(unit)
        if bureau.department(unit) is None and copy and bureau.department(copy["unit"]):
            findings.append(
                _e5(
                    copy["unit"],
                    path,
                    f"像是“{copy['unit']}”报表的另一份副本：每个部门只能报送一份，请删除多余的文件",
                    f"looks like a second copy of {copy['unit']}'s file",
                )
            )
        elif bureau.department(unit) is None:
            findings.append(
                _e5(
                    bureau.id,
                    path,
                    "不对应 bureau.yaml 中的任何部门：文件名应为“部门代码.xlsx”" + _oddities(path.name),
                    "names no department of bureau.yaml",
                )
            )
        elif unit in submitted:
            first = submitted[unit].name
            findings.append(
                _e5(
                    unit,
                    path,
                    f"与“{first}”重复：每个部门只能报送一份报表（或一份零报告）",
                    f"a second submission for {unit}",
                )
            )
        else:
            submitted[unit] = path
    for department in bureau.departments:
        if department.id not in submitted:
            findings.append(
                make_finding(
                    "E4", department.id, unit_name=department.name, year=year, expected=f"{year}/{department.id}.xlsx"
                )
            )
    return submitted, findings


def _e5(unit: str, path: Path, problem: str, problem_en: str) -> Finding:
    return make_finding(
        "E5", unit, file=str(path), file_name=shown_name(path.name), problem=problem, problem_en=problem_en
    )


def shown_name(name: str) -> str:
    """A file name as it can be shown: control characters written out, not acted on."""
    return "".join(c if unicodedata.category(c)[0] != "C" else f"\\x{ord(c):02x}" for c in name)


def _oddities(name: str) -> str:
    """Characters that make a name look like another: "trаffic" with a Cyrillic а."""
    odd = [
        f"“{c}”（U+{ord(c):04X}）"
        for c in name
        if not c.isascii() and c.isalpha() and not unicodedata.name(c, "").startswith("CJK")
    ]
    return f"；文件名含有形似拉丁字母的字符：{'、'.join(odd)}" if odd else ""
