"""How fast nianbao is, measured (not asserted): a script, not a test.

    python tests/benchmark.py [N ...] [--keep DIR] [--peer-sample K]

For each N (default 100 1000 10000) synthetic departments (`nianbao synth`), prints side by side:

- the floor: calamine reading every sheet of every workbook, in one loop (the best of three);
- nianbao reading and checking them (intake, read, every rule), in one process, in the flow's
  batches (the best of three loops);
- the naive peer: frictionless validating each workbook's three table sheets (on a sample of K
  workbooks, default 200, its rate extrapolated: it is too slow to run on ten thousand);
- `nianbao run` on the whole bureau, publication included, from a cold start (Prefect's temporary
  server, the process pool, nothing in the cache), its peak memory summed over all its processes;
  then again, as a re-run that finds nothing changed;

then the cold-start wall time of `nianbao check` on one workbook. Each step runs in a process of
its own, so each peak memory is that step's. --keep DIR keeps the synthetic bureaus (writing ten
thousand workbooks takes a minute or two) for the next run.

Each `nianbao run` and `nianbao rollup` is noted with what creating a file cost just before it, and
no run's outputs are removed until the benchmark ends: on a file system without a journal (this
project's virtual machines' ext4), creating files after tens of thousands were removed costs up to
twenty times as much for minutes, and a run writes tens of thousands (docs/performance.md).

    python tests/benchmark.py --province city:14,county:10,department:70 [--keep DIR]

measures a tree of bureaus instead (`nianbao synth --levels`), each figure beside its goal:
`nianbao rollup` from a cold start (every bureau from its workbooks or its children's signed
releases up to the root's release); again after one county's department filed other figures
(only its path to the root runs); and the root's run alone (verifying, merging and publishing)
in a tree of 100 county releases under one root.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

YEAR = 2021
# The floor and nianbao's reading are each timed as the best of this many loops, as timeit does: on
# this 2-core virtual machine one loop of the same code takes up to half as long again as another.
REPEATS = 3
# Where the runs write their outputs (scratch()), removed only when the benchmark ends: main sets it.
SCRATCH = Path(tempfile.gettempdir())


# -- the steps, each run in a child process: python tests/benchmark.py --step NAME FOLDER ---------
def floor(paths: list[Path]) -> None:
    from python_calamine import CalamineWorkbook

    for path in paths:
        book = CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            book.get_sheet_by_name(name).to_python()


def nianbao(paths: list[Path]) -> None:
    from flows.run import batches, check_batch

    # In batches, as the flow's workers read them: each batch's results are handed on, not held.
    for batch in batches({p.stem: p for p in paths}):
        errors = [f for c in check_batch(batch, YEAR, "county", {}) for f in c.findings if f.is_error]
        assert not errors, errors[:3]


def frictionless_peer(paths: list[Path]) -> None:
    import frictionless
    from frictionless.formats import ExcelControl

    from flows.documents.template import SHEET_NAMES

    for path in paths:
        for sheet in SHEET_NAMES.values():
            # By name within its folder: frictionless refuses an absolute path as unsafe.
            resource = frictionless.Resource(path.name, basepath=str(path.parent), control=ExcelControl(sheet=sheet))
            report = frictionless.validate(resource)
            assert report.tasks[0].stats["rows"], report.flatten(["type", "note"])[:3]  # it did read the sheet


STEPS = {"floor": floor, "nianbao": nianbao, "frictionless": frictionless_peer}


def run_step(name: str, folder: Path, sample: int | None) -> None:
    paths = sorted((folder / str(YEAR)).glob("*.xlsx"))[:sample]
    STEPS[name](paths[:3])  # imports and caches warm, as in a long run
    seconds = min(_timed(STEPS[name], paths) for _ in range(1 if name == "frictionless" else REPEATS))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "workbooks": len(paths), "peak_mib": peak}))


def _timed(step, paths: list[Path]) -> float:
    start = time.perf_counter()
    step(paths)
    return time.perf_counter() - start


# -- measuring ------------------------------------------------------------------------------------
def scratch() -> Path:
    """A folder for a run's outputs, removed when the benchmark ends (SCRATCH), not before the next run."""
    return Path(tempfile.mkdtemp(dir=SCRATCH))


def file_creation(count: int = 1000) -> str:
    """What creating an empty file where the runs write costs now, as a note. The files stay until
    the benchmark ends: removed now, they would be the very cost the run after them pays."""
    probe = scratch()
    start = time.perf_counter()
    for i in range(count):
        os.close(os.open(probe / str(i), os.O_CREAT | os.O_WRONLY, 0o644))
    return f"creating a file {(time.perf_counter() - start) / count * 1000:.2f} ms"


def measured(command: list[str], env: dict | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall time and peak memory (MiB, summed over the process and its children) of a command."""
    start = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass  # a child ended while being measured
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    out, err = process.communicate()
    return seconds, peak / 2**20, subprocess.CompletedProcess(command, process.returncode, out, err)


def step(name: str, folder: Path, sample: int | None = None) -> dict:
    command = [sys.executable, __file__, "--step", name, str(folder)] + (["--sample", str(sample)] if sample else [])
    result = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if result.returncode:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def bureau(root: Path, n: int) -> Path:
    folder = root / f"bureau-{n}"
    if not (folder / str(YEAR)).is_dir() or len(list((folder / str(YEAR)).glob("*.xlsx"))) != n:
        shutil.rmtree(folder, ignore_errors=True)
        from flows.synth import write_synthetic_bureau

        start = time.perf_counter()
        write_synthetic_bureau(folder, YEAR, n)
        print(f"  (wrote {n} synthetic workbooks in {time.perf_counter() - start:.0f} s)", flush=True)
    return folder


def row(label: str, seconds: float, workbooks: int | None, peak: float, note: str = "") -> None:
    rate = f"{workbooks / seconds:10.0f}" if workbooks else " " * 10
    print(f"  {label:<42}{seconds:9.2f} s {rate}/s {peak:8.0f} MiB  {note}", flush=True)


def benchmark(n: int, root: Path, sample: int) -> None:
    folder = bureau(root, n)
    print(f"{n} departments (edition 2021){'':>30}wall    workbooks/s   peak", flush=True)
    base = step("floor", folder)
    row("floor: calamine reads every sheet", base["seconds"], n, base["peak_mib"])
    ours = step("nianbao", folder)
    row(
        "nianbao read + check, one process",
        ours["seconds"],
        n,
        ours["peak_mib"],
        f"{ours['seconds'] / base['seconds']:.1f}× the floor",
    )
    peer = step("frictionless", folder, min(n, sample))
    peer_seconds = peer["seconds"] / peer["workbooks"] * n
    row(
        f"frictionless, three sheets ({peer['workbooks']} sampled)",
        peer_seconds,
        n,
        peer["peak_mib"],
        f"nianbao is {peer_seconds / ours['seconds']:.0f}× faster",
    )
    # Prefect's results in a folder of their own: no batch is in the cache (a cold run). Then the
    # same run again, as a re-run that finds nothing changed.
    outputs, storage = scratch(), scratch()
    command = ["nianbao", "run", str(YEAR), "--sources", str(folder), "--outputs", str(outputs), "--quiet"]
    for label in ("nianbao run, cold: read … publish", "nianbao run again, nothing changed"):
        creation = file_creation()
        seconds, peak, result = measured(command, {**os.environ, "PREFECT_LOCAL_STORAGE_PATH": str(storage)})
        if result.returncode:
            raise SystemExit(f"nianbao run failed:\n{result.stderr[-3000:]}")
        size = sum(p.stat().st_size for p in outputs.rglob("*") if p.is_file()) / 2**20
        row(label, seconds, n, peak, f"outputs {size:.0f} MiB; {creation}")


# -- a province of bureaus, level by level (issue 20) -------------------------------------------------
PROVINCE_FLOORS = {"cold": 60.0, "one county again": 10.0, "root of 100 children": 5.0}  # seconds


def province_tree(root: Path, levels: str) -> Path:
    """The synthetic tree of `levels` under root, written once (kept with --keep)."""
    folder = root / f"province-{levels.replace(':', '').replace(',', '-')}"
    if not (folder / "p" / "bureau.yaml").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run(["nianbao", "synth", "--levels", levels, "--year", str(YEAR), "--out", str(folder)], check=True)
        print(f"  (wrote the tree {levels} in {time.perf_counter() - start:.0f} s)", flush=True)
    return folder


def _fresh_copy(tree: Path, into: Path) -> Path:
    """The tree's sources and keys, without anything a build left (outputs, handed-up releases)."""
    shutil.copytree(tree, into, ignore=shutil.ignore_patterns("outputs", "*.zip"))
    return into


def _rollup(tree: Path, storage: Path) -> tuple[float, float, dict, str]:
    command = ["nianbao", "rollup", str(tree), "--year", str(YEAR), "--json"]
    creation = file_creation()
    seconds, peak, result = measured(command, {**os.environ, "PREFECT_LOCAL_STORAGE_PATH": str(storage)})
    if result.returncode:
        raise SystemExit(f"nianbao rollup failed:\n{result.stderr[-3000:]}{result.stdout[-3000:]}")
    return seconds, peak, json.loads(result.stdout), creation


def root_run(tree: Path) -> None:
    """The root's run alone (a child process): verify its children's releases, merge, publish."""
    from flows.run import run_year

    start = time.perf_counter()
    outcome = run_year(YEAR, tree / "p", tree / "outputs" / "p", key=tree / "keys" / "p.key")
    assert outcome.release is not None, [f.message for f in outcome.errors][:3]
    print(json.dumps({"seconds": time.perf_counter() - start}))


def province_benchmark(root: Path, levels: str) -> None:
    tree = province_tree(root, levels)
    departments = sum(1 for _ in tree.glob("*/2021/*.xlsx"))
    bureaus = sum(1 for _ in tree.glob("*/bureau.yaml"))
    print(f"province {levels}: {bureaus} bureaus, {departments} departments{'':>8}wall      goal    peak", flush=True)
    work, storage = scratch(), scratch()
    copy = _fresh_copy(tree, work / "tree")
    seconds, peak, built, creation = _rollup(copy, storage)
    ran = sum(b["ran"] for b in built["bureaus"])
    print(
        f"  {'rollup, cold: workbooks … the root':<42}{seconds:9.2f} s {PROVINCE_FLOORS['cold']:6.0f} s {peak:7.0f} MiB  ({ran} bureaus ran; {creation})",
        flush=True,
    )
    county = sorted(copy.glob("p-*-x01"))[0]  # its first department files other figures
    other = work / "other"
    from flows.synth import write_synthetic_bureau

    write_synthetic_bureau(other, YEAR, 1, seed=999)
    shutil.copyfile(other / str(YEAR) / "d00001.xlsx", county / str(YEAR) / "d00001.xlsx")
    seconds, peak, built, creation = _rollup(copy, storage)
    ran = [b["id"] for b in built["bureaus"] if b["ran"]]
    print(
        f"  {'rollup after one county republished':<42}{seconds:9.2f} s {PROVINCE_FLOORS['one county again']:6.0f} s {peak:7.0f} MiB  (ran: {', '.join(ran)}; {creation})",
        flush=True,
    )
    wide = province_tree(root, "county:100,department:1")
    copy = _fresh_copy(wide, scratch() / "tree")
    _rollup(copy, scratch())
    shutil.rmtree(copy / "outputs" / "p")  # the root's release alone: a few files
    result = subprocess.run([sys.executable, __file__, "--root-run", str(copy)], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"the root's run failed:\n{result.stderr[-3000:]}")
    seconds = json.loads(result.stdout.strip().splitlines()[-1])["seconds"]
    print(
        f"  {'root of 100 child releases: verify+merge+publish':<42}{seconds:9.2f} s {PROVINCE_FLOORS['root of 100 children']:6.0f} s",
        flush=True,
    )


def main() -> None:
    if sys.argv[1:2] == ["--step"]:  # a child: --step NAME FOLDER [--sample K]
        return run_step(sys.argv[2], Path(sys.argv[3]), int(sys.argv[5]) if len(sys.argv) > 5 else None)
    if sys.argv[1:2] == ["--root-run"]:  # a child: --root-run TREE
        return root_run(Path(sys.argv[2]))
    parser = argparse.ArgumentParser()
    parser.add_argument("departments", nargs="*", type=int, default=[100, 1000, 10000])
    parser.add_argument("--keep", metavar="DIR", help="keep the synthetic bureaus here, for the next run")
    parser.add_argument("--peer-sample", type=int, default=200)
    parser.add_argument(
        "--province", metavar="LEVELS", help="measure a tree of bureaus instead, e.g. city:14,county:10,department:70"
    )
    args = parser.parse_args()
    global SCRATCH
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="nianbao-bench-"))
    SCRATCH = Path(tempfile.mkdtemp(prefix="nianbao-bench-runs-"))
    try:
        if args.province:
            return province_benchmark(root, args.province)
        for n in args.departments:
            benchmark(n, root, args.peer_sample)
        one = next((root / f"bureau-{args.departments[0]}" / str(YEAR)).glob("*.xlsx"))
        seconds, peak, result = measured(["nianbao", "check", str(one), "--year", str(YEAR)])
        print(
            f"`nianbao check` one workbook, cold start: {seconds * 1000:.0f} ms wall, {peak:.0f} MiB (exit {result.returncode})"
        )
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
