"""Figures that ran together: a page's text often joins a row's cells with no separator ("34089"
for 34 | 0 | 89). A run is cut back into the row's cells using only what the format guarantees:
a count has no leading zero, only 本年增/减 may carry a sign, only an amount may carry decimals, and
every figure is within values.yaml's maximum. When more than one cut fits, the row's identity
(A3, B1) and the figures the report's own text quotes may single one out, said with a warning
naming the others; otherwise no cut is taken and every candidate is named. Never a silent pick.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from flows.format.edition import Column, value_words

# A token that is one figure whole: a word that means nothing ("—", "无"), never cut.
_COUNT = re.compile(r"0|[1-9]\d*")
_SIGNED = re.compile(r"[+-]?(?:0|[1-9]\d*)")
_AMOUNT = re.compile(r"(?:0|[1-9]\d*)(?:\.\d+)?")
CANDIDATES_KEPT = 24  # more readings than this are as good as none: the run says nothing certain


@dataclass(frozen=True)
class Cut:
    """What a run of tokens says, cell by cell. `reading` is None when no cut, or more than one, fits."""

    reading: tuple[str, ...] | None
    candidates: tuple[tuple[str, ...], ...]  # every reading the format allows (at most CANDIDATES_KEPT)
    chosen_by: str | None = None  # "identity" or "text" when several fit and only one survives that test

    @property
    def ambiguous(self) -> bool:
        return self.reading is None and len(self.candidates) > 1


@cache
def _maximum(kind: str) -> int:
    return value_words()["maximum_amount" if kind == "amount" else "maximum_count"]


def fits(text: str, column: Column) -> bool:
    """Whether `text` can be one figure of `column` as the format writes it."""
    pattern = {"count": _COUNT, "signed": _SIGNED, "amount": _AMOUNT}[column.kind]
    if not pattern.fullmatch(text):
        return False
    return abs(float(text)) <= _maximum(column.kind)


def readings(tokens: Sequence[str], columns: Sequence[Column]) -> list[tuple[str, ...]]:
    """Every way to cut `tokens` (their boundaries are cell boundaries) into one figure per column."""
    found: list[tuple[str, ...]] = []
    widest = max(len(str(_maximum("amount"))), len(str(_maximum("count")))) + 8  # digits, sign, decimals

    def cut(t: int, start: int, c: int, sofar: tuple[str, ...]) -> None:
        if len(found) > CANDIDATES_KEPT:
            return
        if t == len(tokens):
            if c == len(columns):
                found.append(sofar)
            return
        token = tokens[t]
        left_in_token = len(token) - start
        if c == len(columns) or len(columns) - c > left_in_token + sum(map(len, tokens[t + 1 :])):
            return
        for end in range(start + 1, min(len(token), start + widest) + 1):
            piece = token[start:end]
            if not fits(piece, columns[c]):
                continue
            if end == len(token):
                cut(t + 1, 0, c + 1, (*sofar, piece))
            else:
                cut(t, end, c + 1, (*sofar, piece))

    cut(0, 0, 0, ())
    return found


def cut_run(
    tokens: Sequence[str],
    columns: Sequence[Column],
    adds_up: Callable[[tuple[str, ...]], bool] | None = None,
    quoted: frozenset[str] = frozenset(),
) -> Cut:
    """The cells `tokens` stand for in `columns`; see the module's docstring for how one is chosen."""
    candidates = readings(tokens, columns)
    if len(candidates) == 1:
        return Cut(candidates[0], tuple(candidates))
    if not candidates or len(candidates) > CANDIDATES_KEPT:
        return Cut(None, tuple(candidates[:CANDIDATES_KEPT]))
    kept = tuple(candidates)
    if adds_up is not None:
        adding = [reading for reading in candidates if adds_up(reading)]
        if len(adding) == 1:
            return Cut(adding[0], kept, "identity")
        candidates = adding or candidates
    if quoted:
        # A figure of two digits or more that the text quotes is evidence; a 0 or a 7 is not.
        said = [r for r in candidates if all(f.lstrip("+-") in quoted for f in r if len(f.lstrip("+-")) > 1)]
        if len(said) == 1:
            return Cut(said[0], kept, "text")
    return Cut(None, kept)


def identity(table: str) -> Callable[[Sequence[int]], bool] | None:
    """The identity a row of `table` holds cell by cell, on its figures in the block's order:
    A3 (总计 = the six applicant columns) for 三, B1 (总计 = the four results, thrice) for 四."""
    if table == "applications":
        return lambda row: row[-1] == sum(row[:-1])
    if table == "review_litigation":
        return lambda row: all(row[k + 4] == sum(row[k : k + 4]) for k in range(0, len(row) - 4, 5))
    return None
