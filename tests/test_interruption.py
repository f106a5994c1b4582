"""A run stopped by Ctrl+C or SIGTERM stops within seconds, publishes nothing, lets the year's lock
go and says so in one line; of two runs of a year started together, one refuses at once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from flows import places
from flows.release.lock import year_lock
from tests.conftest import SOURCES

DEPARTMENTS = 2000  # read and checked for tens of seconds: long enough to be interrupted while reading


@pytest.fixture(scope="session")
def large_bureau(tmp_path_factory) -> Path:
    """A synthetic bureau of DEPARTMENTS valid workbooks: forty written by synth, each copied under
    fifty departments' names (writing two thousand takes minutes; reading them is what is tested)."""
    from flows.synth import write_synthetic_bureau

    root = tmp_path_factory.mktemp("large-bureau")
    write_synthetic_bureau(root, 2021, 40, seed=1)
    spec = yaml.safe_load((root / places.BUREAU_FILE).read_text("utf-8"))
    written = [d["id"] for d in spec["departments"]]
    spec["departments"] = [{"id": f"d{n:05d}", "name": f"合成部门{n:05d}"} for n in range(1, DEPARTMENTS + 1)]
    for n, department in enumerate(spec["departments"]):
        target = root / "2021" / f"{department['id']}.xlsx"
        if not target.exists():
            shutil.copy(root / "2021" / f"{written[n % len(written)]}.xlsx", target)
    (root / places.BUREAU_FILE).write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    return root


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory) -> Path:
    """One Prefect home for these runs: its database is created once (that takes 20 s on two cores)."""
    return tmp_path_factory.mktemp("prefect-home")


def _start(sources: Path, outputs: Path, home: Path, logs: Path) -> subprocess.Popen:
    """`nianbao run 2021` in a session of its own (as a terminal's foreground job is in its group),
    its output in files: a pipe would be held open by the server it starts, past its own end."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(home)}
    command = [sys.executable, "-m", "flows.cli", "run", "2021", "--sources", str(sources), "--outputs", str(outputs)]
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout", "w") as out, open(logs / "stderr", "w") as err:
        return subprocess.Popen([*command, "--quiet"], env=env, stdout=out, stderr=err, start_new_session=True)


def _reading(run: subprocess.Popen, outputs: Path, timeout: float = 240) -> None:
    """Wait until the run reads workbooks: its first pack of checked bytes is on disk."""
    packs = places.checked_copies(outputs, 2021)
    deadline = time.monotonic() + timeout
    while not (packs.is_dir() and any(packs.iterdir())):
        if run.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the run ended or took too long before reading: {run.poll()}")
        time.sleep(0.1)


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow  # a run of 2,000 departments, interrupted: Prefect's server starts in 10–30 s
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_run_stops_within_5_s_publishes_nothing_and_lets_the_lock_go(
    large_bureau, prefect_home, tmp_path, how
):
    outputs = tmp_path / "outputs"
    run = _start(large_bureau, outputs, prefect_home, tmp_path / "logs")
    children: list[psutil.Process] = []
    try:
        _reading(run, outputs)
        children = psutil.Process(run.pid).children(recursive=True)
        sent = time.monotonic()
        if how == "ctrl-c":  # a terminal sends it to the whole foreground group: workers and server too
            os.killpg(run.pid, signal.SIGINT)
        else:
            os.kill(run.pid, signal.SIGTERM)
        status = run.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert (status, took < 5) == (3, True), took
    err = (tmp_path / "logs" / "stderr").read_text("utf-8")
    assert err.splitlines() == ["nianbao: 已中断：2021 年度未发布任何内容，latest 未改动（尚无发布）"], err
    assert (tmp_path / "logs" / "stdout").read_text("utf-8") == ""
    assert not places.latest(outputs, 2021).exists() and not places.year_folder(outputs, 2021).exists()
    with year_lock(outputs, 2021):  # released: a new run can take it
        pass
    deadline = time.monotonic() + 20  # the workers at once; the server is given 5 s to stop on SIGTERM
    while _alive(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(children) == [], [p.cmdline() for p in _alive(children)]


@pytest.mark.slow  # two runs started, one refused, the other interrupted once it reads
def test_of_two_runs_of_a_year_started_a_second_apart_one_refuses_at_once(prefect_home, tmp_path):
    sources = Path(shutil.copytree(SOURCES, tmp_path / "sources"))
    outputs = tmp_path / "outputs"
    runs = [_start(sources, outputs, prefect_home, tmp_path / "first")]
    time.sleep(1)
    runs.append(_start(sources, outputs, prefect_home, tmp_path / "second"))
    started = time.monotonic()
    try:
        while all(r.poll() is None for r in runs) and time.monotonic() - started < 30:
            time.sleep(0.05)
        refused_in = time.monotonic() - started
        (refused,) = [r for r in runs if r.poll() is not None]
        (running,) = [r for r in runs if r is not refused]
        assert refused.returncode == 2 and refused_in < 15, refused_in
    finally:
        for r in runs:
            if r.poll() is None:
                os.killpg(r.pid, signal.SIGINT)
                r.wait(timeout=30)
    logs = tmp_path / ("first" if refused is runs[0] else "second")
    (line,) = (logs / "stderr").read_text("utf-8").splitlines()
    assert line.startswith(f"nianbao: 2021 年度的流程正在运行（进程 {running.pid}，") and "请等它结束后再运行" in line
