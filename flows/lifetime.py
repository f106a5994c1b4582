"""A run's helper processes end with the run, however it ends: `kill -9` of `nianbao run` included.

A run starts worker processes and Prefect's temporary server; a process killed with SIGKILL runs
no cleanup, and its children used to live on (about 350 MB per crashed cron run). Two means, both
from the kernel's side, since the dying process can do nothing:

- a worker asks the kernel to kill it when its parent dies (Linux's PR_SET_PDEATHSIG);
- a process in a session of its own (Prefect's temporary server) is handed to a watchdog: a
  small process that reads a pipe only this process writes to, and stops what it was handed once
  the pipe closes, which the kernel does when this process ends, whatever ended it.

And a run stopped by Ctrl+C or SIGTERM stops within seconds (interruptible): the workers are ended
at once, not waited for, and whatever still holds the process after a grace period is not waited
for either.

No prefect here: the workers import this module.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def end_with_parent(parent: int) -> None:
    """A worker process's initializer: have the kernel kill this process when its parent (whose
    pid was `parent`) dies. The kernel's "parent" is the thread that started the process, so the
    pool's processes must be started by a thread that outlives them (flow._worker_processes
    starts them all from the thread that holds the pool). Elsewhere than Linux, nothing is asked."""
    # A Ctrl+C reaches every process of the terminal's group: a worker leaves it to the run, which
    # ends the workers itself (stopped_on_interrupt), instead of each printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the kernel was asked: nobody to work for
        os._exit(1)


# The watchdog, run by `python -I -S -c`: each line it reads names a process (its pid and start
# time, so that a pid used again by then is not killed); at the end of its input, it stops those
# still running, SIGTERM first (the server closes its database), then SIGKILL after 5 s.
WATCHDOG = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl+C is the run's to handle; it then ends, closing the pipe
guarded = [line.split() for line in sys.stdin]
def running(pid, start):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        if start != "-":
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return fields[0] not in "ZX" and fields[19] == start
alive = [int(pid) for pid, start in guarded if running(int(pid), start)]
for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
    for pid in alive:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    deadline = time.monotonic() + wait
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [int(pid) for pid, start in guarded if int(pid) in alive and running(int(pid), start)]
"""

_watchdog: subprocess.Popen | None = None
_guarded: set[int] = set()
_lock = threading.Lock()


def end_with_this_process(pid: int) -> None:
    """Have process `pid` stopped when this process ends, however it ends (see WATCHDOG). The
    watchdog is started at the first call; this process alone holds the pipe's writing end (a
    pipe is not inherited by the processes it starts)."""
    global _watchdog
    with _lock:
        if pid in _guarded:
            return
        _guarded.add(pid)
        if _watchdog is None or _watchdog.poll() is not None:
            _watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", WATCHDOG],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        assert _watchdog.stdin is not None
        _watchdog.stdin.write(f"{pid} {_start_time(pid)}\n".encode())
        _watchdog.stdin.flush()


def _start_time(pid: int) -> str:
    """When `pid` started, in clock ticks since boot (/proc/<pid>/stat's 22nd field); "-" where
    there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return "-"


# -- Ctrl+C and SIGTERM ---------------------------------------------------------------------------
GRACE = 3.0  # seconds an interrupted run has to unwind (lock, Prefect's crash report) before it is ended
INTERRUPTED = 3  # the exit status of an interrupted run (see flows/cli.py)


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread at SIGINT or SIGTERM while interruptible(): a KeyboardInterrupt, so
    that code that lets a Ctrl+C through lets this through too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_stoppers: list[Callable[[], None]] = []
_handlers: list[Callable[[int, object], None]] = []  # interruptible()'s, while one is in force


@contextmanager
def stopped_on_interrupt(stop: Callable[[], None]) -> Iterator[None]:
    """Call `stop` at an interrupt that comes while inside: what cannot be stopped by an exception
    raised in the main thread (worker processes busy with a batch)."""
    _stoppers.append(stop)
    try:
        yield
    finally:
        _stoppers.remove(stop)


@contextmanager
def interruptible(farewell: Callable[[], None], grace: float = GRACE) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM stop the process: the stoppers are called, Interrupted is
    raised in the main thread (so that locks and files are let go on the way out), and if the
    process still runs `grace` seconds later (a thread that does not end, Prefect reporting to a
    server that Ctrl+C stopped), `farewell` is called and the process ends with INTERRUPTED; a
    second signal ends it at once. `farewell` says the run's one line (it must say it once only:
    the caller calls it too, when Interrupted reaches it). In the main thread only."""
    said = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)

    def end() -> None:
        farewell()
        sys.stderr.flush()
        os._exit(INTERRUPTED)

    def handler(signum: int, frame: object) -> None:
        if said.is_set():  # the second signal
            end()
        said.set()
        for stop in list(_stoppers):
            stop()
        timer = threading.Timer(grace, end)
        timer.daemon = True
        timer.start()
        raise Interrupted(signum)

    before = {s: signal.signal(s, handler) for s in signals}
    _handlers.append(handler)
    try:
        yield
    finally:
        _handlers.pop()
        for s, previous in before.items():
            signal.signal(s, previous)


def rearm() -> None:
    """Install interruptible()'s handler again, if one is in force: Prefect's flow engine takes
    SIGTERM over while a flow runs, and reports the run crashed before passing the signal on, while
    the workers go on with their batches. Called at the start of the flow's body (the main thread)."""
    if _handlers and threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, _handlers[-1])
