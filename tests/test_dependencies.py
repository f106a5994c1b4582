"""Honest dependencies: pyproject declares what the code imports, and nothing else.

flows/ imports exactly the distributions of [project] dependencies (prefect-dask, imported lazily
for `--runner dask`, is the [dask] extra); tests/ imports nothing beyond those and the [test] extra.
Every import counts, inside functions too: a lazy import still fails when its library is missing.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
OWN = {"flows", "tests", "nianbao"}  # the project's own packages (nianbao: flows/api.py, installed as such)

# Imported by flows/ only inside the function that needs it, and declared as that extra.
LAZY_EXTRAS = {"prefect-dask": "dask", "pandas": "analysis"}
# In [test] though tests/ never imports them: hatchling is the build backend test_install builds
# the wheel with; prefect-dask is what flows/ imports when test_flow runs the dask runner.
TEST_TOOLS = {"hatchling", "prefect-dask"}


@cache
def _by_module() -> dict[str, list[str]]:
    """Top-level module → the installed distributions that provide it."""
    return packages_distributions()


def _name(requirement: str) -> str:
    """A distribution's normalised name (PEP 503): `frictionless[excel]>=5.18` → frictionless."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()


def _declared(requirements: list[str]) -> set[str]:
    return {_name(r) for r in requirements}


def _imports(folder: Path) -> dict[str, set[str]]:
    """Top-level module → the files importing it (absolute imports, anywhere in each file)."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                found.setdefault(module.split(".")[0], set()).add(path.relative_to(ROOT).as_posix())
    return found


def _distributions(folder: Path) -> set[str]:
    """The third-party distributions the folder's modules import (stdlib and the project's own left out)."""
    by_module = _by_module()
    third_party = {m: files for m, files in _imports(folder).items() if m not in sys.stdlib_module_names | OWN}
    unknown = {m: sorted(files) for m, files in third_party.items() if m not in by_module}
    assert not unknown, f"imported but installed by no distribution: {unknown}"
    return {_name(d) for m in third_party for d in by_module[m]}


def test_flows_imports_exactly_the_dependencies():
    imported = _distributions(ROOT / "flows")
    declared = _declared(PROJECT["dependencies"])
    extras = PROJECT["optional-dependencies"]
    for distribution, extra in LAZY_EXTRAS.items():
        assert distribution in imported and distribution in _declared(extras[extra]), distribution
    assert imported - set(LAZY_EXTRAS) == declared, (
        f"imported, not declared: {sorted(imported - set(LAZY_EXTRAS) - declared)}; "
        f"declared, never imported: {sorted(declared - imported)}"
    )


def _run_at_import(tree: ast.AST):
    """The import statements that run when the module is imported: all but those inside functions."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _run_at_import(node)


def test_the_extras_are_imported_lazily():
    """A base install imports flows/ without prefect-dask: each import of it sits inside a function."""
    lazy = {m for m, ds in _by_module().items() if {_name(d) for d in ds} & set(LAZY_EXTRAS)}
    assert lazy
    for path in sorted((ROOT / "flows").rglob("*.py")):
        for node in _run_at_import(ast.parse(path.read_text("utf-8"))):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert not {m.split(".")[0] for m in modules} & lazy, f"{path}:{node.lineno} imports an extra at import"


def test_tests_import_only_what_is_declared():
    imported = _distributions(ROOT / "tests")
    test = _declared(PROJECT["optional-dependencies"]["test"])
    available = _declared(PROJECT["dependencies"]) | test
    assert imported <= available, f"imported by tests/, not declared in [test]: {sorted(imported - available)}"
    assert test - imported == TEST_TOOLS, f"in [test], imported by no test: {sorted(test - imported - TEST_TOOLS)}"
