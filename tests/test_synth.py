"""`nianbao synth`: deterministic synthetic bureaus, with known errors at recorded cells."""

from __future__ import annotations

import csv
import hashlib

from flows.checks.check import check_workbook
from flows.cli import main
from flows.release.verify import verify
from flows.run import run_year


def digest(folder) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*.xlsx")))).hexdigest()


def test_synthetic_bureau_is_valid_and_deterministic(tmp_path, capsys):
    assert main(["synth", "--departments", "6", "--year", "2021", "--out", str(tmp_path / "a"), "--seed", "3"]) == 0
    assert main(["synth", "--departments", "6", "--year", "2021", "--out", str(tmp_path / "b"), "--seed", "3"]) == 0
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    outcome = run_year(2021, tmp_path / "a", tmp_path / "outputs")
    assert outcome.errors == [] and outcome.release is not None and len(outcome.checked) == 6
    failed = [(c.name, c.problems[:3]) for c in verify(outcome.release) if not c.passed]
    assert failed == []  # the release an auditor downloads passes every check, licence included


def test_injected_errors_are_found_at_their_recorded_cells(tmp_path):
    assert main(["synth", "--departments", "8", "--year", "2020", "--out", str(tmp_path), "--errors", "3"]) == 0
    with open(tmp_path / "errors-2020.csv", encoding="utf-8") as handle:
        injected = list(csv.DictReader(handle))
    assert len(injected) == 3
    for entry in injected:
        checked = check_workbook(tmp_path / "2020" / f"{entry['unit']}.xlsx", 2020, entry["unit"])
        a3 = [f for f in checked.findings if f.rule == "A3"]
        assert [(f.row, f.column) for f in a3] == [(entry["row"], "total")]
        assert {f.rule for f in checked.findings} == set(entry["rules"].split())
        row = a3[0].cell[1:]
        assert entry["cell"][1:] == row  # the recorded cell is on the row the finding names
    outcome = run_year(2020, tmp_path, tmp_path / "outputs")
    assert sorted({f.unit for f in outcome.errors} - {"synthetic"}) == sorted(e["unit"] for e in injected)
