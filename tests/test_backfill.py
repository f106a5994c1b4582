"""Back-fill: a year nianbao did not publish, given as the units' reports as they were published
(sources/<year>/published/<unit>.<ext>), is last year for the rules across years, so that D1–D4
run from a bureau's first nianbao year. The example bureau's 2020 is rendered as web pages from its
workbooks, and its 2020 workbooks removed: 2021 must run as it runs after a 2020 release."""

from __future__ import annotations

import csv
import hashlib
import html
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from flows.format.report import Report
from flows.format.values import format_value
from flows.intake.bureau import load_bureau
from flows.intake.previous import PreviousYearError, published_year
from flows.intake.workbook import read_workbook
from flows.release.verify import verify
from flows.run import Steps, prepare, run_year
from tests.conftest import SOURCES
from tests.make_published_forms import table_rows


def web_page(report: Report, name: str) -> str:
    """A report as a site publishes it: title, sections 一 … 六, the three tables (Word's markup)."""
    title = f"{name}{report.year}年政府信息公开工作年度报告"
    out = [f"<html><head><meta charset=utf-8><title>{html.escape(title)}</title></head><body>"]
    out += [f"<p>{html.escape(title)}</p>", "<p>一、总体情况</p>", "<p>本年度依法做好政府信息公开工作。</p>"]
    for code, table in report.edition.tables.items():
        values = {
            (table.rows[r].code, table.columns[c].code): format_value(int(report.values[code][r, c]), table.columns[c])
            for r, c in table.cells
        }
        out += [f"<p>{html.escape(table.heading)}</p>", "<table border=1>"]
        for row in table_rows(table, values):
            cells = "".join(
                f"<td rowspan={down} colspan={across}>{html.escape(text or '')}</td>" for text, down, across in row
            )
            out.append(f"<tr>{cells}</tr>")
        out.append("</table>")
    out += [
        "<p>五、存在的主要问题及改进情况</p><p>仍有不足。</p><p>六、其他需要报告的事项</p><p>本年度未收取信息处理费。</p></body></html>"
    ]
    return "\n".join(out)


def backfilled_sources(tmp_path: Path, change=None) -> Path:
    """The example bureau with 2020 as published web pages only (`change` alters a report first)."""
    sources = Path(shutil.copytree(SOURCES, tmp_path / "sources"))
    bureau = load_bureau(sources)
    names = {d.id: d.name for d in bureau.departments}
    folder = sources / "2020" / "published"
    folder.mkdir()
    for workbook in sorted((sources / "2020").glob("*.xlsx")):
        report, _ = read_workbook(workbook, 2020, workbook.stem)
        if change:
            change(report)
        (folder / f"{workbook.stem}.htm").write_text(web_page(report, names[workbook.stem]), "utf-8")
        workbook.unlink()
    return sources


def test_a_first_nianbao_year_runs_d1_to_d4_against_last_years_published_reports(tmp_path):
    sources = backfilled_sources(tmp_path)
    inputs = prepare(sources, tmp_path / "outputs", 2021)
    departments = {d.id for d in inputs.bureau.departments}
    assert set(inputs.previous) == departments | {inputs.bureau.id}
    for unit in departments:  # the figures as published are the workbooks'
        expected, _ = read_workbook(SOURCES / "2020" / f"{unit}.xlsx", 2020, unit)
        for table, values in expected.values.items():
            assert np.array_equal(inputs.previous[unit].values[table], values), (unit, table)
    assert set(inputs.previous_texts) == departments and "依法" in inputs.previous_texts["traffic"].sections["一"]
    outcome = run_year(2021, sources, tmp_path / "outputs")
    assert not [f for f in outcome.findings if f.rule == "D0"]
    assert outcome.publication is not None  # 2021 carries 2020's figures over as published


def test_a_figure_published_last_year_that_this_year_does_not_carry_over_is_d1(tmp_path):
    def more_carried_over(report: Report) -> None:
        if report.unit == "household":
            layout = report.edition.tables["applications"]
            report.values["applications"][layout.row_index["carried_over"], layout.column_index["total"]] += 1

    outcome = run_year(2021, backfilled_sources(tmp_path, more_carried_over), tmp_path / "outputs")
    d1 = {(f.unit, f.row, f.column) for f in outcome.findings if f.rule == "D1"}
    assert ("household", "carried_in", "total") in d1 and ("yuanjiang-psb-example", "carried_in", "total") in d1
    assert not [f for f in outcome.findings if f.rule == "D0"] and outcome.publication is None


def test_a_back_filled_report_that_cannot_be_read_says_which(tmp_path):
    sources = backfilled_sources(tmp_path)
    (sources / "2020" / "published" / "traffic.htm").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(PreviousYearError, match=r"traffic\.htm"):
        published_year(sources, 2020)
    (sources / "2020" / "published" / "traffic.htm").unlink()
    (sources / "2020" / "published" / "household.txt").write_text("一、总体情况", "utf-8")
    with pytest.raises(PreviousYearError, match="两份"):
        published_year(sources, 2020)


def test_a_back_filled_year_is_published_from_its_published_reports_with_each_figures_place(tmp_path):
    sources, outputs = backfilled_sources(tmp_path), tmp_path / "outputs"
    steps = Steps(prepare=lambda sources, outputs, year: prepare(sources, outputs, year, from_published=True))
    outcome = run_year(2020, sources, outputs, steps=steps)
    assert outcome.publication is not None, [f.message for f in outcome.errors]
    release = outcome.release
    assert json.loads((release / "datapackage.json").read_text("utf-8"))["nianbao"]["read_from"] == "published_reports"
    assert "读自各部门已发布的年度报告" in (release / "README.md").read_text("utf-8")
    page = sources / "2020" / "published" / "household.htm"
    with open(release / "data" / "cells.csv", encoding="utf-8", newline="") as handle:
        cells = [row for row in csv.DictReader(handle) if row["unit_id"] == "household"]
    assert {row["file"] for row in cells} == {"submissions/household.htm"}
    with open(release / "data" / "submissions.csv", encoding="utf-8", newline="") as handle:
        listed = {row["file"]: row["sha256"] for row in csv.DictReader(handle)}
    assert listed["submissions/household.htm"] == hashlib.sha256(page.read_bytes()).hexdigest()
    new_total = next(
        row for row in cells if (row["table"], row["row"], row["column"]) == ("applications", "new", "total")
    )
    assert (new_total["sheet"], new_total["cell"]) == ("表三", "“一、本年新收政府信息公开申请数量” / “总计”")
    expected, _ = read_workbook(SOURCES / "2020" / "household.xlsx", 2020, "household")
    layout = expected.edition.tables["applications"]
    assert new_total["value"] == str(
        expected.values["applications"][layout.row_index["new"], layout.column_index["total"]]
    )
    assert (release / "submissions" / "household.htm").read_bytes() == page.read_bytes()
    assert all(v.passed for v in verify(release)), [p for v in verify(release) for p in v.problems]
    # The next year runs against the back-filled release as against any other.
    following = run_year(2021, sources, outputs)
    assert not [f for f in following.findings if f.rule == "D0"] and following.publication is not None


def test_a_back_filled_bureaus_text_is_its_own_published_reports_and_a_stray_file_is_e5(tmp_path):
    from flows.run import check_all, check_texts, merge_checked

    sources = backfilled_sources(tmp_path)
    (sources / "2020" / "report.md").unlink()
    (sources / "2020" / "published" / "stray.htm").write_text("<p>通知</p>", "utf-8")
    inputs = prepare(sources, tmp_path / "outputs", 2020, from_published=True)
    assert [(f.rule, f.file) for f in inputs.findings] == [("E5", str(sources / "2020" / "published" / "stray.htm"))]
    merged = merge_checked(inputs.bureau, check_all(inputs))
    assert merged is not None
    bureau_page = sources / "2020" / "published" / f"{inputs.bureau.id}.htm"
    bureau_page.write_text(web_page(merged.bureau, inputs.bureau.name), "utf-8")
    texts, findings = check_texts(inputs, merged)
    assert set(texts[inputs.bureau.id].sections) == {"一", "五", "六"} and not [f for f in findings if f.is_error]
    assert "依法" in texts[inputs.bureau.id].sections["一"]
