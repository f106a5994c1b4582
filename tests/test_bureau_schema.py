"""bureau.yaml against schemas/bureau.schema.json: a misspelt key, a missing licence, a relative
base_url or an unknown level is refused in one line that names the key and the remedy, before
anything is published from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from flows import places
from flows.format.edition import SCHEMAS
from flows.intake.bureau import SAFE_ID, BureauConfigError, load_bureau
from tests.conftest import SOURCES

SCHEMA = json.loads((SCHEMAS / "bureau.schema.json").read_text("utf-8"))


def write_bureau(sources: Path, edit) -> None:
    path = sources / places.BUREAU_FILE
    spec = yaml.safe_load(path.read_text("utf-8"))
    edit(spec)
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")


def refusal(sources: Path) -> str:
    with pytest.raises(BureauConfigError) as refused:
        load_bureau(sources)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(str(sources / places.BUREAU_FILE) + "：")
    return message


def test_the_example_bureau_passes():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(yaml.safe_load((SOURCES / places.BUREAU_FILE).read_text("utf-8")), SCHEMA)
    assert load_bureau(SOURCES).id == "yuanjiang-psb-example"


def test_the_synthetic_bureau_passes(tmp_path):
    from flows.synth import write_synthetic_bureau

    write_synthetic_bureau(tmp_path, 2021, 2)
    assert len(load_bureau(tmp_path).departments) == 2


def test_every_object_refuses_unknown_keys_and_says_what_it_is():
    def objects(schema: dict):
        if schema.get("type") == "object":
            yield schema
        for child in (*schema.get("properties", {}).values(), *([schema["items"]] if "items" in schema else [])):
            yield from objects(child)

    found = list(objects(SCHEMA))
    assert len(found) == 4  # the bureau, its publisher, a licence, a department
    assert all(o["additionalProperties"] is False for o in found)
    for prop in (p for o in found for p in o["properties"].values()):
        assert re.search(r"[\u4e00-\u9fff]", prop["title"]) and re.match(r"[A-Z][a-z ]", prop["description"])


def test_ids_in_the_schema_are_the_ids_the_code_accepts():
    patterns = {
        SCHEMA["properties"]["id"]["pattern"],
        SCHEMA["properties"]["departments"]["items"]["properties"]["id"]["pattern"],
    }
    assert patterns == {f"^{SAFE_ID.pattern}$"}


@pytest.mark.parametrize(
    "edit, says",
    [
        (lambda s: s.update(licences=s.pop("licenses")), "未知的键 licences（是否应为 licenses？）"),
        (
            lambda s: s["publisher"].update(emial=s["publisher"].pop("email")),
            "publisher 中未知的键 emial（是否应为 email？）",
        ),
        (lambda s: s.update(level="couny"), "level（本机关层级）的值 'couny' 不是可用的取值"),
        (lambda s: s["departments"][1].update(nmae="户政"), "departments 第 2 项中未知的键 nmae（是否应为 name？）"),
    ],
    ids=["licences", "emial", "couny", "department-nmae"],
)
def test_a_misspelt_key_or_value_is_named_with_the_closest_allowed_one(sources_copy, edit, says):
    write_bureau(sources_copy, edit)
    message = refusal(sources_copy)
    assert says in message
    if "couny" in says:
        assert "（是否应为 county？）" in message


def test_an_unknown_key_without_a_close_one_lists_the_allowed_keys(sources_copy):
    write_bureau(sources_copy, lambda s: s.update(contact_phone="0737-1234567"))
    assert "未知的键 contact_phone（可用的键：id、name、level" in refusal(sources_copy)


@pytest.mark.parametrize("licenses", [None, []], ids=["absent", "empty"])
def test_a_bureau_without_a_licence_is_refused(sources_copy, licenses):
    write_bureau(sources_copy, lambda s: s.pop("licenses") if licenses is None else s.update(licenses=licenses))
    message = refusal(sources_copy)
    assert "licenses" in message and "许可协议" in message and "CC-BY-4.0" in message  # with an example


def test_a_licence_needs_a_name_or_a_path(sources_copy):
    write_bureau(sources_copy, lambda s: s.update(licenses=[{"title": "署名"}]))
    assert "licenses 第 1 项（许可协议）应含 name 或 path" in refusal(sources_copy)


@pytest.mark.parametrize("url", ["example.org/gongkai", "/gongkai/nianbao", "ftp://example.org/x", "https://"])
def test_base_url_must_be_an_absolute_http_url(sources_copy, url):
    write_bureau(sources_copy, lambda s: s.update(base_url=url))
    message = refusal(sources_copy)
    assert f"base_url（发布地址）应为以 http:// 或 https:// 开头的绝对地址，而不是 '{url}'" in message


def test_a_numeric_department_id_is_told_to_be_quoted(sources_copy):
    write_bureau(sources_copy, lambda s: s["departments"][0].update(id=1))
    assert "departments 第 1 项的 id（部门代码）应为文本，而不是 1（代码等文本请加引号" in refusal(sources_copy)


def test_every_problem_is_said_at_once_on_one_line(sources_copy):
    def edit(spec):
        spec["level"] = "couny"
        spec["base_url"] = "example.org"
        spec["licences"] = spec.pop("licenses")

    write_bureau(sources_copy, edit)
    message = refusal(sources_copy)
    assert message.count("；") == 3  # licenses missing, base_url, licences unknown, level
    for says in ("base_url", "licences", "couny", "缺少必需的键 licenses"):
        assert says in message


def test_a_file_that_is_no_mapping_is_one_line(sources_copy):
    (sources_copy / places.BUREAU_FILE).write_text("- id: x\n", "utf-8")
    assert "整个文件应为键值映射" in refusal(sources_copy)


def test_a_bureau_is_parsed_again_only_when_its_text_changed(sources_copy):
    """A run asks for its bureau three times before it starts: the same text is the same bureau,
    parsed once; an edited one is read anew; one naming key files is always read again."""
    first = load_bureau(sources_copy)
    assert load_bureau(sources_copy) is first
    write_bureau(sources_copy, lambda spec: spec.update(name="改名后的机关"))
    assert load_bureau(sources_copy).name == "改名后的机关"
    (sources_copy / "child.pub").write_text("key", "utf-8")
    write_bureau(
        sources_copy,
        lambda spec: spec["departments"].append(
            {"id": "child", "name": "下级", "kind": "bureau", "public_key": "child.pub"}
        ),
    )
    assert load_bureau(sources_copy).department("child").public_key == sources_copy / "child.pub"
    (sources_copy / "child.pub").unlink()
    assert "child.pub" in refusal(sources_copy)
