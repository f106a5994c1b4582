"""What the HTML pages share: the Jinja2 environment of templates/ (autoescaping every value), and
the cells of a table as the templates draw them."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import NamedTuple

from jinja2 import Environment, FileSystemLoader, Template
from markupsafe import Markup

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


SLOT = re.compile("\x00([^\x00]*)\x00")


@cache
def drawn(name: str, **context) -> tuple[str, ...]:
    """Template `name` rendered once (per process, per context), with slot(key) calls left open:
    literal text and keys, alternately, for fill() to put a page's own text in. The drawn tables,
    the same for every department, are thus made once; a page fills their cells only."""
    rendered = template(name).render(context, slot=lambda *key: Markup("\x00" + ".".join(map(str, key)) + "\x00"))
    return tuple(SLOT.split(rendered))


def fill(pieces: tuple[str, ...], value: Callable[[str], str]) -> Markup:
    """The drawn template with each slot holding value(its key), escaped (unless Markup)."""
    return Markup("".join(piece if i % 2 == 0 else _escaped(value(piece)) for i, piece in enumerate(pieces)))


def _escaped(text: str) -> str:
    # html.escape, not markupsafe's: the same five characters, at a third of the cost for the
    # thousands of short figures of a page.
    return text if isinstance(text, Markup) or not text else html.escape(text)
