"""Copies of a release for analysts: the three statistical tables and units as Parquet, and every table
of the release in one SQLite file (datasette or any SQL client opens it) with the figures in long form
and a view of each department's share of the bureau's figures.

Made from the very CSV bytes the release publishes, as PackageFiles writes them (`take`), so the copies
hold what the CSVs say and a hash-only build (publish's comparison with the live version) makes the same
bytes: the same inputs give the same copies, byte for byte, with the same pyarrow and SQLite.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from flows.format.edition import Edition

SQLITE = "data/release.sqlite"
STATISTICAL = ("proactive_disclosure", "applications", "review_litigation")
PARQUET_TABLES = (*STATISTICAL, "units")
PARQUET_MEDIATYPE = "application/vnd.apache.parquet"
SQLITE_MEDIATYPE = "application/vnd.sqlite3"
# Table Schema field types as SQLite column affinities: NUMERIC keeps 3 an integer and 0.5 a real.
AFFINITY = {"integer": "INTEGER", "number": "NUMERIC"}
ARROW = {"integer": pa.int64(), "number": pa.float64()}
CHUNK = 1 << 16  # rows of a table made Parquet at a time


def parquet_path(table: str) -> str:
    return f"data/{table}.parquet"


def _quoted(name: str) -> str:
    """An identifier as SQL names it: "table", "row" and "column" are key words."""
    return '"' + name.replace('"', '""') + '"'


class AnalysisCopies:
    """Fed each data/*.csv of a release in whole lines as it is written; `finish` adds the SQLite file
    and the Parquet copies to the release's files. `types`: table → field → Table Schema type."""

    def __init__(self, edition: Edition, types: dict[str, dict[str, str]], bureau: str):
        self.edition, self.types, self.bureau = edition, types, bureau
        self._folder = tempfile.TemporaryDirectory(prefix="nianbao-copies-")
        self._path = Path(self._folder.name) / "release.sqlite"
        self._db = sqlite3.connect(self._path, isolation_level=None)
        # Written once, start to end, by this process: no journal, no waiting on the disk.
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA page_size=4096")
        self._db.execute("BEGIN")
        self._columns: dict[str, list[str]] = {}

    def take(self, name: str, chunk: bytes) -> None:
        """Whole CSV lines of the release file `name` (its header first); other files are no table."""
        table = name.removeprefix("data/").removesuffix(".csv")
        if not (name.startswith("data/") and name.endswith(".csv") and table in self.types):
            return
        rows = csv.reader(io.StringIO(chunk.decode("utf-8"), newline=""))
        if table not in self._columns:
            self._columns[table] = next(rows)
            self._create(table, self._columns[table])
        marks = ",".join("?" * len(self._columns[table]))
        self._db.executemany(
            f"INSERT INTO {_quoted(table)} VALUES ({marks})", ([v if v != "" else None for v in row] for row in rows)
        )

    def _create(self, table: str, columns: list[str]) -> None:
        types = self.types[table]
        spec = ", ".join(f"{_quoted(c)} {AFFINITY.get(types.get(c, 'string'), 'TEXT')}" for c in columns)
        self._db.execute(f"CREATE TABLE {_quoted(table)} ({spec})")

    def finish(self, files) -> tuple[dict, list[dict]]:
        """Write the SQLite file and the Parquet copies into `files` (a PackageFiles); the SQLite file's
        resource, and the copies as the descriptor lists them."""
        self._labels()
        self._figures()
        copies = [self._parquet(files, table) for table in PARQUET_TABLES if table in self._columns]
        self._db.execute("COMMIT")
        self._db.close()
        files.copy(SQLITE, self._path)
        self._folder.cleanup()
        resource = {
            "name": "release-sqlite",
            "path": SQLITE,
            "format": "sqlite",
            "mediatype": SQLITE_MEDIATYPE,
            "title": "全部表格（SQLite 数据库）",
            "description": (
                "本发布包的每张表，另有视图 figures（长表：unit_id, table, row, column, value）、行列标签 table_rows 与"
                " table_columns、bureau_figures（本机关的数字）与 department_shares（各部门数字占本机关的比例）；"
                "datasette 或任何 SQL 客户端可直接打开"
            ),
            "hash": "sha256:" + files.sha256[SQLITE],
            "bytes": files.size[SQLITE],
        }
        return resource, copies

    def _arrow_type(self, table: str, column: str) -> pa.DataType:
        """The column's type by its Table Schema; text when a value is no number of that type, so that
        the release's verification (frictionless on the CSV) says which cell is wrong, rather than
        this copy. SQLite holds each value as its affinity made it: an integer, a real or a text."""
        kind, value = self.types[table].get(column, "string"), _quoted(column)
        if kind == "integer":
            other = f"typeof({value}) NOT IN ('integer', 'null')"
        elif kind == "number":  # an integer beyond 2**53 is no float64 either
            other = (
                f"typeof({value}) NOT IN ('integer', 'real', 'null')"
                f" OR (typeof({value}) = 'integer' AND {value} NOT BETWEEN -{1 << 53} AND {1 << 53})"
            )
        else:
            return pa.string()
        found = self._db.execute(f"SELECT 1 FROM {_quoted(table)} WHERE {other} LIMIT 1").fetchone()
        return pa.string() if found else ARROW[kind]

    def _labels(self) -> None:
        """The codes' Chinese labels and order, as the edition's template prints them."""
        self._db.execute('CREATE TABLE table_rows ("table" TEXT, "row" TEXT, label TEXT, position INTEGER)')
        self._db.execute(
            'CREATE TABLE table_columns ("table" TEXT, "column" TEXT, label TEXT, measure TEXT, position INTEGER)'
        )
        for code, layout in self.edition.tables.items():
            several = len(layout.rows) > 1
            self._db.executemany(
                "INSERT INTO table_rows VALUES (?, ?, ?, ?)",
                [(code, row.code if several else None, row.path, i) for i, row in enumerate(layout.rows)],
            )
            self._db.executemany(
                "INSERT INTO table_columns VALUES (?, ?, ?, ?, ?)",
                [(code, c.code, c.path, c.measure, i) for i, c in enumerate(layout.columns)],
            )

    def _figures(self) -> None:
        """The views of the figures in long form: `figures` (unit_id, table, row, column, value; row
        empty in table 四, which has one row, as in cells), `bureau_figures` and `department_shares`.
        Views over the wide tables, not a table of their own: 440,000 rows for 2,000 departments would
        double the file and the time it takes to make."""
        figures, shares = [], []
        bureau = _literal(self.bureau)
        for code, layout in self.edition.tables.items():
            if code not in self._columns:
                continue
            several = len(layout.rows) > 1
            table = _quoted(code)
            index = 'unit_id, "row"' if several else "unit_id"
            self._db.execute(f"CREATE INDEX {_quoted(code + '_unit')} ON {table} ({index})")
            own_row, department_row = ('"row"', 'd."row"') if several else ("NULL", "NULL")
            same_row = ' AND b."row" = d."row"' if several else ""
            for column in layout.columns:
                value, name = _quoted(column.code), _literal(column.code)
                figures.append(
                    f'SELECT unit_id, {_literal(code)} AS "table", {own_row} AS "row", {name} AS "column",'
                    f" {value} AS value FROM {table} WHERE {value} IS NOT NULL"
                )
                shares.append(
                    f'SELECT d.unit_id, {_literal(code)} AS "table", {department_row} AS "row", {name} AS "column",'
                    f" d.{value} AS value, b.{value} AS bureau_value FROM {table} d JOIN {table} b"
                    f" ON b.unit_id = {bureau}{same_row} WHERE d.unit_id <> {bureau} AND d.{value} IS NOT NULL"
                )
        self._db.execute("CREATE VIEW figures AS " + " UNION ALL ".join(figures))
        self._db.execute(BUREAU_FIGURES.format(bureau=bureau))
        self._db.execute(DEPARTMENT_SHARES.format(shares=" UNION ALL ".join(shares)))

    def _parquet(self, files, table: str) -> dict:
        """A table as Parquet, typed by its Table Schema (integer → int64, number → float64, else string),
        made CHUNK rows at a time: ten thousand departments' applications are 120,000 rows."""
        columns = self._columns[table]
        schema = pa.schema([(c, self._arrow_type(table, c)) for c in columns])
        out = io.BytesIO()
        with pq.ParquetWriter(out, schema, compression="zstd") as writer:
            rows = self._db.execute(f"SELECT * FROM {_quoted(table)} ORDER BY rowid")
            while chunk := rows.fetchmany(CHUNK):
                arrays = [_array([row[i] for row in chunk], schema.field(i).type) for i in range(len(columns))]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
        path = parquet_path(table)
        files[path] = out.getvalue()
        return {
            "path": path,
            "copy_of": table,
            "format": "parquet",
            "mediatype": PARQUET_MEDIATYPE,
            "hash": "sha256:" + files.sha256[path],
            "bytes": files.size[path],
        }


def _array(values: list, kind: pa.DataType) -> pa.Array:
    """Values as SQLite gives them, as a column of the type _arrow_type chose: any as text in a text column."""
    if kind == pa.string():
        return pa.array([None if v is None else str(v) for v in values], type=kind)
    return pa.array(values, type=kind)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


BUREAU_FIGURES = """
CREATE VIEW bureau_figures AS
SELECT f."table", f."row", r.label AS row_label, f."column", c.label AS column_label, c.measure, f.value
FROM figures f
LEFT JOIN table_rows r ON r."table" = f."table" AND r."row" IS f."row"
LEFT JOIN table_columns c ON c."table" = f."table" AND c."column" = f."column"
WHERE f.unit_id = {bureau}
ORDER BY f."table", r.position, c.position
"""
# A department's share is its figure over the bureau's, empty where the bureau's is 0.
DEPARTMENT_SHARES = """
CREATE VIEW department_shares AS
SELECT s."table", s."row", r.label AS row_label, s."column", c.label AS column_label,
       s.unit_id, u.name AS unit_name, s.value, s.bureau_value,
       CASE WHEN s.bureau_value <> 0 THEN CAST(s.value AS REAL) / s.bureau_value END AS share
FROM ({shares}) s
LEFT JOIN units u ON u.unit_id = s.unit_id
LEFT JOIN table_rows r ON r."table" = s."table" AND r."row" IS s."row"
LEFT JOIN table_columns c ON c."table" = s."table" AND c."column" = s."column"
"""
