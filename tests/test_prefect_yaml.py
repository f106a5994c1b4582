"""prefect.yaml deployed with `prefect deploy` on a real server: the deployment is named after the
bureau, as `nianbao deploy` names it, so that two bureaus deployed to one server do not collide."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.intake.bureau import load_bureau
from tests.conftest import ROOT, SOURCES
from tests.test_prefect_lost import prefect_server, quiet_env  # noqa: F401 - the fixture


def project(folder: Path, bureau: str) -> Path:
    """What `prefect deploy` reads of a checkout (prefect.yaml, the flow's module, bureau.yaml), with
    the bureau's id `bureau`: deployed from a copy, it writes nothing into the checkout."""
    shutil.copy(ROOT / "prefect.yaml", folder / "prefect.yaml")
    for code in ("flows", "schemas"):  # the build step's python imports flows from here
        shutil.copytree(ROOT / code, folder / code, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "sources").mkdir()
    spec = yaml.safe_load((SOURCES / "bureau.yaml").read_text("utf-8")) | {"id": bureau}
    (folder / "sources" / "bureau.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    return folder


@pytest.mark.slow  # a Prefect server, and `prefect deploy` twice: a minute or two
def test_prefect_yaml_names_the_deployment_after_the_bureau(prefect_server, tmp_path):  # noqa: F811
    url, _ = prefect_server
    env = quiet_env(tmp_path / "home", PREFECT_API_URL=url)
    prefect = [sys.executable, "-m", "prefect"]
    subprocess.run([*prefect, "work-pool", "create", "nianbao", "--type", "process"], env=env, check=True)
    ids = [load_bureau(SOURCES).id, "another-bureau"]
    for id_ in ids:
        folder = tmp_path / id_
        folder.mkdir()
        deployed = subprocess.run(
            [*prefect, "--no-prompt", "deploy", "--all"],
            cwd=project(folder, id_),
            env=env | {"NIANBAO_HOME": str(folder)},
            capture_output=True,
            text=True,
        )
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    listed = subprocess.run([sys.executable, "-c", LIST], env=env, capture_output=True, text=True, check=True)
    assert sorted(listed.stdout.split()) == sorted(f"nianbao-annual/{id_}" for id_ in ids)


LIST = """
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    for deployment in client.read_deployments():
        print(client.read_flow(deployment.flow_id).name + "/" + deployment.name)
"""
