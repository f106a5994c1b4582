"""The annual run's steps as plain functions; flows/flow.py wires them as Prefect tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .bureau import Bureau, discover, load_bureau
from .check import Checked, check_workbook
from .merge import Merged, merge
from .publish import build_package, write_release
from .report import Finding


@dataclass
class Outcome:
    """What a run did: each department's check, the findings of the whole run, the release if any."""

    year: int
    bureau: Bureau
    checked: list[Checked]
    findings: list[Finding]  # all of them: departments', submission and merge findings
    release: Path | None = None
    merged: Merged | None = field(default=None, repr=False)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


def check_batch(batch: list[tuple[str, Path]], year: int) -> list[Checked]:
    """Read and check a batch of (department id, file) submissions."""
    return [check_workbook(path, year, unit) for unit, path in batch]


def batches(submitted: dict[str, Path], size: int) -> list[list[tuple[str, Path]]]:
    items = sorted(submitted.items())
    return [items[i : i + size] for i in range(0, len(items), size)]


def merge_checked(bureau: Bureau, checked: list[Checked]) -> Merged | None:
    """The bureau's report, when every department was read without error; else None."""
    if not checked or any(c.report is None or c.errors for c in checked):
        return None
    return merge(bureau.id, [c.report for c in checked])


def publish_outcome(outcome: Outcome, outputs: Path) -> Path | None:
    """Publish `outputs/<year>/` unless an error blocks it."""
    if outcome.errors or outcome.merged is None:
        return None
    files = build_package(outcome.merged, outcome.bureau, outcome.findings)
    return write_release(files, Path(outputs) / str(outcome.year))


__all__ = ["Outcome", "batches", "check_batch", "discover", "load_bureau", "merge_checked", "publish_outcome"]
