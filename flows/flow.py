"""The annual run as a Prefect flow: the one module that imports prefect.

Each task wraps a plain step of flows/run.py. Workbooks are read in batches, not one task
each: a task run costs Prefect several milliseconds, reading a workbook about one.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from multiprocessing import get_context
from pathlib import Path

# No internet here or in CI: no telemetry, and no waiting on it; neither the server's analytics nor
# the client's (Prefect honours DO_NOT_TRACK).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The temporary server's first start creates its database: 23 s on a 2-core machine, past Prefect's
# default of 20 s, so the first `nianbao run` on a fresh machine failed.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# A server that goes away mid-run: the steps go on without it (Prefect 3 reports task runs as events,
# sent on the side), and each call the flow must make (its artifacts, its final state) is retried
# PREFECT_CLIENT_MAX_RETRIES times, 2, 4, 8, … s apart, each attempt waiting up to
# PREFECT_API_REQUEST_TIMEOUT. With Prefect's 5 and 60 s, a run ended 2.5 min after a server killed
# under it; with 3 and 30 s, 45 s, and 4.7 min after one that stopped answering (SIGSTOP), which
# still rides out a restart of some 15 s (docs/operations.md#faults).
os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "3")
os.environ.setdefault("PREFECT_API_REQUEST_TIMEOUT", "30")
# Where Prefect's console shows nothing (`nianbao run` without -v), neither do its own services: the
# server gone, they would print a line for each event and batch of logs they could not send.
if os.environ.get("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL") == "CRITICAL":
    os.environ.setdefault("PREFECT_INTERNAL_LOGGING_LEVEL", "CRITICAL")
    logging.raiseExceptions = False  # Prefect's log sender prints its failures only when this is set

from prefect import flow, get_run_logger, serve, tags, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.client.orchestration import get_client
from prefect.context import TagsContext
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.schedules import Cron
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_UI_URL,
    get_current_settings,
    temporary_settings,
)
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from flows import places, province, run, temporary_server
from flows.lifetime import end_with_parent, rearm, stopped_on_interrupt
from flows.release.lock import year_lock
from flows.schedule import ANNUAL_CRON, TIME_ZONE, report_year

RETRIES = 2  # of a step that reads or writes shared storage, when it fails with an OSError
FLOW_NAME = "nianbao-annual"
WORK_POOL = "nianbao"  # `nianbao deploy`'s process work pool, and prefect.yaml's

# The processes that read and check batches, when the run has them (runner "processes").
worker_pool: ContextVar[ProcessPoolExecutor | None] = ContextVar("worker_pool", default=None)
# The terminal's progress bar, if any: called with (departments done, departments in all).
progress_bar: ContextVar[Callable[[int, int], None] | None] = ContextVar("progress_bar", default=None)
# run_flow's: the flow puts the run's outcome there once its steps are done, so that a server lost
# afterwards (the artifacts, the final state not sent) is said with what the run did.
finished: ContextVar[list | None] = ContextVar("finished", default=None)


def _io_failed(task, task_run, state) -> bool:
    """Retry a step only when the disk or network failed it (OSError): findings are not failures,
    and a bug or a refused input fails the same way again."""
    try:
        state.result()
    except OSError:
        return True
    except BaseException:
        return False
    return False


class Box:
    """One value, passed whole. Prefect walks a task's arguments and a flow's result looking for
    futures, every dict, tuple and dataclass down to each cell of each report, which cost more than
    the steps themselves (16 s to merge 1,000 departments); a plain object is not walked. Not
    Prefect's quote(): that is a tuple, which Dask takes apart."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _batch_key(context, parameters) -> str:
    previous = parameters["previous"].value
    return run.batch_key(parameters["batch"], parameters["year"], parameters["level"], previous, parameters["keep"])


# Inputs are reports and paths, not worth hashing for a cache key on every call.
@task(name="discover submissions", cache_policy=NONE, retries=RETRIES, retry_condition_fn=_io_failed)
def prepare_task(sources: Path, outputs: Path, year: int) -> Box:
    return Box(run.prepare(sources, outputs, year))


# Cached by content: a batch whose files, last-year figures and nianbao itself are unchanged is not
# read again. Reading problems are findings, so no retries.
@task(name="read and check", cache_key_fn=_batch_key, persist_result=True)
def check_task(batch, year: int, level, previous: Box, keep: Path | None = None) -> bytes:
    return _check_batch(batch, year, level, previous.value, keep)


def _check_batch(batch, year: int, level, previous, keep: Path | None) -> bytes:
    """In the run's worker processes if it has them, else here (a Dask worker, or a thread).
    A module function, not the task's body: Dask sends that body by value, and the pool with it."""
    pool = worker_pool.get()
    if pool is None:
        return run.check_batch_pickled(batch, year, level, previous, keep)
    return pool.submit(run.check_batch_pickled, batch, year, level, previous, keep).result()


@task(name="merge", cache_policy=NONE)
def merge_task(bureau, checked: Box) -> Box:
    return Box(run.merge_checked(bureau, checked.value))


@task(name="settle findings", cache_policy=NONE, retries=RETRIES, retry_condition_fn=_io_failed)
def settle_task(inputs: Box, checked: Box, merged: Box) -> Box:
    return Box(run.settle(inputs.value, checked.value, merged.value))


@task(name="check reports", cache_policy=NONE, retries=RETRIES, retry_condition_fn=_io_failed)
def pages_task(outcome: Box, outputs: Path, started: Box) -> Path:
    # The department pages the workers started during publication; a retry writes them all again.
    pending, started.value = started.value, None
    return run.write_pages(outcome.value, outputs, started=pending, map=_worker_map())


# Publishing is atomic and starts by removing what a failed attempt left, so it can be retried.
@task(name="publish", cache_policy=NONE, retries=RETRIES, retry_condition_fn=_io_failed)
def publish_task(outcome: Box, outputs: Path, reason: str | None, key: Path | None) -> run.Publication | None:
    return run.publish_outcome(outcome.value, outputs, reason, key, _worker_map())


def _worker_map():
    """The run's worker processes' map, in chunks, for the per-department pages and documents and
    the tables validated before publication; the built-in map without them."""
    pool = worker_pool.get()
    return partial(_chunked_map, pool) if pool else map


def _chunked_map(pool: ProcessPoolExecutor, function, *iterables):
    """pool.map in chunks of up to 50 items (a task per department's page cost more than the page),
    and at least two chunks per process: a few large items (the tables) go out one by one."""
    items = [list(i) for i in iterables]
    chunk = max(1, min(50, len(items[0]) // (2 * (os.cpu_count() or 1))))
    return pool.map(function, *items, chunksize=chunk)


def run_name(bureau: str | None, year: int) -> str:
    """A run's name in Prefect: the same for every run of a bureau's year, so that its history reads
    as one list."""
    return f"nianbao-{bureau or 'bureau'}-{year}"


def run_tags(bureau: str | None, year: int) -> list[str]:
    return [t for t in (bureau, str(year)) if t]


def _run_name_of_parameters() -> str:
    """The flow run's name from its parameters (a scheduled run has only sources and outputs)."""
    parameters = flow_run.parameters
    year = parameters.get("year") or report_year()
    return run_name(run.bureau_id(Path(parameters.get("sources") or "sources")), int(year))


# A few batches in flight, not fifty task threads contending for this process.
@flow(
    name=FLOW_NAME,
    flow_run_name=_run_name_of_parameters,
    log_prints=True,
    task_runner=ThreadPoolTaskRunner(max_workers=2 * (os.cpu_count() or 1)),  # type: ignore[arg-type]  # prefect types TaskRunner invariant in its future: no runner matches
)
def annual_flow(
    year: int | None = None,
    sources: Path = Path("sources"),
    outputs: Path = Path("outputs"),
    reason: str | None = None,
    sign: Path | None = None,
    processes: bool | None = None,
    prepared: Box | None = None,
) -> Box | State:
    """Read and check every department's workbook, merge them into the bureau's, publish.

    Without a year (a scheduled run), the previous calendar year. `processes`: read, check and
    write documents in a process per core (None: when there are more submissions than a batch's
    size; starting processes costs a small bureau more than it saves). `prepared`: the run's inputs,
    when the caller prepared them already (the CLI does, holding the year's lock). The outcome comes
    boxed (run_flow unboxes it); a run that publishes nothing ends Failed (so that a schedule's
    notifications fire), its outcome boxed all the same, and its artifacts say why.
    """
    rearm()  # Ctrl+C and SIGTERM of `nianbao run` stop the workers first (see lifetime.interruptible)
    year = year or report_year()
    _tag_this_run(run_tags(run.bureau_id(Path(sources)), year))
    with year_lock(Path(outputs), year), _worker_processes(processes, Path(sources), year), _untagged_tasks():
        inputs = prepared.value if prepared is not None else None
        outcome = run.run_year(year, Path(sources), Path(outputs), reason, sign, _steps(), inputs)
    _steps_done(outcome)
    _artifacts(outcome, places.checks_folder(outputs, year) / places.CHECK_INDEX)
    get_run_logger().info(
        "%s %d: %d departments, %d blocking errors, %d findings, release: %s",
        outcome.bureau.name,
        year,
        len(outcome.checked),
        len(outcome.errors),
        len(outcome.findings),
        outcome.release,
    )
    for file in outcome.publication.replaced if outcome.publication else ():
        get_run_logger().warning("%s 在检查之后被替换或删除：发布的是检查过的内容，现在的文件未经检查", file)
    if outcome.publication is None:
        return Failed(message=not_published(outcome), data=Box(outcome))
    return Box(outcome)


def _steps_done(outcome: run.Outcome) -> None:
    """The outcome told to run_flow, if it runs the flow. A module function, not the flow's body:
    Dask sends that body by value, with what it names, and a ContextVar cannot be sent."""
    if (done := finished.get()) is not None:
        done.append(outcome)


def not_published(outcome: run.Outcome) -> str:
    """Why a run published nothing, in one line: the Failed state's message."""
    if not outcome.checked:
        return f"未发布：{outcome.year} 年度还没有部门报送（{len(outcome.errors)} 个错误）"
    if outcome.errors:
        return f"未发布：{len(outcome.errors)} 个错误（见检查报告与本次运行的 artifacts）"
    return "未发布：没有可汇总的部门报表"


def _tag_this_run(wanted: list[str]) -> None:
    """The flow run tagged with its bureau and year: `nianbao run` creates it so tagged, a scheduled
    run learns its year only now."""
    have = list(flow_run.tags)
    if flow_run.id and not set(wanted) <= set(have):
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, tags=have + [t for t in wanted if t not in have])


@contextmanager
def _untagged_tasks():
    """The flow's tasks without the run's tags, which are the flow run's, to find it by. Prefect asks
    its server for a tagged task's concurrency slots before the task starts, one request at a time
    for all the tasks that share those tags, even where no limit is set on them: under a rollup's
    load the requests waited on the server's database, and every task with them (both workers
    idle 1–2 s in every 7)."""
    with TagsContext(current_tags=set()):
        yield


@contextmanager
def _worker_processes(
    wanted: bool | None, sources: Path, year: int, warm_up: Callable[[], None] = run.warm_up, most: int = 0
):
    """The run's worker processes (worker_pool) while the flow runs, if wanted and not already
    started (run_flow starts them before the flow, while Prefect starts its server): one per core,
    or `most` if fewer; each runs `warm_up` as it starts."""
    if wanted is None:
        folder = places.year_folder(sources, year)
        wanted = folder.is_dir() and sum(1 for _ in folder.iterdir()) > run.BATCH_SIZE
    if not wanted or worker_pool.get() is not None:
        yield
        return
    # Spawned, not forked: this process runs Prefect's threads, and a fork copies their locks. Each
    # worker is killed by the kernel if this process dies (kill -9 included), not left running.
    count = min(most, os.cpu_count() or 1) if most else os.cpu_count() or 1
    with ProcessPoolExecutor(
        count, mp_context=get_context("spawn"), initializer=end_with_parent, initargs=(os.getpid(),)
    ) as pool:
        # Each worker starts and imports now, not at its first batch; and from this thread, which
        # holds the pool: the kernel's parent of a process is the thread that started it (see
        # lifetime.end_with_parent). The pool starts a process per submit while none is idle, and
        # none is yet: all of them start here.
        for _ in range(count):
            pool.submit(warm_up)
        token = worker_pool.set(pool)
        try:
            # At Ctrl+C the workers are ended, not waited for: leaving this block otherwise waits
            # for each batch in progress (a minute, on a large bureau).
            with stopped_on_interrupt(partial(_end_workers, pool)):
                yield
        finally:
            worker_pool.reset(token)


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's processes: their batches are not wanted any more (the run is interrupted);
    whatever waits on them gets BrokenProcessPool at once."""
    for process in list((pool._processes or {}).values()):
        process.kill()


def run_flow(
    year: int,
    sources: Path,
    outputs: Path,
    reason: str | None = None,
    sign: Path | None = None,
    runner: str = "auto",
    dask_address: str | None = None,
    inputs: run.Inputs | None = None,
) -> run.Outcome:
    """The flow, its batches read and checked by `runner`:

    - "threads": in this process;
    - "processes": a process per core, beside Prefect's task threads;
    - "dask": Prefect's Dask task runner, on the cluster at `dask_address` or a local one of two workers;
    - "auto": processes when there are more submissions than a batch's size, threads otherwise.

    `inputs`: prepared by the caller (run.prepare), so that the flow does not prepare them again.
    The run is named and tagged with its bureau and year (run_name, run_tags). Raises
    PrefectUnreachable when the Prefect server configured does not answer, or goes away during the
    run (its steps go on without it): the message then says what the run left.
    """
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}: auto, threads, processes or dask")
    arguments = (year, sources, outputs, reason, sign)
    prepared = Box(inputs) if inputs is not None else None
    bureau = inputs.bureau.id if inputs is not None else run.bureau_id(Path(sources))
    left = _Left(Path(outputs), year)
    token = finished.set(left.outcomes)
    try:
        with _prefect_answers(left), tags(*run_tags(bureau, year)):
            _configured_server_answers()
            if runner == "dask":
                return _outcome(_run_on_dask(arguments, prepared, dask_address))
            processes = {"auto": None, "threads": False, "processes": True}[runner]
            with (
                _worker_processes(processes, Path(sources), year),
                _reporting(),
            ):  # the workers start while the server does
                return _outcome(annual_flow(*arguments, processes, prepared, return_state=True))
    finally:
        finished.reset(token)


class _Left:
    """What a run whose Prefect server went away left, in one clause: said from its outcome when
    its steps were done (the flow puts it in `outcomes`), else from where `latest` points."""

    def __init__(self, outputs: Path, year: int):
        self.outputs, self.year = outputs, year
        self.before = self._live()  # the version live as the run starts
        self.outcomes: list[run.Outcome] = []

    def _live(self) -> str | None:
        link = places.latest(self.outputs, self.year)
        return os.readlink(link) if link.is_symlink() else None

    def __call__(self) -> str:
        year, now = self.year, self._live()
        record = f"Prefect 中本次运行的记录不完整：服务器恢复后再运行一次 nianbao run {year} 即补全"
        if self.outcomes:
            publication = self.outcomes[0].publication
            if publication is None:
                return f"{year} 年度的检查已完成，有错误，未发布（见检查报告）；{record}"
            if not publication.new:
                return f"{year} 年度的检查已完成，输入与已发布的版本 {publication.version} 相同，未发布新版本；{record}"
            return f"{year} 年度已发布 {publication.version}，检查报告已写出；{record}"
        if now != self.before:
            return f"{year} 年度已发布 {now}，检查报告可能未写完；{record}"
        return f"本次没有发布任何内容，latest 未改动（{self.before or '尚无发布'}）"


RUNNERS = ("auto", "threads", "processes", "dask")


def _run_on_dask(arguments: tuple, prepared: Box | None, address: str | None) -> State:
    from prefect_dask import DaskTaskRunner

    # A cluster's workers are told where the Prefect server is by their own settings; local ones, by
    # the environment they start with.
    with _reporting():
        dask = DaskTaskRunner(address=address) if address else DaskTaskRunner(cluster_kwargs={"n_workers": 2})
        return annual_flow.with_options(task_runner=dask)(*arguments, False, prepared, return_state=True)  # type: ignore[arg-type]  # prefect types TaskRunner invariant in its future: no runner matches


def _outcome(state: State) -> run.Outcome:
    """The run's outcome from its final state: Completed (published, or nothing changed) or Failed
    (nothing published) both carry it; a run that failed with an exception raises it again."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, Box):
        return result.value
    if isinstance(result, BaseException):
        raise result
    raise RuntimeError(f"流程运行以 {state.type.value} 结束，没有结果：{state.message}")


class PrefectUnreachable(Exception):
    """The Prefect server the run reports to does not answer; the message names it (one line)."""


def _unreachable(error: BaseException) -> bool:
    """Whether `error` says the Prefect server could not be reached: httpx's transport errors (the
    connection refused or timed out), or Prefect's own words for it."""
    transport = any(c.__module__.startswith("httpx") and c.__name__ == "TransportError" for c in type(error).__mro__)
    return transport or (isinstance(error, RuntimeError) and str(error).startswith("Failed to reach API"))


@contextmanager
def _prefect_answers(left: Callable[[], str] | None = None):
    """PrefectUnreachable for a server lost during the run (a flow's failure raised again by
    _outcome included), not its traceback; with what the run `left`, when told."""
    try:
        yield
    except PrefectUnreachable as error:  # the configured server found not answering, before any work
        raise PrefectUnreachable(f"{error}；{left()}" if left else str(error)) from None
    except Exception as error:
        if _unreachable(error):
            raise PrefectUnreachable(_unreachable_line(error) + (f"；{left()}" if left else "")) from None
        raise


def _unreachable_line(error: BaseException) -> str:
    url = get_current_settings().api.url
    if not url or temporary_server.is_ours(url):
        return f"无法连接 Prefect 临时服务器（{type(error).__name__}：{error}）：它随本命令启动，已意外退出或不再应答"
    return (
        f"无法连接 Prefect 服务器 {url}（{type(error).__name__}：{error}）：请检查 PREFECT_API_URL 或服务器是否在运行"
    )


def _configured_server_answers() -> None:
    """PrefectUnreachable at once, before any work, when PREFECT_API_URL names a server that does
    not answer (Prefect itself would fail at its first call, with a traceback)."""
    if not get_current_settings().api.url:
        return
    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        raise PrefectUnreachable(_unreachable_line(problem))


def _temporary_server() -> str:
    """The API's URL: the server configured (PREFECT_API_URL), else nianbao's temporary server
    (flows/temporary_server.py: started by the command already, or now), once it answers."""
    url = get_current_settings().api.url
    if url:
        temporary_server.stop_if_unused()  # started early by the command, for nothing: a profile names a server
        return url
    try:
        return temporary_server.answering()
    except temporary_server.ServerDidNotStart as error:
        raise PrefectUnreachable(str(error)) from None


@contextmanager
def _reporting():
    """Prefect's calls in the block made to the server of _temporary_server(), and those of the
    processes started in it (local Dask workers, served runs), which read the environment."""
    url = _temporary_server()
    if get_current_settings().api.url == url:
        yield
        return
    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        # It serves no UI to link to, and no one watches its flow runs' heartbeats for crashed runs:
        # the server ends with the command. Prefect's heartbeat thread sleeps a second at a time
        # and the flow's end waits for it to wake (up to a second at the end of every run).
        with temporary_settings(
            updates={PREFECT_API_URL: url, PREFECT_UI_URL: "", PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        ):
            yield
    finally:
        if before is None:
            del os.environ["PREFECT_API_URL"]
        else:
            os.environ["PREFECT_API_URL"] = before


def _steps() -> run.Steps:
    """run_year's steps as Prefect tasks: each value crosses in a Box (see Box), the batches are
    read a task each (cached by content), documents are written by the run's worker processes."""
    return run.Steps(
        prepare=lambda sources, outputs, year: prepare_task(sources, outputs, year).value,
        check=_read_and_check,
        merge=lambda bureau, checked: merge_task(bureau, Box(checked)).value,
        settle=lambda inputs, checked, merged: settle_task(Box(inputs), Box(checked), Box(merged)).value,
        start_pages=lambda outcome, outputs: Box(run.start_pages(outcome, outputs, _worker_map())),
        publish=lambda outcome, outputs, reason, key: publish_task(Box(outcome), outputs, reason, key),
        write_pages=lambda outcome, outputs, started: pages_task(Box(outcome), outputs, started),
    )


def _read_and_check(inputs: run.Inputs) -> list:
    """Every submission read and checked, a task per batch; progress told as batches finish."""
    logger = get_run_logger()
    level, total, done = inputs.bureau.metadata.get("level"), len(inputs.submitted), 0
    arguments = [
        (batch, inputs.year, level, Box(run.previous_of(batch, inputs.previous)), inputs.kept)
        for batch in run.batches(inputs.submitted)
    ]
    futures = [check_task.submit(*args) for args in arguments]
    arguments_of = {future.task_run_id: args for future, args in zip(futures, arguments, strict=True)}
    results, show = {}, progress_bar.get()
    for future in as_completed(futures):
        checked = pickle.loads(future.result())
        if not run.packs_present(checked):  # cached by a run whose packs are gone since: read again
            checked = pickle.loads(check_task.with_options(refresh_cache=True)(*arguments_of[future.task_run_id]))
        results[future.task_run_id] = checked
        done += len(checked)
        logger.info("已读取并检查 %d/%d 个部门", done, total)
        if show:
            show(done, total)
    # Child bureaus' releases (docs/rollup.md): a few per bureau, verified here in the flow's process.
    return [checked for future in futures for checked in results[future.task_run_id]] + run.check_children(inputs)


def _artifacts(outcome: run.Outcome, index: Path) -> None:
    """The run's verdict where the Prefect UI shows it: a table by department and a summary."""
    key = f"nianbao-{outcome.year}"
    create_table_artifact(run.status_rows(outcome), key=f"{key}-departments", description="各部门检查结果")
    verdict = f"已发布 `{outcome.release}`" if outcome.release else f"**未发布**：{len(outcome.errors)} 个错误"
    lines = [f"# {outcome.bureau.name} {outcome.year} 年度", "", verdict, "", f"检查报告：`{index}`", ""]
    lines += [f"- {f.unit} {f.rule}：{f.message}" for f in outcome.errors[:50]]
    create_markdown_artifact("\n".join(lines), key=f"{key}-summary", description="年度流程结论")


# -- a tree of bureaus, level by level (flows/province.py) ------------------------------------------------
ROLLUP_FLOW_NAME = "nianbao-rollup"


@task(name="build bureau", task_run_name="build {node.id}", cache_policy=NONE)
def bureau_task(tree: Path, node: province.Node, parent: province.Node | None, year: int, code: str) -> province.Built:
    return _build(tree, node, parent, year, code)


def _build(tree: Path, node: province.Node, parent: province.Node | None, year: int, code: str) -> province.Built:
    # Apart from the task: Dask sends a task's function to its workers by value, with what its body
    # names, and a ContextVar (worker_pool) cannot be sent; a module's function is sent by name.
    pool = worker_pool.get()
    if pool is None:
        return province.build_bureau(tree, node, parent, year, run.run_in_tree, code)
    return pool.submit(province.build_bureau, tree, node, parent, year, run.run_in_tree, code).result()


@flow(
    name=ROLLUP_FLOW_NAME,
    flow_run_name="nianbao-rollup-{year}",
    task_runner=ThreadPoolTaskRunner(max_workers=2 * (os.cpu_count() or 1)),  # type: ignore[arg-type]  # prefect types TaskRunner invariant in its future: no runner matches
)
def rollup_flow(tree: Path, year: int, answered: Box | None = None) -> dict[str, province.Built]:
    """Every bureau of the tree for `year`, a task each, children before their parent (siblings
    side by side); each live release handed to its parent. A bureau whose task failed (not
    blocked: failed, e.g. its storage) is reported so, and its parent is not built. `answered`:
    the bureaus that need not run (province.unchanged), when the caller found them already."""
    rearm()
    root, nodes = province.load_tree(Path(tree))
    parents = {child: node for node in nodes.values() for child in node.children}
    code = run.code_fingerprint()  # a bureau whose inputs and code are its last run's is not run again
    order = province.build_order(root, nodes)
    # Whole subtrees so, answered without a task.
    skipped = answered.value if answered is not None else province.unchanged(Path(tree), root, nodes, year, code)
    futures: dict[str, PrefectFuture[province.Built]] = {}
    with _untagged_tasks():
        for node in order:
            if node.id not in skipped:
                upstream = [futures[child] for child in node.children if child in futures]
                futures[node.id] = bureau_task.submit(
                    Path(tree), node, parents.get(node.id), year, code, wait_for=upstream, return_state=False
                )
    built = {}
    for node in order:
        if node.id in skipped:
            built[node.id] = skipped[node.id]
            continue
        future = futures[node.id]
        future.wait()
        state = future.state
        built[node.id] = (
            future.result()
            if state.is_completed()
            else province.Built(node.id, None, None, (f"未运行完成：{state.message}",), False)
        )
    get_run_logger().info(
        "%d 个机关：%d 个运行了（输入未变的不再运行），%d 个有已发布的版本，%d 个未发布",
        len(built),
        sum(b.ran for b in built.values()),
        sum(b.published is not None for b in built.values()),
        sum(b.published is None for b in built.values()),
    )
    return built


def run_rollup(
    tree: Path, year: int, runner: str = "processes", dask_address: str | None = None
) -> dict[str, province.Built]:
    """The rollup flow, its bureaus run by `runner`: "processes" (a process per core), "threads"
    (this process) or "dask" (Prefect's Dask task runner: subtrees on the cluster's workers, a local
    one of two workers without `dask_address`). Raises PrefectUnreachable as run_flow does."""
    if runner not in ("threads", "processes", "dask"):
        raise ValueError(f"unknown runner {runner!r}: threads, processes or dask")
    with _prefect_answers(), tags("nianbao-rollup", str(year)):
        _configured_server_answers()
        if runner == "dask":
            from prefect_dask import DaskTaskRunner

            dask = (
                DaskTaskRunner(address=dask_address)
                if dask_address
                else DaskTaskRunner(cluster_kwargs={"n_workers": 2})
            )
            with _reporting():
                return rollup_flow.with_options(task_runner=dask)(Path(tree), year)  # type: ignore[arg-type]  # as above
        # Found while Prefect's temporary server starts, not after (10,000 files hashed), and before
        # the workers: no more start than bureaus can run at once (one after one county
        # republished: its path to the root runs a bureau at a time; none when nothing changed).
        root, nodes = province.load_tree(Path(tree))
        answered = Box(province.unchanged(Path(tree), root, nodes, year, run.code_fingerprint()))
        ready = province.ready_at_once(nodes, answered.value)
        warm_up = partial(province.warm_up, year, run.run_in_tree)
        with _worker_processes(runner == "processes" and ready > 0, Path(tree), year, warm_up, ready), _reporting():
            return rollup_flow(Path(tree), year, answered)


def deployment_name(bureau: str, served: bool) -> str:
    """`nianbao-annual/<bureau>` for a work pool's deployment (nianbao deploy), and
    `nianbao-annual/<bureau>-serve` for `nianbao serve`'s: never the same name, since serving a
    deployment of the same name would take it over from the work pool (and its next run crashed)."""
    return f"{bureau}-serve" if served else bureau


def annual_deployment(sources: Path, outputs: Path, cron: str = ANNUAL_CRON, work_pool: str | None = None):
    """The flow with its annual schedule, tagged with the bureau: `nianbao serve`'s, or with
    `work_pool` the deployment `nianbao deploy` makes for that pool's workers, which find the flow
    by its module (nianbao installed where they run). One run at a time; sources and outputs as
    absolute paths, since a worker runs the flow in a folder of its own."""
    from prefect.deployments.runner import EntrypointType

    bureau = run.bureau_id(Path(sources)) or "nianbao"
    return annual_flow.to_deployment(
        name=deployment_name(bureau, served=work_pool is None),
        schedule=Cron(cron, timezone=TIME_ZONE),
        parameters={"sources": str(Path(sources).resolve()), "outputs": str(Path(outputs).resolve())},
        concurrency_limit=1,
        tags=[bureau],
        description="政府信息公开工作年度报告：每年一月汇总上一年度各部门报表并发布",
        work_pool_name=work_pool,
        entrypoint_type=EntrypointType.MODULE_PATH if work_pool else EntrypointType.FILE_PATH,
    )


def serve_annual(sources: Path, outputs: Path, cron: str = ANNUAL_CRON) -> None:
    """Serve the deployment until stopped: Prefect starts a run at each scheduled time."""
    with _prefect_answers():
        _configured_server_answers()
        with _reporting():
            serve(annual_deployment(sources, outputs, cron))


class DeployRefused(Exception):
    """`nianbao deploy` cannot go on: no Prefect server that lasts (PREFECT_API_URL; a temporary
    one ends with the command), or a work pool of that name of another type. One line."""


def deploy_annual(sources: Path, outputs: Path, cron: str = ANNUAL_CRON, pool: str = WORK_POOL) -> str:
    """Create the process work pool `pool` (unless it exists) and the annual deployment on it, on
    the server of PREFECT_API_URL; again, it updates them. The deployment's full name."""
    url = get_current_settings().api.url
    if not url:
        raise DeployRefused(
            "nianbao deploy 需要一个常驻的 Prefect 服务器：请先设置 PREFECT_API_URL（如 http://SERVER:4200/api）"
        )
    with _prefect_answers():
        _configured_server_answers()
        _work_pool(pool)
        deployment = annual_deployment(sources, outputs, cron, work_pool=pool)
        deployment.apply()
    return f"{FLOW_NAME}/{deployment.name}"


def _work_pool(name: str) -> None:
    """The process work pool `name`, created with the process worker's default job template unless
    it exists; a pool of that name of another type is refused (its workers could not run the flow)."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))
        except ObjectAlreadyExists:
            existing = client.read_work_pool(name)
            if existing.type != "process":
                raise DeployRefused(
                    f"工作池 {name} 已存在，但类型是 {existing.type}，不是 process：请换一个名称（--pool）"
                ) from None
