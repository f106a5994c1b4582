"""The annual run through Prefect (embedded server, test harness), as `nianbao run` does it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import frictionless
import pytest
from openpyxl import load_workbook

from tests.conftest import SOURCES
from tests.test_package import run_steps


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def flow_outputs(prefect_server, tmp_path_factory):
    from flows.flow import run_annual

    outputs = tmp_path_factory.mktemp("outputs")
    return outputs, {year: run_annual(year, SOURCES, outputs) for year in (2020, 2021)}


@pytest.mark.parametrize("year", [2020, 2021])
def test_flow_publishes_a_valid_package(flow_outputs, year):
    outputs, outcomes = flow_outputs
    outcome = outcomes[year]
    assert outcome.release == outputs / str(year) / "1.0.0" and outcome.errors == []
    assert [c.unit for c in outcome.checked] == ["exit_entry", "household", "public_order", "traffic"]
    report = frictionless.validate(str(outcome.release / "datapackage.json"))
    assert report.valid, report.flatten(["resourcePath", "type", "note"])


def test_flow_and_plain_steps_publish_the_same_bytes(flow_outputs, tmp_path):
    outputs, _ = flow_outputs
    for year in (2020, 2021):  # in order: 2021 is checked against the 2020 release
        plain = run_steps(year, SOURCES, tmp_path).release
        flowed = outputs / str(year) / "1.0.0"
        files = sorted(p.relative_to(plain) for p in plain.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(flowed) for p in flowed.rglob("*") if p.is_file())
        for name in files:
            assert (plain / name).read_bytes() == (flowed / name).read_bytes(), (year, name)


def _break_a_total(path: Path) -> str:
    book = load_workbook(path)
    sheet = book["三、依申请公开"]
    for row in sheet.iter_rows():
        for c in row:
            if c.value == "（七）总计":
                target = sheet.cell(row=c.row, column=4)  # 自然人
                target.value = (target.value or 0) + 1
                book.save(path)
                return target.coordinate
    raise AssertionError("no （七）总计 row")


def test_errors_block_publication_and_the_summary_names_them(prefect_server, sources_copy, tmp_path, capsys):
    from flows.cli import main

    outputs = tmp_path / "outputs"
    (outputs / "2021").mkdir(parents=True)
    (outputs / "2021" / "previous.txt").write_text("the last release")
    cell = _break_a_total(sources_copy / "2021" / "household.xlsx")
    (sources_copy / "2021" / "public_order.xlsx").unlink()
    shutil.copy(sources_copy / "2021" / "traffic.xlsx", sources_copy / "2021" / "unknown.xlsx")

    status = main(["run", "2021", "--sources", str(sources_copy), "--outputs", str(outputs)])

    out = capsys.readouterr().out
    assert status == 1
    assert "未发布" in out
    assert f"A2 表三 （七）总计 / 自然人（三、依申请公开!{cell}）" in out
    assert "治安管理大队（public_order）未报送 2021 年度报表" in out  # E4
    assert "“unknown.xlsx”不对应 bureau.yaml 中的任何部门" in out  # E5
    rows = {tuple(line.split("│")[1:-1]) for line in out.splitlines() if line.startswith("│")}
    assert {tuple(cell.strip() for cell in row) for row in rows} >= {
        ("户政管理大队", "household", "有错误", "3", "1"), ("交通警察大队", "traffic", "通过", "0", "1"),
        ("治安管理大队", "public_order", "未报送", "1", "0")}
    # Nothing published: the previous release is untouched and no staging folder is left; the
    # check reports are written all the same, for the departments to act on.
    assert sorted(p.name for p in outputs.iterdir() if p.name != ".2021.lock") == ["2021", "checks"]
    assert [p.name for p in (outputs / "2021").iterdir()] == ["previous.txt"]
    assert "有错误" in (outputs / "checks" / "2021" / "household.html").read_text()
    assert "检查报告：" in out


def test_flow_shows_its_verdict_as_prefect_artifacts(flow_outputs):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["nianbao-2020-departments", "nianbao-2020-summary"])))
    by_key = {a.key: a for a in found}
    table = by_key["nianbao-2020-departments"]
    rows = table.data if isinstance(table.data, list) else json.loads(table.data)
    assert [(r["unit"], r["status"], r["errors"], r["warnings"]) for r in rows] == [
        ("exit_entry", "通过", 0, 1), ("household", "通过", 0, 1), ("public_order", "通过", 0, 1), ("traffic", "通过", 0, 177)]
    assert "已发布" in by_key["nianbao-2020-summary"].data


def test_a_second_run_of_the_same_year_refuses(prefect_server, tmp_path, capsys):
    from flows.cli import main
    from flows.lock import year_lock

    outputs = tmp_path / "outputs"
    with year_lock(outputs, 2021):  # a run in progress
        status = main(["run", "2021", "--sources", str(SOURCES), "--outputs", str(outputs)])
    assert status == 2
    assert "2021 年度的流程正在运行" in capsys.readouterr().err
    assert not (outputs / "2021").exists()
    assert main(["run", "2021", "--sources", str(SOURCES), "--outputs", str(outputs)]) == 0  # and then it can
