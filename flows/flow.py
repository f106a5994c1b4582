"""The annual run as a Prefect flow: the one module that imports prefect.

Each task wraps a plain step of flows/annual.py. Workbooks are read in batches, not one task
each: a task run costs Prefect several milliseconds, reading a workbook about one.
"""

from __future__ import annotations

import os
from pathlib import Path

# No internet here or in CI: no telemetry, and no waiting on it.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402

from . import annual  # noqa: E402

BATCH_SIZE = 200


# Inputs are reports and paths, not worth hashing for a cache key on every call.
@task(name="discover submissions", cache_policy=NONE)
def discover_task(sources: Path, year: int):
    bureau = annual.load_bureau(sources)
    submitted, findings = annual.discover(sources, year, bureau)
    return bureau, submitted, findings


@task(name="read and check", cache_policy=NONE)
def check_task(batch, year: int):
    return annual.check_batch(batch, year)


@task(name="merge", cache_policy=NONE)
def merge_task(bureau, checked):
    return annual.merge_checked(bureau, checked)


@task(name="publish", cache_policy=NONE)
def publish_task(outcome, outputs: Path):
    return annual.publish_outcome(outcome, outputs)


@flow(name="nianbao-annual", log_prints=True)
def annual_run(year: int, sources: Path = Path("sources"), outputs: Path = Path("outputs")) -> annual.Outcome:
    """Read and check every department's workbook, merge them into the bureau's, publish."""
    logger = get_run_logger()
    bureau, submitted, findings = discover_task(Path(sources), year)
    futures = [check_task.submit(batch, year) for batch in annual.batches(submitted, BATCH_SIZE)]
    checked = [c for future in futures for c in future.result()]
    for c in checked:
        findings = findings + c.findings
    merged = merge_task(bureau, checked)
    if merged is not None:
        findings = findings + merged.findings
    outcome = annual.Outcome(year, bureau, checked, findings, merged=merged)
    outcome.release = publish_task(outcome, Path(outputs))
    logger.info(
        "%s %d: %d departments, %d errors, %d warnings, release: %s",
        bureau.name, year, len(checked), len(outcome.errors), len(findings) - len(outcome.errors), outcome.release,
    )
    return outcome
