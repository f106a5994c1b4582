"""The fast path against frictionless: on workbooks whose value cells are mutated (wrong types,
negative numbers, fractions, blanks, text), the cells nianbao's reader rejects are the cells
frictionless rejects when it validates the same tables against the same Table Schemas.

Frictionless sees each table as a CSV would carry it: a cell's text. Two differences are by design
and mapped here: a blank cell is read as 0 with a warning (V2), where frictionless flags a blank in
a required field; and a number typed as text is read with a warning, where a CSV cannot tell it
from a number. Zero words and units ("无", "3件") are nianbao's own normalisation, not in the corpus.
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

import frictionless
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from flows.documents.template import write_workbook
from flows.format.edition import edition_for_year
from flows.intake.workbook import read_workbook
from flows.synth import synthetic_report

YEAR = 2021
EDITION = edition_for_year(YEAR)
MUTATIONS = st.sampled_from(
    [
        "abc",
        "12",
        "-3",
        -3,
        -0.5,
        2.5,
        0.25,
        "",
        None,
        True,
        datetime.date(2021, 3, 1),
        7,
        "1.5",
        "x1",
    ]
)


def _text(raw) -> str:
    """A cell's content as a CSV of the table carries it."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, (datetime.date, datetime.datetime)):
        return raw.isoformat()
    return str(raw)


def frictionless_rejects(report) -> set[tuple[str, str, str]]:
    """(table, row, column) of each type or constraint error frictionless finds in the tables."""
    rejected = set()
    for code, layout in EDITION.tables.items():
        schema = EDITION.schema(code)
        names = [f["name"] for f in schema["fields"]]
        rows = []
        for r, row in enumerate(layout.rows):
            cells = {"unit_id": report.unit, "row": row.code}
            for c, column in enumerate(layout.columns):
                source = report.source(code, r, c)
                cells[column.code] = _text(source.raw) if layout.applicable[r, c] and source else ""
            rows.append([cells.get(name, "") for name in names])
        resource = frictionless.Resource(data=[names, *rows], schema=frictionless.Schema.from_descriptor(schema))
        for error in resource.validate().flatten(["type", "rowNumber", "fieldName"]):
            kind, number, field = error
            assert kind in ("type-error", "constraint-error"), error
            row_code = layout.rows[number - 2].code if len(layout.rows) > 1 else ""
            rejected.add((code, row_code, field))
    return rejected


def nianbao_rejects(report, findings) -> set[tuple[str, str, str]]:
    """V1 cells, and blank cells (V2, read as 0) in a field the schema requires."""
    required = {
        (code, f["name"])
        for code in EDITION.tables
        for f in EDITION.schema(code)["fields"]
        if f.get("constraints", {}).get("required")
    }
    rejected = set()
    for f in findings:
        blank = f.rule == "V2" and f.actual == "0" and "空白" in f.message
        if f.rule == "V1" or (blank and (f.table, f.column) in required):
            rejected.add((f.table, f.row or "", f.column))
    return rejected


def mutate(seed: int, edits) -> tuple:
    """A synthetic department's workbook with `edits` (position in 0..1 among its value cells,
    new content) typed over its figures, read back: (report, findings)."""
    report = synthetic_report(EDITION, "d1", YEAR, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_workbook(Path(tmp) / "d1.xlsx", EDITION, YEAR, report)
        read, _ = read_workbook(path, YEAR, "d1")
        cells = [s for code in EDITION.tables for s in read.provenance[code]]
        book = load_workbook(path)
        for position, value in edits:
            source = cells[int(position * len(cells))]
            book[source.sheet].cell(row=source.row + 1, column=source.col + 1).value = value
        book.save(path)
        mutated, findings = read_workbook(path, YEAR, "d1")
    assert not [f for f in findings if f.rule in ("F1", "F2", "F0")]
    return mutated, findings


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), MUTATIONS), min_size=1, max_size=12),
)
def test_fast_path_rejects_exactly_what_frictionless_rejects(seed, edits):
    mutated, findings = mutate(seed, edits)
    assert nianbao_rejects(mutated, findings) == frictionless_rejects(mutated)


def test_both_reject_a_word_a_negative_count_and_a_blank_but_not_a_number_typed_as_text():
    mutated, findings = mutate(0, [(0.0, "abc"), (0.2, -3), (0.5, ""), (0.7, "12")])
    rejected = frictionless_rejects(mutated)
    assert len(rejected) == 3 and rejected == nianbao_rejects(mutated, findings)
    assert {f.rule for f in findings} >= {"V1", "V2"}
