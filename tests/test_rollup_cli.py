"""The tree's commands as people type them: `nianbao synth --levels`, `nianbao rollup` (the Prefect
flow, a real temporary server) and `nianbao trace` from the root's release down to a workbook cell."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from flows.cli import main

YEAR = "2021"


def _nianbao(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *argv], capture_output=True, text=True)


def test_synth_levels_writes_the_tree_and_refuses_to_overwrite_it(tmp_path, capsys):
    out = tmp_path / "tree"
    assert main(["synth", "--levels", "county:2,department:3", "--year", YEAR, "--out", str(out)]) == 0
    assert "3 个机关、6 个部门" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["errors-2021.csv", "keys", "p", "p-x01", "p-x02"]
    assert len(list((out / "p-x01/2021").glob("*.xlsx"))) == 3
    assert main(["synth", "--levels", "county:2,department:3", "--year", YEAR, "--out", str(out)]) == 2
    assert "已存在" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--levels", "county:two,department:3"], "county:two"),
        (["--levels", "county:2,department:3", "--departments", "5"], "不能与"),
        ([], "--departments"),
    ],
)
def test_synth_levels_wrong_calls_are_one_line(tmp_path, capsys, argv, said):
    try:  # argparse's own refusals end by SystemExit, nianbao's by the status returned
        status = main(["synth", *argv, "--year", YEAR, "--out", str(tmp_path / "t")])
    except SystemExit as stop:
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1


def test_rollup_of_a_folder_that_is_no_tree_is_a_wrong_call(tmp_path, capsys):
    assert main(["rollup", str(tmp_path), "--year", YEAR]) == 2
    assert "没有机关" in capsys.readouterr().err


def test_trace_of_what_is_no_release_is_a_wrong_call(tmp_path, capsys):
    assert main(["trace", str(tmp_path / "none"), "applications", "new", "total"]) == 2
    assert "找不到发布包" in capsys.readouterr().err


@pytest.mark.slow
def test_rollup_builds_the_tree_and_trace_follows_the_root_down_to_a_cell(tmp_path):
    tree = tmp_path / "tree"
    assert main(["synth", "--levels", "county:2,department:2", "--year", YEAR, "--out", str(tree), "--seed", "2"]) == 0
    built = _nianbao("rollup", str(tree), "--year", YEAR, "--json")
    assert built.returncode == 0, built.stderr[-2000:]
    document = json.loads(built.stdout)
    assert document["verdict"] == "published"
    assert [(b["id"], b["live"], b["handed_up"]) for b in document["bureaus"]] == [
        ("p-x01", "1.0.0", True),
        ("p-x02", "1.0.0", True),
        ("p", "1.0.0", False),
    ]
    assert "Flow run" not in built.stderr  # Prefect's lines only with -v

    root = tree / "outputs/p/2021/latest"
    traced = _nianbao("trace", str(root), "applications", "new", "total", "--unit", "p-x02/d00002", "--json")
    assert traced.returncode == 0, traced.stderr
    hops = json.loads(traced.stdout)["hops"]
    assert [(h["unit"], h["level"]) for h in hops] == [
        ("p", "prefecture"),
        ("p-x02", "county"),
        ("d00002", "department"),
    ]
    bottom = hops[-1]
    assert bottom["file"] == "submissions/d00002.xlsx" and bottom["sheet"] and bottom["cell"]
    assert bottom["value"] == bottom["raw"]
    text = _nianbao("trace", str(root), "applications", "new", "total", "--unit", "p-x02/d00002")
    assert (
        text.returncode == 0 and text.stdout.count("\n") == 3 and f"{bottom['sheet']}!{bottom['cell']}" in text.stdout
    )

    ambiguous = _nianbao("trace", str(root), "applications", "new", "total")  # a wrong call: which unit?
    assert ambiguous.returncode == 2 and "--unit" in ambiguous.stderr and ambiguous.stderr.count("\n") == 1

    again = _nianbao("rollup", str(tree), "--year", YEAR, "--json")  # nothing changed: nothing new
    assert [b["live"] for b in json.loads(again.stdout)["bureaus"]] == ["1.0.0"] * 3


@pytest.mark.slow
def test_rollup_with_the_dask_runner_builds_the_tree(tmp_path):
    tree = tmp_path / "tree"
    assert main(["synth", "--levels", "county:2,department:1", "--year", YEAR, "--out", str(tree), "--seed", "3"]) == 0
    built = _nianbao("rollup", str(tree), "--year", YEAR, "--runner", "dask", "--json")
    assert built.returncode == 0, built.stderr[-2000:]
    document = json.loads(built.stdout)
    assert document["verdict"] == "published"
    assert [(b["id"], b["live"], b["ran"]) for b in document["bureaus"]] == [
        ("p-x01", "1.0.0", True),
        ("p-x02", "1.0.0", True),
        ("p", "1.0.0", True),
    ]
    assert (tree / "p/2021/p-x01.zip").is_file() and (tree / "outputs/p/2021/1.0.0.zip").is_file()


def test_every_tree_command_answers_help_with_examples(capsys):
    for command in ("rollup", "trace"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        shown = capsys.readouterr().out
        assert "示例" in shown and "退出状态" in shown and f"nianbao {command}" in shown
