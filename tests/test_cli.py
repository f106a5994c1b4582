"""The `nianbao` command as clerks run it: exit statuses, the JSON document, the template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from flows.cli import main
from flows.documents.template import write_workbook
from tests.conftest import SOURCES, valid_report


def test_check_passes_a_valid_workbook(capsys):
    assert main(["check", str(SOURCES / "2021" / "household.xlsx"), "--year", "2021"]) == 0
    assert "通过，错误 0 个，警告 0 个" in capsys.readouterr().out


def test_check_json_document_and_exit_1_on_errors(tmp_path, capsys):
    report = valid_report(2021)
    report.values["review_litigation"][0, 0] += 1  # breaks B1 for 行政复议
    path = write_workbook(tmp_path / "dept.xlsx", report.edition, 2021, report)
    status = main(["check", str(path), str(SOURCES / "2020" / "traffic.xlsx"), "--year", "2021", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 1
    first, second = document["files"]
    assert (first["path"], first["edition"]) == (str(path), "2021")
    (finding,) = first["findings"]
    assert {
        k: finding[k]
        for k in ("rule", "severity", "unit", "table", "row", "column", "sheet", "cell", "expected", "actual")
    } == {
        "rule": "B1",
        "severity": "error",
        "unit": "dept",
        "table": "review_litigation",
        "row": None,
        "column": "review_total",
        "sheet": "四、复议诉讼",
        "cell": "E5",
        "expected": str(int(report.values["review_litigation"][0, :4].sum())),
        "actual": str(int(report.values["review_litigation"][0, 4])),
    }
    assert "行政复议 总计" in finding["message"]
    # The 2020 workbook checked as 2021: one F2 error naming the edition it was found in.
    assert second["edition"] == "2019" and [f["rule"] for f in second["findings"]] == ["F2"]


@pytest.mark.parametrize("content", [b"", b"%PDF-1.4 not a workbook", b"PK\x03\x04truncated zip"])
def test_unreadable_file_exits_2_with_one_line(tmp_path, content):
    path = tmp_path / "dept.xlsx"
    path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "check", str(path), "--year", "2021"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "无法读取" in result.stdout and "F0" in result.stdout


@pytest.mark.parametrize(
    "argv, says",
    [
        (["check", "no-such-file.xlsx", "--year", "2021"], "找不到文件"),
        (["check", "x.xlsx", "--year", "20x1"], "年度应为四位数字"),
        (["check", "x.xlsx", "--year", "2010"], "不在任何格式版本的适用范围内"),
        (["run", "2021", "--sources", "/nonexistent"], "bureau.yaml"),
    ],
)
def test_wrong_calls_exit_2_with_a_reason(argv, says):
    result = subprocess.run([sys.executable, "-m", "flows.cli", *argv], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert says in result.stderr.strip().splitlines()[-1]  # the reason, on the last line (argparse prints usage above)


def test_check_does_not_import_prefect():
    code = (
        "import sys; from flows.cli import main; "
        f"status = main(['check', {str(SOURCES / '2021' / 'traffic.xlsx')!r}, '--year', '2021']); "
        "assert 'prefect' not in sys.modules, 'prefect imported'; sys.exit(status)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_template_command_writes_a_protected_validated_workbook(tmp_path, capsys):
    out = tmp_path / "t.xlsx"
    assert main(["template", "2020", "-o", str(out)]) == 0
    book = load_workbook(out)
    assert book.sheetnames == ["填报说明", "二、主动公开", "三、依申请公开", "四、复议诉讼"]
    info = book["填报说明"]
    assert [info.cell(row=r, column=1).value for r in (3, 4, 5, 6)] == ["单位代码", "单位名称", "报告年度", "格式版本"]
    assert info.cell(row=5, column=2).value == 2020 and info.cell(row=6, column=2).value == "2019"
    assert any("只在白色单元格内填写数字" in str(c.value) for row in info.iter_rows() for c in row)

    applications = book["三、依申请公开"]
    assert applications.protection.sheet
    merged = {str(r) for r in applications.merged_cells.ranges}
    assert "E3:I3" in merged  # 法人或其他组织 over its five columns
    assert "D3:D4" in merged and "J3:J4" in merged  # 自然人 and 总计 down two header rows
    assert "A7:A26" in merged  # 三、本年度办理结果 beside its 20 rows, （一） to （七）总计 (2019)
    value_cell = applications["D5"]
    assert value_cell.protection.locked is False and applications["A5"].protection.locked is not False
    rules = applications.data_validations.dataValidation
    assert rules and all(v.type == "whole" for v in rules)
    covered = {str(r) for v in rules for r in v.sqref.ranges}
    assert len(covered) == 23 * 7

    proactive = book["二、主动公开"]
    validations = {str(r): v for v in proactive.data_validations.dataValidation for r in v.sqref.ranges}
    assert proactive["C7"].value == "本年增/减" and proactive["A8"].value == "行政许可"
    assert validations["C8"].operator in (None, "between") and int(validations["C8"].formula1) < 0  # signed
    assert validations["B8"].operator == "greaterThanOrEqual" and validations["B8"].formula1 == "0"
    assert proactive["A19"].value == "政府集中采购" and validations["C19:D19"].type == "decimal"  # 采购总金额


def test_check_against_last_years_workbook_and_release(tmp_path, capsys):
    """--previous takes last year's workbook or a published release; D1 holds across editions."""
    from flows.run import run_year

    this = SOURCES / "2021" / "household.xlsx"
    assert main(["check", str(this), "--year", "2021", "--previous", str(SOURCES / "2020" / "household.xlsx")]) == 0
    release = run_year(2020, SOURCES, tmp_path / "outputs").release
    assert main(["check", str(this), "--year", "2021", "--previous", str(release)]) == 0
    capsys.readouterr()

    # Last year carried over what this year does not carry in.
    from flows.intake.workbook import read_workbook

    report, _ = read_workbook(this, 2021, "household")
    layout = report.edition.tables["applications"]
    for row in ("carried_in", "carried_over"):
        for column in ("natural_person", "total"):
            report.values["applications"][layout.row_index[row], layout.column_index[column]] += 2
    changed = write_workbook(tmp_path / "household.xlsx", report.edition, 2021, report)
    status = main(["check", str(changed), "--year", "2021", "--previous", str(release / "datapackage.json"), "--json"])
    findings = json.loads(capsys.readouterr().out)["files"][0]["findings"]
    assert status == 1
    assert [(f["rule"], f["row"], f["column"]) for f in findings] == [
        ("D1", "carried_in", "natural_person"),
        ("D1", "carried_in", "total"),
    ]
    assert "2020 年度“四、结转下年度继续办理”" in findings[0]["message"]


def test_check_against_last_years_workbook_with_errors(tmp_path, capsys):
    """Last year's workbook has an error of its own: the cross-year rules still run on its
    figures as read, and a warning says which error and where."""
    from openpyxl import load_workbook

    last = tmp_path / "2020.xlsx"
    last.write_bytes((SOURCES / "2020" / "household.xlsx").read_bytes())
    book = load_workbook(last)
    sheet = book["三、依申请公开"]
    sheet["D5"] = (sheet["D5"].value or 0) + 1  # the natural persons' new applications: a sum off by one
    book.save(last)
    this = SOURCES / "2021" / "household.xlsx"
    status = main(["check", str(this), "--year", "2021", "--previous", str(last), "--json"])
    findings = json.loads(capsys.readouterr().out)["files"][0]["findings"]
    assert status == 0
    (d0,) = [f for f in findings if f["rule"] == "D0"]
    assert d0["severity"] == "warning"
    assert "2020 年度报表本身有" in d0["message"] and "跨年度核对按其读出的数字进行" in d0["message"]


def test_check_with_a_previous_release_of_the_wrong_year_exits_2(tmp_path, capsys):
    from flows.run import run_year

    release = run_year(2021, SOURCES, tmp_path / "outputs").release
    status = main(["check", str(SOURCES / "2021" / "traffic.xlsx"), "--year", "2021", "--previous", str(release)])
    assert status == 2 and "是 2021 年度的发布包，而上年应为 2020 年度" in capsys.readouterr().err


def test_check_level_enables_c3(tmp_path, capsys):
    report = valid_report(2021)
    layout = report.edition.tables["proactive_disclosure"]
    report.values["proactive_disclosure"][layout.row_index["rules"], layout.column_index["issued"]] = 1
    report.values["proactive_disclosure"][layout.row_index["rules"], layout.column_index["in_force"]] = 1
    path = write_workbook(tmp_path / "d.xlsx", report.edition, 2021, report)
    assert main(["check", str(path), "--year", "2021"]) == 0
    assert "C3" not in capsys.readouterr().out
    assert main(["check", str(path), "--year", "2021", "--level", "county"]) == 0  # a warning
    assert capsys.readouterr().out.count("警告 C3") == 2


def test_an_os_error_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    from flows import cli

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "outputs"))

    monkeypatch.setattr(cli, "cmd_template", full)  # parser() looks the handler up when main builds it
    assert main(["template", "2021", "-o", str(tmp_path / "t.xlsx")]) == 3  # the tool could not do its job
    said = f"nianbao: 存储空间已满：{tmp_path / 'outputs'}（No space left on device）"
    assert capsys.readouterr().err.strip() == said

    def missing(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", str(tmp_path / "key"))

    monkeypatch.setattr(cli, "cmd_template", missing)
    assert main(["template", "2021"]) == 2  # a wrong call
    assert capsys.readouterr().err.strip() == f"nianbao: No such file or directory：{tmp_path / 'key'}"


def test_the_exit_statuses_are_in_the_help():
    for argv in (["--help"], ["run", "--help"]):
        result = subprocess.run([sys.executable, "-m", "flows.cli", *argv], capture_output=True, text=True)
        assert result.returncode == 0
        lines = result.stdout.splitlines()
        assert "退出状态：" in lines and [
            line.split()[0] for line in lines if line[:3] in ("  0", "  1", "  2", "  3")
        ] == [
            "0",
            "1",
            "2",
            "3",
        ]


def test_a_release_that_fails_verification_is_one_line_exit_1(sources_copy, tmp_path, monkeypatch, capsys):
    from flows import cli
    from flows.release.versions import NotVerified

    said = "未发布 1.0.0，latest 未改动：发布前核验未通过：「签名」：不符；请修正后重新运行 nianbao run"

    def refused(args, inputs):
        raise NotVerified(said)

    monkeypatch.setattr(cli, "_run_prepared", refused)
    assert main(["run", "2021", "--sources", str(sources_copy), "--outputs", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"nianbao: {said}\n"


def test_an_interrupted_run_lets_the_lock_go_and_says_so(sources_copy, tmp_path, monkeypatch, capsys):
    """Ctrl+C before Prefect started (a KeyboardInterrupt as Python raises it): exit 3, one line,
    the lock released (tests/test_interruption.py sends real signals to a real run)."""
    from flows import cli
    from flows.release.lock import year_lock

    def interrupted(args, inputs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run_prepared", interrupted)
    assert main(["run", "2021", "--sources", str(sources_copy), "--outputs", str(tmp_path)]) == 3
    assert capsys.readouterr().err == "nianbao: 已中断：2021 年度未发布任何内容，latest 未改动（尚无发布）\n"
    with year_lock(tmp_path, 2021):
        pass


def test_the_command_says_everything_and_keeps_its_exit_status(tmp_path):
    """The `nianbao` script (entry) ends the process without freeing its objects once every exit
    handler has run: it must say all that main() says, on a pipe, with the same status."""
    import tomllib

    scripts = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert scripts["nianbao"] == "flows.cli:entry"
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    calls = {
        "entry": "from flows.cli import entry; entry()",
        "main": "import sys; from flows.cli import main; sys.exit(main())",  # the interpreter's own exit
    }
    for argv in (
        ["check", "--json", "--year", "2021", str(SOURCES / "2021" / "traffic.xlsx")],
        ["check", "--json", "--year", "2021", str(bad)],
        ["check"],
    ):
        said = {
            how: subprocess.run([sys.executable, "-c", call, *argv], capture_output=True, text=True)
            for how, call in calls.items()
        }
        assert (said["entry"].returncode, said["entry"].stdout, said["entry"].stderr) == (
            said["main"].returncode,
            said["main"].stdout,
            said["main"].stderr,
        )
    assert said["entry"].returncode == 2 and "FILE" in said["entry"].stderr  # the last: a wrong call
