"""The published package of the example bureau, checked the way a portal or auditor would:
frictionless, the Data Package v2 profile, hashes, and the figures themselves."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

import frictionless
import jsonschema
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flows.format.edition import SCHEMAS
from flows.format.values import figures
from flows.run import run_year
from tests.conftest import GOLDEN, SOURCES

PROFILE = SCHEMAS / "profiles" / "datapackage.json"


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[int, Path]:
    outputs = tmp_path_factory.mktemp("outputs")
    return {year: run_year(year, SOURCES, outputs).release for year in (2020, 2021)}


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


@pytest.mark.parametrize("year", [2020, 2021])
def test_package_passes_frictionless(releases, year):
    report = frictionless.validate(str(releases[year] / "datapackage.json"))
    assert report.valid, report.flatten(["resourcePath", "type", "note"])
    assert len(report.tasks) == 13


@pytest.mark.parametrize("year", [2020, 2021])
def test_descriptor_conforms_to_data_package_v2(releases, year):
    descriptor = json.loads((releases[year] / "datapackage.json").read_text())
    jsonschema.validate(descriptor, json.loads(PROFILE.read_text()))
    assert descriptor["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert descriptor["name"] == f"yuanjiang-psb-example-gov-info-disclosure-{year}"
    assert descriptor["created"] == "2021-02-01T00:00:00Z"
    assert "虚构" in descriptor["description"]
    for key in ("title", "version", "licenses", "sources", "contributors"):
        assert descriptor[key], key
    assert len(descriptor["sources"]) == 4 and all("sha256:" in s["title"] for s in descriptor["sources"])
    for resource in descriptor["resources"]:
        content = (releases[year] / resource["path"]).read_bytes()
        assert resource["bytes"] == len(content)
        assert resource["hash"] == "sha256:" + hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize("year", [2020, 2021])
def test_units_name_every_unit_and_every_table_refers_to_them(releases, year):
    units = read_csv(releases[year] / "data" / "units.csv")
    assert units[:1] + sorted(units[1:], key=lambda u: u["name"]) == [
        {"unit_id": "yuanjiang-psb-example", "name": "沅江市公安局（示例）", "level": "county", "parent": ""},
        *(
            {"unit_id": unit, "name": name, "level": "department", "parent": "yuanjiang-psb-example"}
            for unit, name in sorted(
                (
                    ("traffic", "交通警察大队"),
                    ("household", "户政管理大队"),
                    ("exit_entry", "出入境管理大队"),
                    ("public_order", "治安管理大队"),
                ),
                key=lambda pair: pair[1],
            )
        ),
    ]
    descriptor = json.loads((releases[year] / "datapackage.json").read_text())
    keyed = {
        r["name"]
        for r in descriptor["resources"]
        if {"fields": ["unit_id"], "reference": {"resource": "units", "fields": ["unit_id"]}}
        in r.get("schema", {}).get("foreignKeys", [])
    }
    tables = {"proactive_disclosure", "applications", "review_litigation"}
    assert keyed == tables | {"cells", "submissions", "reports"}
    assert not list((releases[year] / "data").glob("*.json"))  # the CSVs serve: no JSON copies


def test_reference_figures_in_the_published_rows(releases):
    rows = read_csv(releases[2020] / "data" / "proactive_disclosure.csv")
    traffic = {r["row"]: r for r in rows if r["unit_id"] == "traffic"}
    assert [traffic["licensing"][c] for c in ("previous_items", "change", "decisions")] == ["25", "0", "25"]
    assert [traffic["penalties"][c] for c in ("previous_items", "change", "decisions")] == ["121", "0", "121"]
    assert [traffic["enforcement"][c] for c in ("previous_items", "change", "decisions")] == ["31", "0", "31"]
    assert (traffic["procurement"]["projects"], traffic["procurement"]["amount"]) == ("12", "4920735")
    assert traffic["licensing"]["made"] == "" and traffic["procurement"]["change"] == ""
    applications = [r for r in read_csv(releases[2020] / "data" / "applications.csv") if r["unit_id"] == "traffic"]
    assert len(applications) == 23 and {
        v for r in applications for k, v in r.items() if k not in ("unit_id", "row")
    } == {"0"}


@pytest.mark.parametrize("year", [2020, 2021])
def test_bureau_rows_are_the_sum_of_department_rows(releases, year):
    for table in ("proactive_disclosure", "applications", "review_litigation"):
        rows = read_csv(releases[year] / "data" / f"{table}.csv")
        bureau = [r for r in rows if r["unit_id"] == "yuanjiang-psb-example"]
        departments = [r for r in rows if r["unit_id"] != "yuanjiang-psb-example"]
        assert len(departments) == 4 * len(bureau)
        for b in bureau:
            parts = [d for d in departments if d.get("row") == b.get("row")]
            for column, value in b.items():
                if column not in ("unit_id", "row") and value != "":
                    assert float(value) == pytest.approx(sum(float(p[column]) for p in parts), abs=1e-9), column


def test_findings_resource_lists_the_warnings(releases):
    findings = read_csv(releases[2020] / "data" / "findings.csv")
    traffic = [f for f in findings if f["unit_id"] == "traffic" and f["rule"] != "D0"]
    rules = [f["rule"] for f in traffic]
    assert (rules.count("V2"), rules.count("C5"), rules.count("W1"), len(rules)) == (174, 1, 1, 176)
    assert {f["file"] for f in traffic} == {"traffic.xlsx"} and {f["sheet"] for f in traffic} == {"Sheet1", ""}
    # 2020 is the first year published: every unit is told once that D1-D4 were not checked.
    no_previous = [f["unit_id"] for f in findings if f["rule"] == "D0"]
    assert sorted(no_previous) == ["exit_entry", "household", "public_order", "traffic", "yuanjiang-psb-example"]
    # The bureau's 2019-edition item counts are sums over departments (E3), one per row with items.
    assert [f["row"] for f in findings if f["rule"] == "E3"] == [
        "licensing",
        "other_services",
        "penalties",
        "enforcement",
        "fees",
    ]
    assert len(findings) == 176 + 5 + 5
    # 2021 is checked against the 2020 release (D1 holds across the edition change): nothing to say.
    assert read_csv(releases[2021] / "data" / "findings.csv") == []


@pytest.mark.parametrize("year", [2020, 2021])
def test_published_tables_match_the_golden_files(releases, year):
    """Golden files: any change of a published figure or layout shows here. To accept a change,
    run with NIANBAO_UPDATE_GOLDEN=1 and review the diff."""
    for name in ("proactive_disclosure.csv", "applications.csv", "review_litigation.csv", "findings.csv"):
        produced = (releases[year] / "data" / name).read_bytes()
        golden = GOLDEN / str(year) / name
        if os.environ.get("NIANBAO_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(produced)
        assert produced == golden.read_bytes(), name


@pytest.mark.parametrize("year", [2020, 2021])
def test_every_field_has_a_chinese_title_and_description(releases, year):
    descriptor = json.loads((releases[year] / "datapackage.json").read_text())
    for resource in descriptor["resources"]:
        assert resource["title"], resource["name"]
        for field in resource.get("schema", {}).get("fields", []):
            assert field.get("title") and field.get("description"), (resource["name"], field["name"])
            assert any("\u4e00" <= ch <= "\u9fff" for ch in field["title"] + field["description"]), field["name"]


@settings(max_examples=50, deadline=None)
@given(
    raws=st.lists(
        st.one_of(st.text(max_size=12), st.floats(allow_nan=False), st.integers(), st.booleans()),
        min_size=1,
        max_size=6,
    ),
    sheet=st.text(min_size=1, max_size=31),
)
@example(raws=["a,b", 'say "x"', "two\nlines", "=1+1", -2.0, 25.0], sheet='-a,"b"')
@example(raws=["cr\r", "\r\n"], sheet="a\rb")
def test_cells_csv_lines_are_what_csv_writer_writes(raws, sheet):
    """cells.csv's lines are joined by hand for speed (publish.cell_lines): whatever a clerk typed,
    and whatever the sheet is called, they read back as written, in the bytes csv.writer would
    write, except that a carriage return is quoted (csv.writer leaves it bare, and a reader
    then ends the line there)."""
    from flows.format.report import Source
    from flows.release.package import CELL_FIELDS, cell_lines, neutralised
    from tests.conftest import valid_report

    report = valid_report(2021)
    report.sha256 = "ab" * 32
    code = next(iter(report.edition.tables))
    for i, raw in enumerate(raws):
        report.provenance[code][i] = Source(sheet, i, i % 40, raw)
    rows = []
    for table, layout in report.edition.tables.items():
        provenance = report.provenance[table]
        for i, (r, c) in enumerate(layout.cells):
            source = provenance[i]
            rows.append(
                [
                    report.unit,
                    table,
                    layout.rows[r].code if len(layout.rows) > 1 else "",
                    layout.columns[c].code,
                    figures(report.values[table], layout)[i],
                    neutralised(source.text) if source else "",
                    "d1.xlsx",
                    neutralised(source.sheet) if source else "",
                    source.cell if source else "",
                    "",  # release_version and release_manifest_sha256: a child bureau's only
                    "",
                ]
            )
    lines = cell_lines(report, "d1.xlsx")
    assert list(csv.reader(io.StringIO(lines, newline=""))) == rows and len(rows[0]) == len(CELL_FIELDS)
    if "\r" not in lines:
        expected = io.StringIO()
        csv.writer(expected, lineterminator="\n").writerows(rows)
        assert lines == expected.getvalue()
