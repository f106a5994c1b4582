"""The release: a Frictionless Data Package (v2) of the bureau's and departments' tables.

Written aside and moved into place at the end, so a reader never sees half a release.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path

from flows.checks.accepted import Accepted
from flows.format.edition import SCHEMAS, Edition, TableLayout, edition_named, rules
from flows.format.report import Finding, Report, cell_ref, typed_text
from flows.format.values import figures
from flows.intake.bureau import Bureau
from flows.intake.kept import kept_bytes
from flows.merge import Merged
from flows.release.analysis import AnalysisCopies
from flows.release.child import ChildReport
from flows.release.dcat import release_jsonld
from flows.release.verify import Started, start_validating

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
# (name, type, title, description) of the findings published with the release.
FINDING_FIELDS = (
    ("unit_id", "string", "单位代码", "发现所属的单位：部门代码，或本机关代码"),
    ("rule", "string", "规则", "规则编号，见 nianbao 的规则目录（schemas/rules.yaml）"),
    ("severity", "string", "严重程度", "error（错误）或 warning（警告）"),
    ("table", "string", "表代码", "proactive_disclosure / applications / review_litigation，空为不针对某表"),
    ("row", "string", "行代码", "发现所在的行，空为不针对某行"),
    ("column", "string", "列代码", "发现所在的列，空为不针对某列"),
    ("file", "string", "来源文件", "发现所在的报送文件名"),
    ("sheet", "string", "工作表", "发现所在的工作表"),
    ("cell", "string", "单元格", "发现所在的单元格，如 C7"),
    ("expected", "string", "应为", "按规则应有的值"),
    ("actual", "string", "实填", "实际填写或读取的值"),
    ("message", "string", "说明", "中文说明：问题与修改方法"),
    ("message_en", "string", "说明（英文）", "英文说明"),
)


def table_lines(layout: TableLayout, report: Report) -> str:
    """A unit's rows of a published table (unit_id, row where the table has several, its columns)
    as CSV lines, in the schema's order of fields. Joined from the figures' text, since ten
    thousand units have three hundred thousand rows."""
    grid = [["" for _ in layout.columns] for _ in layout.rows]
    for (r, c), text in zip(layout.cells, figures(report.values[layout.code], layout), strict=True):
        grid[r][c] = text
    several = len(layout.rows) > 1  # the unit id is bureau.SAFE_ID: nothing to quote in CSV
    return "".join(
        ",".join(([report.unit, row.code] if several else [report.unit]) + texts) + "\n"
        for row, texts in zip(layout.rows, grid, strict=True)
    )


FORMULA_START = frozenset("=+-@\t\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def neutralised(value):
    """Text that came from a workbook, safe to open in a spreadsheet: text that would start a
    formula (=, +, -, @) is prefixed with an apostrophe; plain numbers are left as they are.
    (The first character is tested before anything else: this runs on millions of cells.)"""
    if value.__class__ is str and value[:1] in FORMULA_START and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _csv_bytes(fields: list[str], rows, header: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(fields)
    writer.writerows([("" if v is None else neutralised(v)) for v in (row.get(f) for f in fields)] for row in rows)
    return out.getvalue().encode("utf-8")


EXCEPTION_FIELDS = (
    *FINDING_FIELDS,
    ("reason", "string", "接受理由", "本机关接受该错误的理由（exceptions.yaml）"),
    ("accepted_by", "string", "接受人", "记录接受决定的人"),
    ("date", "string", "接受日期", "接受的日期"),
)


def _published(finding: Finding) -> bool:
    """Whether a finding belongs in the release: not a note of the run only (rules.yaml's
    `published: false`, such as E6, a workbook open in Excel while the run read it)."""
    return rules()[finding.rule].params.get("published", True) is not False


def _finding_row(finding: Finding) -> dict:
    row = finding.as_dict()
    row["unit_id"] = row.pop("unit")
    row["file"] = Path(row["file"]).name if row["file"] else None
    return {field[0]: row[field[0]] for field in FINDING_FIELDS}


def _exception_row(accepted: Accepted) -> dict:
    return _finding_row(accepted.finding) | {
        "reason": accepted.reason,
        "accepted_by": accepted.accepted_by,
        "date": accepted.date,
    }


# (name, type, title, description) of the long-form resources.
CELL_FIELDS = (
    ("unit_id", "string", "部门代码", "报送单位代码：部门，或下级机关（其数字为其发布包中本机关的行）"),
    ("table", "string", "表代码", "proactive_disclosure / applications / review_litigation"),
    ("row", "string", "行代码", "表四只有一行，此处为空"),
    ("column", "string", "列代码", "与该表 CSV 的列名相同"),
    ("value", "number", "数值", "读取并规范化后的数值（金额按该列单位）"),
    ("raw", "string", "填写原文", "单元格中原样填写的内容，空白即为空；下级机关的数字不是填写的，为空"),
    (
        "file",
        "string",
        "来源文件",
        "submissions/ 中的文件名：部门的工作簿，或下级机关的发布包（zip）；其 SHA-256 见 submissions.csv",
    ),
    ("sheet", "string", "工作表", "来源工作表；下级机关为空"),
    (
        "cell",
        "string",
        "单元格",
        "来源单元格，如 C7；下级机关为空：数字在其发布包中的位置即本行的 table、row、column（其本机关的行）",
    ),
    (
        "release_version",
        "string",
        "下级发布包版本",
        "下级机关的数字：所汇总的其发布包的版本（docs/rollup.md）；部门为空",
    ),
    (
        "release_manifest_sha256",
        "string",
        "下级发布包清单 SHA-256",
        "下级机关的数字：其发布包 MANIFEST.sha256 的 SHA-256，即所汇总、所核验（含签名）的那一份；部门为空",
    ),
)
SUBMISSION_FIELDS = (
    ("unit_id", "string", "部门代码", "报送单位（部门）代码"),
    ("file", "string", "文件", "本发布包 submissions/ 中的路径"),
    ("original_name", "string", "原文件名", "报送时的文件名"),
    ("bytes", "integer", "字节数", "文件大小"),
    ("sha256", "string", "SHA-256", "文件内容的 SHA-256"),
    ("received", "datetime", "收到时间", "文件在报送目录中的修改时间（UTC）"),
)


def _schema(fields) -> dict:
    return {
        "fields": [{"name": n, "type": t, "title": title, "description": d} for n, t, title, d in fields],
        "missingValues": [""],
    }


def _submissions(departments: tuple[Report, ...]) -> dict[str, Report]:
    """The submitted files to ship, by their path in the release: submissions/<unit><suffix>, and
    one nil_returns.yaml for the departments that filed a nil return; each with the report read
    from it."""
    shipped: dict[str, Report] = {}
    for report in departments:
        if report.file is None:  # a report made in memory (tests): nothing was submitted
            continue
        path = Path(report.file)
        suffix = (
            ".zip" if isinstance(report, ChildReport) else re.sub(r"[^a-z0-9.]", "", path.suffix.lower())[:8] or ".bin"
        )  # the unit id is safe; the suffix came with the file (a child's release is a zip, if a folder was submitted)
        name = f"submissions/{path.name}" if path.name == "nil_returns.yaml" else f"submissions/{report.unit}{suffix}"
        shipped.setdefault(name, report)
    return shipped


class SubmissionChanged(Exception):
    """A submission's bytes as checked are nowhere to be had: not published; the message says which."""


def received_time(report: Report) -> float | None:
    """When a submission was received: its file's modification time when it was read (as kept),
    else its file's now (read without keeping, as `nianbao check` and the tests do); None if gone."""
    if report.kept is not None and report.kept.received is not None:
        return report.kept.received
    path = Path(str(report.file))
    return path.stat().st_mtime if path.is_file() else None


def cell_lines(report: Report, file: str) -> str:
    """The CSV lines (CELL_FIELDS) of every cell of a department's tables that the template has,
    with where it was typed (`file`: its name in the release). Two million lines for ten thousand
    departments, so each is joined from parts made once per table. Only the typed text and the
    sheet name come from the workbook, so only they are neutralised and quoted; unit ids are
    bureau.SAFE_ID, codes plain words."""
    if isinstance(report, ChildReport):
        return _child_cell_lines(report, file)
    lines, unit, middle = [], report.unit, f",{file},"
    for code, layout in report.edition.tables.items():
        keys, texts = _cell_keys(report.edition.code, code), figures(report.values[code], layout)
        provenance = report.provenance.get(code)
        if provenance is None:
            lines += [f"{unit},{key}{text},{middle},,,\n" for key, text in zip(keys, texts, strict=True)]
            continue
        # As Python lists: indexing a numpy array makes a numpy scalar per cell.
        sheets, rows, cols, raws = (
            a.tolist() for a in (provenance.sheets, provenance.rows, provenance.cols, provenance.raws)
        )
        sheet_fields = {name: _csv_field(neutralised(name)) for name in set(sheets) if name is not None}
        for key, text, sheet, row, col, raw in zip(keys, texts, sheets, rows, cols, raws, strict=True):
            if sheet is None:
                lines.append(f"{unit},{key}{text},{middle},,,\n")
            else:
                cell = cell_ref(row, col)
                if report.places:  # read from a published report: the figure's place in its words
                    cell = _csv_field(neutralised(report.places.get((sheet, cell), cell)))
                lines.append(f"{unit},{key}{text},{_typed_field(raw)}{middle}{sheet_fields[sheet]},{cell},,\n")
    return "".join(lines)


def _child_cell_lines(report: ChildReport, file: str) -> str:
    """A child bureau's cells: each figure of its bureau row, pointing to its release (`file`, the
    zip in submissions/, whose SHA-256 submissions.csv gives) and to the version and manifest
    verified; the figure's place there is the same table, row and column of the child's bureau row
    (docs/rollup.md)."""
    end = f",{file},,,{report.version},{report.manifest_sha256}\n"
    return "".join(
        f"{report.unit},{key}{text},{end}"
        for code, layout in report.edition.tables.items()
        for key, text in zip(_cell_keys(report.edition.code, code), figures(report.values[code], layout), strict=True)
    )


def _typed_field(raw) -> str:
    """A cell's typed content as a CSV field (raw: as calamine read it)."""
    return _number_field(raw) if raw.__class__ is float else _csv_field(neutralised(typed_text(raw)))


@lru_cache(maxsize=1 << 12)  # the same few numbers are typed in every workbook
def _number_field(raw: float) -> str:
    return _csv_field(neutralised(typed_text(raw)))


@cache
def _cell_keys(edition: str, table: str) -> list[str]:
    """Each value cell's "table,row,column," (codes: plain words, never quoted)."""
    layout = edition_named(edition).tables[table]
    return [
        f"{layout.code},{layout.rows[r].code if len(layout.rows) > 1 else ''},{layout.columns[c].code},"
        for r, c in layout.cells
    ]


_QUOTED = re.compile(r'[",\r\n]')


def _csv_field(text: str) -> str:
    """A text field as csv.writer writes it (QUOTE_MINIMAL), but a carriage return quoted too:
    csv.writer leaves it bare, and readers end the line there."""
    return '"' + text.replace('"', '""') + '"' if _QUOTED.search(text) else text


def _submission_rows(departments: tuple[Report, ...], shipped: dict[str, str], files: PackageFiles) -> list[dict]:
    rows = []
    for report in departments:
        if report.file is None:  # made in memory: nothing was submitted
            continue
        name = shipped.get(report.file)
        if not name:
            continue
        path = Path(report.file)
        when = received_time(report)
        received = datetime.fromtimestamp(int(when), UTC).isoformat().replace("+00:00", "Z") if when else None
        rows.append(
            {
                "unit_id": report.unit,
                "file": name,
                "original_name": path.name,
                "bytes": files.size[name],
                "sha256": report.sha256,
                "received": received,
            }
        )
    return rows


def created_timestamp(departments: tuple[Report, ...] = ()) -> str:
    """When the release was made, taken from its inputs so that the same inputs give the same
    bytes: SOURCE_DATE_EPOCH when set, else the time the newest submission was last changed."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        seconds = int(epoch)
    else:
        times = [t for r in departments if r.file and (t := received_time(r)) is not None]
        seconds = int(max(times)) if times else int(datetime.now(UTC).timestamp())
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _resource(name: str, path: str, files: PackageFiles, schema: dict, title: str, description: str) -> dict:
    return {
        "name": name,
        "type": "table",
        "path": path,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "title": title,
        "description": description,
        "hash": "sha256:" + files.sha256[path],
        "bytes": files.size[path],
        "schema": schema,
    }


TABLE_FILES = tuple(f"data/{t}.csv" for t in ("proactive_disclosure", "applications", "review_litigation"))
# The resources whose unit_id must name a unit of data/units.csv (its primary key). Not findings or
# exceptions: an E5 finding names the file's stem when the file names no department (an accepted
# one is published); not changes: it names the units of the previous version too, one of which may
# have left the bureau since.
UNIT_KEYED = frozenset({"proactive_disclosure", "applications", "review_litigation", "cells", "submissions", "reports"})
UNIT_KEY = {"fields": ["unit_id"], "reference": {"resource": "units", "fields": ["unit_id"]}}


def _unit_keyed(name: str, schema: dict) -> dict:
    """The schema, with the foreign key of its unit_id to units when `name` is one of UNIT_KEYED."""
    return {**schema, "foreignKeys": [UNIT_KEY]} if name in UNIT_KEYED else schema


CHANGE_FIELDS = (
    ("unit_id", "string", "单位代码", "数值有变化的单位"),
    ("table", "string", "表代码", "proactive_disclosure / applications / review_litigation"),
    ("row", "string", "行代码", "表四只有一行，此处为空"),
    ("column", "string", "列代码", "与该表 CSV 的列名相同"),
    ("old", "string", "原值", "上一版本中的数值（空：上一版本无此单位）"),
    ("new", "string", "新值", "本版本中的数值（空：本版本无此单位）"),
)


class PackageFiles:  # noqa: PLW1641 - equal by its files, which grow: unhashable, as __eq__ makes it
    """The files of a release as build_package makes them: each hashed and, when a folder is given,
    written there at once, so that a release of ten thousand departments (a gigabyte of reports,
    cells and workbooks) is never held in memory whole; with an `archive` (release.ReleaseZip),
    each also added to the release's zip as soon as it is complete. Without a folder, only hashed:
    what a release would be, to compare with the one published."""

    def __init__(self, folder: Path | None = None, archive=None):
        self.folder = Path(folder) if folder else None
        self.archive = archive if self.folder else None
        self.sha256: dict[str, str] = {}  # path in the release → SHA-256 (hex)
        self.size: dict[str, int] = {}
        # Given every file's bytes as written, in whole lines (analysis.AnalysisCopies.take): the
        # copies for analysts are made from the published CSVs, with or without a folder.
        self.tap: Callable[[str, bytes], None] | None = None
        self.started: Started | None = None  # the large tables in the folder, validating (build_package)

    def __setitem__(self, name: str, content: bytes) -> None:
        self.sha256[name], self.size[name] = hashlib.sha256(content).hexdigest(), len(content)
        if self.tap:
            self.tap(name, content)
        if self.folder:
            path = self.folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        if self.archive:
            self.archive.add_bytes(name, content)

    @contextmanager
    def writer(self, name: str):
        """A file written piece by piece: yields write(bytes)."""
        digest, size = hashlib.sha256(), 0
        with ExitStack() as stack:
            handle = None
            if self.folder:
                (self.folder / name).parent.mkdir(parents=True, exist_ok=True)
                handle = stack.enter_context(open(self.folder / name, "wb"))

            def write(chunk: bytes) -> None:
                nonlocal size
                digest.update(chunk)
                size += len(chunk)
                if self.tap:
                    self.tap(name, chunk)
                if handle:
                    handle.write(chunk)

            yield write
        self.record(name, digest.hexdigest(), size)

    def record(self, name: str, sha256: str, size: int) -> None:
        """A file written into the folder (by this process or another)."""
        self.sha256[name], self.size[name] = sha256, size
        if self.archive and self.folder is not None:  # an archive is kept only with a folder
            self.archive.add_file(name, self.folder / name)

    def copy(self, name: str, source: Path) -> None:
        with self.writer(name) as write, open(source, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                write(chunk)

    def __eq__(self, other) -> bool:
        return isinstance(other, PackageFiles) and self.sha256 == other.sha256


def build_package(
    merged: Merged,
    bureau: Bureau,
    findings: list[Finding],
    accepted: Sequence[Accepted] = (),
    *,
    version: str = "1.0.0",
    changes: Sequence[dict] = (),
    reason: str | None = None,
    previous_version: str | None = None,
    texts: dict | None = None,
    files: PackageFiles | None = None,
    map=map,
    compared: str | None = None,
) -> PackageFiles:
    """Every file of the release, by its path in the release, datapackage.json last, into `files`
    (by default hashed only); the reports rendered by `map` (see _reports).

    `changes` are the cells that differ from `previous_version`, published with the `reason`;
    `texts` (unit → ReportText) the report texts, rendered with the tables in report/; `compared`
    the link from report/ to the comparison with last year's release, when there is one.
    """
    edition = merged.bureau.edition
    units = (merged.bureau, *merged.departments)
    files = PackageFiles() if files is None else files
    analysis = AnalysisCopies(edition, _field_types(edition), bureau.id)
    files.tap = analysis.take
    # The workers' part first (with a process pool's map it runs while this process writes the
    # tables and cells): the bureau's documents, and the submitted files copied byte for byte.
    documents = _start_documents(files, merged, bureau, texts or {}, map, compared)
    submitted = _submissions(merged.departments)
    copies = map(_copy, [(r.file, r.kept, r.sha256, name, files.folder) for name, r in submitted.items()])
    resources = _tables(files, edition, units, bureau)
    resources.append(_units(files, bureau, merged.departments))
    if files.folder is not None:  # validated while the rest is written, by the workers done with the above
        files.started = start_validating(files.folder, {"$schema": PROFILE, "resources": resources}, map)
    # Findings by unit; within a unit in the order they were found (reading order): deterministic.
    warnings = sorted((f for f in findings if not f.is_error and _published(f)), key=lambda f: f.unit)
    accepted_errors = sorted((a for a in accepted if a.finding.is_error), key=lambda a: a.finding.unit)
    shipped = {str(report.file): name for name, report in submitted.items()}
    _cells(files, merged.departments, shipped)
    # In the order the workers were given them: each is zipped as it comes, while they do the next.
    for written in documents:
        for name, (digest, size) in written.items():
            files.record(name, digest, size)
    for name, (digest, size) in zip(submitted, copies, strict=True):
        files.record(name, digest, size)
    for name, fields, rows, title, description in (
        (
            "findings",
            FINDING_FIELDS,
            [_finding_row(f) for f in warnings],
            "检查发现（警告）",
            "发布时仍存在的警告及其单元格位置",
        ),
        (
            "exceptions",
            EXCEPTION_FIELDS,
            [_exception_row(a) for a in accepted_errors],
            "已接受的例外",
            "经本机关记录理由后接受、不再阻止发布的错误",
        ),
        (
            "cells",
            CELL_FIELDS,
            None,
            "各部门单元格（长表）",
            "各部门报表的每个单元格：数值、填写原文、来源文件（SHA-256）、工作表与单元格。本机关每个数字都等于对应各行之和",
        ),
        (
            "submissions",
            SUBMISSION_FIELDS,
            _submission_rows(merged.departments, shipped, files),
            "报送文件",
            "各部门报送的原始文件（原样收录于 submissions/）及其大小与 SHA-256",
        ),
        (
            "changes",
            CHANGE_FIELDS,
            list(changes),
            "与上一版本相比有变化的单元格",
            f"相对于版本 {previous_version} 的变化" + (f"，原因：{reason}" if reason else "")
            if previous_version
            else "首次发布，无变化记录",
        ),
    ):
        if rows is not None:
            files[f"data/{name}.csv"] = _csv_bytes([f[0] for f in fields], rows)
        schema = _unit_keyed(name, _schema(fields))
        resources.append(_resource(name, f"data/{name}.csv", files, schema, title, description))
    resources += _reports(files, merged, bureau, texts or {})
    files.tap = None
    database, parquet = analysis.finish(files)
    resources.append(database)
    files["README.md"] = _readme(merged, bureau).encode("utf-8")
    files["CHANGELOG.md"] = _changelog(version, previous_version, reason, changes).encode("utf-8")
    meta = {"version": version, "previous_version": previous_version, "reason": reason, "copies": parquet}
    if any(r.places for r in merged.departments):  # a back-filled year (docs/published-reports.md)
        meta["read_from"] = "published_reports"
    descriptor = _descriptor(merged, bureau, resources, meta)
    files["dcat.jsonld"] = release_jsonld(descriptor, bureau, base_url(bureau))
    files["datapackage.json"] = (json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return files


def _field_types(edition: Edition) -> dict[str, dict[str, str]]:
    """Each CSV table of the release → its fields' Table Schema types (for the SQLite and Parquet copies).
    Not cells: every figure is in the copies' long table already, and its provenance (70 MB of CSV for
    2,000 departments) would double the SQLite file's size and the copies' time (docs/analysis.md)."""
    schemas = {code: edition.schema(code)["fields"] for code in edition.tables}
    schemas["units"] = json.loads((SCHEMAS / "units.schema.json").read_text("utf-8"))["fields"]
    types = {name: {f["name"]: f["type"] for f in fields} for name, fields in schemas.items()}
    for name, fields in (
        ("findings", FINDING_FIELDS),
        ("exceptions", EXCEPTION_FIELDS),
        ("submissions", SUBMISSION_FIELDS),
        ("changes", CHANGE_FIELDS),
        ("reports", REPORT_FIELDS),
    ):
        types[name] = {f[0]: f[1] for f in fields}
    return types


def _tables(files: PackageFiles, edition: Edition, units: tuple[Report, ...], bureau: Bureau) -> list[dict]:
    """The three tables and their resources: written unit by unit, so that ten thousand
    departments' rows are never held at once. CSV only, with no JSON copy (published releases keep
    theirs; docs/release-format.md says why)."""
    resources = []
    for code, layout in edition.tables.items():
        schema = edition.schema(code)
        schema.pop("$schema", None)
        with files.writer(f"data/{code}.csv") as csv_out:
            csv_out(_csv_bytes([f["name"] for f in schema["fields"]], ()))
            for unit in units:
                csv_out(table_lines(layout, unit).encode("utf-8"))
        description = (
            f"{layout.heading}：{bureau.name}（unit_id = {bureau.id}，各部门之和）及各部门的数据；{edition.code} 版格式"
        )
        resources.append(
            _resource(code, f"data/{code}.csv", files, _unit_keyed(code, schema), layout.heading, description)
        )
    return resources


def table_hashes(merged: Merged, bureau: Bureau) -> dict[str, str]:
    """The SHA-256 of each of the three tables (TABLE_FILES) as build_package writes them."""
    files = PackageFiles()
    _tables(files, merged.bureau.edition, (merged.bureau, *merged.departments), bureau)
    return {name: files.sha256[name] for name in TABLE_FILES}


def _units(files: PackageFiles, bureau: Bureau, departments: tuple[Report, ...]) -> dict:
    """data/units.csv: the bureau and each department published (unit_id, name, level, parent), the
    table every other table's unit_id refers to; its resource."""
    rows = [{"unit_id": bureau.id, "name": bureau.name, "level": bureau.metadata.get("level"), "parent": None}]
    names = _names(bureau)
    rows += [{"unit_id": r.unit, "name": names[r.unit], "level": _level(r), "parent": bureau.id} for r in departments]
    schema = json.loads((SCHEMAS / "units.schema.json").read_text("utf-8"))
    schema.pop("$schema", None)
    files["data/units.csv"] = _csv_bytes([f["name"] for f in schema["fields"]], rows)
    title, description = schema.pop("title"), schema.pop("description")
    return _resource("units", "data/units.csv", files, schema, title, description)


# What schemas/rules.yaml (C4's `maximum`) and docs/glossary.md call the level of a department's figures.
DEPARTMENT_LEVEL = "department"


def _level(report: Report) -> str | None:
    """A unit's level in units.csv: a department's, or a child bureau's own (its release's)."""
    return report.level if isinstance(report, ChildReport) else DEPARTMENT_LEVEL


def _cells(files: PackageFiles, departments: tuple[Report, ...], shipped: dict[str, str]) -> None:
    """data/cells.csv: a row per department cell (two million for ten thousand departments),
    written department by department."""
    with files.writer("data/cells.csv") as write:
        write(_csv_bytes([f[0] for f in CELL_FIELDS], ()))
        for report in departments:
            write(cell_lines(report, shipped.get(report.file, "") if report.file is not None else "").encode("utf-8"))


def base_url(bureau: Bureau) -> str:
    """Where the outputs folder is served (bureau.yaml `base_url`): the root of every IRI in the
    DCAT metadata. Without one, IRIs are URNs that name the release but locate nothing."""
    return bureau.metadata.get("base_url") or f"urn:nianbao:{bureau.id}"


REPORT_FIELDS = (
    ("unit_id", "string", "单位代码", "报告所属的单位：本机关代码或部门代码"),
    ("title", "string", "标题", "报告标题"),
    (
        "html",
        "string",
        "网页版",
        "report/ 中的 HTML 文件（单文件，可打印为 A4）；仅本机关的，部门的为空：nianbao report 按需生成",
    ),
    ("docx", "string", "Word 版", "report/ 中的 .docx 文件；仅本机关的，部门的为空：nianbao report 按需生成"),
    ("text", "string", "文字部分", "填入表格数字后的文字部分（Markdown），无则为空"),
)


def _reports(files: PackageFiles, merged: Merged, bureau: Bureau, texts: dict) -> list[dict]:
    """The list of every unit's report (its title and text) as a resource, naming the HTML and Word
    files of the bureau's, which _start_documents wrote into report/ and which are resources of their
    own. A department's or child's report is rendered on demand from these data (`nianbao report`):
    in a release of 1,000 departments, their two files each were 63 of its 114 MiB and 11 of the 29
    s of its publication, and they hold nothing the tables and texts do not."""
    from flows.checks.text import text_markdown
    from flows.documents.annual_report import title_of

    names = _names(bureau)
    units = (merged.bureau, *merged.departments)
    rows, resources = [], []
    for report in units:
        text, stem = texts.get(report.unit), f"report/{report.unit}"
        if text is not None:
            files[f"{stem}.md"] = text_markdown(text).encode("utf-8")
        rows.append(
            {
                "unit_id": report.unit,
                "title": title_of(report, names[report.unit]),
                "html": f"{stem}.html" if report is merged.bureau else "",
                "docx": f"{stem}.docx" if report is merged.bureau else "",
                "text": f"{stem}.md" if text is not None else "",
            }
        )
    content = _csv_bytes([f[0] for f in REPORT_FIELDS], rows)
    files["data/reports.csv"] = content
    resources.append(
        _resource(
            "reports",
            "data/reports.csv",
            files,
            _unit_keyed("reports", _schema(REPORT_FIELDS)),
            "年度报告文件",
            "本机关及各部门年度报告的标题与文字部分；本机关报告的网页版与 Word 版（各部门的由 nianbao report 按需生成）",
        )
    )
    title = title_of(merged.bureau, bureau.name)
    for fmt, mediatype in (
        ("html", "text/html"),
        ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ):
        path = f"report/{bureau.id}.{fmt}"
        resources.append(
            {
                "name": f"report-{fmt}",
                "path": path,
                "format": fmt,
                "mediatype": mediatype,
                "title": f"{title}（{'网页版' if fmt == 'html' else 'Word 版'}）",
                "hash": "sha256:" + files.sha256[path],
                "bytes": files.size[path],
            }
        )
    return resources


def _start_documents(files: PackageFiles, merged: Merged, bureau: Bureau, texts: dict, map, compared=None):
    """The bureau's HTML and Word report (the units' are made on demand: see _reports), to be
    rendered, written into report/ and hashed by `map`'s worker while this process writes the tables
    and cells; their hashes, as a one-item iterator. Its HTML links to the comparison's top."""
    created = datetime.fromisoformat(created_timestamp(merged.departments).replace("Z", "+00:00")).replace(tzinfo=None)
    # Without where each cell was typed: the documents show figures only, and the job travels light.
    job = (replace(merged.bureau, provenance={}), bureau.name, texts.get(bureau.id), created, files.folder, compared)
    return map(_unit_documents, [job])


def _copy(job: tuple) -> tuple[str, int]:
    """A worker's job: a submission's bytes as checked, copied into the release folder (when there
    is one): those kept when it was read (Report.kept), else the file's (read without keeping, or
    the pack removed since); their SHA-256 and size. SubmissionChanged if they are not the bytes
    checked, whose hash submissions.csv and cells.csv give: never shipped."""
    source, kept, checked, name, folder = job
    files = PackageFiles(folder)
    data = kept_bytes(kept) if kept is not None else None
    if data is not None:
        files[name] = data
    else:
        files.copy(name, Path(source))
    if checked is not None and files.sha256[name] != checked:
        raise SubmissionChanged(
            f"{source} 已不是检查过的内容（SHA-256 应为 {checked}，现为 {files.sha256[name]}），"
            "检查时保留的内容也已不在：未发布；请重新运行 nianbao run，检查并发布现在的文件"
        )
    return files.sha256[name], files.size[name]


def _names(bureau: Bureau) -> dict[str, str]:
    return {d.id: d.name for d in bureau.departments} | {bureau.id: bureau.name}


def _unit_documents(job: tuple) -> dict[str, tuple[str, int]]:
    """A worker's job: one unit's two documents written into the release folder (when there is
    one); their SHA-256 and size by path."""
    from flows.documents.annual_report import render_docx, render_html

    report, name, text, created, folder, compared = job
    files, stem = PackageFiles(folder), f"report/{report.unit}"
    files[f"{stem}.html"] = render_html(report, name, text, compared).encode("utf-8")
    files[f"{stem}.docx"] = render_docx(report, name, text, created)
    return {path: (files.sha256[path], files.size[path]) for path in files.sha256}


def _changelog(version: str, previous_version: str | None, reason: str | None, changes) -> str:
    if previous_version is None:
        return f"# 版本 {version}\n\n首次发布。\n"
    lines = [
        f"# 版本 {version}（更正版本 {previous_version}）",
        "",
        f"原因：{reason or '未说明'}",
        "",
        f"有变化的单元格 {len(changes)} 个（完整清单见 data/changes.csv）：",
        "",
        "| 单位 | 表 | 行 | 列 | 原值 | 新值 |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c['unit_id']} | {c['table']} | {c['row']} | {c['column']} | {c['old']} | {c['new']} |" for c in changes
    ]
    return "\n".join(lines) + "\n"


def _readme(merged: Merged, bureau: Bureau) -> str:
    year, edition, n = merged.bureau.year, merged.bureau.edition, len(merged.departments)
    return f"""# {bureau.name} {year} 年度政府信息公开工作年度报告统计数据

本数据包收录{bureau.name}及其 {n} 个部门 {year} 年度政府信息公开工作年度报告的三张统计表
（{edition.code} 版格式，{edition.issued_by}），由 nianbao 从各部门报送的工作簿读取、检查并汇总生成。
{bureau.metadata.get("note", "")}{_read_from_published_note(merged)}{_children_note(merged)}

- `data/proactive_disclosure.csv`、`data/applications.csv`、`data/review_litigation.csv`：三张表；
  `unit_id` 为 `{bureau.id}` 的行是本机关汇总数（各部门之和），其余为各部门数据。
- `data/units.csv`：本机关及各部门（代码、名称、层级、上级）；各表的 `unit_id` 均指向此表。
- `data/cells.csv`：各部门每个单元格的数值、填写原文、来源文件及其 SHA-256、工作表与单元格。
- `data/submissions.csv` 与 `submissions/`：各部门报送的原始文件，原样收录。
- `data/findings.csv`：发布时仍存在的警告；`data/exceptions.csv`：经记录理由后接受的错误。

## 如何核验

1. 每个文件的 SHA-256 与字节数见 `datapackage.json` 的 `hash` 与 `bytes`（报送文件见 `submissions.csv`）。
2. 本机关的每个数字等于各部门对应行之和，也等于 `cells.csv` 中对应行之和。
3. `cells.csv` 的每个数值都可在对应报送文件的工作表和单元格中找到。
4. 一条命令完成以上全部核验：`nianbao verify <本目录或其 zip>`。

# {bureau.id}: government information disclosure statistics, {year}

The three statistical tables of the {year} annual reports of {bureau.name} and its {n} departments
(edition {edition.code}), read from the workbooks the departments submitted, checked against the
format's rules and summed by nianbao. Rows with `unit_id` = `{bureau.id}` are the bureau's figures,
the sum of its departments'. `data/cells.csv` traces every department figure to the file (by
SHA-256), sheet and cell it was typed in; `submissions/` holds those files byte for byte. To verify:
compare each file's SHA-256 and size with `datapackage.json`, re-add the department rows (or the
`cells` rows) for each bureau figure, or run `nianbao verify <this folder or its zip>`.
"""


def _children_note(merged: Merged) -> str:
    """What the README says of a level above bureaus: its children's figures come from their releases."""
    children = [r.unit for r in merged.departments if isinstance(r, ChildReport)]
    if not children:
        return ""
    return f"""

**下级机关（{"、".join(children)}）的数字取自其已发布的发布包**（`submissions/<代码>.zip`，原样收录，
汇总前已逐项核验）：`cells.csv` 中其各行的 `release_version` 与 `release_manifest_sha256` 指明所汇总的
版本及其哈希清单，`nianbao trace` 可据此逐级追溯到部门填报的单元格（docs/rollup.md）。
The figures of the child bureaus ({", ".join(children)}) come from their published releases, shipped
in `submissions/` and verified before they were summed; `nianbao trace` follows any figure down to
the department's workbook cell."""


def _read_from_published_note(merged: Merged) -> str:
    """What the README says of a back-filled year: its figures were read from published reports."""
    if not any(r.places for r in merged.departments):
        return ""
    return """

**本年度的数字读自各部门已发布的年度报告**（网页、Word、PDF 或文本，`submissions/` 原样收录），
而非报送的工作簿：`cells.csv` 的“工作表”为报告中的表二、表三、表四，“单元格”为数字在报告中的
位置（“行” / “列”，PDF 注明页码），来源文件的 SHA-256 为所读的报告。
This year's figures were read from the departments' reports as published (web page, Word, PDF or
text, in `submissions/`), not from submitted workbooks: in `cells.csv`, `sheet` is the report's
table and `cell` the figure's place in it (row / column label, and a PDF's page)."""


def _descriptor(merged: Merged, bureau: Bureau, resources: list[dict], release: dict) -> dict:
    config, year, edition = bureau.metadata, merged.bureau.year, merged.bureau.edition
    names = {d.id: d.name for d in bureau.departments}
    name = f"{bureau.id}-gov-info-disclosure-{year}"
    contributors = [{"title": bureau.name, "roles": ["publisher"], **_contact(config.get("publisher", {}))}]
    contributors += [{"title": names[r.unit], "roles": ["provider"]} for r in merged.departments]
    return {
        "$schema": PROFILE,
        "name": name,  # stable across versions: the bureau's id and the year
        "id": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'nianbao:' + name + ':' + release['version'])}",
        "title": f"{bureau.name}{year}年政府信息公开工作年度报告统计数据",
        "description": (
            f"{bureau.name}及其 {len(merged.departments)} 个部门 {year} 年度政府信息公开工作年度报告的三张统计表"
            f"（{edition.code} 版格式，{edition.issued_by}）。{config.get('note', '')}"
        ).strip(),
        "version": release["version"],
        "created": created_timestamp(merged.departments),
        "licenses": config.get("licenses", []),
        "sources": [
            {"title": f"{names[r.unit]} {year} 年度统计表（{r.file and Path(r.file).name}，sha256:{r.sha256}）"}
            for r in merged.departments
        ],
        "contributors": contributors,
        "keywords": ["政府信息公开", "年度报告", "政府信息公开工作年度报告", str(year), bureau.name],
        # Not in the Data Package standard: what the release covers in time (as DCAT's dct:temporal)
        # and what nianbao needs to read it back (the rules across years, verify).
        "temporalCoverage": {"start": f"{year}-01-01", "end": f"{year}-12-31"},
        "nianbao": {
            "year": year,
            "edition": edition.code,
            "bureau": bureau.id,
            **{k: release[k] for k in ("previous_version", "reason", "read_from") if release.get(k)},
            # Parquet copies of the tables: listed here, not as resources, since frictionless reads a
            # Parquet resource as a table and computes neither its hash nor its size (docs/analysis.md).
            **({"copies": release["copies"]} if release.get("copies") else {}),
        },
        "resources": resources,
    }


def _contact(publisher: dict) -> dict:
    return {k: publisher[k] for k in ("email", "path", "organization") if k in publisher}
