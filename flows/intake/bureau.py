"""The reporting bureau (sources/bureau.yaml) and which file each department submitted."""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from flows.format.edition import SCHEMAS, rules
from flows.format.report import Finding, make_finding
from flows.intake.files import limits
from flows.places import EXCEPTIONS, NIL_RETURNS, REPORT_TEXT, bureau_file, year_folder

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SECOND_COPY = re.compile(r"^(?P<unit>.+?)\s*(?:[(（]\d+[)）]|[-_ ]?(?:副本|copy|拷贝)(?:\s*[(（]?\d*[)）]?)?)$", re.I)
# libyaml's loader where PyYAML was built with it: ten times faster on a list of 10,000 departments.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Files a year's folder may hold besides workbooks; they are not submissions.
AUXILIARY = {EXCEPTIONS, NIL_RETURNS, REPORT_TEXT, "README.md"}


@dataclass(frozen=True)
class Department:
    """A unit that reports to the bureau: a department (a workbook), or with kind "bureau" a child
    bureau, whose submission is its own published release (docs/rollup.md); `public_key` is the
    file of the key that release must be signed with (None: no signature asked)."""

    id: str
    name: str
    kind: str = "department"
    public_key: Path | None = None

    @property
    def is_bureau(self) -> bool:
        return self.kind == BUREAU_KIND


BUREAU_KIND = "bureau"  # bureau.yaml's `kind` of a child bureau


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
    """sources/bureau.yaml, checked against schemas/bureau.schema.json; BureauConfigError in one line
    naming the file and every key at fault (an unknown key with the allowed one it most resembles)."""
    path = bureau_file(sources)
    try:
        text = yaml_text(path)
    except FileNotFoundError:
        raise BureauConfigError(f"找不到 {path}：请在报送目录中放置 bureau.yaml") from None
    known = _LOADED.get(path)
    if known is not None and known[0] == text:
        return known[1]
    bureau = _bureau(path, text)
    if not any(d.public_key for d in bureau.departments):  # else read again: a key file may go
        _LOADED[path] = (text, bureau)
    return bureau


# The bureaus loaded, by the path of their bureau.yaml, with its text: a run asks for its bureau
# three times before it starts (the run's name, its tags, its inputs), and a bureau.yaml of ten
# thousand departments takes half a second to parse. Only the very same text is known again.
_LOADED: dict[Path, tuple[str, Bureau]] = {}


def _bureau(path: Path, text: str) -> Bureau:
    try:
        spec = parse_yaml(path, text, SAFE_LOADER)
    except (yaml.YAMLError, ValueError) as error:  # ValueError: a date like 2022-02-30
        said = " ".join(str(error).split())  # PyYAML's message spans lines: the user sees one
        raise BureauConfigError(f"{path} 不是有效的 YAML（{type(error).__name__}: {said}）") from None
    problems = bureau_problems(spec)
    if problems:
        shown = problems[:MAX_PROBLEMS] + ([f"……共 {len(problems)} 处"] if len(problems) > MAX_PROBLEMS else [])
        raise BureauConfigError(f"{path}：{'；'.join(shown)}")
    departments = tuple(
        Department(d["id"], d["name"], d.get("kind", "department"), _key_file(path, d.get("public_key")))
        for d in spec["departments"]
    )
    bureau = Bureau(spec["id"], spec["name"], departments, spec)
    ids = [d.id for d in departments]
    if len(set(ids)) != len(ids):
        raise BureauConfigError(f"{path}：部门代码重复：{sorted({i for i in ids if ids.count(i) > 1})}")
    if bureau.id in ids:  # the bureau's rows and the department's would share one unit_id in every table
        raise BureauConfigError(f"{path}：本机关代码“{bureau.id}”与一个部门的代码相同：请给本机关或该部门另取代码")
    return bureau


def _key_file(bureau_yaml: Path, key: str | None) -> Path | None:
    """A child bureau's public key, named relative to the folder of bureau.yaml; BureauConfigError
    when there is no such file (a key written but missing must not pass as "no key asked")."""
    if key is None:
        return None
    path = bureau_yaml.parent / key
    if not path.is_file():
        raise BureauConfigError(f"{bureau_yaml}：找不到下级机关的公钥文件 {key}（相对于 bureau.yaml 所在目录）")
    return path


MAX_PROBLEMS = 10  # a misspelt key in each of ten thousand departments is not ten thousand clauses
# What a pattern of schemas/bureau.schema.json asks for, in words; another pattern is quoted as it is.
PATTERN_HINTS = {
    f"^{SAFE_ID.pattern}$": "只能由字母、数字、下划线和连字符组成，以字母或数字开头，至多 64 个字符（它用作文件名）",
    "^https?://[^\\s/?#]+[^\\s]*$": "应为以 http:// 或 https:// 开头的绝对地址",
    "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$": "应为电子邮箱地址，如 gongkai@example.org",
    "^[-a-zA-Z0-9._]+$": "应为 Open Definition 许可协议代码，如 CC-BY-4.0",
}
TYPE_NAMES = {"object": "键值映射（key: value）", "array": "列表（- 开头的各项）", "string": "文本"}
LICENCE_EXAMPLE = "如 licenses: [{name: CC-BY-4.0, path: https://creativecommons.org/licenses/by/4.0/}]"


@cache
def _bureau_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / "bureau.schema.json").read_text("utf-8")))


@cache
def _quick_validator():
    import jsonschema_rs

    # Formats not asserted, as _bureau_validator does not (it has no format checker).
    return jsonschema_rs.Draft202012Validator(_bureau_validator().schema, validate_formats=False)


def bureau_problems(spec: object) -> list[str]:
    """What is wrong with a bureau.yaml's content, one clause per problem, ordered by where it is.
    jsonschema-rs says whether there is any at C speed (a province's 155 bureau.yaml files took 3 s
    with jsonschema alone); jsonschema finds and words them."""
    try:
        if _quick_validator().is_valid(spec):
            return []
    except ValueError:  # a value JSON has no type for (a YAML date): jsonschema judges it
        pass
    errors = sorted(
        _bureau_validator().iter_errors(spec),
        key=lambda e: [(str(p), 0) if isinstance(p, str) else ("", p) for p in e.absolute_path],
    )
    return [problem for error in errors for problem in _bureau_problem(error)]


def _key_path(parts: list) -> str:
    """["departments", 2, "id"] → "departments 第 3 项的 id" (items counted from 1, as a clerk counts)."""
    shown = ""
    for part in parts:
        if isinstance(part, int):
            shown += f" 第 {part + 1} 项"
        else:
            shown += ("的 " if shown.endswith("项") else "." if shown else "") + str(part)
    return shown


def _bureau_problem(error: jsonschema.ValidationError) -> list[str]:
    """The clauses a schema error of bureau.yaml becomes: the key path, what is wrong, and the remedy."""
    parts, value, wanted = list(error.absolute_path), _any(error.instance), _any(error.validator_value)
    schema: dict = error.schema if isinstance(error.schema, dict) else {}
    where = _key_path(parts)
    if error.validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        return [
            _spaced(where, "中" if where else "") + f"未知的键 {key}{_suggestion(str(key), allowed, allowed)}"
            for key in value
            if key not in allowed
        ]
    if error.validator == "required":
        missing = [k for k in wanted if not isinstance(value, dict) or k not in value]
        hint = f"（发布包须写明许可协议，{LICENCE_EXAMPLE}）" if "licenses" in missing else ""
        return [_spaced(where, f"缺少必需的键 {'、'.join(missing)}{hint}")]
    if list(error.relative_schema_path)[-2:] == ["then", "not"]:  # a department given a public key
        return [f"{where}的 public_key 只用于下级机关（kind: bureau）：部门报送工作簿，不需要公钥"]
    subject = f"{where}（{schema['title']}）" if where and "title" in schema else where or "整个文件"
    return [_spaced(subject, _what_is_wrong(error, parts))]


def _any(value: object) -> Any:
    """A part of a jsonschema error, typed as what it is (the library's types include "unset")."""
    return value


def _spaced(where: str, said: str) -> str:
    """A key path and what is said of it: a space after a key's name, none after Chinese."""
    return f"{where} {said}" if where and where[-1].isascii() and said[:1] not in ("：", "") else where + said


def _what_is_wrong(error: jsonschema.ValidationError, parts: list) -> str:
    value, wanted, licence = error.instance, _any(error.validator_value), parts[:1] == ["licenses"]
    match error.validator:
        case "enum":
            options = [str(o) for o in wanted]
            return f"的值 {value!r} 不是可用的取值（{'、'.join(options)}）{_suggestion(str(value), options)}"
        case "pattern":
            return f"{PATTERN_HINTS.get(wanted, f'应符合格式 {wanted}')}，而不是 {value!r}"
        case "type":
            quote = "（代码等文本请加引号，如 '001'）" if isinstance(value, int | float) and wanted == "string" else ""
            extra = f"（{LICENCE_EXAMPLE}）" if licence else quote
            return f"应为{TYPE_NAMES.get(str(wanted), str(wanted))}，而不是 {value!r}{extra}"
        case "minItems":
            return f"至少要有 {wanted} 项" + (f"：发布包须写明许可协议，{LICENCE_EXAMPLE}" if licence else "")
        case "minLength":
            return "不能为空"
        case "anyOf" if licence:
            return f"应含 name 或 path（{LICENCE_EXAMPLE}）"
    return f"：{error.message}"


def _suggestion(written: str, candidates: list[str], listed: list[str] | None = None) -> str:
    """ "（是否应为 licenses？）" for the candidate closest to what was written; else the ones allowed."""
    close = difflib.get_close_matches(written, candidates, n=1)
    if close:
        return f"（是否应为 {close[0]}？）"
    return f"（可用的键：{'、'.join(listed)}）" if listed else ""


def load_year_file(sources: Path, year: int, name: str) -> list[dict]:
    """A list file of the year's folder (exceptions.yaml, nil_returns.yaml), checked against its
    JSON Schema in schemas/; [] when absent. Raises BureauConfigError naming the entry at fault."""
    path = year_folder(sources, year) / name
    if not path.is_file():
        return []
    schema = json.loads((SCHEMAS / name.replace(".yaml", ".schema.json")).read_text("utf-8"))
    try:
        entries = _dates_as_text(read_yaml(path, _TextDates) or [])
        jsonschema.validate(entries, schema, format_checker=jsonschema.FormatChecker(["date"]))
    except yaml.YAMLError as error:
        raise BureauConfigError(f"{path} 不是有效的 YAML：{error}") from None
    except jsonschema.ValidationError as error:
        raise BureauConfigError(f"{path} {_entry(error)}有误：{_problem(error)}") from None
    return entries


class _TextDates(SAFE_LOADER):  # type: ignore[misc,valid-type]
    """Dates kept as written: YAML would make 2022-02-30 a ValueError from inside the library, naming
    no entry; as text, the schema's `format: date` refuses it with its entry."""


_TextDates.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _entry(error: jsonschema.ValidationError) -> str:
    """Where in a list file: "第 2 条（date）", numbered from 1 as a clerk counts (and X1 says)."""
    path = list(error.absolute_path)
    if not path or not isinstance(path[0], int):
        return "整个文件"
    return f"第 {path[0] + 1} 条" + (f"（{'/'.join(map(str, path[1:]))}）" if len(path) > 1 else "")


def _problem(error: jsonschema.ValidationError) -> str:
    if error.validator == "format" and error.validator_value == "date":
        return f"“{error.instance}”不是日历上的日期：请写成 YYYY-MM-DD，如 2022-01-10"
    return error.message


def read_yaml(path: Path, loader: type) -> Any:
    """A YAML file of the bureau's, or BureauConfigError in one line naming it: larger than any such
    file (limits.yaml), not UTF-8, or using anchors and aliases (&name, *name). An alias may name a
    list of aliases: a kilobyte of them, followed, is more than any memory ("billion laughs"), and
    no bureau needs them."""
    return parse_yaml(path, yaml_text(path), loader)


def yaml_text(path: Path) -> str:
    """The text of a YAML file of the bureau's, or BureauConfigError: larger than any such file, or
    not UTF-8."""
    size, limit = path.stat().st_size, limits()["yaml_bytes"]
    if size > limit:
        raise BureauConfigError(f"{path} 过大（{size} 字节，上限 {limit} 字节）")
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError as error:
        raise BureauConfigError(f"{path} 不是 UTF-8 编码（第 {error.start} 字节）：请另存为 UTF-8") from None


def parse_yaml(path: Path, text: str, loader: type) -> Any:
    """read_yaml() of a text already read from `path`."""
    for event in yaml.parse(text, Loader=loader):
        anchor = getattr(event, "anchor", None)  # set on an alias (*name) and on what an anchor names (&name)
        if anchor:
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise BureauConfigError(
                f"{path} 第 {line} 行：不接受 YAML 锚点和别名（&{anchor}、*{anchor}）：请把内容直接写出"
            )
    return yaml.load(text, Loader=loader)


def _dates_as_text(value):
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    return value.isoformat() if isinstance(value, date) else value


def discover(sources: Path, year: int, bureau: Bureau) -> tuple[dict[str, Path], list[Finding]]:
    """Each department's submitted file for `year`, and findings for what is missing or unexpected.

    A department with neither a file nor a nil return (nil_returns.yaml) is E4; a file or nil return
    that names no department, or a second submission for one, is E5; a lock file or a file the
    operating system left is no submission, and an E6 warning. A nil return maps to the
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
    releases = [p for p in folder.iterdir() if p.is_dir() and _child(bureau, p.name)] if folder.is_dir() else []
    for path in sorted(files + releases):
        unit = path.stem if path.is_file() else path.name
        if path.suffix == ".md" and bureau.department(unit) is not None:
            continue  # a department's own report text (see flows/checks/text.py)
        ignored = _not_a_submission(path, bureau)
        if ignored is not None:
            findings.append(ignored)
            continue
        wrong_kind = _wrong_kind(path, bureau.department(unit))
        if wrong_kind is not None:
            findings.append(_e5(unit, path, *wrong_kind))
            continue
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
            expected = f"{year}/{department.id}" + (".zip" if department.is_bureau else ".xlsx")
            findings.append(make_finding("E4", department.id, unit_name=department.name, year=year, expected=expected))
    return submitted, findings


def _child(bureau: Bureau, name: str) -> bool:
    department = bureau.department(name)
    return department is not None and department.is_bureau


def _wrong_kind(path: Path, unit: Department | None) -> tuple[str, str] | None:
    """E5's problem, in Chinese and English, for a unit's file of the other kind: a workbook (or any
    file but a zip) for a child bureau, whose submission is its release, or a release for a
    department, whose submission is its workbook. None when the kind is right or the unit unknown."""
    if unit is None:
        return None
    release = path.is_dir() or path.suffix.lower() == ".zip"
    if unit.is_bureau and not release:
        return (
            f"不是下级机关“{unit.id}”的发布包：下级机关应报送 nianbao run 生成的发布包 {unit.id}.zip（或其目录 {unit.id}/），而不是工作簿或其他文件",
            f"is no release: child bureau {unit.id} submits its release {unit.id}.zip or folder {unit.id}/",
        )
    if not unit.is_bureau and release:
        return (
            f"是 zip 或目录，而“{unit.id}”是部门：部门应报送工作簿 {unit.id}.xlsx；若它是下级机关，请在 bureau.yaml 中为它写明 kind: bureau",
            f"is a zip or folder, but {unit.id} is a department: it submits a workbook {unit.id}.xlsx",
        )
    return None


def _not_a_submission(path: Path, bureau: Bureau) -> Finding | None:
    """E6 for a file no clerk submitted (rules.yaml lists them): a lock file, which says its workbook
    is open in Excel, WPS or LibreOffice right now, or one the operating system left (Thumbs.db,
    .DS_Store, any name starting with a dot). None for any other file."""
    params, name = rules()["E6"].params, path.name
    for lock in params["lock_files"]:
        prefix, suffix = lock["prefix"], lock["suffix"]
        if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix) + len(suffix):
            workbook = name[len(prefix) : len(name) - len(suffix)]
            unit = Path(workbook).stem if bureau.department(Path(workbook).stem) else bureau.id
            shown, opened = shown_name(name), shown_name(workbook)
            return make_finding("E6", unit, variant="open", file=str(path), file_name=shown, workbook=opened)
    if name.startswith(".") or name.lower() in params["system_files"]:
        return make_finding("E6", bureau.id, file=str(path), file_name=shown_name(name))
    return None


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
