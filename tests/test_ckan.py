"""`nianbao push YEAR --ckan URL --org ORG` against a CKAN stand-in on 127.0.0.1 that refuses what
CKAN refuses (tests/ckan_standin.py: tags, names, organisations, upload size, update vs patch,
unknown keys) and records the calls."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from flows.cli import main
from flows.release.ckan import licence_id, tags
from flows.run import run_year
from tests.ckan_standin import StandIn
from tests.conftest import SOURCES

SERVED = "https://example.org/gongkai/nianbao/2020/1.0.0"  # the example bureau's base_url, year, version


@pytest.fixture
def portal():
    standin = StandIn()
    yield standin
    standin.close()


@pytest.fixture
def outputs(tmp_path):
    run_year(2020, SOURCES, tmp_path / "outputs")
    return tmp_path / "outputs"


def push(portal, outputs, *more) -> list[str]:
    return ["push", "2020", "--ckan", portal.url, "--outputs", str(outputs), "--api-key", "secret", *more]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def call(portal, action: str, fields: dict, apikey: str = "secret") -> tuple[int, dict]:
    """An action as any client makes it, with CKAN's answer: the HTTP status and the JSON envelope."""
    request = urllib.request.Request(
        f"{portal.url}/api/3/action/{action}",
        json.dumps(fields).encode(),
        {"Content-Type": "application/json", "Authorization": apikey},
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_push_creates_then_patches_the_dataset(portal, outputs, capsys):
    assert main(push(portal, outputs, "--org", "yuanjiang-psb")) == 0
    actions = [action for action, _ in portal.calls]
    assert actions[:3] == ["license_list", "package_show", "package_create"]
    assert actions.count("resource_create") == 8
    (package,) = [portal.show(i) for i in portal.packages]
    assert package["name"] == "yuanjiang-psb-example-gov-info-disclosure-2020" and package["version"] == "1.0.0"
    assert package["organization"]["name"] == "yuanjiang-psb"
    assert package["title"].startswith("沅江市公安局（示例）")  # the name in full, brackets and all
    assert "沅江市公安局 示例" in [t["name"] for t in package["tags"]]  # a tag CKAN accepts
    assert package["license_id"] == "cc-by" and package["license_title"] == "Creative Commons Attribution"
    assert package["isopen"] is True
    assert package["maintainer"] == "沅江市公安局（示例）" and package["maintainer_email"] == "gongkai@example.org"
    assert package["url"] == "https://example.org/gongkai"
    assert {e["key"]: e["value"] for e in package["extras"]}["temporal_start"] == "2020-01-01"
    release = outputs / "2020" / "latest"
    uploads = {fields["name"]: fields["upload"] for action, fields in portal.calls if action == "resource_create"}
    assert uploads["applications.csv"].sha256 == sha256(release / "data" / "applications.csv")
    assert uploads["1.0.0.zip"].sha256 == sha256(outputs / "2020" / "1.0.0.zip")
    resources = {r["name"]: r for r in package["resources"]}
    assert resources["cells.csv"]["url_type"] == "upload"
    assert resources["cells.csv"]["hash"] == sha256(release / "data" / "cells.csv")
    assert "已推送版本 1.0.0" in capsys.readouterr().out

    portal.calls.clear()
    assert main(push(portal, outputs, "--org", "yuanjiang-psb")) == 0  # in place: no second dataset or resource
    actions = [action for action, _ in portal.calls]
    assert "package_create" not in actions and "resource_create" not in actions and "resource_update" not in actions
    assert actions.count("package_patch") == 1 and actions.count("resource_patch") == 8
    assert len(portal.packages) == 1 and len(next(iter(portal.packages.values()))["resources"]) == 8


def test_what_the_portals_editors_add_survives_a_push(portal, outputs):
    assert main(push(portal, outputs, "--org", "yuanjiang-psb")) == 0
    (package,) = [portal.show(i) for i in portal.packages]
    cells = next(r for r in package["resources"] if r["name"] == "cells.csv")
    assert call(portal, "resource_patch", {"id": cells["id"], "language": "zh"})[0] == 200
    extras = package["extras"] + [{"key": "theme", "value": "政务"}]
    tags_ = package["tags"] + [{"name": "公安"}]
    assert call(portal, "package_patch", {"id": package["id"], "extras": extras, "tags": tags_})[0] == 200

    assert main(push(portal, outputs, "--org", "yuanjiang-psb")) == 0
    package = portal.show(package["id"])
    assert next(r for r in package["resources"] if r["name"] == "cells.csv")["language"] == "zh"
    assert {e["key"]: e["value"] for e in package["extras"]}["theme"] == "政务"
    assert "公安" in [t["name"] for t in package["tags"]]


def test_push_needs_an_organisation(portal, outputs, capsys):
    assert main(push(portal, outputs)) == 2
    err = capsys.readouterr().err
    assert "需要 --org" in err and len(err.strip().splitlines()) == 1
    assert portal.calls == []


def test_files_over_the_limit_are_linked_where_base_url_serves_them(outputs):
    portal = StandIn(max_resource_size=0.02)  # 20 KB: cells.csv and the zip are larger
    try:
        assert main(push(portal, outputs, "--org", "yuanjiang-psb", "--max-upload-mb", "0.02")) == 0
        (package,) = [portal.show(i) for i in portal.packages]
        resources = {r["name"]: r for r in package["resources"]}
        assert resources["cells.csv"]["url"] == f"{SERVED}/data/cells.csv"
        assert resources["1.0.0.zip"]["url"] == f"{SERVED}.zip"
        assert resources["cells.csv"]["url_type"] != "upload"
        assert (
            int(resources["cells.csv"]["size"]) == (outputs / "2020" / "latest" / "data" / "cells.csv").stat().st_size
        )
        assert resources["applications.csv"]["url_type"] == "upload"  # small files are still uploaded
        created = {fields["name"]: fields for action, fields in portal.calls if action == "resource_create"}
        assert "upload" not in created["cells.csv"] and "upload" in created["applications.csv"]

        portal.max_resource_size = 10  # the portal's limit raised: the next push uploads them
        assert main(push(portal, outputs, "--org", "yuanjiang-psb")) == 0
        resources = {r["name"]: r for r in portal.show(package["id"])["resources"]}
        assert resources["cells.csv"]["url_type"] == "upload" and resources["cells.csv"]["url"].endswith("/cells.csv")

        assert main(push(portal, outputs, "--org", "yuanjiang-psb", "--max-upload-mb", "0.02")) == 0
        resources = {r["name"]: r for r in portal.show(package["id"])["resources"]}
        assert resources["cells.csv"]["url"] == f"{SERVED}/data/cells.csv"  # and back to a link
        assert resources["cells.csv"]["url_type"] != "upload" and len(resources) == 8
    finally:
        portal.close()


def test_an_upload_the_portal_refuses_is_reported(outputs, capsys):
    portal = StandIn(max_resource_size=0.02)  # a portal with a lower limit than nianbao was told
    try:
        assert main(push(portal, outputs, "--org", "yuanjiang-psb")) == 1
        err = capsys.readouterr().err
        assert "拒绝了请求" in err and "File upload too large" in err and "Traceback" not in err
    finally:
        portal.close()


def test_a_large_file_without_base_url_is_refused_before_anything_is_sent(portal, sources_copy, tmp_path, capsys):
    bureau = yaml.safe_load((sources_copy / "bureau.yaml").read_text("utf-8"))
    del bureau["base_url"]
    (sources_copy / "bureau.yaml").write_text(yaml.safe_dump(bureau, allow_unicode=True), "utf-8")
    run_year(2020, sources_copy, tmp_path / "out")
    argv = push(portal, tmp_path / "out", "--org", "yuanjiang-psb", "--max-upload-mb", "0.02")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "base_url" in err and "--max-upload-mb" in err and portal.calls == []


def test_an_unknown_key_is_anonymous_and_anonymous_creates_nothing(portal, outputs, capsys):
    assert (
        main(["push", "2020", "--ckan", portal.url, "--outputs", str(outputs), "--api-key", "wrong", "--org", "x"]) == 1
    )
    err = capsys.readouterr().err
    assert "拒绝了请求" in err and "not authorized to create packages" in err and "Traceback" not in err
    assert [action for action, _ in portal.calls] == ["license_list", "package_show", "package_create"]


def test_an_organisation_the_user_cannot_publish_in_is_refused(portal, outputs, capsys):
    assert main(push(portal, outputs, "--org", "another-bureau")) == 1
    assert "not authorized to add dataset to this organization" in capsys.readouterr().err


def test_an_unreachable_portal_is_reported(outputs, capsys):
    assert main(["push", "2020", "--ckan", "http://127.0.0.1:9", "--outputs", str(outputs), "--org", "x"]) == 1
    assert "无法连接门户 http://127.0.0.1:9" in capsys.readouterr().err


def test_push_needs_a_release(tmp_path, capsys):
    assert main(["push", "2021", "--ckan", "http://127.0.0.1:9", "--outputs", str(tmp_path), "--org", "x"]) == 2
    assert "没有已发布的版本" in capsys.readouterr().err


def test_tags_are_what_ckan_accepts():
    keywords = ["政府信息公开", "沅江市公安局（示例）", "2020", "一、二", "x", "长" * 101, "2020"]
    assert tags(keywords) == [
        {"name": "政府信息公开"},
        {"name": "沅江市公安局 示例"},
        {"name": "2020"},
        {"name": "一 二"},
    ]


def test_licences_are_named_as_the_portal_names_them():
    descriptor = {"licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}]}
    assert licence_id(descriptor, {"cc-by", "cc-by-sa", "notspecified"}) == "cc-by"  # CKAN's default register
    assert licence_id(descriptor, {"CC-BY-4.0", "ODbL-1.0"}) == "CC-BY-4.0"  # a register of Open Definition ids
    assert licence_id({"licenses": [{"name": "MulanPSL-2.0"}]}, {"cc-by"}) == "MulanPSL-2.0"
    assert licence_id({"licenses": [{"path": "https://example.org/licence"}]}, {"cc-by"}) == "notspecified"


# The stand-in itself: what CKAN's source says it refuses, it refuses, and as CKAN answers.


def test_the_standin_refuses_what_ckan_refuses(portal):
    dataset = {"name": "nianbao-test", "owner_org": "yuanjiang-psb"}
    status, answer = call(
        portal, "package_create", {**dataset, "tags": [{"name": "年报"}, {"name": "沅江市公安局（示例）"}]}
    )
    assert status == 409 and answer["success"] is False and answer["error"]["__type"] == "Validation Error"
    assert answer["error"]["tags"][0] == {} and "can only contain" in answer["error"]["tags"][1]["name"][0]
    status, answer = call(portal, "package_create", {"name": "nianbao-test"})
    assert status == 409 and answer["error"]["owner_org"] == ["An organization must be provided"]
    status, answer = call(portal, "package_create", {**dataset, "name": "Nianbao"})
    assert status == 409 and "lowercase" in answer["error"]["name"][0]
    status, answer = call(portal, "package_create", {**dataset, "maintainer_email": "公开@例子.中国"})
    assert status == 409 and "maintainer_email" in answer["error"]
    status, answer = call(portal, "package_create", {**dataset, "extras": [{"key": "url", "value": "x"}]})
    assert status == 409 and "extras" in answer["error"]
    status, answer = call(portal, "package_create", dataset, apikey="wrong")
    assert status == 403 and answer["error"]["__type"] == "Authorization Error"
    assert answer["error"]["message"] == "Access denied: User  not authorized to create packages"
    assert call(portal, "package_show", {"id": "nianbao-test"})[0] == 404

    status, answer = call(portal, "package_create", dataset)
    assert status == 200 and answer["result"]["owner_org"] == portal.organizations["yuanjiang-psb"]["id"]
    assert call(portal, "package_show", {"id": "nianbao-test"}, apikey="wrong")[0] == 200  # anonymous reads
    status, answer = call(portal, "resource_create", {"package_id": "nianbao-test", "name": "a", "format": "CSV"})
    rid = answer["result"]["id"]
    assert call(portal, "resource_patch", {"id": rid, "description": "d"})[1]["result"]["format"] == "CSV"
    updated = call(portal, "resource_update", {"id": rid, "name": "a"})[1]["result"]
    assert "format" not in updated and "description" not in updated  # update keeps only what was sent


def test_the_standin_refuses_an_upload_over_its_limit(portal, outputs):
    from ckanapi import RemoteCKAN, ValidationError

    portal.max_resource_size = 0.001
    ckan = RemoteCKAN(portal.url, apikey="secret")
    dataset = ckan.action.package_create(name="nianbao-test", owner_org="yuanjiang-psb")
    with open(outputs / "2020" / "1.0.0.zip", "rb") as upload, pytest.raises(ValidationError) as refused:
        ckan.action.resource_create(package_id=dataset["id"], name="zip", upload=upload)
    assert refused.value.error_dict["upload"] == ["File upload too large"]


# Done when the strict stand-in accepts a push of a 600-department release (issue 18).


@pytest.mark.slow
def test_a_release_of_600_departments_is_pushed(tmp_path, capsys):
    from flows.synth import write_synthetic_bureau

    sources = tmp_path / "sources"
    write_synthetic_bureau(sources, 2021, 600)
    bureau = yaml.safe_load((sources / "bureau.yaml").read_text("utf-8"))
    bureau["name"] = "合成市公安局（示例）"  # full-width brackets, as many agency names have
    bureau["publisher"] = {
        "organization": bureau["name"],
        "email": "gongkai@example.org",
        "path": "https://example.org/gongkai",
    }
    (sources / "bureau.yaml").write_text(yaml.safe_dump(bureau, allow_unicode=True, sort_keys=False), "utf-8")
    outputs = tmp_path / "outputs"
    assert run_year(2021, sources, outputs).publication is not None
    cells = outputs / "2021" / "latest" / "data" / "cells.csv"
    assert cells.stat().st_size > 10 * 1024 * 1024  # over CKAN's default ckan.max_resource_size

    portal = StandIn(org="synthetic")  # CKAN's defaults: 10 MB, no dataset without an organisation
    try:
        argv = ["push", "2021", "--ckan", portal.url, "--outputs", str(outputs), "--api-key", "secret"]
        assert main([*argv, "--org", "synthetic"]) == 0, capsys.readouterr().err
        (package,) = [portal.show(i) for i in portal.packages]
        resources = {r["name"]: r for r in package["resources"]}
        assert len(resources) == 8 and package["title"].startswith("合成市公安局（示例）")
        assert resources["cells.csv"]["url"] == "https://example.org/synthetic/2021/1.0.0/data/cells.csv"
        # The zip is uploaded under the limit (it is some 8 MB, department reports being made on
        # demand), linked over it.
        over = (outputs / "2021" / "1.0.0.zip").stat().st_size > 10 * 1024 * 1024
        linked = resources["1.0.0.zip"]["url"] == "https://example.org/synthetic/2021/1.0.0.zip"
        assert linked == over and (resources["1.0.0.zip"]["url_type"] == "upload") != over
        assert resources["applications.csv"]["url_type"] == "upload"
        assert package["license_id"] == "cc-by" and package["maintainer_email"] == "gongkai@example.org"
        assert main([*argv, "--org", "synthetic"]) == 0  # and again, in place
        assert len(portal.show(package["id"])["resources"]) == 8
    finally:
        portal.close()
