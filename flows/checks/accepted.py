"""Accepted exceptions (sources/<year>/exceptions.yaml): errors a bureau accepts with a reason.

An accepted error no longer blocks publication and is published with its reason; an entry that
matches no finding is itself reported (X1), so stale entries do not linger.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flows.format.edition import rules
from flows.format.report import Finding, make_finding
from flows.intake.bureau import BureauConfigError, load_year_file
from flows.places import EXCEPTIONS, year_folder

KEYS = ("rule", "unit", "table", "row", "column")


@dataclass(frozen=True)
class Accepted:
    finding: Finding
    reason: str
    accepted_by: str
    date: str


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
        accepted += [Accepted(f, entry["reason"], entry["accepted_by"], entry["date"]) for f in matched]
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
