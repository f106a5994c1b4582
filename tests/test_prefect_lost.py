"""The Prefect server going away mid-run, tried on a real one: `prefect server start` (its home in
tmp_path, on a free port) is killed as `nianbao run` reaches a point of its run. Lost once the flow
runs, the steps go on without it (Prefect 3 reports task runs on the side) and the correction is
published; lost before, nothing is. Either way the run ends with exit 3 and one line saying what it
left, the last release is byte for byte as it was, the year's lock is free, and the next run — on
Prefect's temporary server — ends with the correction live. (Unreachable from the start:
tests/test_flow.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flows.release.lock import year_lock
from flows.release.verify import verify
from flows.run import run_year
from tests.test_release import bump_figure, snapshot

ROOT = Path(__file__).resolve().parent.parent

# `nianbao run 2021` with the server's process group killed the first time `module.name` is called.
KILLING_RUN = """
import importlib, os, signal, sys
module, name, group, sources, outputs = sys.argv[1:]
target = importlib.import_module(module)
real, done = getattr(target, name), []

def killing(*args, **kwargs):
    if not done:
        done.append(True)
        os.killpg(int(group), signal.SIGKILL)
    return real(*args, **kwargs)

setattr(target, name, killing)
from flows.cli import main
sys.exit(main(["run", "2021", "--sources", sources, "--outputs", outputs, "--runner", "threads", "--quiet"]))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def quiet_env(home: Path, **more: str) -> dict[str, str]:
    """The environment of a run: Prefect's home in tmp_path; the console level `nianbao run` sets
    before importing prefect (here the module patched may import it first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    return env | {"PREFECT_HOME": str(home), "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL"} | more


@pytest.fixture
def prefect_server(tmp_path):
    """A Prefect server of its own (API only); its URL and process group."""
    port, home = free_port(), tmp_path / "server-home"
    command = ["server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui", "--no-services"]
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", *command],
        env=quiet_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        for _ in range(240):  # its first start creates its database: up to a minute on a busy machine
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"prefect server start ended with {server.returncode}")
                time.sleep(0.5)
        else:
            pytest.fail("the Prefect server did not answer within 2 minutes")
        yield url, os.getpgid(server.pid)
    finally:
        if server.poll() is None:
            os.killpg(os.getpgid(server.pid), signal.SIGKILL)
        server.wait()


def killed_run(server, point: str, sources: Path, outputs: Path, home: Path) -> subprocess.CompletedProcess:
    url, group = server
    module, _, name = point.rpartition(".")
    return subprocess.run(
        [sys.executable, "-c", KILLING_RUN, module, name, str(group), str(sources), str(outputs)],
        cwd=ROOT,
        env=quiet_env(home, PREFECT_API_URL=url),
        capture_output=True,
        text=True,
        timeout=900,  # bounded by PREFECT_CLIENT_MAX_RETRIES and PREFECT_API_REQUEST_TIMEOUT (flows/flow.py)
    )


def next_run(sources: Path, outputs: Path, home: Path) -> subprocess.CompletedProcess:
    """`nianbao run 2021` on Prefect's temporary server (no PREFECT_API_URL)."""
    arguments = ["run", "2021", "--sources", str(sources), "--outputs", str(outputs), "--runner", "threads", "--quiet"]
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *arguments],
        cwd=ROOT,
        env=quiet_env(home),
        capture_output=True,
        text=True,
        timeout=900,
    )


def lock_is_free(outputs: Path) -> bool:
    with year_lock(outputs, 2021):  # RunInProgress if the killed run's process still held it
        return True


@pytest.mark.slow  # a Prefect server and two runs, each a new process importing prefect: minutes
def test_a_server_lost_while_the_run_reads_lets_it_publish_and_says_so_in_one_line(
    prefect_server, sources_copy, tmp_path
):
    outputs, home = tmp_path / "outputs", tmp_path / "run-home"
    first = run_year(2021, sources_copy, outputs).publication
    live = snapshot(first.path), (outputs / "2021" / "1.0.0.zip").read_bytes()
    bump_figure(sources_copy)

    result = killed_run(prefect_server, "flows.run.check_batch", sources_copy, outputs, home)

    # The steps went on without the server: the correction is published, checked and whole; the
    # run could not report to Prefect (exit 3), and its one line says what it did.
    assert result.returncode == 3, result.stderr[-3000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"nianbao: 无法连接 Prefect 服务器 {prefect_server[0]}（ConnectError"), line
    assert "2021 年度已发布 1.1.0，检查报告" in line and "记录不完整" in line and "nianbao run 2021" in line, line
    assert "没有发布" not in line
    year = outputs / "2021"
    assert os.readlink(year / "latest") == "1.1.0"
    assert all(v.passed for v in verify(year / "1.1.0"))
    assert (snapshot(first.path), (year / "1.0.0.zip").read_bytes()) == live
    assert lock_is_free(outputs)

    again = next_run(sources_copy, outputs, home)
    assert again.returncode == 0 and again.stderr == "", again.stderr[-3000:]
    assert os.readlink(year / "latest") == "1.1.0"  # nothing new to publish
    assert (outputs / "checks" / "2021" / "index.html").is_file()
    assert not [p for p in year.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_a_server_lost_before_the_flow_runs_publishes_nothing_in_one_line(prefect_server, sources_copy, tmp_path):
    """Killed once the run has found it answering, before the flow's run is created there: exit 3,
    one line, latest unchanged; the next run publishes the correction."""
    outputs, home = tmp_path / "outputs", tmp_path / "run-home"
    first = run_year(2021, sources_copy, outputs).publication
    year = outputs / "2021"
    live = snapshot(first.path), (year / "1.0.0.zip").read_bytes()
    bump_figure(sources_copy)

    result = killed_run(prefect_server, "flows.flow._temporary_server", sources_copy, outputs, home)

    assert result.returncode == 3, result.stderr[-3000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"nianbao: 无法连接 Prefect 服务器 {prefect_server[0]}")
    assert line.endswith("本次没有发布任何内容，latest 未改动（1.0.0）"), line
    assert os.readlink(year / "latest") == "1.0.0"
    assert (snapshot(first.path), (year / "1.0.0.zip").read_bytes()) == live
    assert sorted(p.name for p in year.iterdir() if not p.name.startswith(".")) == ["1.0.0", "1.0.0.zip", "latest"]
    assert lock_is_free(outputs)

    again = next_run(sources_copy, outputs, home)
    assert again.returncode == 0 and again.stderr == "", again.stderr[-3000:]
    assert os.readlink(year / "latest") == "1.1.0"
    assert all(v.passed for v in verify(year / "1.1.0"))
