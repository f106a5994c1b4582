"""`nianbao audit`: every published report in a folder (a province's year: thousands) read and
checked across worker processes, a page written for each by the worker that checked it, then the
index, findings.csv and reports.csv (flows/documents/audit.py). No Prefect: an audit publishes
nothing and keeps no state between runs."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from flows.checks.published import check_published
from flows.documents.audit import REPORTS, Audited, audited, write_index, write_report_page
from flows.documents.check_pages import safe_name

CHUNK = 25  # reports a worker checks per job: ~1 s of work, few enough for a smooth progress bar
IN_PROCESS = 2 * CHUNK  # fewer reports than this are checked here: a worker's start costs ~1 s


def report_files(folder: Path, out: Path) -> list[Path]:
    """Every file under `folder` but hidden ones and the audit's own output: told apart by
    content later, so that a report saved under any name is checked (and a file that is no report
    is said to be one, F0)."""
    out = out.resolve()
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).parts
        if not path.is_file() or any(p.startswith((".", "~$")) for p in relative):
            continue
        if path.resolve().is_relative_to(out):
            continue
        found.append(path)
    return found


Job = tuple[Path, str, str]  # (file, its name under the folder, its page under the audit's)


def audit_chunk(jobs: list[Job], year: int | None, out: Path) -> list[Audited]:
    """Read, check and write the page of each report of a chunk (in a worker process)."""
    lines = []
    for path, name, page in jobs:
        checked, published = check_published(path, year, None)
        unit = published.title.unit if published else None
        line = audited(checked, name, unit, page)
        write_report_page(out, checked, line)
        lines.append(line)
    return lines


def audit_folder(
    folder: Path,
    out: Path,
    year: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Audited], Path]:
    """Audit every report under `folder` into `out`: each report's line and the index's path.
    `year` for reports whose title gives none (and over the titles' when given)."""
    folder, out = Path(folder), Path(out)
    files = report_files(folder, out)
    jobs = [
        (path, path.relative_to(folder).as_posix(), f"{REPORTS}/{i:05d}-{safe_name(path.stem)}.html")
        for i, path in enumerate(files, start=1)
    ]
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    lines: list[Audited] = []
    report = progress or (lambda done, total: None)
    report(0, len(jobs))
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) < IN_PROCESS:
        for chunk in chunks:
            lines += audit_chunk(chunk, year, out)
            report(len(lines), len(jobs))
    else:
        lines = _in_workers(chunks, year, out, workers, lambda done: report(done, len(jobs)))
    return lines, write_index(out, folder, lines)


def _in_workers(chunks: list[list[Job]], year: int | None, out: Path, workers: int, done) -> list[Audited]:
    # spawn, not fork: a forked child of a process holding threads (rich's progress bar) may hang.
    context = multiprocessing.get_context("spawn")
    lines: list[Audited] = []
    pool = ProcessPoolExecutor(min(workers, len(chunks)), mp_context=context)
    try:
        pending = {pool.submit(audit_chunk, chunk, year, out) for chunk in chunks}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                lines += future.result()
            done(len(lines))
    except BaseException:  # Ctrl+C: what is not started is dropped, the workers not waited for
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return lines
