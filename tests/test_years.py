"""Across years: a bureau's chain of releases over the 2020→2021 edition change and on to 2022,
accepted exceptions, and nil returns."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml

from flows.documents.template import write_workbook
from flows.format.edition import edition_for_year
from flows.run import run_year
from flows.synth import synthetic_report

UNITS = ("a", "b", "c")
REPORT_TEXT = """# 一、总体情况

{year}年新收申请{{{{applications.new.total}}}}件。

# 五、存在的主要问题及改进情况

{year}年的问题与改进。

# 六、其他需要报告的事项

未收取信息处理费。
"""


def continue_from(report, last):
    """Make `report`'s table 二 continue `last` (the unit's previous year) under C2 and D2."""
    if (
        last is not None
        and report.edition is last.edition
        and "in_force" in report.edition.tables["proactive_disclosure"].column_index
    ):
        pd = report.edition.tables["proactive_disclosure"]
        i, j = pd.row_index, pd.column_index
        v, lv = report.values["proactive_disclosure"], last.values["proactive_disclosure"]
        for row in ("rules", "normative_documents"):
            available = lv[i[row], j["in_force"]] + v[i[row], j["issued"]]
            v[i[row], j["repealed"]] = min(v[i[row], j["repealed"]], available)
            v[i[row], j["in_force"]] = available - v[i[row], j["repealed"]]
    return report


def make_bureau(root: Path, years=(2020, 2021, 2022)) -> dict[tuple[str, int], object]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "bureau.yaml").write_text(
        yaml.safe_dump(
            {
                "id": "bureau",
                "name": "测试局",
                "level": "county",
                "licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}],
                "departments": [{"id": u, "name": f"部门{u}"} for u in UNITS],
            },
            allow_unicode=True,
        ),
        "utf-8",
    )
    rng, reports, last = np.random.default_rng(42), {}, {}
    for year in years:
        edition = edition_for_year(year)
        for unit in UNITS:
            previous = last.get(unit)
            carried = (
                None
                if previous is None
                else previous.values["applications"][previous.edition.tables["applications"].row_index["carried_over"]]
            )
            report = continue_from(synthetic_report(edition, unit, year, rng, carried_in=carried), previous)
            write_workbook(root / str(year) / f"{unit}.xlsx", edition, year, report)
            reports[(unit, year)] = last[unit] = report
        (root / str(year) / "report.md").write_text(REPORT_TEXT.format(year=year), "utf-8")
    return reports


def rows(release: Path, name: str) -> list[dict]:
    with open(release / "data" / name, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_yaml(path: Path, data) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


@pytest.fixture
def chain(tmp_path):
    sources, outputs = tmp_path / "sources", tmp_path / "outputs"
    reports = make_bureau(sources)
    return sources, outputs, reports


def test_three_years_over_the_edition_change(chain):
    sources, outputs, _ = chain
    outcomes = {year: run_year(year, sources, outputs) for year in (2020, 2021, 2022)}
    assert all(o.release == outputs / str(y) / "1.0.0" for y, o in outcomes.items())
    rules_by_year = {y: sorted({f.rule for f in o.findings}) for y, o in outcomes.items()}
    # 2020: first release, each unit told once there is no 2019 to compare with.
    assert sorted(f.unit for f in outcomes[2020].findings if f.rule == "D0") == ["a", "b", "bureau", "c"]
    # 2021 and 2022 are compared with the release before (D1 across the edition change too).
    assert not {"D0", "D1", "D2", "D3", "D4", "E2"} & set(rules_by_year[2021] + rules_by_year[2022])


def test_a_broken_carry_over_blocks_until_accepted(chain):
    sources, outputs, reports = chain
    run_year(2020, sources, outputs), run_year(2021, sources, outputs)
    report = reports[("b", 2022)]
    layout = report.edition.tables["applications"]
    for column in ("natural_person", "total"):  # one application carried in that 2021 did not carry over
        for row in ("carried_in", "carried_over"):
            report.values["applications"][layout.row_index[row], layout.column_index[column]] += 1
    write_workbook(sources / "2022" / "b.xlsx", report.edition, 2022, report)

    blocked = run_year(2022, sources, outputs)
    d1 = sorted((f.unit, f.column) for f in blocked.errors)
    assert d1 == [("b", "natural_person"), ("b", "total"), ("bureau", "natural_person"), ("bureau", "total")]
    assert blocked.release is None and not (outputs / "2022").exists()

    # Accept the department's D1 in one column only: the bureau's D1 there is accepted with it
    # (tests/test_exceptions_carry_up.py), the other column's still blocks, at both levels.
    entry = {
        "rule": "D1",
        "unit": "b",
        "reason": "一件申请于2021年底撤回后重新提交",
        "accepted_by": "办公室 王某",
        "date": "2023-01-20",
    }
    stale = {
        "rule": "A2",
        "unit": "c",
        "reason": "去年的例外，已不需要",
        "accepted_by": "办公室 王某",
        "date": "2022-01-20",
    }
    write_yaml(sources / "2022" / "exceptions.yaml", [{**entry, "column": "natural_person"}, stale])
    still = run_year(2022, sources, outputs)
    assert sorted((f.unit, f.column) for f in still.errors) == [("b", "total"), ("bureau", "total")]
    assert still.release is None
    (x1,) = [f for f in still.findings if f.rule == "X1"]
    assert x1.severity == "warning" and "第 2 条" in x1.message

    write_yaml(sources / "2022" / "exceptions.yaml", [entry, {**entry, "unit": "bureau"}])
    published = run_year(2022, sources, outputs)
    assert published.errors == [] and published.release == outputs / "2022" / "1.0.0"
    accepted = rows(published.release, "exceptions.csv")
    assert sorted((r["unit_id"], r["rule"], r["column"]) for r in accepted) == [
        ("b", "D1", "natural_person"),
        ("b", "D1", "total"),
        ("bureau", "D1", "natural_person"),
        ("bureau", "D1", "total"),
    ]
    assert {r["reason"] for r in accepted} == {entry["reason"]} and {r["date"] for r in accepted} == {"2023-01-20"}


def test_malformed_exceptions_file_is_refused_with_the_entry(chain):
    from flows.intake.bureau import BureauConfigError
    from flows.run import prepare

    sources, outputs, _ = chain
    write_yaml(sources / "2020" / "exceptions.yaml", [{"rule": "D1", "unit": "b", "reason": "理由充分的说明"}])
    with pytest.raises(BureauConfigError, match=r"exceptions\.yaml 第 1 条有误.*accepted_by"):
        prepare(sources, outputs, 2020)  # before any work: exceptions.yaml is read with the inputs


def test_nil_return_counts_as_zeros_and_satisfies_e4(chain):
    sources, outputs, _ = chain
    (sources / "2020" / "c.xlsx").unlink()
    write_yaml(
        sources / "2020" / "nil_returns.yaml",
        [{"unit": "c", "reason": "本年度无政府信息公开工作事项", "filed_by": "部门c 李某", "date": "2021-01-15"}],
    )
    outcome = run_year(2020, sources, outputs)
    assert outcome.errors == [] and outcome.release is not None
    c_rows = [r for r in rows(outcome.release, "applications.csv") if r["unit_id"] == "c"]
    assert len(c_rows) == 23 and {v for r in c_rows for k, v in r.items() if k not in ("unit_id", "row")} == {"0"}


def test_nil_return_still_answers_for_last_years_carry_over(chain):
    sources, outputs, reports = chain
    run_year(2020, sources, outputs)
    last = reports[("c", 2020)]
    assert last.values["applications"][last.edition.tables["applications"].row_index["carried_over"]].any()
    (sources / "2021" / "c.xlsx").unlink()
    write_yaml(
        sources / "2021" / "nil_returns.yaml",
        [{"unit": "c", "reason": "本年度无事项", "filed_by": "李某", "date": "2022-01-15"}],
    )
    outcome = run_year(2021, sources, outputs)
    assert outcome.release is None
    assert {(f.rule, f.unit) for f in outcome.errors} >= {("D1", "c")}


def test_missing_department_without_nil_return_blocks(chain):
    sources, outputs, _ = chain
    (sources / "2020" / "c.xlsx").unlink()
    outcome = run_year(2020, sources, outputs)
    assert [(f.rule, f.unit) for f in outcome.errors] == [("E4", "c")] and outcome.release is None
