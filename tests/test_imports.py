"""The house: flows/ reads as the way a report travels, and imports point one way along it.

    format → intake → checks → merge → documents → release → run → flow → cli

A stage may import the stages before it, never one after it: a room that needs its caller has its
boundary in the wrong place. Only the flow module imports prefect.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parent.parent / "flows"

# What each part of flows/ may import of flows/ (besides itself). places and schedule know where
# files live and when the run is due: anything may ask them, they ask nobody. lifetime ends a run's
# helper processes with it and stops it at Ctrl+C: the flow and the CLI ask it, it asks nobody (the
# workers import it). temporary_server starts Prefect's server before prefect is imported: the CLI
# asks it, the flow reports to it.
ALLOWED = {
    "places": set(),
    "schedule": set(),
    "lifetime": set(),
    "temporary_server": {"lifetime"},
    "format": set(),
    "intake": {"format", "places"},
    "checks": {"format", "intake", "places"},
    "merge": {"format", "checks"},
    "documents": {"format", "checks"},
    "release": {"format", "intake", "checks", "merge", "documents", "places"},
    "synth": {"format", "checks", "documents"},
    # What `import nianbao` gives analysts (the wheel installs flows/api.py as nianbao/__init__.py).
    "api": {"release"},
    "run": {"format", "intake", "checks", "merge", "documents", "release", "places"},
    # `nianbao audit`: published reports checked across processes, their pages written (no Prefect).
    "audit": {"format", "intake", "checks", "documents", "places"},
    # A tree of bureaus: each one's run, children first, its release handed to its parent.
    "province": {"intake", "release", "places", "synth"},
    "flow": {"run", "province", "release", "places", "schedule", "lifetime", "temporary_server"},
    "cli": {
        "audit",
        "format",
        "intake",
        "checks",
        "documents",
        "release",
        "run",
        "flow",
        "places",
        "schedule",
        "synth",
        "province",
        "lifetime",
        "temporary_server",
    },
}
STAGES = ("format", "intake", "checks", "merge", "documents", "release")


def _part(module: str) -> str:
    """flows.intake.workbook → intake; flows.run → run."""
    return module.split(".")[1]


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(FLOWS.rglob("*.py")):
        parts = path.relative_to(FLOWS.parent).with_suffix("").parts
        if parts[-1] != "__init__" or len(parts) > 2:
            found[".".join(p for p in parts if p != "__init__")] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file, inside functions too (the CLI imports lazily)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "flows":
                names |= {f"flows.{alias.name}" for alias in node.names}
            else:
                names.add(node.module)
    return names


def test_flows_lists_the_stages_of_the_pipeline():
    entries = {p.name.removesuffix(".py") for p in FLOWS.iterdir() if p.name != "__pycache__"}
    assert entries == set(ALLOWED) | {"__init__"}
    assert all((FLOWS / stage).is_dir() or (FLOWS / f"{stage}.py").is_file() for stage in STAGES)


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_point_one_way(module):
    part = _part(module)
    wrong = {
        name
        for name in _imports(_modules()[module])
        if name.startswith("flows.") and _part(name) != part and _part(name) not in ALLOWED[part]
    }
    assert not wrong, f"{module} ({part}) may import only {sorted(ALLOWED[part])} of flows/, not {sorted(wrong)}"


def test_only_the_flow_module_imports_prefect():
    importers = {m for m, path in _modules().items() if any(n.split(".")[0] == "prefect" for n in _imports(path))}
    assert importers == {"flows.flow"}


def test_the_allowed_directions_have_no_cycle():
    """So that "one way" is a promise the table itself keeps."""
    seen: dict[str, int] = {}

    def visit(part: str, path: tuple[str, ...]) -> None:
        assert part not in path, f"cycle: {' → '.join((*path, part))}"
        if seen.get(part):
            return
        for other in ALLOWED[part]:
            visit(other, (*path, part))
        seen[part] = 1

    for part in ALLOWED:
        visit(part, ())


def test_a_forbidden_import_is_caught(tmp_path):
    """The check reads what it should: an import of a later stage, even inside a function, is seen."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from flows.release.versions import publish\n    from flows import run\n")
    assert _imports(module) == {"flows.release.versions", "flows.run"}
    assert {n for n in _imports(module) if _part(n) not in ALLOWED["intake"]} == {"flows.release.versions", "flows.run"}


def test_what_a_rollup_hands_its_worker_processes_does_not_import_prefect(tmp_path):
    """A worker unpickles the functions it is given by their module's name: one from flows.flow
    imported prefect in each worker at its first bureau (1.2 s each, on the rollup's path)."""
    import pickle
    import subprocess
    import sys
    from concurrent.futures import Future

    from flows import flow
    from flows.province import Node

    handed = []

    class Pool:
        def submit(self, function, *arguments):
            handed.append((function, *arguments))
            done: Future = Future()
            done.set_result(None)
            return done

    node = Node("p-x01", tmp_path, ())
    token = flow.worker_pool.set(Pool())  # type: ignore[arg-type]
    try:
        flow._build(tmp_path, node, None, 2021, "code")
    finally:
        flow.worker_pool.reset(token)
    (call,) = handed
    unpickled = "import pickle, sys; pickle.loads(sys.stdin.buffer.read()); print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))"
    result = subprocess.run(
        [sys.executable, "-c", unpickled], input=pickle.dumps(call), capture_output=True, check=True, cwd=FLOWS.parent
    )
    assert result.stdout.decode().strip() == "[]"
