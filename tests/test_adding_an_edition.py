"""docs/adding-an-edition.md, walked through on an invented edition.

The edition "2027" (for report years 2027 onwards) is made from 2021's in a temporary copy of
schemas/: one column label reworded, one row added to table 三. Each numbered step below is the
section of the same number in docs/adding-an-edition.md, in the same order:

1. the layout, schemas/<code>/layout.yaml;
2. the previous edition's `years:` closed;
3. the three Table Schemas, matching the layout;
4. the rules that differ by edition;
5. the fill-in template;
6. reading: the template filled in, the official layout, a workbook of the wrong edition;
7. a run publishes a release that frictionless validates;
8. the project's own tests and golden files (not applicable here: the example bureau has no year
   of the invented edition).

The loader reads the copy (flows.format.edition.SCHEMAS is patched) during each test; every
functools cache of flows/ is emptied before and after, so that the other tests read the real schemas.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

import frictionless
import numpy as np
import openpyxl
import pytest
import yaml

from flows.format import edition as edition_module
from flows.format.edition import TABLES, Edition, TableLayout, edition_for_year, edition_named
from tests import test_schemas

NEW, OLD = "2027", "2021"
FIRST_YEAR = 2027
# The invented edition's differences from 2021, and where they show.
RENAMED = ("proactive_disclosure", "columns", "decisions", "本年作出处理决定数量")  # was 本年处理决定数量
ADDED_ROW = "other_withdrawn"
ADDED = {"label": "4.申请人撤回申请", "groups": ["三、本年度办理结果", "（六）其他处理"]}
ADDED_AFTER = "other_misc"  # among the result rows: between disclosed and results_total (rule A2)


def clear_schema_caches() -> None:
    """Empty every cache that holds what was loaded from schemas/ (or derived from it): each
    functools cache of the flows modules imported so far (editions, rules, values, sections,
    limits, and the per-edition positions, label texts, grids and skeletons), and the workbook
    placements kept by the reader."""
    for name, module in list(sys.modules.items()):
        if name == "flows" or name.startswith("flows."):
            for value in vars(module).values():
                if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", None) == name:
                    value.cache_clear()
    from flows.intake import workbook

    workbook._PLACEMENTS.clear()


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text("utf-8"))


def dump(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200), "utf-8")


# -- the steps that write schemas/ ---------------------------------------------------------------


def step_1_layout(schemas: Path) -> None:
    """schemas/2027/layout.yaml: 2021's, with the new edition's code, issuer, years and telltale,
    one label reworded and one row added."""
    (schemas / NEW).mkdir()
    layout = load(schemas / OLD / "layout.yaml")
    layout.update(
        edition=NEW,
        issued_by="国办公开办函〔2027〕1号（虚构，仅用于测试）",
        years=[FIRST_YEAR, None],
        telltale="（六）其他处理分为 4 个细项，含“4.申请人撤回申请”；第二十条第（五）、（六）项列为“本年作出处理决定数量”",
    )
    table, part, code, label = RENAMED
    layout["tables"][table][part][code]["label"] = label
    rows = {}
    for row_code, row in layout["tables"]["applications"]["rows"].items():
        rows[row_code] = row
        if row_code == ADDED_AFTER:
            rows[ADDED_ROW] = ADDED
    layout["tables"]["applications"]["rows"] = rows
    dump(schemas / NEW / "layout.yaml", layout)


def step_2_close_previous(schemas: Path) -> None:
    """2021's edition ends with the year before the new one starts."""
    path = schemas / OLD / "layout.yaml"
    layout = load(path)
    assert layout["years"] == [2021, None]
    layout["years"] = [2021, FIRST_YEAR - 1]
    dump(path, layout)


def table_schema(previous: dict, layout: TableLayout, edition: Edition) -> dict:
    """A Table Schema for `layout`, from the previous edition's: a field per column code, titled
    with the column's path (groups and label); the row field's enum and description from the row
    codes; the edition named in the description. (A column new in the edition needs its field
    written out: its type, constraints and description by its kind, as its neighbours'.)"""
    schema, fields = copy.deepcopy(previous), {f["name"]: f for f in copy.deepcopy(previous["fields"])}
    schema["title"] = layout.heading
    schema["description"] = f"{edition.code} 版格式（{edition.issued_by}）{layout.heading}"
    schema["fields"] = [fields["unit_id"]]
    if len(layout.rows) > 1:
        row = fields["row"]
        row["constraints"]["enum"] = [r.code for r in layout.rows]
        row["description"] = "行代码：" + "；".join(f"{r.code}={r.path}" for r in layout.rows)
        schema["fields"].append(row)
    for column in layout.columns:
        schema["fields"].append({**fields[column.code], "title": column.path})
    return schema


def step_3_table_schemas(schemas: Path) -> None:
    new, old = edition_named(NEW), edition_named(OLD)
    for table in TABLES:
        schema = table_schema(old.schema(table), new.tables[table], new)
        text = json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
        (schemas / NEW / f"{table}.schema.json").write_text(text, "utf-8")


def step_4_rules(schemas: Path) -> None:
    """The new edition keeps 2021's table 二 and report text: every rule that names 2021 in
    rules.yaml's `editions` names 2027 too."""
    catalogue = load(schemas / "rules.yaml")
    for rule in catalogue["rules"].values():
        if OLD in rule.get("editions", ()):
            rule["editions"].append(NEW)
    dump(schemas / "rules.yaml", catalogue)


@pytest.fixture
def schemas(tmp_path, monkeypatch):
    """A copy of schemas/ with the invented edition, read by the loader during one test."""
    copied = Path(shutil.copytree(edition_module.SCHEMAS, tmp_path / "schemas"))
    monkeypatch.setattr(edition_module, "SCHEMAS", copied)
    clear_schema_caches()
    step_1_layout(copied)
    step_2_close_previous(copied)
    clear_schema_caches()  # editions() now loads 2027, and 2021 with its years closed
    step_3_table_schemas(copied)
    step_4_rules(copied)
    clear_schema_caches()  # rules() now reads the new catalogue
    yield copied
    monkeypatch.undo()
    clear_schema_caches()  # the real schemas/ again, for the tests after this one


def figures_of(report) -> dict:
    return {table: report.values[table] for table in TABLES}


def synthetic(unit: str = "d1", seed: int = 0):
    from flows.synth import synthetic_report

    return synthetic_report(edition_for_year(FIRST_YEAR), unit, FIRST_YEAR, np.random.default_rng(seed))


# -- the steps, checked ---------------------------------------------------------------------------


def test_1_the_layout_is_loaded_as_the_new_edition(schemas):
    new = edition_named(NEW)
    assert new.first_year == FIRST_YEAR and new.last_year is None
    applications = new.tables["applications"]
    codes = [r.code for r in applications.rows]
    assert codes.index(ADDED_ROW) == codes.index(ADDED_AFTER) + 1
    assert len(codes) == len(edition_named(OLD).tables["applications"].rows) + 1
    disclosure = new.tables["proactive_disclosure"]
    assert disclosure.columns[disclosure.column_index["decisions"]].label == RENAMED[3]


def test_2_each_year_has_one_edition(schemas):
    assert edition_for_year(FIRST_YEAR).code == NEW
    assert edition_for_year(2030).code == NEW
    assert edition_for_year(FIRST_YEAR - 1).code == OLD
    assert edition_for_year(2021).code == OLD and edition_for_year(2020).code == "2019"
    assert sum(e.covers(FIRST_YEAR) for e in edition_module.editions()) == 1


@pytest.mark.parametrize("table", TABLES)
def test_3_the_table_schemas_match_the_layout(schemas, table):
    """The assertions tests/test_schemas.py makes of the real editions."""
    test_schemas.test_table_schema_matches_layout(NEW, table)
    test_schemas.test_table_schema_is_valid_table_schema_v2(NEW, table)
    enum = next(f for f in edition_named(NEW).schema("applications")["fields"] if f["name"] == "row")
    assert ADDED_ROW in enum["constraints"]["enum"]


def test_4_rules_apply_by_the_catalogue(schemas):
    from flows.checks.check import check_report
    from flows.format.edition import rules

    assert NEW in rules()["C4"].editions and "2019" not in rules()["C4"].editions
    report = synthetic()
    assert check_report(report) == []
    layout = report.edition.tables["proactive_disclosure"]
    fees = layout.row_index["fees"], layout.column_index["amount_10k_yuan"]
    report.values["proactive_disclosure"][fees] = 123456 * 10**6  # 123456 万元: typed in 元?
    assert [f.rule for f in check_report(report)] == ["C4"]
    # The sum rules find their rows and columns by code: the added result row is in （七）总计.
    report = synthetic()
    applications = report.edition.tables["applications"]
    report.values["applications"][applications.row_index[ADDED_ROW], applications.column_index["total"]] += 1
    assert {f.rule for f in check_report(report)} == {"A2", "A3"}


def test_5_the_fill_in_template(schemas, tmp_path):
    from flows.cli import main

    path = tmp_path / "template-2027.xlsx"
    assert main(["template", str(FIRST_YEAR), "-o", str(path)]) == 0
    book = openpyxl.load_workbook(path)
    texts = {str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None}
    assert {ADDED["label"], RENAMED[3]} <= texts
    assert NEW in texts and "本年处理决定数量" not in texts


def test_6_reading_the_template_filled_in(schemas, tmp_path):
    from flows.checks.check import check_workbook
    from flows.documents.template import write_workbook

    report = synthetic()
    path = write_workbook(tmp_path / "d1.xlsx", report.edition, FIRST_YEAR, report, "d1", "部门一")
    checked = check_workbook(path, FIRST_YEAR, "d1")
    assert checked.report.edition.code == NEW
    assert checked.findings == []
    for table, values in figures_of(report).items():
        assert np.array_equal(checked.report.values[table], values), table


def test_6_reading_the_official_layout(schemas, tmp_path):
    """The official Word table pasted into Excel: stacked on one sheet, labels broken by Word."""
    from flows.checks.check import check_workbook
    from tests.official_layout import write_official_layout

    report = synthetic(seed=1)
    typed = {}
    for table, layout in report.edition.tables.items():
        for r, c in layout.cells:
            column, value = layout.columns[c], int(report.values[table][r, c])
            typed[(table, layout.rows[r].code, column.code)] = value / 10**column.decimals if column.decimals else value
    path = write_official_layout(tmp_path / "d1.xlsx", report.edition, typed)
    checked = check_workbook(path, FIRST_YEAR, "d1")
    assert checked.errors == 0, [f.message for f in checked.findings]
    for table, values in figures_of(report).items():
        assert np.array_equal(checked.report.values[table], values), table


@pytest.mark.parametrize("made_in, year", [(OLD, FIRST_YEAR), (NEW, FIRST_YEAR - 1)])
def test_6_a_workbook_of_the_other_edition_is_one_f2(schemas, tmp_path, made_in, year):
    from flows.checks.check import check_workbook
    from flows.documents.template import write_workbook
    from flows.synth import synthetic_report

    edition = edition_named(made_in)
    report = synthetic_report(edition, "d1", year, np.random.default_rng(2))
    path = write_workbook(tmp_path / "d1.xlsx", edition, year, report, "d1", "部门一")
    checked = check_workbook(path, year, "d1")
    assert [f.rule for f in checked.findings if f.is_error] == ["F2"]
    assert checked.findings[0].expected == edition_for_year(year).code and checked.findings[0].actual == made_in


def test_7_a_run_publishes_the_new_edition(schemas, tmp_path):
    from flows.release.verify import verify
    from flows.run import run_year
    from flows.synth import write_synthetic_bureau

    sources, outputs = tmp_path / "sources", tmp_path / "outputs"
    write_synthetic_bureau(sources, FIRST_YEAR, departments=3, seed=7)
    outcome = run_year(FIRST_YEAR, sources, outputs)
    assert outcome.errors == [] and outcome.release is not None
    assert {f.rule for f in outcome.findings} == {"D0"}  # no 2026 release to compare with
    report = frictionless.validate(str(outcome.release / "datapackage.json"))
    assert report.valid, report.flatten(["resourcePath", "type", "note"])
    descriptor = json.loads((outcome.release / "datapackage.json").read_text("utf-8"))
    schema = next(r["schema"] for r in descriptor["resources"] if r["name"] == "applications")
    assert ADDED_ROW in next(f for f in schema["fields"] if f["name"] == "row")["constraints"]["enum"]
    rows = (outcome.release / "data" / "applications.csv").read_text("utf-8").splitlines()
    assert sum(line.split(",")[1] == ADDED_ROW for line in rows) == 4  # the bureau and its three departments
    # What an auditor runs (nianbao verify): every aspect passes.
    assert [v.name for v in verify(outcome.release) if not v.passed] == []


def test_afterwards_the_real_schemas_are_read_again():
    """After the tests above (this one has no invented edition): 2027 is 2021's again."""
    from flows.format.edition import rules

    assert edition_for_year(FIRST_YEAR).code == OLD
    assert NEW not in {e.code for e in edition_module.editions()}
    assert NEW not in rules()["C4"].editions
