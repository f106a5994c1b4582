"""Speed of reading and checking department workbooks, measured (not asserted).

    python tests/benchmark.py [N]

Prints, for N synthetic department workbooks (default 200): the floor (calamine reading every
sheet, nothing else), nianbao's read + check, and the naive peer (frictionless validating each
workbook's three table sheets); then the cold-start wall time of `nianbao check` on one workbook.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from python_calamine import CalamineWorkbook

from flows.check import check_workbook
from flows.edition import edition_for_year
from flows.synth import synthetic_report
from flows.template import SHEET_NAMES, write_workbook

YEAR = 2021


def make_workbooks(folder: Path, n: int) -> list[Path]:
    edition, rng = edition_for_year(YEAR), np.random.default_rng(0)
    return [
        write_workbook(folder / f"d{i:05d}.xlsx", edition, YEAR, synthetic_report(edition, f"d{i:05d}", YEAR, rng))
        for i in range(n)
    ]


def floor(paths: list[Path]) -> None:
    for path in paths:
        book = CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            book.get_sheet_by_name(name).to_python()


def nianbao(paths: list[Path]) -> None:
    for path in paths:
        checked = check_workbook(path, YEAR, path.stem)
        assert not checked.errors, checked.findings[:3]


def frictionless_peer(paths: list[Path]) -> None:
    import frictionless
    from frictionless.formats import ExcelControl

    for path in paths:
        for sheet in SHEET_NAMES.values():
            frictionless.validate(frictionless.Resource(str(path), control=ExcelControl(sheet=sheet)))


def per_workbook_ms(step, paths: list[Path], repeat: int = 3) -> float:
    best = min(_timed(step, paths) for _ in range(repeat))
    return best / len(paths) * 1000


def _timed(step, paths) -> float:
    start = time.perf_counter()
    step(paths)
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_workbooks(Path(tmp), n)
        nianbao(paths[:5])  # warm caches and imports, as in a long run
        floor_ms = per_workbook_ms(floor, paths)
        ours_ms = per_workbook_ms(nianbao, paths)
        peer_ms = per_workbook_ms(frictionless_peer, paths[: min(n, 20)], repeat=1)
        print(f"{n} workbooks, edition {edition_for_year(YEAR).code}, per workbook:")
        print(f"  floor (calamine reads every sheet)   {floor_ms:7.2f} ms")
        print(f"  nianbao read + check                 {ours_ms:7.2f} ms   ({ours_ms / floor_ms:.1f}× the floor)")
        print(f"  frictionless validates three sheets  {peer_ms:7.2f} ms   (nianbao is {peer_ms / ours_ms:.0f}× faster)")
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "flows.cli", "check", str(paths[0]), "--year", str(YEAR)], capture_output=True
        )
        print(f"  `nianbao check` one workbook, cold   {(time.perf_counter() - start) * 1000:7.0f} ms wall (exit {result.returncode})")


if __name__ == "__main__":
    main()
