"""The format as data: editions, table layouts, Table Schemas and the rule catalogue.

Everything here is loaded from schemas/; the rest of the code asks an Edition for labels, codes and
positions and never spells one out itself.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml


def _schemas() -> Path:
    """Where the format's data is. Two places, one source: schemas/ at the checkout's top level is
    the one copy that is edited; a wheel carries it as flows/schemas/ (pyproject's force-include),
    so an installed nianbao finds it inside its own package. An editable install or a run from the
    checkout has no flows/schemas/ and reads the top-level folder itself."""
    packaged = resources.files("flows") / "schemas"
    if isinstance(packaged, Path) and packaged.is_dir():  # installed as files (wheels are), not zipped
        return packaged
    return Path(__file__).resolve().parents[2] / "schemas"


SCHEMAS = _schemas()
TABLES = ("proactive_disclosure", "applications", "review_litigation")

_SPACE = re.compile(r"\s+")
# Enumerators as typed: "1、" or "1，" for "1."; "一，" or "一." for "一、".
_DIGIT_ENUMERATOR = re.compile(r"(?<=\d)[、,]")
_NUMERAL_ENUMERATOR = re.compile(r"(?<=[一二三四五六七八九十])[,.]")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "「": '"', "」": '"'})


def normalise_label(text: str) -> str:
    """The comparable form of a label: half-width, no white space, one kind of quote and enumerator."""
    # The template's texts recur in every workbook and are remembered; a long text (a paragraph, or
    # one crafted to fill memory: 65,536 cells of 32,767 characters are 4 GB) is not.
    return _remembered(text) if len(text) <= LABEL_REMEMBERED else _normalised(text)


LABEL_REMEMBERED = 200  # characters: the longest label of the format is some 40


@lru_cache(maxsize=1 << 16)
def _remembered(text: str) -> str:
    return _normalised(text)


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _DIGIT_ENUMERATOR.sub(".", _SPACE.sub("", text))
    return _NUMERAL_ENUMERATOR.sub("、", text)


@dataclass(frozen=True)
class Label:
    code: str
    label: str
    groups: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The label with the group labels printed above or before it, as a person names the cell."""
        return " ".join((*self.groups, self.label)).strip()


class Row(Label):
    pass


@dataclass(frozen=True)
class Column(Label):
    kind: str = "count"  # count (integer ≥ 0), signed (integer), amount (decimal ≥ 0)
    measure: str = "件"  # 计量单位: what a figure counts, or the money it is in
    decimals: int = 0  # amounts are held as integers of 10**-decimals of their measure


@dataclass(frozen=True)
class Block:
    caption: str | None
    rows: tuple[str, ...]
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableLayout:
    code: str
    heading: str
    note: str | None
    row_header: str | None
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    blocks: tuple[Block, ...]
    heading_aliases: tuple[str, ...] = ()

    # Derived once: positions by code, and which cells the template has at all.
    row_index: dict[str, int] = field(init=False, repr=False)
    column_index: dict[str, int] = field(init=False, repr=False)
    applicable: np.ndarray = field(init=False, repr=False)
    # The value cells in row-major order (as applicable.nonzero()), their index by (r, c), and
    # which of them hold amounts with decimals.
    cells: tuple[tuple[int, int], ...] = field(init=False, repr=False)
    cell_index: dict[tuple[int, int], int] = field(init=False, repr=False)
    cell_rows: np.ndarray = field(init=False, repr=False)  # the cells' rows and columns, as arrays
    cell_columns: np.ndarray = field(init=False, repr=False)
    decimal_cells: tuple[int, ...] = field(init=False, repr=False)
    count_columns: np.ndarray = field(init=False, repr=False)  # [c]: a whole number with no measure to convert

    def __post_init__(self):
        rows = {row.code: i for i, row in enumerate(self.rows)}
        cols = {col.code: i for i, col in enumerate(self.columns)}
        applicable = np.zeros((len(self.rows), len(self.columns)), dtype=bool)
        for block in self.blocks:
            for r in block.rows:
                applicable[rows[r], [cols[c] for c in block.columns]] = True
        applicable.flags.writeable = False
        object.__setattr__(self, "row_index", rows)
        object.__setattr__(self, "column_index", cols)
        object.__setattr__(self, "applicable", applicable)
        cell_rows, cell_columns = applicable.nonzero()
        cells = tuple(zip(cell_rows.tolist(), cell_columns.tolist(), strict=True))
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "cell_index", {cell: i for i, cell in enumerate(cells)})
        object.__setattr__(self, "cell_rows", cell_rows)
        object.__setattr__(self, "cell_columns", cell_columns)
        counts = np.array([column.kind != "amount" and not column.decimals for column in self.columns], dtype=bool)
        object.__setattr__(self, "count_columns", counts)
        object.__setattr__(
            self, "decimal_cells", tuple(i for i, (_, c) in enumerate(cells) if self.columns[c].decimals)
        )

    @property
    def title(self) -> str:
        return self.heading.split("、", 1)[-1]


@dataclass(frozen=True)
class Edition:
    code: str
    issued_by: str
    first_year: int
    last_year: int | None
    telltale: str
    tables: dict[str, TableLayout]

    def __reduce__(self):
        # An edition is one object per process (reports compare it by identity): sent to another
        # process, as a batch's reports are, it is looked up there by its code, not copied.
        return edition_named, (self.code,)

    def covers(self, year: int) -> bool:
        return year >= self.first_year and (self.last_year is None or year <= self.last_year)

    def schema(self, table: str) -> dict:
        """The Frictionless Table Schema of a table in this edition (a fresh copy)."""
        return json.loads((SCHEMAS / self.code / f"{table}.schema.json").read_text("utf-8"))


def _labels(cls, spec: dict) -> tuple:
    return tuple(
        cls(
            code=code,
            label=item["label"],
            groups=tuple(item.get("groups", ())),
            aliases=tuple(item.get("aliases", ())),
            **{k: item[k] for k in ("kind", "measure", "decimals") if k in item},
        )
        for code, item in spec.items()
    )


def _table(code: str, spec: dict) -> TableLayout:
    columns, rows = _labels(Column, spec["columns"]), _labels(Row, spec["rows"])
    blocks = tuple(
        Block(
            caption=b.get("caption"),
            rows=tuple(r.code for r in rows) if b["rows"] == "all" else tuple(b["rows"]),
            columns=tuple(c.code for c in columns) if b["columns"] == "all" else tuple(b["columns"]),
        )
        for b in spec["blocks"]
    )
    return TableLayout(
        code,
        spec["heading"],
        spec.get("note"),
        spec.get("row_header"),
        columns,
        rows,
        blocks,
        tuple(spec.get("heading_aliases", ())),
    )


@cache
def editions() -> tuple[Edition, ...]:
    found = []
    for path in sorted(SCHEMAS.glob("*/layout.yaml")):
        spec = yaml.safe_load(path.read_text("utf-8"))
        first, last = spec["years"]
        tables = {code: _table(code, spec["tables"][code]) for code in TABLES}
        found.append(Edition(spec["edition"], spec["issued_by"], first, last, spec["telltale"], tables))
    return tuple(found)


def edition_named(code: str) -> Edition:
    for edition in editions():
        if edition.code == code:
            return edition
    raise KeyError(f"no edition {code!r} in {SCHEMAS}")


def edition_for_year(year: int) -> Edition:
    """The edition that the report year selects (rule F2)."""
    for edition in editions():
        if edition.covers(year):
            return edition
    raise ValueError(f"{year} 年度不在任何格式版本的适用范围内（最早为 {editions()[0].first_year} 年）")


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    title_en: str
    message: str
    message_en: str
    editions: tuple[str, ...] | None
    variants: dict  # name → {message, message_en}: the same rule worded for another case
    params: dict  # the rule's own thresholds and word lists, as the catalogue gives them


_RULE_KEYS = {"severity", "title", "title_en", "message", "message_en", "editions", "variants"}


@cache
def rules() -> dict[str, Rule]:
    spec = yaml.safe_load((SCHEMAS / "rules.yaml").read_text("utf-8"))["rules"]
    return {
        rule_id: Rule(
            rule_id,
            item["severity"],
            item["title"],
            item["title_en"],
            item.get("message", item["title"] + "：{where}"),
            item.get("message_en", item["title_en"] + ": {where}"),
            tuple(item["editions"]) if "editions" in item else None,
            item.get("variants", {}),
            {k: v for k, v in item.items() if k not in _RULE_KEYS},
        )
        for rule_id, item in spec.items()
    }


@cache
def value_words() -> dict:
    """Words and measures that rule V2 normalises (schemas/values.yaml)."""
    return yaml.safe_load((SCHEMAS / "values.yaml").read_text("utf-8"))
