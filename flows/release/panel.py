"""The panel: every figure of every year and version published, in one long table (outputs/panel.csv
and outputs/panel.parquet: year, version, live, unit, table, row, column, value), rebuilt after each
publication from the releases catalog.json lists, and written aside then moved into place."""

from __future__ import annotations

import csv
import fcntl
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from flows import places
from flows.format.edition import edition_named
from flows.intake.previous import catalog_releases
from flows.release.versions import replace_file

PANEL_CSV, PANEL_PARQUET = "panel.csv", "panel.parquet"
COLUMNS = ("year", "version", "live", "unit", "table", "row", "column", "value")
# The versions a panel holds, in its Parquet file's metadata: a run that publishes nothing new leaves it be.
LISTED = b"nianbao.versions"


def write_panel(outputs: Path) -> None:
    """Rebuild the panel of `outputs` from every version catalog.json lists, unless it holds them already."""
    outputs = Path(outputs)
    with open(outputs / ".panel.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # runs of two years publish into one panel
        versions = sorted(
            (int(r["year"]), str(r["version"]), bool(r.get("latest"))) for r in catalog_releases(outputs) or []
        )
        if _listed(outputs) == versions and (outputs / PANEL_CSV).is_file():
            return
        columns: dict[str, list] = {name: [] for name in COLUMNS}
        for year, version, live in versions:
            _add_release(columns, places.year_folder(outputs, year) / version, year, version, live)
        texts = columns["value"]
        replace_file(outputs / PANEL_CSV, _csv(columns))
        columns["value"] = [float(text) for text in texts]
        table = pa.table(
            {name: pa.array(values, type=TYPES.get(name, pa.string())) for name, values in columns.items()}
        ).replace_schema_metadata({LISTED: json.dumps(versions).encode()})
        out = io.BytesIO()
        pq.write_table(table, out, compression="zstd")
        replace_file(outputs / PANEL_PARQUET, out.getvalue())


TYPES = {"year": pa.int32(), "live": pa.bool_(), "value": pa.float64()}


def _listed(outputs: Path) -> list | None:
    try:
        metadata = pq.read_schema(outputs / PANEL_PARQUET).metadata or {}
        return [tuple(v) for v in json.loads(metadata[LISTED])]
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None


def _add_release(columns: dict[str, list], release: Path, year: int, version: str, live: bool) -> None:
    """A release's figures (as its CSVs publish them, every non-empty cell of a row in the order of
    its columns, row after row) appended to the panel's columns. Parsed by Arrow's CSV reader and
    picked out by numpy: a release of 10,000 departments has two million figures."""
    meta = json.loads((release / "datapackage.json").read_text("utf-8"))["nianbao"]
    for code, layout in edition_named(meta["edition"]).tables.items():
        codes = [c.code for c in layout.columns]
        path = release / "data" / f"{code}.csv"
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
        table = pa_csv.read_csv(
            path,
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
        )
        if table.num_rows == 0:
            continue
        values = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in codes])
        r, c = np.nonzero(values != "")  # row-major: a row's figures together, in column order
        n = len(r)
        columns["year"] += [year] * n
        columns["version"] += [version] * n
        columns["live"] += [live] * n
        columns["unit"] += table.column("unit_id").to_numpy(zero_copy_only=False)[r].tolist()
        columns["table"] += [code] * n
        rows = table.column("row").to_numpy(zero_copy_only=False)[r].tolist() if "row" in header else [None] * n
        columns["row"] += rows
        columns["column"] += np.array(codes, dtype=object)[c].tolist()
        columns["value"] += values[r, c].tolist()


def _csv(columns: dict[str, list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    live = ["true" if v else "false" for v in columns["live"]]
    writer.writerows(zip(*(live if n == "live" else columns[n] for n in COLUMNS), strict=True))
    return out.getvalue().encode("utf-8")
