"""The format as data: Table Schemas, layouts and the rule catalogue agree with each other and
with the spec, and the schemas are valid Table Schema v2 (checked offline, as a portal would)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from flows.checks.rules import RULES
from flows.format.edition import SCHEMAS, TABLES, editions, rules

SPEC = Path(__file__).resolve().parent / "data" / "spec" / "report-format.md"  # the spec's copy (data/README.md)
PROFILES = SCHEMAS / "profiles"


def test_editions_cover_their_years():
    by_code = {e.code: e for e in editions()}
    assert [y for y in range(2019, 2031) if by_code["2019"].covers(y)] == [2019, 2020]
    assert all(by_code["2021"].covers(y) for y in range(2021, 2031))
    assert not by_code["2021"].covers(2020)


@pytest.mark.parametrize("code", ["2019", "2021"])
@pytest.mark.parametrize("table", TABLES)
def test_table_schema_matches_layout(code, table):
    edition = next(e for e in editions() if e.code == code)
    layout, schema = edition.tables[table], edition.schema(table)
    names = [f["name"] for f in schema["fields"]]
    expected = ["unit_id"] + (["row"] if len(layout.rows) > 1 else []) + [c.code for c in layout.columns]
    assert names == expected
    titles = {f["name"]: f["title"] for f in schema["fields"]}
    assert all(titles[c.code] == c.path for c in layout.columns)
    if len(layout.rows) > 1:
        row_field = schema["fields"][1]
        assert row_field["constraints"]["enum"] == [r.code for r in layout.rows]


@pytest.mark.parametrize("code", ["2019", "2021"])
@pytest.mark.parametrize("table", TABLES)
def test_table_schema_is_valid_table_schema_v2(code, table):
    profile = json.loads((PROFILES / "tableschema.json").read_text())
    schema = next(e for e in editions() if e.code == code).schema(table)
    jsonschema.validate(schema, profile)


def test_cell_counts_are_the_specs():
    """2019: 23 × 7 application cells, 2021: 25 × 7; table 四 has 15 in both."""
    shapes = {e.code: {t: e.tables[t].applicable.sum() for t in TABLES} for e in editions()}
    assert shapes["2019"]["applications"] == 161 and shapes["2021"]["applications"] == 175
    assert shapes["2019"]["review_litigation"] == shapes["2021"]["review_litigation"] == 15
    assert shapes["2019"]["proactive_disclosure"] == 2 * 3 + 4 * 3 + 2 + 2
    assert shapes["2021"]["proactive_disclosure"] == 2 * 3 + 3 + 1


def test_row_and_column_codes_are_the_specs():
    """Every code the spec publishes for table 三 is in the layouts, in the spec's order."""
    text = SPEC.read_text()
    section = text[text.index("## 4. Table 三") : text.index("## 5. Table 四")]
    spec_rows = re.findall(r"^\| `(\w+)` \|", section, re.M)
    for edition in editions():
        rows = [r.code for r in edition.tables["applications"].rows]
        assert rows == [r for r in spec_rows if r in rows]
        assert len(rows) == {"2019": 23, "2021": 25}[edition.code]


def test_catalogue_has_every_rule_of_the_spec():
    text = SPEC.read_text()
    spec_ids = set(re.findall(r"^\| ([A-Z]\d) \| (?:error|warning)", text, re.M))
    assert spec_ids and spec_ids <= set(rules())
    for rule_id, rule in rules().items():
        assert rule.severity in ("error", "warning")
        if rule_id in spec_ids:
            spec_severity = re.search(rf"^\| {rule_id} \| (\w+)", text, re.M).group(1)
            assert rule.severity == spec_severity, rule_id


def test_every_rule_function_is_catalogued():
    assert set(RULES) <= set(rules())


def test_an_edition_sent_to_another_process_is_that_process_s_own():
    import pickle

    from flows.format.edition import edition_for_year

    edition = edition_for_year(2021)
    assert pickle.loads(pickle.dumps(edition)) is edition
    assert len(pickle.dumps(edition)) < 200  # a reference by code, not the layouts
