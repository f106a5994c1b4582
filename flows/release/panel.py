"""The panel: every figure of every year and version published, in one long table (outputs/panel.csv
and outputs/panel.parquet: year, version, live, unit, table, row, column, value), rebuilt after each
publication from the releases catalog.json lists, and written aside then moved into place."""

from __future__ import annotations

import csv
import fcntl
import io
import json
from pathlib import Path

import pyarrow as pa
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
    """A release's figures (as its CSVs publish them) appended to the panel's columns."""
    meta = json.loads((release / "datapackage.json").read_text("utf-8"))["nianbao"]
    for code, layout in edition_named(meta["edition"]).tables.items():
        codes = [c.code for c in layout.columns]
        with open(release / "data" / f"{code}.csv", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for column in codes:
                    if row[column] != "":
                        for name, value in zip(
                            COLUMNS,
                            (year, version, live, row["unit_id"], code, row.get("row"), column, row[column]),
                            strict=True,
                        ):
                            columns[name].append(value)


def _csv(columns: dict[str, list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    live = ["true" if v else "false" for v in columns["live"]]
    writer.writerows(zip(*(live if n == "live" else columns[n] for n in COLUMNS), strict=True))
    return out.getvalue().encode("utf-8")
