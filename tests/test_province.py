"""A synthetic tree of bureaus (flows/province.py): made deterministic, built children first, each
signed release handed to its parent, and the root's figures the sum of every department's."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest
import yaml

from flows import province
from flows.intake.workbook import read_workbook
from flows.province import (
    TreeError,
    build_order,
    build_tree,
    load_tree,
    parse_levels,
    plan,
    ready_at_once,
    unchanged,
    write_synthetic_tree,
)
from flows.release.verify import verify
from flows.run import run_year

YEAR = 2021


def test_levels_read_top_down_with_departments_last():
    assert parse_levels("city:14,county:10,department:70") == [("prefecture", 14), ("county", 10), ("department", 70)]
    assert parse_levels("county:3, department:2") == [("county", 3), ("department", 2)]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("city:0,department:3", "city:0"),
        ("town:2,department:3", "town:2"),
        ("city:2", "最后一层必须是 department"),
        ("county:2,city:2,department:3", "自上而下"),
        ("city:x,department:3", "city:x"),
    ],
)
def test_a_wrong_levels_text_is_one_line_naming_it(text, said):
    with pytest.raises(TreeError) as error:
        parse_levels(text)
    assert said in str(error.value) and "\n" not in str(error.value)


def test_the_plan_has_every_bureau_once_with_the_root_a_level_above():
    bureaus = plan(parse_levels("city:2,county:3,department:4"))
    assert len(bureaus) == 1 + 2 + 6 and len({b.id for b in bureaus}) == len(bureaus)
    assert bureaus[0].id == "p" and bureaus[0].level == "province"
    assert sum(len(b.children) for b in bureaus if b.departments) == 2 * 3 * 4
    assert {b.level for b in bureaus if b.departments} == {"county"}


def test_the_same_seed_makes_the_same_tree_byte_for_byte(tmp_path):
    levels = parse_levels("county:2,department:2")
    first = write_synthetic_tree(tmp_path / "a", YEAR, levels, seed=3, errors=1)
    second = write_synthetic_tree(tmp_path / "b", YEAR, levels, seed=3, errors=1, workers=2)  # the same in processes
    assert first == second and len(first) == 1
    names = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    _, mismatched, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", [str(n) for n in names], shallow=False)
    assert mismatched == [] and errors == []
    write_synthetic_tree(tmp_path / "c", YEAR, levels, seed=4)
    assert (tmp_path / "c/keys/p.key").read_bytes() != (tmp_path / "a/keys/p.key").read_bytes()


def test_a_parent_lists_its_children_with_the_key_it_checks_them_with(tmp_path):
    write_synthetic_tree(tmp_path, YEAR, parse_levels("county:2,department:1"))
    spec = yaml.safe_load((tmp_path / "p/bureau.yaml").read_text("utf-8"))
    assert spec["level"] == "prefecture"
    assert [(u["id"], u["kind"], u["public_key"]) for u in spec["departments"]] == [
        ("p-x01", "bureau", "keys/p-x01.pub"),
        ("p-x02", "bureau", "keys/p-x02.pub"),
    ]
    assert (tmp_path / "p/keys/p-x01.pub").read_bytes() == (tmp_path / "keys/p-x01.pub").read_bytes()
    assert (tmp_path / "keys/p-x01.key").stat().st_mode & 0o777 == 0o600
    assert not list((tmp_path / "p").rglob("*.key"))  # no private key inside a sources folder


def test_children_are_built_before_their_parents(tmp_path):
    write_synthetic_tree(tmp_path, YEAR, parse_levels("city:2,county:2,department:1"))
    root, nodes = load_tree(tmp_path)
    order = [n.id for n in build_order(root, nodes)]
    assert order[-1] == "p" and sorted(order) == sorted(nodes)
    for node in nodes.values():
        assert all(order.index(child) < order.index(node.id) for child in node.children)


def _bureau(folder: Path, spec: dict) -> None:
    folder.mkdir()
    (folder / "bureau.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")


def test_a_ring_two_parents_or_two_roots_are_refused(tmp_path):
    write_synthetic_tree(tmp_path, YEAR, parse_levels("county:2,department:1"))
    spec = yaml.safe_load((tmp_path / "p/bureau.yaml").read_text("utf-8"))
    ring = [{"id": "q", "name": "甲", "kind": "bureau"}, {"id": "r", "name": "乙", "kind": "bureau"}]
    _bureau(tmp_path / "q", {**spec, "id": "q", "departments": [ring[1]]})
    _bureau(tmp_path / "r", {**spec, "id": "r", "departments": [ring[0]]})
    with pytest.raises(TreeError, match="机关 q、r 互为上下级"):
        build_order(*load_tree(tmp_path))
    _bureau(tmp_path / "s", {**spec, "id": "s", "departments": [{"id": "p-x01", "name": "丙", "kind": "bureau"}]})
    with pytest.raises(TreeError, match="p-x01 同时列在 p 与 s 之下"):
        load_tree(tmp_path)
    for name in "qrs":
        (tmp_path / name / "bureau.yaml").unlink()
    (tmp_path / "p/bureau.yaml").unlink()
    with pytest.raises(TreeError, match="只有一个上级机关（根），现有 2 个"):
        load_tree(tmp_path)


def test_a_tree_builds_level_by_level_into_signed_releases_summing_every_department(tmp_path):
    write_synthetic_tree(tmp_path, YEAR, parse_levels("city:2,county:2,department:2"), seed=5)
    outcomes = {}

    def run(year, sources, outputs, key):
        outcomes[sources.name] = run_year(year, sources, outputs, key=key)
        return outcomes[sources.name]

    built = build_tree(tmp_path, YEAR, run)
    assert list(built)[-1] == "p" and len(built) == 7
    assert all(b.published == b.live == "1.0.0" and not b.errors for b in built.values())
    assert [b.id for b in built.values() if not b.handed_up] == ["p"]
    for bureau, outcome in outcomes.items():  # each verifies with its own public key
        failed = [v.problems for v in verify(outcome.release, tmp_path / "keys" / f"{bureau}.pub") if not v.passed]
        assert failed == [], bureau
    assert (tmp_path / "p/2021/p-c01.zip").read_bytes() == (tmp_path / "outputs/p-c01/2021/1.0.0.zip").read_bytes()
    total = None
    for workbook in sorted(tmp_path.glob("p-c*-x*/2021/*.xlsx")):
        values = read_workbook(workbook, YEAR, workbook.stem)[0].values["applications"]
        total = values.copy() if total is None else total + values
    assert np.array_equal(outcomes["p"].merged.bureau.values["applications"], total)


def test_a_blocked_child_hands_up_the_version_still_live(tmp_path):
    write_synthetic_tree(tmp_path, YEAR, parse_levels("county:2,department:1"), seed=6)
    run = lambda year, sources, outputs, key: run_year(year, sources, outputs, key=key)  # noqa: E731
    build_tree(tmp_path, YEAR, run)
    handed = (tmp_path / "p/2021/p-x01.zip").read_bytes()
    (tmp_path / "p-x01/2021/d00001.xlsx").write_bytes(b"not a workbook")
    built = build_tree(tmp_path, YEAR, run)
    assert built["p-x01"].published is None and built["p-x01"].live == "1.0.0" and built["p-x01"].errors
    assert built["p-x01"].handed_up and (tmp_path / "p/2021/p-x01.zip").read_bytes() == handed
    assert built["p"].errors == ()


def test_a_tree_built_again_runs_only_the_path_from_what_changed_to_the_root(tmp_path):
    write_synthetic_tree(tmp_path, YEAR, parse_levels("city:2,county:2,department:1"), seed=7)
    ran = []

    def run(year, sources, outputs, key):
        ran.append(sources.name)
        return run_year(year, sources, outputs, key=key)

    build_tree(tmp_path, YEAR, run)
    handed = (tmp_path / "p/2021/p-c01.zip").stat()
    ran.clear()
    again = build_tree(tmp_path, YEAR, run)
    assert ran == [] and not any(b.ran for b in again.values())
    assert {b.live for b in again.values()} == {"1.0.0"} and [b.id for b in again.values() if not b.handed_up] == ["p"]
    assert (tmp_path / "p/2021/p-c01.zip").stat().st_mtime_ns == handed.st_mtime_ns
    assert sorted(p.name for p in (tmp_path / "outputs/p/2021").iterdir()) == ["1.0.0", "1.0.0.zip", "latest"]
    nodes = load_tree(tmp_path)[1]
    assert ready_at_once(nodes, unchanged(tmp_path, *load_tree(tmp_path), YEAR)) == 0  # no worker is started

    other = tmp_path / "other"  # one county's department files other figures: a correction
    write_synthetic_tree(other, YEAR, parse_levels("city:2,county:2,department:1"), seed=8)
    changed = tmp_path / "p-c02-x01/2021/d00001.xlsx"
    changed.write_bytes((other / "p-c02-x01/2021/d00001.xlsx").read_bytes())
    # What the flow answers without a task: every bureau but the changed one's path to the root.
    (tmp_path / "p/2021/p-c01.zip").unlink()  # and a child's release lost from its parent's sources
    skipped = unchanged(tmp_path, *load_tree(tmp_path), YEAR)
    assert sorted(skipped) == ["p-c01", "p-c01-x01", "p-c01-x02", "p-c02-x02"] and ran == []
    assert ready_at_once(nodes, skipped) == 1  # the county, then its city, then the province: one worker
    assert not any(b.ran for b in skipped.values()) and filecmp.cmp(
        tmp_path / "p/2021/p-c01.zip", tmp_path / "outputs/p-c01/2021/1.0.0.zip", shallow=False
    )
    corrected = build_tree(tmp_path, YEAR, run)
    assert ran == ["p-c02-x01", "p-c02", "p"]
    assert [corrected[b].live for b in ("p-c02-x01", "p-c02", "p")] == ["1.1.0"] * 3
    assert corrected["p-c01"].live == "1.0.0"


def test_a_tree_never_built_is_not_hashed_and_every_county_can_start_at_once(tmp_path, monkeypatch):
    write_synthetic_tree(tmp_path, YEAR, parse_levels("city:2,county:2,department:1"), seed=7)
    hashed = []
    monkeypatch.setattr(province, "inputs_fingerprint", lambda *arguments: hashed.append(arguments) or "")
    root, nodes = load_tree(tmp_path)
    skipped = unchanged(tmp_path, root, nodes, YEAR)
    assert skipped == {} and hashed == []  # no bureau has a last run to compare its inputs with
    assert ready_at_once(nodes, skipped) == 4
