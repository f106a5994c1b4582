"""The panel: every figure of every year and version published, in one long table (outputs/panel.csv
and outputs/panel.parquet: year, version, live, unit, table, row, column, value), rebuilt after each
publication from the releases catalog.json lists, and written aside then moved into place."""

from __future__ import annotations

import csv
import fcntl
import io
import json
from collections.abc import Iterator
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
    Written as it is read, a block of a release's table at a time, in Arrow arrays, never as a Python
    object a figure: a 10,000-department version has two million figures (held whole, 260 MiB), and
    a bureau publishes one or more versions every year."""
    outputs = Path(outputs)
    with open(outputs / ".panel.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # runs of two years publish into one panel
        versions = sorted(
            (int(r["year"]), str(r["version"]), bool(r.get("latest"))) for r in catalog_releases(outputs) or []
        )
        if _listed(outputs) == versions and (outputs / PANEL_CSV).is_file():
            return
        numbers = NUMBERS.with_metadata({LISTED: json.dumps(versions).encode()})
        # The Parquet file, whose metadata says which versions the panel holds, is moved into place
        # last: a panel left half rebuilt is rebuilt by the next run.
        with replacing(outputs / PANEL_PARQUET) as parquet_out, replacing(outputs / PANEL_CSV) as csv_out:
            csv_out.write(",".join(COLUMNS).encode() + b"\n")
            with pq.ParquetWriter(parquet_out, numbers, compression="zstd") as parquet:
                for year, version, live in versions:
                    for part in _release(places.year_folder(outputs, year) / version, year, version, live):
                        _write_rows(part, csv_out)
                        values = pc.cast(part.column("value"), pa.float64())
                        parquet.write_table(part.set_column(COLUMNS.index("value"), NUMBERS.field("value"), values))


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
NUMBERS = SCHEMA.set(COLUMNS.index("value"), pa.field("value", pa.float64()))
BLOCK = 1 << 20  # bytes of a release's CSV read at a time


def _listed(outputs: Path) -> list | None:
    try:
        metadata = pq.read_schema(outputs / PANEL_PARQUET).metadata or {}
        return [tuple(v) for v in json.loads(metadata[LISTED])]
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None


def _release(release: Path, year: int, version: str, live: bool) -> Iterator[pa.Table]:
    """A release's figures (as its CSVs publish them: every non-empty cell of a row in the order of
    its columns, row after row), in the panel's columns, a block of rows of each table at a time."""
    meta = json.loads((release / "datapackage.json").read_text("utf-8"))["nianbao"]
    for code, layout in edition_named(meta["edition"]).tables.items():
        codes = [c.code for c in layout.columns]
        path = release / "data" / f"{code}.csv"
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
        blocks = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=BLOCK),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
        )
        for block in blocks:
            yield _figures(pa.Table.from_batches([block]), header, code, codes, year, version, live)


def _figures(
    table: pa.Table, header: list[str], code: str, codes: list[str], year: int, version: str, live: bool
) -> pa.Table:
    """The figures of some rows of a release's table `code`, in the panel's columns."""
    cells = [table.column(c) for c in codes]
    filled = np.column_stack([pc.not_equal(cell, "").to_numpy(zero_copy_only=False) for cell in cells])
    r, c = np.nonzero(filled)  # row-major: a row's figures together, in column order
    n = len(r)
    # Each column's figures, one column after another, put back in (row, column) order.
    by_column = np.argsort(c, kind="stable")
    back = np.empty_like(by_column)
    back[by_column] = np.arange(n)
    values = pa.concat_arrays([cell.take(pa.array(r[c == j])).combine_chunks() for j, cell in enumerate(cells)]).take(
        pa.array(back)
    )
    rows = pa.array(r)
    return pa.table(
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


def _write_rows(part: pa.Table, out: BinaryIO) -> None:
    """Rows of the panel as CSV, as Python's csv module writes them: by Arrow's writer when no text
    needs quoting (unit ids, codes and figures never do), else by the csv module."""
    start = out.tell()
    try:
        pa_csv.write_csv(part, out, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
        return
    except pa.ArrowInvalid:  # a text with a comma, a quote or a line break: quoted where needed
        out.seek(start)
        out.truncate()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\n")
    for batch in part.to_batches(65536):
        columns = batch.to_pydict()
        columns["live"] = ["true" if v else "false" for v in columns["live"]]
        writer.writerows(zip(*(columns[n] for n in COLUMNS), strict=True))
    text.detach()  # flushed; `out` stays open for its owner
