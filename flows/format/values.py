"""One cell's content as typed → the number it stands for (rules V1 and V2).

Values are held as integers: counts as they are, amounts in 10**-decimals of the column's measure, so
sums are exact and an auditor's re-addition gives the same figure to the last digit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import numpy as np

from flows.format.edition import Column, TableLayout, value_words

_NUMBER = re.compile(r"^(?P<sign>[+-]?)(?P<digits>\d{1,3}(?:,\d{3})+|\d+)(?P<fraction>\.\d+)?(?P<measure>\D*)$")
_KIND_WORDS = {  # {maximum}: values.yaml's, for counts or amounts
    "count": ("不超过 {maximum} 的非负整数", "a whole number from 0 to {maximum}"),
    "signed": (
        "绝对值不超过 {maximum} 的整数（减少填负数）",
        "a whole number (negative for a decrease) within ±{maximum}",
    ),
    "amount": ("0 到 {maximum} 之间的金额（按本列单位）", "an amount from 0 to {maximum} in the column's unit"),
}


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a cell holds: `value` (scaled integer) or, for rule V1, `value is None`.

    `reasons` say how text was normalised (rule V2); empty for a number typed as a number.
    """

    value: int | None
    reasons: tuple[tuple[str, str], ...] = ()
    measure: str | None = None  # the measure typed in the cell, if any


def expected_kind(column: Column) -> tuple[str, str]:
    """What a cell of the column must hold, in Chinese and English (rule V1's "expected")."""
    zh, en = (words.format(maximum=f"{_maximum(column):,}") for words in _KIND_WORDS[column.kind])
    return zh, en


def _maximum(column: Column) -> int:
    """The largest value a cell of the column may hold, in the column's measure (schemas/values.yaml)."""
    return value_words()["maximum_amount" if column.kind == "amount" else "maximum_count"]


def _scaled(number: Decimal, column: Column) -> int | None:
    scaled = number.scaleb(column.decimals)
    if scaled != scaled.to_integral_value():
        return None  # finer than the column holds: a fraction of a count, or below 0.01 元
    if column.kind != "signed" and scaled < 0:
        return None
    if abs(number) > _maximum(column):
        return None  # "absurdly large": a typo or a pasted identifier, not a count or an amount
    return int(scaled)


BLANK = Parsed(0, (("空白单元格", "blank cell"),))


_WHOLE = [Parsed(n) for n in range(1000)]  # the common case, shared rather than built per cell


def _converted(number: Decimal, measure: str, column: Column) -> tuple[Decimal, tuple[str, str]] | None:
    """`number` in `measure` expressed in the column's measure, with the V2 reason; None if not money."""
    measures = value_words()["measures"]
    known, own = measures.get(measure), measures.get(column.measure)
    if known is None or own is None or known["kind"] != own["kind"]:
        return None
    if measure == column.measure:
        return number, (f"去掉单位“{measure}”", f"unit '{measure}' removed")
    if known["kind"] == "count":  # one count word is as good as another: 2笔 is 2
        return number, (f"去掉量词“{measure}”", f"count word '{measure}' removed")
    return number * known["factor"] / own["factor"], (
        f"由{measure}换算为{column.measure}",
        f"converted from {measure} to {column.measure}",
    )


def parse_cell(raw, column: Column, header_measure: str | None = None) -> Parsed:
    """`header_measure`: the measure the column's header states, when it is not the column's own."""
    if type(raw) is float and raw.is_integer() and 0 <= raw < 1000 and not column.decimals:
        return _WHOLE[int(raw)]
    if isinstance(raw, float) or (isinstance(raw, int) and not isinstance(raw, bool)):
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        if header_measure and header_measure != column.measure:
            converted = _converted(number, header_measure, column)
            assert converted is not None, "a header states only money measures (workbook.header_texts)"
            number, reason = converted
            return Parsed(_scaled(number, column), (reason,))
        return Parsed(_scaled(number, column))
    if isinstance(raw, (bool, date, datetime, time, timedelta)):
        return Parsed(None)
    text = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", "")
    if not text:
        return BLANK
    words = value_words()
    if text in words["zero_words"]:
        return Parsed(0, ((f"填写的是文字“{raw}”", f"text '{raw}'"),))
    match = _NUMBER.match(text)
    if not match:
        return Parsed(None)
    reasons = [(f"“{raw}”是以文本形式填写的数字", f"'{raw}' is a number typed as text")]
    if "," in match["digits"]:
        reasons.append(("去掉千位分隔符", "thousands separators removed"))
    if match["sign"] == "+":
        reasons.append(("去掉正号", "plus sign removed"))
    try:
        number = Decimal(match["sign"] + match["digits"].replace(",", "") + (match["fraction"] or ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal digits
        return Parsed(None)
    measure = match["measure"] or None
    # The measure stated: in the cell, else by the header when it is not the column's own.
    stated = measure or (header_measure if header_measure != column.measure else None)
    if stated:
        converted = _converted(number, stated, column)
        if converted is None:
            return Parsed(None)
        number, reason = converted
        reasons.append(reason)
    return Parsed(_scaled(number, column), tuple(reasons), measure)


def format_value(value: int, column: Column) -> str:
    """The published text of a scaled value: exact, no exponent, no trailing zeros."""
    if not column.decimals:
        return str(value)
    text = format(Decimal(value).scaleb(-column.decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def figures(values: np.ndarray, layout: TableLayout) -> list[str]:
    """The published text of each value cell of a table (`values`: its matrix), in the order of
    layout.cells: taken out by numpy at once, then the few amounts with decimals one by one."""
    cells = values[layout.cell_rows, layout.cell_columns].tolist()
    texts = list(map(str, cells))  # a third of the time of numpy's astype(str)
    for i in layout.decimal_cells:
        texts[i] = format_value(cells[i], layout.columns[layout.cells[i][1]])
    return texts
