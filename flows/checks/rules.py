"""The accounting rules, one small function each, on a Report's matrices.

Each rule takes the report and its Context (the bureau's level, last year's report) and returns its
findings; which rules run for an edition, their severity, thresholds and messages come from the
catalogue (schemas/rules.yaml). Row and column codes are the spec's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np

from flows.format.edition import edition_named, rules
from flows.format.report import Finding, Report, make_finding
from flows.format.values import format_value


@dataclass(frozen=True)
class Context:
    """What a rule may need beyond the report: the bureau's level (rule C3), the unit's report of
    the previous year (rules C2, C4, D1–D4) when there is one, and the level of the unit whose
    figures these are (C4): a department of the bureau, or a whole body at its level."""

    level: str | None = None
    previous: Report | None = None
    unit_level: str = "department"


APPLICANTS = (
    "natural_person",
    "commercial_enterprise",
    "research_institution",
    "social_welfare_organization",
    "legal_service_institution",
    "other_organization",
)
BLOCKS = ("review", "suit_direct", "suit_after_review")
OUTCOMES = ("upheld", "corrected", "other", "pending")


def _mismatches(
    report: Report, rule: str, table: str, expected: np.ndarray, actual: np.ndarray, cells
) -> Iterator[Finding]:
    """A finding for each position where expected ≠ actual; `cells(i)` → (r, c) of the cell to name."""
    for i in np.flatnonzero(expected != actual).tolist():
        r, c = cells(i)
        yield make_finding(
            rule, report.unit, report=report, table=table, r=r, c=c, expected=int(expected[i]), actual=int(actual[i])
        )


class _Positions(NamedTuple):
    """Where the sum rules look, by index, worked out once per edition: these rules run on every
    workbook of a provincial run."""

    result_rows: slice  # 三、本年度办理结果 （一） to （六）: the rows before （七）总计
    applicants: np.ndarray  # the six applicant columns
    outcomes: np.ndarray  # table 四: [block, outcome] → column
    block_totals: np.ndarray  # table 四: [block] → its total's column


@cache
def _positions(edition: str) -> _Positions:
    applications = edition_named(edition).tables["applications"]
    j = edition_named(edition).tables["review_litigation"].column_index
    return _Positions(
        slice(applications.row_index["disclosed"], applications.row_index["results_total"]),
        np.array([applications.column_index[c] for c in APPLICANTS]),
        np.array([[j[f"{b}_{o}"] for o in OUTCOMES] for b in BLOCKS]),
        np.array([j[f"{b}_total"] for b in BLOCKS]),
    )


def rule_a1(report: Report, context: Context = Context(), rule: str = "A1") -> Iterator[Finding]:
    """Every column: new + carried_in = results_total + carried_over (the template's stated rule)."""
    table = report.edition.tables["applications"]
    m, i = report.values["applications"], table.row_index
    yield from _mismatches(
        report,
        rule,
        "applications",
        m[i["new"]] + m[i["carried_in"]],
        m[i["results_total"]] + m[i["carried_over"]],
        lambda c: (i["carried_over"], c),
    )


def rule_a2(report: Report, context: Context = Context(), rule: str = "A2") -> Iterator[Finding]:
    """Every column: results_total = the sum of the result rows."""
    m, total = report.values["applications"], report.edition.tables["applications"].row_index["results_total"]
    parts = np.add.reduce(m[_positions(report.edition.code).result_rows], axis=0)
    yield from _mismatches(report, rule, "applications", parts, m[total], lambda c: (total, c))


def rule_a3(report: Report, context: Context = Context(), rule: str = "A3") -> Iterator[Finding]:
    """Every row: total = the sum of the six applicant columns."""
    m, total = report.values["applications"], report.edition.tables["applications"].column_index["total"]
    parts = np.add.reduce(m[:, _positions(report.edition.code).applicants], axis=1)
    yield from _mismatches(report, rule, "applications", parts, m[:, total], lambda r: (r, total))


def rule_b1(report: Report, context: Context = Context(), rule: str = "B1") -> Iterator[Finding]:
    """Each block of table 四: total = upheld + corrected + other + pending."""
    row, positions = report.values["review_litigation"][0], _positions(report.edition.code)
    parts, totals = np.add.reduce(row[positions.outcomes], axis=1), row[positions.block_totals]
    yield from _mismatches(
        report, rule, "review_litigation", parts, totals, lambda k: (0, int(positions.block_totals[k]))
    )


def rule_e1(bureau: Report) -> Iterator[Finding]:
    """The bureau's totals, recomputed from its summed parts, equal the summed totals."""
    for rule in (rule_a2, rule_a3, rule_b1):
        yield from rule(bureau, rule="E1")


def _cell(report: Report, table: str, row: str, column: str) -> int:
    layout = report.edition.tables[table]
    return int(report.values[table][layout.row_index[row], layout.column_index[column]])


def _at(report: Report, table: str, row: str, column: str) -> dict:
    """Keyword arguments of make_finding that place it at a cell."""
    layout = report.edition.tables[table]
    return {"report": report, "table": table, "r": layout.row_index[row], "c": layout.column_index[column]}


def rule_c1(report: Report, context: Context) -> Iterator[Finding]:
    """2019 （一）: made and published are each at most total_published."""
    layout = report.edition.tables["proactive_disclosure"]
    for row in ("rules", "normative_documents"):
        total = _cell(report, "proactive_disclosure", row, "total_published")
        for part in ("made", "published"):
            value = _cell(report, "proactive_disclosure", row, part)
            if value > total:
                label = layout.columns[layout.column_index[part]].label
                yield make_finding(
                    "C1",
                    report.unit,
                    **_at(report, "proactive_disclosure", row, part),
                    expected=total,
                    actual=value,
                    part=part,
                    part_label=label,
                )


def rule_c2(report: Report, context: Context) -> Iterator[Finding]:
    """2021 （一）: repealed is at most last year's in_force plus this year's issued."""
    previous = context.previous
    if previous is None or previous.edition is not report.edition:
        return
    for row in ("rules", "normative_documents"):
        limit = _cell(previous, "proactive_disclosure", row, "in_force") + _cell(
            report, "proactive_disclosure", row, "issued"
        )
        repealed = _cell(report, "proactive_disclosure", row, "repealed")
        if repealed > limit:
            yield make_finding(
                "C2",
                report.unit,
                **_at(report, "proactive_disclosure", row, "repealed"),
                expected=limit,
                actual=repealed,
            )


def rule_c3(report: Report, context: Context) -> Iterator[Finding]:
    """规章 are 0 for a body below the level that makes them."""
    levels = rules()["C3"].params["levels"]
    if context.level not in levels:
        return
    layout = report.edition.tables["proactive_disclosure"]
    r = layout.row_index["rules"]
    for c in np.flatnonzero(report.values["proactive_disclosure"][r]):
        yield make_finding(
            "C3",
            report.unit,
            report=report,
            table="proactive_disclosure",
            r=r,
            c=int(c),
            expected=0,
            actual=int(report.values["proactive_disclosure"][r, c]),
            level=context.level,
            level_label=levels[context.level],
        )


def rule_c4(report: Report, context: Context) -> Iterator[Finding]:
    """2021 fees are in 万元: a figure implausibly large for the unit's level, or far above last
    year's, was probably typed in 元."""
    layout = report.edition.tables["proactive_disclosure"]
    column = layout.columns[layout.column_index["amount_10k_yuan"]]
    scaled = _cell(report, "proactive_disclosure", "fees", "amount_10k_yuan")
    params = rules()["C4"].params
    previous = _previous_fees(context)
    at = _at(report, "proactive_disclosure", "fees", "amount_10k_yuan")
    wan = format_value(scaled, column)
    if previous and scaled > previous * params["jump"]:
        times = f"{scaled / previous:,.0f}"
        yield make_finding(
            "C4", report.unit, variant="jump", **at, actual=wan, previous=format_value(previous, column), times=times
        )
        return
    maximum = params["maximum"].get(context.unit_level, params["maximum"]["department"]) * 10**column.decimals
    if scaled > maximum and not (previous and scaled <= previous * params["confirmed_within"]):
        level = context.unit_level
        yield make_finding(
            "C4",
            report.unit,
            **at,
            actual=wan,
            yuan=format_value(scaled * 10000, column),
            level=level,
            level_label=params["level_labels"].get(level, level),
        )


def _previous_fees(context: Context) -> int:
    """Last year's 2021-edition fees of the unit, scaled; 0 when there is none to go by."""
    previous = context.previous
    if previous is None or "amount_10k_yuan" not in previous.edition.tables["proactive_disclosure"].column_index:
        return 0
    return _cell(previous, "proactive_disclosure", "fees", "amount_10k_yuan")


def rule_c5(report: Report, context: Context) -> Iterator[Finding]:
    """2019 procurement amount typed with no unit, in the cell or its header."""
    for table, r, c in sorted(report.no_measure):
        layout = report.edition.tables[table]
        if not report.values[table][r, c]:
            continue  # 0 is 0 in any unit
        value = format_value(int(report.values[table][r, c]), layout.columns[c])
        yield make_finding("C5", report.unit, report=report, table=table, r=r, c=c, actual=value)


def rule_w1(report: Report, context: Context) -> Iterator[Finding]:
    """decisions equal previous_items on every row that has both: item counts typed as decisions."""
    layout = report.edition.tables["proactive_disclosure"]
    j = layout.column_index
    if "previous_items" not in j:
        return
    rows = [r for r in range(len(layout.rows)) if layout.applicable[r, j["decisions"]]]
    m = report.values["proactive_disclosure"]
    pairs = [(int(m[r, j["previous_items"]]), int(m[r, j["decisions"]])) for r in rows]
    if all(a == b for a, b in pairs) and any(a for a, _ in pairs):
        shown = "、".join(f"{layout.rows[r].label} {a}/{b}" for r, (a, b) in zip(rows, pairs, strict=True))
        yield make_finding(
            "W1", report.unit, report=report, table="proactive_disclosure", c=j["decisions"], pairs=shown
        )


def rule_w3(report: Report, context: Context) -> Iterator[Finding]:
    """2019: （六）其他处理 is a large share of （七）总计."""
    params = rules()["W3"].params
    other, total = (
        _cell(report, "applications", "other", "total"),
        _cell(report, "applications", "results_total", "total"),
    )
    if total >= params["minimum"] and other > params["share"] * total:
        yield make_finding(
            "W3",
            report.unit,
            **_at(report, "applications", "other", "total"),
            actual=other,
            total=total,
            percent=round(100 * other / total),
        )


# -- across years: the unit's own report of the previous year (D5: D2-D4 only within an edition) --


def rule_d1(report: Report, context: Context) -> Iterator[Finding]:
    """Every column: carried_in = last year's carried_over (holds across the edition change)."""
    previous = context.previous
    if previous is None:
        return
    this, last = report.edition.tables["applications"], previous.edition.tables["applications"]
    carried_in = report.values["applications"][this.row_index["carried_in"]]
    carried_over = previous.values["applications"][last.row_index["carried_over"]]
    r = this.row_index["carried_in"]
    for c, column in enumerate(this.columns):
        expected = int(carried_over[last.column_index[column.code]])
        if expected != int(carried_in[c]):
            yield make_finding(
                "D1",
                report.unit,
                report=report,
                table="applications",
                r=r,
                c=c,
                expected=expected,
                actual=int(carried_in[c]),
                previous_year=previous.year,
            )


def _same_edition_rows(report: Report, context: Context, edition: str):
    previous = context.previous
    if previous is None or previous.edition is not report.edition or report.edition.code != edition:
        return None
    return previous


def rule_d2(report: Report, context: Context) -> Iterator[Finding]:
    """2021 → 2021: in_force = last year's in_force + issued − repealed."""
    if (previous := _same_edition_rows(report, context, "2021")) is None:
        return
    for row in ("rules", "normative_documents"):
        last = _cell(previous, "proactive_disclosure", row, "in_force")
        expected = (
            last
            + _cell(report, "proactive_disclosure", row, "issued")
            - _cell(report, "proactive_disclosure", row, "repealed")
        )
        actual = _cell(report, "proactive_disclosure", row, "in_force")
        if expected != actual:
            yield make_finding(
                "D2",
                report.unit,
                **_at(report, "proactive_disclosure", row, "in_force"),
                expected=expected,
                actual=actual,
                previous=last,
            )


def rule_d3(report: Report, context: Context) -> Iterator[Finding]:
    """2019 → 2020: previous_items = last year's previous_items + last year's change."""
    if (previous := _same_edition_rows(report, context, "2019")) is None:
        return
    layout = report.edition.tables["proactive_disclosure"]
    for r, row in enumerate(layout.rows):
        if not layout.applicable[r, layout.column_index["previous_items"]]:
            continue
        expected = _cell(previous, "proactive_disclosure", row.code, "previous_items") + _cell(
            previous, "proactive_disclosure", row.code, "change"
        )
        actual = _cell(report, "proactive_disclosure", row.code, "previous_items")
        if expected != actual:
            yield make_finding(
                "D3",
                report.unit,
                **_at(report, "proactive_disclosure", row.code, "previous_items"),
                expected=expected,
                actual=actual,
                previous_year=previous.year,
            )


def rule_d4(report: Report, context: Context) -> Iterator[Finding]:
    """2019 → 2020: total_published = last year's total_published + published."""
    if (previous := _same_edition_rows(report, context, "2019")) is None:
        return
    for row in ("rules", "normative_documents"):
        last = _cell(previous, "proactive_disclosure", row, "total_published")
        expected = last + _cell(report, "proactive_disclosure", row, "published")
        actual = _cell(report, "proactive_disclosure", row, "total_published")
        if expected != actual:
            yield make_finding(
                "D4",
                report.unit,
                **_at(report, "proactive_disclosure", row, "total_published"),
                expected=expected,
                actual=actual,
                previous=last,
            )


RULES: dict[str, Callable[[Report, Context], Iterator[Finding]]] = {
    "A1": rule_a1,
    "A2": rule_a2,
    "A3": rule_a3,
    "B1": rule_b1,
    "C1": rule_c1,
    "C2": rule_c2,
    "C3": rule_c3,
    "C4": rule_c4,
    "C5": rule_c5,
    "W1": rule_w1,
    "W3": rule_w3,
    "D1": rule_d1,
    "D2": rule_d2,
    "D3": rule_d3,
    "D4": rule_d4,
}


# -- the bureau: rules on the merge ------------------------------------------------------------


def rule_e2(bureau: Report, units: set[str], previous_units: set[str], previous_year: int) -> Iterator[Finding]:
    """The set of reporting units changed since last year (the bureau's D1 depends on it)."""
    added, removed = sorted(units - previous_units), sorted(previous_units - units)
    if added or removed:
        yield make_finding(
            "E2",
            bureau.unit,
            added="、".join(added) or "无",
            removed="、".join(removed) or "无",
            previous_year=previous_year,
        )


def rule_e3(bureau: Report, departments: tuple[Report, ...]) -> Iterator[Finding]:
    """2019: item counts summed across departments assume their item lists are disjoint."""
    layout = bureau.edition.tables["proactive_disclosure"]
    c = layout.column_index["previous_items"]
    for r in range(len(layout.rows)):
        if layout.applicable[r, c]:
            count = sum(1 for d in departments if d.values["proactive_disclosure"][r, c])
            if count > 1:
                yield make_finding(
                    "E3", bureau.unit, report=bureau, table="proactive_disclosure", r=r, c=c, count=count
                )
