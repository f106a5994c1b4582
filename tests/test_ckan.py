"""`nianbao publish YEAR --ckan URL` against a CKAN stand-in on 127.0.0.1 that records the calls."""

from __future__ import annotations

import hashlib

import pytest

from flows.cli import main
from flows.run import run_year
from tests.ckan_standin import StandIn
from tests.conftest import SOURCES


@pytest.fixture
def portal():
    standin = StandIn()
    yield standin
    standin.close()


@pytest.fixture
def outputs(tmp_path):
    run_year(2020, SOURCES, tmp_path / "outputs")
    return tmp_path / "outputs"


def test_publish_creates_then_updates_the_dataset(portal, outputs, capsys):
    argv = ["publish", "2020", "--ckan", portal.url, "--outputs", str(outputs), "--api-key", "secret"]
    assert main(argv) == 0
    actions = [action for action, _ in portal.calls]
    assert actions[:2] == ["package_show", "package_create"] and actions.count("resource_create") == 8
    (package,) = portal.packages.values()
    assert package["name"] == "yuanjiang-psb-example-gov-info-disclosure-2020" and package["version"] == "1.0.0"
    assert {e["key"]: e["value"] for e in package["extras"]}["temporal_start"] == "2020-01-01"
    release = outputs / "2020" / "latest"
    uploads = {fields["name"]: fields["upload"] for action, fields in portal.calls if action == "resource_create"}
    assert uploads["applications.csv"] == (
        "applications.csv",
        hashlib.sha256((release / "data" / "applications.csv").read_bytes()).hexdigest(),
    )
    assert uploads["1.0.0.zip"][1] == hashlib.sha256((outputs / "2020" / "1.0.0.zip").read_bytes()).hexdigest()
    assert "已推送版本 1.0.0" in capsys.readouterr().out

    portal.calls.clear()
    assert main(argv) == 0  # pushing again updates in place: no second dataset, no duplicate resource
    actions = [action for action, _ in portal.calls]
    assert "package_create" not in actions and "resource_create" not in actions
    assert actions.count("package_patch") == 1 and actions.count("resource_update") == 8
    assert len(portal.packages) == 1 and len(next(iter(portal.packages.values()))["resources"]) == 8


def test_a_refusal_is_reported_without_traceback(portal, outputs, capsys):
    assert main(["push", "2020", "--ckan", portal.url, "--outputs", str(outputs), "--api-key", "wrong"]) == 1
    err = capsys.readouterr().err
    assert "拒绝了请求" in err and "Traceback" not in err


def test_an_unreachable_portal_is_reported(outputs, capsys):
    assert main(["push", "2020", "--ckan", "http://127.0.0.1:9", "--outputs", str(outputs)]) == 1
    assert "无法连接门户 http://127.0.0.1:9" in capsys.readouterr().err


def test_publish_needs_a_release(tmp_path, capsys):
    assert main(["push", "2021", "--ckan", "http://127.0.0.1:9", "--outputs", str(tmp_path)]) == 2
    assert "没有已发布的版本" in capsys.readouterr().err
