"""The `nianbao` command as people used to command lines expect it: `--version`, every command's
help in Chinese with its examples and exit statuses, a help text on every argument, the folders'
environment variables, `--json` with a top-level verdict, `-v` showing Prefect's lines, and
shell completion (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from flows import cli
from flows.cli import main, parser
from flows.documents.template import write_workbook
from flows.intake.workbook import read_workbook
from tests.conftest import SOURCES, valid_report
from tests.test_backfill import web_page

ENGLISH = ("usage:", "options:", "positional arguments", "show this help", "default:", "error:", "show program")


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """nianbao's parser and each command's (an alias, publish, is push's parser)."""
    top = parser()
    (commands,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return {"nianbao": top} | dict(commands.choices)


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit:
        main([*argv, "--help"])
    assert exit.value.code == 0
    return capsys.readouterr().out


def _json(capsys, argv: list[str]) -> tuple[int, dict]:
    """A command's status and its one JSON document: stdout holds nothing else."""
    status = main(argv)
    return status, json.loads(capsys.readouterr().out)


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"nianbao {version('nianbao')}\n"


def test_every_command_is_in_the_examples_and_exit_statuses_table():
    assert set(_parsers()) - {"nianbao", "publish"} == set(cli.COMMANDS)


@pytest.mark.parametrize("command", ["nianbao", *cli.COMMANDS])
def test_every_help_is_chinese_with_examples_and_exit_statuses(command, capsys):
    help = _help(capsys, *([] if command == "nianbao" else [command]))
    assert help.startswith("用法：nianbao")
    lines = help.splitlines()
    assert "示例：" in lines and "退出状态：" in lines
    statuses = [line.split()[0] for line in lines[lines.index("退出状态：") + 1 :] if line.startswith("  ")]
    assert statuses and statuses == sorted(statuses) and set(statuses) <= {"0", "1", "2", "3"}
    assert "0" in statuses and "2" in statuses  # every command can succeed and can be called wrongly
    for english in ENGLISH:
        assert english not in help.lower(), english
    if command != "nianbao":
        assert {"位置参数：", "选项："} & set(lines)


@pytest.mark.parametrize("command", [*cli.COMMANDS])
def test_every_example_is_a_call_the_command_accepts(command):
    """An example that goes stale (an option renamed or removed) fails here."""
    examples, _ = cli.COMMANDS[command]
    assert 1 <= len(examples) <= 3
    for example in examples:
        words = shlex.split(example)
        while re.fullmatch(r"[A-Z_]+=.*", words[0]):  # VAR=value before the command
            words.pop(0)
        words = words[: words.index(">")] if ">" in words else words
        assert words[:2] == ["nianbao", command], example
        parser().parse_args(words[1:])  # a wrong one exits 2


def test_every_argument_has_help_and_an_option_with_a_value_says_its_default():
    """Fails when someone adds an argument without a help text, or an option without its default."""
    for name, command in _parsers().items():
        formatter = command._get_formatter()
        for action in command._actions:
            assert action.help and action.help.strip(), (name, action.dest)
            if action.option_strings and action.nargs != 0 and not action.required:
                said = formatter._get_help_string(action)
                assert "默认" in said or said.endswith("必填"), (name, action.dest)  # push --org: checked by push


def test_a_default_is_shown_in_chinese(capsys):
    help = "".join(_help(capsys, "deploy").split())
    assert "--poolNAME工作池名称（process类型；不存在时创建）（默认：nianbao）" in help


def test_a_wrong_call_is_one_line_in_chinese_exit_2(capsys):
    for argv, said in [
        (["check", "x.xlsx"], "nianbao check：缺少必需的参数：--year（用法见 nianbao check --help）"),
        (["run", "2021", "--runner", "fast"], "nianbao run：参数 --runner：不是可用的取值：'fast'"),
        (["verify", "a", "b"], "nianbao：无法识别的参数：b"),
        (["runn", "2021"], "nianbao：参数 COMMAND：不是可用的取值：'runn'"),
    ]:
        with pytest.raises(SystemExit) as exit:
            main(argv)
        assert exit.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(said), err


def test_argparse_speaks_english_again_outside_nianbao():
    parser()
    other = argparse.ArgumentParser(prog="other")
    assert other.format_usage().startswith("usage: other") and "options:" in other.format_help()


def test_the_folders_environment_variables_are_the_defaults(monkeypatch, tmp_path, capsys):
    sources, outputs = tmp_path / "srv-sources", tmp_path / "srv-outputs"
    monkeypatch.setenv("NIANBAO_SOURCES", str(sources))
    monkeypatch.setenv("NIANBAO_OUTPUTS", str(outputs))
    for argv in (["run", "2021"], ["serve"], ["deploy"]):
        args = parser().parse_args(argv)
        assert (args.sources, args.outputs) == (str(sources), str(outputs)), argv
    for argv in (["push", "2021", "--ckan", "http://portal"], ["compare", "2020", "2021"]):
        assert parser().parse_args(argv).outputs == str(outputs), argv
    args = parser().parse_args(["run", "2021", "--sources", "mine", "--outputs", "ours"])
    assert (args.sources, args.outputs) == ("mine", "ours")  # the option wins
    help = "".join(_help(capsys, "run").split())
    assert f"NIANBAO_SOURCES可设其默认值（默认：{sources}）" in help
    # main reads them: the run looks for bureau.yaml where NIANBAO_SOURCES says
    assert main(["run", "2021"]) == 2
    assert str(sources / "bureau.yaml") in capsys.readouterr().err
    monkeypatch.setenv("NIANBAO_SOURCES", "")  # set but empty: as if unset
    assert parser().parse_args(["run", "2021"]).sources == "sources"


def test_check_json_has_a_verdict(tmp_path, capsys):
    good = SOURCES / "2021" / "household.xlsx"
    status, document = _json(capsys, ["check", str(good), "--year", "2021", "--json"])
    assert (status, document["verdict"]) == (0, "valid")
    (read,) = document["files"]
    assert (read["verdict"], read["errors"]) == ("valid", 0) and read["warnings"] == len(read["findings"])

    report = valid_report(2021)
    report.values["review_litigation"][0, 0] += 1  # B1
    bad = write_workbook(tmp_path / "dept.xlsx", report.edition, 2021, report)
    status, document = _json(capsys, ["check", str(good), str(bad), "--year", "2021", "--json"])
    assert (status, document["verdict"]) == (1, "invalid")
    assert [(f["verdict"], f["errors"]) for f in document["files"]] == [("valid", 0), ("invalid", 1)]

    unreadable = tmp_path / "empty.xlsx"
    unreadable.write_bytes(b"")
    status, document = _json(capsys, ["check", str(bad), str(unreadable), "--year", "2021", "--json"])
    assert (status, document["verdict"]) == (2, "unreadable")
    assert [f["verdict"] for f in document["files"]] == ["invalid", "unreadable"]


def _page(tmp_path: Path) -> Path:
    report, _ = read_workbook(SOURCES / "2021" / "household.xlsx", 2021, "household")
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "household.htm").write_text(web_page(report, "户政管理大队"), "utf-8")
    return folder


def test_import_and_audit_json_have_a_verdict(tmp_path, capsys):
    folder = _page(tmp_path)
    status, document = _json(capsys, ["import", str(folder / "household.htm"), "--json"])
    assert (status, document["verdict"], document["files"][0]["verdict"]) == (0, "valid", "valid")

    status, document = _json(capsys, ["audit", str(folder), "--out", str(tmp_path / "a1"), "--json"])
    assert (status, document["verdict"], document["with_errors"]) == (0, "valid", 0)
    (line,) = document["reports"]
    assert (line["report"], line["unit"], line["errors"]) == ("household.htm", "户政管理大队", 0)
    assert document["index"] == str(tmp_path / "a1" / "index.html")

    (folder / "notes.txt").write_text("这不是年度报告", "utf-8")
    status, document = _json(capsys, ["audit", str(folder), "--out", str(tmp_path / "a2"), "--json"])
    assert (status, document["verdict"], document["with_errors"]) == (1, "invalid", 1)
    assert {r["report"]: r["errors"] > 0 for r in document["reports"]} == {"household.htm": False, "notes.txt": True}


def test_verify_json_has_a_verdict(sources_copy, tmp_path, capsys):
    from flows.run import run_year

    release = run_year(2021, sources_copy, tmp_path / "outputs").release
    status, document = _json(capsys, ["verify", str(release), "--json"])
    assert (status, document["verdict"], document["path"]) == (0, "valid", str(release))
    assert document["checks"] and all(c["passed"] and c["problems"] == [] for c in document["checks"])

    table = next((release / "data").glob("*.csv"))
    table.write_text(table.read_text("utf-8") + table.read_text("utf-8").splitlines()[-1] + "\n", "utf-8")
    status, document = _json(capsys, ["verify", str(release), "--json"])
    assert (status, document["verdict"]) == (1, "invalid")
    failed = [c for c in document["checks"] if not c["passed"]]
    assert failed and all(c["problems"] for c in failed)
    assert any(table.name in problem for c in failed for problem in c["problems"])


@pytest.fixture
def run_without_prefect(monkeypatch):
    """The run's CLI as it is, the flow replaced by the plain run (flows/run.py) it wraps: the JSON
    document without starting Prefect (the slow tests below run the real flow)."""
    import flows.flow
    from flows.run import run_year

    def plain(year, sources, outputs, reason=None, key=None, runner="auto", address=None, inputs=None):
        return run_year(year, sources, outputs, reason, key, inputs=inputs)

    monkeypatch.setattr(flows.flow, "run_flow", plain)


def test_run_json_has_a_verdict(run_without_prefect, sources_copy, tmp_path, capsys):
    argv = ["run", "2021", "--sources", str(sources_copy), "--outputs", str(tmp_path / "outputs"), "--json"]
    status, document = _json(capsys, argv)
    release = tmp_path / "outputs" / "2021" / "1.0.0"
    assert (status, document["verdict"], document["version"], document["release"]) == (
        0,
        "published",
        "1.0.0",
        str(release),
    )
    assert (document["year"], document["departments"], document["errors"], document["blocking"]) == (2021, 4, 0, [])
    assert document["checks"] == str(tmp_path / "outputs" / "checks" / "2021" / "index.html")

    status, document = _json(capsys, argv)
    assert (status, document["verdict"], document["version"]) == (0, "unchanged", "1.0.0")

    report = valid_report(2021, "traffic")
    report.values["review_litigation"][0, 0] += 1  # B1
    write_workbook(sources_copy / "2021" / "traffic.xlsx", report.edition, 2021, report)
    status, document = _json(capsys, argv)
    assert (status, document["verdict"], document["version"], document["release"]) == (1, "not_published", None, None)
    assert document["errors"] == len(document["blocking"]) >= 1
    assert {(f["unit"], f["rule"]) for f in document["blocking"]} >= {("traffic", "B1")}


def test_run_json_when_verification_refuses_the_release(sources_copy, tmp_path, monkeypatch, capsys):
    from flows.release.versions import NotVerified

    said = "未发布 1.0.0，latest 未改动：发布前核验未通过：「签名」：不符"

    def refused(args, inputs):
        raise NotVerified(said)

    monkeypatch.setattr(cli, "_run_prepared", refused)
    argv = ["run", "2021", "--sources", str(sources_copy), "--outputs", str(tmp_path), "--json"]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == {"verdict": "not_published", "year": 2021, "message": said}
    assert err == f"nianbao: {said}\n"


def test_shell_completion(tmp_path):
    def completions(line: str) -> list[str]:
        answer = tmp_path / "completions"
        env = os.environ | {
            "_ARGCOMPLETE": "1",
            "_ARGCOMPLETE_IFS": "\n",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        }
        result = subprocess.run([sys.executable, "-m", "flows.cli"], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return answer.read_text().split("\n")

    assert completions("nianbao ru") == ["run "]
    assert "--sources" in completions("nianbao run 2021 --so")[0]
    assert {"--year", "--json", "--previous"} <= set(completions("nianbao check --"))


def _run(sources: Path, outputs: Path, *options: str) -> subprocess.CompletedProcess:
    argv = ["run", "2021", "--sources", str(sources), "--outputs", str(outputs), "--json", *options]
    env = os.environ.copy()
    env.pop("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", None)
    return subprocess.run([sys.executable, "-m", "flows.cli", *argv], capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_verbose_shows_prefects_lines_and_json_stays_alone_on_stdout(sources_copy, tmp_path):
    verbose = _run(sources_copy, tmp_path / "outputs", "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert json.loads(verbose.stdout)["verdict"] == "published"
    assert "Beginning flow run 'nianbao-yuanjiang-psb-example-2021'" in verbose.stderr
    assert "已读取并检查 4/4 个部门" in verbose.stderr  # the flow's own log line

    quiet = _run(sources_copy, tmp_path / "outputs")
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["verdict"] == "unchanged"
    assert "Flow run" not in quiet.stderr and "| INFO" not in quiet.stderr
