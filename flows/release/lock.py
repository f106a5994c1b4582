"""One run of a year at a time: a second `nianbao run` of the same year while one is in progress
refuses with a clear message instead of interleaving its writes with the first's."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from flows.places import lock_file

# Locks this process holds, by file: the CLI takes the year's lock before it prepares the run, and
# the flow it hands over to takes it again. flock() would refuse that second taking, so it is
# counted here instead.
_held: dict[Path, int] = {}
_held_lock = threading.Lock()


class RunInProgress(Exception):
    """The year's lock is held by another process; the message names it."""


@contextmanager
def year_lock(outputs: Path, year: int):
    """Hold outputs/.<year>.lock for the run; the lock goes with the process, even if it is killed.
    Re-entrant within a process."""
    Path(outputs).mkdir(parents=True, exist_ok=True)
    path = lock_file(outputs, year).resolve()
    with _held_lock:
        if path in _held:
            _held[path] += 1
            handle = None
        else:
            handle = _take(path, year)
            _held[path] = 1
    try:
        yield
    finally:
        with _held_lock:
            _held[path] -= 1
            if _held[path] == 0:
                del _held[path]
                if handle is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    handle.close()


def _take(path: Path, year: int):
    """flock() on the lock file: taking it is one atomic call, so of two runs started together one
    refuses, and the kernel releases it when the holder ends, however it ends (no stale lock)."""
    handle = open(path, "a+")  # noqa: SIM115 - held open for the run, closed by year_lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        # Empty for the instant between the holder's flock() and its write.
        holder = handle.read().strip() or "另一个进程"
        handle.close()
        raise RunInProgress(f"{year} 年度的流程正在运行（{holder}，锁文件 {path}）：请等它结束后再运行") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"进程 {os.getpid()}，{datetime.now():%Y-%m-%d %H:%M:%S} 开始")
    handle.flush()
    return handle
