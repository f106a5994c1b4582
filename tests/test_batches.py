"""Batches of submissions and their cache key: what a re-run may take from Prefect's cache."""

from __future__ import annotations

import os
import shutil

from hypothesis import given, settings
from hypothesis import strategies as st

from flows import run
from tests.conftest import SOURCES, valid_report


def _batch(folder):
    return [(unit, folder / f"{unit}.xlsx") for unit in ("household", "traffic")]


def test_the_key_follows_content_path_last_year_and_level_not_file_times(tmp_path):
    folder = shutil.copytree(SOURCES / "2021", tmp_path / "2021")
    batch = _batch(folder)
    key = run.batch_key(batch, 2021, "county", {})
    os.utime(folder / "traffic.xlsx", (0, 0))
    assert run.batch_key(batch, 2021, "county", {}) == key  # touched, not changed
    assert run.batch_key(batch, 2021, "prefecture", {}) != key
    assert run.batch_key(_batch(shutil.copytree(folder, tmp_path / "moved")), 2021, "county", {}) != key
    last_year = valid_report(2020, unit="traffic")
    with_previous = run.batch_key(batch, 2021, "county", {"traffic": last_year})
    assert with_previous != key
    last_year.values["proactive_disclosure"][0, 0] += 1
    assert run.batch_key(batch, 2021, "county", {"traffic": last_year}) != with_previous
    with open(folder / "traffic.xlsx", "ab") as handle:
        handle.write(b"\0")
    assert run.batch_key(batch, 2021, "county", {}) != key


def test_batches_are_stable_and_carry_only_their_departments_previous_reports():
    submitted = {f"d{i:03d}": SOURCES / f"d{i:03d}.xlsx" for i in (5, 1, 3, 2, 4)}
    batches = run.batches(submitted, 2)
    assert [u for b in batches for u, _ in b] == ["d001", "d002", "d003", "d004", "d005"]
    assert run.batches(dict(reversed(submitted.items())), 2) == batches
    with_d004 = next(b for b in batches if "d004" in dict(b))
    previous = {"d001": valid_report(2020, unit="d001"), "d004": valid_report(2020, unit="d004")}
    assert list(run.previous_of(with_d004, previous)) == ["d004"]


@settings(max_examples=50, deadline=None)
@given(
    ids=st.sets(st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True), max_size=300),
    added=st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True),
)
def test_adding_a_department_changes_only_its_own_batch(ids, added):
    """So a re-run after a department joins reads that department's batch again, not every batch
    after it: the cut points follow the ids (unless a batch reaches the cap of twice its size,
    which is then where it is cut)."""
    size = 10
    before = run.batches({unit: SOURCES / unit for unit in ids}, size)
    after = run.batches({unit: SOURCES / unit for unit in ids | {added}}, size)
    assert [u for b in after for u, _ in b] == sorted(ids | {added})
    if added in ids:
        assert after == before
    elif all(len(b) < 2 * size for b in before + after):
        # The batch it joins changes; if it is a cut point itself, that batch is split in two.
        assert len([b for b in after if b not in before]) <= 2 and len([b for b in before if b not in after]) <= 1
