"""For analysts: `nianbao.load` gives every figure of a release as DataFrames, equal to what the CSVs
say and to what the workbooks said; the Parquet copies and the SQLite file hold the same; the panel in
outputs/ has every year and version published."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import nianbao
from flows.release.panel import PANEL_CSV, PANEL_PARQUET
from flows.run import run_year
from tests.conftest import SOURCES


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, dict]:
    outputs = tmp_path_factory.mktemp("outputs")
    return outputs, {year: run_year(year, SOURCES, outputs) for year in (2020, 2021)}


def csv_rows(release: Path, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO((release / "data" / f"{name}.csv").read_text("utf-8"))))


def csv_figures(release: Path, edition) -> dict[tuple, Decimal]:
    """(unit, table, row, column) → the figure as the CSV writes it (row None in table 四)."""
    found = {}
    for code, layout in edition.tables.items():
        for row in csv_rows(release, code):
            for column in layout.columns:
                if row[column.code] != "":
                    found[(row["unit_id"], code, row.get("row"), column.code)] = Decimal(row[column.code])
    return found


def workbook_figures(outcome) -> dict[tuple, Decimal]:
    """The same, from the reports read from the workbooks and their sum (amounts unscaled)."""
    found = {}
    for report in (outcome.merged.bureau, *outcome.merged.departments):
        for code, layout in report.edition.tables.items():
            for r, c in layout.cells:
                row = layout.rows[r].code if len(layout.rows) > 1 else None
                column = layout.columns[c]
                value = Decimal(int(report.values[code][r, c])).scaleb(-column.decimals)
                found[(report.unit, code, row, column.code)] = value
    return found


def loaded_figures(release) -> dict[tuple, Decimal]:
    figures = release["figures"]
    return {
        (str(u), str(t), None if pd.isna(r) else str(r), str(c)): Decimal(repr(float(v)))
        for u, t, r, c, v in zip(
            figures["unit_id"], figures["table"], figures["row"], figures["column"], figures["value"], strict=True
        )
    }


@pytest.mark.parametrize("year", [2020, 2021])
@pytest.mark.parametrize("form", ["folder", "zip"])
def test_load_round_trips_every_figure(runs, year, form):
    outcome = runs[1][year]
    release = outcome.release
    loaded = nianbao.load(release if form == "folder" else release.parent / f"{release.name}.zip")
    assert (loaded.year, loaded.version, loaded.bureau) == (year, "1.0.0", "yuanjiang-psb-example")
    expected = csv_figures(release, outcome.merged.bureau.edition)
    assert loaded_figures(loaded) == expected == workbook_figures(outcome)
    assert len(expected) == len(loaded["figures"]) > 900


def test_load_types_columns_and_orders_codes_as_the_template(runs):
    loaded = nianbao.load(runs[1][2021].release)
    applications = loaded["applications"]
    assert applications["natural_person"].dtype == "Int64"
    assert loaded["proactive_disclosure"]["amount_10k_yuan"].dtype == "Float64"
    rows = applications["row"].cat
    assert rows.ordered and list(rows.categories)[:3] == ["new", "carried_in", "disclosed"]
    assert applications["row_label"].cat.categories[0] == "一、本年新收政府信息公开申请数量"
    assert applications.attrs["labels"]["natural_person"] == "申请人情况 自然人"
    # The bureau first, as units.csv lists it; sorting by code keeps the template's order, not the alphabet's.
    assert applications["unit_id"].cat.categories[0] == "yuanjiang-psb-example"
    bureau = applications[applications["unit_id"] == "yuanjiang-psb-example"].sort_values("row")
    assert list(bureau["row"])[-2:] == ["results_total", "carried_over"]
    figures = loaded["figures"]
    assert list(figures.columns) == ["unit_id", "table", "row", "row_label", "column", "column_label", "value"]
    assert figures["table"].cat.ordered and figures["column_label"].cat.ordered
    assert str(loaded["submissions"]["received"].dtype).startswith("datetime64")
    assert loaded["cells"]["table"].cat.ordered


@pytest.mark.parametrize("year", [2020, 2021])
def test_parquet_copies_equal_the_csvs(runs, year):
    release = runs[1][year].release
    descriptor = json.loads((release / "datapackage.json").read_text("utf-8"))
    copies = descriptor["nianbao"]["copies"]
    assert {c["copy_of"] for c in copies} == {"proactive_disclosure", "applications", "review_litigation", "units"}
    for copy in copies:
        content = (release / copy["path"]).read_bytes()
        assert copy["hash"] == "sha256:" + hashlib.sha256(content).hexdigest() and copy["bytes"] == len(content)
        table = pq.read_table(release / copy["path"]).to_pylist()
        published = csv_rows(release, copy["copy_of"])
        assert len(table) == len(published)
        for got, row in zip(table, published, strict=True):
            assert {
                k: "" if v is None else Decimal(str(v)) if isinstance(v, int | float) else v for k, v in got.items()
            } == {k: Decimal(v) if v and isinstance(got[k], int | float) else v for k, v in row.items()}


def test_the_sqlite_file_holds_the_tables_and_the_departments_shares(runs):
    outcome = runs[1][2021]
    release = outcome.release
    database = sqlite3.connect(release / "data" / "release.sqlite")
    tables = {name for (name,) in database.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    assert {"applications", "units", "findings", "changes", "reports", "figures", "department_shares"} <= tables
    long = {
        (u, t, r, c): Decimal(str(v))
        for u, t, r, c, v in database.execute('SELECT unit_id, "table", "row", "column", value FROM figures')
    }
    assert long == csv_figures(release, outcome.merged.bureau.edition)
    shares = database.execute(
        'SELECT "table", "row", "column", SUM(value), MAX(bureau_value), SUM(share) FROM department_shares'
        " GROUP BY 1, 2, 3"
    ).fetchall()
    assert len(shares) == len(long) // 5  # the bureau and 4 departments
    for table, row, column, total, bureau, share in shares:
        assert Decimal(str(total)).quantize(Decimal("0.000001")) == Decimal(str(bureau)), (table, row, column)
        assert share is None if bureau == 0 else abs(share - 1) < 1e-9
    (label,) = database.execute(
        "SELECT row_label FROM department_shares WHERE \"table\" = 'applications' AND \"row\" = 'new' LIMIT 1"
    ).fetchone()
    assert label == "一、本年新收政府信息公开申请数量"


def test_the_panel_has_every_year_and_version(runs):
    outputs, outcomes = runs
    panel = pq.read_table(outputs / PANEL_PARQUET).to_pandas()
    assert sorted(set(zip(panel["year"], panel["version"], strict=True))) == [(2020, "1.0.0"), (2021, "1.0.0")]
    for year, outcome in outcomes.items():
        expected = csv_figures(outcome.release, outcome.merged.bureau.edition)
        part = panel[panel["year"] == year]
        got = {
            (u, t, None if pd.isna(r) else r, c): Decimal(repr(v))
            for u, t, r, c, v in zip(
                part["unit"], part["table"], part["row"], part["column"], part["value"], strict=True
            )
        }
        assert got == expected
    with open(outputs / PANEL_CSV, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["year", "version", "live", "unit", "table", "row", "column", "value"]
    assert len(rows) == len(panel)


def test_the_panel_is_the_same_written_a_few_rows_at_a_time(runs, tmp_path, monkeypatch):
    """The panel is written a block of a release's CSV at a time, so that its memory does not grow
    with the years: blocks of a few rows give the very same files as blocks of a whole table."""
    import shutil

    from flows.release import panel

    outputs = Path(shutil.copytree(runs[0], tmp_path / "outputs", symlinks=True))
    whole = (outputs / PANEL_CSV).read_bytes(), pq.read_table(outputs / PANEL_PARQUET)
    (outputs / PANEL_PARQUET).unlink()  # so that it is rebuilt
    monkeypatch.setattr(panel, "BLOCK", 1024)  # bytes: a header and a few rows of a table
    blocks = list(panel._release(runs[1][2021].release, 2021, "1.0.0", True))
    assert len(blocks) > 3  # tables of several blocks
    panel.write_panel(outputs)
    assert (outputs / PANEL_CSV).read_bytes() == whole[0]
    assert pq.read_table(outputs / PANEL_PARQUET).equals(whole[1])


@pytest.mark.parametrize("unit", ["d00001", 'a,"b"', "x\ny"])
def test_the_panel_csv_is_what_the_csv_module_writes(unit):
    """Arrow writes the panel when no text needs quoting; the csv module when one does: the same bytes."""
    import pyarrow as pa

    from flows.release.panel import COLUMNS, SCHEMA, _write_rows

    rows = [
        (2021, "1.0.0", True, unit, "applications", None, "total", "1.5"),
        (2020, "1.1.0", False, "u", "t", "r", "c", ""),
    ]
    written = io.BytesIO(b"before\n")
    written.seek(0, io.SEEK_END)
    _write_rows(pa.Table.from_pylist([dict(zip(COLUMNS, r, strict=True)) for r in rows], schema=SCHEMA), written)
    expected = io.StringIO("before\n")
    expected.seek(0, io.SEEK_END)
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerows([(*r[:2], "true" if r[2] else "false", *r[3:]) for r in rows])
    assert written.getvalue() == expected.getvalue().encode("utf-8")


def test_a_parquet_copy_is_made_a_few_rows_at_a_time_and_a_text_keeps_its_column_text(monkeypatch):
    """A copy is made CHUNK rows at a time, its column types decided for all its rows first: a column
    with a value that is no number of its Table Schema type (a text, an integer beyond float64's)
    is text throughout, so that verification names the cell, not the copy."""
    from flows.format.edition import edition_named
    from flows.release import analysis

    class Files(dict):
        def __init__(self):
            super().__init__()
            self.sha256, self.size = {}, {}

        def __setitem__(self, name, content):
            super().__setitem__(name, content)
            self.sha256[name], self.size[name] = hashlib.sha256(content).hexdigest(), len(content)

        def copy(self, name, path):
            self[name] = Path(path).read_bytes()

    monkeypatch.setattr(analysis, "CHUNK", 2)
    types = {"units": {"n": "integer", "x": "number", "y": "number", "t": "integer"}}
    copies = analysis.AnalysisCopies(edition_named("2021"), types, "b")
    copies._figures = lambda: None  # views over the statistical tables, none here
    copies.take("data/units.csv", b"n,x,y,t,s\n1,0.5,0.5,1,a\n2,3,3,2,1\n3,,2.5,abc,\n,9007199254740993,1,4,d\n")
    files = Files()
    copies.finish(files)
    table = pq.read_table(io.BytesIO(files[analysis.parquet_path("units")]))
    assert [str(t) for t in table.schema.types] == ["int64", "string", "double", "string", "string"]
    assert table.to_pydict() == {
        "n": [1, 2, 3, None],
        "x": ["0.5", "3", None, "9007199254740993"],
        "y": [0.5, 3.0, 2.5, 1.0],
        "t": ["1", "2", "abc", "4"],
        "s": ["a", "1", None, "d"],
    }
    assert pq.ParquetFile(io.BytesIO(files[analysis.parquet_path("units")])).metadata.num_row_groups == 2
