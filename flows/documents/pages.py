"""What the HTML pages share: the Jinja2 environment of templates/ (autoescaping every value), and
the cells of a table as the templates draw them."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import NamedTuple

from jinja2 import Environment, FileSystemLoader, Template
from markupsafe import Markup, escape

from flows.documents.template import grid_rows
from flows.format.edition import edition_named

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _environment() -> Environment:
    # Compiled once per process (auto_reload off: the templates do not change under a run).
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, auto_reload=False, trim_blocks=True, lstrip_blocks=True
    )


def template(name: str) -> Template:
    return _environment().get_template(name)


class Cell(NamedTuple):
    """A cell of a drawn table: a label's text, or (label None) a figure's row and column codes and
    its number among the layout's cells."""

    label: str | None
    rowspan: int
    colspan: int
    row: str = ""
    column: str = ""
    number: int = -1


@cache
def table_cells(code: str, table: str) -> tuple[tuple[Cell, ...], ...]:
    """The table of edition `code`, row by row, made once per edition."""
    layout, rows = edition_named(code).tables[table], []
    for spans in grid_rows(code, table):
        row = []
        for span in spans:
            extent = (span.r1 - span.r0 + 1, span.c1 - span.c0 + 1)
            if span.kind == "label":
                row.append(Cell(span.text, *extent))
            else:
                r, c = span.codes
                row.append(Cell(None, *extent, r, c, layout.cell_index[(layout.row_index[r], layout.column_index[c])]))
        rows.append(tuple(row))
    return tuple(rows)


SLOT = re.compile("\x00(\\d+)\x00")


@cache
def drawn(name: str, **context) -> tuple[str | int, ...]:
    """Template `name` rendered once (per process, per context): its text, and where it called
    slot(n), the number n, for fill() to put a page's own text in. The drawn tables, the same for
    every department, are thus made once: a page fills their cells only."""
    rendered = template(name).render(context, slot=lambda n: Markup(f"\x00{n}\x00"))
    return tuple(int(p) if i % 2 else p for i, p in enumerate(SLOT.split(rendered)))


def fill(pieces: tuple[str | int, ...], texts) -> Markup:
    """The drawn template with slot n holding texts[n], escaped."""
    return Markup("".join(p if isinstance(p, str) else escape(texts[p]) for p in pieces))
