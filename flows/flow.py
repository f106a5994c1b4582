"""The annual run as a Prefect flow: the one module that imports prefect.

Each task wraps a plain step of flows/annual.py. Workbooks are read in batches, not one task
each: a task run costs Prefect several milliseconds, reading a workbook about one.
"""

from __future__ import annotations

import os
from pathlib import Path

# No internet here or in CI: no telemetry, and no waiting on it.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow, get_run_logger, serve, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402
from prefect.schedules import Cron  # noqa: E402

from . import annual  # noqa: E402
from .lock import year_lock  # noqa: E402
from .schedule import ANNUAL_CRON, TIME_ZONE, report_year  # noqa: E402

BATCH_SIZE = 200


# Inputs are reports and paths, not worth hashing for a cache key on every call.
@task(name="discover submissions", cache_policy=NONE)
def prepare_task(sources: Path, outputs: Path, year: int) -> annual.Inputs:
    return annual.prepare(sources, outputs, year)


@task(name="read and check", cache_policy=NONE)
def check_task(batch, year: int, level, previous):
    return annual.check_batch(batch, year, level, previous)


@task(name="merge", cache_policy=NONE)
def merge_task(bureau, checked):
    return annual.merge_checked(bureau, checked)


@task(name="settle findings", cache_policy=NONE)
def settle_task(inputs, checked, merged):
    return annual.settle(inputs, checked, merged)


@task(name="check reports", cache_policy=NONE)
def pages_task(outcome, outputs: Path) -> Path:
    return annual.write_pages(outcome, outputs)


@task(name="publish", cache_policy=NONE)
def publish_task(outcome, outputs: Path, reason: str | None, key: Path | None):
    return annual.publish_outcome(outcome, outputs, reason, key)


@flow(name="nianbao-annual", log_prints=True)
def annual_run(
    year: int | None = None,
    sources: Path = Path("sources"),
    outputs: Path = Path("outputs"),
    reason: str | None = None,
    sign: Path | None = None,
) -> annual.Outcome:
    """Read and check every department's workbook, merge them into the bureau's, publish.

    Without a year (a scheduled run), the previous calendar year.
    """
    year = year or report_year()
    with year_lock(Path(outputs), year):
        return _annual_run(year, Path(sources), Path(outputs), reason, sign)


def _annual_run(year: int, sources: Path, outputs: Path, reason: str | None, sign: Path | None) -> annual.Outcome:
    logger = get_run_logger()
    inputs = prepare_task(Path(sources), Path(outputs), year)
    level = inputs.bureau.metadata.get("level")
    futures = [check_task.submit(b, year, level, inputs.previous) for b in annual.batches(inputs.submitted, BATCH_SIZE)]
    checked = [c for future in futures for c in future.result()]
    merged = merge_task(inputs.bureau, checked)
    outcome = settle_task(inputs, checked, merged)
    outcome.publication = publish_task(outcome, Path(outputs), reason, sign)
    index = pages_task(outcome, Path(outputs))
    _artifacts(outcome, index)
    logger.info(
        "%s %d: %d departments, %d blocking errors, %d findings, release: %s",
        inputs.bureau.name, year, len(checked), len(outcome.errors), len(outcome.findings), outcome.release,
    )
    return outcome


def _artifacts(outcome: annual.Outcome, index: Path) -> None:
    """The run's verdict where the Prefect UI shows it: a table by department and a summary."""
    key = f"nianbao-{outcome.year}"
    create_table_artifact(annual.status_rows(outcome), key=f"{key}-departments", description="各部门检查结果")
    verdict = f"已发布 `{outcome.release}`" if outcome.release else f"**未发布**：{len(outcome.errors)} 个错误"
    lines = [f"# {outcome.bureau.name} {outcome.year} 年度", "", verdict, "", f"检查报告：`{index}`", ""]
    lines += [f"- {f.unit} {f.rule}：{f.message}" for f in outcome.errors[:50]]
    create_markdown_artifact("\n".join(lines), key=f"{key}-summary", description="年度流程结论")


def annual_deployment(sources: Path, outputs: Path, cron: str = ANNUAL_CRON):
    """The flow with its annual schedule, for `nianbao serve` (prefect.yaml does the same for a
    Prefect server with workers). One run at a time."""
    return annual_run.to_deployment(
        name="annual",
        schedule=Cron(cron, timezone=TIME_ZONE),
        parameters={"sources": str(Path(sources).resolve()), "outputs": str(Path(outputs).resolve())},
        concurrency_limit=1,
        description="政府信息公开工作年度报告：每年一月汇总上一年度各部门报表并发布",
    )


def serve_annual(sources: Path, outputs: Path, cron: str = ANNUAL_CRON) -> None:
    """Serve the deployment until stopped: Prefect starts a run at each scheduled time."""
    serve(annual_deployment(sources, outputs, cron))
