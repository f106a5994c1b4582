"""A release as pandas DataFrames, for analysts: `nianbao.load(path)` (flows/api.py).

Read from the release's CSVs and its datapackage.json (any release, those published before the Parquet
copies too), from its folder or its zip. Every column has the type its Table Schema says; codes are
ordered categoricals in the order of the edition's template, with their Chinese labels beside them.
pandas is the `analysis` extra: imported here only, inside the functions, so that a run never needs it.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from flows.format.edition import Edition, edition_named

STATISTICAL = ("proactive_disclosure", "applications", "review_litigation")
DTYPES = {"integer": "Int64", "number": "Float64", "boolean": "boolean"}


class Release(dict):
    """name → DataFrame: each table of the release by its resource name (the three statistical tables
    wide, as published), and `figures`, every figure in long form with its labels. `year`, `version`,
    `edition` (its code), `bureau` (its unit id) and `descriptor` (datapackage.json) say which it is."""

    year: int
    version: str
    edition: str
    bureau: str
    descriptor: dict


def load(path: str | Path) -> Release:
    """The release at `path` (its folder, its datapackage.json or its zip) as DataFrames."""
    try:
        import pandas  # noqa: F401 - the extra, asked for here so a missing one is said plainly
    except ImportError:
        raise ImportError("nianbao.load needs pandas: pip install 'nianbao[analysis]'") from None
    read = _reader(Path(path))
    descriptor = json.loads(read("datapackage.json"))
    meta = descriptor["nianbao"]
    edition = edition_named(meta["edition"])
    release = Release()
    release.year, release.version, release.edition = int(meta["year"]), descriptor["version"], edition.code
    release.bureau, release.descriptor = meta["bureau"], descriptor
    tables = [r for r in descriptor["resources"] if r.get("type") == "table"]
    units = _frame(read(_path_of(tables, "units")), _fields(tables, "units")) if _has(tables, "units") else None
    order = list(units["unit_id"]) if units is not None else None
    for resource in tables:
        fields = resource["schema"]["fields"]
        frame = units if resource["name"] == "units" and units is not None else _frame(read(resource["path"]), fields)
        if order is not None and "unit_id" in frame:
            frame["unit_id"] = _ordered(frame["unit_id"], order)
        _categorise(frame, resource["name"], edition)
        release[resource["name"]] = frame
    release["figures"] = figures(release, edition)
    return release


def _has(tables: list[dict], name: str) -> bool:
    return any(r["name"] == name for r in tables)


def _path_of(tables: list[dict], name: str) -> str:
    return next(r["path"] for r in tables if r["name"] == name)


def _fields(tables: list[dict], name: str) -> list[dict]:
    return next(r["schema"]["fields"] for r in tables if r["name"] == name)


def _reader(path: Path):
    """read(name) → the bytes of the release's file `name`, from a folder or a zip (its files at the
    zip's root, or under <version>/ as in zips published before the zip became the package)."""
    if path.is_file() and path.name == "datapackage.json":
        path = path.parent
    if path.is_dir():
        return lambda name: (path / name).read_bytes()
    archive = zipfile.ZipFile(path)
    names = set(archive.namelist())
    root = "" if "datapackage.json" in names else next(n for n in names if n.endswith("/datapackage.json"))[:-17]
    return lambda name: archive.read(root + name)


def _frame(content: bytes, fields: list[dict]):
    """A CSV as its Table Schema types it: integer → Int64, number → Float64, datetime → UTC, else text."""
    import pandas as pd

    frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    for field in fields:
        name, kind = field["name"], field.get("type", "string")
        if name not in frame:
            continue
        if kind in DTYPES:
            frame[name] = pd.to_numeric(frame[name]).astype(DTYPES[kind])
        elif kind == "datetime":
            frame[name] = pd.to_datetime(frame[name], utc=True)
        else:
            frame[name] = frame[name].astype("string")
    return frame


def _ordered(values, categories: list):
    import pandas as pd

    return pd.Categorical(values, categories=list(dict.fromkeys(categories)), ordered=True)


def _codes(edition: Edition) -> tuple[list[str], list[str], list[str], list[str]]:
    """Every row code and column code of the edition, in the template's order (table by table), with
    their labels."""
    rows = {r.code: r.path for t in edition.tables.values() if len(t.rows) > 1 for r in t.rows}
    columns = {c.code: c.path for t in edition.tables.values() for c in t.columns}
    return list(rows), list(rows.values()), list(columns), list(columns.values())


def _categorise(frame, name: str, edition: Edition) -> None:
    """Codes as ordered categoricals in the template's order; a statistical table's rows with their labels."""
    if name in STATISTICAL:
        layout = edition.tables[name]
        if "row" in frame:
            codes = [r.code for r in layout.rows]
            frame["row"] = _ordered(frame["row"], codes)
            labels = dict(zip(codes, (r.path for r in layout.rows), strict=True))
            frame.insert(
                frame.columns.get_loc("row") + 1,
                "row_label",
                _ordered(frame["row"].map(labels), list(labels.values())),
            )
        frame.attrs["labels"] = {c.code: c.path for c in layout.columns}
        frame.attrs["measures"] = {c.code: c.measure for c in layout.columns}
        return
    row_codes, _, column_codes, _ = _codes(edition)
    for column, categories in (("table", list(edition.tables)), ("row", row_codes), ("column", column_codes)):
        if column in frame and frame[column].isin([*categories, None]).all():
            frame[column] = _ordered(frame[column], categories)


def figures(release: dict[str, Any], edition: Edition):
    """Every figure of the three tables in long form: unit_id, table, row, row_label, column,
    column_label, value (Float64: amounts have decimals); row empty in table 四, which has one row."""
    import pandas as pd

    parts = []
    for code, layout in edition.tables.items():
        if code not in release:
            continue
        wide = release[code]
        keys = ["unit_id", "row"] if "row" in wide else ["unit_id"]
        columns = [c.code for c in layout.columns if c.code in wide]
        long = wide[keys + columns].melt(id_vars=keys, var_name="column", value_name="value")
        long = long[long["value"].notna()]
        long.insert(1, "table", code)
        if "row" not in long:
            long.insert(2, "row", None)
        parts.append(long.astype({"value": "Float64", "row": "object", "column": "object"}))
    frame = pd.concat(parts, ignore_index=True)
    row_codes, row_labels, column_codes, column_labels = _codes(edition)
    unit_order = list(release["units"]["unit_id"]) if "units" in release else sorted(set(frame["unit_id"]))
    frame["unit_id"] = _ordered(frame["unit_id"].astype("object"), unit_order)
    frame["table"] = _ordered(frame["table"], list(edition.tables))
    frame["row"] = _ordered(frame["row"], row_codes)
    frame["column"] = _ordered(frame["column"], column_codes)
    frame.insert(3, "row_label", _ordered(frame["row"].map(dict(zip(row_codes, row_labels, strict=True))), row_labels))
    frame.insert(
        5,
        "column_label",
        _ordered(frame["column"].map(dict(zip(column_codes, column_labels, strict=True))), column_labels),
    )
    return frame.sort_values(["unit_id", "table", "row", "column"], kind="stable", ignore_index=True)
