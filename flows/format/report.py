"""A unit's figures for one year (Report) and what the checks say of them (Finding)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cache
from typing import NamedTuple

import numpy as np

from flows.format.edition import Edition, TableLayout, rules


@cache  # a workbook's cells are few and the same in every workbook
def cell_ref(row: int, col: int) -> str:
    """Zero-based (row, col) → "C7"."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


class Source(NamedTuple):
    """Where a value was typed: sheet, zero-based row and column, and the raw content (a report
    keeps them as a Provenance per table and makes these as they are asked for)."""

    sheet: str
    row: int
    col: int
    raw: object

    @property
    def cell(self) -> str:
        """The cell reference as Excel shows it, e.g. "C7"."""
        return cell_ref(self.row, self.col)

    @property
    def text(self) -> str:
        return typed_text(self.raw)


def typed_text(raw) -> str:
    """What the clerk typed, as text: 25.0 read from a number cell is "25"."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return "" if raw is None else str(raw)


class Provenance:
    """Where each value cell of one table was typed, in the order of its layout's cells (None for a
    cell not read): arrays rather than a Source per cell, since a provincial run holds ten thousand
    reports of two hundred cells at once and sends them between processes, and the reader fills a
    block of cells at once."""

    __slots__ = ("sheets", "rows", "cols", "raws")

    def __init__(self, size: int):
        self.sheets = np.empty(size, dtype=object)  # None in every cell
        self.rows, self.cols = np.zeros(size, dtype=np.int32), np.zeros(size, dtype=np.int32)
        self.raws = np.empty(size, dtype=object)

    @classmethod
    def placed(cls, sheets: np.ndarray, rows: np.ndarray, cols: np.ndarray, raws: np.ndarray) -> Provenance:
        """As read: the places are the layout's (shared by the reports that have it), the raws the workbook's."""
        provenance = cls.__new__(cls)
        provenance.sheets, provenance.rows, provenance.cols, provenance.raws = sheets, rows, cols, raws
        return provenance

    def __setitem__(self, i: int, source: Source) -> None:
        self.sheets[i], self.rows[i], self.cols[i], self.raws[i] = source

    def __getitem__(self, i: int) -> Source | None:
        sheet = self.sheets[i]
        return None if sheet is None else Source(sheet, int(self.rows[i]), int(self.cols[i]), self.raws[i])

    def __iter__(self):
        """The cells that were read."""
        return (self[i] for i, sheet in enumerate(self.sheets) if sheet is not None)


class Kept(NamedTuple):
    """Where a submission's bytes, as read and checked, were kept: a slice of a pack file."""

    path: str
    offset: int
    size: int
    received: float | None  # the submitted file's modification time when it was read (None: gone by then)


@dataclass
class Report:
    """One unit's three tables in the layout of its edition, with the provenance of each cell.

    `values[table]` is an int64 matrix (rows × columns of the layout; amounts scaled, see values.py),
    0 where the template has no cell. `provenance[table]` says where each value was read (source()).
    """

    unit: str
    year: int
    edition: Edition
    values: dict[str, np.ndarray]
    provenance: dict[str, Provenance] = field(default_factory=dict)
    file: str | None = None
    sha256: str | None = None
    # Amount cells whose measure was stated neither in the cell nor in its header (rule C5).
    no_measure: set[tuple[str, int, int]] = field(default_factory=set)
    # Where the bytes read were kept (flows/intake/kept.py): what publication ships, not `file`.
    kept: Kept | None = None
    # A published report's figures (flows/intake/published.py): (sheet, cell of a Source) → the
    # figure's place in the document in words, which cells.csv publishes for its provenance.
    places: dict[tuple[str, str], str] | None = None

    @classmethod
    def zeros(cls, unit: str, year: int, edition: Edition, **kwargs) -> Report:
        _, values = blank_values(edition)
        return cls(
            unit,
            year,
            edition,
            values,
            {code: Provenance(len(t.cells)) for code, t in edition.tables.items()},
            **kwargs,
        )

    def source(self, table: str, r: int, c: int) -> Source | None:
        provenance, i = self.provenance.get(table), self.edition.tables[table].cell_index.get((r, c))
        return None if provenance is None or i is None else provenance[i]


def blank_values(edition: Edition) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One zeroed buffer for all of an edition's tables, table after table, and each table's matrix
    as a view of it: the reader stores a workbook's values with one assignment."""
    buffer = np.zeros(sum(table.applicable.size for table in edition.tables.values()), dtype=np.int64)
    values, start = {}, 0
    for code, table in edition.tables.items():
        values[code] = buffer[start : start + table.applicable.size].reshape(table.applicable.shape)
        start += table.applicable.size
    return buffer, values


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    unit: str
    table: str | None
    row: str | None
    column: str | None
    sheet: str | None
    cell: str | None
    expected: str | None
    actual: str | None
    message: str
    message_en: str
    file: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_dict(self) -> dict:
        return asdict(self)


def _column_name(table: TableLayout, c: int) -> str:
    column = table.columns[c]
    if sum(other.label == column.label for other in table.columns) > 1 and column.groups:
        return f"{column.groups[-1]} {column.label}"
    return column.label


def place(table: TableLayout, r: int | None, c: int | None) -> str:
    """A cell in the clerk's words: 表三 （七）总计 / 自然人."""
    parts = []
    if r is not None and len(table.rows) > 1:
        parts.append(table.rows[r].label)
    if c is not None:
        parts.append(_column_name(table, c))
    return f"表{table.heading[0]} " + " / ".join(parts) if parts else table.heading


class _Fields(dict):
    """Message fields; one a template names but a finding lacks prints as nothing, not a crash."""

    def __missing__(self, key):
        return ""


def make_finding(
    rule_id: str,
    unit: str,
    *,
    report: Report | None = None,
    table: str | None = None,
    r: int | None = None,
    c: int | None = None,
    expected=None,
    actual=None,
    file: str | None = None,
    sheet: str | None = None,
    cell: str | None = None,
    variant: str | None = None,
    **params,
) -> Finding:
    """A finding of a catalogue rule, its messages filled from the catalogue's templates.

    Pass `report` with `table`, `r`, `c` to locate the cell and name it; `sheet`/`cell` override.
    `variant` picks the catalogue's wording of the rule for another case.
    """
    rule = rules()[rule_id]
    wording = rule.variants[variant] if variant else {"message": rule.message, "message_en": rule.message_en}
    layout = report.edition.tables[table] if report is not None and table else None
    src = (
        report.source(table, r, c)
        if report is not None and table is not None and r is not None and c is not None
        else None
    )
    sheet = sheet or (src.sheet if src else None)
    cell = cell or (src.cell if src else None)
    where = params.pop("where", None) or (place(layout, r, c) if layout else "")
    if sheet and cell:
        where += f"（{sheet}!{cell}）"
    elif sheet:
        where += f"（工作表 {sheet}）"
    difference = params.pop("difference", None)
    if difference is None and isinstance(expected, int) and isinstance(actual, int):
        difference = abs(expected - actual)
    fields = _Fields(unit=unit, where=where, expected=expected, actual=actual, difference=difference, **params)
    return Finding(
        rule=rule_id,
        severity=rule.severity,
        unit=unit,
        table=table,
        row=layout.rows[r].code if layout and r is not None and len(layout.rows) > 1 else None,
        column=layout.columns[c].code if layout and c is not None else None,
        sheet=sheet,
        cell=cell,
        expected=None if expected is None else str(expected),
        actual=None if actual is None else str(actual),
        message=wording["message"].format_map(fields),
        message_en=wording["message_en"].format_map(fields),
        file=file or (report.file if report is not None else None),
    )
