"""One run of a year at a time: a second `nianbao run` of the same year while one is in progress
refuses with a clear message instead of interleaving its writes with the first's."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


class RunInProgress(Exception):
    pass


@contextmanager
def year_lock(outputs: Path, year: int):
    """Hold outputs/.<year>.lock for the run; the lock goes with the process, even if it is killed."""
    Path(outputs).mkdir(parents=True, exist_ok=True)
    path = Path(outputs) / f".{year}.lock"
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "另一个进程"
        handle.close()
        raise RunInProgress(f"{year} 年度的流程正在运行（{holder}）：请等它结束后再运行") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"进程 {os.getpid()}")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
