"""Prefect's temporary server, started by nianbao as soon as a run knows it will need one.

Without PREFECT_API_URL, a run reports to a temporary Prefect server that lives as long as the
command. Prefect would start it at its first call, after importing itself and its server module
(3 s), and then wait for it to answer (6 s more): 11 of the 13 s of `nianbao run 2021` on the
example. Started here, before prefect is imported, the server starts while the run imports and
prepares, on the other core. It is the same server Prefect would start (its API app, no UI, the
services of an ephemeral server); the flow names its URL in Prefect's settings (flows/flow.py).

No prefect here: this module only finds where it is installed.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flows.lifetime import end_with_this_process

PORTS = range(8000, 9000)  # Prefect's own choice for its temporary server
PORT_TAKEN = 3  # uvicorn's exit status when the port was taken meanwhile


class ServerDidNotStart(Exception):
    """The temporary server ended or did not answer in time; the message says which, in one line."""


_process: subprocess.Popen | None = None
_port = 0
_answered = False  # a run has been given its URL: Prefect's clients in this process keep the URL they were made with


def start() -> None:
    """Start the server, unless it is started already; return at once (answering() waits)."""
    global _process, _port
    if _process is not None and _process.poll() is None:
        return
    _port = _free_port()
    prefect = importlib.util.find_spec("prefect")
    assert prefect is not None and prefect.origin is not None, "prefect is a dependency"
    environment = os.environ | {
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",  # the services an ephemeral server runs, as Prefect's own
        "PREFECT__SERVER_FINAL": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": os.environ.get("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
        # Not the UI's catalogue of block types at each start (1.2 of its 6 s): nianbao uses none, and
        # a `prefect server start` on this PREFECT_HOME registers them at its own start.
        "PREFECT_API_BLOCKS_REGISTER_ON_START": os.environ.get("PREFECT_API_BLOCKS_REGISTER_ON_START", "false"),
    }
    # In a session of its own: a Ctrl+C at the terminal reaches the whole process group, and the
    # server stopped at once would leave Prefect a minute of retries to report the interrupted run.
    _process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(Path(prefect.origin).parent.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(_port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        env=environment,
        start_new_session=True,
    )
    end_with_this_process(_process.pid)  # even when this process is killed


def url() -> str:
    return f"http://127.0.0.1:{_port}/api"


def is_ours(api_url: str | None) -> bool:
    return _process is not None and api_url == url()


def answering() -> str:
    """The server's API URL once it answers (started now if it is not yet); ServerDidNotStart."""
    global _answered
    start()
    assert _process is not None
    wait = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        status = _process.poll()
        if status == PORT_TAKEN:
            start()
        elif status is not None:
            raise ServerDidNotStart(f"Prefect 临时服务器启动失败（退出码 {status}）")
        try:
            with urllib.request.urlopen(f"{url()}/health", timeout=2) as response:
                if response.status == 200:
                    _answered = True
                    return url()
        except OSError:
            pass
        time.sleep(0.1)
    raise ServerDidNotStart(
        f"Prefect 临时服务器 {wait:.0f} 秒内未应答（PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS）"
    )


def stop_if_unused() -> None:
    """Stop the server if no run has reported to it (started early, and a server is configured after
    all); one that has is kept until the process ends, as Prefect's own temporary server is: the
    clients Prefect keeps in this process (events, logs, concurrency leases) hold its URL."""
    if not _answered:
        stop()


def stop() -> None:
    """Stop the server, if started: SIGTERM (it closes its database), SIGKILL after 5 s."""
    global _process, _answered
    process, _process, _answered = _process, None, False
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


atexit.register(stop)  # at the process's end, whatever started the server


def _free_port() -> int:
    for _ in range(10):
        port = random.choice(PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise ServerDidNotStart("找不到可用的本地端口来启动 Prefect 临时服务器")
