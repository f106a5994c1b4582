"""The annual run through Prefect (embedded server, test harness), as `nianbao run` does it."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import frictionless
import pytest
from openpyxl import load_workbook

from flows.run import run_year
from tests.conftest import SOURCES


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def flow_outputs(prefect_server, tmp_path_factory):
    from flows.flow import run_flow

    outputs = tmp_path_factory.mktemp("outputs")
    return outputs, {year: run_flow(year, SOURCES, outputs) for year in (2020, 2021)}


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
        plain = run_year(year, SOURCES, tmp_path).release
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
        ("户政管理大队", "household", "有错误", "3", "1"),
        ("交通警察大队", "traffic", "通过", "0", "1"),
        ("治安管理大队", "public_order", "未报送", "1", "0"),
    }
    # Nothing published: the previous release is untouched and no staging folder is left (beside the
    # lock, only the bytes read, kept for a re-run's cache); the check reports are written all the
    # same, for the departments to act on.
    assert sorted(p.name for p in outputs.iterdir() if p.name not in (".2021.lock", ".checked")) == ["2021", "checks"]
    assert [p.name for p in (outputs / "2021").iterdir()] == ["previous.txt"]
    assert "有错误" in (outputs / "checks" / "2021" / "household.html").read_text()
    assert "检查报告：" in out


def test_flow_shows_its_verdict_as_prefect_artifacts(flow_outputs):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["nianbao-2020-departments", "nianbao-2020-summary"])
            )
        )
    by_key = {a.key: a for a in found}
    table = by_key["nianbao-2020-departments"]
    rows = table.data if isinstance(table.data, list) else json.loads(table.data)
    assert [(r["unit"], r["status"], r["errors"], r["warnings"]) for r in rows] == [
        ("exit_entry", "通过", 0, 1),
        ("household", "通过", 0, 1),
        ("public_order", "通过", 0, 1),
        ("traffic", "通过", 0, 177),
    ]
    assert "已发布" in by_key["nianbao-2020-summary"].data


def test_a_second_run_of_the_same_year_refuses(prefect_server, tmp_path, capsys):
    from flows.cli import main

    outputs = tmp_path / "outputs"
    holder = subprocess.Popen(  # a run in progress, in another process
        [
            sys.executable,
            "-c",
            (
                "import sys; from flows.release.lock import year_lock\n"
                f"with year_lock({str(outputs)!r}, 2021):\n    print('held', flush=True); sys.stdin.read()"
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        status = main(["run", "2021", "--sources", str(SOURCES), "--outputs", str(outputs)])
    finally:
        holder.communicate("")
    assert status == 2
    assert "2021 年度的流程正在运行" in capsys.readouterr().err
    assert not (outputs / "2021").exists()
    assert main(["run", "2021", "--sources", str(SOURCES), "--outputs", str(outputs)]) == 0  # and then it can


def _files(release: Path) -> dict[str, bytes]:
    return {p.relative_to(release).as_posix(): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("runner", ["processes", "dask"])
def test_every_runner_publishes_the_same_package(flow_outputs, sources_copy, tmp_path, runner):
    from flows.flow import run_flow

    outputs, _ = flow_outputs
    # A copy of the sources: its batches are not in the cache, so this runner reads them itself.
    outcome = run_flow(2020, sources_copy, tmp_path / "outputs", runner=runner)
    assert outcome.errors == [] and [c.unit for c in outcome.checked] == [
        "exit_entry",
        "household",
        "public_order",
        "traffic",
    ]
    assert _files(outcome.release) == _files(outputs / "2020" / "1.0.0")


def test_a_scheduled_run_of_a_large_bureau_has_worker_processes(prefect_server, sources_copy, tmp_path, monkeypatch):
    """`nianbao serve` and prefect.yaml run the flow itself, not run_flow: the flow starts the
    worker processes for a bureau of more than one batch."""
    from concurrent.futures import ProcessPoolExecutor

    from flows import run
    from flows.flow import annual_flow

    monkeypatch.setattr(run, "BATCH_SIZE", 2)  # four departments: more than one batch
    maps, publish_outcome = [], run.publish_outcome
    monkeypatch.setattr(run, "publish_outcome", lambda *args: maps.append(args[-1]) or publish_outcome(*args))
    outcome = annual_flow(2020, sources_copy, tmp_path).value
    assert outcome.errors == [] and outcome.release is not None
    assert isinstance(maps[0].args[0], ProcessPoolExecutor)  # the documents were written by the pool's workers


def test_a_re_run_reads_only_what_changed_and_shows_progress(prefect_server, sources_copy, tmp_path, monkeypatch):
    from flows import run
    from flows.flow import progress_bar, run_flow

    read, check_batch = [], run.check_batch
    monkeypatch.setattr(
        run, "check_batch", lambda batch, *args: read.append([u for u, _ in batch]) or check_batch(batch, *args)
    )
    shown = []
    progress_bar.set(lambda done, total: shown.append((done, total)))
    first = run_flow(2020, sources_copy, tmp_path, runner="threads")
    assert read == [["exit_entry", "household", "public_order", "traffic"]] and shown == [(4, 4)]

    again = run_flow(2020, sources_copy, tmp_path, runner="threads")
    assert read == [["exit_entry", "household", "public_order", "traffic"]]  # from the cache, not read again
    assert again.findings == first.findings and not again.publication.new

    (sources_copy / "2020" / "household.xlsx").touch()  # a new time, the same content: still cached
    run_flow(2020, sources_copy, tmp_path, runner="threads")
    assert len(read) == 1

    cell = _break_a_total(sources_copy / "2020" / "household.xlsx")
    changed = run_flow(2020, sources_copy, tmp_path, runner="threads")
    assert len(read) == 2 and changed.errors and changed.release is None
    assert any(f.rule == "A2" and f.unit == "household" and cell in f.message for f in changed.errors)


def test_a_cached_check_whose_kept_bytes_are_gone_is_read_again(prefect_server, sources_copy, tmp_path, monkeypatch):
    from flows import places, run
    from flows.flow import run_flow

    read, check_batch = [], run.check_batch
    monkeypatch.setattr(run, "check_batch", lambda batch, *args: read.append(len(batch)) or check_batch(batch, *args))
    first = run_flow(2020, sources_copy, tmp_path, runner="threads")
    packs = places.checked_copies(tmp_path, 2020)
    shutil.rmtree(packs)  # removed by hand: the cached check names a pack no longer there
    again = run_flow(2020, sources_copy, tmp_path, runner="threads")
    assert read == [4, 4] and (first.publication.new, again.publication.new) == (True, False)
    assert all(Path(c.report.kept.path).parent == packs and Path(c.report.kept.path).is_file() for c in again.checked)


def test_only_a_failure_of_storage_is_retried(prefect_server, monkeypatch, tmp_path):
    from flows import run
    from flows.flow import prepare_task
    from flows.intake.bureau import BureauConfigError

    calls = []

    def flaky(sources, outputs, year):
        calls.append(year)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")  # a network share that hiccups once
        return run.Inputs(year, sources, None, {}, [], {})

    monkeypatch.setattr(run, "prepare", flaky)
    assert prepare_task(SOURCES, tmp_path, 2020).value.year == 2020 and len(calls) == 2

    def refused(sources, outputs, year):
        calls.append(year)
        raise BureauConfigError("bureau.yaml 有误")

    calls.clear()
    monkeypatch.setattr(run, "prepare", refused)
    with pytest.raises(BureauConfigError):
        prepare_task(SOURCES, tmp_path, 2020)
    assert len(calls) == 1


def test_quiet_run_prints_nothing_on_success_and_the_errors_otherwise(prefect_server, sources_copy, tmp_path, capsys):
    from flows.cli import main

    assert main(["run", "2020", "--sources", str(sources_copy), "--outputs", str(tmp_path), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    cell = _break_a_total(sources_copy / "2020" / "household.xlsx")
    assert main(["run", "2020", "--sources", str(sources_copy), "--outputs", str(tmp_path), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "household" in err and cell in err and "A2" in err


def test_a_large_bureau_s_summary_counts_by_status_and_names_the_departments_with_errors(
    prefect_server, tmp_path, capsys
):
    from flows.cli import main
    from flows.synth import write_synthetic_bureau

    injected = write_synthetic_bureau(tmp_path / "sources", 2021, 40, seed=3, errors=3)
    assert main(["run", "2021", "--sources", str(tmp_path / "sources"), "--outputs", str(tmp_path / "outputs")]) == 1
    out = capsys.readouterr().out
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]
    counts = {row[0]: row[1] for row in rows if len(row) == 2}
    # 40 departments and the bureau, whose sums carry the three errors on
    assert counts == {"通过": "37", "有错误": "4", "无法读取": "0", "未报送": "0"}
    listed = {row[1] for row in rows if len(row) == 5}
    assert listed == {e["unit"] for e in injected} | {"synthetic"}  # not the 37 that passed
    errors = [line for line in out.splitlines() if line.startswith("  [")]
    assert {line.split("]")[0][3:] for line in errors} == {e["unit"] for e in injected} | {"synthetic"}
    assert all(" A2 " in line or " A3 " in line or " E1 " in line for line in errors), errors


def test_a_worker_ended_by_the_system_is_one_clear_line(prefect_server, sources_copy, tmp_path, monkeypatch, capsys):
    from concurrent.futures.process import BrokenProcessPool

    from flows import flow
    from flows.cli import main

    def killed(*args):
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(flow, "_check_batch", killed)
    assert main(["run", "2020", "--sources", str(sources_copy), "--outputs", str(tmp_path), "--quiet"]) == 3
    # The last line says it (Prefect's traceback goes to its logs; in this test process its console
    # handler was set up by the harness, before the CLI could quiet it).
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("nianbao: 读取或发布用的工作进程意外退出")
    assert not (tmp_path / "2020").exists()  # nothing published


# -- the run's state is its verdict (issue 17, item 1) -----------------------------------------------
BUREAU = "yuanjiang-psb-example"


def _last_run(name: str):
    """The newest flow run of that name, from the Prefect server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (found,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )
    return found


def test_a_blocked_run_ends_failed_and_a_published_one_completed(
    prefect_server, sources_copy, tmp_path, capsys, monkeypatch
):
    from flows.cli import main

    tagged = _recording_task_tags(monkeypatch, "_check_batch")

    arguments = ["run", "2020", "--sources", str(sources_copy), "--outputs", str(tmp_path), "--quiet"]
    cell = _break_a_total(sources_copy / "2020" / "household.xlsx")
    assert main(arguments) == 1
    blocked = _last_run(f"nianbao-{BUREAU}-2020")
    assert blocked.state.is_failed() and blocked.state.message.startswith("未发布：")
    assert {BUREAU, "2020"} <= set(blocked.tags)
    assert cell in capsys.readouterr().err  # and the terminal still says why

    shutil.copy(SOURCES / "2020" / "household.xlsx", sources_copy / "2020" / "household.xlsx")
    assert main(arguments) == 0
    published = _last_run(f"nianbao-{BUREAU}-2020")
    assert published.id != blocked.id and published.state.is_completed()
    assert {BUREAU, "2020"} <= set(published.tags)
    assert tagged == [[]] * len(tagged) != []  # the run's tags are not its tasks'
    assert main(arguments) == 0  # nothing changed: a success too
    assert _last_run(f"nianbao-{BUREAU}-2020").state.is_completed()


def _recording_task_tags(monkeypatch, name: str) -> list[list[str]]:
    """The tags of each run of the task that calls flows.flow's `name`, as the task runs; the tests
    expect none: a tagged task waits for the server to grant it its tags' concurrency slots, one
    task at a time (flows/flow.py, _untagged_tasks)."""
    from prefect.runtime import task_run

    from flows import flow

    seen: list[list[str]] = []
    inner = getattr(flow, name)

    def recorded(*arguments, **keywords):
        seen.append(sorted(task_run.tags))
        return inner(*arguments, **keywords)

    monkeypatch.setattr(flow, name, recorded)
    return seen


def test_the_failed_state_carries_the_outcome(prefect_server, sources_copy, tmp_path):
    from flows.flow import annual_flow

    _break_a_total(sources_copy / "2021" / "traffic.xlsx")
    state = annual_flow(2021, sources_copy, tmp_path, processes=False, return_state=True)
    outcome = state.result(raise_on_failure=False).value
    assert state.is_failed() and outcome.release is None and outcome.errors
    assert f"{len(outcome.errors)} 个错误" in state.message


def test_a_scheduled_run_is_named_and_tagged_with_its_bureau_and_year(prefect_server, sources_copy, tmp_path):
    """A scheduled run has no year parameter and no tags of its own making: the flow names it from
    bureau.yaml and the year it reports on, and tags it so."""
    from flows.flow import annual_flow
    from flows.schedule import report_year

    state = annual_flow(sources=sources_copy, outputs=tmp_path, processes=False, return_state=True)
    run = _last_run(f"nianbao-{BUREAU}-{report_year()}")
    assert run.state_id == state.id and {BUREAU, str(report_year())} <= set(run.tags)


# -- no workbooks yet (item 2) -----------------------------------------------------------------------
def test_a_year_nobody_has_submitted_says_so(prefect_server, sources_copy, tmp_path, capsys, monkeypatch):
    from flows import run
    from flows.cli import main

    shutil.rmtree(sources_copy / "2021")
    written, write_pages = [], run.write_pages
    monkeypatch.setattr(run, "write_pages", lambda *args, **kwargs: written.append(1) or write_pages(*args, **kwargs))
    assert main(["run", "2021", "--sources", str(sources_copy), "--outputs", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "2021 年度还没有部门报送：4 个部门都未报送报表，未发布" in out
    assert out.count(" E4 ") == 4 and "未报送 2021 年度报表" in out
    assert (tmp_path / "checks" / "2021" / "index.html").is_file()
    assert written == [1]  # written once: nothing failed, nothing retried
    failed = _last_run(f"nianbao-{BUREAU}-2021")
    assert failed.state.is_failed() and "还没有部门报送" in failed.state.message


# -- deployment as documented (item 7) ---------------------------------------------------------------
def test_deploy_creates_the_work_pool_and_a_deployment_serve_does_not_collide_with(prefect_server, tmp_path, capsys):
    from prefect.client.orchestration import get_client

    from flows.cli import main
    from flows.flow import annual_deployment

    arguments = ["deploy", "--sources", str(SOURCES), "--outputs", str(tmp_path)]
    assert main(arguments) == 0
    assert main(arguments) == 0  # again: the pool and the deployment are updated, not refused
    out = capsys.readouterr().out
    assert f"nianbao-annual/{BUREAU}" in out and "prefect worker start --pool nianbao" in out
    with get_client(sync_client=True) as client:
        pool = client.read_work_pool("nianbao")
        deployment = client.read_deployment_by_name(f"nianbao-annual/{BUREAU}")
    assert pool.type == "process" and pool.base_job_template  # a worker can run it as it is
    assert deployment.work_pool_name == "nianbao" and deployment.entrypoint == "flows.flow.annual_flow"
    assert deployment.tags == [BUREAU] and deployment.global_concurrency_limit.limit == 1
    assert deployment.parameters == {"sources": str(SOURCES.resolve()), "outputs": str(tmp_path.resolve())}
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 9 5 1 *", "Asia/Shanghai")
    # serve's deployment has a name of its own: serving never takes the work pool's deployment over
    assert annual_deployment(SOURCES, tmp_path).name == f"{BUREAU}-serve"


def test_deploy_without_a_server_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    code = (
        "import sys; from flows.cli import main; "
        f"sys.exit(main(['deploy', '--sources', {str(SOURCES)!r}, '--outputs', {str(tmp_path)!r}]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "nianbao: nianbao deploy 需要一个常驻的 Prefect 服务器：请先设置 PREFECT_API_URL（如 http://SERVER:4200/api）"
    )


@pytest.mark.slow  # a new process importing prefect: 5–20 s
def test_an_unreachable_prefect_server_is_one_line_and_exit_3(tmp_path):
    env = os.environ | {"PREFECT_API_URL": "http://127.0.0.1:9/api", "PREFECT_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "flows.cli", "run", "2021", "--sources", str(SOURCES)]
    result = subprocess.run([*command, "--outputs", str(tmp_path / "outputs")], capture_output=True, text=True, env=env)
    assert result.returncode == 3
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("nianbao: 无法连接 Prefect 服务器 http://127.0.0.1:9/api") and "本次没有发布任何内容" in line
    assert not (tmp_path / "outputs" / "2021").exists()


def test_storage_that_is_full_comes_back_as_itself(prefect_server, sources_copy, tmp_path, monkeypatch):
    """An OSError of the storage during the run reaches the CLI as it was raised (after publish's
    retries), which says it in one line with exit 3 (tests/test_cli.py)."""
    from flows import run
    from flows.flow import run_flow

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "2020"))

    monkeypatch.setattr(run, "publish", full)
    # Prefect's console handler, set up by the harness during an earlier test, may write to that
    # test's closed capture: its logging errors are not this test's.
    monkeypatch.setattr(logging, "raiseExceptions", False)
    with pytest.raises(OSError) as raised:
        run_flow(2020, sources_copy, tmp_path, runner="threads")
    assert (raised.value.errno, raised.value.filename) == (28, str(tmp_path / "2020"))
    assert not (tmp_path / "2020").exists() and (tmp_path / "checks" / "2020" / "index.html").is_file()


def test_a_rollup_is_tagged_and_its_tasks_are_not(prefect_server, tmp_path, monkeypatch):
    from flows.cli import main
    from flows.flow import run_rollup

    tagged = _recording_task_tags(monkeypatch, "_build")

    tree = tmp_path / "tree"
    assert (
        main(["synth", "--levels", "county:2,department:1", "--year", "2021", "--out", str(tree), "--seed", "4"]) == 0
    )
    built = run_rollup(tree, 2021, runner="threads")
    assert [b.live for b in built.values()] == ["1.0.0"] * 3
    rollup = _last_run("nianbao-rollup-2021")
    assert {"nianbao-rollup", "2021"} <= set(rollup.tags)
    assert tagged == [[], [], []]
