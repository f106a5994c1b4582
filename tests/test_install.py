"""A package that installs anywhere: the sdist holds what a wheel needs, the wheel built from it carries
the format (flows/schemas/), and nianbao installed from that wheel into a fresh virtual environment
makes a template, checks a workbook and runs a year from a folder that is not the checkout.

The venv sees this environment's site-packages (prefect and the other dependencies come from there,
offline), which also hold the editable install of the checkout: the tests first make sure the venv's
own copy of flows is the one imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, SOURCES

LAYOUT = "schemas/2021/layout.yaml"


def run(command: list, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> tuple[Path, Path]:
    """The sdist, built from the checkout, and the wheel, built from the sdist (so the sdist is complete)."""
    folder = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "hatchling", "build", "--target", "sdist", "--directory", folder], cwd=ROOT)
    (sdist,) = folder.glob("nianbao-*.tar.gz")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir"]
    run([*pip_wheel, "--wheel-dir", folder, sdist], cwd=folder)
    (wheel,) = folder.glob("nianbao-*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with the wheel installed (its dependencies: this environment's)."""
    folder = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", folder], cwd=folder)
    python = folder / ("Scripts" if os.name == "nt" else "bin") / "python"
    # pip comes from the system site-packages; --ignore-installed: never touch the editable install there.
    run([python, "-m", "pip", "install", "--no-deps", "--ignore-installed", "--no-cache-dir", dist[1]], cwd=folder)
    return folder


@pytest.fixture
def env(tmp_path) -> dict:
    """This environment, with nothing that points Python or Prefect at the checkout or a server."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PREFECT_API_URL")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    return env


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """A working folder outside the checkout."""
    folder = tmp_path / "work"
    folder.mkdir()
    assert not folder.resolve().is_relative_to(ROOT)
    return folder


def bin_of(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def test_the_sdist_holds_the_code_the_format_and_the_docs(dist):
    with tarfile.open(dist[0]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {LAYOUT, "flows/cli.py", "pyproject.toml", "README.md", "CHANGELOG.md", "sources/bureau.yaml"} <= names
    assert any(name.startswith("docs/") for name in names)  # README's links
    assert not any(name.startswith(("outputs/", "tests/")) or "__pycache__" in name for name in names)


def test_the_wheel_carries_the_format_inside_the_package(dist):
    names = set(zipfile.ZipFile(dist[1]).namelist())
    assert f"flows/{LAYOUT}" in names and "flows/format/edition.py" in names
    assert not any(name.startswith(("schemas/", "sources/", "tests/")) for name in names)


def test_the_venv_imports_its_own_copy(venv, env, elsewhere):
    """Not the checkout's (installed editable in the environment the venv extends)."""
    code = "import json, flows; from flows.format.edition import SCHEMAS; print(json.dumps([flows.__file__, str(SCHEMAS)]))"
    module, schemas = map(Path, json.loads(run([bin_of(venv, "python"), "-c", code], elsewhere, env).stdout))
    assert module.resolve().is_relative_to(venv.resolve()) and not module.resolve().is_relative_to(ROOT)
    assert schemas.resolve() == module.resolve().parent / "schemas"
    assert (schemas / "2021" / "layout.yaml").is_file()


def test_the_wheel_imports_as_nianbao_for_analysts(dist, venv, env, elsewhere):
    """`import nianbao` (flows/api.py installed as the top-level module), from the venv's own copy."""
    assert "nianbao/__init__.py" in zipfile.ZipFile(dist[1]).namelist()
    code = "import json, nianbao; print(json.dumps([nianbao.__file__, nianbao.load.__module__]))"
    module, loader = json.loads(run([bin_of(venv, "python"), "-c", code], elsewhere, env).stdout)
    assert Path(module).resolve().is_relative_to(venv.resolve()) and loader == "flows.release.frames"


def test_the_installed_nianbao_makes_a_template_and_checks_a_workbook(venv, env, elsewhere):
    nianbao = bin_of(venv, "nianbao")
    run([nianbao, "template", "2021", "-o", "t.xlsx"], elsewhere, env)
    assert (elsewhere / "t.xlsx").stat().st_size > 0
    workbook = shutil.copy(SOURCES / "2021" / "traffic.xlsx", elsewhere / "traffic.xlsx")
    result = run([nianbao, "check", workbook, "--year", "2021", "--json"], elsewhere, env)
    (checked,) = json.loads(result.stdout)["files"]
    assert checked["edition"] == "2021" and not [f for f in checked["findings"] if f["severity"] == "error"]


def test_the_installed_nianbao_runs_a_year(venv, env, elsewhere):
    sources = shutil.copytree(SOURCES, elsewhere / "sources")
    outputs = elsewhere / "outputs"
    run([bin_of(venv, "nianbao"), "run", "2021", "--sources", sources, "--outputs", outputs, "--quiet"], elsewhere, env)
    package = json.loads((outputs / "2021" / "latest" / "datapackage.json").read_text("utf-8"))
    assert package["resources"]
