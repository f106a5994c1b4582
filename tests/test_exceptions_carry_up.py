"""Exceptions carry up: the bureau's report is the sum of its departments', so a department's
accepted D1 leaves the same difference in the bureau's D1. A bureau finding that is exactly the
sum of accepted department findings (same rule, table, row, column) is accepted with a pointer to
their entries; any other bureau error that may be accepted says which entry would accept it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from flows.checks.accepted import entry_for
from flows.documents.template import write_workbook
from flows.intake.workbook import read_workbook
from flows.run import run_year

BUREAU = "yuanjiang-psb-example"
COLUMNS = ("natural_person", "total")


def carry_in_more(sources: Path, unit: str, by: int) -> None:
    """`by` more applications carried into 2021 than 2020 carried over (and carried on, so that A1
    holds): a D1 of `by` in the department's natural_person and total columns."""
    path = sources / "2021" / f"{unit}.xlsx"
    report, _ = read_workbook(path, 2021, unit)
    layout = report.edition.tables["applications"]
    for row in ("carried_in", "carried_over"):
        for column in COLUMNS:
            report.values["applications"][layout.row_index[row], layout.column_index[column]] += by
    write_workbook(path, report.edition, 2021, report)


def accept_d1(sources: Path, *units: str) -> None:
    entries = [
        {
            "rule": "D1",
            "unit": u,
            "reason": "一件申请撤回后重新提交，结转数相应变化",
            "accepted_by": f"{u} 王某",
            "date": d,
        }
        for u, d in zip(units, ("2022-01-20", "2022-01-21"), strict=False)
    ]
    (sources / "2021" / "exceptions.yaml").write_text(yaml.safe_dump(entries, allow_unicode=True), "utf-8")


@pytest.fixture
def outputs(sources_copy, tmp_path) -> Path:
    """2020 published: 2021's carried_in is compared with its carried_over (D1)."""
    outputs = tmp_path / "outputs"
    assert run_year(2020, sources_copy, outputs).release is not None
    return outputs


def d1_of(outcome, unit: str) -> list:
    return sorted((f for f in outcome.findings if f.rule == "D1" and f.unit == unit), key=lambda f: f.column)


def test_a_departments_accepted_d1_carries_up_to_the_bureau_and_the_run_publishes(sources_copy, outputs):
    carry_in_more(sources_copy, "household", 2)
    blocked = run_year(2021, sources_copy, outputs)
    assert sorted((f.unit, f.column) for f in blocked.errors) == sorted(
        (u, c) for u in ("household", BUREAU) for c in COLUMNS
    )

    accept_d1(sources_copy, "household")
    outcome = run_year(2021, sources_copy, outputs)
    assert outcome.errors == [] and outcome.release is not None
    bureau_d1 = d1_of(outcome, BUREAU)
    assert [(f.column, int(f.expected) - int(f.actual)) for f in bureau_d1] == [("natural_person", -2), ("total", -2)]
    carried = {a.finding: a for a in outcome.accepted if a.finding.unit == BUREAU}
    assert set(carried) == set(bureau_d1)
    for a in carried.values():
        assert a.reason == "由 household（第 1 条）的已接受例外（exceptions.yaml）合计而来"
        assert (a.carried_from, a.entry, a.accepted_by, a.date) == (
            ("household",),
            None,
            "household 王某",
            "2022-01-20",
        )
    assert not [f for f in outcome.findings if f.rule == "X1"]

    # The release lists the bureau's rows among the accepted, their reason the pointer.
    with open(outcome.release / "data" / "exceptions.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    pointer = "由 household（第 1 条）的已接受例外（exceptions.yaml）合计而来"
    assert sorted((r["unit_id"], r["column"], r["reason"]) for r in rows) == sorted(
        [("household", c, "一件申请撤回后重新提交，结转数相应变化") for c in COLUMNS]
        + [(BUREAU, c, pointer) for c in COLUMNS]
    )
    # So does the check report's index, where the bureau's findings are.
    index = (outputs / "checks" / "2021" / "index.html").read_text("utf-8")
    assert index.count("已接受：由 household（第 1 条）的已接受例外（exceptions.yaml）合计而来") == 2
    household = (outputs / "checks" / "2021" / "household.html").read_text("utf-8")
    assert household.count("已接受：一件申请撤回后重新提交") == 2


def test_two_accepted_departments_add_up_to_the_bureaus_difference(sources_copy, outputs):
    carry_in_more(sources_copy, "household", 2)
    carry_in_more(sources_copy, "traffic", 3)
    accept_d1(sources_copy, "traffic", "household")
    outcome = run_year(2021, sources_copy, outputs)
    assert outcome.errors == [] and outcome.release is not None
    bureau_d1 = d1_of(outcome, BUREAU)
    assert [int(f.expected) - int(f.actual) for f in bureau_d1] == [-5, -5]
    (reason,) = {a.reason for a in outcome.accepted if a.finding.unit == BUREAU}
    assert reason == "由 household（第 2 条）、traffic（第 1 条）的已接受例外（exceptions.yaml）合计而来"
    assert {(a.accepted_by, a.date) for a in outcome.accepted if a.finding.unit == BUREAU} == {
        ("household 王某、traffic 王某", "2022-01-21")
    }


def test_a_bureau_difference_not_fully_accepted_stays_an_error_and_names_its_entry(sources_copy, outputs):
    carry_in_more(sources_copy, "household", 2)
    carry_in_more(sources_copy, "traffic", 3)
    accept_d1(sources_copy, "household")
    outcome = run_year(2021, sources_copy, outputs)
    assert outcome.release is None
    assert sorted((f.unit, f.column) for f in outcome.errors) == sorted(
        (u, c) for u in ("traffic", BUREAU) for c in COLUMNS
    )
    assert not [a for a in outcome.accepted if a.finding.unit == BUREAU]
    for finding in d1_of(outcome, BUREAU):
        entry = (
            f"- {{rule: D1, unit: {BUREAU}, table: applications, row: carried_in, column: {finding.column}, "
            "reason: （请写明接受理由）, accepted_by: （接受人）, date: YYYY-MM-DD}"
        )
        assert finding.message.endswith(f"请在 exceptions.yaml 中加入（填写理由、接受人和日期）：{entry}")
        assert "household（第 1 条）在此合计差 -2，本机关差 -5" in finding.message
        assert entry in finding.message_en
        # The snippet is the entry: with the placeholders filled, it accepts this finding.
        (parsed,) = yaml.safe_load(entry)
        assert parsed == {
            "rule": "D1",
            "unit": BUREAU,
            "table": "applications",
            "row": "carried_in",
            "column": finding.column,
            "reason": "（请写明接受理由）",
            "accepted_by": "（接受人）",
            "date": "YYYY-MM-DD",
        }
    # traffic's own D1 is an error too, and no bureau hint is added to a department's message.
    assert all("exceptions.yaml" not in f.message for f in d1_of(outcome, "traffic"))


def test_the_bureaus_entry_from_the_hint_publishes(sources_copy, outputs):
    carry_in_more(sources_copy, "traffic", 3)
    blocked = run_year(2021, sources_copy, outputs)
    entries = []
    for finding in d1_of(blocked, BUREAU):
        (entry,) = yaml.safe_load(entry_for(finding))
        entries.append(
            entry | {"reason": "交通大队结转数经核实无误", "accepted_by": "办公室 王某", "date": "2022-01-20"}
        )
        assert "已接受的部门例外" not in finding.message  # none lies at its cell
    entries.append(
        {"rule": "D1", "unit": "traffic", "reason": "结转数经核实无误", "accepted_by": "王某", "date": "2022-01-20"}
    )
    (sources_copy / "2021" / "exceptions.yaml").write_text(yaml.safe_dump(entries, allow_unicode=True), "utf-8")
    outcome = run_year(2021, sources_copy, outputs)
    assert outcome.errors == [] and outcome.release is not None
    # The bureau's own entries accept its D1 (their reason, not a pointer), and each is used.
    assert {a.reason for a in outcome.accepted if a.finding.unit == BUREAU} == {"交通大队结转数经核实无误"}
    assert not [f for f in outcome.findings if f.rule == "X1"]


def test_an_accepted_a2_carries_up_to_the_bureaus_e1(sources_copy, tmp_path):
    """E1 is A2, A3 and B1 run on the bureau's sums: a department's accepted A2 is the bureau's E1."""
    path = sources_copy / "2021" / "household.xlsx"
    report, _ = read_workbook(path, 2021, "household")
    layout = report.edition.tables["applications"]
    for row in ("new", "results_total"):  # one more result than the result rows say; A1 still holds
        for column in COLUMNS:
            report.values["applications"][layout.row_index[row], layout.column_index[column]] += 1
    write_workbook(path, report.edition, 2021, report)
    (sources_copy / "2021" / "exceptions.yaml").write_text(
        "- {rule: A2, unit: household, reason: 一件申请的办理结果尚在复核, accepted_by: 王某, date: '2022-01-20'}\n",
        "utf-8",
    )
    outcome = run_year(2021, sources_copy, tmp_path / "outputs")
    assert outcome.errors == [] and outcome.release is not None
    e1 = sorted((a.finding.column, a.reason) for a in outcome.accepted if a.finding.rule == "E1")
    assert e1 == [(c, "由 household（第 1 条）的已接受例外（exceptions.yaml）合计而来") for c in COLUMNS]
