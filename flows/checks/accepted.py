"""Accepted exceptions (sources/<year>/exceptions.yaml): errors a bureau accepts with a reason.

An accepted error no longer blocks publication and is published with its reason; an entry that
matches no finding is itself reported (X1), so stale entries do not linger. A bureau error that is
no more than the sum of accepted department errors is accepted with them (carry_up), and any other
bureau error that may be accepted says which entry would accept it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from flows.format.edition import rules
from flows.format.report import Finding, make_finding
from flows.intake.bureau import BureauConfigError, load_year_file
from flows.places import EXCEPTIONS, year_folder

KEYS = ("rule", "unit", "table", "row", "column")


@dataclass(frozen=True)
class Accepted:
    """A finding accepted, why, by whom and when. `entry` is the number of the exceptions.yaml entry
    that accepts it; a bureau finding carried up from its departments' (carry_up) has none, and
    `carried_from` names those departments, its reason saying so."""

    finding: Finding
    reason: str
    accepted_by: str
    date: str
    entry: int | None = None
    carried_from: tuple[str, ...] = ()


def load_exceptions(sources: Path, year: int) -> list[dict]:
    """The year's exceptions.yaml entries ([] without one). BureauConfigError, naming the entry, for
    one that accepts an error the catalogue marks `acceptable: false` (an unreadable file, tables
    not found): accepted, it would leave that department without figures and the bureau's sum
    short, with no error left to say why nothing was published."""
    entries = load_year_file(sources, year, EXCEPTIONS)
    catalogue = rules()
    for number, entry in enumerate(entries, start=1):
        rule = catalogue.get(entry["rule"])
        if rule is not None and rule.params.get("acceptable", True) is False:
            raise BureauConfigError(
                f"{year_folder(sources, year) / EXCEPTIONS} 第 {number} 条不能接受 {rule.id}（{rule.title}）："
                "这类错误使该部门没有可汇总的数字，只能更正：请重新报送该部门的文件，并删除这一条"
            )
    return entries


def _matches(entry: dict, finding: Finding) -> bool:
    return all(entry[key] == getattr(finding, key) for key in KEYS if key in entry)


def apply_exceptions(
    findings: list[Finding], entries: list[dict], path: Path, bureau_id: str
) -> tuple[list[Accepted], list[Finding]]:
    """The findings `entries` accept, and an X1 warning for each entry that matches none."""
    accepted, stale = [], []
    for number, entry in enumerate(entries, start=1):
        matched = [f for f in findings if _matches(entry, f)]
        accepted += [Accepted(f, entry["reason"], entry["accepted_by"], entry["date"], number) for f in matched]
        if not matched:
            stale.append(
                make_finding(
                    "X1",
                    entry.get("unit", bureau_id),
                    file=str(path),
                    entry=number,
                    **{f"entry_{key}": entry.get(key, "*") for key in KEYS},
                )
            )
    return accepted, stale


# Bureau rules whose finding at a cell is the sum of its departments' findings there, by the
# department rules that sum into it. The bureau's report is the cell-wise sum of the departments'
# (flows/merge.py) and these rules are linear in the cells, so the bureau's difference
# (expected − actual) is the sum of the departments': D1–D4 compare with last year's release of the
# same bureau (itself a sum), and E1 is A2, A3 and B1 run on the bureau (rules.rule_e1), so a
# department's accepted A2 leaves an E1 of the same size in the bureau's cell. Not carried: E2 and
# E3, about the merge itself (which units, whether their item lists overlap), which no department
# has; C4, a threshold by level, not a sum; and the rest, which check_bureau does not run on the
# bureau. None of these rules has a variant at the cells it names (A2's subtotal variant names no
# row, so it meets no bureau cell), so rule, table, row and column say which findings add up.
CARRIED: dict[str, tuple[str, ...]] = {
    "D1": ("D1",),
    "D2": ("D2",),
    "D3": ("D3",),
    "D4": ("D4",),
    "E1": ("A2", "A3", "B1"),
}


def _difference(finding: Finding) -> int | None:
    """expected − actual, signed; None when either is no whole number (what a clerk typed)."""
    try:
        return int(finding.expected or "") - int(finding.actual or "")
    except ValueError:
        return None


def carry_up(findings: list[Finding], accepted: list[Accepted], bureau_id: str) -> tuple[list[Finding], list[Accepted]]:
    """The bureau findings that accepted department findings explain, accepted with a pointer to
    their entries; and `findings` with every other bureau error that may be accepted told which
    exceptions.yaml entry would accept it (the hint replaces the finding, which is not accepted)."""
    explicit = {a.finding for a in accepted}
    # (rule, table, row, column) → the accepted department findings there, each once.
    by_cell: defaultdict[tuple, dict[Finding, Accepted]] = defaultdict(dict)
    for a in accepted:
        f = a.finding
        if f.unit != bureau_id and f.table is not None:
            by_cell[(f.rule, f.table, f.row, f.column)].setdefault(f, a)
    carried: list[Accepted] = []
    result = []
    for finding in findings:
        if finding.unit != bureau_id or not finding.is_error or finding in explicit:
            result.append(finding)
            continue
        sources, nearest = _explained(finding, by_cell)
        if sources:
            carried.append(_carried(finding, sources))
            result.append(finding)
        else:
            result.append(_with_entry(finding, nearest))
    return result, carried


def _explained(
    finding: Finding, by_cell: dict[tuple, dict[Finding, Accepted]]
) -> tuple[list[Accepted], list[Accepted]]:
    """The accepted department findings whose differences add up to the bureau `finding`'s, of one
    of the rules it carries ([] when none do); else those that lie at its cell, the nearest."""
    difference, nearest = _difference(finding), list[Accepted]()
    for rule in CARRIED.get(finding.rule, ()) if difference is not None else ():
        sources = list(by_cell.get((rule, finding.table, finding.row, finding.column), {}).values())
        differences = [_difference(a.finding) for a in sources]
        if sources and None not in differences and sum(d or 0 for d in differences) == difference:
            return sources, []
        nearest = nearest or sources
    return [], nearest


def _units(accepted: list[Accepted]) -> tuple[str, ...]:
    return tuple(sorted({a.finding.unit for a in accepted}))


def _entries(accepted: list[Accepted]) -> str:
    """Which units' entries of exceptions.yaml, with their numbers, to be followed by 的:
    "household（第 1 条）、traffic（第 3 条）", "traffic "."""
    numbers: defaultdict[str, set[int]] = defaultdict(set)
    for a in accepted:
        if a.entry is not None:
            numbers[a.finding.unit].add(a.entry)
    named = "、".join(
        f"{unit}（第 {'、'.join(map(str, sorted(numbers[unit])))} 条）" if numbers[unit] else unit
        for unit in _units(accepted)
    )
    return named if named.endswith("）") else f"{named} "


def _carried(finding: Finding, sources: list[Accepted]) -> Accepted:
    return Accepted(
        finding,
        f"由 {_entries(sources)}的已接受例外（exceptions.yaml）合计而来",
        "、".join(sorted({a.accepted_by for a in sources})),
        max(a.date for a in sources),
        carried_from=_units(sources),
    )


# Words YAML reads as a boolean or null, not as the text: such an id is quoted.
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(value: str) -> str:
    """A YAML flow scalar: an id or code as it is, anything else quoted (a JSON string is YAML too)."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def entry_for(finding: Finding) -> str:
    """The exceptions.yaml entry, on one line, that accepts `finding` and no other of its unit:
    every key the finding has, and placeholders for what only the bureau can say."""
    keys = {"rule": finding.rule, "unit": finding.unit, "table": finding.table, "row": finding.row}
    keys["column"] = finding.column
    pairs = [f"{key}: {_scalar(value)}" for key, value in keys.items() if value is not None]
    pairs += ["reason: （请写明接受理由）", "accepted_by: （接受人）", "date: YYYY-MM-DD"]
    return "- {" + ", ".join(pairs) + "}"


def _with_entry(finding: Finding, nearest: list[Accepted]) -> Finding:
    """`finding` with the entry that would accept it added to its messages, and, when accepted
    department findings lie at its cell, why they do not explain it; as it is, when the catalogue
    says it cannot be accepted."""
    if rules()[finding.rule].params.get("acceptable", True) is False:
        return finding
    entry = entry_for(finding)
    message, message_en = finding.message, finding.message_en
    if nearest:
        differences = [_difference(a.finding) for a in nearest]
        own = _difference(finding)
        summed = sum(d for d in differences if d is not None) if None not in differences else "?"
        message += f"；已接受的部门例外不能完全说明这一差异：{_entries(nearest)}在此合计差 {summed}，本机关差 {own}（均为应为减实填）"
        message_en += f"; the accepted exceptions of {', '.join(_units(nearest))} add up to {summed} here, not {own}"
    message += f"。如确认接受，请在 exceptions.yaml 中加入（填写理由、接受人和日期）：{entry}"
    message_en += f". To accept it, add to exceptions.yaml: {entry}"
    return replace(finding, message=message, message_en=message_en)
