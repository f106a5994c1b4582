"""The panel: every figure of every year and version published, in one long table (outputs/panel.csv
and outputs/panel.parquet: year, version, live, unit, table, row, column, value), rebuilt after each
publication from the releases catalog.json lists, and written aside then moved into place."""

from __future__ import annotations

import csv
import fcntl
import io
import json
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from flows import places
from flows.format.edition import edition_named
from flows.intake.previous import catalog_releases
from flows.release.versions import replacing

PANEL_CSV, PANEL_PARQUET = "panel.csv", "panel.parquet"
COLUMNS = ("year", "version", "live", "unit", "table", "row", "column", "value")
# The versions a panel holds, in its Parquet file's metadata: a run that publishes nothing new leaves it be.
LISTED = b"nianbao.versions"


def write_panel(outputs: Path) -> None:
    """Rebuild the panel of `outputs` from every version catalog.json lists, unless it holds them already.
    Held in Arrow arrays, never as a Python object a figure: a 10,000-department version has two
    million figures (as Python lists they took 10.5 s and 600 MiB; in Arrow, 2.3 s and 430 MiB)."""
    outputs = Path(outputs)
    with open(outputs / ".panel.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # runs of two years publish into one panel
        versions = sorted(
            (int(r["year"]), str(r["version"]), bool(r.get("latest"))) for r in catalog_releases(outputs) or []
        )
        if _listed(outputs) == versions and (outputs / PANEL_CSV).is_file():
            return
        parts = [
            _release(places.year_folder(outputs, year) / version, year, version, live)
            for year, version, live in versions
        ]
        panel = pa.concat_tables([t for ts in parts for t in ts]) if any(parts) else SCHEMA.empty_table()
        with replacing(outputs / PANEL_CSV) as out:
            _write_csv(panel, out)
        values = pc.cast(panel.column("value"), pa.float64())
        table = panel.set_column(COLUMNS.index("value"), pa.field("value", pa.float64()), values)
        with replacing(outputs / PANEL_PARQUET) as out:
            pq.write_table(
                table.replace_schema_metadata({LISTED: json.dumps(versions).encode()}), out, compression="zstd"
            )


# As the CSV has them (the Parquet file's value is the number, float64).
SCHEMA = pa.schema(
    [
        ("year", pa.int32()),
        ("version", pa.string()),
        ("live", pa.bool_()),
        ("unit", pa.string()),
        ("table", pa.string()),
        ("row", pa.string()),
        ("column", pa.string()),
        ("value", pa.string()),
    ]
)


def _listed(outputs: Path) -> list | None:
    try:
        metadata = pq.read_schema(outputs / PANEL_PARQUET).metadata or {}
        return [tuple(v) for v in json.loads(metadata[LISTED])]
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None


def _release(release: Path, year: int, version: str, live: bool) -> list[pa.Table]:
    """A release's figures (as its CSVs publish them: every non-empty cell of a row in the order of
    its columns, row after row), a table of the panel's columns for each of its tables."""
    meta = json.loads((release / "datapackage.json").read_text("utf-8"))["nianbao"]
    found = []
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
        cells = [table.column(c) for c in codes]
        filled = np.column_stack([pc.not_equal(cell, "").to_numpy(zero_copy_only=False) for cell in cells])
        r, c = np.nonzero(filled)  # row-major: a row's figures together, in column order
        n = len(r)
        # Each column's figures, one column after another, put back in (row, column) order.
        by_column = np.argsort(c, kind="stable")
        back = np.empty_like(by_column)
        back[by_column] = np.arange(n)
        values = pa.concat_arrays(
            [cell.take(pa.array(r[c == j])).combine_chunks() for j, cell in enumerate(cells)]
        ).take(pa.array(back))
        rows = pa.array(r)
        found.append(
            pa.table(
                [
                    pa.array(np.full(n, year, dtype=np.int32)),
                    pa.array([version] * n, pa.string()),
                    pa.array(np.full(n, live, dtype=bool)),
                    table.column("unit_id").take(rows).combine_chunks(),
                    pa.array([code] * n, pa.string()),
                    table.column("row").take(rows).combine_chunks() if "row" in header else pa.nulls(n, pa.string()),
                    pa.array(codes, pa.string()).take(pa.array(c)),
                    values,
                ],
                schema=SCHEMA,
            )
        )
    return found


def _write_csv(panel: pa.Table, out: BinaryIO) -> None:
    """The panel as CSV, as Python's csv module writes it: by Arrow's writer when no text needs
    quoting (unit ids, codes and figures never do), else by the csv module."""
    out.write(",".join(COLUMNS).encode() + b"\n")
    try:
        pa_csv.write_csv(panel, out, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
        return
    except pa.ArrowInvalid:  # a text with a comma, a quote or a line break: quoted where needed
        out.seek(0)
        out.truncate()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for batch in panel.to_batches(65536):
        columns = batch.to_pydict()
        columns["live"] = ["true" if v else "false" for v in columns["live"]]
        writer.writerows(zip(*(columns[n] for n in COLUMNS), strict=True))
    text.detach()  # flushed; `out` stays open for its owner
