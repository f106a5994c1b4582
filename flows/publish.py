"""The release: a Frictionless Data Package (v2) of the bureau's and departments' tables.

Written aside and moved into place at the end, so a reader never sees half a release.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .bureau import Bureau
from .exceptions import Accepted
from .edition import TableLayout
from .merge import Merged
from .report import Finding, Report
from .values import format_value

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
FINDING_FIELDS = (
    ("unit_id", "单位代码"),
    ("rule", "规则"),
    ("severity", "严重程度"),
    ("table", "表代码"),
    ("row", "行代码"),
    ("column", "列代码"),
    ("file", "来源文件"),
    ("sheet", "工作表"),
    ("cell", "单元格"),
    ("expected", "应为"),
    ("actual", "实填"),
    ("message", "说明"),
    ("message_en", "说明（英文）"),
)


def table_rows(layout: TableLayout, report: Report) -> list[dict]:
    """A unit's rows of a published table: unit_id, row (where the table has several), columns."""
    values = report.values[layout.code]
    rows = []
    for r, row in enumerate(layout.rows):
        record = {"unit_id": report.unit}
        if len(layout.rows) > 1:
            record["row"] = row.code
        for c, column in enumerate(layout.columns):
            record[column.code] = format_value(int(values[r, c]), column) if layout.applicable[r, c] else None
        rows.append(record)
    return rows


def _csv_bytes(fields: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue().encode("utf-8")


def _json_bytes(schema: dict, rows: list[dict]) -> bytes:
    types = {f["name"]: f["type"] for f in schema["fields"]}

    def typed(name, text):
        if text is None or types[name] == "string":
            return text
        return int(text) if types[name] == "integer" or "." not in text else float(text)

    data = [{k: typed(k, v) for k, v in row.items()} for row in rows]
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


EXCEPTION_FIELDS = FINDING_FIELDS + (("reason", "接受理由"), ("accepted_by", "接受人"), ("date", "接受日期"))


def _findings_schema(fields=FINDING_FIELDS) -> dict:
    return {
        "fields": [{"name": name, "type": "string", "title": title} for name, title in fields],
        "missingValues": [""],
    }


def _finding_row(finding: Finding) -> dict:
    row = finding.as_dict()
    row["unit_id"] = row.pop("unit")
    row["file"] = Path(row["file"]).name if row["file"] else None
    return {name: row[name] for name, _ in FINDING_FIELDS}


def _exception_row(accepted: Accepted) -> dict:
    return _finding_row(accepted.finding) | {"reason": accepted.reason, "accepted_by": accepted.accepted_by, "date": accepted.date}


def created_timestamp() -> str:
    """When the release was made: SOURCE_DATE_EPOCH when set (reproducible builds), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _resource(name: str, path: str, content: bytes, schema: dict, title: str, description: str) -> dict:
    fmt = path.rsplit(".", 1)[-1]
    # The JSON copy is declared a plain JSON file (with its schema, for readers): frictionless then
    # checks its hash and bytes, which its tabular JSON reader cannot. The CSV is the tabular one.
    return {
        "name": name,
        **({"type": "table"} if fmt == "csv" else {}),
        "path": path,
        "format": fmt,
        "mediatype": "text/csv" if fmt == "csv" else "application/json",
        "encoding": "utf-8",
        "title": title,
        "description": description,
        "hash": "sha256:" + hashlib.sha256(content).hexdigest(),
        "bytes": len(content),
        "schema": schema,
    }


def build_package(merged: Merged, bureau: Bureau, findings: list[Finding], accepted: list[Accepted] = ()) -> dict[str, bytes]:
    """Every file of the release, by its path in the release, datapackage.json last."""
    edition, year = merged.bureau.edition, merged.bureau.year
    units = (merged.bureau, *merged.departments)
    files: dict[str, bytes] = {}
    resources = []
    for code, layout in edition.tables.items():
        schema = edition.schema(code)
        schema.pop("$schema", None)
        rows = [row for unit in units for row in table_rows(layout, unit)]
        fields = [f["name"] for f in schema["fields"]]
        for fmt, content in (("csv", _csv_bytes(fields, rows)), ("json", _json_bytes(schema, rows))):
            path = f"data/{code}.{fmt}"
            files[path] = content
            name = code if fmt == "csv" else f"{code}-json"
            description = f"{layout.heading}：{bureau.name}（unit_id = {bureau.id}，各部门之和）及各部门的数据；{edition.code} 版格式"
            resources.append(_resource(name, path, content, schema, layout.heading, description))
    # By unit; within a unit in the order they were found (reading order), which is deterministic.
    warnings = sorted((f for f in findings if not f.is_error), key=lambda f: f.unit)
    content = _csv_bytes([n for n, _ in FINDING_FIELDS], [_finding_row(f) for f in warnings])
    files["data/findings.csv"] = content
    resources.append(_resource("findings", "data/findings.csv", content, _findings_schema(), "检查发现（警告）", "发布时仍存在的警告及其单元格位置"))
    rows = [_exception_row(a) for a in sorted(accepted, key=lambda a: a.finding.unit) if a.finding.is_error]
    content = _csv_bytes([n for n, _ in EXCEPTION_FIELDS], rows)
    files["data/exceptions.csv"] = content
    resources.append(_resource("exceptions", "data/exceptions.csv", content, _findings_schema(EXCEPTION_FIELDS),
                               "已接受的例外", "经本机关记录理由后接受、不再阻止发布的错误"))
    files["datapackage.json"] = (json.dumps(_descriptor(merged, bureau, resources), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return files


def _descriptor(merged: Merged, bureau: Bureau, resources: list[dict]) -> dict:
    meta, year, edition = bureau.metadata, merged.bureau.year, merged.bureau.edition
    contributors = [{"title": bureau.name, "roles": ["publisher"], **_contact(meta.get("publisher", {}))}]
    names = {d.id: d.name for d in bureau.departments}
    contributors += [{"title": names[r.unit], "roles": ["provider"]} for r in merged.departments]
    return {
        "$schema": PROFILE,
        "name": f"{bureau.id}-gov-info-disclosure-{year}",
        "title": f"{bureau.name}{year}年政府信息公开工作年度报告统计数据",
        "description": (
            f"{bureau.name}及其 {len(merged.departments)} 个部门 {year} 年度政府信息公开工作年度报告的三张统计表"
            f"（{edition.code} 版格式，{edition.issued_by}）。{meta.get('note', '')}"
        ).strip(),
        "version": "1.0.0",
        "created": created_timestamp(),
        "licenses": meta.get("licenses", []),
        "sources": [
            {"title": f"{names[r.unit]} {year} 年度统计表（{r.file and Path(r.file).name}，sha256:{r.sha256}）"}
            for r in merged.departments
        ],
        "contributors": contributors,
        "keywords": ["政府信息公开", "年度报告", str(year), bureau.name],
        # What nianbao needs to read the release back (the rules across years use it).
        "nianbao": {"year": year, "edition": edition.code, "bureau": bureau.id},
        "resources": resources,
    }


def _contact(publisher: dict) -> dict:
    return {k: publisher[k] for k in ("email", "path", "organization") if k in publisher}


def write_release(files: dict[str, bytes], target: Path) -> Path:
    """Write `files` under `target` atomically: aside first, then swapped into place."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, content in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        previous = None
        if target.exists():
            previous = target.with_name(f".{target.name}.previous")
            shutil.rmtree(previous, ignore_errors=True)
            target.rename(previous)
        staging.rename(target)
        if previous is not None:
            shutil.rmtree(previous)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
